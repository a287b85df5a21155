"""The gate: loads each sequence in turn, runs the selected checks, folds and counts findings."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from motqa.catalog import CHECKS
from motqa.checks.conventions import explained, table_checks
from motqa.checks.registry import FRAMES, DatasetFacts, FrameTaker, Options
from motqa.errors import UsageError
from motqa.expectations.run import ExpectationRun, GxFindings
from motqa.findings import fold
from motqa.imaging import MODES
from motqa.model import Finding, MotDataset, Place, Sequence, Severity
from motqa.plan import Plan
from motqa.profiles import profile, recognise
from motqa.progress import Progress
from motqa.sources.layout import shown


@dataclass
class GateConfig:
    select: list[str] | None = None  # check ids or patterns (gx-*); None means all
    ignore: list[str] = field(default_factory=list)
    fail_on: Severity = Severity.ERROR
    images: str = "decode"
    expectations: list[Path] = field(default_factory=list)  # a team's suite folders
    shipped_expectations: bool = True
    severity: dict[str, Severity] = field(default_factory=dict)  # check id or pattern -> its severity here
    benchmark: str | None = None  # a profile name that overrides recognition (--benchmark)
    needs_frames: bool = False  # ingest: a sequence without an image folder cannot be stored
    results: bool = False  # `motqa results`: the result-* checks only (and only there)
    jobs: int | None = None  # threads that check a sequence's frames (--jobs); None: the cores available

    def __post_init__(self) -> None:
        if self.benchmark is not None:
            self.benchmark = profile(self.benchmark).name  # an unknown name is a UsageError now
        if self.images not in MODES:
            raise UsageError(f"--images must be one of {', '.join(MODES)}, not {self.images!r}")
        if self.jobs is not None and (isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1):
            raise UsageError(f"--jobs must be a whole number of at least 1, not {self.jobs!r}")
        for pattern in [*(self.select or []), *self.ignore, *self.severity]:
            if not any(c in pattern for c in "*?[") and pattern not in CHECKS and not pattern.startswith("gx-"):
                raise UsageError(f"unknown check id {pattern!r}; `motqa checks` lists them")

    def plan(self) -> Plan:
        return Plan.make(self.wants, self.images, self.severity)

    def wants(self, check: str) -> bool:
        if check.startswith("result-") != self.results:
            return False
        if self.select is not None and not any(fnmatchcase(check, p) for p in self.select):
            return False
        return not any(fnmatchcase(check, p) for p in self.ignore)


@dataclass
class SequenceSummary:
    """What the report and the JSON say of one sequence."""

    label: str
    name: str
    split: str | None
    frames: int  # frame files on disk (or stored)
    boxes: int  # gt rows
    tracks: int
    det_boxes: int
    seq_length: int | None
    width: int | None
    height: int | None
    frame_rate: float | None
    info_from: str
    path: str | None  # the sequence folder, where the source is a folder
    benchmark: str = "generic"  # the profile the sequence was checked under
    benchmark_reason: str = ""  # why: "sequence name MOT17-02-FRCNN", "folder sportsmot-val", ...
    annotated_frames: int = 0  # frames holding at least one gt box
    boxes_per_frame_mean: float | None = None  # gt boxes per annotated frame
    boxes_per_frame_max: int | None = None
    image_folder: bool = True  # False for an annotations-only sequence (TrackEval's gt folders)
    result_boxes: int | None = None  # `motqa results`: the result file's rows and ids (None elsewhere)
    result_ids: int | None = None
    labels: tuple[str, ...] | None = None  # an export's class names (CVAT's gt/labels.txt), class N the N-th

    @classmethod
    def of(cls, seq: Sequence) -> SequenceSummary:
        gt = seq.gt
        out = cls(seq.label, seq.name, seq.split, len(seq.frames), len(gt) if gt is not None else 0,
                  int(gt.rows["id"].nunique()) if gt is not None else 0,
                  len(seq.det) if seq.det is not None else 0, seq.info.seq_length,
                  seq.info.im_width, seq.info.im_height, seq.info.frame_rate, seq.info.origin,
                  shown(str(seq.path)) if seq.path is not None else None, seq.profile.name, seq.profile_reason)
        if gt is not None and len(gt):
            per_frame = gt.rows["frame"].value_counts(sort=False)
            out.annotated_frames = len(per_frame)
            out.boxes_per_frame_mean = float(per_frame.mean())
            out.boxes_per_frame_max = int(per_frame.max())
        out.image_folder = seq.frames.folder
        out.labels = seq.labels
        if seq.result is not None:
            out.result_boxes, out.result_ids = len(seq.result), int(seq.result.rows["id"].nunique())
        return out

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GateResult:
    source: str
    kind: str
    fail_on: Severity
    findings: list[Finding]
    sequences: list[SequenceSummary]
    checks_run: list[str] = field(default_factory=list)
    not_run: dict[str, str] = field(default_factory=dict)  # a wanted check that could not run -> why

    @property
    def valid(self) -> bool:
        return not any(f.severity >= self.fail_on for f in self.findings)

    def counts(self) -> dict[str, int]:
        out = {str(s): 0 for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}
        for f in self.findings:
            out[str(f.severity)] += f.count
        return out


# Checked sequences that may wait for their Great Expectations findings (run_gate).
MAX_WAITING = 3

# Called with each sequence and its findings while it is loaded (the report samples frames).
Observer = Callable[[Sequence, list[Finding]], None]


def _rows(seq: Sequence) -> int:
    """Annotation rows a loaded sequence holds (what its memory grows with)."""
    return sum(len(a) for a in (seq.gt, seq.det, seq.result) if a is not None)


def run_gate(ds: MotDataset, cfg: GateConfig, progress: Progress | None = None,
             observers: tuple[Observer, ...] = (), on_checked: Observer | None = None,
             on_loaded: Callable[[Sequence], FrameTaker | None] | None = None) -> GateResult:
    """The gate, one sequence at a time, and the GateResult of the whole run. `observers` get
    each sequence, still loaded, with its findings (at the severities the configuration gives
    them) once all its checks have run. `on_loaded` gets each sequence as soon as it is loaded and
    may return what takes the bytes of the frames the image check reads, in order; `on_checked`
    gets each sequence and its findings so far as soon as motqa's own checks have run, before the
    Great Expectations suites and the observers (ingest streams frames to its writer this way:
    motqa/ingest.py)."""
    progress = progress or Progress(False)
    plan = cfg.plan()
    findings = [f for f in ds.findings if plan.keeps(f.check)]
    # Reads the suites now (a malformed one stops the run early); GE builds them in its worker process.
    expectations = ExpectationRun.start(cfg.expectations, cfg.shipped_expectations, plan.wants,
                                        [*(cfg.select or []), *cfg.ignore])
    summaries = []
    no_folder: list[Place] = []  # where sequences without an image folder expected it
    table_explained: dict[str, frozenset[str]] = {}  # label -> sequences-table checks its conventions explain

    def settled(seq: Sequence, found: list[Finding]) -> list[Finding]:
        """As reported: conventions applied, folded, at the severities the configuration gives."""
        return [plan.severity(f) for f in fold([f for f in found if not explained(seq, f)])]

    def sum_up(seq: Sequence) -> None:
        """What the run keeps of a checked sequence: its summary, its row of the sequences table."""
        if not seq.frames.folder:
            no_folder.append(seq.place(file=seq.info.im_dir.rstrip("/")))
        table_explained[seq.label] = table_checks(seq)
        summaries.append(SequenceSummary.of(seq))
        expectations.add_sequence(seq, summaries[-1].as_dict())

    def finish(seq: Sequence, found: list[Finding], gx: GxFindings) -> None:
        """A sequence's GE findings joined to motqa's, then the observers."""
        found = settled(seq, found + gx.findings())
        for observe in observers:
            observe(seq, found)
        findings.extend(found)

    # A checked sequence waits, still loaded, until GE (in its worker process) has validated its
    # rows (submitted before motqa's checks of it, so GE works while they run). While GE is still
    # starting (its import takes a second), the gate goes on to the next sequences: at most
    # MAX_WAITING wait, holding at most twice the rows of the largest sequence yet. Once GE has
    # answered, a sequence is finished before the next is loaded: memory is then that of one
    # sequence. Sequences are summed up as checked and finished (GE findings, observers) in their
    # order, whatever the timing.
    waiting: deque[tuple[Sequence, list[Finding], GxFindings]] = deque()
    largest = 0
    try:
        for n, ref in enumerate(ds.sequences, start=1):
            while waiting and (waiting[0][2].done() or expectations.started()):
                finish(*waiting.popleft())
            where = f"[{n}/{len(ds.sequences)}] {ref.label}"
            progress.status(f"{where}: reading")
            seq = ref.load()
            got = recognise(seq.name, seq.folders, cfg.benchmark, seq.stated_benchmark, seq.layout, seq.labels)
            seq.profile, seq.profile_reason = got.profile, got.reason
            taker = on_loaded(seq) if on_loaded is not None else None
            found = [f for f in seq.findings if plan.keeps(f.check)]  # what the source found reading
            blocked = plan.prepare(seq)
            gx = expectations.submit_annotations(seq)
            for check in plan.checks:
                ids = plan.ids_of(check).difference(blocked)
                if not ids:
                    continue
                bar = progress.bar(f"{where}: {cfg.images} frames", len(seq.frames)) if check.stage == FRAMES else None
                found += check.run(seq, ids, Options(cfg.images, bar, cfg.jobs, taker))
            if on_checked is not None:
                on_checked(seq, settled(seq, found))
            sum_up(seq)
            waiting.append((seq, found, gx))
            largest = max(largest, _rows(seq))
            while waiting and (waiting[0][2].done() or len(waiting) > MAX_WAITING
                               or sum(_rows(w[0]) for w in waiting) > 2 * largest):
                finish(*waiting.popleft())
        table = expectations.submit_sequences()  # every sequence is checked: the table is whole
        if waiting and expectations.suites:
            progress.status("expectations")
        while waiting:
            finish(*waiting.popleft())
        findings += fold([f for f in table() if f.check not in table_explained.get(f.sequence or "", frozenset())])
    finally:
        expectations.close()
    facts = DatasetFacts(no_folder, len(summaries) - len(no_folder), cfg.needs_frames)
    for dataset_check in plan.dataset_checks:
        findings += dataset_check.run(facts, plan.ids_of(dataset_check))
    progress.done()
    not_run = plan.not_run_report()
    ran = [c for c in CHECKS if c in plan.selected and c not in not_run] + expectations.check_ids
    findings = [plan.severity(f) for f in findings]  # the sequences' are already: the first match again
    # shown(): a source path in undecodable bytes would make every reporter's output non-UTF-8
    return GateResult(shown(ds.source), ds.kind, cfg.fail_on, findings, summaries, ran, not_run)
