"""Benchmark profiles (data/profiles.toml) and published sequence facts (data/published.csv):
which benchmark a sequence belongs to, and the rules and numbers that differ between benchmarks."""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from motqa.errors import UsageError

_DATA = Path(__file__).resolve().parent / "data"
GENERIC = "generic"


@dataclass(frozen=True, eq=False)  # one object per profile (profiles() is cached): hashed by identity
class Profile:
    """One benchmark's rules; see data/profiles.toml for what each field means."""

    name: str
    title: str
    gt_columns: tuple[int, ...]
    id_min: int
    classes: dict[int, str]
    distractors: frozenset[int]
    frame_digits: int
    every_frame_annotated: bool
    traits: frozenset[str]
    test_sequences: tuple[str, ...]
    source: str
    sequence: re.Pattern[str] | None
    split: re.Pattern[str] | None
    root: re.Pattern[str] | None

    def has(self, trait: str) -> bool:
        return trait in self.traits


@dataclass(frozen=True)
class Recognised:
    """The profile a sequence got and why (shown in every output)."""

    profile: Profile
    reason: str


@dataclass(frozen=True)
class Published:
    """One official sequence's facts (a row of data/published.csv); None where not public."""

    benchmark: str
    split: str
    sequence: str
    seqinfo_name: str
    seq_length: int
    im_width: int
    im_height: int
    frame_rate: float
    gt_rows: int | None
    gt_frames_annotated: int | None
    gt_id_min: int | None
    gt_id_max: int | None
    gt_classes: tuple[int, ...] | None  # None: unknown; (): the file has no class column
    gt_columns: int | None


def _pattern(text: str | None, ignore_case: bool) -> re.Pattern[str] | None:
    return None if text is None else re.compile(text, re.IGNORECASE if ignore_case else 0)


@cache
def profiles() -> dict[str, Profile]:
    """Every profile by name, generic first."""
    table = tomllib.loads((_DATA / "profiles.toml").read_text(encoding="utf-8"))
    out = {}
    for name, p in table.items():
        out[name] = Profile(
            name=name, title=p["title"], gt_columns=tuple(p["gt_columns"]), id_min=int(p["id_min"]),
            classes={int(k): str(v) for k, v in p["classes"].items()},
            distractors=frozenset(int(c) for c in p["distractors"]), frame_digits=int(p["frame_digits"]),
            every_frame_annotated=bool(p["every_frame_annotated"]), traits=frozenset(p["traits"]),
            test_sequences=tuple(p.get("test_sequences", ())), source=p["source"],
            sequence=_pattern(p.get("sequence"), False), split=_pattern(p.get("split"), True),
            root=_pattern(p.get("root"), True))
    return out


def profile(name: str) -> Profile:
    """The profile called `name` (any case); UsageError for an unknown one."""
    by_lower = {k.lower(): v for k, v in profiles().items()}
    found = by_lower.get(name.strip().lower())
    if found is None:
        raise UsageError(f"unknown benchmark {name!r} (known: {', '.join(profiles())})")
    return found


def recognise(sequence: str, folders: tuple[str, ...] = (), forced: str | None = None,
              stated: str | None = None, layout: str = "mot", labels: tuple[str, ...] | None = None) -> Recognised:
    """The profile of a sequence called `sequence` whose folders above it are `folders`, nearest
    first (its split folder, then the root ...). `forced` (--benchmark) wins; then the layout of an
    export that says what it is (CVAT's); then the sequence's name; then `stated` (the benchmark a
    stored dataset names); then the folders. An export's `labels` become the class table."""
    got = _recognise(sequence, folders, forced, stated, layout)
    if labels is None:
        return got
    classes = {n: name for n, name in enumerate(labels, start=1)}
    return Recognised(replace(got.profile, classes=classes), got.reason + f"; classes from its labels ({len(labels)})")


def _recognise(sequence: str, folders: tuple[str, ...], forced: str | None, stated: str | None,
               layout: str) -> Recognised:
    if forced is not None:
        return Recognised(profile(forced), "--benchmark")
    if layout != "mot":
        return Recognised(profile(layout), f"laid out as a {profile(layout).title}")
    named = [p for p in profiles().values() if p.name != GENERIC]
    for p in named:
        if p.sequence is not None and p.sequence.fullmatch(sequence):
            return Recognised(p, f"sequence name {sequence}")
    if stated and stated.lower() in {p.name.lower() for p in named}:
        return Recognised(profile(stated), f"the dataset's benchmark metadata ({stated})")
    for folder in folders:
        for p in named:
            if any(pattern is not None and pattern.fullmatch(folder) for pattern in (p.split, p.root)):
                return Recognised(p, f"folder {folder}")
    return Recognised(profiles()[GENERIC], "no benchmark recognised")


def _int(text: str) -> int | None:
    return int(text) if text.strip() else None


@cache
def published() -> dict[tuple[str, str], Published]:
    """The published facts by (benchmark, sequence folder name)."""
    out = {}
    with (_DATA / "published.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            classes = row["gt_classes"].strip()
            out[(row["benchmark"], row["sequence"])] = Published(
                benchmark=row["benchmark"], split=row["split"], sequence=row["sequence"],
                seqinfo_name=row["seqinfo_name"], seq_length=int(row["seq_length"]),
                im_width=int(row["im_width"]), im_height=int(row["im_height"]),
                frame_rate=float(row["frame_rate"]), gt_rows=_int(row["gt_rows"]),
                gt_frames_annotated=_int(row["gt_frames_annotated"]), gt_id_min=_int(row["gt_id_min"]),
                gt_id_max=_int(row["gt_id_max"]),
                gt_classes=None if not classes else () if classes == "-" else tuple(int(c) for c in classes.split()),
                gt_columns=_int(row["gt_columns"]))
    return out


def published_sequence(benchmark: str, sequence: str) -> Published | None:
    return published().get((benchmark, sequence))
