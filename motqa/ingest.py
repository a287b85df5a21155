"""The ingest pipeline: the gate on a MOT download and, only when it passes, the Deep Lake 4
dataset, written as the gate goes and published at the end. Returns what happened; the command
line prints it and makes the exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from motqa.deeplake import layout as L
from motqa.deeplake.rows import Gated, Stop
from motqa.deeplake.write import WriteSummary, write_dataset, write_feed
from motqa.errors import UsageError
from motqa.gate import GateConfig, GateResult, Observer, gate_steps, run_gate
from motqa.model import Finding, MotDataset, Sequence
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
    """The caller has checked the target (motqa.deeplake.write.check_target) before calling.

    A local target is written as the gate goes (GateFeed): each sequence is read and parsed once,
    checked, then stored in the temporary dataset before the gate loads the next; the dataset is
    published only when the whole gate has passed. An S3 target is created empty at its first
    write (rows.py's protocol), which a refused gate must not leave behind: there the gate runs
    first, then the writer loads each sequence again (LoadFeed) and checks it did not change."""
    cfg.needs_frames = True  # a sequence without frames cannot be stored: the gate says so
    mot = discover(source)
    if target.folder is None:
        return _gate_first(mot, target, cfg, overwrite, progress, observers)
    cfg.keep_frames = True  # the frames the checks read are the bytes the writer stores
    feed = GateFeed(mot, cfg, progress, observers)
    try:
        summary = write_feed(feed, target, overwrite=overwrite, progress=progress,
                             source=Path(mot.source) if mot.kind == "mot-folder" else None)
    except Stop as stop:
        if stop.cause is not None:
            raise stop.cause from None
        return IngestOutcome(feed.finish(), "refused", "nothing was written")
    except UsageError as e:  # the writer's: the gate's come as Stop
        return IngestOutcome(feed.finish(), "not written", str(e), e)
    return IngestOutcome(feed.finish(), "replaced" if summary.replaced else "written", _done(summary, target))


class GateFeed:
    """The gate's sequences for the writer (rows.Feed), each as soon as its checks have run; none
    after the first that has a finding at the failing severity (the gate will refuse: the rest is
    only checked). metadata() is the gate's record once the gate has passed, else Stop. Any error
    of the gate's own comes to the writer as Stop(cause) and is raised again by ingest()."""

    def __init__(self, mot: MotDataset, cfg: GateConfig, progress: Progress, observers: tuple[Observer, ...]):
        self.total = len(mot.sequences)
        self._fail_on = cfg.fail_on
        self._steps = gate_steps(mot, cfg, progress, observers)
        self.result: GateResult | None = None

    def __iter__(self) -> Iterator[Sequence]:
        refused = False
        while self.result is None:
            step = self._step()
            if step is not None:
                seq, found = step
                refused = refused or any(f.severity >= self._fail_on for f in found)
                if not refused:
                    yield seq

    def _step(self) -> tuple[Sequence, list[Finding]] | None:
        try:
            return next(self._steps)
        except StopIteration as done:
            self.result = done.value
        except Exception as e:
            raise Stop(e) from e
        return None

    def metadata(self) -> Mapping[str, str]:
        result = self.finish()
        if not result.valid:
            raise Stop()
        return _metadata(result)

    def finish(self) -> GateResult:
        """The gate's result: the checks of the sequences not taken yet run now (the writer stops
        taking them when it fails)."""
        while self.result is None:
            try:
                self._step()
            except Stop as stop:
                raise cast(BaseException, stop.cause) from None
        return self.result


def _gate_first(mot: MotDataset, target: Target, cfg: GateConfig, overwrite: bool, progress: Progress,
                observers: tuple[Observer, ...]) -> IngestOutcome:
    result = run_gate(mot, cfg, progress, observers=observers)
    if not result.valid:
        return IngestOutcome(result, "refused", "nothing was written")
    try:
        summary = write_dataset(mot, target, overwrite=overwrite, metadata=_metadata(result), progress=progress,
                                expected={s.label: Gated(s.frames, s.boxes, s.benchmark) for s in result.sequences})
    except UsageError as e:
        return IngestOutcome(result, "not written", str(e), e)
    return IngestOutcome(result, "replaced" if summary.replaced else "written", _done(summary, target))


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
