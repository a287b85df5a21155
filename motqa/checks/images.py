"""Image checks: every frame opens (header) or decodes completely (decode), at the stated size."""

from __future__ import annotations

from collections.abc import Callable

from motqa.findings import finding
from motqa.imaging import FrameReport, inspect_many
from motqa.model import Finding, Place, Sequence


def check_images(seq: Sequence, mode: str, on_done: Callable[[int], None] | None = None) -> list[Finding]:
    frames = seq.frames
    if mode == "skip" or not len(frames):
        return []
    reports = inspect_many(len(frames), frames.read, mode, seq.info.im_ext, on_done)
    return image_findings(seq, reports)


def image_findings(seq: Sequence, reports: list[FrameReport]) -> list[Finding]:
    """Unreadable frames, and frames of another size than the stated one (seqinfo.ini, or what a
    stored dataset says). Where no size is stated (a tutorial's dataset), the first readable
    frame's size becomes the sequence's, and every frame of another size is `frame-size-varies`."""
    info, names = seq.info, seq.frames.names
    stated = bool(info.im_width and info.im_height)
    if not stated:
        first = next((i for i, r in enumerate(reports) if r.check is None), None)
        if first is None:
            return _unreadable(seq, reports)
        info.im_width, info.im_height = reports[first].width, reports[first].height
        reference = f"the sequence's first frame ({names[first]}) is"
    else:
        reference = "seqinfo.ini says" if info.origin == "seqinfo.ini" else "the sequence is"
    check = "image-size-mismatch" if stated else "frame-size-varies"
    out = _unreadable(seq, reports)
    for i, r in enumerate(reports):
        if r.check is None and (r.width, r.height) != (info.im_width, info.im_height):
            out.append(finding(check, f"frame {seq.frames.numbers[i]} ({names[i]}) is {r.width}x{r.height}; "
                               f"{reference} {info.im_width}x{info.im_height}", _place(seq, i)))
    return out


def _place(seq: Sequence, i: int) -> Place:
    return seq.place(file=seq.frames.names[i], frame=int(seq.frames.numbers[i]))


def _unreadable(seq: Sequence, reports: list[FrameReport]) -> list[Finding]:
    return [finding(r.check, f"{seq.frames.names[i]} {r.problem}", _place(seq, i))
            for i, r in enumerate(reports) if r.check is not None]
