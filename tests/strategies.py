"""Hypothesis strategies for hostile MOT bytes and layouts, and the digest of a source tree that
every robustness test compares before and after a command."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

from hypothesis import strategies as st
from PIL import Image


def tree_digest(root: Path, hash_above: int = 2**24) -> dict[bytes, tuple[object, ...]]:
    """Every entry under `root` (links not followed): its type, mode and content (a SHA-256 of a
    regular file, the target of a link). Files larger than `hash_above` bytes are compared by size,
    mtime and inode instead of content, so that a multi-GB test file is not read. FIFOs and
    devices are never opened."""
    out: dict[bytes, tuple[object, ...]] = {}
    base = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, base)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode)
            elif stat.S_ISREG(st.st_mode) and st.st_size > hash_above:
                out[rel] = ("big", st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    out[rel] = ("file", st.st_mode, hashlib.file_digest(f, "sha256").hexdigest())
            else:
                out[rel] = ("other", st.st_mode, st.st_mtime_ns)
    return out


# -- hostile bytes ---------------------------------------------------------------------------------------

# Cells that have broken readers: float spellings, overflow, signs, blanks, non-ASCII digits, markup.
ODD_CELLS = [
    b"NaN", b"nan", b"inf", b"-inf", b"Infinity", b"1e308", b"-1e308", b"1e309", b"1e-320", b"-0", b"0",
    b"-1", b"1.5", b"", b" ", b"\t", b"+1", b"1 ", b" 1", b"0x10", b"1_0", b"1e", b"1.2.3", b"--1", b"\"1\"",
    b"'1'", b"1,", b"\x00", b"\xff", b"\xef\xbb\xbf1", "٣".encode(), "１".encode(), b"<b>x</b>", b"9" * 30,
    b"999999999999", b"1000000000000", b"9007199254740993", b"1e15", b"True", b"None", b"#", b"\\N",
]
LINE_ENDS = [b"\n", b"\r\n", b"\r"]


def _number(lo: int, hi: int) -> st.SearchStrategy[bytes]:
    return st.one_of(st.integers(lo, hi).map(lambda v: str(v).encode()),
                     st.integers(lo, hi).map(lambda v: f"{v}.000000".encode()),
                     st.floats(lo, hi, allow_nan=False).map(lambda v: repr(v).encode()))


def cells() -> st.SearchStrategy[bytes]:
    return st.one_of(_number(-5, 40), st.sampled_from(ODD_CELLS), st.binary(max_size=6),
                     st.floats().map(lambda v: repr(v).encode()))


@st.composite
def plausible_row(draw: st.DrawFn, width: int) -> list[bytes]:
    """A row that is valid or nearly: frame 1..14, id 1..6, a box in the picture, gt flags."""
    row = [draw(_number(0, 14)), draw(_number(-1, 6)), draw(_number(-20, 100)), draw(_number(-20, 80)),
           draw(_number(-1, 40)), draw(_number(-1, 40)), draw(st.sampled_from([b"0", b"1", b"0.7"]))]
    if width == 9:
        row += [draw(st.sampled_from([b"1", b"7", b"12", b"13", b"0"])), draw(_number(0, 1))]
    row += [b"-1"] * max(0, width - len(row))
    return row[:width]


@st.composite
def annotation_bytes(draw: st.DrawFn, widths: tuple[int, ...] = (9, 10, 7)) -> bytes:
    """gt.txt or det.txt bytes: mostly lines of plausible rows with some cells, widths and line
    ends broken; sometimes raw bytes. BOM, blank lines and a missing last line end included."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=3000))
    width = draw(st.sampled_from(widths))
    lines = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 19))
        if kind == 0:
            lines.append(b"")
        elif kind == 1:
            lines.append(b",".join(draw(st.lists(cells(), min_size=1, max_size=22))))
        else:
            row = draw(plausible_row(width))
            if kind == 2:
                row[draw(st.integers(0, width - 1))] = draw(cells())
            lines.append(b",".join(row))
    end = draw(st.sampled_from(LINE_ENDS))
    if draw(st.integers(0, 5)) == 0:  # mixed line ends
        body = b"".join(line + draw(st.sampled_from(LINE_ENDS)) for line in lines)
    else:
        body = end.join(lines) + (end if draw(st.booleans()) else b"")
    return (b"\xef\xbb\xbf" if draw(st.integers(0, 6)) == 0 else b"") + body


SEQINFO_KEYS = ["name", "imDir", "frameRate", "seqLength", "imWidth", "imHeight", "imExt"]
SEQINFO_VALUES = [
    "img1", "img1/", "./img1", "/etc", "..", "../DEMO-02/img1", "img1/../..", "C:\\img1", "img1\x00", "",
    "12", "0", "-12", "+12", "1e3", "12.0", "999999999", "9999999999", "٣", "nan", "inf", "1e400", "30",
    ".jpg", "jpg", ".JPG", ".png", ".", "<script>alert(1)</script>", "DEMO-01", "x" * 300, "é", "\ufffd",
]


@st.composite
def seqinfo_bytes(draw: st.DrawFn) -> bytes:
    """seqinfo.ini bytes: a [Sequence] section (or not), keys in any case, twice or missing,
    values from a list of known troublemakers or random text; sometimes raw bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=1000))
    good = {"name": "DEMO-01", "imDir": "img1", "frameRate": "30", "seqLength": "12", "imWidth": "96",
            "imHeight": "72", "imExt": ".jpg"}
    lines = [draw(st.sampled_from(["[Sequence]", "[sequence]", "[ Sequence ]", "[Other]", "Sequence", "[", ""]))]
    for key in draw(st.lists(st.sampled_from(SEQINFO_KEYS), max_size=10)) or SEQINFO_KEYS:
        value = good[key] if draw(st.booleans()) else draw(
            st.one_of(st.sampled_from(SEQINFO_VALUES), st.text(max_size=12)))
        spelled = draw(st.sampled_from([key, key.lower(), key.upper(), f" {key} "]))
        lines.append(draw(st.sampled_from([f"{spelled}={value}", f"{spelled} = {value}", f"{spelled}:{value}",
                                           f";{spelled}={value}", f"{spelled}={value}={value}"])))
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"])), errors="replace")
    return data


# -- hostile layouts ----------------------------------------------------------------------------------------

# Paths inside the template tree a layout operation may hit (relative to the tree root).
LAYOUT_TARGETS = [
    "train/DEMO-01/seqinfo.ini", "train/DEMO-01/gt/gt.txt", "train/DEMO-01/det/det.txt",
    "train/DEMO-01/img1", "train/DEMO-01/img1/000001.jpg", "train/DEMO-01/img1/000005.jpg",
    "train/DEMO-01/img1/000012.jpg", "train/DEMO-01/gt", "train/DEMO-01", "train",
    "train/DEMO-02/seqinfo.ini", "train/DEMO-02/img1/000003.jpg", "test/DEMO-03", "test/DEMO-03/img1",
]
LAYOUT_OPS = ["delete", "make-dir", "make-fifo", "self-link", "dangling-link", "link-out", "link-inside",
              "truncate", "garbage", "png", "rename-frame", "byte-name", "copy-to-other-split", "empty-file"]


def layout_ops() -> st.SearchStrategy[list[tuple[str, str, int, bytes]]]:
    """A few (operation, target, number, bytes) steps that tests.strategies.apply_op applies."""
    return st.lists(st.tuples(st.sampled_from(LAYOUT_OPS), st.sampled_from(LAYOUT_TARGETS),
                              st.integers(0, 10**12), st.binary(max_size=64)), min_size=1, max_size=5)


def _remove(path: bytes) -> None:
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def apply_op(root: Path, outside: Path, op: tuple[str, str, int, bytes]) -> None:
    """Apply one layout step under `root`; `outside` is a folder out of the tree that links may
    point at. Steps that no longer apply (their target is gone) do nothing."""
    name, target, number, blob = op
    base = os.fsencode(root)
    path = os.path.join(base, os.fsencode(target))
    parent = os.path.dirname(path)
    if not os.path.isdir(parent) or os.path.islink(parent):
        return
    exists = os.path.lexists(path)
    match name:
        case "delete" if exists:
            _remove(path)
        case "make-dir":
            _remove(path)
            os.mkdir(path)
        case "make-fifo":
            _remove(path)
            os.mkfifo(path)
        case "self-link":
            _remove(path)
            os.symlink(os.path.basename(path), path)
        case "dangling-link":
            _remove(path)
            os.symlink(b"no-such-" + os.path.basename(path), path)
        case "link-out":
            _remove(path)
            os.symlink(os.fsencode(outside), path)
        case "link-inside" if exists:
            link = path + b".link"
            if not os.path.lexists(link):
                os.symlink(os.path.basename(path), link)
        case "truncate" if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "r+b") as f:
                f.truncate(number % (os.path.getsize(path) + 1))
        case "garbage" if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "r+b") as f:
                f.seek(number % (os.path.getsize(path) + 1))
                f.write(blob)
        case "png" if os.path.isfile(path) and not os.path.islink(path):
            Image.new("RGB", (1 + number % 200, 1 + number % 150)).save(path, format="PNG")
        case "rename-frame" if exists:
            new = [b"%06d.jpg" % (number % 20), b"%d.jpg" % number, b"%06d.JPG" % (number % 20),
                   b"%06d.jpeg" % (number % 20), b"-1.jpg", b"000001.jpg.bak"][number % 6]
            dest = os.path.join(parent, new)
            if not os.path.lexists(dest):
                os.rename(path, dest)
        case "byte-name" if exists:
            dest = os.path.join(parent, (blob.replace(b"/", b"_").replace(b"\x00", b"_") or b"_")[:100])
            if dest != path and not os.path.lexists(dest) and os.path.basename(dest) not in (b".", b".."):
                os.rename(path, dest)
        case "copy-to-other-split" if os.path.isdir(path) and not os.path.islink(path):
            dest = os.path.join(base, b"test" if b"train" in path else b"train", os.path.basename(path))
            if os.path.isdir(os.path.dirname(dest)) and not os.path.lexists(dest):
                try:
                    shutil.copytree(os.fsdecode(path), os.fsdecode(dest), symlinks=True)
                except shutil.Error:  # a FIFO is not copied; everything else is
                    pass
        case "empty-file":
            _remove(path)
            open(path, "wb").close()
