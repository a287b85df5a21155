"""Finds the sequences under a path (benchmark root, split or one sequence) and loads each one
from its folder, without reading anything outside it."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import numpy as np

from motqa.errors import UsageError
from motqa.findings import FOLD_AT, finding, many
from motqa.model import Finding, Frames, MotDataset, Place, SeqInfo, Sequence, SequenceRef
from motqa.sources.mot_files import MAX_SEQINFO_BYTES, MAX_TABLE_BYTES, parse_annotations, parse_seqinfo

# A frame file larger than this is an image-unreadable finding, never read: an 8K PNG is about
# 100 MB, a 1080p MOT JPEG about 0.5 MB.
MAX_FRAME_BYTES = 256 * 2**20

SEQINFO = "seqinfo.ini"
GT_FILE = "gt/gt.txt"
DET_FILE = "det/det.txt"
_FRAME_NAME = re.compile(r"(\d{1,12})")


def shown(name: str) -> str:
    """A file name as findings and reports show it: bytes that are not UTF-8 (which Python keeps
    as lone surrogates) become \\xNN text, so that every output encodes as UTF-8."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


# How far below the given path sequences are looked for: TrackEval's data/gt/mot_challenge/
# MOT17-train/MOT17-02-FRCNN is 4 below data/, SportsMOT's codes/evaluation/TrackEval/data/ref/
# sportsmot-val/<seq> 6 below its repository.
MAX_DEPTH = 6
MAX_FOLDERS = 20_000  # folders looked into, at most: a path given by mistake (/) ends quickly
SEQMAPS = "seqmaps"


def is_sequence_dir(path: Path) -> bool:
    """A folder with seqinfo.ini, an img1/ folder or a gt/ folder of files (TrackEval's data/ has a
    gt/ folder of benchmark folders, not of one sequence's gt)."""
    if (path / SEQINFO).is_file() or (path / "img1").is_dir() or os.path.lexists(path / GT_FILE):
        return True
    return (path / "gt").is_dir() and not _subdirs(path / "gt")


def _subdirs(path: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for e in entries:
        try:
            if e.is_dir():
                out.append(Path(e.path))
        except OSError:
            continue
    return out


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in ("__MACOSX", "__pycache__")


def find_sequences(path: Path) -> tuple[list[Path], bool]:
    """The sequence folders under `path` (itself, or any folder at most MAX_DEPTH below it, in name
    order), and whether the walk was cut at MAX_FOLDERS. A sequence's own folders are not looked
    into; a link to a folder already seen (a loop) is not followed again."""
    found: list[Path] = []
    seen: set[str] = set()
    stack: list[tuple[Path, int]] = [(path, 0)]
    visited = 0
    while stack:
        folder, depth = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        visited += 1
        if visited > MAX_FOLDERS:
            return found, True
        if is_sequence_dir(folder):
            found.append(folder)
            continue
        if depth < MAX_DEPTH:
            stack += [(child, depth + 1) for child in reversed(_subdirs(folder)) if not _skipped(child.name)]
    return found, False


def discover(path: Path) -> MotDataset:
    """The sequences under `path`: itself, a split, a benchmark root, or a folder above those
    (TrackEval's data/gt); seqmaps beside the splits are compared with what the splits hold."""
    if not path.exists():
        raise UsageError(f"no such path: {path}")
    if not path.is_dir():
        raise UsageError(f"not a folder: {path} (point motqa at a benchmark root, a split or a sequence)")
    folders, cut = find_sequences(path)
    ds = MotDataset(str(path), "mot-folder", [])
    for seq_dir in folders:
        split = _split_of(path, seq_dir)
        ds.sequences.append(SequenceRef(shown(seq_dir.name), split, _loader(seq_dir, split)))
    if cut:
        ds.findings.append(finding("no-sequences", f"stopped looking for sequences after {MAX_FOLDERS} folders "
                                   f"under {shown(str(path))}: point motqa at a benchmark root, split or sequence"))
    if not folders:
        ds.findings.append(finding("no-sequences", f"no MOT sequence under {shown(str(path))} (looked "
                                   f"{MAX_DEPTH} folders deep): a sequence is a folder with seqinfo.ini, img1/ "
                                   "or gt/gt.txt"))
    labels = [r.label for r in ds.sequences]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        ds.findings.append(finding("no-sequences", f"two sequences are named {label}", Place(label)))
    ds.findings += check_seqmaps(path, folders)
    return ds


def _split_of(root: Path, seq_dir: Path) -> str | None:
    """The folders between the given path and the sequence ("train", "MOT17-train",
    "mot_challenge/MOT17-train"): None for the sequence itself or one directly below."""
    return None if seq_dir == root else _below(root, seq_dir.parent)


def _below(root: Path, folder: Path) -> str | None:
    return None if folder == root else shown(folder.relative_to(root).as_posix())


def check_seqmaps(root: Path, folders: list[Path]) -> list[Finding]:
    """TrackEval's seqmaps/<SPLIT>.txt ("name", then one sequence a line) beside the split folder
    <SPLIT>: a sequence listed but absent stops TrackEval; one present but not listed is never
    evaluated. A seqmap of a split that is not here (MOT17-test.txt beside MOT17-train/) is not
    compared."""
    by_split: dict[Path, set[str]] = {}
    for seq_dir in folders:
        by_split.setdefault(seq_dir.parent, set()).add(seq_dir.name)
    out: list[Finding] = []
    for split_dir, present in sorted(by_split.items()):
        seqmap = split_dir.parent / SEQMAPS / f"{split_dir.name}.txt"
        if split_dir == root or not split_dir.is_relative_to(root) or not seqmap.is_file():
            continue
        rel = shown(seqmap.relative_to(root).as_posix())
        data = _read_inside(root, seqmap.relative_to(root).as_posix(), None, out, MAX_SEQINFO_BYTES)
        if data is None:
            continue
        listed: dict[str, int] = {}
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            name = line.strip()
            if name and not (n == 1 and name.lower() == "name"):
                listed.setdefault(name, n)
        split = _below(root, split_dir)
        for name, n in listed.items():
            if name not in present:
                out.append(finding("seqmap-sequence-missing", f"{rel} lists {name}, which {split}/ does not hold: "
                                   "TrackEval stops at it", Place(None, rel, n)))
        for name in sorted(present - set(listed)):
            label = f"{split}/{name}" if split else name
            out.append(finding("seqmap-unlisted", f"{name} is not in {rel}: TrackEval would not evaluate it",
                               Place(shown(label), rel)))
    return out


def _loader(seq_dir: Path, split: str | None):  # type: ignore[no-untyped-def]
    return lambda: load_sequence(seq_dir, split)


def folders_above(seq_dir: Path, limit: int = 6) -> tuple[str, ...]:
    """The names of the folders above a sequence, nearest first: what a benchmark is recognised
    by when the sequence's own name says nothing (its split, the root ...)."""
    parents = Path(os.path.abspath(seq_dir)).parents
    return tuple(shown(p.name) for p in list(parents)[:limit] if p.name)


def inside(base: Path, rel: str) -> Path | None:
    """`base/rel` if it stays inside `base` (no absolute path, no '..', no symlink out), else None.
    Only links inside `base` are read to find out."""
    if not rel or "\0" in rel or os.path.isabs(rel) or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        return None
    parts = re.split(r"[\\/]", rel)
    if ".." in parts:
        return None
    real_base = os.path.realpath(base)
    target = os.path.realpath(os.path.join(real_base, *parts))
    if target != real_base and not target.startswith(real_base + os.sep):
        return None
    return Path(target)


def load_sequence(seq_dir: Path, split: str | None) -> Sequence:
    name = shown(seq_dir.name)
    label = f"{split}/{name}" if split else name
    findings: list[Finding] = []
    info, lines = _read_info(seq_dir, label, findings)
    frames = _list_frames(seq_dir, info, label, lines, findings)
    seq = Sequence(name, split, info, frames, path=seq_dir, findings=findings, folders=folders_above(seq_dir))
    seq.gt = _read_table(seq_dir, GT_FILE, "gt", label, findings)
    seq.det = _read_table(seq_dir, DET_FILE, "det", label, findings)
    in_test_split = seq_dir.resolve().parent.name.lower().startswith("test")
    if seq.gt is None and not os.path.lexists(seq_dir / GT_FILE) and not in_test_split:
        findings.append(finding("gt-missing", "no gt/gt.txt: the sequence has no ground truth",
                                seq.place(file=GT_FILE)))
    _infer_info(seq)
    return seq


def _read_info(seq_dir: Path, label: str, findings: list[Finding]) -> tuple[SeqInfo, dict[str, int]]:
    path = seq_dir / SEQINFO
    if not path.exists() and not path.is_symlink():
        findings.append(finding("seqinfo-missing", "no seqinfo.ini (as in MOT15): sequence length and "
                                "frame size are inferred from the image folder", Place(label, SEQINFO)))
        return SeqInfo(origin="inferred"), {}
    data = _read_inside(seq_dir, SEQINFO, label, findings, MAX_SEQINFO_BYTES)
    if data is None:
        return SeqInfo(origin="inferred"), {}
    parsed = parse_seqinfo(data, label)
    findings += parsed.findings
    return parsed.info, parsed.lines


def _read_inside(seq_dir: Path, rel: str, label: str | None, findings: list[Finding], limit: int) -> bytes | None:
    """The bytes of a file of the sequence, or None with a finding saying why not. Only regular
    files of at most `limit` bytes are read: a named pipe would block for ever, a device or a
    file of many GB would fill the memory."""
    path = inside(seq_dir, rel)
    if path is None:
        findings.append(finding("unsafe-path", f"{rel} is a link that leads out of the sequence "
                                "folder; it was not read", Place(label, rel)))
        return None
    try:
        data = _read_regular(path, limit)
    except OSError as e:
        data = e.strerror or str(e)
    if isinstance(data, str):
        findings.append(finding("file-unreadable", f"{rel} cannot be read: {data}", Place(label, rel)))
        return None
    return data


def _read_regular(path: Path, limit: int) -> bytes | str:
    """The file's bytes, or why it was not read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: opening a FIFO must not wait
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return "is a directory, not a file"
        if not stat.S_ISREG(st.st_mode):
            return "is not a regular file (a named pipe, socket or device); it was not read"
        if st.st_size > limit:
            return f"it is {_mib(st.st_size)}, larger than the {_mib(limit)} motqa reads of such a file"
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            return f"it grew past {_mib(limit)}, the most motqa reads of such a file, while being read"
        return data
    finally:
        os.close(fd)


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size < 2**30 else f"{size / 2**30:.1f} GiB"


def _read_table(seq_dir: Path, rel: str, kind: str, label: str, findings: list[Finding]):  # type: ignore[no-untyped-def]
    if not (seq_dir / rel).exists() and not (seq_dir / rel).is_symlink():
        return None
    data = _read_inside(seq_dir, rel, label, findings, MAX_TABLE_BYTES)
    if data is None:
        return None
    table, problems = parse_annotations(data, kind, label, rel)
    findings += problems
    return table


def _list_frames(seq_dir: Path, info: SeqInfo, label: str, lines: dict[str, int],
                 findings: list[Finding]) -> Frames:
    """The frame files in imDir: numbered names with imExt. Links out of the sequence and other
    files are findings, never read."""
    im_dir = info.im_dir
    real = inside(seq_dir, im_dir)
    if real is None:
        findings.append(finding("unsafe-path", f"imDir={im_dir!r} leads out of the sequence folder; "
                                "no image was read", Place(label, SEQINFO, lines.get("imDir"))))
        return Frames(np.zeros(0, dtype=np.int64), [], _no_read, [], listed=False)
    if not os.path.lexists(real) and not _other_folders(seq_dir):  # TrackEval's: seqinfo.ini and gt/
        return Frames(np.zeros(0, dtype=np.int64), [], _no_read, [], folder=False)
    try:
        entries = list(os.scandir(real))
    except OSError:
        entries = []  # an image folder that cannot be listed shows as missing frames
    numbers: list[int] = []
    names: list[str] = []
    paths: list[Path] = []
    stray: list[str] = []
    unsafe: list[str] = []
    real_base = os.path.realpath(seq_dir)
    ext = info.im_ext
    for e in entries:
        rel = f"{im_dir.rstrip('/')}/{shown(e.name)}"
        stem, dot, suffix = e.name.rpartition(".")
        m = _FRAME_NAME.fullmatch(stem) if dot and "." + suffix == ext else None
        try:
            is_file = e.is_file()
        except OSError:
            is_file = False
        if m is None or not is_file:
            stray.append(rel)
            continue
        if e.is_symlink() and not os.path.realpath(e.path).startswith(real_base + os.sep):
            unsafe.append(rel)
            continue
        numbers.append(int(m.group(1)))
        names.append(rel)
        paths.append(Path(e.path))
    order = np.argsort(np.array(numbers, dtype=np.int64), kind="stable")
    nums = np.array(numbers, dtype=np.int64)[order]
    names = [names[i] for i in order]
    paths = [paths[i] for i in order]
    dup = np.flatnonzero(np.diff(nums) == 0) + 1
    for i in dup[::-1]:  # two files for one frame number (000001.jpg and 0000001.jpg)
        stray.append(names[i])
        nums = np.delete(nums, i)
        del names[i], paths[i]
    _report_files("stray-file", "is not a frame file (a number with extension "
                  f"{ext}) and was not checked", stray, label, findings)
    _report_files("unsafe-path", "is a link that leads out of the sequence folder; it was not read",
                  unsafe, label, findings)
    return Frames(nums, names, lambda i: read_frame(paths[i]), paths)


def _other_folders(seq_dir: Path) -> bool:
    """Whether the sequence folder holds a folder besides gt/ and det/ (frames under another name
    than imDir says are missing frames, not an annotations-only sequence)."""
    return any(p.name not in ("gt", "det") for p in _subdirs(seq_dir))


def read_frame(path: Path) -> bytes:
    """A frame file's bytes; OSError for a file over MAX_FRAME_BYTES, which is never read."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FRAME_BYTES:
            raise OSError(errno.EFBIG, f"it is {_mib(size)}, larger than the {_mib(MAX_FRAME_BYTES)} motqa "
                          "reads of a frame")
        return f.read(MAX_FRAME_BYTES + 1)


def _no_read(i: int) -> bytes:
    raise IndexError(i)


def _report_files(check: str, what: str, files: list[str], label: str, findings: list[Finding]) -> None:
    files = sorted(files)
    places = [Place(label, f) for f in files]
    if len(files) > FOLD_AT:
        findings.append(many(check, f"{files[0]} {what}", places, len(files)))
    else:
        findings += [finding(check, f"{f} {what}", p) for f, p in zip(files, places, strict=True)]


def _infer_info(seq: Sequence) -> None:
    """What seqinfo.ini does not say (MOT15 has none): the length is the last frame on disk (the
    size is the first frame's: motqa/sources/frame_size.py). Findings have already said that the
    values are missing."""
    info = seq.info
    if info.name is None:
        info.name = seq.name
    if len(seq.frames) and info.seq_length is None:
        info.seq_length = int(seq.frames.numbers[-1])
