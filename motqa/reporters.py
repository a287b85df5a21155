"""Turn a gate result into text, JSON, JUnit XML or GitHub workflow annotations: one function each."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import PurePosixPath
from xml.sax.saxutils import escape, quoteattr

from motqa import __version__
from motqa.gate import GateResult
from motqa.model import Finding, Severity


def as_dict(result: GateResult) -> dict:  # type: ignore[type-arg]
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


def to_github(result: GateResult) -> str:
    """GitHub workflow commands: one annotation per finding, placed on its file and line."""
    lines = []
    folders = {s.label: s.path for s in result.sequences if s.path}
    for f in result.findings:
        props = [f"title={_gh_escape('motqa ' + f.check, True)}"]
        folder = folders.get(f.place.sequence or "")
        if f.place.file and folder:
            path = PurePosixPath(folder) / f.place.file
            props.insert(0, f"file={_gh_escape(str(path), True)}")
            if f.place.line:
                props.insert(1, f"line={f.place.line}")
        text = _gh_escape(f"{f.place}: {f.message}{_count_note(f)}")
        lines.append(f"::{_LEVEL[f.severity]} {','.join(props)}::{text}")
    c = result.counts()
    lines.append(f"motqa: {c['error']} errors, {c['warning']} warnings, {c['info']} info")
    return "\n".join(lines) + "\n"


REPORTERS: dict[str, Callable[[GateResult], str]] = {
    "text": to_text,
    "json": to_json,
    "junit": to_junit,
    "github": to_github,
}
