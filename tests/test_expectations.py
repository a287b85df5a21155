"""The Great Expectations suites: the shipped ones pass on clean data and fail at the right place,
a team's suites run and a broken one stops the command with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from motqa.cli import run
from motqa.expectations.run import ExpectationRun
from motqa.expectations.suites import SHIPPED_DIR, TARGETS, load_suites
from motqa.findings import FOLD_AT
from motqa.gate import GateConfig, GateResult, run_gate
from motqa.model import Finding, MotDataset, Sequence, SequenceRef, Severity

from .helpers import sequence

# MOT17-02-style gt: a static person with conf 0 (class 7), an amodal occluder above the top
# edge, pedestrians of several sizes.
MOT17_GT = [
    "{f},1,912,484,97,109,0,7,1",
    "{f},2,1338,418,167,379,1,1,1",
    "{f},3,586,447,85,263,1,1,1",
    "{f},4,1585,-1,336,578,0,9,0.98153",
    "{f},5,1000,500,60,150,1,1,0.5",
]
# DPM detections as in MOT16/MOT17-*-DPM: scores are SVM margins, negative or above 1.
DPM_DET = [
    "{f},-1,1359.1,413.27,120.26,362.77,2.3092,-1,-1,-1",
    "{f},-1,571.03,402.13,104.56,315.68,1.5028,-1,-1,-1",
    "{f},-1,650.8,455.86,63.98,193.94,-0.36123,-1,-1,-1",
    "{f},-1,721.23,446.86,41.871,127.61,0.3,-1,-1,-1",
]
FRAMES = 12  # more than FOLD_AT: a row expectation failing on every frame folds


def lines(template: list[str], frames: int = FRAMES) -> str:
    """Ordered by track, then frame, as MOT17 writes gt."""
    return "".join(row.format(f=f) + "\n" for row in template for f in range(1, frames + 1))


def mot17(gt: str | None = None, det: str | None = None, **kw: Any) -> Sequence:
    kw = {"length": FRAMES, "width": 1920, "height": 1080, **kw}
    return sequence(lines(MOT17_GT) if gt is None else gt, det=lines(DPM_DET) if det is None else det, **kw)


def gate(*seqs: Sequence, **cfg: Any) -> GateResult:
    ds = MotDataset("memory", "mot-folder", [SequenceRef(s.name, s.split, lambda s=s: s) for s in seqs])
    return run_gate(ds, GateConfig(images="skip", **cfg))


def gx(result: GateResult, check: str | None = None) -> list[Finding]:
    return [f for f in result.findings if f.check.startswith("gx-") and (check is None or f.check == check)]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if line.startswith(needle))


# ------------------------------------------------------------------------------ shipped suites


def test_shipped_suites_say_what_and_why() -> None:
    suites = load_suites([], shipped=True)
    assert {s.path.name for s in suites} >= {"gt_rows.json", "det_rows.json", "sequences.json"}
    assert {s.target for s in suites} == set(TARGETS)
    for suite in suites:
        for spec in suite.expectations:
            meta = spec.config["meta"]
            assert meta.get("id") and spec.check == "gx-" + meta["id"], spec.where
            assert len(spec.note) > 20, f"{spec.where}: meta.notes must say why it is there"
            assert meta.get("severity") in ("error", "warning", "info"), spec.where


def test_real_mot17_rows_pass() -> None:
    """conf=0 rows, amodal boxes and DPM scores are legal in MOT17: silence."""
    result = gate(mot17())
    assert gx(result) == [] and result.valid


def test_score_range_runs_where_scores_are_probabilities() -> None:
    """MOT20's public det scores lie in [0, 1]: DPM's margins there are named (info, folded)."""
    result = gate(mot17(), benchmark="MOT20")
    info = gx(result, "gx-det-score-unit-range")
    assert len(info) == 1 and info[0].count == 3 * FRAMES and info[0].place.file == "det/det.txt"
    assert info[0].severity == Severity.INFO and result.valid


def test_clean_demo_passes_with_every_suite(demo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["validate", str(demo_root), "--images", "skip", "--format", "json", "--fail-on", "info"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["findings"] == []
    ran = gate_folder(demo_root).checks_run
    assert {"gx-gt-box-pixels", "gx-det-no-track-id", "gx-seq-frame-rate"} <= set(ran)


def gate_folder(root: Path, **cfg: Any) -> GateResult:
    from motqa.sources.layout import discover

    return run_gate(discover(root), GateConfig(images="skip", **cfg))


# gt: (rows, checks, severity, the 1-based line of the first finding or None for the whole file)
PEDESTRIANS = ["{f},1,900,400,80,240,1,1,1", "{f},2,100,200,60,180,1,1,1"]
GT_FAILURES = {
    "normalised coordinates": (["{f},1,0.47,0.44,0.05,0.1,1,1,1", "{f},2,0.3,0.5,0.04,0.2,1,1,1"],
                               ["gx-gt-box-pixels", "gx-gt-box-width-pixels"], Severity.ERROR, None),
    "normalised widths only": (["{f},1,900,400,0.04,240,1,1,1", "{f},2,100,200,0.03,180,1,1,1"],
                               ["gx-gt-box-width-pixels"], Severity.ERROR, None),
    "LTRB instead of LTWH": (["{f},1,900,400,980,640,1,1,1", "{f},2,100,200,160,380,1,1,1"],
                             ["gx-gt-pedestrian-upright"], Severity.WARNING, 1),  # track 1 only: 980 > 640
    "no box evaluated": ([r.replace(",1,1,1", ",0,1,1") for r in PEDESTRIANS],
                         ["gx-gt-pedestrians-evaluated"], Severity.WARNING, 1),
}


@pytest.mark.parametrize("case", GT_FAILURES)
def test_gt_suite_fails(case: str) -> None:
    rows, checks, severity, first = GT_FAILURES[case]
    # boxes-normalised ignored: the suite itself is tested (in the gate its one finding replaces these)
    result = gate(sequence(lines(rows), length=FRAMES, width=1920, height=1080), ignore=["boxes-normalised"])
    found = gx(result)
    assert [f.check for f in found] == checks, found
    f = found[0]
    assert f.severity == severity and f.place.file == "gt/gt.txt" and f.place.line == first
    if first is not None:
        assert f.place.frame == 1 and f.place.track_id == 1 and f.count == FOUND_ROWS[case][0]
        assert [p.line for p in f.more] == list(range(2, FOLD_AT + 1))  # the first FOLD_AT places
        assert f"found {FOUND_ROWS[case][1]}" in f.message


# rows that fail, and the values the message shows for the first
FOUND_ROWS = {"LTRB instead of LTWH": (FRAMES, "height=640, width=980"),
              "no box evaluated": (2 * FRAMES, "conf=0")}


def test_gt_pedestrians_wide_at_a_few_lines_pass() -> None:
    gt = lines(PEDESTRIANS) + "3,3,500,500,90,60,1,1,1\n"  # one person lying down: mostly 0.9
    assert gx(gate(sequence(gt, length=FRAMES, width=1920, height=1080))) == []


# det: (rows, check, severity, line of the first finding or None for the whole file)
DET_GOOD = ["{f},-1,650.8,455.86,63.98,193.94,0.61", "{f},-1,721.23,446.86,41.871,127.61,0.3"]
DET_FAILURES = {
    "track ids in det": ([*DET_GOOD, "{f},7,1359.1,413.27,120.26,362.77,0.9"],
                         "gx-det-no-track-id", Severity.WARNING, 2 * FRAMES + 1),
    "score above 1": ([*DET_GOOD, "{f},-1,1359.1,413.27,120.26,362.77,3.5"],
                      "gx-det-score-unit-range", Severity.INFO, 2 * FRAMES + 1),
    "normalised coordinates": (["{f},-1,0.4,0.3,0.05,0.1,0.9", "{f},-1,0.1,0.3,0.04,0.12,0.5"],
                               "gx-det-box-pixels", Severity.ERROR, None),
    "scores lost": (["{f},-1,1359.1,413.27,120.26,362.77,1", "{f},-1,650.8,455.86,63.98,193.94,1"],
                    "gx-det-score-varies", Severity.WARNING, None),
}


@pytest.mark.parametrize("case", DET_FAILURES)
def test_det_suite_fails(case: str) -> None:
    rows, check, severity, first = DET_FAILURES[case]
    det = lines(rows)
    # MOT20: every det expectation applies; boxes-normalised ignored, as in test_gt_suite_fails
    found = gx(gate(mot17(det=det), benchmark="MOT20", ignore=["boxes-normalised"]))
    assert [f.check for f in found] == [check], found
    f = found[0]
    assert f.severity == severity and f.place.file == "det/det.txt" and f.place.line == first
    if first is not None:  # the bad template's rows come after the good ones
        assert f.count == FRAMES and f.place.frame == 1 and f.place.track_id is None
        assert det.splitlines()[first - 1] == rows[-1].format(f=1)


def test_sequences_suite_fails_at_the_seqinfo_line(make_demo: Any, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = make_demo()
    ini = root / "train" / "DEMO-02" / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("frameRate=30", "frameRate=0.04"))
    code = run(["validate", str(root), "--images", "skip", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    hits = [f for f in doc["findings"] if f["check"] == "gx-seq-frame-rate"]
    assert len(hits) == 1 and hits[0]["severity"] == "error"
    assert (hits[0]["sequence"], hits[0]["file"], hits[0]["line"]) == ("train/DEMO-02", "seqinfo.ini",
                                                                        line_of(ini.read_text(), "frameRate"))
    assert "frame_rate=0.04" in hits[0]["message"]


def test_sequences_suite_on_the_table() -> None:
    one_frame = mot17(gt=lines(PEDESTRIANS, 1), det=lines(DPM_DET, 1), length=1, frames=[1], name="ONE")
    crowd = mot17(gt="".join(f"1,{t},{t},10,20,60,1,1,1\n" for t in range(1, 1202)), name="CROWD")
    sparse = mot17(gt=lines(PEDESTRIANS, 2), name="SPARSE")
    small = mot17(width=20, name="SMALL")
    result = gate(mot17(name="CLEAN"), one_frame, crowd, sparse, small)
    got = {(f.check, f.place.sequence, f.place.file, f.place.line) for f in gx(result) if f.severity > Severity.INFO}
    assert got == {
        ("gx-seq-length", "train/ONE", "seqinfo.ini", 5),  # the helper puts seqLength on line 5
        ("gx-seq-boxes-per-frame", "train/CROWD", None, None),
        ("gx-seq-gt-coverage", "train/CROWD", None, None),
        ("gx-seq-gt-coverage", "train/SPARSE", None, None),
        ("gx-seq-image-width", "train/SMALL", None, None),
    }


def test_sequences_without_gt_are_skipped() -> None:
    test_split = sequence(None, det=lines(DPM_DET), length=FRAMES, width=1920, height=1080, name="TEST")
    found = [f for f in gx(gate(test_split)) if f.severity > Severity.INFO]
    assert found == []


# ------------------------------------------------------------------------------ a team's suites

TEAM_SUITE = {
    "name": "team-gt",
    "meta": {"target": "gt", "notes": "our own rules"},
    "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "visibility", "min_value": 0.5},
         "meta": {"id": "team-visible", "severity": "warning", "notes": "we label visible people only"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "id", "max_value": 4},
         "meta": {"notes": "no more than four people per sequence"}},
    ],
}


def write_suite(folder: Path, doc: dict[str, Any], name: str = "team.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_team_suite_runs_with_line_numbers(demo_root: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    team = tmp_path / "team"
    write_suite(team, TEAM_SUITE)
    code = run(["validate", str(demo_root), "--images", "skip", "--format", "json", "--expectations", str(team)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1  # the second expectation has no severity: error
    gt_text = (demo_root / "train" / "DEMO-01" / "gt" / "gt.txt").read_text().splitlines()
    visible = [f for f in doc["findings"] if f["check"] == "gx-team-visible"
               and f["sequence"] == "train/DEMO-01"]
    assert len(visible) == 1 and visible[0]["severity"] == "warning" and visible[0]["count"] > 10
    for place in [visible[0], *visible[0]["more_places"]]:
        row = gt_text[place["line"] - 1].split(",")
        assert float(row[8]) < 0.5 and int(row[0]) == place["frame"] and int(row[1]) == place["track_id"]
    ids = [f for f in doc["findings"] if f["check"] == "gx-expect_column_values_to_be_between"]
    assert ids and all(f["severity"] == "error" for f in ids)
    first = ids[0]
    assert int(gt_text[first["line"] - 1].split(",")[1]) > 4
    ran = gate_folder(demo_root, expectations=[team]).checks_run
    assert {"gx-gt-box-pixels", "gx-team-visible"} <= set(ran)


def test_team_suite_instead_of_shipped(demo_root: Path, tmp_path: Path) -> None:
    team = tmp_path / "team"
    write_suite(team, TEAM_SUITE)
    ran = gate_folder(demo_root, expectations=[team], shipped_expectations=False).checks_run
    assert [c for c in ran if c.startswith("gx-")] == ["gx-team-visible", "gx-expect_column_values_to_be_between"]


def test_team_suite_from_pyproject(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_suite(tmp_path / "suites", TEAM_SUITE)
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.motqa]\nexpectations = ["suites"]\nshipped-expectations = false\n')
    code = run(["validate", str(demo_root), "--images", "skip", "--format", "json", "--config", str(config)])
    checks = {f["check"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert code == 1 and checks == {"gx-team-visible", "gx-expect_column_values_to_be_between"}


def _broken(expectation: dict[str, Any]) -> dict[str, Any]:
    return {"name": "broken", "meta": {"target": "gt"}, "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "frame"}, "meta": {"id": "fine"}},
        expectation]}


BROKEN = {
    "misspelled type": (_broken({"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "id"}}),
                        ["expectation 2", "expect_column_values_to_be_betwen", "not found"]),
    "bad kwargs": (_broken({"type": "expect_column_values_to_be_between",
                            "kwargs": {"colum": "height", "min_value": 1}, "meta": {"id": "tall"}}),
                   ["expectation 2", "id tall", "colum"]),
    "missing column": (_broken({"type": "expect_column_values_to_be_between",
                                "kwargs": {"column": "speed", "min_value": 0}}),
                       ["expectation 2", "expect_column_values_to_be_between", "speed", "does not exist"]),
    "broken row condition": (_broken({"type": "expect_column_values_to_be_between",
                                      "kwargs": {"column": "height", "min_value": 1, "row_condition": "height >",
                                                 "condition_parser": "pandas"}}),
                             ["expectation 2", "cannot run on train/DEMO-01 gt/gt.txt"]),
    "no target": ({"name": "x", "expectations": []}, ["meta.target"]),
    "GE 0.x suite": ({"meta": {"target": "gt"}, "expectations": [
        {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}]},
        ["expectation 1", "expectation_type"]),
    "bad severity": (_broken({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"},
                              "meta": {"severity": "fatal"}}), ["expectation 2", "meta.severity", "fatal"]),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_suite_exits_2_naming_file_and_expectation(case: str, demo_root: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    doc, words = BROKEN[case]
    path = write_suite(tmp_path / "team", doc, "broken_suite.json")
    code = run(["validate", str(demo_root), "--images", "skip", "--expectations", str(path.parent)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err
    assert str(path) in err, err
    for word in words:
        assert word in err, err


def test_not_json_and_no_folder_exit_2(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "s.json").write_text('{"expectations": [}')
    (tmp_path / "empty").mkdir()
    for folder, word in [("bad", "not valid JSON (line 1"), ("empty", "no *.json"), ("absent", "no such")]:
        code = run(["validate", str(demo_root), "--images", "skip", "--expectations", str(tmp_path / folder)])
        assert code == 2 and word in capsys.readouterr().err


def test_duplicate_ids_exit_2(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = json.loads((SHIPPED_DIR / "gt_rows.json").read_text())
    write_suite(tmp_path / "team", copy)
    code = run(["validate", str(demo_root), "--images", "skip", "--expectations", str(tmp_path / "team")])
    assert code == 2 and "gx-gt-box-pixels is already used" in capsys.readouterr().err


# ------------------------------------------------------------------------------ selection


def test_select_and_ignore_gx_ids(tmp_path: Path) -> None:
    seq = sequence(lines(GT_FAILURES["LTRB instead of LTWH"][0]), length=FRAMES, width=1920, height=1080)
    assert {f.check for f in gx(gate(seq))} == {"gx-gt-pedestrian-upright"}
    assert gx(gate(seq, ignore=["gx-gt-pedestrian-upright"])) == []
    only = gate(seq, select=["gx-gt-*"])
    assert {f.check for f in only.findings} == {"gx-gt-pedestrian-upright"}
    assert all(c.startswith("gx-gt-") for c in only.checks_run)
    assert gate(seq, select=["gx-seq-*"]).findings == []


def test_misspelled_gx_id_exits_2(demo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["validate", str(demo_root), "--images", "skip", "--select", "gx-gt-box-pixel"])
    err = capsys.readouterr().err
    assert code == 2 and "gx-gt-box-pixel" in err and "gx-gt-box-pixels" in err


def test_ignoring_every_gx_id_starts_no_engine() -> None:
    def wants(check: str) -> bool:
        return GateConfig(ignore=["gx-*"]).wants(check)

    run_ = ExpectationRun.start([], True, wants)
    assert run_.engine is None and run_.check_ids == []


def test_cli_select_gx(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_suite(tmp_path / "team", TEAM_SUITE)
    base = ["validate", str(demo_root), "--images", "skip", "--format", "json",
            "--expectations", str(tmp_path / "team")]
    assert run([*base, "--ignore", "gx-expect_*"]) == 0
    checks = {f["check"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert checks == {"gx-team-visible"}
    assert run([*base, "--select", "gx-team-visible", "--fail-on", "warning"]) == 1
    checks = {f["check"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert checks == {"gx-team-visible"}


# ------------------------------------------------------------------------------ side effects


def test_nothing_written(demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.relative_to(demo_root) for p in demo_root.rglob("*"))
    assert run(["validate", str(demo_root), "--images", "skip"]) == 0
    assert capsys.readouterr().err == ""
    assert list(work.iterdir()) == []
    assert sorted(p.relative_to(demo_root) for p in demo_root.rglob("*")) == before


@pytest.mark.slow
def test_import_restores_warnings() -> None:
    """GE turns on logging.captureWarnings at import; a fresh process shows it is undone (and
    that the import passes under -W error)."""
    code = (
        "import warnings\n"
        "shown = warnings.showwarning\n"
        "from motqa.expectations.engine import import_gx\n"
        "import_gx()\n"
        "assert warnings.showwarning is shown, 'captureWarnings left on'\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, timeout=120)


def test_sequences_table_columns() -> None:
    run_ = ExpectationRun([])
    seq = mot17()
    from motqa.gate import SequenceSummary

    run_.add_sequence(seq, SequenceSummary.of(seq).as_dict())
    table = run_.sequences_table()
    assert table.index.tolist() == [1]
    row = table.iloc[0]
    assert row["annotated_share"] == 1.0 and row["boxes_per_frame_max"] == 5 and row["frame_rate"] == 30
    assert table["seq_length"].dtype == "float64" and row["label"] == "train/MOT17-02"
    assert isinstance(table, pd.DataFrame)
