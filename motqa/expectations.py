"""The Great Expectations suites in expectations/ (and a team's own): loading them and turning
their failures into gx-* findings. GE itself is imported only by motqa.expectations_gx."""

from __future__ import annotations

import json
import re
import site
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from motqa.checks.registry import FOLD_AT, many
from motqa.checks.rows import place_of
from motqa.errors import UsageError
from motqa.model import Annotations, Finding, Place, Sequence, Severity
from motqa.profiles import profiles

if TYPE_CHECKING:
    from motqa.expectations_gx import LazyEngine, Outcome


def _shipped_dir() -> Path:
    """The suites shipped with motqa: expectations/ in the source tree (an editable install), or
    where a wheel's data-files put it (<prefix>/share/motqa/expectations; see pyproject.toml)."""
    source = Path(__file__).resolve().parent.parent
    if (source / "pyproject.toml").is_file() and (source / "expectations").is_dir():
        return source / "expectations"
    for prefix in (sys.prefix, site.getuserbase()):
        installed = Path(prefix) / "share" / "motqa" / "expectations"
        if installed.is_dir():
            return installed
    return source / "expectations"  # absent: load_suites says so


SHIPPED_DIR = _shipped_dir()
TARGETS = {"gt": "gt rows", "det": "det rows", "sequences": "the sequences table"}
PREFIX = "gx-"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# What GE 1.x writes for an expectation; anything else is a typo worth stopping for.
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "id", "notes", "description", "severity", "rendered_content",
                     "expectation_context", "success_on_last_run"}
_GX_SEVERITY = {"critical": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
# Columns of the sequences table that come from seqinfo.ini: a finding on them names its line.
SEQINFO_KEYS = {"seq_length": "seqLength", "width": "imWidth", "height": "imHeight", "frame_rate": "frameRate"}
_COLUMN_KWARGS = ("column", "column_A", "column_B")


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation as its file gives it. `config` is what GE's ExpectationConfiguration takes."""

    check: str  # gx-<meta.id or type>
    severity: Severity
    note: str
    config: dict[str, Any]
    where: str  # "path: expectation 3 (type, id x)" for messages
    when: tuple[str, ...] = ()  # profile traits a sequence must have for it to apply (meta.when)

    def applies(self, seq: Sequence) -> bool:
        return all(seq.profile.has(trait) for trait in self.when)

    @property
    def type(self) -> str:
        return str(self.config["type"])

    @property
    def columns(self) -> list[str]:
        kw = self.config["kwargs"]
        names = [kw[k] for k in _COLUMN_KWARGS if isinstance(kw.get(k), str)]
        names += [c for c in kw.get("column_list") or [] if isinstance(c, str)]
        return names

    def describe(self) -> str:
        if self.config.get("description"):
            return str(self.config["description"])
        kw = self.config["kwargs"]
        args = ", ".join(f"{k}={_brief(v)}" for k, v in kw.items() if k not in ("result_format", "catch_exceptions"))
        return f"{self.type}({args})"


@dataclass
class SuiteFile:
    path: Path
    name: str
    target: str  # a key of TARGETS
    expectations: list[ExpectationSpec]


def _brief(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(value: Any) -> str:
    """A meta note: a string, a list of strings, or GE's {"format": ..., "content": [...]}."""
    if isinstance(value, dict):
        value = value.get("content", "")
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def load_suite(path: Path) -> SuiteFile:
    """Read one suite file; every problem GE would not see is a UsageError naming file and place."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read the suite: {e}") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise UsageError(f"{path}: a suite is a JSON object with an \"expectations\" list")
    meta = doc.get("meta") or {}
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: the suite's \"meta\" must be an object")
    target = meta.get("target")
    if target not in TARGETS:
        raise UsageError(f"{path}: the suite's meta.target must say what it runs on: "
                         f"{', '.join(repr(t) for t in TARGETS)} (got {target!r})")
    default = _severity(meta.get("severity"), f"{path}: suite meta.severity")
    default = Severity.ERROR if default is None else default
    specs = [_spec(path, n, raw, default) for n, raw in enumerate(doc["expectations"], start=1)]
    return SuiteFile(path, str(doc.get("name") or path.stem), str(target), specs)


def _severity(value: Any, where: str) -> Severity | None:
    if value is None:
        return None
    try:
        return Severity.parse(str(value))
    except ValueError as e:
        raise UsageError(f"{where}: {e}") from None


def _spec(path: Path, n: int, raw: Any, default: Severity) -> ExpectationSpec:
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: expectation {n} is not a JSON object")
    kind = raw.get("type")
    where = f"{path}: expectation {n}" + (f" ({kind})" if isinstance(kind, str) else "")
    if not isinstance(kind, str):
        hint = " (GE 0.x suites say expectation_type; GE 1.x says type)" if "expectation_type" in raw else ""
        raise UsageError(f"{where}: has no \"type\"{hint}")
    unknown = set(raw) - _EXPECTATION_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown keys {', '.join(sorted(unknown))} "
                         f"(an expectation has type, kwargs, meta)")
    kwargs, meta = raw.get("kwargs", {}), raw.get("meta") or {}
    if not isinstance(kwargs, dict) or not isinstance(meta, dict):
        raise UsageError(f"{where}: \"kwargs\" and \"meta\" must be JSON objects")
    name = meta.get("id", kind)
    if not isinstance(name, str) or not _ID.fullmatch(name):
        raise UsageError(f"{where}: meta.id {name!r} is not an id (letters, digits, - _ .)")
    if meta.get("id"):
        where = f"{path}: expectation {n} ({kind}, id {name})"
    check = name if name.startswith(PREFIX) else PREFIX + name
    # meta.severity wins; else GE's own severity field (critical, warning, info); else the suite's.
    severity = _severity(meta.get("severity"), f"{where}: meta.severity")
    gx_level = raw.get("severity")
    if severity is None and gx_level is not None:
        if str(gx_level).lower() not in _GX_SEVERITY:
            raise UsageError(f"{where}: severity {gx_level!r} is not critical, warning or info")
        severity = _GX_SEVERITY[str(gx_level).lower()]
    severity = default if severity is None else severity
    note = _text(meta.get("notes")) or _text(raw.get("notes"))
    config: dict[str, Any] = {"type": kind, "kwargs": kwargs, "meta": meta}
    for key in ("notes", "description"):
        if raw.get(key) is not None:
            config[key] = raw[key]
    return ExpectationSpec(check, severity, note, config, where, _when(meta.get("when"), where))


def _when(value: Any, where: str) -> tuple[str, ...]:
    """meta.when: the benchmark-profile traits (data/profiles.toml) an expectation needs."""
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    known = {t for p in profiles().values() for t in p.traits}
    if not isinstance(names, list) or not all(isinstance(n, str) and n in known for n in names):
        raise UsageError(f"{where}: meta.when {value!r} must name profile traits ({', '.join(sorted(known))})")
    return tuple(names)


def load_suites(dirs: list[Path], shipped: bool = True) -> list[SuiteFile]:
    """The shipped suites (unless `shipped` is False) and every *.json in each of `dirs`."""
    folders = ([SHIPPED_DIR] if shipped else []) + list(dirs)
    files: dict[Path, Path] = {}  # resolved -> as given: a folder named twice is read once
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"no such expectations folder: {folder}")
        found = sorted(folder.glob("*.json"))
        if not found and folder != SHIPPED_DIR:
            raise UsageError(f"{folder}: no *.json suite in this folder")
        for f in found:
            files.setdefault(f.resolve(), f)
    suites = [load_suite(f) for f in files.values()]
    seen: dict[str, str] = {}
    for suite in suites:
        for spec in suite.expectations:
            if spec.config["meta"].get("id") is None:
                continue  # ids taken from the type may repeat: they name a kind, not one expectation
            if spec.check in seen and seen[spec.check] != spec.where:
                raise UsageError(f"{spec.where}: id {spec.check} is already used by {seen[spec.check]}; "
                                 "give each expectation its own meta.id")
            seen[spec.check] = spec.where
    return suites


@dataclass
class ExpectationRun:
    """The suites of one gate run: read before the first sequence, run on each sequence's gt and
    det rows, and on the sequences table at the end."""

    suites: list[SuiteFile]
    engine: LazyEngine | None = None
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _places: list[tuple[str, str, dict[str, int]]] = field(default_factory=list)

    @classmethod
    def start(cls, dirs: list[Path], shipped: bool, wants: Callable[[str], bool],
              named: Iterable[str] = ()) -> ExpectationRun:
        """Load the suites and keep the expectations `wants` selects (GE is imported when the
        first of them runs). `named` are the ids given to --select/--ignore: a gx-* id that no
        suite defines is a typo."""
        loaded = load_suites(dirs, shipped)
        known = {s.check for suite in loaded for s in suite.expectations}
        for name in named:
            if name.startswith(PREFIX) and not any(c in name for c in "*?[") and name not in known:
                raise UsageError(f"unknown check id {name!r}: no expectation suite loaded defines it "
                                 f"(they define {', '.join(sorted(known)) or 'none'})")
        suites = []
        for suite in loaded:
            kept = [s for s in suite.expectations if wants(s.check)]
            if kept:
                suites.append(replace(suite, expectations=kept))
        run = cls(suites)
        if suites:
            from motqa.expectations_gx import LazyEngine

            run.engine = LazyEngine(suites)
        return run

    @property
    def check_ids(self) -> list[str]:
        return list(dict.fromkeys(s.check for suite in self.suites for s in suite.expectations))

    def check_annotations(self, seq: Sequence) -> list[Finding]:
        """Run the gt and det suites on this sequence's rows."""
        out: list[Finding] = []
        for ann in (seq.gt, seq.det):
            if ann is None or not len(ann) or self.engine is None:
                continue  # an empty file is the no-boxes check's business
            for suite in self.suites:
                if suite.target != ann.kind:
                    continue
                what = f"{seq.label} {ann.file or ann.kind}"
                for outcome in self.engine.get().validate(suite, ann.rows, what):
                    if not outcome.success and outcome.spec.applies(seq):
                        out += _row_findings(outcome, seq, ann)
        return out

    def add_sequence(self, seq: Sequence, summary: dict[str, Any]) -> None:
        """Keep this sequence's row of the sequences table."""
        row = dict(summary)
        length, annotated = row.get("seq_length"), row.get("annotated_frames")
        row["annotated_share"] = annotated / length if length and row.get("boxes") and annotated is not None \
            else None
        self._rows.append(row)
        origin = seq.info.origin
        self._places.append((seq.label, origin, dict(seq.info.lines) if origin == "seqinfo.ini" else {}))

    def sequences_table(self) -> pd.DataFrame:
        """One row per sequence, indexed from 1; numbers as float64 (NaN where unknown)."""
        df = pd.DataFrame(self._rows, index=pd.RangeIndex(1, len(self._rows) + 1))
        for col in df.columns:
            values = [v for v in self._column(col) if v is not None]
            if values and all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values):
                df[col] = pd.to_numeric(pd.Series(self._column(col), index=df.index), errors="coerce").astype("float64")
        return df

    def _column(self, col: str) -> list[Any]:
        return [row.get(col) for row in self._rows]

    def check_sequences(self) -> list[Finding]:
        """Run the sequences suites on the table of every sequence seen."""
        if self.engine is None:
            return []
        engine = self.engine.get()  # also when no sequence used it: a broken suite must not pass unseen
        if not self._rows:
            return []
        table = self.sequences_table()
        out: list[Finding] = []
        for suite in self.suites:
            if suite.target != "sequences":
                continue
            for outcome in engine.validate(suite, table, "the sequences table"):
                if not outcome.success:
                    out += self._sequence_findings(outcome, table)
        return out

    def _sequence_findings(self, outcome: Outcome, table: pd.DataFrame) -> list[Finding]:
        spec = outcome.spec
        if not outcome.lines:
            return [Finding(spec.check, spec.severity, _message(spec, outcome.observed), Place())]
        out = []
        for k in outcome.lines:
            label, _, lines = self._places[k - 1]
            keys = [SEQINFO_KEYS[c] for c in spec.columns if c in SEQINFO_KEYS]
            line = next((lines[key] for key in keys if key in lines), None)
            place = Place(label, "seqinfo.ini", line) if line is not None else Place(label)
            out.append(Finding(spec.check, spec.severity, _message(spec, _values(table, k, spec)), place))
        return out


def _values(df: pd.DataFrame, index: int, spec: ExpectationSpec) -> str | None:
    shown = []
    for col in spec.columns:
        if col in df.columns:
            v: Any = df.at[index, col]
            shown.append(f"{col}={v:g}" if isinstance(v, float | np.floating) else f"{col}={v!s}")
    return ", ".join(shown) or None


def _message(spec: ExpectationSpec, observed: str | None) -> str:
    text = spec.describe() + (f" failed: found {observed}" if observed is not None else " failed")
    return f"{text}. {spec.note}" if spec.note else text


def _row_findings(outcome: Outcome, seq: Sequence, ann: Annotations) -> list[Finding]:
    spec = outcome.spec
    if not outcome.lines:
        return [Finding(spec.check, spec.severity, _message(spec, outcome.observed), seq.place(file=ann.file))]
    lines = outcome.lines
    def message(line: int) -> str:
        return _message(spec, _values(ann.rows, line, spec))
    if outcome.count > FOLD_AT or outcome.count > len(lines):
        places = [place_of(seq, ann, k) for k in lines[:FOLD_AT]]
        return [replace(many(spec.check, message(lines[0]), places, max(outcome.count, len(lines))),
                        severity=spec.severity)]
    return [Finding(spec.check, spec.severity, message(k), place_of(seq, ann, k)) for k in lines]
