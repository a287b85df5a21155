"""The ingest pipeline: the gate on a MOT download, then, only when it passes, the Deep Lake 4
dataset. Returns what happened; the command line prints it and makes the exit code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motqa.deeplake import layout as L
from motqa.deeplake.rows import Gated
from motqa.deeplake.write import WriteSummary, write_dataset
from motqa.errors import UsageError
from motqa.gate import GateConfig, GateResult, Observer, run_gate
from motqa.progress import Progress
from motqa.reporters import as_dict
from motqa.sources.layout import discover
from motqa.storage import Target


@dataclass
class IngestOutcome:
    result: GateResult
    status: str  # "written", "replaced", "refused" (by the gate), "not written" (the writer refused)
    detail: str  # what the report and stderr say of it
    error: UsageError | None = None  # why it was not written, when the writer refused

    @property
    def written(self) -> bool:
        return self.status in ("written", "replaced")


def ingest(source: Path, target: Target, cfg: GateConfig, *, overwrite: bool, progress: Progress,
           observers: tuple[Observer, ...] = ()) -> IngestOutcome:
    """The caller has checked the target (motqa.deeplake.write.check_target) before calling."""
    cfg.needs_frames = True  # a sequence without frames cannot be stored: the gate says so
    mot = discover(source)
    result = run_gate(mot, cfg, progress, observers=observers)
    if not result.valid:
        return IngestOutcome(result, "refused", "nothing was written")
    try:
        summary = write_dataset(mot, target, overwrite=overwrite, metadata=_metadata(result), progress=progress,
                                expected={s.label: Gated(s.frames, s.boxes, s.benchmark, s.labels)
                                          for s in result.sequences})
    except UsageError as e:
        return IngestOutcome(result, "not written", str(e), e)
    status = "replaced" if summary.replaced else "written"
    return IngestOutcome(result, status, _done(summary, target))


def _metadata(result: GateResult) -> dict[str, str]:
    """The dataset's record of the gate that let it in: the source and the gate's JSON."""
    return {L.META_SOURCE: str(result.source), L.META_GATE: json.dumps(as_dict(result), ensure_ascii=False)}


def _done(summary: WriteSummary, target: Any) -> str:
    skipped = "".join(f"; skipped {label}: {why}" for label, why in summary.skipped)
    blank = sum(len(v) for v in summary.frames_without_image.values())
    frames = f"{summary.frames} frames" + (f" ({blank} of them without an image, listed in the dataset's "
                                           "frames_without_image)" if blank else "")
    return (f"{'replaced' if summary.replaced else 'wrote'} {target}: {len(summary.sequences)} sequences, "
            f"{frames}, {summary.boxes} boxes{skipped}")
