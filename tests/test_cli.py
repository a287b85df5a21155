"""`motqa validate` and `motqa demo` end to end: exit codes, formats, selection, configuration."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from motqa.catalog import CHECKS
from motqa.cli import run
from motqa.demo import DEFECTS


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["validate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, _ = validate(capsys, *args, "--format", "json")
    return code, json.loads(out)


def test_clean_demo_passes(demo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = validate(capsys, demo_root)
    assert code == 0 and "PASSED" in out and err == ""  # no progress display off a terminal


def test_json_shape(demo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = as_json(capsys, demo_root)
    assert code == 0
    assert set(doc) >= {"motqa", "source", "valid", "counts", "sequences", "findings"}
    assert doc["valid"] is True and doc["counts"] == {"error": 0, "warning": 0, "info": 0}
    seqs = {s["label"]: s for s in doc["sequences"]}
    assert seqs["train/DEMO-01"]["frames"] == 16 and seqs["train/DEMO-01"]["boxes"] > 0
    assert seqs["test/DEMO-03"]["boxes"] == 0
    assert {"name", "frames", "boxes", "tracks"} <= set(seqs["train/DEMO-02"])


ERROR_DEFECTS = [d for d in DEFECTS if CHECKS[d].severity.name == "ERROR"]
WARNING_DEFECTS = [d for d in DEFECTS if CHECKS[d].severity.name == "WARNING"]


@pytest.mark.parametrize("defect", ERROR_DEFECTS)
def test_each_defect_fails_at_its_place(defect: str, make_demo, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, place = make_demo(defect)
    code, doc = as_json(capsys, root)
    assert code == 1 and doc["valid"] is False
    hits = [f for f in doc["findings"] if f["check"] == defect]
    assert hits, doc["findings"]
    got = {k: hits[0][k] for k in ("sequence", "file", "line", "frame", "track_id")}
    assert got == place.as_dict()
    assert hits[0]["severity"] == "error" and hits[0]["message"]


@pytest.mark.parametrize("defect", WARNING_DEFECTS)
def test_warning_defects_pass_unless_fail_on_warning(defect: str, make_demo, capsys) -> None:  # type: ignore[no-untyped-def]
    root, place = make_demo(defect)
    code, doc = as_json(capsys, root)
    assert code == 0 and [f["check"] for f in doc["findings"]] == [defect]
    assert doc["findings"][0]["file"] == place.file
    code, _ = as_json(capsys, root, "--fail-on", "warning")
    assert code == 1


def test_text_output_names_place(make_demo, capsys) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("duplicate-id")
    code, out, _ = validate(capsys, root)
    assert code == 1
    assert "duplicate-id" in out and "train/DEMO-02 gt/gt.txt:" in out and "FAILED" in out


def test_junit(make_demo, capsys) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("box-size")
    code, out, _ = validate(capsys, root, "--format", "junit")
    assert code == 1
    suite = ET.fromstring(out).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [("train/DEMO-02", "box-size")]


def test_github_annotations(make_demo, capsys) -> None:  # type: ignore[no-untyped-def]
    root, place = make_demo("conf-flag")
    code, out, _ = validate(capsys, root, "--format", "github")
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("::error"))
    assert f"file={root}/train/DEMO-02/gt/gt.txt" in line and f"line={place.line}" in line
    assert "title=motqa conf-flag" in line


def test_select_ignore(make_demo, capsys) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("box-size")
    assert validate(capsys, root, "--ignore", "box-size")[0] == 0
    assert validate(capsys, root, "--select", "duplicate-id,conf-flag")[0] == 0
    assert validate(capsys, root, "--select", "box-*")[0] == 1
    code, _, err = validate(capsys, root, "--select", "box-sise")
    assert code == 2 and "unknown check id 'box-sise'" in err


def test_pyproject_settings(make_demo, capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("box-size")
    (tmp_path / "pyproject.toml").write_text('[tool.motqa]\nignore = ["box-size"]\nimages = "skip"\n')
    monkeypatch.chdir(tmp_path)
    assert validate(capsys, root)[0] == 0
    assert validate(capsys, root, "--ignore", "track-gap")[0] == 1  # the command line wins
    (tmp_path / "pyproject.toml").write_text('[tool.motqa]\nfail_on = "sometimes"\n')
    code, _, err = validate(capsys, root)
    assert code == 2 and "sometimes" in err
    (tmp_path / "pyproject.toml").write_text('[tool.motqa]\nfial-on = "warning"\n')
    code, _, err = validate(capsys, root)
    assert code == 2 and "fial-on" in err


def test_images_modes(make_demo, capsys) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("image-unreadable")
    assert validate(capsys, root, "--images", "skip")[0] == 0
    assert validate(capsys, root, "--images", "header")[0] == 1
    assert validate(capsys, root, "--images", "decode")[0] == 1


def test_cannot_run_is_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = validate(capsys, tmp_path / "missing")
    assert code == 2 and "no such path" in err and out == ""
    (tmp_path / "f").write_text("x")
    assert validate(capsys, tmp_path / "f")[0] == 2


def test_empty_folder_fails(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, doc = as_json(capsys, tmp_path)
    assert code == 1 and doc["findings"][0]["check"] == "no-sequences"


def test_output_file(demo_root: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.json"
    assert validate(capsys, demo_root, "--format", "json", "-o", out)[0] == 0
    assert json.loads(out.read_text())["valid"] is True


def test_demo_refuses_non_empty_folder(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x").write_text("keep me")
    assert run(["demo", str(tmp_path)]) == 2
    assert (tmp_path / "x").read_text() == "keep me"


def test_real_mot17_lines_pass(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # MOT17-02's lines in a two-frame sequence of a name MOT17 has not published (the published
    # MOT17-02-FRCNN's 600 frames would be compared otherwise: tests/test_published.py)
    seq = tmp_path / "MOT17" / "train" / "MOT17-15-FRCNN"
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    for k in (1, 2):
        Image.new("RGB", (1920, 1080), (k * 40, 90, 90)).save(seq / "img1" / f"{k:06d}.jpg", quality=60)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=MOT17-15-FRCNN\nimDir=img1\nframeRate=30\n"
                                     "seqLength=2\nimWidth=1920\nimHeight=1080\nimExt=.jpg\n")
    (seq / "gt" / "gt.txt").write_text("1,1,912,484,97,109,0,7,1\n2,1,912,484,97,109,0,7,1\n"
                                       "1,4,1585,-1,336,578,0,9,0.98153\n2,4,1586,-1,336,578,0,9,0.97\n")
    code, doc = as_json(capsys, tmp_path / "MOT17")
    assert code == 0 and doc["findings"] == [] and doc["sequences"][0]["boxes"] == 4


def test_console_script_no_traceback(make_demo) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("parse-error")
    proc = subprocess.run([sys.executable, "-m", "motqa", "validate", str(root), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert "parse-error" in proc.stdout


def test_checks_command_lists_ids(capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["checks"]) == 0
    out = capsys.readouterr().out
    assert all(check in out for check in CHECKS)


def test_progress_only_when_enabled() -> None:
    import io

    from motqa.progress import Progress

    stream = io.StringIO()
    bar = Progress(True, stream).bar("decode", 3)
    bar(3)
    assert "decode 3/3" in stream.getvalue()
    quiet = io.StringIO()
    Progress(False, quiet).bar("decode", 3)(3)
    assert quiet.getvalue() == ""


def test_github_path_when_given_one_sequence(make_demo, capsys) -> None:  # type: ignore[no-untyped-def]
    root, place = make_demo("conf-flag")
    seq_dir = root / "train" / "DEMO-02"
    code, out, _ = validate(capsys, seq_dir, "--format", "github")
    assert code == 1 and f"file={seq_dir}/gt/gt.txt,line={place.line}" in out


def test_severity_overrides(make_demo, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("box-size")
    code, doc = as_json(capsys, root, "--severity", "box-size=warning")
    assert code == 0 and [(f["check"], f["severity"]) for f in doc["findings"]] == [("box-size", "warning")]
    assert as_json(capsys, root, "--severity", "box-*=warning", "--fail-on", "warning")[0] == 1
    (tmp_path / "cwd.toml").write_text('[tool.motqa.severity]\nbox-size = "info"\n')
    code, doc = as_json(capsys, root, "--config", str(tmp_path / "cwd.toml"))
    assert code == 0 and doc["findings"][0]["severity"] == "info" and doc["counts"]["info"] == 1
    code, doc = as_json(capsys, root, "--config", str(tmp_path / "cwd.toml"), "--severity", "box-size=error")
    assert code == 1  # the command line wins
    code, _, err = validate(capsys, root, "--severity", "box-size=loud")
    assert code == 2 and "severity of box-size" in err
    code, _, err = validate(capsys, root, "--severity", "box-sise=info")
    assert code == 2 and "unknown check id 'box-sise'" in err


def test_images_skip_says_what_did_not_run(demo_root: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, doc = as_json(capsys, demo_root, "--images", "skip")
    assert code == 0 and set(doc["not_run"]) == {"image-unreadable", "image-format", "image-size-mismatch",
                                                 "frame-size-varies"}
    code, doc = as_json(capsys, demo_root, "--images", "header")
    assert code == 0 and doc["not_run"] == {}
    assert run(["validate", str(demo_root), "--images", "skip"]) == 0
    assert "not run: image-unreadable" in capsys.readouterr().out


def test_checks_command_explains_every_id(capsys) -> None:  # type: ignore[no-untyped-def]
    for check in CHECKS.values():
        assert run(["checks", check.id]) == 0
        page = capsys.readouterr().out
        assert page.startswith(f"{check.id} ({check.severity}): {check.summary}") and f"reads: {check.reads}" in page
    assert run(["checks", "box-outside"]) == 2
    assert "did you mean box-outside-image" in capsys.readouterr().err
