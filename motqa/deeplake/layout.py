"""The motqa Deep Lake 4 layout: its schema, metadata keys, and helpers to read it back.

The layout is described in full in motqa.deeplake.rows' docstring; this module holds the names
both the writer and the readers (motqa audit, a training loop) use, for the layout motqa writes
(motqa-sequences/2: a row per frame, a stored view with a row per sequence) and for the one it
wrote before (motqa-sequences/1: a row per sequence), which readers still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

LAYOUT = "motqa-sequences/2"
LAYOUT_V1 = "motqa-sequences/1"  # one row per sequence (motqa before 2026-12): still read
LAYOUTS = (LAYOUT, LAYOUT_V1)

# Dataset metadata keys (ds.metadata[key]); every value is a string.
META_VERSION = "motqa_version"
META_LAYOUT = "motqa_layout"
META_STATE = "motqa_state"  # "published" when complete; see is_published
META_SOURCE = "source"
META_BENCHMARK = "benchmark"
META_GATE = "gate"  # JSON: the gate's counts and the findings that passed it
META_SKIPPED = "skipped"  # JSON: [{"sequence": label, "why": text}] sequences not stored
META_NO_IMAGE = "frames_without_image"  # JSON: {label: [frame numbers]} frames stored as b""
META_CLASSES = "class_names"  # JSON: {label: {class id: name}} the class table each sequence was checked under
META_SEQUENCES = "sequences"  # JSON (layout 2): [{"label", "name", "split", "first_row", "frames"}], in order

PUBLISHED = "published"

# Layout 2's stored view: one row per sequence, each column the sequence of its frames' values
# (ds.tags[SEQUENCES_TAG].open()). Unfixed: it reads the dataset as it is now.
SEQUENCES_TAG = "sequences"
SEQUENCES_QUERY = "SELECT * GROUP BY sequence"

# The columns a frame's annotations are in, aligned box by box.
PER_BOX = ("boxes", "ids", "conf", "classes", "visibility")


def schema() -> dict[str, Any]:
    """Layout 2's columns, in order: one row per frame. Imported lazily: deeplake starts threads
    on import."""
    from deeplake import types

    def per_box(dtype: str) -> Any:
        return types.Array(dtype, dimensions=1)

    return {
        "sequence": types.Int32(),
        "name": types.Text(),
        "split": types.Text(),
        "frame_rate": types.Float32(),
        "width": types.Int32(),
        "height": types.Int32(),
        "seq_length": types.Int32(),
        "frame_numbers": types.Int32(),
        "frames": types.Image(sample_compression="jpg"),
        "boxes": types.BoundingBox("float32", "ltwh", "pixel"),
        "ids": types.Array(types.UInt32(), dimensions=1),
        "conf": per_box("float32"),
        "classes": per_box("int32"),
        "visibility": per_box("float32"),
    }


# Layout 1's columns (one row per sequence: each a sequence of the frames' values but the first six).
COLUMNS_V1 = ("name", "split", "frame_rate", "width", "height", "seq_length", "frame_numbers", "frames", *PER_BOX)


def column_types(ds: Any) -> dict[str, str]:
    """A dataset's columns and their types as text, to compare two schemas."""
    return {c.name: str(c.dtype) for c in ds.schema.columns}


def layout_of(ds: Any) -> str | None:
    meta = ds.metadata
    return str(meta[META_LAYOUT]) if META_LAYOUT in meta else None


def is_published(ds: Any) -> bool:
    """True when the dataset was completely written by motqa. A reader must treat any other
    dataset at a motqa target (no marker, or motqa_state 'writing' / 'replacing') as absent: on
    S3, that is what a killed or running ingest leaves (see motqa.deeplake.rows)."""
    meta = ds.metadata
    return META_STATE in meta and meta[META_STATE] == PUBLISHED and layout_of(ds) in LAYOUTS


def read_json(ds: Any, key: str, default: Any = None) -> Any:
    """A JSON metadata value (gate, skipped, frames_without_image), or `default` when absent."""
    meta = ds.metadata
    return json.loads(meta[key]) if key in meta else default


class SequenceRows(NamedTuple):
    """Where sequence r is: rows first_row .. first_row + frames - 1 (layout 2), or row r holding
    every frame (layout 1: first_row is r, and the frames are positions in that row)."""

    label: str
    name: str
    split: str
    first_row: int
    frames: int


def sequences(ds: Any) -> list[SequenceRows]:
    """The sequences of a motqa dataset, in order (index r is sequence r of iter_frames and
    read_frame, and row r of the stored view)."""
    if layout_of(ds) == LAYOUT_V1:
        names, splits = ds["name"][:], ds["split"][:]
        out = []
        for r in range(len(ds)):
            name, split = str(names[r] or ""), str(splits[r] or "")
            out.append(SequenceRows(f"{split}/{name}" if split else name, name, split, r,
                                    len(np.asarray(ds["frame_numbers"][r]).reshape(-1))))
        return out
    return [SequenceRows(s["label"], s["name"], s["split"], int(s["first_row"]), int(s["frames"]))
            for s in read_json(ds, META_SEQUENCES, [])]


def sequence_view(ds: Any) -> Any:
    """One row per sequence (layout 2's stored view; a layout 1 dataset is that already): each
    column holds the sequence of its frames' values, `frames` their images."""
    if layout_of(ds) == LAYOUT_V1:
        return ds
    return ds.tags[SEQUENCES_TAG].open()


class Frame(NamedTuple):
    """Frame k of a sequence. Arrays are aligned with `boxes`; `jpeg` is the source file's
    bytes (b"" where the source had no image file for a frame with gt rows)."""

    number: int
    jpeg: bytes
    boxes: np.ndarray  # (n, 4) float32, left, top, width, height in pixels
    ids: np.ndarray  # (n,) uint32
    conf: np.ndarray  # (n,) float32: the gt flag (1 evaluated, 0 ignored)
    classes: np.ndarray  # (n,) int32, -1 where the source had no class column (MOT15)
    visibility: np.ndarray  # (n,) float32, NaN where the source had none


_EMPTY = {
    "ids": np.zeros(0, dtype=np.uint32),
    "conf": np.zeros(0, dtype=np.float32),
    "classes": np.zeros(0, dtype=np.int32),
    "visibility": np.zeros(0, dtype=np.float32),
}


def frame_array(item: Any, column: str) -> np.ndarray:
    """One frame's value of a per-box column, as its dtype and shape: Deep Lake gives back None
    for an empty 1-D array."""
    if column == "boxes":
        return np.zeros((0, 4), np.float32) if item is None else np.asarray(item, np.float32).reshape(-1, 4)
    if item is None:
        return _EMPTY[column].copy()
    return np.asarray(item, dtype=_EMPTY[column].dtype).reshape(-1)


def per_frame(value: Any) -> list[Any]:
    """A value read for several frames (a slice of rows, or a layout 1 cell) as one item per frame:
    Deep Lake returns a stacked ndarray when every frame has the same shape, else a list."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value) if value.ndim >= 1 else [value]
    return list(value)


# Frames read at once by iter_frames: a window of rows, not a whole sequence.
WINDOW = 64


def iter_frames(ds: Any, r: int) -> Iterator[Frame]:
    """Every frame of sequence r, in order, WINDOW frames read at a time (layout 1: the row's
    bytes and annotations at once, as that layout stores them)."""
    where = sequences(ds)[r]
    if layout_of(ds) == LAYOUT_V1:
        yield from _iter_row(ds, r)
        return
    end = where.first_row + where.frames
    for a in range(where.first_row, end, WINDOW):
        b = min(end, a + WINDOW)
        numbers = np.asarray(ds["frame_numbers"][a:b]).reshape(-1)
        jpegs = ds["frames"].get_bytes(slice(a, b))
        values = {c: per_frame(ds[c][a:b]) for c in PER_BOX}
        for k in range(b - a):
            yield Frame(int(numbers[k]), bytes(jpegs[k]), *(frame_array(_item(values[c], k), c) for c in PER_BOX))


def read_frame(ds: Any, r: int, k: int) -> Frame:
    """Frame k (0-based position, not the MOT frame number) of sequence r."""
    where = sequences(ds)[r]
    if not 0 <= k < where.frames:
        raise IndexError(f"frame {k} of sequence {r}: the sequence has {where.frames} frames")
    if layout_of(ds) == LAYOUT_V1:
        jpegs = ds["frames"].get_bytes(r)
        number = int(np.asarray(ds["frame_numbers"][r]).reshape(-1)[k])
        arrays = (frame_array(_item(per_frame(ds[c][r]), k), c) for c in PER_BOX)
        return Frame(number, bytes(jpegs[k]), *arrays)
    row = where.first_row + k
    return Frame(int(ds["frame_numbers"][row]), bytes(ds["frames"].get_bytes(row)),
                 *(frame_array(ds[c][row], c) for c in PER_BOX))


def _iter_row(ds: Any, r: int) -> Iterator[Frame]:
    numbers = np.asarray(ds["frame_numbers"][r]).reshape(-1)
    jpegs = ds["frames"].get_bytes(r)
    values = {c: per_frame(ds[c][r]) for c in PER_BOX}
    for k in range(len(jpegs)):
        yield Frame(int(numbers[k]), bytes(jpegs[k]), *(frame_array(_item(values[c], k), c) for c in PER_BOX))


def _item(items: list[Any], k: int) -> Any:
    """Item k, or None (an empty array) where Deep Lake gave back nothing for the frames read."""
    return items[k] if k < len(items) else None
