"""Row checks: the Pandera schemas run lazily, every failure turned into a finding at its line."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from motqa.checks.places import row_findings
from motqa.checks.registry import Options, check
from motqa.model import Annotations, Finding, Sequence
from motqa.schemas import annotation_schema, pa

_MESSAGES: dict[str, Callable[[str, float, Annotations, Sequence], str]] = {
    "box-size": lambda col, v, a, s: f"box {col} is {v:g}; a box needs a width and height above 0",
    "id-invalid": lambda col, v, a, s: (
        f"track id {v:g} is below {s.profile.id_min}; {s.profile.title} gt ids start at {s.profile.id_min}"
        + ("; CVAT writes -1 for a box drawn as a shape, outside any track: make it part of a track"
           if v == -1 and s.layout == "CVAT" else "")
        if a.kind == "gt"
        else f"det id {v:g}: det.txt has -1 (or a track id >= {s.profile.id_min}) in the id column"),
    "conf-flag": lambda col, v, a, s: f"conf is {v:g}; in gt.txt conf is a flag: 1 (evaluate) or 0 (ignore)",
    "class-unknown": lambda col, v, a, s: (
        f"class {v:g} is not in the {s.profile.title} class table ({_classes(s)}); "
        "was it written as a label list's position?"),
    "visibility-range": lambda col, v, a, s: f"visibility {v:g} is outside [0, 1]",
}


def _classes(seq: Sequence) -> str:
    table = seq.profile.classes
    if not table:
        return "none: its files have no class column"
    keys = sorted(table)
    if keys == list(range(keys[0], keys[-1] + 1)) and len(keys) > 3:
        return f"{keys[0]}-{keys[-1]}"
    return ", ".join(f"{k} {table[k]}" for k in keys)


@check("id-invalid", "box-size", "conf-flag", "class-unknown", "visibility-range")
def check_rows(seq: Sequence, ids: frozenset[str], options: Options) -> list[Finding]:
    """The Pandera row schema of the sequence's benchmark, made of the selected checks: one
    validation of each file for all of them."""
    out: list[Finding] = []
    for ann in (seq.gt, seq.det):
        if ann is None or not len(ann):
            continue
        try:
            # inplace: the schema neither coerces nor adds columns, so Pandera's defensive copy
            # of every row (a third of the check's time) buys nothing
            annotation_schema(ann.kind, seq.profile, ids).validate(ann.rows, lazy=True, inplace=True)
        except pa.errors.SchemaErrors as e:
            out += _from_failures(e.failure_cases, seq, ann)
    return out


def _described(check: str, column: str, values: dict[int, object], seq: Sequence,
               ann: Annotations) -> tuple[str, Callable[[int], str]]:
    """The check id to report and the message for the row at a line."""
    text = _MESSAGES.get(check)
    if text is None:  # a dtype failure: only possible for rows built from a stored dataset
        return "parse-error", lambda x: f"{column} has the wrong type ({check})"
    return check, lambda x: text(column, float(values[x]), ann, seq)  # type: ignore[arg-type]


def _from_failures(cases: pd.DataFrame, seq: Sequence, ann: Annotations) -> list[Finding]:
    out: list[Finding] = []
    cases = cases[cases["index"].notna()]
    for (failed, column), group in cases.groupby(["check", "column"], sort=False):
        group = group.sort_values("index")
        lines = group["index"].to_numpy(dtype=np.int64)
        values = dict(zip(lines.tolist(), group["failure_case"].tolist(), strict=True))
        out += row_findings(*_described(str(failed), str(column), values, seq, ann), seq, ann, lines)
    return out
