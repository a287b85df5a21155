"""Facts of the official benchmark files, each reproduced by a synthetic fixture (official data is
not ours to commit): TrackEval's annotation-only folders and seqmaps, SportsMOT's and DanceTrack's
ids from 0, HT21's seqinfo names, the published facts of a known sequence, and a download whose
image folders are partly missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from motqa.cli import run

PEOPLE = [(512, 284, 97, 109), (838, 318, 167, 379), (186, 247, 85, 263)]  # inside 1280x720


def write_sequence(folder: Path, *, length: int, width: int = 1920, height: int = 1080, fps: int = 30,
                   name: str | None = None, ids: tuple[int, ...] = (1, 2, 3), classes: tuple[int, ...] = (1,),
                   sep: str = ",", frames: bool = False, digits: int = 6, rows: list[str] | None = None) -> Path:
    """A sequence as TrackEval's data folder has it (seqinfo.ini and gt/gt.txt; frames only when
    asked), gt ordered by track, then frame, every frame annotated."""
    (folder / "gt").mkdir(parents=True)
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name or folder.name}\nimDir=img1\nframeRate={fps}\nseqLength={length}\n"
        f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n")
    if rows is None:
        rows = [sep.join(map(str, (f, tid, *PEOPLE[k % len(PEOPLE)], 1, classes[k % len(classes)], 1)))
                for k, tid in enumerate(ids) for f in range(1, length + 1)]
    (folder / "gt" / "gt.txt").write_text("".join(r + "\n" for r in rows))
    if frames:
        (folder / "img1").mkdir()
        for f in range(1, length + 1):
            Image.new("RGB", (width, height), (f * 20 % 255, 90, 90)).save(folder / "img1" / f"{f:0{digits}d}.jpg")
    return folder


def validate(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = run(["validate", *map(str, args), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def checks(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return [f["check"] for f in doc["findings"]]


def trackeval(root: Path) -> Path:
    """data/gt/mot_challenge/ with a MOT17-train split of two sequences and its seqmap."""
    split = root / "data" / "gt" / "mot_challenge" / "MOT17-train"
    for name in ("MOT17-90-FRCNN", "MOT17-91-FRCNN"):
        write_sequence(split / name, length=6)
    seqmaps = root / "data" / "gt" / "mot_challenge" / "seqmaps"
    seqmaps.mkdir()
    (seqmaps / "MOT17-train.txt").write_text("name\nMOT17-90-FRCNN\nMOT17-91-FRCNN\n")
    (seqmaps / "MOT17-test.txt").write_text("name\nMOT17-01-FRCNN\n")  # a split that is not here
    (root / "data" / "trackers" / "mot_challenge" / "MOT17-train" / "T" / "data").mkdir(parents=True)
    return root / "data"


# ---------------------------------------------------------------------- TrackEval's layout


@pytest.mark.parametrize("below", ["", "gt", "gt/mot_challenge", "gt/mot_challenge/MOT17-train"])
def test_trackeval_folder_passes_at_any_depth(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              below: str) -> None:
    data = trackeval(tmp_path)
    code, doc = validate(capsys, data / below, "--images", "skip")
    assert code == 0, doc["findings"]
    assert [s["name"] for s in doc["sequences"]] == ["MOT17-90-FRCNN", "MOT17-91-FRCNN"]
    assert {s["benchmark"] for s in doc["sequences"]} == {"MOT17"}
    # no image folder: one info for the whole run, not a missing-image per frame
    assert checks(doc) == ["annotations-only"]
    assert doc["findings"][0]["count"] == 2 and doc["findings"][0]["severity"] == "info"


def test_trackeval_folder_passes_without_images_skip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = validate(capsys, trackeval(tmp_path))
    assert code == 0 and checks(doc) == ["annotations-only"]


def test_seqmap_compared_with_the_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = trackeval(tmp_path)
    seqmap = data / "gt" / "mot_challenge" / "seqmaps" / "MOT17-train.txt"
    seqmap.write_text("name\nMOT17-90-FRCNN\nMOT17-92-FRCNN\n")
    code, doc = validate(capsys, data / "gt", "--images", "skip")
    got = {f["check"]: f for f in doc["findings"]}
    assert code == 1 and set(got) == {"seqmap-sequence-missing", "seqmap-unlisted", "annotations-only"}
    missing = got["seqmap-sequence-missing"]
    assert (missing["file"], missing["line"]) == ("mot_challenge/seqmaps/MOT17-train.txt", 3)
    assert "MOT17-92-FRCNN" in missing["message"]
    unlisted = got["seqmap-unlisted"]
    assert unlisted["sequence"] == "mot_challenge/MOT17-train/MOT17-91-FRCNN" and unlisted["severity"] == "warning"


def test_discovery_does_not_loop_on_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = trackeval(tmp_path)
    (data / "gt" / "loop").symlink_to(data, target_is_directory=True)
    code, doc = validate(capsys, data, "--images", "skip")
    assert code == 0 and len(doc["sequences"]) == 2


def test_discovery_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path.joinpath(*"abcdefg")
    write_sequence(deep / "MOT17-90-FRCNN", length=4)
    code, doc = validate(capsys, tmp_path, "--images", "skip")
    assert code == 1 and checks(doc) == ["no-sequences"] and "6 folders deep" in doc["findings"][0]["message"]
    code, doc = validate(capsys, tmp_path / "a" / "b", "--images", "skip")  # 6 folders above it
    assert code == 0 and len(doc["sequences"]) == 1


def test_a_folder_named_gt_is_not_a_sequence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """TrackEval's data/ holds gt/ (of benchmarks): it is looked into, not taken for a sequence."""
    data = trackeval(tmp_path)
    code, doc = validate(capsys, data, "--images", "skip")
    assert code == 0 and "data" not in [s["name"] for s in doc["sequences"]]


def test_mixed_download_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Frames in one sequence and no image folder in the other: the download was cut short."""
    write_sequence(tmp_path / "MOT17" / "train" / "MOT17-90-FRCNN", length=3, width=64, height=48,
                   frames=True, rows=[f"{f},1,10,10,20,30,1,1,1" for f in (1, 2, 3)])
    write_sequence(tmp_path / "MOT17" / "train" / "MOT17-91-FRCNN", length=3, width=64, height=48,
                   rows=[f"{f},1,10,10,20,30,1,1,1" for f in (1, 2, 3)])
    code, doc = validate(capsys, tmp_path / "MOT17", "--benchmark", "generic")
    assert code == 1 and checks(doc) == ["image-folder-missing"]
    f = doc["findings"][0]
    assert (f["sequence"], f["file"], f["severity"]) == ("train/MOT17-91-FRCNN", "img1", "error")


def test_ingest_refuses_annotations_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = trackeval(tmp_path)
    target = tmp_path / "out"
    code = run(["ingest", str(data), str(target), "--format", "json", "--report", str(tmp_path / "r.html")])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and not target.exists()
    assert checks(doc) == ["image-folder-missing"]  # one finding, not one per sequence
    assert "2 of 2 sequences have no image folder" in doc["findings"][0]["message"]


# ---------------------------------------------------------------------- id bases, separators, names


def test_sportsmot_ids_from_zero_comma_space(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SportsMOT's gt: ids from 0, fields separated by ', ', class 1 only, 25 fps, 720p."""
    seq = write_sequence(tmp_path / "sportsmot-val" / "v_00HRwkvvjtQ_c901", length=5, width=1280, height=720,
                         fps=25, ids=(0, 1, 2), sep=", ")
    code, doc = validate(capsys, seq.parent, "--images", "skip")
    assert code == 0 and checks(doc) == ["annotations-only"], doc["findings"]
    assert doc["sequences"][0]["benchmark"] == "SportsMOT"


def test_sportsmot_negative_id_is_still_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = write_sequence(tmp_path / "sportsmot-val" / "v_00HRwkvvjtQ_c901", length=5, width=1280, height=720,
                         ids=(-1, 1))
    code, doc = validate(capsys, seq, "--images", "skip")
    bad = [f for f in doc["findings"] if f["check"] == "id-invalid"]
    assert code == 1 and bad[0]["line"] == 1 and "SportsMOT gt ids start at 0" in bad[0]["message"]


def test_mot17_id_zero_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = write_sequence(tmp_path / "MOT17-90-FRCNN", length=4, ids=(0, 1))
    code, doc = validate(capsys, seq, "--images", "skip")
    bad = [f for f in doc["findings"] if f["check"] == "id-invalid"]
    assert code == 1 and [f["line"] for f in bad] == [1, 2, 3, 4] and "MOT17 gt ids start at 1" in bad[0]["message"]


def test_dancetrack_matches_its_published_facts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dancetrack0004 as published: 1203 frames at 20 fps, 4586 rows, ids 0-3, every frame
    annotated; dancers are not upright pedestrians (no box-shape warning)."""
    rows = [f"{f},{tid},{x},{y},{w},{h},1,1,1" for tid, last in ((0, 1203), (1, 1203), (2, 1203), (3, 977))
            for f in range(1, last + 1) for x, y, w, h in [(100 + 300 * tid, 200, 400, 180)]]
    seq = write_sequence(tmp_path / "dancetrack" / "val" / "dancetrack0004", length=1203, fps=20, rows=rows)
    code, doc = validate(capsys, seq.parent, "--images", "skip")
    assert code == 0 and checks(doc) == ["annotations-only"], doc["findings"]
    assert doc["sequences"][0]["benchmark"] == "DanceTrack"


def test_ht21_seqinfo_name_is_a_warning_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = write_sequence(tmp_path / "HT21" / "train" / "HT21-90", length=4, name="HT-90", classes=(1, 2, 3))
    code, doc = validate(capsys, seq.parent, "--images", "skip")
    assert code == 0 and sorted(checks(doc)) == ["annotations-only", "sequence-name-mismatch"]


# ---------------------------------------------------------------------- published facts


def test_published_seqinfo_differs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = write_sequence(tmp_path / "MOT17" / "train" / "MOT17-04-FRCNN", length=1100,
                         rows=["1,1,912,484,97,109,1,1,1"])
    code, doc = validate(capsys, seq, "--images", "skip", "--select", "published-*")
    got = {f["check"]: f for f in doc["findings"]}
    assert code == 1 and set(got) == {"published-seqinfo", "published-gt"}
    assert got["published-seqinfo"]["message"] == "seqLength is 1,100; the published MOT17-04-FRCNN has 1,050"
    assert (got["published-seqinfo"]["file"], got["published-seqinfo"]["line"]) == ("seqinfo.ini", 5)
    assert "holds 1 rows" in got["published-gt"]["message"] and "108,005 rows" in got["published-gt"]["message"]


def test_published_facts_name_only_what_differs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """KITTI-13 (MOT15): 340 frames, 1242x375 at 10 fps, gt in 261 of them, ids 1-42, 10 columns."""
    pairs = sorted((r % 42 + 1, r % 261 + 1) for r in range(929))  # (id, frame), each pair once
    rows = [f"{f},{tid},10,10,20,40,1,-1,-1,-1" for tid, f in pairs]
    seq = write_sequence(tmp_path / "MOT15" / "train" / "KITTI-13", length=340, width=1242, height=375, fps=10,
                         rows=rows)
    code, doc = validate(capsys, seq, "--images", "skip")
    assert code == 0 and {f["severity"] for f in doc["findings"]} == {"info"}, doc["findings"]
    assert not [c for c in checks(doc) if c.startswith("published")]
    (seq / "gt" / "gt.txt").write_text("".join(r + "\n" for r in rows[:-5]))
    code, doc = validate(capsys, seq, "--images", "skip")
    gt = [f for f in doc["findings"] if f["check"] == "published-gt"]
    assert code == 1 and gt[0]["message"] == ("gt/gt.txt holds 924 rows; the published KITTI-13 gt.txt "
                                              "holds 929 rows")


# ---------------------------------------------------------------------- rules of the profile


def test_gt_of_another_width_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [f"{f},1,10,10,20,40,1,-1,-1,-1" for f in range(1, 5)]  # MOT15's 10 fields in MOT17
    seq = write_sequence(tmp_path / "MOT17-90-FRCNN", length=4, rows=rows)
    code, doc = validate(capsys, seq, "--images", "skip")
    f = next(f for f in doc["findings"] if f["check"] == "gt-columns")
    assert code == 0 and f["severity"] == "warning" and f["line"] == 1
    assert "10 fields a line; MOT17 gt has 9" in f["message"]


def test_gt_cut_short_where_every_frame_is_annotated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [f"{f},1,10,10,20,40,1,1,1" for f in (1, 2, 3, 7)]
    seq = write_sequence(tmp_path / "MOT17-90-FRCNN", length=8, rows=rows)
    code, doc = validate(capsys, seq, "--images", "skip")
    f = next(f for f in doc["findings"] if f["check"] == "frames-unannotated")
    assert code == 0 and f["severity"] == "warning" and f["frame"] == 4
    assert "4 of 8 frames have no gt box (frames 4-6, 8)" in f["message"]
    _, doc = validate(capsys, seq, "--images", "skip", "--benchmark", "MOT15")  # KITTI-13: 261 of 340
    assert "frames-unannotated" not in checks(doc)


def test_dancetrack_frame_names_have_8_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = write_sequence(tmp_path / "dancetrack0990", length=2, width=64, height=48,
                         rows=["1,0,10,10,20,30,1,1,1", "2,0,10,10,20,30,1,1,1"])
    (seq / "img1").mkdir()
    code, doc = validate(capsys, seq, "--images", "skip")
    assert code == 1 and [f["file"] for f in doc["findings"] if f["check"] == "missing-image"] == [
        "img1/00000001.jpg", "img1/00000002.jpg"]


# ---------------------------------------------------------------------- the two tables agree


def test_every_published_sequence_is_recognised_and_fits_its_profile() -> None:
    """published.csv (the official files' facts) against profiles.toml (the rules): a rule an
    official file breaks is a wrong rule."""
    from motqa.profiles import profiles, published, recognise

    for (bench, name), facts in published().items():
        got = recognise(name, (), None, None)
        assert got.profile.name == bench, (name, got.reason)
        p = profiles()[bench]
        if facts.gt_rows is None:
            continue
        assert facts.gt_id_min is not None and facts.gt_id_min >= p.id_min, name
        assert set(facts.gt_classes) <= set(p.classes), name
        assert facts.gt_columns in p.gt_columns, name
        if p.every_frame_annotated:
            assert facts.gt_frames_annotated == facts.seq_length, name


def test_ingest_told_to_ignore_stores_no_empty_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = trackeval(tmp_path)
    target = tmp_path / "out"
    code = run(["ingest", str(data), str(target), "--ignore", "image-folder-missing", "-q",
                "--report", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and not target.exists() and "Traceback" not in err
    assert "no image folder (annotations only)" in err and "nothing was written" in err
