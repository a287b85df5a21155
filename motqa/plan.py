"""The run plan, made once from the configuration: the checks to run (what --select and --ignore
leave), in stage order, the prerequisites they need, what cannot run and why, and the severity of
each id. The gate follows it; nothing else consults the selection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

from motqa.catalog import CHECKS
from motqa.checks.registry import DATASET_REGISTRY, Check, DatasetCheck, registered
from motqa.model import Finding, Sequence, Severity
from motqa.sources.frame_size import frame_size

# The checks that read every frame's bytes (motqa/checks/images.py).
IMAGE_CHECKS = ("image-unreadable", "image-format", "image-size-mismatch", "frame-size-varies")


@dataclass
class Plan:
    selected: frozenset[str]  # catalog ids selected by --select/--ignore
    checks: tuple[Check, ...]  # the registered checks of the selected ids, in stage order
    dataset_checks: tuple[DatasetCheck, ...]
    images: str
    not_run: dict[str, str] = field(default_factory=dict)  # selected ids that do not run, and why
    severities: dict[str, Severity] = field(default_factory=dict)  # id or pattern -> severity here
    wants: Callable[[str], bool] = lambda check: True  # the selection, for gx-* ids of the suites
    _skipped: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # id -> why -> sequences

    @classmethod
    def make(cls, wants: Callable[[str], bool], images: str, severities: dict[str, Severity]) -> Plan:
        selected = frozenset(c for c in CHECKS if wants(c))
        checks = {id(c): c for cid, c in registered().items() if cid in selected}
        ordered = sorted(checks.values(), key=lambda c: (c.stage, list(CHECKS).index(c.ids[0])))
        datasets = {id(c): c for cid, c in DATASET_REGISTRY.items() if cid in selected}
        plan = cls(selected, tuple(ordered), tuple(datasets.values()), images, severities=severities, wants=wants)
        if images == "skip":
            plan.not_run.update({c: "--images skip: frames are listed, not read" for c in IMAGE_CHECKS
                                 if c in selected})
        return plan

    def ids_of(self, check: Check | DatasetCheck) -> frozenset[str]:
        return (frozenset(check.ids) & self.selected).difference(self.not_run)

    def keeps(self, check: str) -> bool:
        """Whether a finding a source made while reading (found_by ids) is reported."""
        return check in self.selected or (check not in CHECKS and self.wants(check))

    def prepare(self, seq: Sequence) -> dict[str, str]:
        """The prerequisites of this sequence's checks (the frame-size step of the source): the
        selected ids that cannot run on it, and why."""
        blocked: dict[str, str] = {}
        for ann in (seq.gt, seq.det):  # a convention the parser recognised explains nothing unselected
            if ann is not None:
                ann.conventions = [c for c in ann.conventions if c.check in self.selected]
        needing = [c for c in self.checks if "frame-size" in c.needs and self.ids_of(c)]
        if needing:
            why = frame_size(seq, may_read=self.images != "skip")
            if why is not None:
                for c in needing:
                    for cid in self.ids_of(c):
                        if "frame-size" in CHECKS[cid].needs:
                            blocked[cid] = why
        for cid, why in blocked.items():
            self._skipped.setdefault(cid, {}).setdefault(why, []).append(seq.label)
        return blocked

    def not_run_report(self) -> dict[str, str]:
        """Every selected id that did not run (on all sequences or on some), and why."""
        out = dict(self.not_run)
        for cid, whys in self._skipped.items():
            out[cid] = "; ".join(f"{why} ({_labels(labels)})" for why, labels in whys.items())
        return out

    def severity(self, finding: Finding) -> Finding:
        """The finding at the severity the configuration gives its check (the first match)."""
        for pattern, severity in self.severities.items():
            if fnmatchcase(finding.check, pattern):
                return replace(finding, severity=severity)
        return finding


def _labels(labels: list[str], limit: int = 3) -> str:
    return ", ".join(labels[:limit]) + (f" and {len(labels) - limit} more" if len(labels) > limit else "")
