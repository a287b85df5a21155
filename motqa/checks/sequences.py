"""Sequence checks: seqinfo.ini against the image folder and the annotations' frames and boxes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from motqa.checks.places import cell, row_findings
from motqa.checks.registry import Options, check
from motqa.findings import FOLD_AT, finding, many
from motqa.model import Finding, Sequence


def _listed(seq: Sequence) -> bool:
    """Whether the frames were listed (no folder: checks/image_folders.py; an unsafe imDir: no
    listing)."""
    return seq.frames.listed and seq.frames.folder


@check("frame-count-mismatch")
def frame_count(seq: Sequence) -> list[Finding]:
    info, nums = seq.info, seq.frames.numbers
    im_dir = info.im_dir.rstrip("/") + "/"
    out: list[Finding] = []
    if not _listed(seq):
        return out
    length = info.seq_length
    on_disk = info.origin != "stored"  # a stored dataset has no seqinfo.ini and no frame files
    if info.origin != "inferred" and length is not None and len(nums) != length:
        where = f"frames {nums[0]}-{nums[-1]}" if len(nums) else "no frame"
        holder = f"{im_dir} holds {len(nums)} frame files" if on_disk else f"{len(nums)} frames are stored"
        out.append(finding("frame-count-mismatch", f"seqLength is {length} but {holder} ({where})",
                           seq.place(file=seq.file("seqinfo.ini") if on_disk else None,
                                     line=info.lines.get("seqLength") if on_disk else None)))
    return out


def _files_from_zero(seq: Sequence) -> bool:
    """Frame files numbered 0..seqLength-1, every one there (a CVAT image task's export): the
    whole folder shifted by one. Tools that read 1..seqLength miss the last frame, so it stays a
    missing-image error; both findings say the shift."""
    nums, length = seq.frames.numbers, seq.info.seq_length
    return bool(len(nums)) and nums[0] == 0 and length == len(nums) and int(nums[-1]) == length - 1


@check("missing-image")
def missing_images(seq: Sequence) -> list[Finding]:
    info, nums = seq.info, seq.frames.numbers
    im_dir = info.im_dir.rstrip("/") + "/"
    out: list[Finding] = []
    length = info.seq_length
    on_disk = info.origin != "stored"
    if _listed(seq) and length is not None:
        runs = missing_runs(nums, length)
        total = int((runs[:, 1] - runs[:, 0] + 1).sum())
        missing = _first_of_runs(runs, FOLD_AT)
        if total:
            width = (len(seq.frames.names[0].rsplit("/", 1)[-1].split(".")[0]) if len(nums)
                     else seq.profile.frame_digits)  # DanceTrack: 00000001.jpg

            def name(k: int) -> str | None:
                return seq.file(f"{im_dir}{k:0{width}d}{info.im_ext}") if on_disk else None

            shifted = "; the files are numbered from 0, each one frame early" if _files_from_zero(seq) else ""

            def text(k: int) -> str:
                return f"frame {k} has no image" + (f" ({name(k)})" if on_disk else "") + shifted

            places = [seq.place(file=name(int(k)), frame=int(k)) for k in missing[:FOLD_AT]]
            if total > FOLD_AT:
                out.append(many("missing-image", text(int(missing[0])) + f"; frames {runs_text(runs)} are missing",
                                places, total))
            else:
                out += [finding("missing-image", text(int(k)), p) for k, p in zip(missing, places, strict=True)]
    return out


@check("frame-numbering")
def frame_numbering(seq: Sequence) -> list[Finding]:
    nums, out = seq.frames.numbers, []
    if _listed(seq) and len(nums) and nums[0] != 1:
        shift = (f"; the files are numbered 0-{nums[-1]} (a CVAT image task's are): add 1 to each"
                 if _files_from_zero(seq) else "")
        out.append(finding("frame-numbering", f"the first frame file is {seq.frames.names[0]} (frame "
                           f"{nums[0]}); MOT frames are numbered from 1{shift}",
                           seq.place(file=seq.frames.names[0], frame=int(nums[0]))))
    return out


def missing_runs(nums: np.ndarray, length: int) -> np.ndarray:
    """The runs [first, last] of 1..length that `nums` lacks, as an (n, 2) array. Built from the
    gaps between the numbers present, never from 1..length itself: a seqLength of 999999999 or a
    frame file 999999999999.jpg would need an array of gigabytes or terabytes."""
    present = np.unique(nums[(nums >= 1) & (nums <= length)])
    edges = np.concatenate(([0], present, [length + 1])).astype(np.int64)
    gap = np.flatnonzero(np.diff(edges) > 1)
    return np.stack([edges[gap] + 1, edges[gap + 1] - 1], axis=1)


def _first_of_runs(runs: np.ndarray, count: int) -> list[int]:
    out: list[int] = []
    for first, last in runs:
        out += range(int(first), int(min(last, first + count - len(out) - 1)) + 1)
        if len(out) >= count:
            break
    return out


def runs_text(runs: np.ndarray, limit: int = 6) -> str:
    """'5-9, 12, 20-600' for runs [first, last], cut after `limit` runs."""
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit].tolist()]
    return ", ".join(text) + (f" and {len(runs) - limit} more runs" if len(runs) > limit else "")


@check("sequence-name-mismatch")
def name_mismatch(seq: Sequence) -> list[Finding]:
    info = seq.info
    if info.origin != "seqinfo.ini" or info.name is None or info.name == seq.name:
        return []
    return [finding("sequence-name-mismatch", f"seqinfo.ini names the sequence {info.name!r} but "
                    f"its folder is {seq.name!r}",
                    seq.place(file=seq.file("seqinfo.ini"), line=info.lines.get("name")))]


@check("frame-out-of-range")
def frames_out_of_range(seq: Sequence) -> list[Finding]:
    out: list[Finding] = []
    length = seq.info.seq_length
    for ann in (seq.gt, seq.det):
        if ann is None or not len(ann):
            continue
        frame = ann.rows["frame"].to_numpy()
        bad = (frame < 1) if length is None else (frame < 1) | (frame > length)
        lines = ann.line_numbers()[bad]
        limit = f"outside 1..{length} (seqLength)" if length else "below 1"

        def message(x: int, rows: pd.DataFrame = ann.rows, limit: str = limit) -> str:
            return f"frame {cell(rows, 'frame', x):.0f} is {limit}"

        out += row_findings("frame-out-of-range", message, seq, ann, lines)
    return out


# A box that misses the picture by at most this margin is a box leaving the picture, rounded:
# MOTChallenge pixels are 1-based and tracks were interpolated, so the official MOT17 gt holds
# boxes 2 px outside (MOT17-10 lines 11122-11123: left + width = -2; MOT17-13 line 14926: left
# 1922 in a 1920-wide picture). Coordinates meant for another frame size miss by far more.
BORDER_PX = 4
BORDER_SHARE = 0.005  # of the picture's width (left, right) or height (top, bottom)


def border_margins(width: int, height: int) -> tuple[float, float]:
    return max(BORDER_PX, BORDER_SHARE * width), max(BORDER_PX, BORDER_SHARE * height)


@check("box-outside-image", "box-beyond-border")
def boxes_outside(seq: Sequence, ids: frozenset[str], options: Options) -> list[Finding]:
    """Boxes are amodal: partly outside is legal, wholly outside is not, except by the rounding
    margin at the border (an info finding). One pass for both ids."""
    w, h = seq.info.im_width, seq.info.im_height
    out: list[Finding] = []
    if w is None or h is None:  # the plan does not run it without a frame size
        return out
    mx, my = border_margins(w, h)
    for ann in (seq.gt, seq.det):
        if ann is None or not len(ann):
            continue
        r = ann.rows
        left, top = r["left"].to_numpy(), r["top"].to_numpy()
        bw, bh = r["width"].to_numpy(), r["height"].to_numpy()
        # how far the box misses the picture [0, w] x [0, h] on each axis (<= 0: it overlaps)
        miss_x = np.maximum(left - w, -(left + bw))
        miss_y = np.maximum(top - h, -(top + bh))
        sized = (bw > 0) & (bh > 0)
        outside = sized & ((miss_x >= 0) | (miss_y >= 0))
        far = outside & ((miss_x > mx) | (miss_y > my))
        lines = ann.line_numbers()

        def far_message(x: int, r: pd.DataFrame = r) -> str:
            box, miss, _ = _miss(r, x, w, h, mx, my)
            return (f"box {box} lies wholly outside the {w}x{h} picture, {miss:g} px from it; "
                    "were the coordinates written for another frame size?")

        def near_message(x: int, r: pd.DataFrame = r) -> str:
            box, miss, margin = _miss(r, x, w, h, mx, my)
            return (f"box {box} misses the {w}x{h} picture by {miss:g} px, within the {margin:g} px "
                    "rounding margin at the border: a box leaving the picture")

        if "box-outside-image" in ids:
            out += row_findings("box-outside-image", far_message, seq, ann, lines[far])
        if "box-beyond-border" in ids:
            out += row_findings("box-beyond-border", near_message, seq, ann, lines[outside & ~far])
    return out


def _miss(r: pd.DataFrame, x: int, w: int, h: int, mx: float, my: float) -> tuple[str, float, float]:
    """Line x's box as text, how far it misses the picture and the margin of that axis."""
    l, t, bw, bh = (cell(r, c, x) for c in ("left", "top", "width", "height"))
    miss_x, miss_y = max(l - w, -(l + bw)), max(t - h, -(t + bh))
    miss, margin = (miss_x, mx) if miss_x >= miss_y else (miss_y, my)
    return f"({l:g}, {t:g}, {bw:g}, {bh:g})", miss, margin


@check("no-boxes")
def no_boxes(seq: Sequence) -> list[Finding]:
    if seq.gt is not None and not len(seq.gt):
        return [finding("no-boxes", "the ground truth holds no box", seq.place(file=seq.gt.file))]
    return []

