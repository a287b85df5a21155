"""The benchmark's code on tiny data: it generates what it promises and prints every figure."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load("generate")


def test_full_size_specs_are_the_real_train_splits() -> None:
    mot17, mot20 = generate.specs("MOT17"), generate.specs("MOT20")
    assert (len(mot17), sum(s.frames for s in mot17)) == (7, 5316)
    assert sum(s.rows for s in mot17) == 204_701  # every line of the official gt.txt (published.csv)
    assert [(s.width, s.height) for s in mot17 if s.name.startswith("MOT17-05")] == [(640, 480)]
    assert (len(mot20), sum(s.frames for s in mot20), sum(s.rows for s in mot20)) == (4, 8931, 1_336_920)
    assert len(generate.specs("MOT20", scale=4)) == 16


def test_gt_is_clean_and_ordered_by_track_then_frame() -> None:
    spec = generate.SeqSpec("MOT20-09", 50, 320, 240, 700)
    rows = np.array([line.split(",") for line in generate.gt_text(spec, seed=3).splitlines()], dtype=float)
    frame, track = rows[:, 0].astype(int), rows[:, 1].astype(int)
    left, top, width, height = rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    assert len(rows) == 700
    assert np.all(np.lexsort((frame, track)) == np.arange(len(rows)))  # already in track, frame order
    assert len({(f, t) for f, t in zip(frame, track, strict=True)}) == len(rows)
    assert set(frame) == set(range(1, 51))  # every frame has a box
    assert np.all((width > 0) & (height > 0))
    assert np.all((left < 320) & (top < 240) & (left + width > 0) & (top + height > 0))


def test_textured_frames_are_realistic_jpegs() -> None:
    data = generate.textured_jpeg(1920, 1080, np.random.default_rng(0))
    assert data[:2] == b"\xff\xd8"
    assert 140_000 < len(data) < 240_000


def test_generate_caches_a_complete_tree(tmp_path: Path) -> None:
    root = generate.generate("MOT17", quick=True, root=tmp_path)
    again = generate.generate("MOT17", quick=True, root=tmp_path)
    assert root == again and (root / "complete.json").is_file()
    for spec in generate.specs("MOT17", quick=True):
        seq = root / "train" / spec.name
        assert f"seqLength={spec.frames}" in (seq / "seqinfo.ini").read_text()
        assert len(list((seq / "img1").glob("*.jpg"))) == spec.frames
        assert len((seq / "gt" / "gt.txt").read_text().splitlines()) == spec.rows


def _run_bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "figures.json"
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--quick", "--data", str(tmp_path / "data"),
                           "--json", str(out), *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "figure" in proc.stdout and "ratio" in proc.stdout
    return json.loads(out.read_text())


def test_quick_annotations_figure(tmp_path: Path) -> None:
    result = _run_bench(tmp_path, "--only", "annotations")
    figures = {f["name"]: f for f in result["figures"]}
    assert {"annotations vs read_csv", "annotations vs TrackEval"} <= set(figures)
    read_csv = figures["annotations vs read_csv"]
    assert read_csv["value"] > 0 and read_csv["baseline_value"] > 0 and read_csv["ratio"] > 0
    assert read_csv["holds"] is None  # quick mode judges no goal
    trackeval = figures["annotations vs TrackEval"]
    assert trackeval["ratio"] is not None or "not installed" in trackeval["note"]
    assert result["nproc"] >= 1 and result["cpu"]


@pytest.mark.slow
def test_quick_run_prints_every_figure(tmp_path: Path) -> None:
    result = _run_bench(tmp_path)
    figures = {f["name"]: f for f in result["figures"]}
    cores = result["nproc"]
    expected = {"annotations vs read_csv", "annotations vs TrackEval", "images (decode)",
                f"decode on {cores} threads", f"decode on {cores} processes", "ingest",
                "peak memory validate", "peak memory ingest", "scaling time x2", "scaling time x4",
                "scaling memory x2", "scaling memory x4"}
    assert expected <= set(figures)
    for name in expected - {"annotations vs TrackEval", "ingest", "peak memory ingest"}:
        assert figures[name]["ratio"] is not None and figures[name]["ratio"] > 0, name
    for name in ("ingest", "peak memory ingest"):
        assert figures[name]["ratio"] is not None or figures[name]["note"] == "ingest: not available yet"
