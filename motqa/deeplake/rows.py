"""Writes a gated MotDataset as the motqa Deep Lake 4 sequence dataset, all at once, locally or on S3.

Layout "motqa-sequences/1" (names in motqa.deeplake.layout), one row per sequence that has
ground truth, in the order the source lists them:

  name           Text     the sequence folder's name (MOT17-02-FRCNN)
  split          Text     its split folder (train), "" when the source is a split or one sequence
  frame_rate     Float32  seqinfo.ini frameRate (NaN when unknown)
  width, height  Int32    imWidth, imHeight (-1 when unknown)
  seq_length     Int32    seqLength (-1 when unknown)
  frame_numbers  Array(int32, 1)   the MOT frame number of each stored frame, ascending: the frame
                 files on disk, plus any frame that has gt rows but no file (see below)
  frames         Sequence(Image(jpg))   each frame file's bytes as they are on disk, never re-encoded
  boxes          Sequence(BoundingBox(float32, ltwh, pixel))   (n, 4) per frame; (0, 4) when none
  ids            Sequence(Array(uint32, 1))    the track id of each box
  conf           Sequence(Array(float32, 1))   gt conf (the flag: 1 evaluated, 0 ignored)
  classes        Sequence(Array(int32, 1))     gt class, -1 where the file has none (MOT15)
  visibility     Sequence(Array(float32, 1))   gt visibility, NaN where the file has none (MOT15)

Per frame, conf, classes and visibility are aligned with boxes and ids, and the boxes are ordered
by track id (then by file line). Every gt row is kept, conf=0 included: users filter. Deep Lake
gives back None for an empty 1-D array: read with motqa.deeplake.layout.read_frame / iter_frames, which
return empty arrays instead.

Dataset metadata (strings): motqa_version, motqa_layout, motqa_state ("published" once complete),
source, benchmark (comma-separated when mixed), gate (JSON of the gate result: counts, sequences
and the findings that passed the gate, as `--format json` prints), skipped (JSON list of
{"sequence", "why"}), frames_without_image (JSON {label: [frame numbers]}).

What is not stored: det/det.txt (public detections; the layout holds ground truth only), MOT15's
world coordinates x, y, z (-1 in 2D), and:
- a sequence without gt/gt.txt (a test split) is skipped and listed in `skipped`: frames without
  labels would read as frames with no objects to a training loop. An empty gt.txt is stored (every
  frame with no box). If no sequence has gt, nothing is written (WriteError).
- a sequence with neither frames nor gt rows is skipped (Deep Lake stores no empty sequence), and
  so is one without an image folder (annotations only), when the gate was told to let it pass.
- gt rows for a frame that has no image file pass the gate only when the user ignored its errors
  (missing-image, frame-out-of-range): they are kept, at a frame whose `frames` item is b"" (it
  decodes to None), and the frame numbers are listed in `frames_without_image`.
- a track id outside 0..2**32-1 or a frame number outside int32 (ignored errors again) cannot be
  stored: WriteError, nothing written.

What is written comes from a feed (Feed): the gate's sequences as it checks them (ingest to a
local folder: motqa/ingest.py's GateFeed), or the sequences of a MotDataset loaded again
(LoadFeed: ingest to S3, after the whole gate; write_dataset). A feed ends with the metadata
to publish, or with Stop (the gate refused or failed): then nothing is published.

Atomicity: a reader of the target sees nothing, the old dataset or the whole new one.
- Local: the dataset is written into a sibling folder `.NAME.motqa-tmp-TOKEN`, one commit per
  sequence (while the gate checks the next), then renamed into place once the gate has passed.
  With --overwrite the new folder and the old dataset are swapped in one
  renameat2(RENAME_EXCHANGE) and the old one is deleted; where the file system lacks that, the
  old one is renamed to `.NAME.motqa-old-TOKEN` first (a reader may see nothing in between). A
  lock file `.NAME.motqa-lock` (flock, released by the kernel when a process dies) keeps two
  ingests apart, so the next run knows that any tmp/old folder is a dead run's: it puts an old
  dataset back if the target is missing, and deletes the rest.
- S3 has no rename, and Deep Lake 4 dataset metadata is not versioned per branch (a commit on
  any branch makes it visible on main). So: the target is created empty at once (no columns,
  motqa_state "writing"); the sequences go to a branch `motqa-ingest-TOKEN`, one commit each
  (appends are held in memory until a commit); an old published dataset has its rows deleted in
  that branch and its motqa_state set to "replacing" just before the merge; `ds.merge` publishes
  every row in one commit; then one metadata commit writes the new metadata with motqa_state
  "published"; the branch is deleted. Readers must treat a dataset whose motqa_state is not
  "published" as absent (layout.is_published); a plain Deep Lake reader sees no rows, the
  old rows or all the new rows, never a mix. The next run deletes stale `motqa-ingest-*` branches
  and writes over an unpublished dataset without --overwrite. Old versions stay in the dataset's
  history (Deep Lake is versioned). One ingest per S3 target at a time: nothing detects a second.
Source files are opened for reading only; a target inside the source (or the reverse) is refused.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
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


@dataclass
class WriteSummary:
    target: str
    sequences: list[str] = field(default_factory=list)  # labels written, in row order
    frames: int = 0
    boxes: int = 0
    replaced: bool = False  # an existing dataset was replaced
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (label, why)
    frames_without_image: dict[str, list[int]] = field(default_factory=dict)
    class_names: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> {class id: name}


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
class _Row:
    values: dict[str, list[Any]]  # column -> [value]: one dataset row, ready for append
    frames: int
    boxes: int
    no_image: list[int]


def _sequence_row(seq: Sequence, progress: Progress, position: str) -> _Row | None:
    """The row of one loaded sequence, or None when it has no frames and no gt rows."""
    assert seq.gt is not None
    gt = seq.gt.rows
    frames = np.asarray(gt["frame"].to_numpy(), dtype=np.int64)
    ids = np.asarray(gt["id"].to_numpy(), dtype=np.int64)
    lines = np.asarray(gt.index.to_numpy(), dtype=np.int64)
    _check_storable(seq, frames, ids, lines)
    order = np.lexsort((lines, ids, frames))
    frames, ids = frames[order], ids[order]
    boxes = gt[["left", "top", "width", "height"]].to_numpy(dtype=np.float32)[order]
    conf = gt["conf"].to_numpy(dtype=np.float32)[order]
    cls_raw = gt["class"].to_numpy(dtype=np.float64)[order]
    classes = np.where(np.isnan(cls_raw), -1, cls_raw).astype(np.int32)
    visibility = gt["visibility"].to_numpy(dtype=np.float32)[order]

    on_disk = np.asarray(seq.frames.numbers, dtype=np.int64)
    numbers = np.union1d(on_disk, frames)
    if not len(numbers):
        return None
    _check_frame_numbers(seq, numbers)
    position_of = {int(n): i for i, n in enumerate(on_disk)}
    starts = np.searchsorted(frames, numbers, side="left")
    ends = np.searchsorted(frames, numbers, side="right")
    advance = progress.bar(f"{position} {seq.label}: reading frames".lstrip(), len(numbers))
    jpegs: list[bytes] = []
    no_image: list[int] = []
    for n in numbers:
        i = position_of.get(int(n))
        if i is None:
            no_image.append(int(n))
            jpegs.append(b"")
        else:
            jpegs.append(_read_frame_file(seq, i))
        advance(1)
    cuts = list(zip(starts, ends, strict=True))
    values: dict[str, list[Any]] = {
        "name": [seq.name],
        "split": [seq.split or ""],
        "frame_rate": [np.float32(seq.info.frame_rate) if seq.info.frame_rate else np.float32(np.nan)],
        "width": [_int_or(seq.info.im_width)],
        "height": [_int_or(seq.info.im_height)],
        "seq_length": [_int_or(seq.info.seq_length)],
        "frame_numbers": [numbers.astype(np.int32)],
        "frames": [jpegs],
        "boxes": [[boxes[a:b] for a, b in cuts]],
        "ids": [[ids[a:b].astype(np.uint32) for a, b in cuts]],
        "conf": [[conf[a:b] for a, b in cuts]],
        "classes": [[classes[a:b] for a, b in cuts]],
        "visibility": [[visibility[a:b] for a, b in cuts]],
    }
    return _Row(values, len(numbers), len(gt), no_image)


def _int_or(value: int | None) -> int:
    return -1 if value is None else int(value)


def _check_storable(seq: Sequence, frames: np.ndarray, ids: np.ndarray, lines: np.ndarray) -> None:
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


def _read_frame_file(seq: Sequence, i: int) -> bytes:
    try:
        return seq.frames.read(i)
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


class Feed(Protocol):
    """What a writer writes: the sequences' rows, one at a time (or a WriteError in place of one),
    then (once they are all taken) the dataset metadata, or Stop. motqa/ingest.py's HandOff hands
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
            position = f"[{n}/{self.total}]"
            self.progress.status(f"{position} {ref.label}: loading")
            seq = ref.load()
            gated = self.expected.get(seq.label) if self.expected is not None else None
            if gated is not None:
                _check_unchanged(seq, gated)
                seq.profile = profile(gated.benchmark)
            yield prepare(seq, self.progress, position)

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


@dataclass
class Prepared:
    """One sequence made ready for the writer: its row (numpy arrays and the frames' bytes, no
    pandas: it may cross to the writer's thread), or why it is not stored."""

    label: str
    benchmark: str
    class_names: dict[str, str]
    row: _Row | None = None
    skipped: str | None = None


def prepare(seq: Sequence, progress: Progress, position: str) -> Prepared:
    """The row of one loaded sequence (WriteError when it cannot be stored)."""
    item = Prepared(seq.label, seq.benchmark, class_names(seq))
    if seq.gt is None:
        item.skipped = "no ground truth (gt/gt.txt)"
    elif not seq.frames.folder:  # the gate refuses it (image-folder-missing) unless told to ignore
        item.skipped = "no image folder (annotations only): no frames to store"
    else:
        item.row = _sequence_row(seq, progress, position)
        if item.row is None:
            item.skipped = "no frame files and no gt rows"
    return item


def store(ds: Any, item: Prepared, summary: WriteSummary, progress: Progress) -> bool:
    """Append and commit one prepared row (Deep Lake holds appends in memory until a commit), or
    list it in summary.skipped. True when it was written."""
    row = item.row
    if row is None:
        summary.skipped.append((item.label, item.skipped or "nothing to store"))
        return False
    progress.status(f"{item.label}: storing {row.frames} frames")
    ds.append(row.values)
    row.values = {}  # the frames' bytes: Deep Lake holds them until the commit
    ds.commit(f"motqa ingest: {item.label}")
    checkpoint("sequence-written")
    summary.sequences.append(item.label)
    summary.frames += row.frames
    summary.boxes += row.boxes
    if row.no_image:
        summary.frames_without_image[item.label] = row.no_image
    summary.class_names[item.label] = item.class_names
    return True


def write_rows(ds: Any, feed: Feed, summary: WriteSummary, progress: Progress) -> tuple[set[str], Mapping[str, str]]:
    """One row per sequence the feed gives that has gt, each committed; then the feed's metadata
    (its Stop goes through). Returns the benchmarks written and that metadata."""
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


def final_metadata(metadata: Mapping[str, str], summary: WriteSummary, benchmarks: set[str]) -> dict[str, str]:
    out = {L.META_VERSION: __version__, L.META_SOURCE: "", L.META_GATE: "{}"}
    out.update(metadata)
    out.update({
        L.META_LAYOUT: L.LAYOUT,
        L.META_BENCHMARK: ",".join(sorted(benchmarks)),
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
