"""Reading dlib's portable serialisation (dlib/serialize.h) in Python.

dlib writes its model files (shape predictors, networks) with this format:
integers in a compact variable-length form, floats as an integer mantissa
and exponent, containers as their length then their items; a network's
tensors are raw little-endian float32 (dlib/cuda/tensor.h).
"""

from __future__ import annotations

import io
import math

import numpy as np


class DlibReader:
    """Reads dlib's portable serialisation (dlib/serialize.h) from bytes."""

    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)

    def integer(self) -> int:
        """An integer: a control byte (bit 7: negative, low 4 bits: byte count),
        then that many bytes, least significant first."""
        control = self.stream.read(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8:
            raise ValueError(f"bad integer control byte {control:#x} at {self.stream.tell() - 1}")
        value = int.from_bytes(self.stream.read(size), "little")
        return -value if control & 0x80 else value

    def real(self) -> float:
        """A float: ``float_details``, an integer mantissa and exponent (ldexp)."""
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's is_inf, is_ninf, is_nan markers
            raise ValueError("infinite or NaN value in a shape predictor")
        return float(np.float32(math.ldexp(float(np.float32(mantissa)), exponent)))

    def column(self) -> np.ndarray:
        """A ``matrix<float,0,1>``: rows and columns (negated in the newer format), values."""
        rows, cols = abs(self.integer()), abs(self.integer())
        return np.array([self.real() for _ in range(rows * cols)], np.float32)

    def sequence(self, read_item) -> list:
        """A ``std::vector``: its length, then each item."""
        return [read_item() for _ in range(self.integer())]

    def at_end(self) -> bool:
        return self.stream.read(1) == b""

    def tensor(self) -> np.ndarray:
        """A ``resizable_tensor``: version 2, its (samples, k, rows, columns), then the
        values as raw little-endian float32, returned as that 4-d array."""
        version = self.integer()
        if version != 2:
            raise ValueError(f"tensor version {version}; dlib writes version 2")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        data = self.stream.read(4 * count)
        if len(data) != 4 * count:
            raise ValueError("file ends inside a tensor")
        return np.frombuffer(data, "<f4").reshape(shape).copy()
