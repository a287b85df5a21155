"""File conventions (motqa/checks/conventions.py, MOTS in the parser): each is one error for its file
in place of the flood it caused, and correct data of every kind stays silent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from motqa.cli import run
from motqa.sources.mot_files import parse_annotations

Row = list[float]
W, H, LENGTH = 1920, 1080, 400
MOT17 = "MOT17-90-SDP"  # a MOT17 name that is not a published sequence: the MOT17 rules, no published facts
CONVENTION_IDS = {"mots-masks", "frame-id-swapped", "boxes-normalised", "boxes-ltrb", "boxes-centres",
                  "frames-zero-based", "visibility-percent"}
# Real rows of correct MOT17 gt (MOT-FORMAT.md): an amodal box leaving the picture and a border box
# 2 px outside it (an info finding, box-beyond-border, by design).
AMODAL = "1,90,1585,-1,336,578,0,9,0.98153"
BORDER = "366,45,-54,316,52,157,1,1,0.018868"


# ---------------------------------------------------------------------------- synthetic data


def people(seed: int = 0, *, length: int = LENGTH, tracks: int = 24) -> list[Row]:
    """MOT17-like gt rows in MOT17's order (by track, then frame): pedestrians (class 1, conf 1)
    walking in and out of a 1920x1080 picture with amodal boxes, visibility counting the picture
    border, a third of them there from frame 1, and a static person (class 7, conf 0) in every
    frame."""
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    for k in range(tracks):
        if k % 3 == 0:
            start, n = 1, int(rng.integers(20, length + 1))
        else:
            start = int(rng.integers(1, length - 20))
            n = int(rng.integers(20, length - start + 2))
        w = float(rng.integers(30, 150))
        h = w * float(rng.uniform(2.0, 3.0))
        x, y = float(rng.uniform(-0.5 * w, W - 0.5 * w)), float(rng.uniform(0.1 * H, H - 0.9 * h))
        vx, vy = float(rng.uniform(-6, 6)), float(rng.uniform(-1.5, 1.5))
        occlusion = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.4 else 1.0
        for frame in range(start, start + n):
            left, top = round(x), round(y)
            if left >= W or left + w <= 0:
                break  # the person has left the picture: the track ends there
            inside = (min(left + w, W) - max(left, 0)) / w * (min(top + h, H) - max(top, 0)) / h
            rows.append([frame, k + 1, left, top, round(w), round(h), 1, 1, round(inside * occlusion, 5)])
            x, y = x + vx, min(max(y + vy, 0.0), H - h)
    rows += [[frame, tracks + 1, 912, 484, 97, 109, 0, 7, 1] for frame in range(1, length + 1)]
    return rows


def dancers(seed: int = 1, *, length: int = 300, count: int = 8, width: int = W, height: int = H) -> list[Row]:
    """DanceTrack/SportsMOT-like gt: ids from 0, class 1, visibility 1, everyone in every frame,
    boxes of any shape that run partly out of the picture and back."""
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    for k in range(count):
        w = float(rng.integers(60, 220))
        h = w * float(rng.uniform(0.7, 3.0))
        cx, cy = float(rng.uniform(0.45, 0.55)) * width, float(rng.uniform(h / 2, height - h / 4))
        phase = float(rng.uniform(0, 6.3))
        for frame in range(1, length + 1):  # the centre stays in the picture: at most half the box leaves it
            x = cx + 0.45 * width * np.sin(frame / 40 + phase) - w / 2
            rows.append([frame, k, round(x), round(cy - h / 2), round(w), round(h), 1, 1, 1])
    return rows


def dpm_det(rows: list[Row], seed: int = 2) -> str:
    """det.txt in the old 10-column form with DPM scores (SVM margins: negative and above 1)."""
    rng = np.random.default_rng(seed)
    lines = []
    for r in rows:
        if r[7] == 1 and 0 <= r[2] and r[2] + r[4] <= W and 0 <= r[3] and r[3] + r[5] <= H:
            score = float(rng.uniform(-1.5, 2.5))
            lines.append(f"{r[0]:g},-1,{r[2] + rng.integers(-3, 4)},{r[3]},{r[4]},{r[5]},{score:.4f},-1,-1,-1\n")
    return "".join(lines)


def text(rows: list[Row], sep: str = ",") -> str:
    return "".join(sep.join(f"{v:g}" for v in r) + "\n" for r in rows)


def write_sequence(root: Path, name: str, gt: str | None, *, length: int = LENGTH, width: int = W, height: int = H,
                   digits: int = 6, det: str | None = None) -> Path:
    """One sequence in a train split: seqinfo.ini, empty frame files (run with --images skip),
    gt/gt.txt and det/det.txt."""
    seq = root / "train" / name
    (seq / "img1").mkdir(parents=True)
    (seq / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={length}\n"
                                     f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n")
    for k in range(1, length + 1):
        (seq / "img1" / f"{k:0{digits}d}.jpg").touch()
    for rel, content in (("gt/gt.txt", gt), ("det/det.txt", det)):
        if content is not None:
            (seq / rel).parent.mkdir()
            (seq / rel).write_text(content)
    return root


def validate(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    code = run(["validate", str(root), "--images", "skip", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)["findings"]


def checks(found: list[dict[str, Any]]) -> list[str]:
    return [f["check"] for f in found]


# ---------------------------------------------------------------------------- correct data is silent


def _frame_sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r[0], r[1]))


CORRECT: dict[str, Callable[[Path], Path]] = {
    "MOT17-like": lambda d: write_sequence(d, MOT17, text(people()) + AMODAL + "\n"),
    "MOT17-like sorted by frame": lambda d: write_sequence(d, MOT17, text(_frame_sorted(people(3)))),
    "MOT17-like with DPM det.txt": lambda d: write_sequence(d, MOT17, text(people(4)), det=dpm_det(people(4))),
    "MOT17-like with a border box": lambda d: write_sequence(d, MOT17, text(people(5)) + BORDER + "\n"),
    "DanceTrack-like": lambda d: write_sequence(d, "dancetrack0901", text(dancers()), length=300, digits=8),
    "DanceTrack-like sorted by frame": lambda d: write_sequence(d, "dancetrack0902", text(_frame_sorted(dancers(7))),
                                                                length=300, digits=8),
    "SportsMOT-like": lambda d: write_sequence(d, "v_synthetic01_c001",
                                               text(dancers(2, length=500, count=12, width=1280, height=720), ", "),
                                               length=500, width=1280, height=720),
    "tiny": lambda d: write_sequence(d, MOT17, "1,1,100,100,50,120,1,1,1\n2,1,102,100,50,120,1,1,1\n"
                                     "1,2,912,484,97,109,0,7,1\n2,2,912,484,97,109,0,7,1\n", length=2),
    "tiny, one box in the corner": lambda d: write_sequence(d, "SEQ-01", "1,1,0,0,300,500,1,1,1\n"
                                                            "2,1,0,0,300,500,1,1,1\n", length=2),
    "tiny, one frame of many ids": lambda d: write_sequence(d, "SEQ-02", text(
        [[1, k, 10 * k, 100, 8, 20, 1, 1, 1] for k in range(1, 30)]), length=2),
}


@pytest.mark.parametrize("fixture", CORRECT)
def test_correct_data_is_silent(fixture: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, found = validate(capsys, CORRECT[fixture](tmp_path))
    assert code == 0
    # only the border box's info finding (a legal box, said for the record) may appear
    assert set(checks(found)) <= {"box-beyond-border"}, found
    assert ("border" in fixture) == bool(found)


# ---------------------------------------------------------------------------- one finding, no flood


def _swap(r: Row) -> Row:
    return [r[1], r[0], *r[2:]]


def _normalise(r: Row) -> Row:
    return [r[0], r[1], r[2] / W, r[3] / H, r[4] / W, r[5] / H, *r[6:]]


def _ltrb(r: Row) -> Row:
    return [r[0], r[1], r[2], r[3], r[2] + r[4], r[3] + r[5], *r[6:]]


def _centres(r: Row) -> Row:
    return [r[0], r[1], r[2] + r[4] / 2, r[3] + r[5] / 2, *r[4:]]


def _zero_based(r: Row) -> Row:
    return [r[0] - 1, *r[1:]]


def _percent(r: Row) -> Row:
    return [*r[:8], round(r[8] * 100, 3)]


# (check, how a correct row is rewritten, what `--ignore check` shows in its place, whether the
# finding names a line (the flood's first) and "looks like" (a heuristic says so))
CASES = [
    ("frame-id-swapped", _swap, {"frames-unannotated", "track-gap", "gx-seq-gt-coverage"}, False, True),
    ("boxes-normalised", _normalise, {"gx-gt-box-pixels", "gx-gt-box-width-pixels"}, False, False),
    ("boxes-ltrb", _ltrb, {"gx-gt-pedestrian-upright"}, False, True),
    ("boxes-centres", _centres, {"box-outside-image"}, True, True),
    ("frames-zero-based", _zero_based, {"frame-out-of-range", "frames-unannotated"}, True, False),
    ("visibility-percent", _percent, {"visibility-range"}, True, False),
]


@pytest.mark.parametrize(("check", "rewrite", "flood", "at_line", "heuristic"), CASES, ids=[c[0] for c in CASES])
def test_convention_is_one_finding_in_place_of_the_flood(check: str, rewrite: Callable[[Row], Row], flood: set[str],
                                                         at_line: bool, heuristic: bool, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = write_sequence(tmp_path, MOT17, text([rewrite(r) for r in people()]))
    code, found = validate(capsys, root)
    assert code == 1 and checks(found) == [check], found
    f = found[0]
    assert (f["severity"], f["sequence"], f["file"], f["count"]) == ("error", f"train/{MOT17}", "gt/gt.txt", 1)
    assert f["message"].startswith("looks like") == heuristic
    assert any(ch.isdigit() for ch in f["message"])  # the numbers the signature rests on
    # Ignoring the convention's check brings back what it explained: the flood it replaces.
    code, without = validate(capsys, root, "--ignore", check)
    assert flood <= set(checks(without)) and sum(x["count"] for x in without) > 1, without
    if at_line:
        assert f["line"] is not None and f["line"] == without[0]["line"]
    else:
        assert f["line"] is None


@pytest.mark.parametrize("fixture", ["DanceTrack-like", "DanceTrack-like sorted by frame", "SportsMOT-like"])
def test_swapped_dense_benchmarks_are_recognised(fixture: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Everyone in every frame, ids from 0: within a frame the ids step by 1 as well, so the
    coverage of seqLength decides; column 1 (ids from 0) as a frame is also frame 0."""
    rows = dancers(7) if "DanceTrack" in fixture else dancers(2, length=500, count=12, width=1280, height=720)
    rows = _frame_sorted(rows) if "sorted" in fixture else rows
    if "DanceTrack" in fixture:
        root = write_sequence(tmp_path, "dancetrack0903", text([_swap(r) for r in rows]), length=300, digits=8)
    else:
        root = write_sequence(tmp_path, "v_synthetic02_c001", text([_swap(r) for r in rows], ", "), length=500,
                              width=1280, height=720)
    code, found = validate(capsys, root)
    assert code == 1 and checks(found) == ["frame-id-swapped"], found
    _, without = validate(capsys, root, "--ignore", "frame-id-swapped")
    assert "frame-out-of-range" in checks(without)  # id 0 read as a frame


def test_swapped_ids_beyond_seqlength_are_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """More tracks than frames (MOT20's crowds): ids read as frames run past seqLength."""
    rows = [[f, k, 10 + k, 50, 20, 50, 1, 1, 1] for k in range(1, 121) for f in range(1, 81)]
    root = write_sequence(tmp_path, "MOT20-90", text([_swap(r) for r in rows]), length=80)
    code, found = validate(capsys, root)
    assert code == 1 and checks(found) == ["frame-id-swapped"], found
    _, without = validate(capsys, root, "--ignore", "frame-id-swapped")
    assert "frame-out-of-range" in checks(without)


def test_zero_based_det_is_recognised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = people(4)
    det = "".join(f"{int(line.split(',')[0]) - 1}," + line.split(",", 1)[1] for line in dpm_det(rows).splitlines(True))
    root = write_sequence(tmp_path, MOT17, text(rows), det=det)
    code, found = validate(capsys, root)
    assert code == 1 and checks(found) == ["frames-zero-based"] and found[0]["file"] == "det/det.txt"
    assert found[0]["frame"] == 0 and found[0]["track_id"] is None


def test_normalised_det_is_recognised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = people(4)
    det = "".join(",".join([*p[:2], f"{float(p[2]) / W:.5f}", f"{float(p[3]) / H:.5f}", f"{float(p[4]) / W:.5f}",
                            f"{float(p[5]) / H:.5f}", *p[6:]]) for p in (line.split(",") for line in
                                                                       dpm_det(rows).splitlines(True)))
    root = write_sequence(tmp_path, MOT17, text(rows), det=det)
    code, found = validate(capsys, root)
    assert code == 1 and checks(found) == ["boxes-normalised"] and found[0]["file"] == "det/det.txt", found


def test_two_conventions_of_one_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Frames and visibility are changed apart: a file can be 0-based and in percent at once."""
    root = write_sequence(tmp_path, MOT17, text([_percent(_zero_based(r)) for r in people()]))
    code, found = validate(capsys, root)
    assert code == 1 and sorted(checks(found)) == ["frames-zero-based", "visibility-percent"], found


# ---------------------------------------------------------------------------- MOTS masks

MOTS = "1 2002 2 1080 1920 UkU\\1\n1 2003 2 1080 1920 ]kh0;Q_1\n2 2002 2 1080 1920 UkU\\1\n"


def test_mots_file_is_one_finding_not_a_parse_error_per_line(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    lines = "".join(f"{f} {2000 + k} 2 1080 1920 UkU\\\\1ab{k}\n" for f in range(1, 51) for k in range(1, 4))
    root = write_sequence(tmp_path, "MOTS20-90", lines, length=50)
    code, found = validate(capsys, root)
    assert code == 1 and checks(found) == ["mots-masks"], found  # no parse-error, no no-boxes
    f = found[0]
    assert (f["file"], f["line"], f["severity"]) == ("gt/gt.txt", 1, "error")
    assert "MOTS" in f["message"] and "150 lines" in f["message"] and "run-length" in f["message"]
    _, without = validate(capsys, root, "--ignore", "mots-masks")
    assert checks(without) == ["no-boxes"]  # still not read as boxes; the empty gt is said again


def test_mots_recognised_from_the_first_lines() -> None:
    ann, found = parse_annotations(("\n\ufeff" + MOTS + "not a line\n").encode()[1:], "gt", "s", "gt/gt.txt")
    assert [f.check for f in found] == ["mots-masks"] and len(ann) == 0 and ann.line_count == 4
    assert found[0].place.line == 1


@pytest.mark.parametrize("data", [
    "1 1 100 200 50 120 1 1 1\n",         # a space-separated MOT line: 9 fields, a parse error as before
    "1 2 3 4 5 6\n1 2 3 4 5 7\n",         # six numbers, no mask code
    "1,2002,2,1080,1920,UkU\n",           # commas: a MOTChallenge line with a bad cell
])
def test_not_mots(data: str) -> None:
    _, found = parse_annotations(data.encode(), "gt", "s", "gt/gt.txt")
    assert found and "mots-masks" not in [f.check for f in found]


# ---------------------------------------------------------------------------- planted defects stay found

# (what is planted, the line appended to a correct MOT17-like gt, the check that must name it)
PLANTED = [
    ("duplicate id", "5,1,300,50,40,100,1,1,1", "duplicate-id"),
    ("negative width", "5,90,300,50,-40,100,1,1,1", "box-size"),
    ("frame past the end", f"{LENGTH + 5},90,300,50,40,100,1,1,1", "frame-out-of-range"),
    ("frame 0", "0,90,300,50,40,100,1,1,1", "frame-out-of-range"),
    ("visibility 1.2", "5,90,300,50,40,100,1,1,1.2", "visibility-range"),
    ("a non-number", "5,90,300,abc,40,100,1,1,1", "parse-error"),
    ("a box for another frame size", "5,90,3000,50,40,100,1,1,1", "box-outside-image"),
]


@pytest.mark.parametrize(("what", "line", "check"), PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_defect_is_found_at_its_line(what: str, line: str, check: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rows = people()
    if what == "duplicate id":  # track 1 must be in frame 5 for the copy to be a duplicate
        first = next(r for r in rows if r[1] == 1)
        line = text([[first[0], *first[1:]]]).strip()
    gt = text(rows) + line + "\n"
    root = write_sequence(tmp_path, MOT17, gt)
    code, found = validate(capsys, root)
    assert code == 1 and checks(found) == [check], found
    assert found[0]["line"] == len(rows) + 1


# (convention, a planted row it does not explain, the check that still names that row)
PLANTED_IN_CONVENTION = [
    ("visibility-percent", _percent, "5,90,300,50,40,100,1,1,-0.1", "visibility-range"),
    ("visibility-percent", _percent, "5,90,300,50,40,100,1,1,150", "visibility-range"),
    ("frames-zero-based", _zero_based, "4,90,300,50,-40,100,1,1,1", "box-size"),
    ("boxes-normalised", _normalise, "4,90,0.1,0.1,-0.01,0.02,1,1,1", "box-size"),
    ("boxes-centres", _centres, "5,90,9000,50,40,100,1,1,1", "box-outside-image"),
]


@pytest.mark.parametrize(("convention", "rewrite", "line", "check"), PLANTED_IN_CONVENTION,
                         ids=[f"{p[0]}+{p[3]}" for p in PLANTED_IN_CONVENTION])
def test_convention_does_not_swallow_a_planted_defect(convention: str, rewrite: Callable[[Row], Row], line: str,
                                                      check: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    rows = [rewrite(r) for r in people()]
    root = write_sequence(tmp_path, MOT17, text(rows) + line + "\n")
    code, found = validate(capsys, root)
    assert code == 1 and sorted(checks(found)) == sorted([convention, check]), found
    assert next(f for f in found if f["check"] == check)["line"] == len(rows) + 1


def test_published_facts_never_look_swapped() -> None:
    """The swap signature's coverage test on the published facts of every official sequence with
    gt (motqa/data/published.csv): read as is, no official file fits it; read swapped, every one does."""
    import csv

    path = Path(__file__).resolve().parents[1] / "motqa" / "data" / "published.csv"
    with path.open(encoding="utf-8", newline="") as f:
        facts = [r for r in csv.DictReader(f) if r["gt_rows"]]
    assert len(facts) > 100
    for r in facts:
        length, frames = int(r["seq_length"]), int(r["gt_frames_annotated"])
        ids = int(r["gt_id_max"]) - max(int(r["gt_id_min"]), 1) + 1  # the most distinct ids in 1..seqLength
        # as is: column 2 (ids) would have to cover half of seqLength, column 1 (frames) half as much
        assert ids * 2 < length or frames * 2 > ids, r["sequence"]
        # swapped: column 2 (frames) covers half of seqLength, column 1 (ids) at most half as much
        assert frames * 2 >= length and min(ids, length) * 2 <= frames, r["sequence"]
