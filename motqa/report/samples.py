"""The report's gate observer: while each sequence is loaded it keeps a few annotated thumbnails
(first, last, evenly spaced, the frames findings name) and the small statistics the plots need."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from PIL import Image

from motqa.model import Finding, Sequence
from motqa.profiles import Profile
from motqa.report.drawing import DrawBox, Rendered, decode, placeholder, render

# Which samples a report gives up first when it is over its size budget: spaced ones, then the
# second and later frames of one check; never first, last or a check's first frame.
KEEP, FINDING, SPACED = 0, 1, 2
SIZE_BINS = np.arange(0.0, 13.01, 0.5)  # log2 of a box side: 1 px .. 8192 px, half-octave bins
_PLOT_FRAMES_MAX = 200_000  # a frame number past this is a broken row, not a frame to plot


@dataclass
class FrameSample:
    key: str  # the anchor id in the page: "s<sequence>-<k>"
    frame: int
    file: str | None
    reasons: tuple[str, ...]  # "first", "last", "spaced" and the check ids that name the frame
    priority: int
    thumb: Rendered
    large: Rendered | None
    problem: str | None = None  # why a placeholder stands where the picture should be
    boxes: int = 0
    ignored: int = 0
    flagged: int = 0


@dataclass
class SequenceStats:
    source: str  # "gt", "det", "result" or "none": which boxes the plots count
    first_frame: int
    per_frame: np.ndarray  # boxes in frames first_frame, first_frame + 1, ...
    counted_per_frame: np.ndarray | None  # gt: the boxes evaluation counts; result: gt's counted boxes
    outside: int  # rows with a frame outside the plotted range
    track_lengths: np.ndarray  # boxes per track id (gt and results)
    size_hist: np.ndarray  # 2-D counts over log2(width) x log2(height), SIZE_BINS each way
    finding_frames: list[int] = field(default_factory=list)


@dataclass
class SequenceReport:
    label: str
    seqinfo_name: str | None
    benchmark: str
    frame_width: int | None
    frame_height: int | None
    samples: list[FrameSample]
    stats: SequenceStats | None
    notes: list[str] = field(default_factory=list)


def b64_size(n: int) -> int:
    return 4 * math.ceil(n / 3)


def pick_frames(available: np.ndarray, finding_frames: Iterable[tuple[str, int]], spaced: int,
                per_check: int, cap: int) -> list[tuple[int, tuple[str, ...], int]]:
    """(frame, reasons, priority) of the frames to show, by frame number: first and last of
    `available` (sorted frame numbers), up to `per_check` frames each check names (its first one
    kept first), evenly spaced frames; at most `cap` in all."""
    chosen: dict[int, tuple[list[str], int]] = {}
    order: list[int] = []

    def add(frame: int, reason: str, priority: int) -> None:
        if frame in chosen:
            reasons, p = chosen[frame]
            if reason not in reasons:
                reasons.append(reason)
            chosen[frame] = (reasons, min(p, priority))
        elif len(order) < cap:
            chosen[frame] = ([reason], priority)
            order.append(frame)

    n = len(available)
    if n:
        add(int(available[0]), "first", KEEP)
        add(int(available[-1]), "last", KEEP)
    by_check: dict[str, list[int]] = {}
    for check, frame in finding_frames:
        frames = by_check.setdefault(check, [])
        if frame not in frames and len(frames) < per_check:
            frames.append(frame)
    for check, frames in by_check.items():
        add(frames[0], check, KEEP)
    for check, frames in by_check.items():
        for frame in frames[1:]:
            add(frame, check, FINDING)
    if n:
        for i in np.unique(np.round(np.linspace(0, n - 1, min(spaced, n))).astype(np.int64)):
            add(int(available[i]), "spaced", SPACED)
    return [(f, tuple(chosen[f][0]), chosen[f][1]) for f in sorted(order)]


def _finding_frames(findings: list[Finding]) -> list[tuple[str, int]]:
    out = []
    for f in sorted(findings, key=lambda f: -f.severity):
        for place in (f.place, *f.more):
            if place.frame is not None:
                out.append((f.check, int(place.frame)))
    return out


def _boxes_table(seq: Sequence) -> tuple[str, pd.DataFrame | None]:
    """The boxes a sequence's samples and plots show: a tracker's result (motqa results), else
    gt, else the public detections."""
    if seq.result is not None and len(seq.result):
        return "result", seq.result.rows
    if seq.gt is not None and len(seq.gt):
        return "gt", seq.gt.rows
    if seq.det is not None and len(seq.det):
        return "det", seq.det.rows
    return "none", None


def _ignored_mask(rows: pd.DataFrame, profile: Profile) -> np.ndarray:
    conf = rows["conf"].to_numpy(dtype=np.float64)
    mask = conf == 0
    if "class" in rows:
        cls = rows["class"].to_numpy(dtype=np.float64)
        mask |= np.isin(cls, list(profile.distractors))
    return mask


@dataclass(frozen=True)
class Flags:
    """What findings name in one sequence: lines of the boxes' file, and (frame, track id) pairs."""

    lines: frozenset[int] = frozenset()
    tracks: frozenset[tuple[int, int]] = frozenset()


def flags_of(findings: list[Finding], file: str | None) -> Flags:
    lines, tracks = set(), set()
    for f in findings:
        for p in (f.place, *f.more):
            if p.line is not None and file is not None and p.file == file:
                lines.add(int(p.line))
            elif p.frame is not None and p.track_id is not None:
                tracks.add((int(p.frame), int(p.track_id)))
    return Flags(frozenset(lines), frozenset(tracks))


def boxes_of_frame(rows: pd.DataFrame | None, source: str, frame: int, profile: Profile,
                   flags: Flags = Flags()) -> list[DrawBox]:
    if rows is None:
        return []
    at = rows[rows["frame"].to_numpy() == frame]
    if not len(at):
        return []
    ignored = _ignored_mask(at, profile) if source == "gt" else np.zeros(len(at), dtype=bool)
    out = []
    for line, (left, top, width, height, track), ign in zip(
            at.index, at[["left", "top", "width", "height", "id"]].itertuples(index=False, name=None), ignored,
            strict=True):
        if not all(math.isfinite(float(v)) for v in (left, top, width, height, track)):
            continue
        flagged = int(line) in flags.lines or (frame, int(track)) in flags.tracks
        out.append(DrawBox(float(left), float(top), float(width), float(height),
                           int(track) if source in ("gt", "result") else None, bool(ign), flagged))
    return out


def sequence_stats(seq: Sequence, finding_frames: list[int]) -> SequenceStats:
    source, rows = _boxes_table(seq)
    numbers = seq.frames.numbers
    ends = [int(numbers[0]), int(numbers[-1])] if len(numbers) else []
    if seq.info.seq_length:
        ends += [1, int(seq.info.seq_length)]
    frames = rows["frame"].to_numpy(dtype=np.int64) if rows is not None else np.zeros(0, dtype=np.int64)
    if not ends and len(frames):
        ends = [max(0, int(frames.min())), int(frames.max())]
    lo, hi = (min(ends), max(ends)) if ends else (1, 1)
    hi = min(hi, lo + _PLOT_FRAMES_MAX)
    inside = (frames >= lo) & (frames <= hi)
    per_frame = np.bincount(frames[inside] - lo, minlength=hi - lo + 1)
    counted = None
    lengths: np.ndarray = np.zeros(0, dtype=np.int64)
    hist: np.ndarray = np.zeros((len(SIZE_BINS) - 1, len(SIZE_BINS) - 1), dtype=np.int64)
    if rows is not None:
        if source == "gt":
            keep = ~_ignored_mask(rows, seq.profile) & inside
            counted = np.bincount(frames[keep] - lo, minlength=hi - lo + 1)
        if source == "result" and seq.gt is not None and len(seq.gt):  # beside gt's counted boxes
            gt_frames = seq.gt.rows["frame"].to_numpy(dtype=np.int64)
            keep = ~_ignored_mask(seq.gt.rows, seq.profile) & (gt_frames >= lo) & (gt_frames <= hi)
            counted = np.bincount(gt_frames[keep] - lo, minlength=hi - lo + 1)
        if source in ("gt", "result"):
            lengths = rows.groupby("id").size().to_numpy(dtype=np.int64)
        w = rows["width"].to_numpy(dtype=np.float64)
        h = rows["height"].to_numpy(dtype=np.float64)
        ok = np.isfinite(w) & np.isfinite(h) & (w > 0) & (h > 0)
        with np.errstate(divide="ignore"):
            lw, lh = np.log2(np.maximum(w[ok], 1)), np.log2(np.maximum(h[ok], 1))
        hist, _, _ = np.histogram2d(lw, lh, bins=[SIZE_BINS, SIZE_BINS])
        hist = hist.astype(np.int64)
    return SequenceStats(source, lo, per_frame, counted, int((~inside).sum()), lengths, hist,
                         sorted({f for f in finding_frames if lo <= f <= hi}))


class ReportCollector:
    """A gate observer: `run_gate(ds, cfg, progress, observers=(collector,))`. Keeps, per sequence,
    at most `max_samples_per_sequence` annotated frames as small JPEGs (a `thumb_width` thumbnail
    and a `large_width` view) and the statistics for the plots. `budget_bytes` bounds the size of
    the report: past it, large views and then spaced samples are left out."""

    def __init__(self, max_samples_per_sequence: int = 10, *, spaced_samples: int = 6, per_check: int = 3,
                 thumb_width: int = 320, large_width: int = 1280, thumb_quality: int = 70,
                 large_quality: int = 62, budget_bytes: int = 4_800_000) -> None:
        self.max_samples = max(1, max_samples_per_sequence)
        self.spaced = max(2, spaced_samples)
        self.per_check = max(1, per_check)
        self.thumb_width = thumb_width
        self.large_width = large_width
        self.thumb_quality = thumb_quality
        self.large_quality = large_quality
        self.budget_bytes = budget_bytes
        self.sequences: list[SequenceReport] = []

    def __call__(self, seq: Sequence, findings: list[Finding]) -> None:
        try:
            self.sequences.append(self.collect(seq, findings))
        except Exception as e:  # noqa: BLE001 - a report must never stop the gate
            self.sequences.append(SequenceReport(seq.label, seq.info.name, seq.benchmark, seq.info.im_width,
                                                 seq.info.im_height, [], None,
                                                 [f"no frames sampled: {type(e).__name__}: {e}"]))

    def collect(self, seq: Sequence, findings: list[Finding]) -> SequenceReport:
        index = len(self.sequences) + 1
        named = _finding_frames(findings)
        source, rows = _boxes_table(seq)
        notes: list[str] = []
        available = np.asarray(seq.frames.numbers, dtype=np.int64)
        if not len(available) and rows is not None:
            # No frame files (an unsafe imDir, an empty folder): show the annotations on placeholders.
            frames = rows["frame"].to_numpy(dtype=np.int64)
            available = np.unique(frames[(frames >= 1) & (frames <= _PLOT_FRAMES_MAX)])
        picks = pick_frames(available, named, self.spaced, self.per_check, self.max_samples)
        total_named = len({f for _, f in named})
        shown_named = len({f for f, reasons, _ in picks if set(reasons) - {"first", "last", "spaced"}})
        if total_named > shown_named:
            notes.append(f"Findings name {total_named} frames; {shown_named} are shown. The findings table lists all.")
        if source == "det":
            notes.append("No ground truth: the frames show the public detections (det/det.txt), white.")
        table = {"gt": seq.gt, "det": seq.det, "result": seq.result}.get(source)
        flags = flags_of(findings, table.file if table is not None else None)
        samples = [self._sample(seq, rows, source, frame, reasons, priority, f"s{index}-{k}", flags)
                   for k, (frame, reasons, priority) in enumerate(picks, start=1)]
        stats = sequence_stats(seq, [f for _, f in named])
        return SequenceReport(seq.label, seq.info.name, seq.benchmark, seq.info.im_width, seq.info.im_height,
                              samples, stats, notes)

    def _sample(self, seq: Sequence, rows: pd.DataFrame | None, source: str, frame: int,
                reasons: tuple[str, ...], priority: int, key: str, flags: Flags) -> FrameSample:
        boxes = boxes_of_frame(rows, source, frame, seq.profile, flags)
        file, picture, problem, headline = None, None, None, None
        frame_w, frame_h = seq.info.im_width or 0, seq.info.im_height or 0
        position = int(np.searchsorted(seq.frames.numbers, frame)) if len(seq.frames.numbers) else 0
        if position < len(seq.frames.numbers) and int(seq.frames.numbers[position]) == frame:
            file = seq.frames.names[position]
            try:
                data = seq.frames.read(position)
            except Exception as e:  # noqa: BLE001 - any failure to read is shown, not raised
                problem, headline = f"{file} cannot be read: {_why(e)}", "cannot be read"
            else:
                try:
                    picture, frame_w, frame_h = decode(data, self.large_width)
                except Exception as e:  # noqa: BLE001
                    problem, headline = f"{file} cannot be shown: {_why(e)}", "does not decode"
        else:
            problem = headline = f"no image file for frame {frame}"
        if not frame_w or not frame_h:
            frame_w, frame_h = 640, 360
        thumb_w = min(self.thumb_width, frame_w)
        large_w = min(self.large_width, frame_w)
        thumb = self._render(picture, headline, frame_w, frame_h, boxes, thumb_w, self.thumb_quality)
        large = None
        if large_w > thumb_w * 1.2:
            large = self._render(picture, problem, frame_w, frame_h, boxes, large_w, self.large_quality)
        return FrameSample(key, frame, file, reasons, priority, thumb, large, problem, len(boxes),
                           sum(b.ignored for b in boxes), sum(b.flagged for b in boxes))

    @staticmethod
    def _render(picture: Image.Image | None, banner: str | None, frame_w: int, frame_h: int, boxes: list[DrawBox],
                width: int, quality: int) -> Rendered:
        if picture is None:
            picture = placeholder(width, max(1, round(frame_h * width / frame_w)))
        return render(picture, frame_w, boxes, width, quality, banner=banner)

    def fitted(self, budget: int | None = None) -> tuple[list[SequenceReport], list[str]]:
        """The sequences with at most `budget` bytes of images (base64): large views left out
        first (spaced samples before finding frames), then whole spaced samples; notes say what."""
        budget = self.budget_bytes if budget is None else budget
        seqs = [replace(s, samples=list(s.samples)) for s in self.sequences]
        every = [(s, i) for s in seqs for i in range(len(s.samples))]

        def size() -> int:
            return sum(b64_size(len(x.thumb.jpeg)) + (b64_size(len(x.large.jpeg)) if x.large else 0)
                       for s in seqs for x in s.samples)

        total = size()
        notes = []
        dropped_large = 0
        def order(si: tuple[SequenceReport, int]) -> tuple[int, int]:
            sample = si[0].samples[si[1]]
            return -sample.priority, -len(sample.large.jpeg) if sample.large else 0

        for s, i in sorted(every, key=order):
            if total <= budget:
                break
            sample = s.samples[i]
            if sample.large is not None:
                total -= b64_size(len(sample.large.jpeg))
                s.samples[i] = replace(sample, large=None)
                dropped_large += 1
        dropped = 0
        for priority in (SPACED, FINDING):
            for s in reversed(seqs):
                for i in range(len(s.samples) - 1, -1, -1):
                    if total <= budget:
                        break
                    if s.samples[i].priority == priority:
                        total -= b64_size(len(s.samples[i].thumb.jpeg))
                        del s.samples[i]
                        dropped += 1
        mb = self.budget_bytes / 1e6  # the notes speak of the whole report
        if dropped_large:
            notes.append(f"The full-size views of {dropped_large} frames were left out to keep the report "
                         f"under {mb:.1f} MB.")
        if dropped:
            notes.append(f"{dropped} sampled frames were left out to keep the report under {mb:.1f} MB.")
        return seqs, notes


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e).split("\n")[0][:200] or type(e).__name__
