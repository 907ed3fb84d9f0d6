"""What the frame loop hands every processed frame to, besides recognising it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from greeter.frames import Frame
    from greeter.recognise import Face


class Reaction(Protocol):
    def on_frame(self, frame: Frame, faces: list[Face]) -> None: ...

    def close(self) -> None: ...
