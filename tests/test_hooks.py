"""The pre-commit hook: `motqa hook FILES` (the sequences that changed files belong to) and
.pre-commit-hooks.yaml, run by pre-commit itself on a throwaway repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from motqa.cli import run
from motqa.demo import DemoSequence, write_demo
from motqa.sources.changed import changed_sequences, sequence_folder

REPO = Path(__file__).resolve().parents[1]
SMALL = [DemoSequence("train", "DEMO-01", frames=12, width=160, height=120, tracks=3, seed=1),
         DemoSequence("train", "DEMO-02", frames=12, width=160, height=120, tracks=4, seed=2)]


def test_files_map_to_their_sequence_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sequence_folder(Path("data/train/S/gt/gt.txt")) == Path("data/train/S")
    assert sequence_folder(Path("data/train/S/det/det.txt")) == Path("data/train/S")
    assert sequence_folder(Path("data/train/S/seqinfo.ini")) == Path("data/train/S")
    assert sequence_folder(Path("./data/train/S/./gt/gt.txt")) == Path("data/train/S")
    assert sequence_folder(Path("data/train/S/gt/gt.txt.orig")) is None
    assert sequence_folder(Path("data/gt.txt")) is None  # not in a gt/ folder: no sequence's
    monkeypatch.chdir(tmp_path)
    assert sequence_folder(Path("gt/gt.txt")) == tmp_path  # the repository is one sequence
    ds, other = changed_sequences([Path("d/train/B/gt/gt.txt"), Path("d/train/A/seqinfo.ini"),
                                   Path("d/train/B/det/det.txt"), Path("README.md")])
    assert [r.label for r in ds.sequences] == ["d/train/A", "d/train/B"]  # each once
    assert other == [Path("README.md")]


def hook(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["hook", *args, "--no-shipped-expectations"])
    out, err = capsys.readouterr()
    return code, out, err


def test_hook_fails_on_a_broken_gt_and_passes_the_fixed_one(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    place = write_demo(Path("data"), "box-size", SMALL)
    assert place is not None
    gt = Path("data/train/DEMO-02/gt/gt.txt")
    code, out, _ = hook(capsys, str(gt))
    assert code == 1
    assert f"error   box-size               data/train/DEMO-02 gt/gt.txt:{place.line} frame 5" in out
    assert "DEMO-01" not in out  # only the changed file's sequence is read
    lines = gt.read_text().splitlines()
    cells = lines[place.line - 1].split(",")
    cells[4] = "40"
    lines[place.line - 1] = ",".join(cells)
    gt.write_text("\n".join(lines) + "\n")
    code, out, _ = hook(capsys, str(gt), "data/train/DEMO-01/seqinfo.ini")
    assert code == 0 and "PASSED" in out and "data/train/DEMO-01:" in out


def test_hook_reads_no_frame_unless_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_demo(Path("data"), "image-unreadable", SMALL)
    assert hook(capsys, "data/train/DEMO-02/seqinfo.ini")[0] == 0
    code, out, _ = hook(capsys, "data/train/DEMO-02/seqinfo.ini", "--images", "decode")
    assert code == 1 and "image-unreadable" in out


def test_hook_says_which_files_it_did_not_check(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = hook(capsys, "notes.txt")
    assert code == 0 and "notes.txt is not a seqinfo.ini, gt/gt.txt or det/det.txt: not checked" in err
    assert "0 errors, 0 warnings, 0 info: PASSED" in out


def test_hook_manifest() -> None:
    """What pre-commit reads: the hook's id, its entry, the files it runs on, annotations only."""
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    h = hooks["motqa-validate"]
    assert (h["entry"], h["language"], h["args"]) == ("motqa hook", "python", ["--images", "skip"])
    files = re.compile(h["files"])
    for path in ("gt/gt.txt", "MOT17/train/MOT17-02/gt/gt.txt", "x/det/det.txt", "x/seqinfo.ini"):
        assert files.search(path), path
    for path in ("gt.txt", "x/gt/gt.txt.bak", "x/img1/000001.jpg", "x/seqinfo.ini.orig", "x/mygt/gt.txt"):
        assert not files.search(path), path


# ------------------------------------------------------------------------------------ pre-commit itself


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.mark.slow  # pre-commit builds the hook's virtualenv and installs motqa into it
def test_pre_commit_try_repo_blocks_a_broken_gt(tmp_path: Path) -> None:
    """`pre-commit try-repo` (as a commit runs it: on the staged files) on a throwaway repository:
    a staged gt.txt with a box of width 0 fails the hook, the fixed one passes. try-repo clones
    this repository at its HEAD (with uncommitted changes on top) and pip-installs it into the
    hook's own virtualenv. That virtualenv sees the packages already installed here and pip asks no
    index (PIP_NO_INDEX), so the test downloads nothing: a user's first run fetches motqa's
    dependencies from PyPI instead."""
    pre_commit = shutil.which("pre-commit")
    assert pre_commit, "pre-commit is missing: pip install -e '.[dev]'"
    repo = tmp_path / "annotations"
    repo.mkdir()
    git(repo, "init", "-q")
    place = write_demo(repo / "data", "box-size", SMALL)
    assert place is not None
    git(repo, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "VIRTUALENV_SYSTEM_SITE_PACKAGES": "1",
           "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("PYTHONPATH", None)  # the hook runs the motqa pip installed in its virtualenv, not this checkout
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run([pre_commit, "try-repo", str(REPO), "motqa-validate"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=900)

    broken = try_repo()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "motqa validate" in broken.stdout and "Failed" in broken.stdout
    assert f"box-size               data/train/DEMO-02 gt/gt.txt:{place.line} frame 5 id 2" in broken.stdout
    gt = repo / "data" / "train" / "DEMO-02" / "gt" / "gt.txt"
    lines = gt.read_text().splitlines()
    cells = lines[place.line - 1].split(",")
    cells[4] = "40"
    lines[place.line - 1] = ",".join(cells)
    gt.write_text("\n".join(lines) + "\n")
    git(repo, "add", "-A")
    fixed = try_repo()
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Passed" in fixed.stdout
