"""Coverage: in a benchmark whose every official sequence has gt boxes in every frame, frames of
1..seqLength without a box are named (a gt cut short or written for part of the sequence)."""

from __future__ import annotations

from motqa.checks.registry import finding
from motqa.checks.sequences import missing_runs, runs_text
from motqa.model import Finding, Sequence


def check_coverage(seq: Sequence) -> list[Finding]:
    gt, length = seq.gt, seq.info.seq_length
    if not seq.profile.every_frame_annotated or gt is None or not len(gt) or length is None:
        return []
    runs = missing_runs(gt.rows["frame"].to_numpy(), length)
    total = int((runs[:, 1] - runs[:, 0] + 1).sum()) if len(runs) else 0
    if not total:
        return []
    first = int(runs[0, 0])
    return [finding("frames-unannotated", f"{total} of {length} frames have no gt box (frames {runs_text(runs)}); "
                    f"every official {seq.profile.title} sequence has boxes in every frame: is the gt cut short?",
                    seq.place(file=gt.file, frame=first))]



