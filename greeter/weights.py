"""Reading the project's weight files: ``.npz`` archives of named tensors.

Tensors converted from face-api.js keep that package's uint8 quantisation
(``value = q * scale + min``, one scale and min per tensor): the shipped file
then holds exactly the published model at a quarter of float32's size. Others
are float32 or float16; every tensor is read back as float32.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np


class WeightsError(RuntimeError):
    """A weight file is missing, truncated or does not fit the network."""


@dataclass(frozen=True)
class QuantizedTensor:
    """A uint8 tensor that stands for ``values * scale + minimum``."""

    values: np.ndarray
    scale: float
    minimum: float

    def dequantize(self) -> np.ndarray:
        return (self.values.astype(np.float32) * np.float32(self.scale)
                + np.float32(self.minimum))


def save_tensors(path: str, tensors: dict[str, QuantizedTensor | np.ndarray]) -> None:
    """Write named tensors to ``path`` (.npz), quantised ones as uint8 + scale + min."""
    arrays: dict[str, np.ndarray] = {}
    for name, tensor in tensors.items():
        if isinstance(tensor, QuantizedTensor):
            arrays[name] = tensor.values.astype(np.uint8)
            arrays[name + ":scale"] = np.float64(tensor.scale)
            arrays[name + ":min"] = np.float64(tensor.minimum)
        else:
            tensor = np.asarray(tensor)
            # float16 is kept (half the size, where its precision is enough).
            arrays[name] = tensor if tensor.dtype == np.float16 else tensor.astype(np.float32)
    np.savez(path, **arrays)


_RESTORE = "restore it from the repository (git checkout -- weights/)"


def check_weight_file(path: str, magic: bytes, kind: str = "the expected format") -> None:
    """Raise WeightsError, naming ``path`` and what to do, unless it is a readable
    file that starts with ``magic`` (the first bytes of every file of its kind)."""
    if not os.path.isfile(path):
        raise WeightsError(f"weight file {path} is missing; {_RESTORE}")
    try:
        with open(path, "rb") as file:
            head = file.read(64)
    except OSError as error:
        raise WeightsError(f"weight file {path} cannot be read ({error.strerror or error}); "
                           "check its permissions, or " + _RESTORE) from None
    if head.startswith(b"version https://git-lfs"):
        raise WeightsError(f"weight file {path} is a Git LFS pointer, not the weights; "
                           "fetch them with: git lfs pull")
    if not head.startswith(magic):
        what = "empty" if not head else f"not {kind}"
        raise WeightsError(f"weight file {path} is corrupt ({what}); {_RESTORE}")


def load_tensors(path: str) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save_tensors` as float32 arrays by name.

    Raises WeightsError naming the file when it is missing or unreadable.
    """
    check_weight_file(path, b"PK", "an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            raw = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, KeyError, EOFError, MemoryError, NotImplementedError,
            zipfile.BadZipFile, zlib.error) as error:
        raise WeightsError(f"weight file {path} is truncated or corrupt ({error}); "
                           f"{_RESTORE}") from None
    tensors = {}
    for name, values in raw.items():
        if ":" in name:
            continue
        if values.dtype == np.uint8:
            try:
                tensors[name] = QuantizedTensor(values, float(raw[name + ":scale"]),
                                                float(raw[name + ":min"])).dequantize()
            except KeyError:
                raise WeightsError(f"weight file {path}: tensor {name} lacks its "
                                   "quantisation scale or min; the file is corrupt") from None
        else:
            tensors[name] = values.astype(np.float32)
    return tensors


def take_tensor(tensors: dict[str, np.ndarray], name: str, shape: tuple[int, ...],
                path: str) -> np.ndarray:
    """``tensors[name]`` checked against ``shape``; WeightsError names file and tensor."""
    if name not in tensors:
        raise WeightsError(f"weight file {path} has no tensor {name} (expected shape "
                           f"{shape}); the file is corrupt or for another network")
    tensor = tensors[name]
    if tuple(tensor.shape) != tuple(shape):
        raise WeightsError(f"weight file {path}: tensor {name} has shape "
                           f"{tuple(tensor.shape)}, expected {tuple(shape)}")
    return tensor
