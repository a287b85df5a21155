"""The ingest pipeline: the gate on a MOT download and, only when it passes, the Deep Lake 4
dataset, written as the gate goes and published at the end. Returns what happened; the command
line prints it and makes the exit code."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from motqa.deeplake import layout as L
from motqa.deeplake.rows import Gated, Prepared, Stop, WriteError, prepare
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

    A local target is written as the gate goes: each sequence is read and parsed once, checked,
    and handed to a writer thread, which stores it in the temporary dataset while the gate checks
    the next (Deep Lake's commit leaves the GIL to the gate); the dataset is published only when
    the whole gate has passed. An S3 target is created empty at its first write (rows.py's
    protocol), which a refused gate must not leave behind: there the gate runs first, then the
    writer loads each sequence again (LoadFeed) and checks it did not change."""
    cfg.needs_frames = True  # a sequence without frames cannot be stored: the gate says so
    mot = discover(source)
    if target.folder is None:
        return _gate_first(mot, target, cfg, overwrite, progress, observers)
    cfg.keep_frames = True  # the frames the checks read are the bytes the writer stores
    handoff = HandOff(len(mot.sequences))
    writer = _Writer(handoff, target, overwrite, Path(mot.source) if mot.kind == "mot-folder" else None)
    writer.start()
    try:
        result = _gate_into(handoff, mot, cfg, progress, observers)
        if writer.is_alive():
            progress.status("writing: storing the last sequence")
        writer.join()
    except BaseException as e:  # the gate failed, or Ctrl-C, also while the last sequence is stored
        handoff.end(Stop(e), first=False)  # unless it is publishing already, the writer deletes what it wrote
        writer.join()
        raise
    progress.done()
    error = writer.error
    if isinstance(error, Stop):
        return IngestOutcome(result, "refused", "nothing was written")
    if isinstance(error, UsageError):
        return IngestOutcome(result, "not written", str(error), error)
    if error is not None:
        raise error
    assert writer.summary is not None
    return IngestOutcome(result, "replaced" if writer.summary.replaced else "written", _done(writer.summary, target))


def _gate_into(handoff: HandOff, mot: MotDataset, cfg: GateConfig, progress: Progress,
               observers: tuple[Observer, ...]) -> GateResult:
    """The gate, handing each sequence's row to the writer as soon as motqa's own checks of it have
    run (its Great Expectations suites and the report's samples then run while it is stored);
    none after the first with a finding at the failing severity (the gate will refuse: the rest
    is only checked). The row is made here, on the gate's thread: only numpy arrays and bytes
    cross to the writer's."""
    refused = False

    def hand_over(seq: Sequence, found: list[Finding]) -> None:
        nonlocal refused
        refused = refused or any(f.severity >= cfg.fail_on for f in found)
        if refused or handoff.closed:
            return
        try:
            item: Prepared | WriteError = prepare(seq, progress, "")
        except WriteError as e:  # cannot be stored: the writer fails with it
            item = e
        handoff.put(item)

    steps = gate_steps(mot, cfg, progress, observers, on_checked=hand_over)
    while True:
        try:
            seq, _ = next(steps)
        except StopIteration as done:
            result = cast(GateResult, done.value)
            break
        seq.frames.forget()  # the writer holds the row's bytes; the report has sampled its frames
    handoff.end(_metadata(result) if result.valid else Stop())
    return result


class HandOff:
    """The writer's feed (rows.Feed), filled by the gate's thread: put() returns once the writer
    has taken the row, that is once it has stored the one before, so at most two sequences are
    held: the one being stored and the one being checked. end() gives the metadata to publish,
    or the Stop that ends the write unpublished."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._cond = threading.Condition()
        self._item: Prepared | WriteError | None = None
        self._end: Mapping[str, str] | Stop | None = None
        self._end_taken = False  # the writer has read the end: it publishes (or stops) now
        self.closed = False  # the writer takes no more (it failed, or the feed ended)

    def put(self, item: Prepared | WriteError) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._item is None or self.closed)
            if self.closed:
                return
            self._item = item
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._item is not item)

    def end(self, outcome: Mapping[str, str] | Stop, first: bool = True) -> None:
        """`first=False`: a Stop that replaces the metadata given before, if the writer has not taken it."""
        with self._cond:
            if self._end is None or (not first and not self._end_taken):
                self._end = outcome
            self._cond.notify_all()

    def close(self) -> None:
        """The writer's side: it takes nothing more (a put waiting now returns)."""
        with self._cond:
            self.closed = True
            self._item = None
            self._cond.notify_all()

    def __iter__(self) -> Iterator[Prepared]:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._item is not None or self._end is not None)
                item, self._item = self._item, None
                self._cond.notify_all()
            if item is None:
                return
            if isinstance(item, WriteError):
                raise item
            yield item

    def metadata(self) -> Mapping[str, str]:
        with self._cond:
            self._cond.wait_for(lambda: self._end is not None)
            end, self._end_taken = self._end, True
        if isinstance(end, Stop):
            raise end
        assert end is not None
        return end


class _Writer(threading.Thread):
    """write_feed on a thread of its own; what it returned or raised is kept for ingest()."""

    def __init__(self, feed: HandOff, target: Target, overwrite: bool, source: Path | None) -> None:
        super().__init__(name="motqa-writer", daemon=True)
        self.feed, self.target, self.overwrite, self.source = feed, target, overwrite, source
        self.summary: WriteSummary | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.summary = write_feed(self.feed, self.target, overwrite=self.overwrite, source=self.source)
        except BaseException as e:  # noqa: BLE001 - handed to ingest(), which raises what is not the writer's
            self.error = e
        finally:
            self.feed.close()


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
