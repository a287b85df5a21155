"""Where a row is, and findings for many rows: shared by the row, sequence and convention checks
and by the expectations, which all report rows of gt.txt and det.txt at their lines."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from motqa.findings import FOLD_AT, finding, many
from motqa.model import Annotations, Finding, Place, Sequence


def cell(rows: pd.DataFrame, column: str, line: int) -> float:
    """The value in `column` of the row whose index (file line) is `line`."""
    return float(rows[column].to_numpy()[rows.index.get_loc(line)])  # type: ignore[index]


def place_of(seq: Sequence, ann: Annotations, line: int) -> Place:
    """Where row `line` (the index) of `ann` is: its file line, or only frame and id when the
    rows come from a stored dataset."""
    frame = int(cell(ann.rows, "frame", line))
    track = int(cell(ann.rows, "id", line))
    return Place(seq.label, ann.file, line if ann.file else None, frame,
                 track if ann.kind == "gt" else None)


def row_findings(check: str, message: Callable[[int], str], seq: Sequence, ann: Annotations,
                 lines: np.ndarray) -> list[Finding]:
    """Findings for the rows at index values `lines` (in file order), folded past FOLD_AT. Rows
    whose finding the file's recognised convention explains (frame 0 of a 0-based file) are left
    out: the convention's one finding says it for all of them."""
    lines = ann.unexplained(check, lines)
    if len(lines) > FOLD_AT:
        places = [place_of(seq, ann, int(x)) for x in lines[:FOLD_AT]]
        return [many(check, message(int(lines[0])), places, len(lines))]
    return [finding(check, message(int(x)), place_of(seq, ann, int(x))) for x in lines]
