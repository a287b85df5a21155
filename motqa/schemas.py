"""Pandera schemas for gt and det rows. Each check is named by the motqa check id it reports."""

from __future__ import annotations

import warnings
from functools import cache

from motqa.profiles import Profile

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pandera.pandas as pa

ALL = frozenset({"id-invalid", "box-size", "conf-flag", "class-unknown", "visibility-range"})


@cache
def annotation_schema(kind: str, profile: Profile, ids: frozenset[str] = ALL) -> pa.DataFrameSchema:
    """The row schema of gt (kind "gt") or det rows under a benchmark's profile (its id base and
    class table). The parser has already made frame and id whole numbers; frame ranges need
    seqinfo.ini and are checked per sequence. Only the checks in `ids` are in the schema."""

    def only(*checks: pa.Check) -> list[pa.Check]:
        return [c for c in checks if c.name in ids]

    # Checks are plain vectorised functions: Pandera reports a custom check by its name, which is
    # the motqa check id (its built-in checks report their own names instead).
    positive = only(pa.Check(lambda s: s > 0, name="box-size"))
    cols = {
        "frame": pa.Column("int64"),
        "left": pa.Column("float64"),
        "top": pa.Column("float64"),
        "width": pa.Column("float64", positive),
        "height": pa.Column("float64", positive),
    }
    classes = [float(c) for c in profile.classes]
    id_min = profile.id_min
    if kind == "gt":
        cols["id"] = pa.Column("int64", only(pa.Check(lambda s: s >= id_min, name="id-invalid")))
        cols["conf"] = pa.Column("float64", only(pa.Check(lambda s: s.isin([0.0, 1.0]), name="conf-flag")))
        # MOT15's 10-column files have no class: the parser leaves the column NaN
        cols["class"] = pa.Column("float64", only(pa.Check(lambda s: s.isin(classes), name="class-unknown",
                                                           ignore_na=True)), nullable=True)
        cols["visibility"] = pa.Column("float64", only(pa.Check(lambda s: (s >= 0) & (s <= 1),
                                                                name="visibility-range")), nullable=True)
    else:
        cols["id"] = pa.Column("int64", only(pa.Check(lambda s: (s == -1) | (s >= id_min), name="id-invalid")))
        cols["conf"] = pa.Column("float64")
    return pa.DataFrameSchema(cols, strict=False, coerce=False)
