"""Sequence checks: seqinfo.ini against the image folder and the annotations' frames and boxes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from motqa.checks.registry import FOLD_AT, finding, many
from motqa.checks.rows import cell, row_findings
from motqa.model import Finding, Sequence

SEQINFO = "seqinfo.ini"


def check_sequence(seq: Sequence) -> list[Finding]:
    return [*_frame_files(seq), *_name(seq), *_annotation_frames(seq), *_boxes_outside(seq), *_no_boxes(seq)]


def _frame_files(seq: Sequence) -> list[Finding]:
    info, nums = seq.info, seq.frames.numbers
    im_dir = info.im_dir.rstrip("/") + "/"
    out: list[Finding] = []
    if not seq.frames.listed:
        return out
    length = info.seq_length
    on_disk = info.origin != "stored"  # a stored dataset has no seqinfo.ini and no frame files
    if info.origin != "inferred" and length is not None and len(nums) != length:
        where = f"frames {nums[0]}-{nums[-1]}" if len(nums) else "no frame"
        holder = f"{im_dir} holds {len(nums)} frame files" if on_disk else f"{len(nums)} frames are stored"
        out.append(finding("frame-count-mismatch", f"seqLength is {length} but {holder} ({where})",
                           seq.place(file=SEQINFO if on_disk else None,
                                     line=info.lines.get("seqLength") if on_disk else None)))
    if length is not None:
        missing = np.setdiff1d(np.arange(1, length + 1, dtype=np.int64), nums, assume_unique=True)
        if len(missing):
            width = len(seq.frames.names[0].rsplit("/", 1)[-1].split(".")[0]) if len(nums) else 6

            def name(k: int) -> str | None:
                return f"{im_dir}{k:0{width}d}{info.im_ext}" if on_disk else None

            def text(k: int) -> str:
                return f"frame {k} has no image" + (f" ({name(k)})" if on_disk else "")

            places = [seq.place(file=name(int(k)), frame=int(k)) for k in missing[:FOLD_AT]]
            if len(missing) > FOLD_AT:
                out.append(many("missing-image", text(int(missing[0])) + f"; frames {_ranges(missing)} are missing",
                                places, len(missing)))
            else:
                out += [finding("missing-image", text(int(k)), p) for k, p in zip(missing, places, strict=True)]
    if len(nums) and nums[0] != 1:
        out.append(finding("frame-numbering", f"the first frame file is {seq.frames.names[0]} (frame "
                           f"{nums[0]}); MOT frames are numbered from 1",
                           seq.place(file=seq.frames.names[0], frame=int(nums[0]))))
    return out


def _ranges(values: np.ndarray, limit: int = 6) -> str:
    """'5-9, 12, 20-600' for sorted whole numbers, cut after `limit` runs."""
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(values) - 1]))
    runs = [f"{values[a]}" if a == b else f"{values[a]}-{values[b]}" for a, b in zip(starts, ends, strict=True)]
    return ", ".join(runs[:limit]) + (f" and {len(runs) - limit} more runs" if len(runs) > limit else "")


def _name(seq: Sequence) -> list[Finding]:
    info = seq.info
    if info.origin != "seqinfo.ini" or info.name is None or info.name == seq.name:
        return []
    return [finding("sequence-name-mismatch", f"seqinfo.ini names the sequence {info.name!r} but "
                    f"its folder is {seq.name!r}", seq.place(file=SEQINFO, line=info.lines.get("name")))]


def _annotation_frames(seq: Sequence) -> list[Finding]:
    out: list[Finding] = []
    length = seq.info.seq_length
    for ann in (seq.gt, seq.det):
        if ann is None or not len(ann):
            continue
        frame = ann.rows["frame"].to_numpy()
        bad = (frame < 1) if length is None else (frame < 1) | (frame > length)
        lines = ann.rows.index.to_numpy()[bad]
        limit = f"outside 1..{length} (seqLength)" if length else "below 1"

        def message(x: int, rows: pd.DataFrame = ann.rows, limit: str = limit) -> str:
            return f"frame {cell(rows, 'frame', x):.0f} is {limit}"

        out += row_findings("frame-out-of-range", message, seq, ann, lines)
    return out


def _boxes_outside(seq: Sequence) -> list[Finding]:
    """Boxes are amodal: partly outside is legal, wholly outside is not."""
    w, h = seq.info.im_width, seq.info.im_height
    out: list[Finding] = []
    if w is None or h is None:
        return out
    for ann in (seq.gt, seq.det):
        if ann is None or not len(ann):
            continue
        r = ann.rows
        left, top = r["left"].to_numpy(), r["top"].to_numpy()
        right, bottom = left + r["width"].to_numpy(), top + r["height"].to_numpy()
        sized = (r["width"].to_numpy() > 0) & (r["height"].to_numpy() > 0)
        outside = sized & ((left >= w) | (top >= h) | (right <= 0) | (bottom <= 0))
        lines = r.index.to_numpy()[outside]

        def message(x: int, r: pd.DataFrame = r) -> str:
            l, t, bw, bh = (cell(r, c, x) for c in ("left", "top", "width", "height"))
            return f"box ({l:g}, {t:g}, {bw:g}, {bh:g}) lies wholly outside the {w}x{h} picture"

        out += row_findings("box-outside-image", message, seq, ann, lines)
    return out


def _no_boxes(seq: Sequence) -> list[Finding]:
    if seq.gt is not None and not len(seq.gt):
        return [finding("no-boxes", "the ground truth holds no box", seq.place(file=seq.gt.file))]
    return []

