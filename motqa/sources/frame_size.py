"""The frame-size step of a source: where nothing states the picture's size (MOT15 has no
seqinfo.ini, a tutorial's Deep Lake dataset stores none), it is the first frame's that opens. The
gate runs it before the checks that need a frame size (box-outside-image, ...): no check finds
the size as a side effect of its own work."""

from __future__ import annotations

from motqa.imaging import inspect_bytes
from motqa.model import Sequence

PROBE = 5  # frames tried before the size is called unknown (the first may be broken)


def frame_size(seq: Sequence, may_read: bool) -> str | None:
    """Make sure seq.info has a frame size; None when it has one, else why not. `may_read`:
    whether frames may be read for it (not under --images skip)."""
    info = seq.info
    if info.im_width and info.im_height:
        if info.size_from is None:
            info.size_from = "stored" if info.origin == "stored" else "seqinfo.ini"
        return None
    if not len(seq.frames):
        return "no frame size: nothing states one and there is no frame"
    if not may_read:
        return "no frame size: nothing states one, and --images skip reads no frame"
    for i in range(min(PROBE, len(seq.frames))):
        try:
            report = inspect_bytes(seq.frames.read(i), "header", info.im_ext)
        except (OSError, IndexError):
            continue
        if report.check is None:
            info.im_width, info.im_height = report.width, report.height
            info.size_from = seq.frames.names[i]
            return None
    return f"no frame size: nothing states one and none of the first {PROBE} frames opens"
