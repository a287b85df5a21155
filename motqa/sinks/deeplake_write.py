"""Writes a gated MotDataset as the motqa Deep Lake 4 sequence dataset, all at once, locally or on S3.

Layout "motqa-sequences/1" (names in motqa.sinks.deeplake_layout), one row per sequence that has
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
gives back None for an empty 1-D array: read with deeplake_layout.read_frame / iter_frames, which
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

Atomicity: a reader of the target sees nothing, the old dataset or the whole new one.
- Local: the dataset is written into a sibling folder `.NAME.motqa-tmp-TOKEN`, one commit per
  sequence, then renamed into place. With --overwrite the new folder and the old dataset are
  swapped in one renameat2(RENAME_EXCHANGE) and the old one is deleted; where the file system
  lacks that, the old one is renamed to `.NAME.motqa-old-TOKEN` first (a reader may see nothing in
  between). A lock file `.NAME.motqa-lock` (flock, released by the kernel when a process dies)
  keeps two ingests apart, so the next run knows that any tmp/old folder is a dead run's: it puts
  an old dataset back if the target is missing, and deletes the rest.
- S3 has no rename, and Deep Lake 4 dataset metadata is not versioned per branch (a commit on
  any branch makes it visible on main). So: the target is created empty at once (no columns,
  motqa_state "writing"); the sequences go to a branch `motqa-ingest-TOKEN`, one commit each
  (appends are held in memory until a commit); an old published dataset has its rows deleted in
  that branch and its motqa_state set to "replacing" just before the merge; `ds.merge` publishes
  every row in one commit; then one metadata commit writes the new metadata with motqa_state
  "published"; the branch is deleted. Readers must treat a dataset whose motqa_state is not
  "published" as absent (deeplake_layout.is_published); a plain Deep Lake reader sees no rows, the
  old rows or all the new rows, never a mix. The next run deletes stale `motqa-ingest-*` branches
  and writes over an unpublished dataset without --overwrite. Old versions stay in the dataset's
  history (Deep Lake is versioned). One ingest per S3 target at a time: nothing detects a second.
Source files are opened for reading only; a target inside the source (or the reverse) is refused.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motqa import __version__
from motqa.errors import UsageError
from motqa.model import MotDataset, Sequence
from motqa.progress import Progress
from motqa.sinks import deeplake_layout as L
from motqa.storage import Target, parse_target

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


def _checkpoint(step: str) -> None:
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
    advance = progress.bar(f"{position} {seq.label}: reading frames", len(numbers))
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


def _check_unchanged(seq: Sequence, expected: Mapping[str, tuple[int, int]] | None) -> None:
    """The gate ran on what was on disk then; refuse to write what it did not see."""
    if expected is None or seq.label not in expected:
        return
    now = (len(seq.frames), len(seq.gt) if seq.gt is not None else 0)
    if now != expected[seq.label]:
        raise WriteError(f"{seq.label}: the source changed after the gate ran "
                         f"(frames, gt rows: {expected[seq.label]} then, {now} now)")


def _write_rows(ds: Any, mot: MotDataset, summary: WriteSummary, progress: Progress,
                expected: Mapping[str, tuple[int, int]] | None) -> set[str]:
    """Append one row per sequence with gt, committing after each (Deep Lake holds appends in
    memory until a commit). Returns the benchmarks written."""
    benchmarks: set[str] = set()
    total = len(mot.sequences)
    for n, ref in enumerate(mot.sequences, start=1):
        position = f"[{n}/{total}]"
        progress.status(f"{position} {ref.label}: loading")
        seq = ref.load()
        _check_unchanged(seq, expected)
        if seq.gt is None:
            summary.skipped.append((seq.label, "no ground truth (gt/gt.txt)"))
            continue
        if not seq.frames.folder:  # the gate refuses it (image-folder-missing) unless told to ignore
            summary.skipped.append((seq.label, "no image folder (annotations only): no frames to store"))
            continue
        row = _sequence_row(seq, progress, position)
        if row is None:
            summary.skipped.append((seq.label, "no frame files and no gt rows"))
            continue
        progress.status(f"{position} {seq.label}: storing {row.frames} frames")
        ds.append(row.values)
        row.values = {}  # the frames' bytes: one sequence in memory at a time
        ds.commit(f"motqa ingest: {seq.label}")
        _checkpoint("sequence-written")
        summary.sequences.append(seq.label)
        summary.frames += row.frames
        summary.boxes += row.boxes
        if row.no_image:
            summary.frames_without_image[seq.label] = row.no_image
        benchmarks.add(seq.benchmark)
    progress.done()
    if not summary.sequences:
        why = "; ".join(f"{label}: {reason}" for label, reason in summary.skipped[:3])
        raise WriteError(f"no sequence with ground truth and frames to ingest ({why}"
                         f"{' ...' if len(summary.skipped) > 3 else ''}); nothing was written")
    return benchmarks


def _final_metadata(metadata: Mapping[str, str] | None, summary: WriteSummary, benchmarks: set[str]) -> dict[str, str]:
    out = {L.META_VERSION: __version__, L.META_SOURCE: "", L.META_GATE: "{}"}
    out.update(metadata or {})
    out.update({
        L.META_LAYOUT: L.LAYOUT,
        L.META_BENCHMARK: ",".join(sorted(benchmarks)),
        L.META_SKIPPED: json.dumps([{"sequence": s, "why": w} for s, w in summary.skipped]),
        L.META_NO_IMAGE: json.dumps(summary.frames_without_image),
        L.META_STATE: L.PUBLISHED,
    })
    return out


# ---------------------------------------------------------------------------------- entry points


def check_target(target: Target, *, overwrite: bool, source: Path | None = None) -> None:
    """Refuse early (before the gate) what write_dataset would refuse: an existing dataset
    without --overwrite, something that is not a dataset, a target that overlaps the source."""
    if target.folder is not None:
        _check_local(target.folder, overwrite, source)
    else:
        _check_s3(target, overwrite)


def write_dataset(mot: MotDataset, target: str | Target, *, overwrite: bool = False,
                  creds: dict[str, str] | None = None, metadata: Mapping[str, str] | None = None,
                  progress: Progress | None = None,
                  expected: Mapping[str, tuple[int, int]] | None = None) -> WriteSummary:
    """Write `mot` (re-loading one sequence at a time from its refs) to `target`, all at once.
    `metadata` is merged into the dataset metadata (motqa/ingest.py: the gate's record); `expected` (the
    gate's frames and gt rows per sequence) makes the write refuse a sequence that changed since the gate ran."""
    if isinstance(target, str):
        target = parse_target(target)
    if creds is not None:
        target = Target(target.url, target.folder, creds)
    progress = progress or Progress(False)
    source = Path(mot.source) if mot.kind == "mot-folder" else None
    if target.folder is not None:
        return _write_local(mot, target.folder, overwrite, source, metadata, progress, expected)
    return _write_s3(mot, target, overwrite, metadata, progress, expected)


# ---------------------------------------------------------------------------------- local


def _is_dataset_folder(path: Path) -> bool:
    """A Deep Lake 4 (_deeplake_log/) or 3 (dataset_meta.json) dataset folder."""
    return (path / "_deeplake_log").is_dir() or (path / "dataset_meta.json").is_file()


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _check_local(folder: Path, overwrite: bool, source: Path | None) -> None:
    if source is not None:
        real_src, real_dst = os.path.realpath(source), os.path.realpath(folder)
        if real_dst == real_src or real_dst.startswith(real_src + os.sep) or real_src.startswith(real_dst + os.sep):
            raise UsageError(f"{folder}: the dataset must not be inside SOURCE, nor SOURCE inside it")
    if folder.is_symlink():
        raise UsageError(f"{folder} is a symbolic link; give the folder it points to")
    if not os.path.lexists(folder) or _is_empty_dir(folder):
        return
    if not folder.is_dir() or not _is_dataset_folder(folder):
        raise UsageError(f"{folder} exists and is not a Deep Lake dataset; motqa does not replace it")
    if not overwrite:
        raise TargetExistsError(f"a dataset already exists at {folder}; it was kept (use --overwrite to replace it)")


class _TargetLock:
    """An exclusive flock on `.NAME.motqa-lock` next to the target, removed on release."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _TargetLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise UsageError(f"another motqa ingest is writing this dataset (it holds {self.path})") from None
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                now = None
            mine = os.fstat(fd)
            if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
                self.fd = fd
                return self
            os.close(fd)  # the holder before us removed the file: lock the new one

    def __exit__(self, *exc: object) -> None:
        try:
            os.unlink(self.path)
        finally:
            os.close(self.fd)


def _leftovers(parent: Path, name: str, kind: str) -> list[Path]:
    prefix = f".{name}.motqa-{kind}-"
    try:
        return sorted((p for p in parent.iterdir() if p.name.startswith(prefix)), key=lambda p: p.stat().st_mtime)
    except OSError:
        return []


def _recover(parent: Path, folder: Path) -> None:
    """Called under the lock, so every tmp/old folder is a dead run's. A dead run that had moved
    the old dataset aside but not the new one in gets the old one put back."""
    olds = _leftovers(parent, folder.name, "old")
    if olds and not os.path.lexists(folder):
        os.rename(olds[-1], folder)
        olds = olds[:-1]
    for p in [*olds, *_leftovers(parent, folder.name, "tmp")]:
        shutil.rmtree(p, ignore_errors=True)


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux renameat2; False where the C library or the file system lacks it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _exchange(src: Path, dst: Path) -> bool:
    return _renameat2(src, dst, _RENAME_EXCHANGE)


def _publish_local(tmp: Path, folder: Path, token: str) -> bool:
    """Put the finished `tmp` at `folder`. Returns True when an old dataset was replaced."""
    parent = folder.parent
    if not os.path.lexists(folder):
        if not _renameat2(tmp, folder, _RENAME_NOREPLACE):
            os.rename(tmp, folder)
        _checkpoint("published")
        return False
    if _exchange(tmp, folder):  # tmp now holds the old dataset (or the empty folder)
        _checkpoint("swapped")
        replaced = _is_dataset_folder(tmp)
        shutil.rmtree(tmp)
        return replaced
    replaced = _is_dataset_folder(folder)
    old = parent / f".{folder.name}.motqa-old-{token}"
    os.rename(folder, old)  # from here until the next rename, readers see nothing
    _checkpoint("old-moved-aside")
    os.rename(tmp, folder)
    _checkpoint("published")
    shutil.rmtree(old)
    return replaced


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_local_dataset(tmp: Path, mot: MotDataset, summary: WriteSummary, metadata: Mapping[str, str] | None,
                         progress: Progress, expected: Mapping[str, tuple[int, int]] | None) -> None:
    import deeplake

    ds: Any = None
    try:
        ds = deeplake.create(str(tmp), schema=L.schema())
        ds.auto_commit_enabled = False
        benchmarks = _write_rows(ds, mot, summary, progress, expected)
        for key, value in _final_metadata(metadata, summary, benchmarks).items():
            ds.metadata[key] = value
        ds.commit("motqa ingest: metadata")
        ds = None  # nothing pending: dropping it commits nothing more
    except BaseException as e:
        # Dropping a handle with pending appends commits them: roll back first, and drop it here
        # rather than with the traceback, after the caller has deleted the folder.
        _rollback(ds)
        ds = None
        if isinstance(e, UsageError) or not isinstance(e, Exception):
            raise
        raise WriteError(f"writing {tmp} failed: {type(e).__name__}: {e}{_disk_full(tmp)}; "
                         "nothing was published") from None


def _disk_full(folder: Path) -> str:
    """A note when the disk holding `folder` is (nearly) full: Deep Lake 4.7.4 reports ENOSPC as
    'Invalid CAS counter' and the like, which does not say so. Measured before the temporary
    folder is deleted, so a full disk still shows as full."""
    try:
        free = shutil.disk_usage(folder.parent).free
    except OSError:
        return ""
    return f" (the disk is full: {free // 1024} KiB free under {folder.parent})" if free < 1 << 20 else ""


def _write_local(mot: MotDataset, folder: Path, overwrite: bool, source: Path | None,
                 metadata: Mapping[str, str] | None, progress: Progress,
                 expected: Mapping[str, tuple[int, int]] | None) -> WriteSummary:
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    summary = WriteSummary(str(folder))
    with _TargetLock(parent / f".{folder.name}.motqa-lock"):
        _recover(parent, folder)
        _check_local(folder, overwrite, source)
        token = secrets.token_hex(6)
        tmp = parent / f".{folder.name}.motqa-tmp-{token}"
        try:
            _write_local_dataset(tmp, mot, summary, metadata, progress, expected)
            _checkpoint("written")
            summary.replaced = _publish_local(tmp, folder, token)
            _fsync_dir(parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return summary


# ---------------------------------------------------------------------------------- S3


# A run killed while it held Deep Lake's meta_ops lock (while branching or merging) leaves the lock
# object behind; Deep Lake lets another run take it about 30 s later. Until then calls fail with
# "lock contended": the next run waits it out rather than failing.
LOCK_WAIT_S = 120.0


def _deeplake_call(target: Target, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    """Run a Deep Lake call on an S3 target; its many exception types become one WriteError."""
    deadline = time.monotonic() + LOCK_WAIT_S
    told = False
    while True:
        try:
            return fn(*args, **kw)
        except UsageError:
            raise
        except Exception as e:  # noqa: BLE001 - deeplake raises KeyError, RuntimeError and its own types
            if "lock contended" in str(e) and time.monotonic() < deadline:
                if not told:
                    print(f"motqa: {target}: Deep Lake's lock is held (left by a killed ingest?); "
                          "waiting for it to expire", file=sys.stderr)
                    told = True
                time.sleep(2)
                continue
            hint = "; Deep Lake's lock stayed held: try again later" if "lock contended" in str(e) else ""
            raise WriteError(f"{target}: {what} failed: {type(e).__name__}: {e}{hint}") from None


def _state(ds: Any) -> str | None:
    meta = ds.metadata
    return str(meta[L.META_STATE]) if L.META_STATE in meta else None


def _check_s3(target: Target, overwrite: bool) -> None:
    import deeplake

    if not _deeplake_call(target, "checking for a dataset", deeplake.exists, target.url, creds=target.creds):
        return
    ds = _deeplake_call(target, "opening", deeplake.open_read_only, target.url, creds=target.creds)
    state = _state(ds)
    if state in (WRITING, REPLACING) or overwrite or (not L.column_types(ds) and not len(ds)):
        return  # an unpublished or empty dataset is what a dead ingest leaves: written over
    if state == L.PUBLISHED:
        raise TargetExistsError(f"a motqa dataset already exists at {target}; it was kept "
                                "(use --overwrite to replace it)")
    raise TargetExistsError(f"a Deep Lake dataset already exists at {target}; it was kept "
                            "(use --overwrite to replace it)")


def _open_s3_base(target: Target, overwrite: bool) -> tuple[Any, str | None]:
    """The main branch to write over and its state before: a new empty dataset ("writing"), or
    the existing one. A dataset of another schema is deleted first (readers see nothing)."""
    import deeplake

    _check_s3(target, overwrite)
    if _deeplake_call(target, "checking for a dataset", deeplake.exists, target.url, creds=target.creds):
        ds = _deeplake_call(target, "opening", deeplake.open, target.url, creds=target.creds)
        cols = L.column_types(ds)
        if not cols or cols == _layout_types():
            return ds, _state(ds)
        del ds
        _deeplake_call(target, "deleting the old dataset", deeplake.delete, target.url, creds=target.creds)
    ds = _deeplake_call(target, "creating", deeplake.create, target.url, creds=target.creds)
    ds.metadata[L.META_STATE] = WRITING
    _deeplake_call(target, "committing", ds.commit, "motqa ingest: writing")
    _checkpoint("s3-created")
    return ds, WRITING


@functools.cache
def _layout_types() -> dict[str, str]:
    import deeplake

    return L.column_types(deeplake.create(f"mem://motqa-layout-{secrets.token_hex(6)}", schema=L.schema()))


def _delete_stale_branches(ds: Any, target: Target) -> None:
    for name in ds.branches.names():
        if name.startswith(BRANCH_PREFIX):
            _deeplake_call(target, f"deleting the stale branch {name}", ds.branches[name].delete)


def _write_s3(mot: MotDataset, target: Target, overwrite: bool, metadata: Mapping[str, str] | None,
              progress: Progress, expected: Mapping[str, tuple[int, int]] | None) -> WriteSummary:
    summary = WriteSummary(target.url)
    main, before = _open_s3_base(target, overwrite)
    main.auto_commit_enabled = False
    _delete_stale_branches(main, target)
    branch = BRANCH_PREFIX + secrets.token_hex(6)
    _deeplake_call(target, "branching", main.branch, branch)
    work: Any = _deeplake_call(target, "opening the branch", main.branches[branch].open)
    merged = False
    try:
        benchmarks = _fill_branch(work, mot, target, summary, progress, expected)
        work = None
        if before == L.PUBLISHED:
            main.metadata[L.META_STATE] = REPLACING  # motqa readers: absent until published again
            _deeplake_call(target, "committing", main.commit, "motqa ingest: replacing")
            summary.replaced = True
        _checkpoint("s3-before-merge")
        _deeplake_call(target, "merging", main.merge, branch, message="motqa ingest: publish rows")
        merged = True
        _checkpoint("s3-merged")
        for key, value in _final_metadata(metadata, summary, benchmarks).items():
            main.metadata[key] = value
        _deeplake_call(target, "committing the metadata", main.commit, "motqa ingest: published")
        _checkpoint("s3-published")
    except BaseException:
        _rollback(work)
        if summary.replaced and not merged:  # the old rows are still there: published again
            _best_effort(lambda: _set_state(main, L.PUBLISHED))
        _best_effort(lambda: main.branches[branch].delete())
        raise
    _best_effort(lambda: main.branches[branch].delete())  # else the next run deletes it
    return summary


def _fill_branch(work: Any, mot: MotDataset, target: Target, summary: WriteSummary, progress: Progress,
                 expected: Mapping[str, tuple[int, int]] | None) -> set[str]:
    """The layout's columns (or the old rows deleted), then every sequence, in the branch."""
    try:
        work.auto_commit_enabled = False
        if not L.column_types(work):
            for name, dtype in L.schema().items():
                work.add_column(name, dtype)
        else:
            for row in reversed(range(len(work))):  # the old rows go in the same merge
                work.delete(row)
        work.commit("motqa ingest: schema")
        _checkpoint("s3-branch-ready")
        return _write_rows(work, mot, summary, progress, expected)
    except UsageError:
        raise
    except Exception as e:  # noqa: BLE001 - see _deeplake_call
        raise WriteError(f"{target}: writing failed: {type(e).__name__}: {e}") from None


def _set_state(ds: Any, state: str) -> None:
    ds.metadata[L.META_STATE] = state
    ds.commit(f"motqa ingest: {state}")


def _best_effort(fn: Any) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - on the way out of a failed write; the next run cleans up
        pass


def _rollback(ds: Any) -> None:
    if ds is not None:
        _best_effort(ds.rollback)
