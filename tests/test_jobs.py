"""`--jobs N`: how many threads check a sequence's frames; the default is the cores this process
may use (its CPU affinity and its cgroup's CPU quota), not the machine's."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from motqa import imaging
from motqa.cli import run
from motqa.imaging import available_cores, cgroup_cores, inspect_many


def _frames_checked_by(jobs: int, count: int = 12) -> set[int]:
    """The threads that read frames when `count` frames are checked with `jobs` workers. A barrier
    of `jobs` parties holds each worker at its first frame until all of them have started, so the
    set is exactly the workers (a worker that never got a frame would time the barrier out)."""
    barrier = threading.Barrier(jobs, timeout=20)
    seen: set[int] = set()
    lock = threading.Lock()

    def read(i: int) -> bytes:
        me = threading.get_ident()
        with lock:
            first = me not in seen
            seen.add(me)
        if first:
            barrier.wait()
        return b"not a jpeg"

    reports = inspect_many(count, read, "header", ".jpg", chunk=1, workers=jobs)
    assert len(reports) == count and all(r.check == "image-unreadable" for r in reports)
    return seen


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_inspect_many_uses_exactly_the_workers_asked(jobs: int) -> None:
    assert len(_frames_checked_by(jobs)) == jobs


def test_inspect_many_never_starts_more_workers_than_chunks() -> None:
    assert len(_frames_checked_by(1, count=1)) == 1
    seen: set[int] = set()
    inspect_many(2, lambda i: seen.add(threading.get_ident()) or b"x", "header", ".jpg", chunk=32, workers=8)
    assert len(seen) == 1  # two frames are one chunk: one worker


@pytest.mark.parametrize("text, cores", [
    ("max 100000\n", None),  # no quota
    ("200000 100000\n", 2),
    ("150000 100000\n", 2),  # 1.5 cores of time: two threads keep it busy
    ("50000 100000\n", 1),
    ("garbage", None),
    ("", None),
])
def test_cgroup_v2_quota(text: str, cores: int | None) -> None:
    assert cgroup_cores(text) == cores


def test_available_cores_follows_affinity_and_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imaging.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(imaging, "_cgroup_quota", lambda: None)
    assert available_cores() == 4
    monkeypatch.setattr(imaging, "_cgroup_quota", lambda: 2)
    assert available_cores() == 2  # a container given 2 cores of a 4-core affinity
    monkeypatch.setattr(imaging.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert available_cores() == 1


def test_available_cores_on_this_machine() -> None:
    assert 1 <= available_cores() <= (len(imaging.os.sched_getaffinity(0)))


def _json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = run([*map(str, args), "--format", "json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


@pytest.mark.parametrize("defect", ["image-unreadable", "image-format", "image-size-mismatch"])
def test_findings_do_not_depend_on_jobs(make_demo, defect: str, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, place = make_demo(defect)
    docs = [_json(capsys, "validate", root, "--jobs", str(n)) for n in (1, 2, 5)]
    assert all(code == 1 for code, _ in docs)
    assert docs[0][1]["findings"] == docs[1][1]["findings"] == docs[2][1]["findings"]
    assert any(f["check"] == defect and f["file"] == place.file for f in docs[0][1]["findings"])


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bad_jobs_is_a_usage_error(demo_root: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:  # argparse's usage error: exit 2, as every bad option
        run(["validate", str(demo_root), f"--jobs={value}"])
    _, err = capsys.readouterr()
    assert exit_.value.code == 2 and "--jobs" in err and "at least 1" in err and "Traceback" not in err


def test_jobs_from_pyproject(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.motqa]\njobs = 1\n")
    assert run(["validate", str(demo_root), "--config", str(config)]) == 0
    config.write_text("[tool.motqa]\njobs = 0\n")
    code = run(["validate", str(demo_root), "--config", str(config)])
    _, err = capsys.readouterr()
    assert code == 2 and "jobs" in err
