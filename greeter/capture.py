"""Where frames come from: a camera, a video file, a stream URL, a photo or a folder of photos.

``open_source(spec)`` turns what the user passed to ``--source`` into a Source,
an iterator of Frame values:

- ``"0"``, ``"1"``, ...: a camera index (live);
- anything containing ``"://"`` (rtsp://, http://, ...): a stream URL (live);
- a folder: a slideshow of the photos in it, in sorted path order;
- a file with a photo extension (see greeter.photos): one still frame;
- any other file: a video, every frame in order.

Live sources are read by a capture thread that keeps only the newest frame, so
the greeter never lags behind the door; when they stop delivering frames they
are reopened until they come back (greeter.live_sources). Files are read in
the caller's thread, so a benchmark sees every frame (greeter.file_sources).
Frame and Source, which both build on, are in greeter.frames.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from greeter.file_sources import RealtimeVideo, Stills, VideoFile
from greeter.frames import Frame, Source, SourceError
from greeter.live_sources import open_camera, open_stream
from greeter.report import warn
from greeter.photos import PhotoError, is_photo_file, list_photos, read_photo

__all__ = ["Frame", "Source", "SourceError", "open_source"]


def open_source(spec: str, loop: bool = False,
                on_message: Callable[[str], None] = warn,
                realtime: bool = False, wait: bool = False) -> Source:
    """The Source that ``spec`` (a --source value) names; see the module docstring.

    ``loop`` plays a video, a photo or a folder again and again; live sources
    ignore it. ``realtime`` plays a video at its own frame rate, dropping the
    frames the caller is too slow for, as a camera does. ``on_message`` gets one line about each unreadable photo of a
    folder, and when a live source stops delivering frames and when it is
    back; it is called in the thread that iterates the Source.
    Raises SourceError when the source cannot be opened or read at all, except
    that with ``wait`` a camera or stream that cannot be opened yet is waited for
    (a PC that boots faster than its camera).
    """
    if spec.isascii() and spec.isdigit():
        return open_camera(int(spec), on_message, wait)
    if "://" in spec:
        return open_stream(spec, on_message, wait)
    path = os.path.expanduser(spec)
    if os.path.isdir(path):
        photos = list_photos([path])
        if not photos:
            raise SourceError(f"folder {spec} has no photos in it; add JPEG or PNG photos, "
                              "or choose another --source")
        return Stills(f"folder {spec}", photos, loop, on_message)
    if not os.path.exists(path):
        raise SourceError(f"{spec}: no such file or folder; check the path, or give a "
                          "camera index (--source 0) or a stream URL")
    if is_photo_file(path):
        try:
            first = read_photo(path)
        except PhotoError as error:
            raise SourceError(str(error)) from None
        return Stills(f"photo {spec}", [path], loop, on_message, first)
    video = VideoFile(spec, path, loop)
    return RealtimeVideo(video) if realtime else video
