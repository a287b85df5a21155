"""Finds the sequences under a source (benchmark root, split or one sequence; a folder or an
archive: motqa/sources/tree.py) and loads each one from its folder, without reading anything
outside it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from motqa.errors import UsageError
from motqa.findings import FOLD_AT, finding, many
from motqa.model import Finding, Frames, MotDataset, Place, SeqInfo, Sequence, SequenceRef
from motqa.sources.mot_files import MAX_SEQINFO_BYTES, MAX_TABLE_BYTES, parse_annotations, parse_seqinfo
from motqa.sources.tree import IMAGE_EXTS, DiskFolder, Folder, inside

__all__ = ["DET_FILE", "GT_FILE", "SEQINFO", "discover", "inside", "load_sequence", "shown"]

SEQINFO = "seqinfo.ini"
GT_FILE = "gt/gt.txt"
DET_FILE = "det/det.txt"
_FRAME_NAME = re.compile(r"(\d{1,12})")
# CVAT's "MOT 1.1" export: img1/ with the task's own image names, gt/gt.txt and gt/labels.txt (one
# label a line: class id N is line N), no seqinfo.ini.
CVAT_LABELS = "gt/labels.txt"
CVAT = "CVAT"  # its profile (data/profiles.toml)
MAX_LABELS_BYTES = 1 << 20


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


def is_sequence_dir(folder: Folder) -> bool:
    """A folder with seqinfo.ini, an img1/ folder or a gt/ folder of files (TrackEval's data/ has a
    gt/ folder of benchmark folders, not of one sequence's gt)."""
    if folder.is_file(SEQINFO) or folder.is_dir("img1") or folder.lexists(GT_FILE):
        return True
    return folder.is_dir("gt") and not _subdirs(folder.child("gt"))


def _subdirs(folder: Folder) -> list[Folder]:
    return [folder.child(e.name) for e in folder.entries() if e.is_dir]


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in ("__MACOSX", "__pycache__")


def find_sequences(root: Folder) -> tuple[list[Folder], bool]:
    """The sequence folders under `root` (itself, or any folder at most MAX_DEPTH below it, in name
    order), and whether the walk was cut at MAX_FOLDERS. A sequence's own folders are not looked
    into; a link to a folder already seen (a loop) is not followed again."""
    found: list[Folder] = []
    seen: set[str] = set()
    stack: list[tuple[Folder, int]] = [(root, 0)]
    visited = 0
    while stack:
        folder, depth = stack.pop()
        key = folder.key()
        if key in seen:
            continue
        seen.add(key)
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
    """The sequences under `path`: a folder (itself a sequence, a split, a benchmark root, or a
    folder above those: TrackEval's data/gt) or an archive of one (motqa/sources/archive.py);
    seqmaps beside the splits are compared with what the splits hold."""
    if not path.exists():
        raise UsageError(f"no such path: {path}")
    if path.is_dir():
        return discover_in(DiskFolder(path), shown(str(path)), "mot-folder")
    from motqa.sources.archive import is_archive, open_archive

    if not is_archive(path):
        raise UsageError(f"not a folder or an archive (.zip, .tar, .tar.gz): {path} (point motqa at a benchmark "
                         "root, a split or a sequence, or at a download's zip)")
    root, kind, findings = open_archive(path)
    ds = discover_in(root, shown(str(path)), kind)
    ds.findings[:0] = findings
    return ds


def discover_in(root: Folder, source: str, kind: str) -> MotDataset:
    folders, cut = find_sequences(root)
    ds = MotDataset(source, kind, [])
    for seq_dir in folders:
        split = _split_of(root, seq_dir)
        ds.sequences.append(SequenceRef(shown(seq_dir.name), split, _loader(seq_dir, split)))
    if cut:
        ds.findings.append(finding("no-sequences", f"stopped looking for sequences after {MAX_FOLDERS} folders "
                                   f"under {source}: point motqa at a benchmark root, split or sequence"))
    if not folders:
        ds.findings.append(finding("no-sequences", f"no MOT sequence under {source} (looked "
                                   f"{MAX_DEPTH} folders deep): a sequence is a folder with seqinfo.ini, img1/ "
                                   "or gt/gt.txt"))
    labels = [r.label for r in ds.sequences]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        ds.findings.append(finding("no-sequences", f"two sequences are named {label}", Place(label)))
    ds.findings += check_seqmaps(root, folders)
    return ds


def _split_of(root: Folder, seq_dir: Folder) -> str | None:
    """The folders between the given path and the sequence ("train", "MOT17-train",
    "mot_challenge/MOT17-train"): None for the sequence itself or one directly below."""
    rel = seq_dir.relative_to(root)
    return shown(rel.rpartition("/")[0]) if "/" in rel else None


def check_seqmaps(root: Folder, folders: list[Folder]) -> list[Finding]:
    """TrackEval's seqmaps/<SPLIT>.txt ("name", then one sequence a line) beside the split folder
    <SPLIT>: a sequence listed but absent stops TrackEval; one present but not listed is never
    evaluated. A seqmap of a split that is not here (MOT17-test.txt beside MOT17-train/) is not
    compared."""
    by_split: dict[str, set[str]] = {}
    for seq_dir in folders:
        rel = seq_dir.relative_to(root)
        if "/" in rel:
            by_split.setdefault(rel.rpartition("/")[0], set()).add(seq_dir.name)
    out: list[Finding] = []
    for split_rel, present in sorted(by_split.items()):
        parent, _, split_name = split_rel.rpartition("/")
        seqmap_rel = f"{parent}/{SEQMAPS}/{split_name}.txt" if parent else f"{SEQMAPS}/{split_name}.txt"
        if not root.is_file(seqmap_rel):
            continue
        rel = shown(root.file_name(seqmap_rel))
        data = _read_inside(root, seqmap_rel, None, out, MAX_SEQINFO_BYTES)
        if data is None:
            continue
        listed: dict[str, int] = {}
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            name = line.strip()
            if name and not (n == 1 and name.lower() == "name"):
                listed.setdefault(name, n)
        split = shown(split_rel)
        for name, n in listed.items():
            if name not in present:
                out.append(finding("seqmap-sequence-missing", f"{rel} lists {name}, which {split}/ does not hold: "
                                   "TrackEval stops at it", Place(None, rel, n)))
        for name in sorted(present - set(listed)):
            out.append(finding("seqmap-unlisted", f"{name} is not in {rel}: TrackEval would not evaluate it",
                               Place(f"{split}/{name}", rel)))
    return out


def _loader(seq_dir: Folder, split: str | None):  # type: ignore[no-untyped-def]
    return lambda: load_sequence(seq_dir, split)


def load_sequence(seq_dir: Folder | Path, split: str | None) -> Sequence:
    if isinstance(seq_dir, Path):
        seq_dir = DiskFolder(seq_dir)
    name = shown(seq_dir.name)
    label = f"{split}/{name}" if split else name
    findings: list[Finding] = []
    cvat = is_cvat_export(seq_dir)
    if cvat:
        info, lines = SeqInfo(origin="inferred"), dict[str, int]()
        frames = _list_cvat_frames(seq_dir, info, label, findings)
    else:
        info, lines = _read_info(seq_dir, label, findings)
        frames = _list_frames(seq_dir, info, label, lines, findings)
    above = tuple(shown(n) for n in seq_dir.above())
    seq = Sequence(name, split, info, frames, path=seq_dir.path, findings=findings, folders=above,
                   file_prefix=seq_dir.file_name(""))
    if cvat:
        seq.layout, seq.labels = CVAT, _read_labels(seq_dir, label, findings)
    seq.gt = _read_table(seq_dir, GT_FILE, "gt", label, findings)
    seq.det = _read_table(seq_dir, DET_FILE, "det", label, findings)
    in_test_split = bool(above) and above[0].lower().startswith("test")
    if seq.gt is None and not seq_dir.lexists(GT_FILE) and not in_test_split:
        findings.append(finding("gt-missing", "no gt/gt.txt: the sequence has no ground truth",
                                seq.place(file=seq_dir.file_name(GT_FILE))))
    _infer_info(seq)
    return seq


def is_cvat_export(seq_dir: Folder) -> bool:
    return not seq_dir.lexists(SEQINFO) and seq_dir.is_file(CVAT_LABELS)


def _read_labels(seq_dir: Folder, label: str, findings: list[Finding]) -> tuple[str, ...]:
    """CVAT's label names, class id N on line N (empty last lines dropped)."""
    data = _read_inside(seq_dir, CVAT_LABELS, label, findings, MAX_LABELS_BYTES)
    if data is None:
        return ()
    names = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    while names and not names[-1]:
        names.pop()
    return tuple(names)


def _list_cvat_frames(seq_dir: Folder, info: SeqInfo, label: str, findings: list[Finding]) -> Frames:
    """CVAT's img1/: the task's images under their own names, any image format. A frame is what
    CVAT's exporter (datumaro's mot_seq_gt) numbers it: the name's number where the name is one
    (a task made of 000000.jpg ... is numbered from 0), else 1 + its place in the task, whose
    order is the names' sorted order (CVAT's default, "lexicographical")."""
    im_dir = info.im_dir.rstrip("/")
    images: list[tuple[str, str, str]] = []
    stray: list[str] = []
    unsafe: list[str] = []
    for e in seq_dir.entries(im_dir):
        rel = f"{im_dir}/{e.name}"
        stem, dot, suffix = e.name.rpartition(".")
        if not (e.is_file and dot and "." + suffix.lower() in IMAGE_EXTS):
            stray.append(shown(seq_dir.file_name(rel)))
        elif e.escapes:
            unsafe.append(shown(seq_dir.file_name(rel)))
        else:
            images.append((e.name, stem, rel))
    images.sort()
    numbers = [int(stem) if stem.isdigit() else 1 + k for k, (_, stem, _) in enumerate(images)]
    if images:
        info.im_ext = "." + images[0][0].rpartition(".")[2]
    return _frames_of(seq_dir, numbers, [shown(seq_dir.file_name(r)) for _, _, r in images],
                      [r for _, _, r in images], stray, unsafe, "is not an image file and was not checked",
                      label, findings)


def _read_info(seq_dir: Folder, label: str, findings: list[Finding]) -> tuple[SeqInfo, dict[str, int]]:
    if not seq_dir.lexists(SEQINFO):
        findings.append(finding("seqinfo-missing", "no seqinfo.ini (as in MOT15): sequence length and "
                                "frame size are inferred from the image folder",
                                Place(label, seq_dir.file_name(SEQINFO))))
        return SeqInfo(origin="inferred"), {}
    data = _read_inside(seq_dir, SEQINFO, label, findings, MAX_SEQINFO_BYTES)
    if data is None:
        return SeqInfo(origin="inferred"), {}
    parsed = parse_seqinfo(data, label, seq_dir.file_name(SEQINFO))
    findings += parsed.findings
    return parsed.info, parsed.lines


def _read_inside(seq_dir: Folder, rel: str, label: str | None, findings: list[Finding], limit: int) -> bytes | None:
    """The bytes of a file of the sequence, or None with a finding saying why not."""
    name = seq_dir.file_name(rel)
    if seq_dir.escapes(rel):
        findings.append(finding("unsafe-path", f"{name} is a link that leads out of the sequence "
                                "folder; it was not read", Place(label, name)))
        return None
    data = seq_dir.read(rel, limit)
    if isinstance(data, str):
        findings.append(finding("file-unreadable", f"{name} cannot be read: {data}", Place(label, name)))
        return None
    return data


def _read_table(seq_dir: Folder, rel: str, kind: str, label: str, findings: list[Finding]):  # type: ignore[no-untyped-def]
    if not seq_dir.lexists(rel):
        return None
    data = _read_inside(seq_dir, rel, label, findings, MAX_TABLE_BYTES)
    if data is None:
        return None
    table, problems = parse_annotations(data, kind, label, seq_dir.file_name(rel))
    findings += problems
    return table


def _list_frames(seq_dir: Folder, info: SeqInfo, label: str, lines: dict[str, int],
                 findings: list[Finding]) -> Frames:
    """The frame files in imDir: numbered names with imExt. Links out of the sequence and other
    files are findings, never read."""
    im_dir = info.im_dir
    if seq_dir.escapes(im_dir):
        findings.append(finding("unsafe-path", f"imDir={im_dir!r} leads out of the sequence folder; "
                                "no image was read", Place(label, seq_dir.file_name(SEQINFO), lines.get("imDir"))))
        return Frames(np.zeros(0, dtype=np.int64), [], _no_read, [], listed=False)
    if not seq_dir.lexists(im_dir) and not _other_folders(seq_dir):  # TrackEval's: seqinfo.ini and gt/
        return Frames(np.zeros(0, dtype=np.int64), [], _no_read, [], folder=False)
    numbers: list[int] = []
    names: list[str] = []
    rels: list[str] = []
    stray: list[str] = []
    unsafe: list[str] = []
    ext = info.im_ext
    prefix = im_dir.rstrip("/")
    for e in seq_dir.entries(im_dir):  # an image folder that cannot be listed shows as missing frames
        rel = f"{prefix}/{e.name}"
        stem, dot, suffix = e.name.rpartition(".")
        m = _FRAME_NAME.fullmatch(stem) if dot and "." + suffix == ext else None
        if m is None or not e.is_file:
            stray.append(shown(seq_dir.file_name(rel)))
            continue
        if e.escapes:
            unsafe.append(shown(seq_dir.file_name(rel)))
            continue
        numbers.append(int(m.group(1)))
        names.append(shown(seq_dir.file_name(rel)))
        rels.append(rel)
    return _frames_of(seq_dir, numbers, names, rels, stray, unsafe,
                      f"is not a frame file (a number with extension {ext}) and was not checked", label, findings)


def _frames_of(seq_dir: Folder, numbers: list[int], names: list[str], rels: list[str], stray: list[str],
               unsafe: list[str], stray_why: str, label: str, findings: list[Finding]) -> Frames:
    """Frames in number order; of two files for one number, the second is stray."""
    order = np.argsort(np.array(numbers, dtype=np.int64), kind="stable")
    nums = np.array(numbers, dtype=np.int64)[order]
    names = [names[i] for i in order]
    rels = [rels[i] for i in order]
    dup = np.flatnonzero(np.diff(nums) == 0) + 1
    for i in dup[::-1]:  # two files for one frame number (000001.jpg and 0000001.jpg)
        stray.append(names[i])
        nums = np.delete(nums, i)
        del names[i], rels[i]
    _report_files("stray-file", stray_why, stray, label, findings)
    _report_files("unsafe-path", "is a link that leads out of the sequence folder; it was not read",
                  unsafe, label, findings)
    readers = [seq_dir.frame_reader(r) for r in rels]
    paths = [seq_dir.path / r for r in rels] if seq_dir.path is not None else None
    return Frames(nums, names, lambda i: readers[i](), paths)


def _other_folders(seq_dir: Folder) -> bool:
    """Whether the sequence folder holds a folder besides gt/ and det/ (frames under another name
    than imDir says are missing frames, not an annotations-only sequence)."""
    return any(e.is_dir and e.name not in ("gt", "det") for e in seq_dir.entries())


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
    if len(seq.frames) and info.seq_length is None:  # frame files from 0 (CVAT's): one more frame
        info.seq_length = int(seq.frames.numbers[-1]) + int(seq.frames.numbers[0] == 0)
