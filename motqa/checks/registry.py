"""The check registry: the function behind each catalog id (motqa/data/checks.toml). A check is a
function of one sequence (or of the whole run, for reads = "dataset") that returns findings of its
id; `@check("id")` registers it. Ids found while a source reads its files (`found_by`) have no
function here: the source reports them as it reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from motqa.catalog import CHECKS, CheckInfo
from motqa.model import Finding, Sequence

SequenceCheck = Callable[[Sequence], list[Finding]]
F = TypeVar("F", bound=Callable[..., list[Finding]])


@dataclass(frozen=True)
class Check:
    info: CheckInfo
    run: Callable[..., list[Finding]]

    @property
    def id(self) -> str:
        return self.info.id


REGISTRY: dict[str, Check] = {}


def check(cid: str) -> Callable[[F], F]:
    """Register the decorated function as the check of catalog id `cid`."""
    def register(fn: F) -> F:
        if cid not in CHECKS:
            raise ValueError(f"{fn.__module__}.{fn.__name__}: {cid!r} is not in motqa/data/checks.toml")
        if cid in REGISTRY:
            raise ValueError(f"{cid} is registered twice ({REGISTRY[cid].run.__module__} and {fn.__module__})")
        if CHECKS[cid].found_by is not None:
            raise ValueError(f"{cid} is found by {CHECKS[cid].found_by} while reading, not by a check function")
        REGISTRY[cid] = Check(CHECKS[cid], fn)
        return fn
    return register
