"""The demo download in the forms users receive it: a zip or tar of the folder (`motqa demo DIR
--as zip`), and CVAT's "MOT 1.1" export (`--as cvat`). Archives are written deterministically
(sorted members, fixed times) so that a test can cut or corrupt them at a known offset."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path

from motqa.demo import Box, DemoSequence, default_sequences, write_sequence
from motqa.model import Place

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
_EPOCH_ZIP = (1980, 1, 1, 0, 0, 0)


def archive_suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((s for s in ARCHIVE_SUFFIXES if name.endswith(s)), None)


def _members(src: Path, top: str | None) -> list[tuple[str, Path]]:
    prefix = f"{top}/" if top else ""
    return [(prefix + f.relative_to(src).as_posix(), f) for f in sorted(src.rglob("*")) if f.is_file()]


def write_archive(src: Path, dst: Path, top: str | None = None, stored: bool = False) -> Path:
    """Write the files under `src` to the archive `dst` (kind from its suffix: .zip, .tar,
    .tar.gz/.tgz), each under `top/` when given. `stored` zips without compression."""
    suffix = archive_suffix(dst)
    if suffix is None:
        raise ValueError(f"{dst.name}: not an archive name (.zip, .tar, .tar.gz)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    members = _members(src, top)
    if suffix == ".zip":
        method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(dst, "w") as zf:
            for name, f in members:
                info = zipfile.ZipInfo(name, _EPOCH_ZIP)
                info.compress_type = method
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                zf.writestr(info, f.read_bytes())
        return dst
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, f in members:
            entry = tarfile.TarInfo(name)
            data = f.read_bytes()
            entry.size, entry.mtime, entry.mode = len(data), 0, 0o644
            tf.addfile(entry, io.BytesIO(data))
    data = buf.getvalue()
    if suffix != ".tar":
        data = gzip.compress(data, mtime=0)
    dst.write_bytes(data)
    return dst


# ------------------------------------------------------------------------ CVAT's MOT 1.1 export

CVAT_LABELS = ("person", "car")  # a task's labels: class id N is line N of gt/labels.txt
# What a CVAT export gets wrong, as `motqa demo --as cvat --defect` plants it.
CVAT_DEFECTS = ("frames-zero-based", "duplicate-id", "tracks-keyframes-only")
KEYFRAME_STEP = 5


def write_cvat(dst: Path, defect: str | None = None, frames: int = 60) -> Place | None:
    """CVAT's MOT 1.1 export of one task (the demo's first sequence) under `dst`, or zipped to it
    when it ends in .zip (CVAT hands out a zip of gt/ and img1/): img1/ with the task's image
    names (a video task's frame_000000.jpg ..., numbered 1 + their place; with frames-zero-based
    an image task's 000000.jpg ..., numbered from 0), gt/gt.txt ordered by frame as the exporter
    writes it, gt/labels.txt. Returns where the planted defect's finding must point."""
    if defect is not None and defect not in CVAT_DEFECTS:
        raise ValueError(f"unknown CVAT defect {defect!r}; choose from {', '.join(CVAT_DEFECTS)}")
    zipped = dst.name.lower().endswith(".zip")
    if dst.exists() and (zipped or any(dst.iterdir())):
        raise FileExistsError(f"{dst} exists" if zipped else f"{dst} is not empty")
    seq = default_sequences(frames)[0]
    with tempfile.TemporaryDirectory() as tmp:
        written = write_sequence(Path(tmp), seq)
        task = Path(tmp) / "task"
        place = _as_cvat(written, task, seq, defect, _task_name(dst))
        if zipped:
            write_archive(task, dst)
        else:
            dst.mkdir(parents=True, exist_ok=True)
            for f in sorted(task.rglob("*")):
                target = dst / f.relative_to(task)
                if f.is_dir():
                    target.mkdir(exist_ok=True)
                else:
                    target.write_bytes(f.read_bytes())
    return place


def _task_name(dst: Path) -> str:
    return dst.name[:-4] if dst.name.lower().endswith(".zip") else dst.name


def _as_cvat(written: Path, task: Path, seq: DemoSequence, defect: str | None, label: str) -> Place | None:
    (task / "img1").mkdir(parents=True)
    (task / "gt").mkdir()
    zero = defect == "frames-zero-based"
    for f in range(1, seq.frames + 1):
        name = f"{f - 1:06d}.jpg" if zero else f"frame_{f - 1:06d}.jpg"
        (task / "img1" / name).write_bytes((written / "img1" / f"{f:06d}.jpg").read_bytes())
    boxes = sorted(seq.boxes, key=lambda b: (b.frame, b.track))
    if defect == "tracks-keyframes-only":
        boxes = [b for b in boxes if b.track != 1 or (b.frame - 1) % KEYFRAME_STEP == 0]
    lines = [_cvat_line(b, b.frame - 1 if zero else b.frame) for b in boxes]
    place: Place | None = None
    if zero:
        place = Place(label, "gt/gt.txt", 1)
    elif defect == "duplicate-id":
        at = next(i for i, b in enumerate(boxes) if b.frame == 5 and b.track == 2)
        lines.insert(at + 1, lines[at])  # the box written twice (cvat#5439)
        place = Place(label, "gt/gt.txt", at + 2, 5, 2)
    elif defect == "tracks-keyframes-only":
        second = [i for i, b in enumerate(boxes) if b.track == 1][1]
        place = Place(label, "gt/gt.txt", second + 1, boxes[second].frame, 1)
    (task / "gt" / "gt.txt").write_text("".join(line + "\n" for line in lines))
    (task / "gt" / "labels.txt").write_text("\n".join(CVAT_LABELS))
    return place


def _cvat_line(b: Box, frame: int) -> str:
    """A row as the exporter writes it: floats for the box, 1 for "not ignored", class 1 + label
    index (the demo's people are "person")."""
    return (f"{frame},{b.track},{float(b.left)},{float(b.top)},{float(b.width)},{float(b.height)},"
            f"{int(b.conf != 0)},1,{float(b.visibility):.5g}")
