"""Rules read from the sequence's benchmark profile (motqa/data/profiles.toml) that no row check
covers: the gt line width the benchmark writes, and, where every official sequence has gt boxes in
every frame, the frames of 1..seqLength without one (a gt cut short)."""

from __future__ import annotations

from motqa.checks.registry import check
from motqa.checks.sequences import missing_runs, runs_text
from motqa.findings import finding
from motqa.model import Finding, Sequence


@check("gt-columns")
def gt_columns(seq: Sequence) -> list[Finding]:
    """MOT15 writes 10 fields (x, y, z, no class), the others 9: a gt of the other width loses its
    class and visibility (or gains three -1s) to every reader that knows the benchmark."""
    gt = seq.gt
    if gt is None or gt.file is None or not len(gt) or gt.columns in seq.profile.gt_columns:
        return []
    want = " or ".join(map(str, seq.profile.gt_columns))
    return [finding("gt-columns", f"gt.txt has {gt.columns} fields a line; {seq.profile.title} gt has {want}: "
                    "is it another benchmark's file?", seq.place(file=gt.file, line=int(gt.rows.index[0])))]


@check("frames-unannotated")
def coverage(seq: Sequence) -> list[Finding]:
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



