"""Making and folding findings: a finding of a catalog id at its default severity, one finding for
many alike, and the fold that keeps a report readable. Part of the model: sources and checks both
make findings."""

from __future__ import annotations

from motqa.catalog import CHECKS
from motqa.model import Finding, Place, Severity

# A check that finds more than this many alike in one file or sequence reports them as one
# finding with a count and the first places.
FOLD_AT = 10

NOWHERE = Place()


def finding(check: str, message: str, place: Place = NOWHERE) -> Finding:
    return Finding(check, severity_of(check), message, place)


def severity_of(check: str) -> Severity:
    info = CHECKS.get(check)
    if info is not None:
        return info.severity
    return Severity.ERROR  # gx-* checks carry their own; unknown ids are errors


def many(check: str, message: str, places: list[Place], total: int) -> Finding:
    """One finding for `total` alike occurrences, of which `places` are the first (in order).
    `message` describes the first; reporters add the count."""
    return Finding(check, severity_of(check), message, places[0], total, tuple(places[1:FOLD_AT]))
def fold(findings: list[Finding]) -> list[Finding]:
    """Fold findings of one check in one sequence and file into one when there are more than
    FOLD_AT of them; info findings (legal data, said for the record) are folded into one per
    check and sequence whatever their number. The order of first appearance is kept."""
    groups: dict[tuple[str, str | None, str | None], list[Finding]] = {}
    for f in findings:
        file = None if f.severity == Severity.INFO else f.place.file
        groups.setdefault((f.check, f.place.sequence, file), []).append(f)
    out = []
    for group in groups.values():
        total = sum(f.count for f in group)
        if len(group) == 1 or (total <= FOLD_AT and group[0].severity != Severity.INFO):
            out.extend(group)
            continue
        places = [p for f in group for p in (f.place, *f.more)][:FOLD_AT]
        head = group[0]
        out.append(Finding(head.check, head.severity, head.message, places[0], total, tuple(places[1:])))
    return out
