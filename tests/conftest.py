"""Shared fixtures: small synthetic MOT downloads written by motqa's own demo code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from motqa.demo import default_sequences, write_demo
from motqa.model import Place


def small_sequences():  # type: ignore[no-untyped-def]
    """Three small sequences (two train, one test): fast to write and to check."""
    return default_sequences(frames=16, width=160, height=120)


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    root = tmp_path / "mot"
    write_demo(root, sequences=small_sequences())
    return root


@pytest.fixture
def make_demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a small demo with one defect; returns (root, place the finding must name)."""
    counter = iter(range(1000))

    def make(defect: str | None = None) -> tuple[Path, Place | None]:
        root = tmp_path / f"mot{next(counter)}"
        return root, write_demo(root, defect, small_sequences())

    return make


CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder: default outputs (reports/) never land in the repo, and
    no pyproject.toml of the repo's is read as [tool.motqa] settings. The processes a test starts
    (`python -m motqa`, `python -c`) import this checkout's motqa, not whichever checkout pip last
    installed in editable mode."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])))
