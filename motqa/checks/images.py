"""Image checks: every frame opens (header) or decodes completely (decode), at the sequence's
size: the stated one (seqinfo.ini, a stored size), else the first frame's (found by the source's
frame-size step, motqa/sources/frame_size.py)."""

from __future__ import annotations

from motqa.checks.registry import FRAMES, Options, check
from motqa.findings import finding
from motqa.imaging import FrameReport, inspect_many
from motqa.model import Finding, Place, Sequence


@check("image-unreadable", "image-format", "image-size-mismatch", "frame-size-varies", stage=FRAMES)
def check_images(seq: Sequence, ids: frozenset[str], options: Options) -> list[Finding]:
    frames = seq.frames
    if options.images == "skip" or not len(frames):
        return []
    reports = inspect_many(len(frames), frames.read, options.images, seq.info.im_ext, options.on_frame,
                           workers=options.jobs, on_bytes=options.on_bytes)
    return [f for f in image_findings(seq, reports) if f.check in ids]


def image_findings(seq: Sequence, reports: list[FrameReport]) -> list[Finding]:
    """Unreadable frames, and frames of another size than the sequence's: `image-size-mismatch`
    against a stated size (seqinfo.ini, a stored size), `frame-size-varies` against the first
    frame's where nothing states one (a tutorial's dataset)."""
    info, names = seq.info, seq.frames.names
    out = _unreadable(seq, reports)
    if not (info.im_width and info.im_height):
        return out  # no frame decoded to tell the size (each is image-unreadable)
    stated = info.size_from in (None, "seqinfo.ini", "stored")  # else the frame it was read from
    if stated:
        reference = "seqinfo.ini says" if info.size_from == "seqinfo.ini" else "the sequence is"
    else:
        reference = f"the sequence's first frame ({info.size_from}) is"
    check = "image-size-mismatch" if stated else "frame-size-varies"
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
