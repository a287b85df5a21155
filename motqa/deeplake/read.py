"""Reads a stored Deep Lake dataset, read-only, into a MotDataset: motqa's own layout, the
tutorial's layout in Deep Lake 4, and the tutorial's Deep Lake 3 datasets.

Conventions of the conversion (each a visible step below):
- A row is a sequence. Its label is `split/name` (motqa layout), the `name` text column where a
  tutorial-layout dataset has one, else `row N` (0-based, the index to give Deep Lake:
  `ds["frames"].get_bytes(N)`).
- Position k of a row is MOT frame `frame_numbers[k]` (motqa layout), else k + 1. Frame names are
  `frames[k]` (the column and the 0-based position in the row).
- gt rows: one per box, index = the box's 1-based position in the row's flattened boxes. The
  tutorial stores no conf: it reads as 1.0 (every stored box counts, which is how a training loop
  uses them); class and visibility are NaN where not stored (motqa stores -1 / NaN for none).
- A frame whose ids (or conf, classes, visibility) do not pair with its boxes is a finding; the
  first min(boxes, ids) are read. Frames past the shortest of frames / boxes / ids are a finding
  and their boxes are not read.
- Frames: `get_bytes(row)` returns every frame's bytes of the row at once (Deep Lake 4.7 has no
  per-frame byte read; `ds[col][row]` decodes every frame to pixels). The reader takes that list
  once per sequence, holds it while the gate checks the sequence, and decodes one frame at a time.
Nothing is written: Deep Lake 4 datasets are opened with open_read_only, Deep Lake 3 datasets
(which 4.x cannot open) are read through deeplake.query. A reader lets its dataset handle go only
once Deep Lake has settled its last get_bytes (settle_get_bytes: Deep Lake 4.5.1-4.7.4 can abort
the process otherwise).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from motqa.deeplake import layout as L
from motqa.deeplake.stored_layout import LTWH_PIXEL, box_format, count_mismatches, sequence_lengths
from motqa.errors import UsageError
from motqa.findings import finding
from motqa.model import GT_COLUMNS, Annotations, Finding, Frames, MotDataset, Place, SeqInfo, Sequence, SequenceRef
from motqa.profiles import profiles
from motqa.storage import Target, parse_target

KIND_MOTQA = "motqa-deeplake"
KIND_TUTORIAL4 = "tutorial-deeplake4"
KIND_TUTORIAL3 = "tutorial-deeplake3"
_PER_BOX = {"conf": 1.0, "classes": math.nan, "visibility": math.nan}  # column -> value where missing
_BOX_FORMATS = [(f, t) for f in ("ltwh", "ltrb", "ccwh") for t in ("pixel", "fractional")]
_BOX_DTYPES = ("float32", "float64", "float16", "int32", "int64", "int16", "uint32", "uint16")


@dataclass(frozen=True)
class Columns:
    """The tutorial layout's column names (another dataset may call them otherwise)."""

    frames: str = "frames"
    boxes: str = "boxes"
    ids: str = "ids"


def parse_columns(text: str) -> Columns:
    """`frames=video,boxes=bbox,ids=track` (any subset) -> Columns."""
    names = {f.name for f in fields(Columns)}
    given: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = (s.strip() for s in part.partition("="))
        if not eq or key not in names or not value:
            raise UsageError(f"--columns: {part!r} is not one of frames=NAME, boxes=NAME, ids=NAME")
        given[key] = value
    return Columns(**given)


def open_stored(dataset: str, columns: Columns | None = None, endpoint_url: str | None = None) -> MotDataset:
    """The sequences of the Deep Lake dataset at `dataset` (a local path or s3://bucket/prefix),
    loaded one row at a time as the gate asks. Raises UsageError when it cannot be read at all."""
    target = parse_target(dataset, endpoint_url)
    ds, kind = _open(target)
    if kind == KIND_TUTORIAL4 and _is_motqa(ds):
        if columns is not None:
            raise UsageError("--columns is for datasets in the tutorial's layout; this one was written by "
                             "motqa ingest and has its own column names")
        return _MotqaReader(ds, target).dataset()
    return _TutorialReader(ds, target, kind, columns or Columns()).dataset()


# ---------------------------------------------------------------------------- handle lifetime

# Deep Lake 4.5.1 to 4.7.4 (every release measured from 4.5.1 to the newest; 4.4.4 has no abort,
# but segfaults in rollback() of a new dataset) can abort the whole process, "free(): double free
# detected in tcache 2" then "Fatal Python error: Aborted" (or hang in its crash handler), when a
# dataset handle is dropped right after get_bytes read a Sequence column's row other than the
# first: Deep Lake's MainQueueThread still has work of that read in hand when the handle's memory
# goes. Waiting before the drop avoids it; waiting after the drop does not. Other reads (decoded
# frames, boxes, ids, metadata) and writer handles are safe to drop at once. The reproduction and
# the table of releases: bench/repro/deeplake_abort.py.
GET_BYTES_SETTLE_S = 0.05  # 10 ms sufficed in 900 drops at a load of 8 on 2 cores; 1 ms did not


def settle_get_bytes(since: float | None = None) -> None:
    """Waits until GET_BYTES_SETTLE_S have passed since `since`, the time.monotonic() of the last
    get_bytes on a Deep Lake handle (now when None). Call it after the last get_bytes on a handle
    and before the handle can be dropped; after it, dropping the handle is safe."""
    wait = GET_BYTES_SETTLE_S if since is None else since + GET_BYTES_SETTLE_S - time.monotonic()
    if wait > 0:
        time.sleep(wait)


# ------------------------------------------------------------------------------------ opening


def _open(target: Target) -> tuple[Any, str]:
    """The open dataset (kept referenced for as long as rows are read) and its Deep Lake version."""
    import deeplake

    url = target.url
    if target.folder is not None:
        folder = target.folder
        if not folder.exists():
            raise UsageError(f"no such dataset: {folder}")
        if (folder / "dataset_meta.json").is_file():
            return _query_v3(url, target.creds), KIND_TUTORIAL3
        if not (folder / "_deeplake_log").is_dir():
            raise UsageError(f"{folder} is not a Deep Lake dataset (no _deeplake_log/ or dataset_meta.json)")
    else:
        try:
            is_v4 = deeplake.exists(url, creds=target.creds)
        except Exception as e:  # noqa: BLE001 - any failure to reach the store stops the run
            raise UsageError(f"{url}: cannot be reached: {_why(e)}") from None
        if not is_v4:
            try:
                return _query_v3(url, target.creds), KIND_TUTORIAL3
            except UsageError:
                raise UsageError(f"{url}: no Deep Lake 4 or 3 dataset there") from None
    try:
        return deeplake.open_read_only(url, creds=target.creds), KIND_TUTORIAL4
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"{url}: cannot be opened as a Deep Lake 4 dataset: {_why(e)}") from None


def _query_v3(url: str, creds: dict[str, str] | None) -> Any:
    """A Deep Lake 3 dataset, read in place: 4.x cannot open one, but its query engine reads it."""
    import deeplake

    if '"' in url:
        raise UsageError(f"{url}: a path with a double quote cannot be read as a Deep Lake 3 dataset")
    try:
        return deeplake.query(f'SELECT * FROM "{url}"', creds=creds)
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"{url}: cannot be read as a Deep Lake 3 dataset: {_why(e)}") from None


def _why(e: BaseException) -> str:
    return str(e).split("\n")[0][:300] or type(e).__name__


def _text(value: Any) -> str:
    """A text cell: Deep Lake gives back None for an empty string."""
    return "" if value is None else str(value)


def _is_motqa(ds: Any) -> bool:
    return L.META_LAYOUT in ds.metadata.keys()


def _column_types(ds: Any) -> dict[str, Any]:
    return {c.name: c.dtype for c in ds.schema.columns}


def _stated_box_format(ds: Any, column: str, dtype: Any) -> tuple[str, str] | None:
    """(format, type) of a bounding-box column: Deep Lake 4 exposes them only through type
    equality; a Deep Lake 3 column has them in its `coords` metadata (empty when not given)."""
    from deeplake import types

    if "kind=bbox" not in str(dtype):
        return None
    for dt in _BOX_DTYPES:
        for fmt, kind in _BOX_FORMATS:
            if dtype == types.Sequence(types.BoundingBox(dt, fmt, kind)):
                return fmt, kind
    try:
        coords = ds[column].metadata["coords"]
    except Exception:  # noqa: BLE001 - no metadata: the format is not stated
        return None
    if isinstance(coords, dict) and coords.get("mode") and coords.get("type"):
        return str(coords["mode"]).lower(), str(coords["type"]).lower()
    return None


# ------------------------------------------------------------------------------------ rows


def _per_frame(value: Any) -> list[Any]:
    """A sequence column's value as one item per frame: Deep Lake returns a stacked ndarray when
    every frame has the same shape, else a list (with None for an empty 1-D array)."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value) if value.ndim >= 1 else [value]
    return list(value)


def _boxes_of(item: Any) -> np.ndarray | None:
    """A frame's boxes as (n, 4) float64, or None when they are not 4 numbers each."""
    if item is None:
        return np.zeros((0, 4))
    arr = np.asarray(item, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.ndim != 2 or arr.shape[1] != 4:
        return None
    return arr


def _values_of(item: Any) -> np.ndarray:
    if item is None:
        return np.zeros(0)
    return np.asarray(item).reshape(-1)


@dataclass
class _Row:
    """What one row holds, read column by column; `findings` says what could not be read."""

    label: str
    frames_column: str
    jpegs: list[bytes]
    numbers: np.ndarray  # MOT frame number of each position with a frame or annotation
    boxes: list[Any]
    ids: list[Any]
    per_box: dict[str, list[Any]]  # conf / classes / visibility (motqa layout only)
    findings: list[Finding]


def _gt_rows(row: _Row, boxes_ok: bool) -> tuple[pd.DataFrame | None, list[Finding]]:
    """The row's boxes as gt rows (GT_COLUMNS), and the findings of frames whose per-box arrays
    do not pair up. None when the boxes cannot be read as LTWH boxes."""
    findings: list[Finding] = []
    paired = min(len(row.boxes), len(row.ids))
    boxes = [_boxes_of(b) for b in row.boxes[:paired]]
    if any(b is None for b in boxes):
        k = next(i for i, b in enumerate(boxes) if b is None)
        shape = np.asarray(row.boxes[k]).shape
        findings += box_format("boxes", None, f"holds boxes of shape {shape} in frame {row.numbers[k]}",
                               seq_label=row.label)
        return None, findings
    ids = [_values_of(i) for i in row.ids[:paired]]
    positions = np.arange(paired)
    numbers = row.numbers[:paired]
    n_boxes = np.array([len(b) for b in boxes], dtype=np.int64)  # type: ignore[arg-type]
    n_ids = np.array([len(i) for i in ids], dtype=np.int64)
    findings += count_mismatches(row.label, "ids", numbers, positions, n_boxes, n_ids, row.frames_column)
    kept = np.minimum(n_boxes, n_ids)
    extra: dict[str, np.ndarray] = {}
    for col, missing in _PER_BOX.items():
        stored = [_values_of(v) for v in row.per_box[col][:paired]] if col in row.per_box else None
        if stored is None:
            extra[col] = np.full(int(kept.sum()), missing)
            continue
        n_vals = np.array([len(v) for v in stored] + [0] * (paired - len(stored)), dtype=np.int64)
        findings += count_mismatches(row.label, col, numbers, positions, n_boxes, n_vals, row.frames_column)
        parts = []
        for k in range(paired):
            v = stored[k].astype(np.float64) if k < len(stored) else np.zeros(0)
            v = np.concatenate([v, np.full(max(0, int(kept[k]) - len(v)), missing)])[: kept[k]]
            parts.append(v)
        values = np.concatenate(parts) if parts else np.zeros(0)
        if col == "classes":
            values[values == -1] = math.nan  # motqa stores -1 where the source had no class
        extra[col] = values
    if not boxes_ok:
        return None, findings
    frame = np.repeat(numbers.astype(np.int64), kept)
    track = np.concatenate([i[:m].astype(np.int64) for i, m in zip(ids, kept, strict=True)]) if paired else np.zeros(0)
    ltwh = np.concatenate([b[:m] for b, m in zip(boxes, kept, strict=True)]) if paired else np.zeros((0, 4))  # type: ignore[index]
    rows = pd.DataFrame({
        "frame": frame, "id": track.astype(np.int64),
        "left": ltwh[:, 0], "top": ltwh[:, 1], "width": ltwh[:, 2], "height": ltwh[:, 3],
        "conf": extra["conf"], "class": extra["classes"], "visibility": extra["visibility"],
    }, columns=list(GT_COLUMNS), index=pd.RangeIndex(1, len(frame) + 1))
    return rows, findings


class _Reader:
    """Reads rows of one open dataset. Holds the dataset object: Deep Lake frees a dataset's data
    when the object goes, and a column taken from it then fails. The reader is the handle's only
    owner, and its __del__ lets Deep Lake settle the last get_bytes before the handle goes."""

    kind: str
    frames_column: str
    class_names: dict[str, object] = {}  # noqa: RUF012 - read only; motqa's datasets store their own
    _bytes_read_at = -math.inf  # time.monotonic() after the last get_bytes; never, until one

    def __init__(self, ds: Any, target: Target) -> None:
        self.ds = ds
        self.target = target
        self.findings: list[Finding] = []
        self.boxes_ok = True

    def dataset(self) -> MotDataset:
        mot = MotDataset(self.target.url, self.kind, [], self.findings)
        n = len(self.ds)
        for r in range(n):
            name, split = self.name_of(r)
            mot.sequences.append(SequenceRef(name, split, self._loader(r)))
        if not n and not any(f.check == "ingest-incomplete" for f in self.findings):
            self.findings.append(finding("no-sequences", f"the dataset at {self.target.url} holds no row"))
        return mot

    def _loader(self, r: int) -> Callable[[], Sequence]:
        return lambda: self.load(r)

    def name_of(self, r: int) -> tuple[str, str | None]:
        return f"row {r}", None

    def read(self, column: str, r: int | slice, label: str, findings: list[Finding]) -> Any:
        """A column's value of row r (or rows), or None with a finding when Deep Lake cannot read it."""
        try:
            return self.ds[column][r]
        except Exception as e:  # noqa: BLE001 - a damaged chunk is a finding at its row, not a crash
            rows = f"rows {r.start}..{r.stop - 1}" if isinstance(r, slice) else f"row {r}"
            findings.append(finding("file-unreadable", f"{column} of {rows} cannot be read: {_why(e)}",
                                    Place(label, file=column)))
            return None

    def read_bytes(self, column: str, r: int, label: str, findings: list[Finding]) -> list[bytes]:
        try:
            value = self.ds[column].get_bytes(r)
        except Exception as e:  # noqa: BLE001
            findings.append(finding("file-unreadable", f"{column} of row {r} cannot be read: {_why(e)}",
                                    Place(label, file=column)))
            return []
        finally:
            self.bytes_read()
        return [bytes(b) for b in value] if isinstance(value, list) else [bytes(value)]

    def bytes_read(self) -> None:
        """A get_bytes has just returned (settle_get_bytes counts from here)."""
        self._bytes_read_at = time.monotonic()

    def __del__(self) -> None:
        # self.ds is released right after this returns: not within moments of a get_bytes
        settle_get_bytes(self._bytes_read_at)

    def load(self, r: int) -> Sequence:
        raise NotImplementedError

    def sequence(self, name: str, split: str | None, info: SeqInfo, row: _Row,
                 skip_positions: set[int], benchmark: str | None) -> Sequence:
        """The Sequence of a row read into `row`; positions in `skip_positions` hold no image."""
        findings = list(row.findings)
        lengths = {row.frames_column: len(row.jpegs), "boxes": len(row.boxes), "ids": len(row.ids)}
        lengths.update({c: len(v) for c, v in row.per_box.items()})
        findings += sequence_lengths(row.label, lengths)
        gt, found = _gt_rows(row, self.boxes_ok)
        findings += found
        keep = [k for k in range(len(row.jpegs)) if k not in skip_positions]
        jpegs = row.jpegs
        frames = Frames(row.numbers[keep].astype(np.int64), [f"{row.frames_column}[{k}]" for k in keep],
                        lambda i: jpegs[keep[i]])
        seq = Sequence(name, split, info, frames, findings=findings, stated_benchmark=benchmark)
        seq.gt = Annotations("gt", None, gt, 9) if gt is not None else None
        seq.labels = self.labels_of(row.label, benchmark)
        return seq

    def labels_of(self, label: str, benchmark: str | None) -> tuple[str, ...] | None:
        """An export's class names as ingest stored them (class_names), where they are not the
        stated benchmark's table (CVAT's labels.txt): classes 1..N named in order."""
        names = self.class_names.get(label)
        if not isinstance(names, dict) or not names or benchmark is None:
            return None
        known = {p.name.lower(): p for p in profiles().values()}.get(benchmark.lower())
        if known is not None and names == {str(k): v for k, v in known.classes.items()}:
            return None
        ordered = [names.get(str(n)) for n in range(1, len(names) + 1)]
        return tuple(str(n) for n in ordered) if all(isinstance(n, str) for n in ordered) else None


def _numbers(stored: np.ndarray, count: int) -> np.ndarray:
    """MOT frame numbers for positions 0..count-1: the stored ones, continued past their end."""
    stored = stored.astype(np.int64)
    if count <= len(stored):
        return stored
    start = int(stored[-1]) + 1 if len(stored) else 1
    return np.concatenate([stored, np.arange(start, start + count - len(stored), dtype=np.int64)])


class _TutorialReader(_Reader):
    """frames / boxes / ids only (Deep Lake 4 or 3): no names, no seqinfo."""

    def __init__(self, ds: Any, target: Target, kind: str, columns: Columns) -> None:
        super().__init__(ds, target)
        self.kind = kind
        self.cols = columns
        self.frames_column = columns.frames
        types = _column_types(ds)
        missing = [c for c in (columns.frames, columns.boxes, columns.ids) if c not in types]
        if missing:
            raise UsageError(f"{target.url}: no column {', '.join(map(repr, missing))}; it has "
                             f"{', '.join(sorted(types)) or 'no columns'} (name them with --columns "
                             "frames=NAME,boxes=NAME,ids=NAME)")
        for role, col in (("frames", columns.frames), ("boxes", columns.boxes), ("ids", columns.ids)):
            if not types[col].is_sequence:
                raise UsageError(f"{target.url}: column {col!r} ({types[col]}) is not a sequence: the {role} of "
                                 "a tutorial-layout dataset are one sequence per row (see --columns)")
        if "kind=image" not in str(types[columns.frames]):
            raise UsageError(f"{target.url}: column {columns.frames!r} ({types[columns.frames]}) holds no "
                             "images (see --columns)")
        stated = _stated_box_format(ds, columns.boxes, types[columns.boxes])
        self.findings += box_format(columns.boxes, stated)
        self.boxes_ok = stated is None or stated == LTWH_PIXEL
        self.named = "name" in types and str(types["name"].kind).endswith("Text")

    def name_of(self, r: int) -> tuple[str, str | None]:
        """A `name` text column, where a dataset has one, names its rows."""
        if self.named:
            try:
                name = _text(self.ds["name"][r])
            except Exception:  # noqa: BLE001 - an unreadable name: the row is still audited
                name = ""
            if name:
                return name, None
        return f"row {r}", None

    def load(self, r: int) -> Sequence:
        label = self.name_of(r)[0]
        findings: list[Finding] = []
        jpegs = self.read_bytes(self.cols.frames, r, label, findings)
        boxes = _per_frame(self.read(self.cols.boxes, r, label, findings))
        ids = _per_frame(self.read(self.cols.ids, r, label, findings))
        count = max(len(jpegs), len(boxes), len(ids))
        row = _Row(label, self.frames_column, jpegs, _numbers(np.zeros(0), count), boxes, ids, {}, findings)
        info = SeqInfo(name=label, im_dir=self.frames_column, origin="stored")
        return self.sequence(label, None, info, row, set(), None)


class _MotqaReader(_Reader):
    """The layouts `motqa ingest` writes (motqa.deeplake.rows): a row per frame (2), or a row per
    sequence (1, written before 2026-12)."""

    kind = KIND_MOTQA
    frames_column = "frames"

    def __init__(self, ds: Any, target: Target) -> None:
        super().__init__(ds, target)
        meta = ds.metadata
        self.layout = L.layout_of(ds)
        if self.layout not in L.LAYOUTS:
            raise UsageError(f"{target.url}: written in motqa layout {self.layout!r}; this motqa reads "
                             f"{' and '.join(map(repr, L.LAYOUTS))}")
        types = _column_types(ds)
        missing = [c for c in (L.schema() if self.layout == L.LAYOUT else L.COLUMNS_V1) if c not in types]
        self.runs: list[tuple[int, int]] = []  # layout 2: each sequence's rows [a, b)
        if not L.is_published(ds):
            state = meta[L.META_STATE] if L.META_STATE in meta.keys() else "none"
            self.findings.append(finding("ingest-incomplete", f"motqa_state is {state!r}, not 'published': an "
                                         "ingest is running or was killed; readers treat the dataset as absent",
                                         Place(file="metadata")))
            if missing:
                self.rows = 0
                return
        elif missing:
            raise UsageError(f"{target.url}: a motqa dataset without the column(s) {', '.join(missing)}")
        if self.layout == L.LAYOUT:
            self.runs = _runs(np.asarray(ds["sequence"][:]).reshape(-1)) if len(ds) else []
            self.rows = len(self.runs)
        else:
            self.rows = len(ds)
        try:
            self.no_image: dict[str, list[int]] = L.read_json(ds, L.META_NO_IMAGE, {}) or {}
        except (ValueError, TypeError):
            self.no_image = {}
        try:
            self.class_names = L.read_json(ds, L.META_CLASSES, {}) or {}
        except (ValueError, TypeError):
            self.class_names = {}
        benchmarks = str(meta[L.META_BENCHMARK]).split(",") if L.META_BENCHMARK in meta.keys() else []
        self.benchmark = benchmarks[0] if len(benchmarks) == 1 and benchmarks[0] else None

    def dataset(self) -> MotDataset:
        mot = MotDataset(self.target.url, self.kind, [], self.findings)
        for r in range(self.rows):
            name, split = self.name_of(r)
            mot.sequences.append(SequenceRef(name, split, self._loader(r)))
        if not self.rows and not any(f.check == "ingest-incomplete" for f in self.findings):
            self.findings.append(finding("no-sequences", f"the dataset at {self.target.url} holds no row"))
        return mot

    def first_row(self, r: int) -> int:
        """The dataset row where sequence r's values are (its first frame's, in layout 2)."""
        return self.runs[r][0] if self.layout == L.LAYOUT else r

    def name_of(self, r: int) -> tuple[str, str | None]:
        row = self.first_row(r)
        try:
            name, split = _text(self.ds["name"][row]), _text(self.ds["split"][row])
        except Exception:  # noqa: BLE001 - an unreadable name: the row is still audited
            return f"row {row}", None
        return (name or f"row {row}"), (split or None)

    def load(self, r: int) -> Sequence:
        name, split = self.name_of(r)
        label = f"{split}/{name}" if split else name
        findings: list[Finding] = []
        first = self.first_row(r)

        def scalar(col: str) -> float | None:
            value = self.read(col, first, label, findings)
            try:
                x = float(np.asarray(value).reshape(-1)[0])
            except (TypeError, ValueError, IndexError):
                return None
            return None if math.isnan(x) or x < 0 else x

        if self.layout == L.LAYOUT:
            a, b = self.runs[r]
            jpegs: Any = _WindowedFrames(self, a, b, label)
            rows = slice(a, b)
        else:
            jpegs = self.read_bytes("frames", r, label, findings)
            rows = slice(r, r + 1)
        boxes = self.read_frames("boxes", rows, label, findings)
        ids = self.read_frames("ids", rows, label, findings)
        per_box = {c: self.read_frames(c, rows, label, findings) for c in _PER_BOX}
        stored_numbers = _values_of(self.read("frame_numbers", rows if self.layout == L.LAYOUT else r, label,
                                              findings)).astype(np.int64)
        count = max(len(jpegs), len(boxes), len(ids), *(len(v) for v in per_box.values()))
        row = _Row(label, "frames", jpegs, _numbers(stored_numbers, count), boxes, ids, per_box, findings)
        row.per_box["frame_numbers"] = list(stored_numbers)  # compared for length only
        rate, width, height, length = (scalar(c) for c in ("frame_rate", "width", "height", "seq_length"))
        info = SeqInfo(name=name, im_dir="frames", frame_rate=rate, origin="stored",
                       seq_length=int(length) if length is not None else None,
                       im_width=int(width) if width else None, im_height=int(height) if height else None)
        no_image = set(self.no_image.get(label, []))
        skip = {k for k, n in enumerate(row.numbers[: len(jpegs)]) if int(n) in no_image and not jpegs[k]}
        return self.sequence(name, split, info, row, skip, self.benchmark)

    def read_frames(self, column: str, rows: slice, label: str, findings: list[Finding]) -> list[Any]:
        """One item per frame of a per-box column: rows a..b of layout 2 (None where Deep Lake gives
        nothing back for an empty array), or the cell of layout 1's row."""
        if self.layout == L.LAYOUT:
            values = self.read(column, rows, label, findings)
            items = _per_frame(values)
            return items if values is not None else [None] * (rows.stop - rows.start)
        return _per_frame(self.read(column, rows.start, label, findings))


def _runs(sequence: np.ndarray) -> list[tuple[int, int]]:
    """[a, b) of each run of equal values: a sequence's rows (layout 2 writes them together)."""
    if not len(sequence):
        return []
    cuts = np.flatnonzero(np.diff(sequence)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(sequence)]])
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


class _WindowedFrames:
    """Layout 2's frame bytes of rows [a, b), read WINDOW at a time as the checks ask for them:
    a few windows are held, never the sequence. Safe to read from the image check's threads."""

    WINDOW = 64
    HELD = 4

    def __init__(self, reader: _MotqaReader, a: int, b: int, label: str) -> None:
        self.reader, self.a, self.b, self.label = reader, a, b, label
        self._held: dict[int, list[bytes]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.b - self.a

    def __getitem__(self, k: int) -> bytes:
        if not 0 <= k < len(self):
            raise IndexError(k)
        w = k // self.WINDOW
        with self._lock:
            window = self._held.get(w)
            if window is None:
                start = self.a + w * self.WINDOW
                stop = min(self.b, start + self.WINDOW)
                try:
                    window = [bytes(x) for x in self.reader.ds["frames"].get_bytes(slice(start, stop))]
                except Exception as e:  # noqa: BLE001 - a damaged chunk: those frames cannot be read
                    raise OSError(f"frames of rows {start}..{stop - 1} cannot be read: {_why(e)}") from None
                finally:
                    self.reader.bytes_read()
                if len(self._held) >= self.HELD:
                    del self._held[next(iter(self._held))]
                self._held[w] = window
        return window[k % self.WINDOW]
