"""Writes a gated MotDataset as the motqa Deep Lake 4 dataset, locally or on S3.

Layout "motqa-sequences/2" (names in motqa.deeplake.layout): one row per frame, the frames of a
sequence in consecutive rows, in frame order, the sequences in the order the source lists them
(those with ground truth); and a stored view, the tag "sequences", with one row per sequence:

  sequence       Int32    the sequence's index: its row in the "sequences" view
  name           Text     the sequence folder's name (MOT17-02-FRCNN)
  split          Text     its split folder (train), "" when the source is a split or one sequence
  frame_rate     Float32  seqinfo.ini frameRate (NaN when unknown)
  width, height  Int32    imWidth, imHeight (-1 when unknown)
  seq_length     Int32    seqLength (-1 when unknown)
  frame_numbers  Int32    the frame's MOT frame number
  frames         Image(jpg)   the frame file's bytes as they are on disk, never re-encoded
  boxes          BoundingBox(float32, ltwh, pixel)   (n, 4); (0, 4) when none
  ids            Array(uint32, 1)    the track id of each box
  conf           Array(float32, 1)   gt conf (the flag: 1 evaluated, 0 ignored)
  classes        Array(int32, 1)     gt class, -1 where the file has none (MOT15)
  visibility     Array(float32, 1)   gt visibility, NaN where the file has none (MOT15)

The sequence's values (name ... seq_length) repeat on each of its frames. conf, classes and
visibility are aligned with boxes and ids, and the boxes are ordered by track id (then by file
line). Every gt row is kept, conf=0 included: users filter. `ds.tags["sequences"].open()`
(`SELECT * GROUP BY sequence`) gives one row per sequence, each column the sequence of its
frames' values: the layout of Deep Lake's sequence tutorial (`view["frames"][r]`,
`view["boxes"][r]`). motqa.deeplake.layout.read_frame / iter_frames read a sequence's frames a
window at a time.

Why a row per frame: Deep Lake 4 stores a cell as one object, written and read whole. A sequence
of 3,315 1080p frames in one cell (layout 1) took 1.9 GB to commit, twice that for a sequence
twice as long, and its whole 600 MB to read one frame; a row per frame is committed a part at a
time in flat memory, 2.5 to 10 times faster (bench/README, "Ingest and memory").

Dataset metadata (strings): motqa_version, motqa_layout, motqa_state ("published" once complete),
source, benchmark (comma-separated when mixed), gate (JSON of the gate result: counts, sequences
and the findings that passed the gate, as `--format json` prints), sequences (JSON list of
{"label", "name", "split", "first_row", "frames"}: where each sequence's rows are), skipped (JSON
list of {"sequence", "why"}), frames_without_image (JSON {label: [frame numbers]}), class_names
(JSON {label: {class id: name}}).

What is not stored: det/det.txt (public detections; the layout holds ground truth only), MOT15's
world coordinates x, y, z (-1 in 2D), and:
- a sequence without gt/gt.txt (a test split) is skipped and listed in `skipped`: frames without
  labels would read as frames with no objects to a training loop. An empty gt.txt is stored (every
  frame with no box). If no sequence has gt, nothing is written (WriteError).
- a sequence with neither frames nor gt rows is skipped, and so is one without an image folder
  (annotations only), when the gate was told to let it pass.
- gt rows for a frame that has no image file pass the gate only when the user ignored its errors
  (missing-image, frame-out-of-range): they are kept, at a frame whose `frames` item is b"" (it
  decodes to None), and the frame numbers are listed in `frames_without_image`.
- a track id outside 0..2**32-1 or a frame number outside int32 (ignored errors again) cannot be
  stored: WriteError, nothing written.

What is written comes from a feed (Feed): the gate's sequences as it checks them (ingest to a
local folder: motqa/ingest.py's FrameFeed, each frame handed over as the checks read it), or the
sequences of a MotDataset loaded again (LoadFeed: ingest to S3, after the whole gate;
write_dataset). A feed ends with the metadata to publish, or with Stop (the gate refused or
failed): then nothing is published. Frames are appended WINDOW at a time and committed every
COMMIT_BYTES of them (Deep Lake holds appends in memory until a commit), so memory is bounded by
that, not by the longest sequence.

Atomicity: a reader of the target sees nothing, the old dataset or the whole new one.
- Local: the dataset is written into a sibling folder `.NAME.motqa-tmp-TOKEN`, committed in parts
  as the gate goes, then renamed into place once the gate has passed.
  With --overwrite the new folder and the old dataset are swapped in one
  renameat2(RENAME_EXCHANGE) and the old one is deleted; where the file system lacks that, the
  old one is renamed to `.NAME.motqa-old-TOKEN` first (a reader may see nothing in between). A
  lock file `.NAME.motqa-lock` (flock, released by the kernel when a process dies) keeps two
  ingests apart, so the next run knows that any tmp/old folder is a dead run's: it puts an old
  dataset back if the target is missing, and deletes the rest.
- S3 has no rename, and Deep Lake 4 dataset metadata is not versioned per branch (a commit on
  any branch makes it visible on main). So: the target is created empty at once (no columns,
  motqa_state "writing"); the frames go to a branch `motqa-ingest-TOKEN`, committed in parts
  (appends are held in memory until a commit); an old published dataset has its rows deleted in
  that branch and its motqa_state set to "replacing" just before the merge; `ds.merge` publishes
  every row in one commit; the "sequences" view is tagged again; then one metadata commit writes
  the new metadata with motqa_state "published"; the branch is deleted. Readers must treat a
  dataset whose motqa_state is not "published" as absent (layout.is_published); a plain Deep Lake
  reader sees no rows, the old rows or all the new rows, never a mix. The next run deletes stale
  `motqa-ingest-*` branches and writes over an unpublished dataset without --overwrite. Old
  versions stay in the dataset's history (Deep Lake is versioned). One ingest per S3 target at a
  time: nothing detects a second.
Source files are opened for reading only; a target inside the source (or the reverse) is refused.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from motqa import __version__
from motqa.deeplake import layout as L
from motqa.errors import UsageError
from motqa.model import MotDataset, Sequence
from motqa.profiles import profile
from motqa.progress import Progress

BRANCH_PREFIX = "motqa-ingest-"
WRITING, REPLACING = "writing", "replacing"
_UINT32_MAX = 2**32 - 1
_INT32 = (-(2**31), 2**31 - 1)


class TargetExistsError(UsageError):
    """A dataset is already at the target and --overwrite was not given (exit 2)."""


class WriteError(UsageError):
    """The data cannot be stored as asked, or writing failed; nothing was published (exit 2)."""


# Frames appended to Deep Lake at a time, and the JPEG bytes after which the appended frames are
# committed: what the writer holds (Deep Lake holds appends until a commit, and a commit about
# twice what it writes), whatever the length of a sequence.
WINDOW = 32
COMMIT_BYTES = 64 << 20


@dataclass
class WriteSummary:
    target: str
    sequences: list[str] = field(default_factory=list)  # labels written, in row order
    frames: int = 0  # rows written
    boxes: int = 0
    replaced: bool = False  # an existing dataset was replaced
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (label, why)
    frames_without_image: dict[str, list[int]] = field(default_factory=dict)
    class_names: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> {class id: name}
    placed: list[dict[str, Any]] = field(default_factory=list)  # META_SEQUENCES: where each sequence's rows are


class Gated(NamedTuple):
    """What a gate that ran before the write saw of a sequence (LoadFeed): the writer refuses a
    sequence that changed since, and stores it under the profile it was checked under."""

    frames: int
    boxes: int
    benchmark: str = "generic"


def checkpoint(step: str) -> None:
    """A named point between two steps of a write; tests replace it to kill the process there."""


# ---------------------------------------------------------------------------------- rows


@dataclass
class _Rows:
    """One sequence's rows but for the frames' bytes: its values, and for each position (a frame
    number on disk or in gt, ascending) the frame number, whether a file holds it, and its boxes:
    gt rows order[cuts[p]:cuts[p + 1]], read from the gt columns as the gate parsed them (views,
    not copies: a long sequence's annotations are held once)."""

    name: str
    split: str
    frame_rate: np.float32
    width: int
    height: int
    seq_length: int
    numbers: np.ndarray  # int32 per position
    on_disk: np.ndarray  # bool per position
    cuts: np.ndarray  # int64, one more than positions
    order: np.ndarray  # the gt rows by frame, then track id, then line
    gt: dict[str, np.ndarray]  # left, top, width, height, id, conf, class, visibility as parsed
    no_image: list[int]

    @property
    def frames(self) -> int:
        return len(self.numbers)

    @property
    def boxes(self) -> int:
        return int(self.cuts[-1])

    def columns(self, a: int, b: int, jpegs: list[bytes], index: int) -> dict[str, list[Any]]:
        """Rows for positions a..b-1, ready for ds.append."""
        k = b - a
        picked = self.order[self.cuts[a]:self.cuts[b]]
        gt = {c: v[picked] for c, v in self.gt.items()}
        per_box = {
            "boxes": np.stack([gt["left"], gt["top"], gt["width"], gt["height"]], axis=1).astype(np.float32),
            "ids": gt["id"].astype(np.uint32),
            "conf": gt["conf"].astype(np.float32),
            "classes": np.where(np.isnan(gt["class"]), -1, gt["class"]).astype(np.int32),
            "visibility": gt["visibility"].astype(np.float32),
        }
        cuts = self.cuts[a:b + 1] - self.cuts[a]
        out: dict[str, list[Any]] = {
            "sequence": [index] * k, "name": [self.name] * k, "split": [self.split] * k,
            "frame_rate": [self.frame_rate] * k, "width": [self.width] * k, "height": [self.height] * k,
            "seq_length": [self.seq_length] * k, "frame_numbers": self.numbers[a:b].tolist(), "frames": jpegs,
        }
        for col, values in per_box.items():
            out[col] = [values[cuts[p]:cuts[p + 1]] for p in range(k)]
        return out


def _sequence_rows(seq: Sequence) -> _Rows | None:
    """The rows of one loaded sequence but for the frames' bytes, or None when it has no frames
    and no gt rows."""
    assert seq.gt is not None
    table = seq.gt.rows
    gt = {c: table[c].to_numpy() for c in ("frame", "id", "left", "top", "width", "height", "conf", "class",
                                            "visibility")}
    frames, ids = gt.pop("frame"), gt["id"]
    _check_storable(seq, frames, ids, table.index)
    order = np.lexsort((ids, frames))  # stable: rows of one frame and track stay in file order
    if len(order) < 2**31:
        order = order.astype(np.int32)
    sorted_frames = frames[order]
    on_disk = np.asarray(seq.frames.numbers, dtype=np.int64)
    numbers = np.union1d(on_disk, sorted_frames)
    if not len(numbers):
        return None
    _check_frame_numbers(seq, numbers)
    cuts = np.concatenate([np.searchsorted(sorted_frames, numbers, side="left"), [len(order)]]).astype(np.int64)
    has_file = np.isin(numbers, on_disk)
    return _Rows(seq.name, seq.split or "",
                 np.float32(seq.info.frame_rate) if seq.info.frame_rate else np.float32(np.nan),
                 _int_or(seq.info.im_width), _int_or(seq.info.im_height), _int_or(seq.info.seq_length),
                 numbers.astype(np.int32), has_file, cuts, order, gt, numbers[~has_file].astype(int).tolist())


def _int_or(value: int | None) -> int:
    return -1 if value is None else int(value)


def _check_storable(seq: Sequence, frames: np.ndarray, ids: np.ndarray, lines: Any) -> None:
    bad = np.flatnonzero((ids < 0) | (ids > _UINT32_MAX))
    if len(bad):
        i = bad[0]
        raise WriteError(f"{seq.label} gt/gt.txt:{lines[i]}: track id {ids[i]} cannot be stored as uint32 "
                         f"({len(bad)} rows); the gate's id-invalid check finds these")
    bad = np.flatnonzero((frames < _INT32[0]) | (frames > _INT32[1]))
    if len(bad):
        i = bad[0]
        raise WriteError(f"{seq.label} gt/gt.txt:{lines[i]}: frame {frames[i]} cannot be stored as int32 "
                         f"({len(bad)} rows); the gate's frame-out-of-range check finds these")


def _check_frame_numbers(seq: Sequence, numbers: np.ndarray) -> None:
    if numbers[0] < _INT32[0] or numbers[-1] > _INT32[1]:
        raise WriteError(f"{seq.label}: frame number {numbers[-1]} cannot be stored as int32")


def read_frames(seq: Sequence) -> Iterator[bytes]:
    """The bytes of each frame file of a loaded sequence, in order, read as they are asked for."""
    for i in range(len(seq.frames)):
        try:
            yield seq.frames.read(i)
        except OSError as e:
            raise WriteError(f"{seq.label} {seq.frames.names[i]}: cannot be read ({e.strerror or e}); "
                             "the source changed after the gate ran") from None


class Stop(Exception):
    """Raised by a feed to end a write unpublished: the gate refused (`cause` None) or failed
    (`cause`, the gate's own exception). The writers roll back and delete what they wrote, as for
    any failure, and let it through unchanged."""

    def __init__(self, cause: BaseException | None = None) -> None:
        super().__init__("the gate refused" if cause is None else f"the gate failed: {cause}")
        self.cause = cause


@dataclass
class Prepared:
    """One sequence made ready for the writer: its rows (numpy arrays, no pandas: it may cross to
    the writer's thread) and its frames' bytes, each frame file's in order, as the feed reads
    them; or why it is not stored."""

    label: str
    benchmark: str
    class_names: dict[str, str]
    rows: _Rows | None = None
    frames: Iterable[bytes] = ()
    skipped: str | None = None


class Feed(Protocol):
    """What a writer writes: the sequences, one at a time (or a WriteError in place of one), then
    (once they are all taken) the dataset metadata, or Stop. motqa/ingest.py's FrameFeed hands
    them over from the gate as it checks them; LoadFeed loads them from a MotDataset."""

    total: int

    def __iter__(self) -> Iterator[Prepared]: ...

    def metadata(self) -> Mapping[str, str]: ...


class LoadFeed:
    """Each sequence of `mot` loaded from its refs. `expected` (the gate's frames and gt rows per
    sequence, after a gate that ran first) makes the write refuse a sequence that changed since,
    and gives each sequence the profile it was checked under (a fresh load knows none)."""

    def __init__(self, mot: MotDataset, expected: Mapping[str, Gated] | None = None,
                 metadata: Mapping[str, str] | None = None, progress: Progress | None = None) -> None:
        self.mot, self.expected, self._metadata = mot, expected, dict(metadata or {})
        self.total = len(mot.sequences)
        self.progress = progress or Progress(False)

    def __iter__(self) -> Iterator[Prepared]:
        for n, ref in enumerate(self.mot.sequences, start=1):
            self.progress.status(f"[{n}/{self.total}] {ref.label}: loading")
            seq = ref.load()
            gated = self.expected.get(seq.label) if self.expected is not None else None
            if gated is not None:
                _check_unchanged(seq, gated)
                seq.profile = profile(gated.benchmark)
            item = prepare(seq)
            item.frames = read_frames(seq)
            yield item

    def metadata(self) -> Mapping[str, str]:
        return self._metadata


def _check_unchanged(seq: Sequence, gated: Gated) -> None:
    """The gate ran on what was on disk then; refuse to write what it did not see."""
    now = (len(seq.frames), len(seq.gt) if seq.gt is not None else 0)
    then = tuple(gated[:2])
    if now != then:
        raise WriteError(f"{seq.label}: the source changed after the gate ran "
                         f"(frames, gt rows: {then} then, {now} now)")


def class_names(seq: Sequence) -> dict[str, str]:
    """{class id: name}: an export's labels (CVAT's labels.txt, class N the N-th), else the profile's table."""
    if seq.labels is not None:
        return {str(n): name for n, name in enumerate(seq.labels, start=1)}
    return {str(k): v for k, v in seq.profile.classes.items()}


def prepare(seq: Sequence) -> Prepared:
    """One loaded sequence's rows (WriteError when it cannot be stored); the feed gives its frames."""
    item = Prepared(seq.label, seq.benchmark, class_names(seq))
    if seq.gt is None:
        item.skipped = "no ground truth (gt/gt.txt)"
    elif not seq.frames.folder:  # the gate refuses it (image-folder-missing) unless told to ignore
        item.skipped = "no image folder (annotations only): no frames to store"
    else:
        item.rows = _sequence_rows(seq)
        if item.rows is None:
            item.skipped = "no frame files and no gt rows"
    return item


def store(ds: Any, item: Prepared, summary: WriteSummary, progress: Progress) -> bool:
    """Append one sequence's rows, WINDOW frames at a time, committing every COMMIT_BYTES of
    frames and at its end (or list it in summary.skipped). True when it was written."""
    rows = item.rows
    if rows is None:
        summary.skipped.append((item.label, item.skipped or "nothing to store"))
        return False
    index, first = len(summary.sequences), summary.frames
    frames = iter(item.frames)
    advance = progress.bar(f"{item.label}: storing frames", rows.frames)
    pending = 0
    for a in range(0, rows.frames, WINDOW):
        b = min(rows.frames, a + WINDOW)
        jpegs = [_next_frame(frames, item.label) if rows.on_disk[p] else b"" for p in range(a, b)]
        ds.append(rows.columns(a, b, jpegs, index))
        pending += sum(map(len, jpegs))
        if pending >= COMMIT_BYTES and b < rows.frames:
            ds.commit(f"motqa ingest: {item.label}, frames to {b}")
            pending = 0
        advance(b - a)
    if next(frames, None) is not None:
        raise WriteError(f"{item.label}: more frame files than when its rows were made; the source changed")
    ds.commit(f"motqa ingest: {item.label}")
    checkpoint("sequence-written")
    summary.sequences.append(item.label)
    summary.placed.append({"label": item.label, "name": rows.name, "split": rows.split, "first_row": first,
                           "frames": rows.frames})
    summary.frames += rows.frames
    summary.boxes += rows.boxes
    if rows.no_image:
        summary.frames_without_image[item.label] = rows.no_image
    summary.class_names[item.label] = item.class_names
    return True


def _next_frame(frames: Iterator[bytes], label: str) -> bytes:
    data = next(frames, None)
    if data is None:
        raise WriteError(f"{label}: fewer frame files than when its rows were made; the source changed")
    return data


def write_rows(ds: Any, feed: Feed, summary: WriteSummary, progress: Progress) -> tuple[set[str], Mapping[str, str]]:
    """The rows of every sequence the feed gives that has gt; then the feed's metadata (its Stop
    goes through). Returns the benchmarks written and that metadata."""
    benchmarks: set[str] = set()
    for item in feed:
        if store(ds, item, summary, progress):
            benchmarks.add(item.benchmark)
    metadata = feed.metadata()
    progress.done()
    if not summary.sequences:
        why = "; ".join(f"{label}: {reason}" for label, reason in summary.skipped[:3])
        raise WriteError(f"no sequence with ground truth and frames to ingest ({why}"
                         f"{' ...' if len(summary.skipped) > 3 else ''}); nothing was written")
    return benchmarks, metadata


def tag_sequences(ds: Any) -> None:
    """The stored one-row-per-sequence view (layout.SEQUENCES_TAG), made again: an older one
    (a replaced dataset's, or a tag of that name someone made) goes first."""
    if L.SEQUENCES_TAG in ds.tags.names():
        ds.tags[L.SEQUENCES_TAG].delete()
    ds.query(L.SEQUENCES_QUERY).tag(L.SEQUENCES_TAG, "one row per sequence (motqa)", fixed_version=False)


def final_metadata(metadata: Mapping[str, str], summary: WriteSummary, benchmarks: set[str]) -> dict[str, str]:
    out = {L.META_VERSION: __version__, L.META_SOURCE: "", L.META_GATE: "{}"}
    out.update(metadata)
    out.update({
        L.META_LAYOUT: L.LAYOUT,
        L.META_BENCHMARK: ",".join(sorted(benchmarks)),
        L.META_SEQUENCES: json.dumps(summary.placed),
        L.META_SKIPPED: json.dumps([{"sequence": s, "why": w} for s, w in summary.skipped]),
        L.META_NO_IMAGE: json.dumps(summary.frames_without_image),
        L.META_CLASSES: json.dumps(summary.class_names),
        L.META_STATE: L.PUBLISHED,
    })
    return out


def best_effort(fn: Any) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - on the way out of a failed write; the next run cleans up
        pass


def rollback(ds: Any) -> None:
    if ds is not None:
        best_effort(ds.rollback)
