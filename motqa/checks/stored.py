"""Checks only a stored dataset needs: box format, aligned per-frame arrays, one frame size."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from motqa.checks.registry import FOLD_AT, finding, many
from motqa.model import Finding, Frames, Place, Sequence

LTWH_PIXEL = ("ltwh", "pixel")


@dataclass
class StoredFrames(Frames):
    """Frames read from a dataset column. `sizes` collects each frame's (width, height) as the
    image check reads it, so that frame sizes can be compared without reading a frame twice."""

    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    _fetch: Callable[[int], bytes] = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._fetch, self.read = self.read, self._read_and_measure

    def _read_and_measure(self, i: int) -> bytes:
        data = self._fetch(i)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with Image.open(io.BytesIO(data)) as im:  # the header only: no pixel is decoded
                    size = im.size
            except Exception:  # noqa: BLE001 - unreadable bytes are the image check's to report
                return data
        with self._lock:
            self.sizes[i] = size
        return data


def box_format(column: str, stated: tuple[str, str] | None, shape_problem: str | None = None,
               seq_label: str | None = None) -> list[Finding]:
    """Findings for the boxes column: `stated` is its (format, type) as the schema says it, None
    when it says none; `shape_problem` describes boxes that are not 4 numbers each (in the row
    `seq_label`)."""
    where = Place(seq_label, file=column)
    if shape_problem is not None:
        return [finding("box-format", f"the {column} column {shape_problem}; motqa reads boxes as "
                        "(n, 4) LTWH pixel arrays: its boxes were not checked", where)]
    if stated is None:
        return [finding("box-format-unstated", f"the {column} column does not say its box format: read "
                        "as LTWH pixel (left, top, width, height), as the tutorial writes them", where)]
    if stated != LTWH_PIXEL:
        fmt, kind = stated
        return [finding("box-format", f"the {column} column holds {fmt.upper()} {kind} boxes, not LTWH "
                        "pixel (MOT's left, top, width, height): its boxes were not checked", where)]
    return []


def sequence_lengths(seq_label: str, lengths: dict[str, int]) -> list[Finding]:
    """A finding when the per-frame columns of one row hold different numbers of frames."""
    if len(set(lengths.values())) <= 1:
        return []
    text = ", ".join(f"{col} {n}" for col, n in lengths.items())
    return [finding("sequence-lengths-differ", f"the row's columns hold different numbers of frames: {text}",
                    Place(seq_label))]


def count_mismatches(seq_label: str, column: str, numbers: np.ndarray, positions: np.ndarray,
                     boxes: np.ndarray, values: np.ndarray, frames_column: str) -> list[Finding]:
    """Findings for the frames (MOT `numbers`, 0-based `positions`) whose `column` holds
    `values` items against `boxes` boxes; folded past FOLD_AT."""
    bad = np.flatnonzero(boxes != values)
    if not len(bad):
        return []

    def text(k: int) -> str:
        return (f"frame {numbers[k]} ({frames_column}[{positions[k]}]) holds {boxes[k]} boxes but "
                f"{values[k]} {column}: only the first {min(boxes[k], values[k])} were read")

    places = [Place(seq_label, frame=int(numbers[k])) for k in bad[:FOLD_AT]]
    if len(bad) > FOLD_AT:
        return [many("ids-boxes-mismatch", text(int(bad[0])), places, len(bad))]
    return [finding("ids-boxes-mismatch", text(int(k)), p) for k, p in zip(bad, places, strict=False)]


def check_frame_sizes(seq: Sequence) -> list[Finding]:
    """For a stored sequence without a stored size, the first readable frame's size is the
    sequence's (as for MOT15 folders): every frame of another size is a finding. Runs after the
    image check, which measured the frames; the size found is put into `seq.info`."""
    frames, info = seq.frames, seq.info
    if not isinstance(frames, StoredFrames) or not frames.sizes or info.im_width or info.im_height:
        return []
    order = sorted(frames.sizes)
    ref = frames.sizes[order[0]]
    info.im_width, info.im_height = ref
    bad = [i for i in order if frames.sizes[i] != ref]
    if not bad:
        return []

    def text(i: int) -> str:
        w, h = frames.sizes[i]
        return (f"frame {frames.numbers[i]} ({frames.names[i]}) is {w}x{h}; the sequence's first frame "
                f"({frames.names[order[0]]}) is {ref[0]}x{ref[1]}")

    places = [seq.place(frame=int(frames.numbers[i])) for i in bad[:FOLD_AT]]
    if len(bad) > FOLD_AT:
        return [many("frame-size-varies", text(bad[0]), places, len(bad))]
    return [finding("frame-size-varies", text(i), p) for i, p in zip(bad, places, strict=False)]
