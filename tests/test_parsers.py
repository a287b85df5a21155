"""seqinfo.ini, gt.txt and det.txt parsers: line numbers kept, nothing dropped or shifted."""

from __future__ import annotations

import numpy as np
import pytest

from motqa.sources.mot_files import parse_annotations, parse_seqinfo
from tests.helpers import checks_of

SEQINFO = b"""[Sequence]
name=MOT17-02-FRCNN
imDir=img1
frameRate=30
seqLength=600
imWidth=1920
imHeight=1080
imExt=.jpg
"""


def gt(text: str, kind: str = "gt"):  # type: ignore[no-untyped-def]
    return parse_annotations(text.encode(), kind, "train/S", f"{kind}/{kind}.txt")


def test_seqinfo_all_keys() -> None:
    parsed = parse_seqinfo(SEQINFO, "S")
    assert parsed.findings == []
    info = parsed.info
    assert (info.name, info.im_dir, info.frame_rate, info.seq_length) == ("MOT17-02-FRCNN", "img1", 30, 600)
    assert (info.im_width, info.im_height, info.im_ext) == (1920, 1080, ".jpg")
    assert info.lines["seqLength"] == 5


@pytest.mark.parametrize(("text", "line", "words"), [
    (SEQINFO.replace(b"seqLength=600", b"seqLength=six hundred"), 5, "seqLength"),
    (SEQINFO.replace(b"imWidth=1920", b"imWidth=-4"), 6, "imWidth"),
    (SEQINFO.replace(b"frameRate=30", b"frameRate=fast"), 4, "frameRate"),
    (SEQINFO.replace(b"imExt=.jpg", b"imExt=jpg/"), 8, "imExt"),
    (SEQINFO.replace(b"imHeight=1080\n", b""), None, "imHeight is missing"),
    (SEQINFO.replace(b"[Sequence]", b"[Other]"), None, "no [Sequence] section"),
    (SEQINFO + b"garbage line\n", 9, "neither"),
])
def test_seqinfo_invalid_names_line(text: bytes, line: int | None, words: str) -> None:
    parsed = parse_seqinfo(text, "S")
    assert checks_of(parsed.findings) == ["seqinfo-invalid"]
    f = parsed.findings[0]
    assert (f.place.file, f.place.line) == ("seqinfo.ini", line)
    assert words in f.message


def test_seqinfo_crlf_bom_and_case() -> None:
    text = b"\xef\xbb\xbf" + SEQINFO.replace(b"\n", b"\r\n").replace(b"seqLength", b"SEQLENGTH")
    parsed = parse_seqinfo(text, "S")
    assert parsed.findings == [] and parsed.info.seq_length == 600


def test_real_mot17_lines_pass_through_unchanged() -> None:
    table, problems = gt("1,1,912,484,97,109,0,7,1\n1,4,1585,-1,336,578,0,9,0.98153\n")
    assert problems == []
    assert table.columns == 9
    assert list(table.rows.index) == [1, 2]
    row = table.rows.loc[2]
    assert (row["frame"], row["id"], row["left"], row["top"]) == (1, 4, 1585, -1)
    assert row["conf"] == 0 and row["class"] == 9 and row["visibility"] == pytest.approx(0.98153)
    assert table.rows["frame"].dtype == np.int64 and table.rows["id"].dtype == np.int64


def test_mot15_ten_columns() -> None:
    table, problems = gt("1,1,10,20,30,40,1,-1,-1,-1\n2,1,11,20,30,40,1,-1,-1,-1\n")
    assert problems == [] and table.columns == 10
    assert table.rows["class"].isna().all() and table.rows["visibility"].isna().all()
    assert list(table.rows["x"]) == [-1, -1]


def test_integral_floats_are_integers() -> None:
    table, problems = gt("1.000000,2.000000,912.000000,484.000000,97.000000,109.000000,1,1,1.000000\n")
    assert problems == []
    assert table.rows.loc[1, "frame"] == 1 and table.rows.loc[1, "id"] == 2


@pytest.mark.parametrize(("line", "words"), [
    ("1.5,2,10,10,5,5,1,1,1", "frame 1.5 is not a whole number"),
    ("1,2.5,10,10,5,5,1,1,1", "id 2.5 is not a whole number"),
    ("1,2,abc,10,5,5,1,1,1", "field 3 is 'abc'"),
    ("1,2,nan,10,5,5,1,1,1", "not a finite number"),
    ("1,2,inf,10,5,5,1,1,1", "not a finite number"),
    ("1,2,10,10,5,5,1,1", "8 fields"),
    ("1,2,10,10,5,5,1,1,1,1,1", "11 fields"),
    ("1,2,,10,5,5,1,1,1", "field 3 is ''"),
])
def test_bad_line_is_parse_error_and_rest_is_kept(line: str, words: str) -> None:
    text = "1,1,10,10,5,5,1,1,1\n" + line + "\n3,1,10,10,5,5,1,1,1\n"
    table, problems = gt(text)
    assert checks_of(problems) == ["parse-error"]
    assert (problems[0].place.file, problems[0].place.line) == ("gt/gt.txt", 2)
    assert words in problems[0].message
    assert list(table.rows.index) == [1, 3]


def test_blank_lines_keep_numbering() -> None:
    table, problems = gt("1,1,10,10,5,5,1,1,1\n\n3,1,10,10,5,5,1,1,1\n")
    assert problems == [] and list(table.rows.index) == [1, 3]


def test_crlf_and_bom() -> None:
    table, problems = gt("\ufeff1,1,10,10,5,5,1,1,1\r\n2,1,10,10,5,5,1,1,1\r\n")
    assert problems == [] and len(table) == 2


def test_empty_file_is_no_rows() -> None:
    table, problems = gt("")
    assert problems == [] and len(table) == 0


def test_many_bad_lines_fold_into_one_finding() -> None:
    text = "".join(f"{i},1,x,1,1,1,1,1,1\n" for i in range(1, 501))
    _, problems = gt(text)
    assert len(problems) == 1 and problems[0].count == 500
    assert problems[0].place.line == 1 and len(problems[0].more) == 9


@pytest.mark.parametrize("text", ["1,-1,10,10,5,5,0.93\n", "1,-1,10,10,5,5,-0.3,-1,-1,-1\n"])
def test_det_seven_and_ten_columns(text: str) -> None:
    table, problems = gt(text, "det")
    assert problems == [] and len(table) == 1
    assert table.rows.loc[1, "conf"] in (0.93, -0.3)


def test_det_nine_columns_is_parse_error() -> None:
    _, problems = gt("1,-1,10,10,5,5,0.9,1,1\n", "det")
    assert checks_of(problems) == ["parse-error"]
