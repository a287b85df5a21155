"""Every check on the in-memory model: a case that passes and one that fails with exactly its id."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from motqa.catalog import CHECKS
from motqa.checks.images import image_findings
from motqa.findings import fold
from motqa.imaging import FrameReport, inspect_bytes
from motqa.model import Finding, Place, Severity
from tests.helpers import checks_of, run_checks, sequence

OK = "1,1,100,100,50,120,1,1,1\n2,1,102,100,50,120,1,1,0.5\n1,2,300,50,40,100,0,7,1\n"


def all_checks(seq):  # type: ignore[no-untyped-def]
    return seq.findings + run_checks(seq, "rows", "sequences", "tracks")


def check_tracks(seq):  # type: ignore[no-untyped-def]
    return run_checks(seq, "tracks")


def check_sequence(seq):  # type: ignore[no-untyped-def]
    return run_checks(seq, "sequences")


def test_clean_sequence_has_no_findings() -> None:
    assert all_checks(sequence(OK)) == []


def test_real_mot17_amodal_and_conf0_rows_pass() -> None:
    seq = sequence("1,1,912,484,97,109,0,7,1\n1,4,1585,-1,336,578,0,9,0.98153\n", width=1920, height=1080)
    assert all_checks(seq) == []


# (check id, gt line that breaks it, expected line, frame, track id)
ROW_CASES = [
    ("box-size", "2,2,300,50,0,100,1,1,1", 4, 2, 2),
    ("box-size", "2,2,300,50,40,-3,1,1,1", 4, 2, 2),
    ("id-invalid", "2,0,300,50,40,100,1,1,1", 4, 2, 0),
    ("id-invalid", "2,-1,300,50,40,100,1,1,1", 4, 2, -1),
    ("conf-flag", "2,2,300,50,40,100,0.5,1,1", 4, 2, 2),
    ("class-unknown", "2,2,300,50,40,100,1,0,1", 4, 2, 2),
    ("class-unknown", "2,2,300,50,40,100,1,13,1", 4, 2, 2),
    ("visibility-range", "2,2,300,50,40,100,1,1,1.2", 4, 2, 2),
    ("visibility-range", "2,2,300,50,40,100,1,1,-0.1", 4, 2, 2),
    ("frame-out-of-range", "0,2,300,50,40,100,1,1,1", 4, 0, 2),
    ("frame-out-of-range", "11,3,300,50,40,100,1,1,1", 4, 11, 3),
    ("box-outside-image", "2,2,650,50,40,100,1,1,1", 4, 2, 2),
    ("box-outside-image", "2,2,-50,50,40,100,1,1,1", 4, 2, 2),
    ("box-outside-image", "2,2,10,490,40,100,1,1,1", 4, 2, 2),
    ("duplicate-id", "2,1,300,50,40,100,1,1,1", 4, 2, 1),
]


@pytest.mark.parametrize(("check", "line", "at", "frame", "track"), ROW_CASES)
def test_row_check_fails_at_its_line(check: str, line: str, at: int, frame: int, track: int) -> None:
    findings = all_checks(sequence(OK + line + "\n"))
    assert checks_of(findings) == [check]
    p = findings[0].place
    assert (p.sequence, p.file, p.line, p.frame, p.track_id) == ("train/MOT17-02", "gt/gt.txt", at, frame, track)
    assert findings[0].severity == CHECKS[check].severity


def test_class_13_is_known_in_mot20() -> None:
    assert all_checks(sequence(OK + "2,2,300,50,40,100,1,13,1\n", benchmark="MOT20")) == []


# Border artefacts of the official MOT17 gt: MOT17-10 lines 11122-11123 (left + width = -2) and
# MOT17-13 line 14926 (left 1922 in a 1920-wide picture), evaluated or not. Within the rounding
# margin (4 px, or 0.5 % of the side) a box wholly outside is an info finding, not an error.
BORDER_ROWS = ["366,45,-54,316,52,157,1,1,0.018868", "367,45,-54,316,52,157,1,1,0.018868",
               "206,125,1922,63,478,862,0,10,0.0020877"]


def test_official_border_boxes_are_info() -> None:
    seq = sequence("".join(r + "\n" for r in BORDER_ROWS), length=700, width=1920, height=1080)
    findings = fold(all_checks(seq))
    assert checks_of(findings) == ["box-beyond-border"]  # info folds into one finding a sequence
    f = findings[0]
    assert f.severity == Severity.INFO and f.count == 3 and f.place.line == 1 and f.place.track_id == 45


@pytest.mark.parametrize(("row", "check"), [
    ("2,2,643,50,40,100,1,1,1", "box-beyond-border"),   # 3 px right of a 640-wide picture
    ("2,2,-44,50,40,100,1,1,1", "box-beyond-border"),   # right edge 4 px left of it
    ("2,2,645,50,40,100,1,1,1", "box-outside-image"),   # 5 px: beyond the margin
    ("2,2,10,-105,40,100,1,1,1", "box-outside-image"),  # bottom edge 5 px above the picture
])
def test_border_margin(row: str, check: str) -> None:
    findings = all_checks(sequence(OK + row + "\n"))
    assert checks_of(findings) == [check]
    assert findings[0].severity == CHECKS[check].severity


def test_partly_outside_box_is_legal() -> None:
    assert all_checks(sequence(OK + "2,2,-20,-30,40,100,1,1,1\n2,3,620,400,40,100,1,1,1\n")) == []


def test_duplicate_id_names_both_lines() -> None:
    findings = check_tracks(sequence(OK + "2,1,300,50,40,100,1,1,1\n"))
    assert "lines 2 and 4" in findings[0].message


def test_track_gap_is_info() -> None:
    findings = check_tracks(sequence("1,1,1,1,5,5,1,1,1\n4,1,1,1,5,5,1,1,1\n"))
    assert checks_of(findings) == ["track-gap"]
    assert findings[0].severity == Severity.INFO and findings[0].place.frame == 4
    assert "frames 2-3" in findings[0].message


def test_det_rows_checked_too() -> None:
    seq = sequence(OK, det="1,-1,10,10,5,5,0.9\n2,-1,10,10,0,5,0.8\n3,7,10,10,5,5,0.8\n4,0,10,10,5,5,0.8\n")
    findings = all_checks(seq)
    assert sorted((f.check, f.place.file, f.place.line) for f in findings) == [
        ("box-size", "det/det.txt", 2), ("id-invalid", "det/det.txt", 4)]


def test_frame_count_mismatch_and_missing_images() -> None:
    seq = sequence(OK, length=20, frames=[1, 2, 3, 4])
    findings = check_sequence(seq)
    assert checks_of(findings) == ["frame-count-mismatch", "missing-image"]
    assert findings[0].place.file == "seqinfo.ini" and findings[0].place.line == 5
    assert "seqLength is 20 but img1/ holds 4" in findings[0].message
    missing = findings[1]
    assert missing.count == 16 and "5-20" in missing.message
    assert missing.place.frame == 5 and missing.place.file == "img1/000005.jpg"
    assert all_checks(sequence(OK, length=10)) == []


def test_few_missing_images_are_listed_one_by_one() -> None:
    findings = check_sequence(sequence(OK, length=10, frames=[1, 2, 4, 5, 6, 7, 8, 9, 10, 11]))
    assert checks_of(findings) == ["missing-image"]
    assert findings[0].place.frame == 3


def test_frames_numbered_from_zero() -> None:
    findings = check_sequence(sequence(OK, length=3, frames=[0, 1, 2]))
    assert set(checks_of(findings)) == {"missing-image", "frame-numbering"}
    numbering = next(f for f in findings if f.check == "frame-numbering")
    assert numbering.severity == Severity.WARNING and numbering.place.frame == 0


def test_sequence_name_mismatch() -> None:
    seq = sequence(OK)
    assert check_sequence(seq) == []
    seq.info.name = "MOT17-09"
    findings = check_sequence(seq)
    assert checks_of(findings) == ["sequence-name-mismatch"] and findings[0].place.line == 2


def test_no_boxes() -> None:
    assert checks_of(check_sequence(sequence(""))) == ["no-boxes"]


def jpeg(w: int = 64, h: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((w, h), 60).convert("RGB").save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["decode", "header"])
def test_good_jpeg(mode: str) -> None:
    assert inspect_bytes(jpeg(), mode) == FrameReport(64, 48)


@pytest.mark.parametrize(("data", "check"), [
    (b"", "image-unreadable"),
    (b"not an image at all", "image-unreadable"),
    (jpeg()[:300], "image-unreadable"),
])
@pytest.mark.parametrize("mode", ["decode", "header"])
def test_bad_bytes(data: bytes, check: str, mode: str) -> None:
    assert inspect_bytes(data, mode).check == check


def test_png_named_jpg() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    assert inspect_bytes(buf.getvalue(), "decode", ".jpg").check == "image-format"
    assert inspect_bytes(buf.getvalue(), "decode", ".png").check is None


def test_truncated_scan_fails_both_modes() -> None:
    data = jpeg(256, 256)
    cut = data[: len(data) // 2]
    assert inspect_bytes(cut, "header").check == "image-unreadable"
    report = inspect_bytes(cut, "decode")
    assert report.check == "image-unreadable" and "truncated" in (report.problem or "")


def test_image_size_mismatch() -> None:
    seq = sequence(OK, length=2, width=64, height=48)
    reports = [FrameReport(64, 48), FrameReport(32, 24)]
    findings = image_findings(seq, reports)
    assert checks_of(findings) == ["image-size-mismatch"]
    assert findings[0].place.frame == 2 and "32x24" in findings[0].message
    assert image_findings(seq, [FrameReport(64, 48)] * 2) == []


def test_fold_merges_many_alike() -> None:
    findings = [Finding("missing-image", Severity.ERROR, f"frame {k}", Place("s", "img1", None, k))
                for k in range(30)]
    folded = fold(findings)
    assert len(folded) == 1 and folded[0].count == 30 and len(folded[0].more) == 9
    assert fold(findings[:5]) == findings[:5]
