"""The check registry: the function behind each catalog id (motqa/data/checks.toml). A check is a
function of one sequence that returns findings of its ids; `@check("id")` registers it. Checks
that share one pass over the data (the Pandera row schema, one decode of every frame, one sort of
the tracks) register their ids together and are handed the ids the plan selected. Ids found while
a source reads its files (`found_by` in the catalog) have no function here."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from motqa.catalog import CHECKS, CheckInfo
from motqa.model import Finding, Place, Sequence

# Takes the bytes of a chunk of frames the image check read: (index of the first, their bytes,
# None for a frame that could not be read), chunk after chunk in order.
FrameTaker = Callable[[int, list[bytes | None]], None]


@dataclass(frozen=True)
class Options:
    """What a run tells the checks that need it: the image mode, a progress callback and the
    threads that check frames (None: the cores available)."""

    images: str = "decode"
    on_frame: Callable[[int], None] | None = None
    jobs: int | None = None
    on_bytes: FrameTaker | None = None  # the bytes of the frames the image check reads (ingest stores them)


Run = Callable[[Sequence, frozenset[str], Options], list[Finding]]
F = TypeVar("F", bound=Callable[..., list[Finding]])

# Stages: a stage's checks run before the next stage's (conventions say which rows the rule
# checks leave out; frames are decoded before the rules). Checks of the whole run come last
# (dataset_check).
CONVENTIONS, FRAMES, RULES = 0, 1, 2


@dataclass(frozen=True)
class Check:
    ids: tuple[str, ...]
    run: Run
    stage: int
    name: str  # module.function, for messages

    @property
    def infos(self) -> list[CheckInfo]:
        return [CHECKS[i] for i in self.ids]

    @property
    def needs(self) -> frozenset[str]:
        return frozenset(n for i in self.infos for n in i.needs)


@dataclass(frozen=True)
class DatasetFacts:
    """What the checks of the whole run (reads = "dataset") read, gathered while the sequences
    were checked: where sequences without an image folder expected it, how many have theirs, and
    whether the run stores frames (ingest)."""

    no_image_folder: list[Place]
    with_image_folder: int
    needs_frames: bool


DatasetRun = Callable[[DatasetFacts, frozenset[str]], list[Finding]]


@dataclass(frozen=True)
class DatasetCheck:
    ids: tuple[str, ...]
    run: DatasetRun
    name: str


REGISTRY: dict[str, Check] = {}
DATASET_REGISTRY: dict[str, DatasetCheck] = {}


def check(*ids: str, stage: int = RULES) -> Callable[[F], F]:
    """Register the decorated function as the check of catalog ids `ids`. A function of one id
    takes the sequence; one of several takes (sequence, selected ids, options) and returns
    findings of the selected ids only."""
    def register(fn: F) -> F:
        name = f"{fn.__module__}.{fn.__name__}"
        for cid in ids:
            if cid not in CHECKS:
                raise ValueError(f"{name}: {cid!r} is not in motqa/data/checks.toml")
            if cid in REGISTRY:
                raise ValueError(f"{cid} is registered twice ({REGISTRY[cid].name} and {name})")
            if CHECKS[cid].found_by is not None:
                raise ValueError(f"{cid} is found by {CHECKS[cid].found_by} while reading, not by {name}")
        params = len(inspect.signature(fn).parameters)
        run: Run = fn if params == 3 else (lambda seq, selected, options: fn(seq))  # type: ignore[assignment]
        entry = Check(tuple(ids), run, stage, name)
        for cid in ids:
            REGISTRY[cid] = entry
        return fn
    return register


def dataset_check(*ids: str) -> Callable[[DatasetRun], DatasetRun]:
    """Register a check of the whole run: fn(facts, selected ids) -> findings of those ids."""
    def register(fn: DatasetRun) -> DatasetRun:
        entry = DatasetCheck(tuple(ids), fn, f"{fn.__module__}.{fn.__name__}")
        for cid in ids:
            if cid not in CHECKS or CHECKS[cid].reads != "dataset" or cid in DATASET_REGISTRY:
                raise ValueError(f"{entry.name}: {cid!r} is not a dataset check of motqa/data/checks.toml")
            DATASET_REGISTRY[cid] = entry
        return fn
    return register


def registered() -> dict[str, Check]:
    """Every registered check, by id (motqa/checks/__init__.py imports the check modules, whose
    decorators register them)."""
    return REGISTRY
