"""`motqa results`: a tracker's result folder or zip against a demo gt or a benchmark's sequences.
Each planted defect is found at its place; correct results get silence; a zip and a folder give
the same findings; garbage gets a finding or a usage error, never a traceback; nothing is changed."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from motqa.cli import run
from motqa.demo import write_demo, write_results
from motqa.gate import GateConfig
from motqa.profiles import profiles, published
from motqa.sources.mot_files import parse_annotations
from tests.conftest import small_sequences

Findings = list[dict[str, Any]]


@pytest.fixture
def gt_and_results(tmp_path: Path) -> tuple[Path, Path]:
    """A demo download (DEMO-01: 16 frames, DEMO-02: 12, DEMO-03: 12, 160x120) and a perfect
    tracker's result folder for it."""
    seqs = small_sequences()
    write_demo(tmp_path / "mot", sequences=seqs)
    write_results(tmp_path / "data", seqs)
    return tmp_path / "mot", tmp_path / "data"


def lint(results: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Findings]:
    code = run(["results", str(results), *args, "--format", "json", "-q"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    if code == 2:
        return code, []
    return code, json.loads(out.out)["findings"]


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, prefix + p.name)
    return target


def only(findings: Findings, check: str) -> dict[str, Any]:
    """The one finding of `check`, and no finding of any other check."""
    assert [f["check"] for f in findings] == [check], findings
    return findings[0]


def test_correct_results_pass_in_silence(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    assert lint(data, "--gt", str(gt), capsys=capsys) == (0, [])
    assert lint(zip_folder(data, tmp_path / "sub.zip"), "--gt", str(gt), capsys=capsys) == (0, [])


# ------------------------------------------------------------------------ planted defects


def shift_to_zero(data: Path) -> dict[str, Any]:
    p = data / "DEMO-01.txt"
    write_lines(p, [f"{int(line.split(',')[0]) - 1}," + line.split(",", 1)[1] for line in lines_of(p)])
    return {"check": "result-zero-based", "file": "DEMO-01.txt", "line": 1, "frame": 0, "in": "write frame + 1"}


def past_length(data: Path) -> dict[str, Any]:
    p = data / "DEMO-01.txt"
    lines = lines_of(p)
    write_lines(p, [*lines, "17,0,10.00,10.00,20.00,40.00,1.0,-1,-1,-1"])
    return {"check": "result-frame-range", "file": "DEMO-01.txt", "line": len(lines) + 1, "frame": 17,
            "in": "past seqLength 16"}


def duplicate_id(data: Path) -> dict[str, Any]:
    p = data / "DEMO-02.txt"
    lines = lines_of(p)
    frame, track = (int(x) for x in lines[4].split(",")[:2])
    write_lines(p, [*lines, lines[4]])
    return {"check": "result-duplicate-id", "file": "DEMO-02.txt", "line": len(lines) + 1, "frame": frame,
            "track_id": track, "in": f"lines 5 and {len(lines) + 1}"}


def nan_width(data: Path) -> dict[str, Any]:
    p = data / "DEMO-02.txt"
    lines = lines_of(p)
    cells = lines[2].split(",")
    cells[4] = "nan"
    lines[2] = ",".join(cells)
    write_lines(p, lines)
    return {"check": "result-malformed", "file": "DEMO-02.txt", "line": 3, "in": "field 5 is nan"}


def missing(data: Path) -> dict[str, Any]:
    (data / "DEMO-02.txt").unlink()
    return {"check": "result-missing", "sequence": "train/DEMO-02", "file": "DEMO-02.txt", "in": "no result file"}


def extra(data: Path) -> dict[str, Any]:
    (data / "OTHER-77.txt").write_text("1,0,1,1,5,5,1,-1,-1,-1\n")
    return {"check": "result-extra", "file": "OTHER-77.txt", "in": "answers no sequence"}


def misnamed(data: Path) -> dict[str, Any]:
    (data / "DEMO-02.txt").rename(data / "DEMO-2.txt")
    return {"check": "result-misnamed", "file": "DEMO-2.txt", "sequence": "train/DEMO-02",
            "in": "did you mean DEMO-02.txt?"}


def negative_id(data: Path) -> dict[str, Any]:
    p = data / "DEMO-01.txt"
    lines = lines_of(p)
    lines[5] = lines[5].split(",")[0] + ",-1," + lines[5].split(",", 2)[2]
    write_lines(p, lines)
    return {"check": "result-id-negative", "file": "DEMO-01.txt", "line": 6, "track_id": -1, "in": "negative"}


def zero_height(data: Path) -> dict[str, Any]:
    p = data / "DEMO-01.txt"
    lines = lines_of(p)
    cells = lines[7].split(",")
    cells[5] = "0.00"
    lines[7] = ",".join(cells)
    write_lines(p, lines)
    return {"check": "result-box-size", "file": "DEMO-01.txt", "line": 8, "in": "box height is 0"}


def outside(data: Path) -> dict[str, Any]:
    p = data / "DEMO-01.txt"
    lines = lines_of(p)
    cells = lines[7].split(",")
    cells[2] = "400.00"  # the picture is 160 wide
    lines[7] = ",".join(cells)
    write_lines(p, lines)
    return {"check": "result-box-outside", "file": "DEMO-01.txt", "line": 8, "in": "wholly outside the 160x120"}


def class_field(data: Path) -> dict[str, Any]:
    p = data / "DEMO-01.txt"
    lines = lines_of(p)
    lines[3] = lines[3].replace(",1.0,-1,-1,-1", ",1.0,3,-1,-1")
    write_lines(p, lines)
    return {"check": "result-class", "file": "DEMO-01.txt", "line": 4, "in": "field 8 is 3"}


def empty(data: Path) -> dict[str, Any]:
    (data / "DEMO-03.txt").write_text("")
    return {"check": "result-empty", "file": "DEMO-03.txt", "sequence": "test/DEMO-03", "in": "is empty"}


def unanswered(data: Path) -> dict[str, Any]:
    p = data / "DEMO-01.txt"
    write_lines(p, [line for line in lines_of(p) if int(line.split(",")[0]) not in (7, 8, 9)])
    return {"check": "result-frames-empty", "file": "DEMO-01.txt", "frame": 7, "in": "3 frames where gt has boxes "
            "(frames 7-9)"}


DEFECTS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "frame 0 file": shift_to_zero, "frame past seqLength": past_length, "duplicate id": duplicate_id,
    "NaN width": nan_width, "missing sequence": missing, "extra file": extra, "misnamed file": misnamed,
    "negative id": negative_id, "zero height": zero_height, "box outside": outside, "class field": class_field,
    "empty file": empty, "frames unanswered": unanswered,
}


def assert_at(found: dict[str, Any], want: dict[str, Any]) -> None:
    for key, value in want.items():
        if key == "in":
            assert value in found["message"], found
        else:
            assert found[key] == value, (key, found)


@pytest.mark.parametrize("name", DEFECTS)
def test_each_defect_is_found_at_its_place(name: str, gt_and_results: tuple[Path, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    want = DEFECTS[name](data)
    code, findings = lint(data, "--gt", str(gt), capsys=capsys)
    found = only(findings, want["check"])
    assert_at(found, want)
    assert code == (1 if found["severity"] == "error" else 0)


@pytest.mark.parametrize("name", DEFECTS)
def test_a_zip_and_a_folder_give_the_same_findings(name: str, gt_and_results: tuple[Path, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    DEFECTS[name](data)
    _, from_folder = lint(data, "--gt", str(gt), capsys=capsys)
    _, from_zip = lint(zip_folder(data, tmp_path / "sub.zip"), "--gt", str(gt), capsys=capsys)
    assert from_zip == from_folder and from_folder


def test_trackeval_layout(gt_and_results: tuple[Path, Path], tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    """TrackEval's data/gt/mot_challenge/<BENCH>-train/<SEQ>/{seqinfo.ini, gt/gt.txt} (no frames)
    and data/trackers/mot_challenge/<BENCH>-train/<TRACKER>/data/<SEQ>.txt."""
    gt, data = gt_and_results
    te_gt = tmp_path / "TrackEval" / "data" / "gt" / "mot_challenge" / "DEMO-train"
    for seq in ("DEMO-01", "DEMO-02"):
        (te_gt / seq / "gt").mkdir(parents=True)
        shutil.copy(gt / "train" / seq / "seqinfo.ini", te_gt / seq / "seqinfo.ini")
        shutil.copy(gt / "train" / seq / "gt" / "gt.txt", te_gt / seq / "gt" / "gt.txt")
    tracker = tmp_path / "TrackEval" / "data" / "trackers" / "mot_challenge" / "DEMO-train" / "MyTracker" / "data"
    tracker.mkdir(parents=True)
    for seq in ("DEMO-01", "DEMO-02"):
        shutil.copy(data / f"{seq}.txt", tracker / f"{seq}.txt")
    assert lint(tracker, "--gt", str(tmp_path / "TrackEval" / "data" / "gt"), capsys=capsys) == (0, [])
    past_length(tracker)
    code, findings = lint(tracker, "--gt", str(tmp_path / "TrackEval" / "data" / "gt"), capsys=capsys)
    assert code == 1 and only(findings, "result-frame-range")["sequence"] == "mot_challenge/DEMO-train/DEMO-01"


def test_files_inside_a_folder_of_the_zip(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    code, findings = lint(zip_folder(data, tmp_path / "sub.zip", "data/"), "--gt", str(gt), capsys=capsys)
    found = only(findings, "result-in-folder")
    assert code == 1 and found["file"] == "data/DEMO-01.txt"
    assert "3 result files are in folder data/" in found["message"]


def test_a_result_folder_one_level_up_is_said_as_such(gt_and_results: tuple[Path, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Pointed at <TRACKER>/ instead of <TRACKER>/data/: the files are found, in a folder."""
    gt, data = gt_and_results
    tracker = data.parent / "MyTracker"
    tracker.mkdir()
    data.rename(tracker / "data")
    code, findings = lint(tracker, "--gt", str(gt), capsys=capsys)
    assert code == 1 and only(findings, "result-in-folder")["file"] == "data/DEMO-01.txt"


def test_zip_members_not_text_and_duplicated(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    target = zip_folder(data, tmp_path / "sub.zip")
    with zipfile.ZipFile(target, "a") as zf:
        zf.writestr("notes.json", "{}")
        zf.writestr("old/DEMO-01.txt", "1,0,1,1,5,5,1,-1,-1,-1\n")
    code, findings = lint(target, "--gt", str(gt), capsys=capsys)
    by_check = {f["check"]: f for f in findings}
    assert set(by_check) == {"result-not-text", "result-duplicate"}, findings  # no in-folder on top
    assert by_check["result-not-text"]["file"] == "notes.json"
    assert by_check["result-duplicate"]["file"] == "old/DEMO-01.txt"
    assert "the first is DEMO-01.txt" in by_check["result-duplicate"]["message"]
    assert code == 1


def test_a_macos_zip_is_one_not_text_finding(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """macOS's Archive Utility adds __MACOSX/._NAME for every file: one folded finding, no extras."""
    gt, data = gt_and_results
    target = zip_folder(data, tmp_path / "sub.zip")
    with zipfile.ZipFile(target, "a") as zf:
        for n in range(12):
            zf.writestr(f"__MACOSX/._SEQ-{n}.txt", b"\x00\x05\x16\x07")
        zf.writestr("._DEMO-01.txt", b"\x00\x05\x16\x07")
    code, findings = lint(target, "--gt", str(gt), capsys=capsys)
    found = only(findings, "result-not-text")
    assert code == 0 and found["count"] == 13 and found["file"] == "._DEMO-01.txt"


def test_the_same_name_twice_in_a_zip(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    target = zip_folder(data, tmp_path / "sub.zip")
    with pytest.warns(UserWarning), zipfile.ZipFile(target, "a") as zf:
        zf.writestr("DEMO-02.txt", "1,0,1,1,5,5,1,-1,-1,-1\n")
    _, findings = lint(target, "--gt", str(gt), capsys=capsys)
    found = only(findings, "result-duplicate")
    assert found["file"] == "DEMO-02.txt" and found["sequence"] == "train/DEMO-02"


# ------------------------------------------------------------------------ benchmark facts


def mot17_folder(folder: Path, split: str) -> list[str]:
    """One small valid result per MOT17 sequence of the split (names only; rows in range)."""
    names = [p.sequence for (b, _), p in published().items() if b == "MOT17" and p.split == "train"]
    if split in ("test", "all"):
        names = ([] if split == "test" else names) + list(profiles()["MOT17"].test_sequences)
    folder.mkdir()
    for n in names:
        (folder / f"{n}.txt").write_text("1,0,100.5,200.25,40.0,90.0,0.9,-1,-1,-1\n")
    return names


def test_mot17_server_zip_wants_42_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = mot17_folder(tmp_path / "data", "all")
    assert len(names) == 42
    target = zip_folder(tmp_path / "data", tmp_path / "sub.zip")
    assert lint(target, "--benchmark", "MOT17", "--split", "all", capsys=capsys) == (0, [])
    _, findings = lint(tmp_path / "data", "--benchmark", "MOT17", "--split", "test", capsys=capsys)
    assert {f["check"] for f in findings} == {"result-extra"} and len(findings) == 21  # the train files


def test_mot17_misnamed_file_names_the_detector_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mot17_folder(tmp_path / "data", "train")
    for d in ("DPM", "FRCNN", "SDP"):
        (tmp_path / "data" / f"MOT17-02-{d}.txt").unlink()
    (tmp_path / "data" / "MOT17-02.txt").write_text("1,0,100.5,200.25,40.0,90.0,0.9,-1,-1,-1\n")
    code, findings = lint(tmp_path / "data", "--benchmark", "MOT17", "--split", "train", capsys=capsys)
    found = only(findings, "result-misnamed")
    assert code == 1 and found["file"] == "MOT17-02.txt"
    assert "MOT17-02-FRCNN.txt" in found["message"] and "MOT17-02-DPM.txt" in found["message"]


def test_published_seq_length_bounds_the_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mot17_folder(tmp_path / "data", "train")
    (tmp_path / "data" / "MOT17-05-SDP.txt").write_text("1,0,1,1,5,5,1,-1,-1,-1\n838,1,1,1,5,5,1,-1,-1,-1\n")
    _, findings = lint(tmp_path / "data", "--benchmark", "MOT17", "--split", "train", capsys=capsys)
    found = only(findings, "result-frame-range")
    assert (found["sequence"], found["line"], found["frame"]) == ("train/MOT17-05-SDP", 2, 838)
    assert "past seqLength 837" in found["message"]


def test_mot20_test_wants_its_four_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").mkdir()
    for s in ("04", "06", "07"):
        (tmp_path / "data" / f"MOT20-{s}.txt").write_text("5,3,1,1,5,5,1,-1,-1,-1\n")
    code, findings = lint(tmp_path / "data", "--benchmark", "MOT20", "--split", "test", capsys=capsys)
    found = only(findings, "result-missing")
    assert code == 1 and found["sequence"] == "test/MOT20-08" and found["file"] == "MOT20-08.txt"


# ------------------------------------------------------------------------ robustness


GARBAGE = {
    "binary": b"\x00\xff\xfe" * 500,
    "words": b"frame,id,left,top\nhello world\n",
    "six fields": b"1,0,1,1,5,5\n",
    "one huge line": b"1," * 50_000,
    "mixed widths": b"1,0,1,1,5,5,1,-1,-1,-1\n2,0,1,1,5,5,1\n3,0,1,1,5,5,1,-1,-1,-1\n",
}


@pytest.mark.parametrize("name", GARBAGE)
def test_garbage_is_a_finding_not_a_traceback(name: str, gt_and_results: tuple[Path, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    (data / "DEMO-01.txt").write_bytes(GARBAGE[name])
    for target in (data, zip_folder(data, tmp_path / "sub.zip")):
        code, findings = lint(target, "--gt", str(gt), capsys=capsys)
        assert code == 1
        assert {f["check"] for f in findings if f["severity"] != "info"} == {"result-malformed"}
        assert all(f["file"] == "DEMO-01.txt" for f in findings)  # info: the frames a dropped line leaves empty


def test_a_broken_zip_is_one_finding(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    whole = zip_folder(data, tmp_path / "sub.zip").read_bytes()
    (tmp_path / "cut.zip").write_bytes(whole[: len(whole) // 2])
    code, findings = lint(tmp_path / "cut.zip", "--gt", str(gt), capsys=capsys)
    assert code == 1 and only(findings, "result-unreadable")["file"] == "cut.zip"
    (tmp_path / "notes.txt").write_text("not a zip")
    code, findings = lint(tmp_path / "notes.txt", "--gt", str(gt), capsys=capsys)
    assert code == 1 and only(findings, "result-unreadable")["file"] == "notes.txt"


def test_a_member_that_does_not_decompress(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    target = tmp_path / "sub.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(data.iterdir()):
            zf.write(p, p.name)
    raw = bytearray(target.read_bytes())
    with zipfile.ZipFile(target) as zf:
        info = zf.getinfo("DEMO-02.txt")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start:start + 8] = b"\xff" * 8  # the member's deflate stream, broken
    target.write_bytes(bytes(raw))
    code, findings = lint(target, "--gt", str(gt), capsys=capsys)
    found = only(findings, "result-unreadable")
    assert code == 1 and found["file"] == "DEMO-02.txt" and found["sequence"] == "train/DEMO-02"


@pytest.mark.parametrize("args", [
    [],  # neither --gt nor --benchmark
    ["--benchmark", "MOT17"],  # no --split
    ["--gt", "GT", "--benchmark", "MOT17", "--split", "test"],
    ["--gt", "GT", "--split", "test"],
    ["--benchmark", "NOPE", "--split", "test"],
    ["--gt", "NOWHERE"],
    ["--gt", "EMPTY"],
    ["--select", "result-nope", "--gt", "GT"],
])
def test_usage_errors_exit_2(args: list[str], gt_and_results: tuple[Path, Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    (tmp_path / "empty").mkdir()
    subst = {"GT": str(gt), "NOWHERE": str(tmp_path / "nowhere"), "EMPTY": str(tmp_path / "empty")}
    code = run(["results", str(data), *[subst.get(a, a) for a in args], "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("motqa: ") and "Traceback" not in err


def test_no_such_results_path_exits_2(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    gt, _ = gt_and_results
    assert run(["results", str(tmp_path / "nope"), "--gt", str(gt), "-q"]) == 2
    assert "no such path" in capsys.readouterr().err


def digest(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_files_are_never_changed(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    shift_to_zero(data)
    duplicate_id(data)
    target = zip_folder(data, tmp_path / "sub.zip")
    before = digest(tmp_path)
    lint(data, "--gt", str(gt), capsys=capsys)
    lint(target, "--gt", str(gt), capsys=capsys)
    assert digest(tmp_path) == before


# ------------------------------------------------------------------------ options and the model


def test_output_options_and_fail_on(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    extra(data)
    assert run(["results", str(data), "--gt", str(gt), "-q", "--fail-on", "warning"]) == 1
    assert run(["results", str(data), "--gt", str(gt), "-q", "--ignore", "result-extra", "--fail-on", "warning"]) == 0
    assert run(["results", str(data), "--gt", str(gt), "-q", "--severity", "result-extra=error"]) == 1
    out = tmp_path / "out.xml"
    assert run(["results", str(data), "--gt", str(gt), "-q", "--format", "junit", "-o", str(out)]) == 0
    assert "result-extra" in out.read_text()
    capsys.readouterr()
    assert run(["results", str(data), "--gt", str(gt), "-q", "--format", "github"]) == 0
    assert "result-extra" in capsys.readouterr().out
    duplicate_id(data)
    assert run(["results", str(data), "--gt", str(gt), "-q", "--format", "github"]) == 1
    annotation = next(line for line in capsys.readouterr().out.splitlines() if "result-duplicate-id" in line)
    assert annotation.startswith(f"::error file={data / 'DEMO-02.txt'},line=")  # the result file, not the gt


def test_a_comma_at_the_end_of_each_line_is_what_trackeval_reads(gt_and_results: tuple[Path, Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    p = data / "DEMO-01.txt"
    write_lines(p, [line + "," for line in lines_of(p)])
    assert lint(data, "--gt", str(gt), capsys=capsys) == (0, [])
    write_lines(p, [line + ",x" for line in lines_of(p)])
    assert {f["check"] for f in lint(data, "--gt", str(gt), capsys=capsys)[1]} == {"result-malformed"}


def test_the_json_counts_the_result_rows(gt_and_results: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    gt, data = gt_and_results
    assert run(["results", str(data), "--gt", str(gt), "--format", "json", "-q"]) == 0
    sequences = {s["label"]: s for s in json.loads(capsys.readouterr().out)["sequences"]}
    rows = len(lines_of(data / "DEMO-01.txt"))
    assert (sequences["train/DEMO-01"]["result_boxes"], sequences["train/DEMO-01"]["result_ids"]) == (rows, 8)


def test_result_checks_run_only_in_results() -> None:
    assert not any(c.startswith("result-") for c in GateConfig().plan().selected)
    chosen = GateConfig(results=True).plan().selected
    assert chosen and all(c.startswith("result-") for c in chosen)


def test_result_widths_are_what_trackeval_reads() -> None:
    for width in (7, 8, 9, 10):
        ann, found = parse_annotations(b",".join([b"1", b"0", b"1.5", b"2", b"3", b"4", b"0.9"]
                                                 + [b"-1"] * (width - 7)) + b"\n", "result", "S", "S.txt")
        assert found == [] and ann.columns == width and list(ann.rows["id"]) == [0]
    _, found = parse_annotations(b"1,0,1,1,5,5\n", "result", "S", "S.txt")
    assert [f.message for f in found] == ["6 fields; a result line has 7 to 10 (MOTChallenge writes 10)"]


def test_an_id_back_after_long_absence_is_info(gt_and_results: tuple[Path, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Against --benchmark facts (MOT17-05: 837 frames at 14 fps, so 140 frames is the limit)."""
    _, data = gt_and_results
    folder = data.parent / "m17"
    mot17_folder(folder, "train")
    (folder / "MOT17-05-SDP.txt").write_text("1,4,1,1,5,5,1,-1,-1,-1\n100,4,1,1,5,5,1,-1,-1,-1\n"
                                             "300,4,1,1,5,5,1,-1,-1,-1\n")
    code, findings = lint(folder, "--benchmark", "MOT17", "--split", "train", capsys=capsys)
    found = only(findings, "result-id-reused")
    assert code == 0 and (found["line"], found["frame"], found["track_id"]) == (3, 300, 4)
    assert "after 199 frames away (last seen at frame 100)" in found["message"]


# ------------------------------------------------------------------------ the catalog's examples


def filler(n: int, ids: int = 1, start: int = 1) -> list[str]:
    """`n` valid rows: ids 100.. each in every frame from `start`, so no id leaves and returns."""
    return [f"{start + k // ids},{100 + k % ids},10.0,10.0,50.0,100.0,0.9,-1,-1,-1" for k in range(n)]


def rows(lines: list[str], name: str = "MOT17-02-FRCNN") -> Callable[[Path], Path]:
    """A plant that writes `lines` as the sequence's result file."""
    def plant(folder: Path) -> Path:
        write_lines(folder / f"{name}.txt", lines)
        return folder
    return plant


def drop_dpm(folder: Path) -> Path:
    (folder / "MOT17-02-DPM.txt").unlink()
    return folder


def undetectored(folder: Path) -> Path:
    for d in ("DPM", "FRCNN", "SDP"):
        (folder / f"MOT17-02-{d}.txt").unlink()
    write_lines(folder / "MOT17-02.txt", ["1,0,1,1,5,5,1,-1,-1,-1"])
    return folder


def cut_zip(folder: Path) -> Path:
    whole = zip_folder(folder, folder.parent / "results.zip").read_bytes()
    (folder.parent / "cut.zip").write_bytes(whole[:2000])
    return folder.parent / "cut.zip"


ROW = "1.0,1.0,9.0,9.0,0.9,-1,-1,-1"
EXAMPLES: dict[str, Callable[[Path], Path]] = {
    "result-zero-based": rows([f"{f},0,{ROW}" for f in range(600)]),
    "result-frame-range": rows([*filler(309), "601,4,912.3,484.1,97.5,109.2,0.9,-1,-1,-1"]),
    "result-duplicate-id": rows([*filler(39), f"5,8,{ROW}", f"5,8,{ROW}"]),
    "result-id-reused": rows([*[f"{f},3,{ROW}" for f in range(1, 41)], *filler(2770, ids=10), f"420,3,{ROW}"]),
    "result-box-outside": rows([*filler(21), "4,2,2100.0,300.0,50.0,100.0,0.8,-1,-1,-1"]),
    "result-class": rows([*filler(11), "3,7,10.0,20.0,30.0,60.0,0.9,3,-1,-1"]),
    "result-box-size": rows([*filler(3), "1,3,500.0,300.0,0.0,80.0,0.8,-1,-1,-1"]),
    "result-id-negative": rows([*filler(8), "2,-1,100.0,200.0,40.0,90.0,0.7,-1,-1,-1"]),
    "result-malformed": rows([*filler(6), "3,12,nan,55.1,40.2,80.0,0.9,-1,-1,-1"]),
    "result-empty": rows([], "MOT17-05-FRCNN"),
    "result-missing": drop_dpm,
    "result-misnamed": undetectored,
    "result-extra": rows(["1,0,1,1,5,5,1,-1,-1,-1"], "MOT20-01"),
    "result-in-folder": lambda folder: zip_folder(folder, folder.parent / "results.zip", "data/"),
    "result-unreadable": cut_zip,
}


@pytest.mark.parametrize("cid", EXAMPLES)
def test_result_examples_are_what_motqa_prints(cid: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The catalog's example finding of each result check is the line motqa prints for it."""
    from motqa.catalog import CHECKS
    from tests.test_catalog import finding_lines

    mot17_folder(tmp_path / "data", "train")
    target = EXAMPLES[cid](tmp_path / "data")
    run(["results", str(target), "--benchmark", "MOT17", "--split", "train", "-q"])
    printed = capsys.readouterr().out.splitlines()
    quoted = [line for line, _, check in finding_lines(CHECKS[cid].example) if check == cid]
    assert quoted
    for line in quoted:
        assert line in printed, "\n".join(printed)


def test_report_draws_the_tracker_boxes(gt_and_results: tuple[Path, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """--report: sampled frames of the gt with the tracker's boxes drawn (coloured by id), boxes
    per frame beside gt's, the result's track lengths; a duplicated id marked at its frame."""
    gt, data = gt_and_results
    lines = lines_of(data / "DEMO-01.txt")
    write_lines(data / "DEMO-01.txt", [*lines, lines[0]])  # frame 1: the first box twice
    report = tmp_path / "results.html"
    code, found = lint(data, "--gt", str(gt), "--report", str(report), capsys=capsys)
    assert code == 1 and "result-duplicate-id" in {f["check"] for f in found}
    html = report.read_text(encoding="utf-8")
    assert "Result boxes per frame" in html and "gt, counted" in html and "Track lengths" in html
    figures = re.findall(r"<figure.*?</figure>", html, re.S)
    assert len(figures) >= 3 and any("result-duplicate-id" in f for f in figures)  # its frame, sampled
