"""Image folders across a download: sequences without one (TrackEval's gt folders hold only
seqinfo.ini and gt/) are checked as annotations; a download where some sequences have frames and
others have none is a download cut short; ingest, which stores frames, needs them all."""

from __future__ import annotations

from motqa.checks.registry import DatasetFacts, dataset_check
from motqa.findings import FOLD_AT, finding, many
from motqa.model import Finding, Place


@dataset_check("annotations-only", "image-folder-missing")
def check_image_folders(facts: DatasetFacts, ids: frozenset[str]) -> list[Finding]:
    return [f for f in _findings(facts.no_image_folder, facts.with_image_folder, facts.needs_frames)
            if f.check in ids]


def _findings(absent: list[Place], present: int, needs_frames: bool) -> list[Finding]:
    """`absent`: where each sequence without an image folder expected it (sequence, imDir);
    `present`: how many sequences of the same source have theirs."""
    if not absent:
        return []
    total = len(absent) + present
    if needs_frames:
        why = (f"{len(absent)} of {total} sequences have no image folder ({absent[0].file}/ in {absent[0].sequence}"
               f"{' and others' if len(absent) > 1 else ''}); ingest stores every frame: point it at a download "
               "that holds the frames (TrackEval's gt folders hold annotations only)")
        return [_one("image-folder-missing", why, absent)]
    if present:  # some sequences have frames: the others were cut from the download
        return [finding("image-folder-missing", f"no image folder {p.file}/, while {present} other sequences of "
                        "this download have theirs: is the download incomplete?", p) for p in absent]
    why = (f"{'no sequence has an' if len(absent) > 1 else 'the sequence has no'} image folder "
           f"({absent[0].file}/): checked as annotations only (TrackEval's layout); the frame and image "
           "checks did not run")
    return [_one("annotations-only", why, absent)]


def _one(check: str, message: str, places: list[Place]) -> Finding:
    if len(places) == 1:
        return finding(check, message, places[0])
    return many(check, message, places[:FOLD_AT], len(places))
