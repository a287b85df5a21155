"""What reading a stored dataset finds of its layout (catalog ids found_by motqa/deeplake/read.py): the box
format, and per-frame arrays that do not line up (frame sizes: checks/images.py)."""

from __future__ import annotations

import numpy as np

from motqa.findings import FOLD_AT, finding, many
from motqa.model import Finding, Place

LTWH_PIXEL = ("ltwh", "pixel")


def box_format(column: str, stated: tuple[str, str] | None, shape_problem: str | None = None,
               seq_label: str | None = None) -> list[Finding]:
    """Findings for the boxes column: `stated` is its (format, type) as the schema says it, None
    when it says none; `shape_problem` describes boxes that are not 4 numbers each (in the row
    `seq_label`)."""
    where = Place(seq_label, file=column)
    if shape_problem is not None:
        return [finding("box-format", f"the {column} column {shape_problem}; motqa reads boxes as "
                        "(n, 4) LTWH pixel arrays: its boxes were not checked", where)]
    if stated is None:
        return [finding("box-format-unstated", f"the {column} column does not say its box format: read "
                        "as LTWH pixel (left, top, width, height), as the tutorial writes them", where)]
    if stated != LTWH_PIXEL:
        fmt, kind = stated
        return [finding("box-format", f"the {column} column holds {fmt.upper()} {kind} boxes, not LTWH "
                        "pixel (MOT's left, top, width, height): its boxes were not checked", where)]
    return []


def sequence_lengths(seq_label: str, lengths: dict[str, int]) -> list[Finding]:
    """A finding when the per-frame columns of one row hold different numbers of frames."""
    if len(set(lengths.values())) <= 1:
        return []
    text = ", ".join(f"{col} {n}" for col, n in lengths.items())
    return [finding("sequence-lengths-differ", f"the row's columns hold different numbers of frames: {text}",
                    Place(seq_label))]


def count_mismatches(seq_label: str, column: str, numbers: np.ndarray, positions: np.ndarray,
                     boxes: np.ndarray, values: np.ndarray, frames_column: str) -> list[Finding]:
    """Findings for the frames (MOT `numbers`, 0-based `positions`) whose `column` holds
    `values` items against `boxes` boxes; folded past FOLD_AT."""
    bad = np.flatnonzero(boxes != values)
    if not len(bad):
        return []

    def text(k: int) -> str:
        return (f"frame {numbers[k]} ({frames_column}[{positions[k]}]) holds {boxes[k]} boxes but "
                f"{values[k]} {column}: only the first {min(boxes[k], values[k])} were read")

    places = [Place(seq_label, frame=int(numbers[k])) for k in bad[:FOLD_AT]]
    if len(bad) > FOLD_AT:
        return [many("ids-boxes-mismatch", text(int(bad[0])), places, len(bad))]
    return [finding("ids-boxes-mismatch", text(int(k)), p) for k, p in zip(bad, places, strict=False)]
