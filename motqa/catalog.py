"""The catalog of check ids (motqa/data/checks.toml): each id's default severity, summary, what
it reads, what it needs first, and its documentation. Part of the model: sources, checks, the gate
and the reporters all name findings by these ids; which function finds each one is the check
registry's business (motqa/checks/registry.py)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from motqa.model import Severity

READS = ("files", "rows", "tracks", "frames", "sequence", "dataset", "stored")
NEEDS = ("frame-size", "seq-length")


@dataclass(frozen=True)
class CheckInfo:
    id: str
    severity: Severity
    summary: str
    reads: str
    needs: tuple[str, ...] = ()
    found_by: str | None = None  # the module that finds it while reading, for reads = "files"
    why: str = ""
    example: str = ""
    fix: str = ""

    def doc(self) -> str:
        """The check's page, as `motqa checks ID` prints it."""
        head = f"{self.id} ({self.severity}): {self.summary}"
        parts = [head, f"reads: {self.reads}" + (f"; needs first: {', '.join(self.needs)}" if self.needs else "")]
        for title, text in (("Why it matters", self.why), ("Example", self.example), ("How to fix it", self.fix)):
            if text:
                parts.append(f"{title}:\n" + "\n".join("  " + line for line in text.strip().splitlines()))
        return "\n\n".join(parts) + "\n"


@cache
def _load() -> dict[str, CheckInfo]:
    raw = tomllib.loads(files("motqa").joinpath("data/checks.toml").read_text(encoding="utf-8"))
    out = {}
    for cid, d in raw.items():
        info = CheckInfo(cid, Severity[d["severity"].upper()], d["summary"], d["reads"], tuple(d.get("needs", ())),
                         d.get("found_by"), d.get("why", ""), d.get("example", ""), d.get("fix", ""))
        if info.reads not in READS or not set(info.needs) <= set(NEEDS):
            raise ValueError(f"motqa/data/checks.toml [{cid}]: reads {info.reads!r}, needs {info.needs!r}")
        out[cid] = info
    return out


CHECKS: dict[str, CheckInfo] = _load()
