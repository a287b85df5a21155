"""The ingest pipeline: the gate on a MOT download and, only when it passes, the Deep Lake 4
dataset, written as the gate goes and published at the end. Returns what happened; the command
line prints it and makes the exit code."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motqa.deeplake import layout as L
from motqa.deeplake import rows
from motqa.deeplake.rows import Gated, Prepared, Stop, WriteError, prepare
from motqa.deeplake.write import WriteSummary, write_dataset, write_feed
from motqa.errors import UsageError
from motqa.gate import FrameTaker, GateConfig, GateResult, Observer, run_gate
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

    A local target is written as the gate goes: each sequence is read and parsed once, its rows
    handed to a writer thread as it is loaded, and each frame as the image check has read it; the
    writer stores them in the temporary dataset a part at a time (Deep Lake's commit leaves the
    GIL to the gate), and the dataset is published only when the whole gate has passed. An S3
    target is created empty at its first write (rows.py's protocol), which a refused gate must not
    leave behind: there the gate runs first, then the writer loads each sequence again (LoadFeed)
    and checks it did not change."""
    cfg.needs_frames = True  # a sequence without frames cannot be stored: the gate says so
    mot = discover(source)
    if target.folder is None:
        return _gate_first(mot, target, cfg, overwrite, progress, observers)
    feed = FrameFeed(len(mot.sequences))
    writer = _Writer(feed, target, overwrite, Path(mot.source) if mot.kind == "mot-folder" else None)
    writer.start()
    try:
        result = _gate_into(feed, mot, cfg, progress, observers)
        if writer.is_alive():
            progress.status("writing: storing the last frames")
        writer.join()
    except BaseException as e:  # the gate failed, or Ctrl-C, also while the last frames are stored
        feed.abort(Stop(e))  # unless it is publishing already, the writer deletes what it wrote
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


def _gate_into(feed: FrameFeed, mot: MotDataset, cfg: GateConfig, progress: Progress,
               observers: tuple[Observer, ...]) -> GateResult:
    """The gate, streaming to the writer: each sequence's rows as it is loaded (made on the gate's
    thread: only numpy arrays and bytes cross to the writer's), its frames as the image check
    reads them (the rest, if the check read none or not all, read here once its checks are done);
    nothing after the first sequence with a finding at the failing severity (the gate will refuse:
    the rest is only checked, and the writer stops)."""
    refused = False
    # The sequence being checked, and what the writer has of it: its tap, or why it cannot be
    # stored. That WriteError (an id out of uint32, a frame file that cannot be read) is said only
    # once the sequence passes the gate: where the gate refuses it, the refusal is the answer.
    current: tuple[Sequence, FrameTap | WriteError] | None = None

    def loaded(seq: Sequence) -> FrameTaker | None:
        nonlocal current
        current = None
        if refused or feed.closed:
            return None
        try:
            item = prepare(seq)
        except WriteError as e:
            current = seq, e
            return None
        feed.begin(item)
        if item.rows is None:
            return None
        tap = FrameTap(feed, len(seq.frames), seq.label)
        current = seq, tap
        return tap

    def checked(seq: Sequence, found: list[Finding]) -> None:
        nonlocal refused
        refused = refused or any(f.severity >= cfg.fail_on for f in found)
        if current is None or current[0] is not seq:
            return
        held = current[1]
        if refused:
            feed.finish(Stop())  # the writer deletes what it wrote; the gate checks on
            return
        if isinstance(held, FrameTap):
            held.rest(seq)
            held = held.unreadable or held
        if isinstance(held, WriteError):
            feed.fail(held)
        else:
            feed.end()

    result = run_gate(mot, cfg, progress, observers, on_checked=checked, on_loaded=loaded)
    feed.finish(_metadata(result) if result.valid else Stop())
    return result


class FrameTap:
    """The image check's bytes to the writer, chunk by chunk in order; rest() reads (once) the
    frames the checks did not. A frame that cannot be read stops the handing over: `unreadable`
    says why the sequence cannot be stored, should the gate let it pass."""

    def __init__(self, feed: FrameFeed, count: int, label: str) -> None:
        self.feed, self.count, self.label, self.given = feed, count, label, 0
        self.unreadable: WriteError | None = None

    def __call__(self, start: int, data: list[bytes | None]) -> None:
        if start != self.given:
            raise RuntimeError(f"frames {start}.. handed over after {self.given}: out of order")
        self.given += len(data)
        if self.unreadable is not None:
            return
        read = [d for d in data if d is not None]
        if len(read) < len(data):
            self.unreadable = WriteError(f"{self.label}: a frame file cannot be read; it cannot be stored")
            return
        self.feed.frames(read)

    def rest(self, seq: Sequence) -> None:
        for a in range(self.given, self.count, rows.WINDOW):
            chunk: list[bytes | None] = []
            for i in range(a, min(self.count, a + rows.WINDOW)):
                try:
                    chunk.append(seq.frames.read(i))
                except OSError:
                    chunk.append(None)
            self(a, chunk)


class FrameFeed:
    """The writer's feed (rows.Feed), filled by the gate's thread with events: a sequence's rows
    (begin), its frames (frames, as many times as it takes), its end (end); at last the metadata
    to publish, or the Stop that ends the write unpublished (finish). A bounded queue: the gate
    waits while the writer is BACKLOG chunks of frames behind, so memory is bounded by that and by
    the writer's commit size, not by the length of a sequence."""

    BACKLOG = 8  # chunks of frames (rows.WINDOW each) waiting for the writer

    def __init__(self, total: int) -> None:
        self.total = total
        self._cond = threading.Condition()
        self._events: deque[tuple[str, Any]] = deque()
        self._chunks = 0  # "frames" events queued
        self._end: Mapping[str, str] | Stop | None = None
        self._end_taken = False  # the writer has read the end: it publishes (or stops) now
        self.closed = False  # the writer takes no more (it failed, or the feed ended)

    # the gate's side

    def _put(self, kind: str, value: Any = None) -> None:
        with self._cond:
            if kind == "frames":
                self._cond.wait_for(lambda: self._chunks < self.BACKLOG or self.closed)
                self._chunks += 1
            if self.closed:
                return
            self._events.append((kind, value))
            self._cond.notify_all()

    def begin(self, item: Prepared) -> None:
        self._put("begin", item)

    def frames(self, data: list[bytes]) -> None:
        self._put("frames", data)

    def end(self) -> None:
        self._put("end")

    def fail(self, error: WriteError) -> None:
        self._put("fail", error)

    def finish(self, outcome: Mapping[str, str] | Stop) -> None:
        with self._cond:
            if self._end is None:
                self._end = outcome
            self._cond.notify_all()

    def abort(self, stop: Stop) -> None:
        """A Stop that replaces the metadata given before, if the writer has not taken it."""
        with self._cond:
            if not self._end_taken:
                self._end = stop
            self._cond.notify_all()

    # the writer's side

    def close(self) -> None:
        """The writer takes nothing more (a put waiting now returns)."""
        with self._cond:
            self.closed = True
            self._events.clear()
            self._cond.notify_all()

    def _take(self) -> tuple[str, Any]:
        with self._cond:
            self._cond.wait_for(lambda: self._events or self._end is not None)
            if isinstance(self._end, Stop):  # a refusal or a failure ends it at once
                raise self._end
            if not self._events:
                return "finished", None
            kind, value = self._events.popleft()
            if kind == "frames":
                self._chunks -= 1
            self._cond.notify_all()
            return kind, value

    def __iter__(self) -> Iterator[Prepared]:
        while True:
            kind, value = self._take()
            if kind == "finished":
                return
            if kind == "fail":
                raise value
            if kind != "begin":
                raise RuntimeError(f"the feed gave {kind} where a sequence begins")
            item: Prepared = value
            if item.rows is not None:
                item.frames = self._frames(item.label)
            yield item

    def _frames(self, label: str) -> Iterator[bytes]:
        while True:
            kind, value = self._take()
            if kind == "end":
                return
            if kind == "fail":
                raise value
            if kind != "frames":
                raise RuntimeError(f"the feed gave {kind} within the frames of {label}")
            yield from value

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

    def __init__(self, feed: FrameFeed, target: Target, overwrite: bool, source: Path | None) -> None:
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
