"""Turn a gate result into text, JSON, JUnit XML, GitHub workflow annotations or SARIF: one function each."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from motqa import __version__
from motqa.catalog import CHECKS, CheckInfo
from motqa.gate import GateResult
from motqa.model import Finding, Place, Severity


def as_dict(result: GateResult) -> dict[str, Any]:
    return {
        "motqa": __version__,
        "source": result.source,
        "kind": result.kind,
        "valid": result.valid,
        "fail_on": str(result.fail_on),
        "counts": result.counts(),
        "not_run": result.not_run,
        "sequences": [s.as_dict() for s in result.sequences],
        "findings": [f.as_dict() for f in result.findings],
    }


def to_json(result: GateResult) -> str:
    return json.dumps(as_dict(result), indent=2, ensure_ascii=False) + "\n"


def _count_note(f: Finding) -> str:
    return f" ({f.count} in all)" if f.count > 1 else ""


def to_text(result: GateResult) -> str:
    lines = [f"motqa {__version__}: {result.source} ({result.kind}, {len(result.sequences)} sequences)"]
    for s in result.sequences:
        size = f"{s.width}x{s.height}" if s.width and s.height else "size unknown"
        rate = f" @ {s.frame_rate:g} fps" if s.frame_rate else ""
        frames = f"{s.frames} frames" if s.image_folder else "no image folder"
        lines.append(f"  {s.label}: {frames}, {s.boxes} boxes, {s.tracks} tracks, {size}{rate}; "
                     f"{s.benchmark} ({s.benchmark_reason})")
    if result.not_run:
        why = sorted(set(result.not_run.values()))
        lines.append(f"  not run: {', '.join(result.not_run)} ({'; '.join(why)})")
    order = sorted(result.findings, key=lambda f: -f.severity)
    for f in order:
        lines.append(f"{f.severity!s:7} {f.check:22} {f.place}: {f.message}{_count_note(f)}")
    c = result.counts()
    verdict = "PASSED" if result.valid else f"FAILED (findings at or above {result.fail_on})"
    lines.append(f"{c['error']} errors, {c['warning']} warnings, {c['info']} info: {verdict}")
    return "\n".join(lines) + "\n"


def to_junit(result: GateResult) -> str:
    """A test case per (sequence, check that ran); a failure where a finding reaches the fail level."""
    cases = []
    failures = 0
    labels = [s.label for s in result.sequences] or ["(dataset)"]
    checks = list(dict.fromkeys([*result.checks_run, *(f.check for f in result.findings)]))
    for label in labels:
        for check in checks:
            found = [f for f in result.findings if f.check == check and (f.sequence or "(dataset)") == label]
            if not found and label == labels[0]:
                found = [f for f in result.findings if f.check == check and f.sequence is None]
            body = "\n".join(f"{f.place}: {f.message}{_count_note(f)}" for f in found)
            failing = [f for f in found if f.severity >= result.fail_on]
            inner = ""
            if failing:
                failures += 1
                attrs = f"message={quoteattr(failing[0].message)} type={quoteattr(check)}"
                inner = f"<failure {attrs}>{escape(body)}</failure>"
            elif found:
                inner = f"<system-out>{escape(body)}</system-out>"
            cases.append(f'    <testcase classname={quoteattr(label)} name={quoteattr(check)}>{inner}</testcase>')
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="motqa" '
            f'tests="{len(cases)}" failures="{failures}" errors="0">')
    return "\n".join([head, *cases, "  </testsuite>", "</testsuites>"]) + "\n"


_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def to_github(result: GateResult, root: Path | None = None) -> str:
    """GitHub workflow commands: one annotation per finding, placed on its file and line (relative
    to `root` when given: GitHub wants paths from the repository's top)."""
    lines = []
    folders = {s.label: s.path for s in result.sequences if s.path}
    for f in result.findings:
        props = [f"title={_gh_escape('motqa ' + f.check, True)}"]
        folder = folders.get(f.place.sequence or "")
        if f.place.file and folder:
            path = PurePosixPath(folder) / f.place.file
            if root is not None:
                path = PurePosixPath(_relative(Path(path), root) or path)
            props.insert(0, f"file={_gh_escape(str(path), True)}")
            if f.place.line:
                props.insert(1, f"line={f.place.line}")
        text = _gh_escape(f"{f.place}: {f.message}{_count_note(f)}")
        lines.append(f"::{_LEVEL[f.severity]} {','.join(props)}::{text}")
    c = result.counts()
    lines.append(f"motqa: {c['error']} errors, {c['warning']} warnings, {c['info']} info")
    return "\n".join(lines) + "\n"


# ---- SARIF 2.1.0, for code scanning (github/codeql-action/upload-sarif) and other SARIF viewers

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# No informationUri: the project has no public home yet, and SARIF makes it optional.
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
# The base a relative artifact URI is read against: the repository root (--root, the name GitHub's
# own tools give it), else the source that was checked.
ROOT_BASE, SOURCE_BASE = "%SRCROOT%", "SOURCE"


def _relative(path: Path, base: Path) -> str | None:
    """`path` from `base` in POSIX form, or None where it is not below `base`."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    return None if rel == ".." or rel.startswith(".." + os.sep) else Path(rel).as_posix()


def _is_url(text: str) -> bool:
    return "://" in text


def _rule(info: CheckInfo) -> dict[str, Any]:
    help_text = "\n\n".join(f"{title}:\n{text.strip()}" for title, text in (("Example", info.example),
                                                                           ("How to fix it", info.fix)) if text)
    rule: dict[str, Any] = {
        "id": info.id,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": info.why.strip() or info.summary},
        "defaultConfiguration": {"level": _SARIF_LEVEL[info.severity]},
        "properties": {"reads": info.reads, "tags": ["motqa", info.reads]},
    }
    if info.needs:
        rule["properties"]["needs"] = list(info.needs)
    if help_text:
        rule["help"] = {"text": help_text}
    return rule


def _expectation_rule(f: Finding) -> dict[str, Any]:
    """A rule for a Great Expectations finding (gx-*), which the catalog does not list: made from
    what its first finding says."""
    return {
        "id": f.check,
        "shortDescription": {"text": f"Great Expectations expectation {f.check} failed"},
        "fullDescription": {"text": f.message},
        "help": {"text": "An expectation of a Great Expectations suite (expectations/*.json or a suite given with "
                         "--expectations): its meta.notes say what it is for."},
        "defaultConfiguration": {"level": _SARIF_LEVEL[f.severity]},
        "properties": {"reads": "rows", "tags": ["motqa", "great-expectations"]},
    }


class _Locator:
    """Artifact locations for places: URIs relative to the repository root (when given) or to the
    source, absolute file URIs for what lies outside that base."""

    def __init__(self, result: GateResult, root: Path | None) -> None:
        self.folders = {s.label: s.path for s in result.sequences if s.path}
        self.source = result.source
        self.base_id = ROOT_BASE if root is not None else SOURCE_BASE
        self.base = root if root is not None else (None if _is_url(result.source) else Path(result.source))

    def original_bases(self) -> dict[str, Any]:
        if self.base is None:
            return {}
        return {self.base_id: {"uri": Path(os.path.abspath(self.base)).as_uri() + "/"}}

    def artifact(self, target: str, folder: bool) -> dict[str, str]:
        if _is_url(target):
            return {"uri": target}
        rel = _relative(Path(target), self.base) if self.base is not None else None
        if rel is None:
            uri = Path(os.path.abspath(target)).as_uri()
            return {"uri": uri + "/" if folder and not uri.endswith("/") else uri}
        uri = quote(rel, safe="/") if rel != "." else ""
        if folder:
            uri = f"{uri}/" if uri else "./"
        return {"uri": uri, "uriBaseId": self.base_id}

    def location(self, place: Place) -> dict[str, Any]:
        """The file and its line, else the sequence folder, else the source; where the file is no
        file on disk (a stored row's frames[k]) or there is none, a logical location names it."""
        folder = self.folders.get(place.sequence or "")
        physical: dict[str, Any]
        if folder and place.file:
            physical = {"artifactLocation": self.artifact(str(Path(folder) / place.file), folder=False)}
            if place.line:
                physical["region"] = {"startLine": place.line}
            return {"physicalLocation": physical}
        target = folder or self.source
        artifact = self.artifact(target, folder=not _is_url(target))
        out: dict[str, Any] = {"physicalLocation": {"artifactLocation": artifact}}
        if place.sequence is not None:
            name = place.sequence + (f"/{place.file}" if place.file else "")
            out["logicalLocations"] = [{"fullyQualifiedName": name, "kind": "resource"}]
        return out


def _result(f: Finding, rule_index: int, where: _Locator) -> dict[str, Any]:
    props: dict[str, Any] = {"count": f.count}
    for key in ("sequence", "file", "frame", "track_id"):
        value = getattr(f.place, key)
        if value is not None:
            props[key] = value
    out: dict[str, Any] = {
        "ruleId": f.check,
        "ruleIndex": rule_index,
        "level": _SARIF_LEVEL[f.severity],
        "message": {"text": f"{f.message}{_count_note(f)}"},
        "locations": [where.location(f.place)],
        "properties": props,
    }
    if f.more:
        out["relatedLocations"] = [{"id": k, **where.location(p), "message": {"text": str(p)}}
                                   for k, p in enumerate(f.more, start=1)]
    return out


def to_sarif(result: GateResult, root: Path | None = None) -> str:
    """One SARIF 2.1.0 run: motqa as the tool, every check of the catalog as a rule (and a rule for
    each gx-* expectation that failed), each finding a result at its file and line."""
    rules = [_rule(info) for info in CHECKS.values()]
    for f in result.findings:
        if f.check not in CHECKS and all(r["id"] != f.check for r in rules):
            rules.append(_expectation_rule(f))
    index = {r["id"]: k for k, r in enumerate(rules)}
    where = _Locator(result, root)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "motqa", "version": __version__, "semanticVersion": __version__,
                            "rules": rules}},
        "invocations": [{"executionSuccessful": True}],
        "results": [_result(f, index[f.check], where) for f in result.findings],
        "properties": {"source": result.source, "kind": result.kind, "valid": result.valid,
                       "fail_on": str(result.fail_on), "counts": result.counts(), "not_run": result.not_run},
    }
    bases = where.original_bases()
    if bases:
        run["originalUriBaseIds"] = bases
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


REPORTERS: dict[str, Callable[[GateResult], str]] = {
    "text": to_text,
    "json": to_json,
    "junit": to_junit,
    "github": to_github,
    "sarif": to_sarif,
}
# The reporters that place findings on files, and so take the repository root (--root).
_ROOTED: dict[str, Callable[[GateResult, Path], str]] = {"github": to_github, "sarif": to_sarif}


def render(fmt: str, result: GateResult, root: Path | None = None) -> str:
    """The result in format `fmt`; file paths relative to `root` where the format places findings."""
    if root is not None and fmt in _ROOTED:
        return _ROOTED[fmt](result, root)
    return REPORTERS[fmt](result)
