"""The check ids, their default severities and what each means: one dict, grep a check id here."""

from __future__ import annotations

from dataclasses import dataclass

from motqa.model import Finding, Place, Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True)
class CheckInfo:
    id: str
    severity: Severity
    summary: str


_CHECKS = [
    # layout and files (found while loading)
    CheckInfo("no-sequences", E, "the path holds no MOT sequence"),
    CheckInfo("unsafe-path", E, "a path from the data leaves the sequence folder"),
    CheckInfo("file-unreadable", E, "a file exists but cannot be read"),
    CheckInfo("parse-error", E, "a line is not a row of numbers of the format's width"),
    CheckInfo("seqinfo-invalid", E, "seqinfo.ini lacks a section or key, or a value is not valid"),
    CheckInfo("seqinfo-missing", I, "no seqinfo.ini (MOT15): length and size inferred from img1/"),
    CheckInfo("gt-missing", I, "a sequence has no gt/gt.txt (normal for test splits)"),
    CheckInfo("annotations-only", I, "no sequence has an image folder (TrackEval's layout): no frame checks"),
    CheckInfo("image-folder-missing", E, "no image folder in a sequence while others have theirs, or in ingest"),
    CheckInfo("seqmap-sequence-missing", E, "a seqmap (TrackEval's seqmaps/<SPLIT>.txt) lists an absent sequence"),
    CheckInfo("seqmap-unlisted", W, "a sequence of a split is not in the split's seqmap: TrackEval skips it"),
    CheckInfo("stray-file", I, "a file in the image folder that is not a frame"),
    # rows (Pandera schemas)
    CheckInfo("id-invalid", E, "a gt track id below the benchmark's id base (0 or 1); a det id not -1 or an id"),
    CheckInfo("box-size", E, "a box of zero or negative width or height"),
    CheckInfo("conf-flag", E, "gt conf is not the flag 0 or 1"),
    CheckInfo("class-unknown", E, "a class not in the benchmark's class table"),
    CheckInfo("visibility-range", E, "visibility outside [0, 1]"),
    # sequences
    CheckInfo("frame-count-mismatch", E, "seqLength differs from the frames in the image folder"),
    CheckInfo("missing-image", E, "a frame in 1..seqLength has no image file"),
    CheckInfo("frame-out-of-range", E, "an annotation's frame is below 1 or past seqLength"),
    CheckInfo("box-outside-image", E, "a box lies wholly outside the picture, beyond the rounding margin"),
    CheckInfo("box-beyond-border", I, "a box misses the picture by a rounding margin (a few px): legal"),
    CheckInfo("frame-numbering", W, "frames do not start at 1"),
    CheckInfo("sequence-name-mismatch", W, "the folder name differs from seqinfo.ini's name"),
    CheckInfo("no-boxes", W, "a sequence with ground truth holds no box"),
    CheckInfo("gt-columns", W, "gt.txt's line width is not the benchmark's (MOT15: 10, the others: 9)"),
    CheckInfo("frames-unannotated", W, "frames without a gt box in a benchmark that annotates every frame"),
    # published facts (motqa/data/published.csv) of a known official sequence
    CheckInfo("published-seqinfo", E, "seqinfo.ini differs from the published sequence's (seqLength, size, fps)"),
    CheckInfo("published-frames", E, "without seqinfo.ini (MOT15): the frames differ from the published count or size"),
    CheckInfo("published-gt", E, "gt.txt differs from the published file (rows, frames, ids, classes, width)"),
    # file conventions (motqa/checks/conventions.py; MOTS in the parser): a file written another
    # way is one error, and the findings it explains are not reported for that file
    CheckInfo("mots-masks", E, "a MOTS20 / KITTI MOTS gt.txt (run-length masks, not boxes): not read as boxes"),
    CheckInfo("frame-id-swapped", E, "columns 1 and 2 hold the track id and the frame: frame and id swapped"),
    CheckInfo("boxes-normalised", E, "every box within [-2, 2]: coordinates normalised to 0-1, not pixels"),
    CheckInfo("boxes-ltrb", E, "columns 5-6 hold right and bottom (LTRB), not width and height"),
    CheckInfo("boxes-centres", E, "columns 3-4 hold box centres (cx, cy), not the top-left corner"),
    CheckInfo("frames-zero-based", E, "frames numbered 0..seqLength-1, not 1..seqLength"),
    CheckInfo("visibility-percent", E, "visibility written in percent (0-100), not as a ratio in [0, 1]"),
    # tracks
    CheckInfo("duplicate-id", E, "the same track id twice in one frame"),
    CheckInfo("track-gap", I, "a track disappears and comes back"),
    # images
    CheckInfo("image-unreadable", E, "a frame does not decode completely"),
    CheckInfo("image-format", E, "a frame holds another format than its extension says (PNG named .jpg)"),
    CheckInfo("image-size-mismatch", E, "a frame's size differs from imWidth x imHeight"),
    # stored datasets only (motqa audit; motqa/checks/stored.py)
    CheckInfo("box-format", E, "the boxes column is stored in another format than LTWH pixel, or not as boxes"),
    CheckInfo("box-format-unstated", I, "the boxes column does not say its format: read as LTWH pixel"),
    CheckInfo("sequence-lengths-differ", E, "a row's frames, boxes and ids hold different numbers of frames"),
    CheckInfo("ids-boxes-mismatch", E, "a stored frame holds a different number of ids (or per-box values) than boxes"),
    CheckInfo("frame-size-varies", E, "a stored frame's size differs from the sequence's first frame (no stored size)"),
    CheckInfo("ingest-incomplete", E, "a motqa dataset that motqa ingest has not finished publishing"),
]

CHECKS: dict[str, CheckInfo] = {c.id: c for c in _CHECKS}

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
