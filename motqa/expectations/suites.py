"""Loading the Great Expectations suites of expectations/ (and a team's own) into specs: each
expectation's check id, severity, note and the profiles it applies to. Plain JSON: no GE here."""

from __future__ import annotations

import json
import re
import site
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motqa.errors import UsageError
from motqa.model import Sequence, Severity
from motqa.profiles import profiles


def _shipped_dir() -> Path:
    """The suites shipped with motqa: expectations/ in the source tree (an editable install), or
    where a wheel's data-files put it (<prefix>/share/motqa/expectations; see pyproject.toml)."""
    source = Path(__file__).resolve().parents[2]
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
