"""Bad input never breaks `motqa validate` or `motqa demo`: each hostile case from the wild ends with
exit 0 or 1, JSON that parses, a finding at its place, no traceback, and a source tree that the
command left exactly as it was."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from motqa.cli import run
from motqa.demo import default_sequences, write_demo
from tests.strategies import tree_digest

SEQ = "train/DEMO-01"
GT = f"{SEQ}/gt/gt.txt"
# Small enough to be quick, large enough that the demo's det noise never makes a box of width <= 0.
WIDTH, HEIGHT, FRAMES = 96, 72, 12
FAST = ("--no-shipped-expectations",)  # the suites run once, in the subprocess test below


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "mot"
    write_demo(r, sequences=default_sequences(FRAMES, WIDTH, HEIGHT))
    return r


def validate(capsys: pytest.CaptureFixture[str], tree: Path, path: Path | str | None = None,
             *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    """`motqa validate --format json` in this process, on `path` (default the tree): exit 0 or 1,
    nothing on stderr, JSON that parses and is valid UTF-8, and not one byte of `tree` changed."""
    before = tree_digest(tree)
    code = run(["validate", os.fspath(path if path is not None else tree), "--format", "json", *FAST, *extra])
    out, err = capsys.readouterr()
    assert tree_digest(tree) == before, "the command changed the source tree"
    assert code in (0, 1), err
    assert err == "", err
    out.encode("utf-8")  # no lone surrogate (an undecodable file name) reaches the output
    return code, json.loads(out)


def found(doc: dict, check: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    return [f for f in doc["findings"] if check is None or f["check"] == check]


def errors(doc: dict) -> list[dict]:  # type: ignore[type-arg]
    """Findings that fail the gate (a line left out also shows as a track gap, an info)."""
    return [f for f in doc["findings"] if f["severity"] == "error"]


def checks(doc: dict) -> set[str]:  # type: ignore[type-arg]
    return {f["check"] for f in doc["findings"]}


def gt_lines(root: Path) -> list[bytes]:
    return (root / GT).read_bytes().splitlines()


def test_clean_tree_is_the_baseline(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = validate(capsys, root)
    assert code == 0 and doc["findings"] == []


# -- gt.txt bytes --------------------------------------------------------------------------------------

def test_empty_gt(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / GT).write_bytes(b"")
    code, doc = validate(capsys, root)
    assert code == 0 and [(f["check"], f["file"]) for f in found(doc)] == [("no-boxes", "gt/gt.txt")]


def test_blank_and_whitespace_only_gt(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / GT).write_bytes(b"\n\r\n  \t\n")
    code, doc = validate(capsys, root)
    assert code == 0 and checks(doc) == {"no-boxes"}


def test_binary_gt(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / GT).write_bytes(bytes(range(256)) * 40 + b"\x00\xff\xfe" * 1000)
    code, doc = validate(capsys, root)
    assert code == 1 and checks(doc) == {"parse-error", "no-boxes"}
    assert all(f["sequence"] == SEQ and f["file"] == "gt/gt.txt" and f["line"] for f in found(doc, "parse-error"))


def test_crlf_and_bom_read_like_the_plain_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, plain = validate(capsys, root)
    data = (root / GT).read_bytes()
    (root / GT).write_bytes(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"))
    code, doc = validate(capsys, root)
    assert code == 0 and doc["findings"] == [] and doc["sequences"] == plain["sequences"]


def test_lone_cr_line_ends(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = (root / GT).read_bytes()
    (root / GT).write_bytes(data.replace(b"\n", b"\r"))
    code, doc = validate(capsys, root)
    assert code == 0 and doc["findings"] == []


def test_bom_and_a_bad_cell_names_the_right_line(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = gt_lines(root)
    lines[4] = b"1,2,x,4,5,6,1,1,1"
    (root / GT).write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n")
    code, doc = validate(capsys, root)
    assert code == 1 and [(f["check"], f["line"]) for f in errors(doc)] == [("parse-error", 5)]


# (field index, value, check that must name the line); fields are frame, id, left, top, width,
# height, conf, class, visibility
CELLS = [
    *[(i, v, "parse-error") for i in (0, 4, 8) for v in ("NaN", "nan", "inf", "-inf", "Infinity")],
    (0, "1e308", "parse-error"), (1, "1e308", "parse-error"), (2, "1e308", "box-outside-image"),
    (4, "1e308", None), (8, "1e308", "visibility-range"),
    (0, "-0", "frame-out-of-range"), (1, "-1", "id-invalid"), (4, "-0", "box-size"), (6, "-0", None),
    (0, "1.5", "parse-error"), (1, "1.5", "parse-error"), (6, "1.5", "conf-flag"),
    (7, "1.5", "class-unknown"), (8, "1.5", "visibility-range"), (3, "1.5", None),
    (0, "", "parse-error"), (2, "0x10", "parse-error"), (2, "1_000", "parse-error"), (2, "٣", "parse-error"),
]


@pytest.mark.parametrize(("field", "value", "check"), CELLS)
def test_special_cells(root: Path, capsys: pytest.CaptureFixture[str], field: int, value: str,
                       check: str | None) -> None:
    lines = gt_lines(root)
    cells = lines[6].split(b",")
    cells[field] = value.encode()
    lines[6] = b",".join(cells)
    (root / GT).write_bytes(b"\n".join(lines) + b"\n")
    code, doc = validate(capsys, root)
    at_line = {f["check"] for f in found(doc) if f["line"] == 7}
    if check is None:
        assert code == 0 and doc["findings"] == []
    else:
        assert code == 1 and check in at_line, doc["findings"]
        assert all(f["file"] == "gt/gt.txt" for f in found(doc) if f["line"] == 7)


@pytest.mark.parametrize("columns", [1, 8, 11, 20])
def test_wrong_field_counts(root: Path, capsys: pytest.CaptureFixture[str], columns: int) -> None:
    def resize(line: bytes) -> bytes:
        cells = line.split(b",")
        return b",".join((cells + [b"1"] * columns)[:columns])

    lines = gt_lines(root)
    (root / GT).write_bytes(b"\n".join(resize(x) for x in lines) + b"\n")
    code, doc = validate(capsys, root)
    bad = found(doc, "parse-error")
    assert code == 1 and len(bad) == 1 and bad[0]["count"] == len(lines)
    assert f"{columns} fields" in bad[0]["message"] and bad[0]["line"] == 1

    # one odd line among good ones: that line alone
    lines[3] = resize(lines[3])
    (root / GT).write_bytes(b"\n".join(lines) + b"\n")
    code, doc = validate(capsys, root)
    assert code == 1 and [(f["check"], f["line"]) for f in errors(doc)] == [("parse-error", 4)]


def test_mixed_9_and_10_columns(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = gt_lines(root)
    lines[0] += b",-1"
    (root / GT).write_bytes(b"\n".join(lines) + b"\n")
    code, doc = validate(capsys, root)
    assert code == 1 and [(f["check"], f["line"]) for f in errors(doc)] == [("parse-error", 1)]


@pytest.mark.parametrize("kind", ["fields", "digits", "cr-only"])
def test_single_long_line_gt(root: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    """10 MB on one line: 5 million fields, one 10-million-digit number, or a whole file with
    lone CR line ends after a long first line."""
    data = {"fields": b"1," * 5_000_000, "digits": b"9" * 10_000_000,
            "cr-only": b"1," * 3000 + b"\r" + b"".join(b"%d,%d,10,10,20,40,1,1,1\r" % (f, i)
                                                         for i in range(1, 81) for f in range(1, 13))}[kind]
    (root / GT).write_bytes(data)
    code, doc = validate(capsys, root, None, "--images", "skip")
    assert code == 1 and [(f["check"], f["line"]) for f in errors(doc)] == [("parse-error", 1)]
    assert doc["sequences"][1]["boxes"] == (960 if kind == "cr-only" else 0)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fields", "digits"])
def test_single_huge_line_keeps_memory_bounded(root: Path, kind: str) -> None:
    """A 50 MB line: 25 million fields, or one 50-million-digit number."""
    (root / GT).write_bytes(b"1," * 25_000_000 if kind == "fields" else b"9" * 50_000_000)
    code, doc, peak = run_measured(root, "--images", "skip")
    assert code == 1 and {f["check"] for f in doc["findings"]} == {"parse-error", "no-boxes"}
    assert peak < 1.5 * 2**30, f"peak RSS {peak / 2**20:.0f} MiB"


@pytest.mark.slow
def test_multi_gigabyte_gt_is_refused_with_memory_bounded(root: Path) -> None:
    """A 3 GiB gt.txt (sparse: one valid line, then zeros) is refused unread, by its size."""
    path = root / GT
    try:
        with path.open("wb") as f:
            f.write(b"1,1,10,10,20,40,1,1,1\n")
            f.truncate(3 * 2**30)
        code, doc, peak = run_measured(root)
        unreadable = [f for f in doc["findings"] if f["check"] == "file-unreadable"]
        assert code == 1 and len(unreadable) == 1 and unreadable[0]["file"] == "gt/gt.txt"
        assert "larger than" in unreadable[0]["message"]
        assert peak < 1.5 * 2**30, f"peak RSS {peak / 2**20:.0f} MiB"
    finally:
        path.unlink()


@pytest.mark.slow
def test_multi_gigabyte_frame_is_refused_with_memory_bounded(root: Path) -> None:
    """A 3 GiB frame file (sparse) is reported unread: the image check, the report's sampler and
    the ingest writer all read frames through the same size limit."""
    path = root / SEQ / "img1/000004.jpg"
    try:
        with path.open("r+b") as f:
            f.truncate(3 * 2**30)
        code, doc, peak = run_measured(root, "--no-shipped-expectations")
        hit = [f for f in doc["findings"] if f["check"] == "image-unreadable"]
        assert code == 1 and [(f["sequence"], f["frame"]) for f in hit] == [(SEQ, 4)]
        assert "larger than" in hit[0]["message"]
        assert peak < 1.5 * 2**30, f"peak RSS {peak / 2**20:.0f} MiB"
    finally:
        path.unlink()


@pytest.mark.slow
def test_gt_just_under_the_size_limit_keeps_memory_bounded(root: Path) -> None:
    """The largest gt.txt motqa reads, with one bad line at its end (the careful reader's case)."""
    from motqa.sources.mot_files import MAX_TABLE_BYTES

    line = b"1,1,912,484,97,109,0,7,1\n"
    path = root / GT
    try:
        with path.open("wb") as f:
            block = line * 100_000
            for _ in range((MAX_TABLE_BYTES - 100) // len(block)):
                f.write(block)
            f.write(b"1,1,x,1,1,1,1,1,1\n")
        code, doc, peak = run_measured(root, "--images", "skip", "--no-shipped-expectations")
        assert code == 1 and {(f["check"], f["count"]) for f in doc["findings"]} >= {("parse-error", 1)}
        assert peak < 3 * 2**30, f"peak RSS {peak / 2**20:.0f} MiB"
    finally:
        path.unlink()


# A child that cannot take the machine down while the test looks for a memory bug.
_LIMITED = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({0}, {0})); "
            "sys.argv[0] = 'motqa'; from motqa.cli import main; main()")


def run_measured(tree: Path, *extra: str) -> tuple[int, dict, int]:  # type: ignore[type-arg]
    """`motqa validate --format json` in a child with a 6 GiB address-space limit: the exit code,
    the JSON, and the child's peak RSS in bytes (os.wait4 gives that child's own rusage)."""
    before = tree_digest(tree, hash_above=2**26)
    args = [sys.executable, "-c", _LIMITED.format(6 * 2**30), "validate", str(tree), "--format", "json", *extra]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tree.parent) as p:
        out, err = p.communicate(timeout=600)  # collects the pipes; wait4 below reaps the child
    _, status, usage = os.wait4(p.pid, 0) if p.returncode is None else (0, 0, None)
    code = p.returncode if p.returncode is not None else os.waitstatus_to_exitcode(status)
    assert b"Traceback" not in err and b"internal error" not in err, err.decode(errors="replace")
    assert tree_digest(tree, hash_above=2**26) == before
    peak = usage.ru_maxrss * 1024 if usage is not None else 0
    return code, json.loads(out), peak


# -- files that are not files ---------------------------------------------------------------------------

def test_gt_that_is_a_directory(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / GT).unlink()
    (root / GT).mkdir()
    code, doc = validate(capsys, root)
    assert code == 1 and [(f["check"], f["sequence"], f["file"]) for f in found(doc)] == [
        ("file-unreadable", SEQ, "gt/gt.txt")]


@pytest.mark.parametrize("name", ["gt/gt.txt", "det/det.txt", "seqinfo.ini"])
def test_fifo_is_not_read(root: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    """A named pipe would block a reader for ever: it is reported, never opened."""
    path = root / SEQ / name
    path.unlink()
    os.mkfifo(path)
    code, doc = validate(capsys, root)
    hits = found(doc, "file-unreadable")
    assert code == 1 and [(f["file"], "not a regular file" in f["message"]) for f in hits] == [(name, True)]
    assert "gt-missing" not in checks(doc) and "seqinfo-missing" not in checks(doc)


def test_dangling_symlinks(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / GT).unlink()
    os.symlink("nowhere.txt", root / GT)
    (root / SEQ / "img1/000003.jpg").unlink()
    os.symlink("nowhere.jpg", root / SEQ / "img1/000003.jpg")
    code, doc = validate(capsys, root)
    assert code == 1
    assert [(f["check"], f["file"]) for f in found(doc, "file-unreadable")] == [("file-unreadable", "gt/gt.txt")]
    assert "img1/000003.jpg" in {f["file"] for f in found(doc, "missing-image")}
    assert "gt-missing" not in checks(doc)


def test_file_without_read_permission(root: Path) -> None:
    """chmod 000 does not stop root, so as root the child runs without CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH (setpriv), where the file's mode applies to root too."""
    (root / GT).chmod(0)
    (root / SEQ / "img1/000002.jpg").chmod(0)
    (root / "train/DEMO-02/seqinfo.ini").chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and util-linux's setpriv is missing: cannot drop CAP_DAC_OVERRIDE")
        caps = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]
    before = tree_digest(root)
    p = subprocess.run([*prefix, sys.executable, "-m", "motqa", "validate", str(root), "--format", "json", *FAST],
                       capture_output=True, cwd=root.parent, timeout=120)
    assert tree_digest(root) == before
    assert p.returncode == 1 and p.stderr == b"", p.stderr.decode(errors="replace")
    doc = json.loads(p.stdout)
    denied = {(f["sequence"], f["file"]) for f in found(doc) if "ermission denied" in f["message"]}
    assert denied == {(SEQ, "gt/gt.txt"), (SEQ, "img1/000002.jpg"), ("train/DEMO-02", "seqinfo.ini")}


def test_symlink_loops(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = root / SEQ
    (seq / "gt/gt.txt").unlink()
    os.symlink("gt.txt", seq / "gt/gt.txt")  # a link to itself
    (seq / "seqinfo.ini").unlink()
    os.symlink("a.ini", seq / "seqinfo.ini")
    os.symlink("seqinfo.ini", seq / "a.ini")  # a loop of two
    os.symlink("loop", root / "train/loop")  # a folder entry that loops
    os.symlink(".", seq / "img1/again")  # a folder that contains itself
    os.symlink("000001.jpg", seq / "img1/000099.jpg")  # fine: a link inside
    code, doc = validate(capsys, root)
    assert code == 1
    assert {(f["check"], f["file"]) for f in found(doc) if f["sequence"] == SEQ} >= {
        ("file-unreadable", "gt/gt.txt"), ("file-unreadable", "seqinfo.ini")}
    assert "gt-missing" not in checks(doc) and "seqinfo-missing" not in checks(doc)


def test_symlinks_out_of_the_tree(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "gt.txt").write_bytes((root / GT).read_bytes())
    shutil.copy(root / SEQ / "img1/000001.jpg", outside / "frame.jpg")
    (root / GT).unlink()
    os.symlink(outside / "gt.txt", root / GT)
    (root / SEQ / "img1/000003.jpg").unlink()
    os.symlink("../../../../outside/frame.jpg", root / SEQ / "img1/000003.jpg")
    (root / "train/DEMO-02/det/det.txt").unlink()
    os.symlink("/etc/passwd", root / "train/DEMO-02/det/det.txt")
    before = tree_digest(outside)
    code, doc = validate(capsys, root)
    assert tree_digest(outside) == before
    unsafe = {(f["sequence"], f["file"]) for f in found(doc, "unsafe-path")}
    assert code == 1 and unsafe == {(SEQ, "gt/gt.txt"), (SEQ, "img1/000003.jpg"),
                                    ("train/DEMO-02", "det/det.txt")}


@pytest.mark.parametrize(("im_dir", "check"), [
    ("/etc", "unsafe-path"), ("/", "unsafe-path"), ("..", "unsafe-path"), ("img1/../..", "unsafe-path"),
    ("../DEMO-02/img1", "unsafe-path"), ("..\\DEMO-02\\img1", "unsafe-path"), ("C:\\img1", "unsafe-path"),
    ("img1/\x00", "seqinfo-invalid"), ("img\x001", "seqinfo-invalid"), ("x" * 5000, "missing-image"),
    (".", "stray-file"), ("img1/000001.jpg", "missing-image"),
])
def test_im_dir_from_the_file(root: Path, capsys: pytest.CaptureFixture[str], im_dir: str, check: str) -> None:
    info = root / SEQ / "seqinfo.ini"
    info.write_text(info.read_text().replace("imDir=img1", f"imDir={im_dir}"))
    code, doc = validate(capsys, root)
    assert code in (0, 1) and check in checks(doc), doc["findings"]
    if check == "unsafe-path":
        hit = found(doc, "unsafe-path")[0]
        assert (hit["sequence"], hit["file"], hit["line"]) == (SEQ, "seqinfo.ini", 3)


# -- frames ----------------------------------------------------------------------------------------------

def test_broken_frames(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = root / SEQ / "img1"
    (img / "000002.jpg").write_bytes(b"")
    (img / "000003.jpg").write_bytes(b"GIF89a not a picture at all")
    Image.new("RGB", (WIDTH, HEIGHT)).save(img / "000004.jpg", format="PNG")
    (img / "000005.jpg").write_bytes((img / "000005.jpg").read_bytes()[:200])
    code, doc = validate(capsys, root)
    got = {(f["check"], f["frame"]) for f in found(doc)}
    assert code == 1 and got == {("image-unreadable", 2), ("image-unreadable", 3), ("image-format", 4),
                                 ("image-unreadable", 5)}
    assert all(f["file"] == f"img1/{f['frame']:06d}.jpg" for f in found(doc))


@pytest.mark.parametrize("images", ["header", "skip"])
def test_broken_frames_in_other_image_modes(root: Path, capsys: pytest.CaptureFixture[str], images: str) -> None:
    (root / SEQ / "img1/000002.jpg").write_bytes(b"")
    code, _ = validate(capsys, root, None, "--images", images)
    assert code == (1 if images == "header" else 0)


def test_frames_numbered_from_zero(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = root / SEQ / "img1"
    for k in range(1, FRAMES + 1):
        (img / f"{k:06d}.jpg").rename(img / f"{k - 1:06d}.jpg")
    code, doc = validate(capsys, root)
    got = {(f["check"], f["frame"]) for f in found(doc)}
    assert code == 1 and ("frame-numbering", 0) in got and ("missing-image", FRAMES) in got


@pytest.mark.parametrize("with_seqinfo", [True, False])
def test_frame_number_near_ten_to_the_twelve(root: Path, capsys: pytest.CaptureFixture[str],
                                            with_seqinfo: bool) -> None:
    """A 12-digit frame number is read as a frame; a 13-digit one (10^12) is a stray file. Neither
    may make a check allocate an array as long as the number (7 TiB)."""
    img = root / SEQ / "img1"
    (img / f"{FRAMES:06d}.jpg").rename(img / "999999999999.jpg")
    (img / "000011.jpg").rename(img / "1000000000000.jpg")
    if not with_seqinfo:
        (root / SEQ / "seqinfo.ini").unlink()
    code, doc = validate(capsys, root)
    assert code == 1
    assert {(f["check"], f["file"]) for f in found(doc, "stray-file")} == {("stray-file", "img1/1000000000000.jpg")}
    missing = found(doc, "missing-image")
    if with_seqinfo:
        assert [(f["frame"], f["count"]) for f in missing] == [(11, 1), (12, 1)]
    else:  # the length is the last frame on disk: 11..999999999998 are missing
        assert [(f["frame"], f["count"]) for f in missing] == [(11, 999999999988)]
        assert "frames 11-999999999998 are missing" in missing[0]["message"]


def test_huge_seq_length(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = root / SEQ / "seqinfo.ini"
    info.write_text(info.read_text().replace(f"seqLength={FRAMES}", "seqLength=999999999"))
    code, doc = validate(capsys, root)
    assert code == 1 and found(doc, "frame-count-mismatch")[0]["line"] == 5
    missing = found(doc, "missing-image")
    assert missing[0]["count"] == 999999999 - FRAMES and missing[0]["frame"] == FRAMES + 1
    assert f"{FRAMES + 1}-999999999" in missing[0]["message"]


def test_gt_frame_ten_to_the_twelve(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = gt_lines(root)
    lines.insert(2, b"1000000000000,1,10,10,20,40,1,1,1")
    (root / GT).write_bytes(b"\n".join(lines) + b"\n")
    code, doc = validate(capsys, root)
    hit = found(doc, "frame-out-of-range")
    assert code == 1 and [(f["line"], f["frame"]) for f in hit] == [(3, 10**12)]


# -- names -------------------------------------------------------------------------------------------------

def test_same_sequence_name_in_two_splits(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(root / SEQ, root / "test/DEMO-01")
    (root / "test/DEMO-01/img1/000004.jpg").write_bytes(b"")
    code, doc = validate(capsys, root)
    labels = [s["label"] for s in doc["sequences"]]
    assert sorted(labels) == ["test/DEMO-01", "test/DEMO-03", "train/DEMO-01", "train/DEMO-02"]
    assert code == 1 and [(f["check"], f["sequence"]) for f in found(doc)] == [("image-unreadable", "test/DEMO-01")]


def test_names_that_are_not_utf8(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = os.fsencode(root)
    os.rename(base + b"/train/DEMO-01", base + b"/train/DEMO-\xff\xfe")
    os.rename(base + b"/test", base + b"/t\xe9st")
    with open(base + b"/train/DEMO-02/img1/\xff\x80.jpg", "wb") as f:
        f.write(b"x")
    code, doc = validate(capsys, root)
    labels = sorted(s["label"] for s in doc["sequences"])
    assert labels == ["t\\xe9st/DEMO-03", "train/DEMO-02", "train/DEMO-\\xff\\xfe"]
    stray = found(doc, "stray-file")
    assert code == 0 and [f["file"] for f in stray] == ["img1/\\xff\\x80.jpg"]
    # a folder named in undecodable bytes can be validated by itself, too
    code, doc = validate(capsys, root, os.fsdecode(base + b"/train/DEMO-\xff\xfe"))
    assert code == 0 and doc["source"].endswith("DEMO-\\xff\\xfe")


def test_empty_and_odd_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "odd"
    (tree / "train/EMPTY/gt").mkdir(parents=True)  # a sequence with nothing in it
    (tree / "train/ONLYINI").mkdir()
    (tree / "train/ONLYINI/seqinfo.ini").write_bytes(b"")
    (tree / "train/file").write_bytes(b"x")
    code, doc = validate(capsys, tree)
    assert code == 1 and {s["label"] for s in doc["sequences"]} == {"train/EMPTY", "train/ONLYINI"}


# -- the command line around the data ----------------------------------------------------------------------

def test_bad_paths_are_exit_2_with_a_message(tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in (tmp_path / "nope", root / GT):
        assert run(["validate", str(path)]) == 2
        _, err = capsys.readouterr()
        assert err.startswith("motqa: ") and "internal error" not in err


def test_output_to_a_folder_is_exit_2(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(root), *FAST, "--output", str(root / "train")]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("motqa: ") and "internal error" not in err


@pytest.mark.parametrize("target", ["file", "nonempty", "under-a-file"])
def test_demo_into_a_bad_place_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> None:
    (tmp_path / "afile").write_bytes(b"x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full/keep").write_bytes(b"keep")
    path = {"file": tmp_path / "afile", "nonempty": tmp_path / "full",
            "under-a-file": tmp_path / "afile/demo"}[target]
    before = tree_digest(tmp_path)
    assert run(["demo", str(path)]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("motqa: ") and "internal error" not in err
    assert tree_digest(tmp_path) == before


def test_demo_then_validate_leaves_the_demo_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", str(tmp_path / "d"), "--frames", "12"]) == 0
    capsys.readouterr()
    code, doc = validate(capsys, tmp_path / "d", None, "--images", "header")
    assert code == 0 and len(doc["sequences"]) == 3


# -- everything at once, as a user runs it: a subprocess, every suite, every format, the report ------------

HOSTILE_MARKUP = "<motqa-x onmotqa=1>&amp;\"'"


def hostile_tree(root: Path) -> None:
    """Every sequence of a copy of the demo broken in another way, markup in names and values."""
    seq = root / SEQ
    train = root / "train"
    for n, name in enumerate(["NAN", "FIFO", "LOOP", "BINARY", "FRAMES", "IMDIR", "WIDE", HOSTILE_MARKUP]):
        shutil.copytree(seq, train / name)
        d = train / name
        gt = d / "gt/gt.txt"
        lines = gt.read_bytes().splitlines()
        match n:
            case 0:
                lines[1] = b"1,1,nan,inf,1e308,-0,1.5,7,1"
                gt.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines))
            case 1:
                gt.unlink()
                os.mkfifo(gt)
            case 2:
                gt.unlink()
                os.symlink("gt.txt", gt)
            case 3:
                gt.write_bytes(os.urandom(20_000))
            case 4:
                (d / "img1/000001.jpg").write_bytes(b"")
                (d / "img1/000002.jpg").rename(d / "img1/999999999999.jpg")
            case 5:
                info = d / "seqinfo.ini"
                info.write_text(info.read_text().replace("imDir=img1", "imDir=../../../etc"))
            case 6:
                gt.write_bytes(b"\n".join(x + b",1" * 11 for x in lines))
            case 7:
                info = d / "seqinfo.ini"
                info.write_text(info.read_text().replace(f"name={name}", f"name={HOSTILE_MARKUP}")
                                .replace("frameRate=30", f"frameRate={HOSTILE_MARKUP}"))
                lines[2] = ",".join(["1", "2", HOSTILE_MARKUP, *"456789"]).encode()
                gt.write_bytes(b"\n".join(lines))
                (d / "img1" / f"{HOSTILE_MARKUP}.jpg").write_bytes(b"x")
                (d / "img1" / "a\r\n::error::b.jpg").write_bytes(b"x")  # a line end in a name
    os.rename(os.fsencode(train / "BINARY"), os.fsencode(train) + b"/BIN\xff")


@pytest.mark.slow
def test_hostile_tree_in_a_subprocess(root: Path, tmp_path: Path) -> None:
    """The real command, every shipped suite on, the HTML report written: no traceback on stderr,
    exit 1, the output decodes as UTF-8, and the sources are as they were."""
    hostile_tree(root)
    report = tmp_path / "report.html"
    before = tree_digest(root)
    p = subprocess.run([sys.executable, "-m", "motqa", "validate", str(root), "--format", "json",
                        "--report", str(report)], capture_output=True, cwd=tmp_path, timeout=300)
    assert tree_digest(root) == before
    err = p.stderr.decode("utf-8")
    assert p.returncode == 1 and "Traceback" not in err and "internal error" not in err, err
    doc = json.loads(p.stdout.decode("utf-8"))
    assert len(doc["sequences"]) == 11 and not doc["valid"]
    assert {"parse-error", "file-unreadable", "unsafe-path", "image-unreadable"} <= checks(doc)
    assert_report_escapes(report.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", ["text", "junit", "github"])
def test_hostile_tree_in_every_format(root: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    hostile_tree(root)
    before = tree_digest(root)
    code = run(["validate", str(root), "--format", fmt, *FAST])
    out, err = capsys.readouterr()
    assert tree_digest(root) == before
    assert code == 1 and err == "", err
    out.encode("utf-8")
    if fmt == "junit":
        ET.fromstring(out.encode("utf-8"))
    if fmt == "github":  # one workflow command a line: markup and line ends in names stay inside
        assert all(line.startswith(("::", "motqa: ")) for line in out.splitlines())


# -- the HTML report escapes every string from the input ---------------------------------------------------

class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_report_escapes(html: str, shown: str = "<motqa-x onmotqa=1>") -> None:
    """The markers' tags and handlers never become markup, the report's one script stays the only
    one, and `shown` (a marker's start) is there as text."""
    page = _Page()
    page.feed(html)
    page.close()
    assert not [t for t, _ in page.tags if t.startswith("motqa")]
    assert not [(t, a) for t, attrs in page.tags for a, _ in attrs if a.startswith("on")]
    assert [t for t, _ in page.tags].count("script") == 1
    assert shown in "".join(page.text)


@pytest.mark.parametrize("where", ["split", "sequence", "seqinfo", "cell", "det-cell", "frame-file"])
def test_report_escapes_markup_from_every_place(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                where: str) -> None:
    marker = "<motqa-y onmotqa=2 x='\"'>&lt;"
    seq = root / SEQ
    match where:
        case "split":
            (root / "train").rename(root / marker)
        case "sequence":
            seq.rename(root / "train" / marker)
        case "seqinfo":
            info = seq / "seqinfo.ini"
            info.write_text(info.read_text().replace("imExt=.jpg", f"imExt={marker}")
                            .replace("seqLength=12", f"seqLength={marker}"))
        case "cell" | "det-cell":
            path = seq / ("gt/gt.txt" if where == "cell" else "det/det.txt")
            lines = path.read_bytes().splitlines()
            lines[0] = marker.encode() + b"," + lines[0].split(b",", 1)[1]
            path.write_bytes(b"\n".join(lines))
        case "frame-file":
            (seq / "img1" / f"{marker}.jpg").write_bytes(b"x")
    report = tmp_path / "r.html"
    before = tree_digest(root)
    code = run(["validate", str(root), *FAST, "--quiet", "--report", str(report)])
    capsys.readouterr()
    assert tree_digest(root) == before and code in (0, 1)
    html = report.read_text(encoding="utf-8")
    assert_report_escapes(html, "<motqa-y onmotqa=2")
    assert re.search(r"&lt;motqa-y onmotqa=2", html)
