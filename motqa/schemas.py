"""Pandera schemas for gt and det rows. Each check is named by the motqa check id it reports."""

from __future__ import annotations

import warnings
from functools import cache

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pandera.pandas as pa

# The MOTChallenge class table (MOT16/17); MOT20 adds 13 (crowd).
CLASSES = {
    1: "pedestrian", 2: "person on vehicle", 3: "car", 4: "bicycle", 5: "motorbike",
    6: "non-motorized vehicle", 7: "static person", 8: "distractor", 9: "occluder",
    10: "occluder on the ground", 11: "occluder full", 12: "reflection", 13: "crowd",
}
# Classes the evaluation ignores (drawn differently in the report).
DISTRACTOR_CLASSES = {2, 7, 8, 12}


def class_table(benchmark: str) -> list[int]:
    return list(range(1, 13)) if benchmark in ("MOT16", "MOT17") else list(range(1, 14))


@cache
def annotation_schema(kind: str, benchmark: str) -> pa.DataFrameSchema:
    """The row schema of gt (kind "gt") or det rows. The parser has already made frame and id
    whole numbers; frame ranges need seqinfo.ini and are checked per sequence."""
    # Checks are plain vectorised functions: Pandera reports a custom check by its name, which is
    # the motqa check id (its built-in checks report their own names instead).
    positive = [pa.Check(lambda s: s > 0, name="box-size")]
    cols = {
        "frame": pa.Column("int64"),
        "left": pa.Column("float64"),
        "top": pa.Column("float64"),
        "width": pa.Column("float64", positive),
        "height": pa.Column("float64", positive),
    }
    classes = [float(c) for c in class_table(benchmark)]
    if kind == "gt":
        cols["id"] = pa.Column("int64", pa.Check(lambda s: s >= 1, name="id-invalid"))
        cols["conf"] = pa.Column("float64", pa.Check(lambda s: s.isin([0.0, 1.0]), name="conf-flag"))
        cols["class"] = pa.Column("float64", pa.Check(lambda s: s.isin(classes), name="class-unknown"), nullable=True)
        cols["visibility"] = pa.Column("float64", pa.Check(lambda s: (s >= 0) & (s <= 1), name="visibility-range"),
                                       nullable=True)
    else:
        cols["id"] = pa.Column("int64", pa.Check(lambda s: (s == -1) | (s >= 1), name="id-invalid"))
        cols["conf"] = pa.Column("float64")
    return pa.DataFrameSchema(cols, strict=False, coerce=False)
