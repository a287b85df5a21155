"""Parsers for seqinfo.ini, gt.txt and det.txt that keep every row's file line number."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from motqa.findings import FOLD_AT, finding, many
from motqa.model import DET_COLUMNS, GT_COLUMNS, WORLD_COLUMNS, Annotations, Convention, Finding, Place, SeqInfo

# Fields per line each kind of file may have, and what each width means.
WIDTHS = {
    "gt": {9: "frame, id, left, top, width, height, conf, class, visibility (MOT16/17/20)",
           10: "frame, id, left, top, width, height, conf, x, y, z (MOT15)"},
    "det": {7: "frame, -1, left, top, width, height, score",
            10: "frame, -1, left, top, width, height, score, x, y, z"},
    # A tracker's result: TrackEval (mot_challenge_2d_box.py) reads fields 1-7 of every line and
    # field 8 as the class where a line has one; MOTChallenge writes 10 (the last three -1).
    "result": {7: "frame, id, left, top, width, height, conf",
               8: "frame, id, left, top, width, height, conf, class",
               9: "frame, id, left, top, width, height, conf, class, visibility",
               10: "frame, id, left, top, width, height, conf, -1, -1, -1"},
}
# The names of a result's fields past conf, by position (TrackEval reads the first as a class).
RESULT_EXTRA = ("x", "y", "z")
_MAX_EXACT_INT = 2**53
# The largest files motqa reads (larger ones are a file-unreadable finding, never read): MOT20's
# largest gt.txt is about 30 MB, so 256 MiB leaves room while keeping the memory bounded.
MAX_TABLE_BYTES = 256 * 2**20
MAX_SEQINFO_BYTES = 2**20
_LONG_LINE = 4096  # longer than any MOT line: pandas is not given a file whose first line is longer
_SLICE = 4 * 2**20  # the careful reader reads this many bytes at a time

# ---------------------------------------------------------------------------------- seqinfo.ini

SEQINFO_KEYS = ("name", "imDir", "frameRate", "seqLength", "imWidth", "imHeight", "imExt")
_INT_KEYS = {"seqLength": "seq_length", "imWidth": "im_width", "imHeight": "im_height"}


@dataclass
class SeqInfoFile:
    info: SeqInfo
    findings: list[Finding] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # key -> line it stands on


def parse_seqinfo(data: bytes, label: str, file: str = "seqinfo.ini") -> SeqInfoFile:
    """Parse seqinfo.ini. Every problem is a `seqinfo-invalid` finding naming its line; keys
    that are missing or invalid stay None in the SeqInfo (the caller infers them from disk)."""
    out = SeqInfoFile(SeqInfo())

    def bad(message: str, line: int | None = None) -> None:
        out.findings.append(finding("seqinfo-invalid", message, Place(label, file, line)))

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        text = data.decode("utf-8-sig", errors="replace")
        bad(f"seqinfo.ini is not UTF-8 text (byte {e.start}); undecodable bytes shown as \ufffd")
    section: str | None = None
    seen_section = False
    values: dict[str, str] = {}
    canonical = {k.lower(): k for k in SEQINFO_KEYS}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            seen_section = seen_section or section.lower() == "sequence"
            continue
        if "=" not in line:
            bad(f"line is neither a [section] nor key=value: {_show(line)}", n)
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if section is None or section.lower() != "sequence":
            continue
        key = canonical.get(key.lower(), key)
        if key in values:
            bad(f"{key} is given twice (first at line {out.lines[key]}); the first is used", n)
            continue
        values[key] = value
        out.lines[key] = n
        out.info.lines[key] = n
    if not seen_section:
        bad("no [Sequence] section")
        return out
    info = out.info
    for key in SEQINFO_KEYS:
        if key not in values:
            bad(f"key {key} is missing from [Sequence]")
            continue
        value, n = values[key], out.lines[key]
        if key in _INT_KEYS:
            if re.fullmatch(r"\+?\d{1,9}", value) and int(value) > 0:
                setattr(info, _INT_KEYS[key], int(value))
            else:
                bad(f"{key}={_show(value)} is not a positive whole number", n)
        elif key == "frameRate":
            try:
                rate = float(value)
            except ValueError:
                rate = -1.0
            if np.isfinite(rate) and rate > 0:
                info.frame_rate = rate
            else:
                bad(f"frameRate={_show(value)} is not a positive number", n)
        elif key == "imExt":
            if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", value):
                info.im_ext = value
            else:
                bad(f"imExt={_show(value)} is not a file extension such as .jpg", n)
        elif key == "imDir":
            if "\0" in value:  # no file system takes it; img1 is looked in instead
                bad(f"imDir={_show(value)} holds a NUL character, which no path can", n)
            elif value:
                info.im_dir = value
            else:
                bad("imDir is empty", n)
        elif key == "name":
            info.name = value or None
    if info.im_width and info.im_height:
        info.size_from = "seqinfo.ini"
    return out


def _show(value: str, limit: int = 60) -> str:
    """A value from the data, quoted and cut short for a message."""
    text = repr(value[:limit])
    return text + ("…" if len(value) > limit else "")


# ---------------------------------------------------------------------------------- gt / det


def parse_annotations(data: bytes, kind: str, label: str, file: str) -> tuple[Annotations, list[Finding]]:
    """Parse gt.txt or det.txt bytes into Annotations indexed by line number. Lines that are not
    a row of finite numbers of an accepted width, or whose frame or id is not a whole number,
    are `parse-error` findings and are left out of the rows; every other row is kept as is. A
    MOTS20 / KITTI MOTS file (masks, not boxes) is one `mots-masks` finding and no rows."""
    mots = _mots_first_line(data)
    if mots is not None:
        return _mots_file(data, kind, label, file, *mots)
    widths = WIDTHS[kind]
    table = _read_fast(data, widths)
    findings: list[Finding] = []
    if table is None:
        table, findings, nonblank = _read_slow(data, kind, label, file)
    else:
        nonblank = len(table[0])  # the fast reader takes only files without a blank line
    values, lines = table
    width = values.shape[1] if values.ndim == 2 and values.shape[1] else min(widths)
    rows, int_findings = _to_rows(values, lines, kind, width, label, file)
    return Annotations(kind, file, rows, width, nonblank), findings + int_findings


Table = tuple[np.ndarray, np.ndarray]  # values (n, width) float64, 1-based line numbers (n,)

# MOTS20 / KITTI MOTS gt.txt: `frame id class_id img_height img_width rle`, space-separated, the
# last field a mask's run-length code (COCO's compressed RLE, characters '0' to 'o', never a comma).
# A MOTChallenge line is comma-separated, so no line of one has six space-separated fields without
# a comma. The first lines decide how the file is read: masks cannot be checked as boxes.
_MOTS_LINE = re.compile(rb"\d+[ \t]+\d+[ \t]+\d+[ \t]+[1-9]\d*[ \t]+[1-9]\d*[ \t]+[^\s,]+")
_MOTS_HEAD = 2**16  # the first lines are in here (a mask's code is at most a few KB)
_MOTS_LINES = 5


def _mots_first_line(data: bytes) -> tuple[int, str] | None:
    """The first line (number, text) when it and most of the first lines are MOTS rows, not all
    of them ending in a number (a mask's code); else None."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    lines = data[start:start + _MOTS_HEAD].splitlines()
    if len(data) - start > _MOTS_HEAD:
        lines = lines[:-1]  # it may be cut short
    head = [(n, line.strip()) for n, line in enumerate(lines, start=1) if line.strip()][:_MOTS_LINES]
    rows = [line for _, line in head if _MOTS_LINE.fullmatch(line)]
    if not head or not _MOTS_LINE.fullmatch(head[0][1]) or len(rows) * 2 <= len(head):
        return None
    if all(line.split()[-1].isdigit() for line in rows):
        return None
    return head[0][0], head[0][1].decode("ascii", errors="replace")


def _mots_file(data: bytes, kind: str, label: str, file: str, first: int,
               text: str) -> tuple[Annotations, list[Finding]]:
    """No rows, and the one finding that says what the file is (no parse error per line, and no
    no-boxes warning on top: the convention explains the empty rows)."""
    lines = sum(1 for piece in _slices(data) for line in piece.splitlines() if line.strip())
    width = min(WIDTHS[kind])
    rows, _ = _to_rows(np.zeros((0, width)), np.zeros(0, dtype=np.int64), kind, width, label, file)
    message = (f"{file} is a MOTS20 / KITTI MOTS file: line {first} {_show(text)} is frame, id, class, image "
               "height, image width and a run-length-encoded mask, space-separated, not a MOTChallenge box; "
               f"none of its {lines:,} lines was read as a box. Check it with a MOTS tool, or convert the masks "
               "to boxes (pycocotools' mask.toBbox) and write frame,id,left,top,width,height,conf,class,visibility")
    convention = Convention("mots-masks", checks=frozenset({"no-boxes"}))
    return (Annotations(kind, file, rows, width, lines, [convention]),
            [finding("mots-masks", message, Place(label, file, first))])


def _read_fast(data: bytes, widths: dict[int, str]) -> Table | None:
    """pandas' C reader: the common case of a clean file. None when anything is off, so that
    the careful reader can say exactly what and where."""
    if not data or data.isspace():  # strip() would copy the whole file to find out
        return np.zeros((0, min(widths))), np.zeros(0, dtype=np.int64)
    head = data[:_LONG_LINE]
    if len(data) > _LONG_LINE and b"\n" not in head and b"\r" not in head:
        return None
    first = head.splitlines()[:1]  # pandas makes a column per field of line 1: a first line of
    if not first or first[0].count(b",") + 1 not in widths:  # 25 million fields took 24 GB
        return None
    values = _pandas_numbers(data)
    if values is None or values.shape[1] not in widths:
        return None
    return values, np.arange(1, len(values) + 1, dtype=np.int64)


def _pandas_numbers(data: bytes) -> np.ndarray | None:
    """pandas' C reader over `data`, one row per line (blank lines included); None when it
    raises or any value is not a finite number."""
    try:
        df = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float64, engine="c",
                         skip_blank_lines=False, quoting=csv.QUOTE_NONE)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OverflowError):
        return None
    values = df.to_numpy(dtype=np.float64)
    return values if np.isfinite(values).all() else None


def _read_slow(data: bytes, kind: str, label: str, file: str) -> tuple[Table, list[Finding], int]:
    """Line by line: finds every line with a wrong field count or a cell that is not a finite
    number. Blank lines are skipped (their numbers still count). Reads a slice of the file at a
    time, and a slice that pandas reads cleanly is not looked at line by line: the memory stays
    near the size of the rows kept, whatever the file holds."""
    widths = WIDTHS[kind]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    counts: Counter[int] = Counter()
    for piece in _slices(data):
        counts.update(line.count(b",") + 1 for line in piece.splitlines() if line.strip())
    usable = [w for w, _ in counts.most_common() if w in widths]
    width = usable[0] if usable else min(widths)
    accepted = " or ".join(str(w) for w in widths)
    values = np.empty((counts[width], width), dtype=np.float64)
    lines = np.empty(counts[width], dtype=np.int64)
    kept = 0
    problems: list[tuple[int, str]] = []  # the first FOLD_AT; `bad` counts them all
    bad = 0
    first = 1  # the number of the slice's first line
    for piece in _slices(data):
        piece_lines = piece.splitlines()
        clean = _clean_slice(piece, width, len(piece_lines))
        if clean is not None:
            values[kept:kept + len(clean)] = clean
            lines[kept:kept + len(clean)] = np.arange(first, first + len(clean))
            kept += len(clean)
        else:
            for n, line in enumerate(piece_lines, start=first):
                if not line.strip():
                    continue
                fields = line.count(b",") + 1
                why = None if fields == width else (
                    f"{fields} fields where this file has {width}" if usable else
                    f"{fields} fields; a {kind}.txt line has {accepted}" if kind != "result" else
                    f"{fields} fields; a result line has 7 to 10 (MOTChallenge writes 10)")
                row = _numbers(line.split(b",")) if why is None else why
                if isinstance(row, str):
                    bad += 1
                    if len(problems) < FOLD_AT:
                        problems.append((n, row))
                    continue
                values[kept] = row
                lines[kept] = n
                kept += 1
        first += len(piece_lines)
    findings = _parse_findings(problems, label, file, bad)
    return (values[:kept], lines[:kept]), findings, sum(counts.values())


def _slices(data: bytes) -> Iterator[bytes]:
    """`data` in slices of about _SLICE bytes, each ending at a line end (a longer line is a
    slice of its own), so that splitlines() of the slices numbers the lines as of the whole."""
    start, size = 0, len(data)
    while start < size:
        end = start + _SLICE
        if end < size:
            cut = max(data.rfind(b"\n", start, end), data.rfind(b"\r", start, end))
            if cut < start:  # no line end in the slice: it ends where its line does
                nl = data.find(b"\n", end)
                cr = data.find(b"\r", end, nl if nl >= 0 else size)
                cut = min(i for i in (nl, cr, size - 1) if i >= 0)
            if data[cut:cut + 2] == b"\r\n":
                cut += 1
            end = cut + 1
        yield data[start:end]
        start = end


def _clean_slice(piece: bytes, width: int, line_count: int) -> np.ndarray | None:
    """The slice's rows when pandas reads it as `line_count` lines of `width` finite numbers."""
    head = piece[:_LONG_LINE]
    if not head.strip() or (len(piece) > _LONG_LINE and b"\n" not in head and b"\r" not in head) or \
            head.splitlines()[0].count(b",") + 1 != width:
        return None
    values = _pandas_numbers(piece)
    if values is None or values.shape != (line_count, width):
        return None
    return values


def _numbers(cells: list[bytes]) -> list[float] | str:
    """The cells as floats, or why not."""
    out = []
    for i, cell in enumerate(cells, start=1):
        text = cell.strip()
        try:
            if b"_" in text:
                raise ValueError
            value = float(text)
        except ValueError:
            shown = text[:30].decode("utf-8", errors="replace")
            return f"field {i} is {shown!r}, not a number"
        if not np.isfinite(value):
            return f"field {i} is {value}, not a finite number"
        out.append(value)
    return out


def _parse_findings(problems: list[tuple[int, str]], label: str, file: str,
                    total: int | None = None) -> list[Finding]:
    """Findings for (line, why) problems; `total` counts them when only the first are given."""
    total = len(problems) if total is None else total
    places = [Place(label, file, n) for n, _ in problems[:FOLD_AT]]
    if total <= FOLD_AT:
        return [finding("parse-error", why, p) for (_, why), p in zip(problems, places, strict=True)]
    return [many("parse-error", problems[0][1], places, total)]


def _to_rows(values: np.ndarray, lines: np.ndarray, kind: str, width: int, label: str,
             file: str) -> tuple[pd.DataFrame, list[Finding]]:
    """Name the columns; frame and id become int64 where they are whole numbers, other rows are
    parse errors."""
    names = list(GT_COLUMNS[:7] if kind == "gt" else DET_COLUMNS)
    extra = list(GT_COLUMNS[7:]) if kind == "gt" and width == 9 else list(WORLD_COLUMNS)
    if kind == "det" and width == 7:
        extra = []
    if kind == "result":
        extra = list(RESULT_EXTRA[:width - 7])
    cols = names + extra
    findings: list[Finding] = []
    whole = np.ones(len(values), dtype=bool)
    for col in (0, 1):
        v = values[:, col]
        ok = (np.floor(v) == v) & (np.abs(v) < _MAX_EXACT_INT)
        bad = np.flatnonzero(~ok & whole)
        if len(bad):
            what = names[col]
            problems = [(int(lines[i]), f"{what} {values[i, col]:g} is not a whole number") for i in bad[:FOLD_AT]]
            findings += _parse_findings(problems, label, file, len(bad))
        whole &= ok
    if not whole.all():  # copying 1M rows costs as much as the checks: only when a row goes
        values, lines = values[whole], lines[whole]
    if not values.flags.writeable:
        values = values.copy()
    data: dict[str, np.ndarray] = {c: values[:, i] for i, c in enumerate(cols)}
    for c in ("frame", "id"):
        # The whole numbers as int64, in the memory their floats held (`values` holds every column
        # of the frame; its float frame and id are not read again): 16 bytes a row less.
        ints = data[c].view(np.int64)
        ints[...] = data[c].astype(np.int64)
        data[c] = ints
    if kind == "gt" and width == 10:
        data["class"] = np.full(len(values), np.nan)
        data["visibility"] = np.full(len(values), np.nan)
    order = list(GT_COLUMNS if kind == "gt" else DET_COLUMNS) + [c for c in cols if c in WORLD_COLUMNS]
    # copy=False: the columns are views of `values`, which nothing else holds; a copy here is
    # a second pass over every row. (Writable, so that a consumer may still set a cell.)
    rows = pd.DataFrame({c: data[c] for c in order}, index=_line_index(lines), copy=False)
    return rows, findings


def _line_index(lines: np.ndarray) -> pd.Index:
    """The file's line numbers as the rows' index: a RangeIndex (no array held) when they run
    without a gap, as in a file without blank or bad lines; the same labels either way."""
    n = len(lines)
    if n and lines[-1] - lines[0] == n - 1 and bool((np.diff(lines) == 1).all()):
        return pd.RangeIndex(int(lines[0]), int(lines[0]) + n)
    return pd.Index(lines, dtype=np.int64)
