"""Image checks: every frame opens (header) or decodes completely (decode), at the stated size."""

from __future__ import annotations

from collections.abc import Callable

from motqa.checks.registry import finding
from motqa.imaging import FrameReport, inspect_many
from motqa.model import Finding, Sequence


def check_images(seq: Sequence, mode: str, on_done: Callable[[int], None] | None = None) -> list[Finding]:
    frames = seq.frames
    if mode == "skip" or not len(frames):
        return []
    reports = inspect_many(len(frames), frames.read, mode, seq.info.im_ext, on_done)
    return image_findings(seq, reports)


def image_findings(seq: Sequence, reports: list[FrameReport]) -> list[Finding]:
    info = seq.info
    source = "seqinfo.ini says" if info.origin == "seqinfo.ini" else "the sequence is"
    out: list[Finding] = []
    for i, r in enumerate(reports):
        place = seq.place(file=seq.frames.names[i], frame=int(seq.frames.numbers[i]))
        if r.check is not None:
            out.append(finding(r.check, f"{seq.frames.names[i]} {r.problem}", place))
        elif info.im_width and info.im_height and (r.width, r.height) != (info.im_width, info.im_height):
            out.append(finding("image-size-mismatch", f"frame {place.frame} is {r.width}x{r.height}; "
                               f"{source} {info.im_width}x{info.im_height}", place))
    return out
