"""The motqa Deep Lake 4 sequence layout: its schema, metadata keys, and helpers to read it back.

The layout is described in full in motqa.deeplake.rows' docstring; this module holds the
names both the writer and the readers (motqa audit, a training loop) use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

LAYOUT = "motqa-sequences/1"

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

PUBLISHED = "published"


def schema() -> dict[str, Any]:
    """The columns, in order. Imported lazily: deeplake starts threads on import."""
    from deeplake import types

    def per_box(dtype: str) -> Any:
        return types.Sequence(types.Array(dtype, dimensions=1))

    return {
        "name": types.Text(),
        "split": types.Text(),
        "frame_rate": types.Float32(),
        "width": types.Int32(),
        "height": types.Int32(),
        "seq_length": types.Int32(),
        "frame_numbers": types.Array("int32", dimensions=1),
        "frames": types.Sequence(types.Image(sample_compression="jpg")),
        "boxes": types.Sequence(types.BoundingBox("float32", "ltwh", "pixel")),
        "ids": types.Sequence(types.Array(types.UInt32(), dimensions=1)),
        "conf": per_box("float32"),
        "classes": per_box("int32"),
        "visibility": per_box("float32"),
    }


def column_types(ds: Any) -> dict[str, str]:
    """A dataset's columns and their types as text, to compare two schemas."""
    return {c.name: str(c.dtype) for c in ds.schema.columns}


def is_published(ds: Any) -> bool:
    """True when the dataset was completely written by motqa. A reader must treat any other
    dataset at a motqa target (no marker, or motqa_state 'writing' / 'replacing') as absent: on
    S3, that is what a killed or running ingest leaves (see motqa.deeplake.rows)."""
    meta = ds.metadata
    return META_STATE in meta and meta[META_STATE] == PUBLISHED and META_LAYOUT in meta \
        and meta[META_LAYOUT] == LAYOUT


def read_json(ds: Any, key: str, default: Any = None) -> Any:
    """A JSON metadata value (gate, skipped, frames_without_image), or `default` when absent."""
    meta = ds.metadata
    return json.loads(meta[key]) if key in meta else default


class Frame(NamedTuple):
    """Frame k of a sequence row. Arrays are aligned with `boxes`; `jpeg` is the source file's
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


def _frame_value(value: Any, k: int, column: str) -> np.ndarray:
    """Frame k's array of a whole-sequence value. Deep Lake returns a stacked ndarray when every
    frame has the same box count, else a list, and None for an empty 1-D array."""
    item = value[k] if value is not None else None
    if column == "boxes":
        return np.zeros((0, 4), np.float32) if item is None else np.asarray(item, np.float32).reshape(-1, 4)
    if item is None:
        return _EMPTY[column].copy()
    return np.asarray(item, dtype=_EMPTY[column].dtype).reshape(-1)


def iter_frames(ds: Any, row: int) -> Iterator[Frame]:
    """Every frame of sequence `row`, in order. Reads the row's JPEG bytes and annotations once."""
    numbers = np.asarray(ds["frame_numbers"][row]).reshape(-1)
    jpegs = ds["frames"].get_bytes(row)
    values = {c: ds[c][row] for c in ("boxes", "ids", "conf", "classes", "visibility")}
    for k in range(len(jpegs)):
        yield Frame(int(numbers[k]), bytes(jpegs[k]), *(_frame_value(values[c], k, c) for c in values))


def read_frame(ds: Any, row: int, k: int) -> Frame:
    """Frame k (0-based position, not the MOT frame number) of sequence `row`. Fetches the row's
    bytes list to take one item: iterate with iter_frames to read a whole sequence."""
    jpegs = ds["frames"].get_bytes(row)
    if not 0 <= k < len(jpegs):
        raise IndexError(f"frame {k} of row {row}: the sequence has {len(jpegs)} frames")
    number = int(np.asarray(ds["frame_numbers"][row]).reshape(-1)[k])
    arrays = (_frame_value(ds[c][row], k, c) for c in ("boxes", "ids", "conf", "classes", "visibility"))
    return Frame(number, bytes(jpegs[k]), *arrays)
