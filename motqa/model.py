"""The one in-memory model every source converts into, and the findings checks make of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from motqa.profiles import GENERIC, Profile, profiles

# Canonical annotation columns. frame and id are int64, the rest float64. MOT15-style files
# (10 columns) have no class or visibility: those columns hold NaN and x, y, z are kept.
GT_COLUMNS = ("frame", "id", "left", "top", "width", "height", "conf", "class", "visibility")
DET_COLUMNS = ("frame", "id", "left", "top", "width", "height", "conf")
WORLD_COLUMNS = ("x", "y", "z")


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (use error, warning or info)") from None


@dataclass(frozen=True)
class Place:
    """Where something is: any field may be None where it does not apply."""

    sequence: str | None = None
    file: str | None = None
    line: int | None = None
    frame: int | None = None
    track_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "file": self.file,
            "line": self.line,
            "frame": self.frame,
            "track_id": self.track_id,
        }

    def __str__(self) -> str:
        parts = []
        if self.sequence is not None:
            parts.append(self.sequence)
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.frame is not None:
            parts.append(f"frame {self.frame}")
        if self.track_id is not None:
            parts.append(f"id {self.track_id}")
        return " ".join(parts) if parts else "-"


@dataclass(frozen=True)
class Finding:
    """One thing a check found. `count` > 1 when many alike were folded into one; `more` holds
    the places after the first, up to a cap."""

    check: str
    severity: Severity
    message: str
    place: Place = Place()
    count: int = 1
    more: tuple[Place, ...] = ()

    @property
    def sequence(self) -> str | None:
        return self.place.sequence

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"check": self.check, "severity": str(self.severity), "message": self.message}
        d.update(self.place.as_dict())
        d["count"] = self.count
        d["more_places"] = [p.as_dict() for p in self.more]
        return d


@dataclass
class SeqInfo:
    """seqinfo.ini's fields; None where unknown. `origin` says where the values came from."""

    name: str | None = None
    im_dir: str = "img1"
    frame_rate: float | None = None
    seq_length: int | None = None
    im_width: int | None = None
    im_height: int | None = None
    im_ext: str = ".jpg"
    origin: str = "seqinfo.ini"  # or "inferred" (MOT15, no file) or "stored" (Deep Lake)
    lines: dict[str, int] = field(default_factory=dict)  # key -> its line in seqinfo.ini
    # where im_width/im_height come from: "seqinfo.ini", "stored", or the frame whose size it is
    # (motqa/sources/frame_size.py); None while unknown
    size_from: str | None = None


@dataclass(frozen=True, eq=False)
class Convention:
    """A file recognised as written in another convention (motqa.checks.conventions; MOTS masks in
    the parser): the check that says so, and the findings of other checks it explains, which are
    not reported for the file: `rows`, by check id, the rows (index values) whose findings it
    explains; `checks`, the checks whose every finding on the file it explains; `table_checks`,
    the sequences-table expectations (gx-seq-*) it explains for the file's sequence."""

    check: str
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    checks: frozenset[str] = frozenset()
    table_checks: frozenset[str] = frozenset()


@dataclass
class Annotations:
    """gt or det rows as columns. The index is the 1-based line in `file`; where the rows come
    from a stored dataset (`file` is None) it is the row's position, 1-based."""

    kind: str  # "gt", "det" or "result" (a tracker's output, motqa/sources/results.py)
    file: str | None
    rows: pd.DataFrame
    columns: int  # fields per line in the source: 9 or 10 (gt), 7 or 10 (det), 7 to 10 (result)
    lines: int | None = None  # non-blank lines of the source file, unparsable ones included
    conventions: list[Convention] = field(default_factory=list)  # what the file was recognised as

    def unexplained(self, check: str, lines: np.ndarray) -> np.ndarray:
        """`lines` (index values) without the rows whose `check` finding a convention explains."""
        for convention in self.conventions:
            if check in convention.rows:
                lines = lines[~np.isin(lines, convention.rows[check])]
        return lines

    @property
    def line_count(self) -> int:
        return len(self.rows) if self.lines is None else self.lines

    def line_numbers(self) -> np.ndarray:
        """The index as an array: each row's line. Made anew for a RangeIndex (a file without a
        gap), whose to_numpy() pandas keeps for the frame's lifetime (8 bytes a row)."""
        index = self.rows.index
        if isinstance(index, pd.RangeIndex):
            return np.arange(index.start, index.stop, index.step, dtype=np.int64)
        return index.to_numpy()

    @property
    def has_class(self) -> bool:
        return bool(self.rows["class"].notna().any()) if "class" in self.rows else False

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Frames:
    """The image files of a sequence: frame numbers (sorted), a display name each, and a way
    to get each one's bytes. `paths` is set when the frames are files, so that worker processes
    can open them themselves."""

    numbers: np.ndarray
    names: list[str]
    read: Callable[[int], bytes]
    paths: list[Path] | None = None
    listed: bool = True  # False when the image folder was not listed (an unsafe imDir)
    folder: bool = True  # False when the sequence has no image folder at all (annotations only)

    def __len__(self) -> int:
        return len(self.numbers)


@dataclass
class Sequence:
    """One sequence: its info, annotations, frames, and what loading it found."""

    name: str
    split: str | None
    info: SeqInfo
    frames: Frames
    gt: Annotations | None = None
    det: Annotations | None = None
    # A tracker's result file for the sequence (`motqa results`): its own rows, never mixed with gt.
    result: Annotations | None = None
    path: Path | None = None
    findings: list[Finding] = field(default_factory=list)
    # What the source knows of the benchmark: the folders above the sequence, nearest first (its
    # split, the root ...), or the benchmark a stored dataset names. The gate recognises the
    # profile from them (motqa.profiles.recognise) before any check runs.
    folders: tuple[str, ...] = ()
    stated_benchmark: str | None = None
    profile: Profile = field(default_factory=lambda: profiles()[GENERIC])
    profile_reason: str = "no benchmark recognised"
    # What findings put before a file's path in the sequence folder: "" on disk (findings say
    # gt/gt.txt beside the sequence's label), the folder's member path in an archive.
    file_prefix: str = ""
    # How the folder is laid out: "mot" (MOTChallenge), or the profile of an export whose layout
    # says what it is ("CVAT": gt/labels.txt and no seqinfo.ini). `labels` are an export's class
    # names, class id N the N-th (CVAT's labels.txt); None where the benchmark's table holds.
    layout: str = "mot"
    labels: tuple[str, ...] | None = None

    @property
    def benchmark(self) -> str:
        return self.profile.name

    @property
    def label(self) -> str:
        """How findings name the sequence: 'train/MOT17-02' where there is a split."""
        return f"{self.split}/{self.name}" if self.split else self.name

    def file(self, rel: str) -> str:
        """How findings name a file of the sequence folder ("gt/gt.txt", "img1/000001.jpg")."""
        return self.file_prefix + rel

    def place(self, **kw: Any) -> Place:
        return Place(sequence=self.label, **kw)


@dataclass
class SequenceRef:
    """A sequence not yet loaded: loading is deferred so that memory holds one at a time."""

    name: str
    split: str | None
    load: Callable[[], Sequence]

    @property
    def label(self) -> str:
        return f"{self.split}/{self.name}" if self.split else self.name


@dataclass
class MotDataset:
    """A MOT dataset from any source: folder, Deep Lake 4, Deep Lake 3."""

    source: str
    kind: str  # "mot-folder", "motqa-deeplake", "tutorial-deeplake4", "tutorial-deeplake3"
    sequences: list[SequenceRef]
    findings: list[Finding] = field(default_factory=list)

    def __iter__(self) -> Iterator[SequenceRef]:
        return iter(self.sequences)
