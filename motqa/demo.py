"""A synthetic MOT17-style download with real JPEGs, with one chosen defect if asked. The tests'
fixture factory uses the same code."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from motqa.model import Place


@dataclass
class Box:
    frame: int
    track: int
    left: int
    top: int
    width: int
    height: int
    conf: int
    cls: int
    visibility: float

    def line(self) -> str:
        return (f"{self.frame},{self.track},{self.left},{self.top},{self.width},{self.height},"
                f"{self.conf},{self.cls},{self.visibility:.5g}")


@dataclass
class DemoSequence:
    """One sequence to write: gt lines come out ordered by track, then frame, as in MOT17."""

    split: str
    name: str
    frames: int = 60
    width: int = 640
    height: int = 360
    tracks: int = 8
    with_gt: bool = True
    seed: int = 0
    boxes: list[Box] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.split}/{self.name}"


def default_sequences(frames: int = 60, width: int = 640, height: int = 360) -> list[DemoSequence]:
    return [
        DemoSequence("train", "DEMO-01", frames, width, height, 8, seed=1),
        DemoSequence("train", "DEMO-02", max(12, frames * 3 // 4), width, height, 6, seed=2),
        DemoSequence("test", "DEMO-03", max(12, frames // 2), width, height, 5, with_gt=False, seed=3),
    ]


# Each defect: the check id that must find it. Warnings pass the default gate (--fail-on error).
DEFECTS = {
    "duplicate-id": "the same track twice in one frame of gt.txt",
    "box-size": "a box of width 0",
    "box-outside-image": "a box wholly right of the picture",
    "frame-out-of-range": "a gt row for a frame past seqLength",
    "id-invalid": "a negative track id",
    "conf-flag": "a gt conf of 0.5",
    "class-unknown": "class 0 (a label list's position)",
    "visibility-range": "visibility 1.4",
    "parse-error": "a cell that is not a number",
    "seqinfo-invalid": "seqLength that is not a number",
    "frame-count-mismatch": "a truncated download: seqinfo.ini promises every frame, img1/ holds 4",
    "missing-image": "one frame file deleted",
    "image-unreadable": "one JPEG cut in half",
    "image-format": "a PNG named .jpg",
    "image-size-mismatch": "one frame at half size",
    "unsafe-path": "imDir pointing out of the sequence folder",
    "sequence-name-mismatch": "seqinfo.ini's name differs from the folder (warning)",
    "no-boxes": "an empty gt.txt (warning)",
}
DEFECT_SEQUENCE = "DEMO-02"


def make_boxes(seq: DemoSequence) -> list[Box]:
    """Tracks that walk across the picture; one enters from the left edge (an amodal box with a
    negative left), one is a static person with conf 0 and class 7, as in real MOT17 gt."""
    rng = np.random.default_rng(seq.seed)
    boxes: list[Box] = []
    w_pic, h_pic = seq.width, seq.height
    for t in range(1, seq.tracks + 1):
        h = int(rng.integers(h_pic // 4, h_pic // 2))
        w = max(4, int(h * rng.uniform(0.35, 0.45)))
        start = 1 if t <= 3 else int(rng.integers(1, max(2, seq.frames // 2)))
        end = seq.frames if t <= 2 else int(rng.integers(start + 3, seq.frames + 1))
        x0 = float(rng.uniform(0, w_pic - w))
        y0 = float(rng.uniform(h_pic * 0.3, h_pic - h))
        vx = float(rng.uniform(-3, 3)) * w_pic / 640
        static = t == 3
        if t == 1:
            x0, vx = -w * 0.4, abs(vx) + 1  # enters from the left: left < 0 is legal
        x = x0
        for f in range(start, end + 1):
            if not static and f > start:
                # walk, turning back at the edges: a box may leave the picture in part, never wholly
                if not -w * 0.5 < x + vx < w_pic - w * 0.5:
                    vx = -vx
                x += vx
            y = y0 + 2 * np.sin((f + t) / 5)
            vis = 1.0 if t == 1 else float(np.round(rng.uniform(0.3, 1.0), 5))
            boxes.append(Box(f, t, round(x), round(float(y)), w, h,
                             0 if static else 1, 7 if static else 1, vis))
    return boxes


def _background(seq: DemoSequence) -> Image.Image:
    rng = np.random.default_rng(100 + seq.seed)
    y = np.linspace(0, 1, seq.height)[:, None, None]
    x = np.linspace(0, 1, seq.width)[None, :, None]
    base = np.concatenate([90 + 80 * y + 0 * x, 110 + 40 * x + 0 * y, 120 + 60 * (1 - y) + 0 * x], axis=2)
    noise = rng.normal(0, 12, size=(seq.height, seq.width, 3))
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(6):  # buildings
        bx = int(rng.integers(0, seq.width))
        bw = int(rng.integers(seq.width // 12, seq.width // 5))
        bh = int(rng.integers(seq.height // 5, seq.height // 2))
        r, g, b = (int(v) for v in rng.integers(60, 160, size=3))
        draw.rectangle((bx, int(seq.height * 0.55) - bh, bx + bw, int(seq.height * 0.55)), fill=(r, g, b))
    return img


def _colour(track: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(1000 + track)
    return tuple(int(v) for v in rng.integers(40, 255, size=3))  # type: ignore[return-value]


def render_frame(background: Image.Image, boxes: list[Box]) -> Image.Image:
    img = background.copy()
    draw = ImageDraw.Draw(img)
    for b in boxes:
        c = _colour(b.track)
        head = b.width * 0.6
        draw.ellipse((b.left + b.width * 0.2, b.top, b.left + b.width * 0.2 + head, b.top + head), fill=c)
        draw.rounded_rectangle((b.left, b.top + head, b.left + b.width, b.top + b.height), radius=4, fill=c)
    return img


def jpeg_bytes(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def write_sequence(root: Path, seq: DemoSequence) -> Path:
    seq_dir = root / seq.split / seq.name
    (seq_dir / "img1").mkdir(parents=True)
    (seq_dir / "seqinfo.ini").write_text(
        f"[Sequence]\nname={seq.name}\nimDir=img1\nframeRate=30\nseqLength={seq.frames}\n"
        f"imWidth={seq.width}\nimHeight={seq.height}\nimExt=.jpg\n")
    seq.boxes = make_boxes(seq)
    by_frame: dict[int, list[Box]] = {}
    for b in seq.boxes:
        by_frame.setdefault(b.frame, []).append(b)
    background = _background(seq)
    for f in range(1, seq.frames + 1):
        data = jpeg_bytes(render_frame(background, by_frame.get(f, [])))
        (seq_dir / "img1" / f"{f:06d}.jpg").write_bytes(data)
    rng = np.random.default_rng(200 + seq.seed)
    det = []
    for f in range(1, seq.frames + 1):
        for b in by_frame.get(f, []):
            j = rng.normal(0, 2, size=4)
            w, h = max(1.0, b.width + j[2]), max(1.0, b.height + j[3])  # jitter never makes a box empty
            det.append(f"{f},-1,{b.left + j[0]:.1f},{b.top + j[1]:.1f},{w:.1f},{h:.1f},"
                       f"{rng.uniform(0.3, 1):.3f},-1,-1,-1")
    (seq_dir / "det").mkdir()
    (seq_dir / "det" / "det.txt").write_text("\n".join(det) + "\n")
    if seq.with_gt:
        (seq_dir / "gt").mkdir()
        write_gt(seq_dir, [b.line() for b in seq.boxes])
    return seq_dir


def write_gt(seq_dir: Path, lines: list[str]) -> None:
    (seq_dir / "gt" / "gt.txt").write_text("".join(line + "\n" for line in lines))


def write_demo(root: Path, defect: str | None = None, sequences: list[DemoSequence] | None = None) -> Place | None:
    """Write the demo download under `root` (which must not hold anything yet). Returns where the
    defect is, as the finding should name it, or None for a clean download."""
    if defect is not None and defect not in DEFECTS:
        raise ValueError(f"unknown defect {defect!r}; choose from {', '.join(DEFECTS)}")
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    seqs = sequences or default_sequences()
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.txt").write_text("A synthetic MOT17-style download written by `motqa demo`.\n")
    dirs = {s.name: write_sequence(root, s) for s in seqs}
    if defect is None:
        return None
    target = next(s for s in seqs if s.name == DEFECT_SEQUENCE) if DEFECT_SEQUENCE in dirs else seqs[0]
    return plant(root, dirs[target.name], target, defect)


def plant(root: Path, seq_dir: Path, seq: DemoSequence, defect: str) -> Place:
    """Plant one defect in a written sequence; returns the place the finding must name."""
    lines = [b.line() for b in seq.boxes]
    label = seq.label
    # a row in the middle of track 2's lines: line numbers are 1-based
    row = next(i for i, b in enumerate(seq.boxes) if b.track == 2 and b.frame == 5)
    box = seq.boxes[row]
    at = Place(label, "gt/gt.txt", row + 1, box.frame, box.track)

    def set_field(index: int, value: str) -> Place:
        cells = lines[row].split(",")
        cells[index] = value
        lines[row] = ",".join(cells)
        write_gt(seq_dir, lines)
        return at

    img = seq_dir / "img1"
    seqinfo = seq_dir / "seqinfo.ini"
    match defect:
        case "duplicate-id":
            lines.insert(row + 1, lines[row])
            write_gt(seq_dir, lines)
            return Place(label, "gt/gt.txt", row + 2, box.frame, box.track)
        case "box-size":
            return set_field(4, "0")
        case "box-outside-image":
            return set_field(2, str(seq.width + 40))
        case "frame-out-of-range":
            set_field(0, str(seq.frames + 3))
            return Place(label, "gt/gt.txt", row + 1, seq.frames + 3, box.track)
        case "id-invalid":
            set_field(1, "-1")
            return Place(label, "gt/gt.txt", row + 1, box.frame, -1)
        case "conf-flag":
            return set_field(6, "0.5")
        case "class-unknown":
            return set_field(7, "0")
        case "visibility-range":
            return set_field(8, "1.4")
        case "parse-error":
            set_field(3, "n/a")
            return Place(label, "gt/gt.txt", row + 1)
        case "seqinfo-invalid":
            seqinfo.write_text(seqinfo.read_text().replace(f"seqLength={seq.frames}", "seqLength=forty"))
            return Place(label, "seqinfo.ini", 5)
        case "frame-count-mismatch":
            for f in range(5, seq.frames + 1):
                (img / f"{f:06d}.jpg").unlink()
            return Place(label, "seqinfo.ini", 5)
        case "missing-image":
            (img / "000007.jpg").unlink()
            return Place(label, "img1/000007.jpg", frame=7)
        case "image-unreadable":
            data = (img / "000003.jpg").read_bytes()
            (img / "000003.jpg").write_bytes(data[: len(data) // 2])
            return Place(label, "img1/000003.jpg", frame=3)
        case "image-format":
            with Image.open(img / "000004.jpg") as im:
                im.save(img / "000004.jpg", format="PNG")
            return Place(label, "img1/000004.jpg", frame=4)
        case "image-size-mismatch":
            with Image.open(img / "000009.jpg") as im:
                small = im.resize((seq.width // 2, seq.height // 2))
            (img / "000009.jpg").write_bytes(jpeg_bytes(small))
            return Place(label, "img1/000009.jpg", frame=9)
        case "unsafe-path":
            outside = root / "elsewhere" / "frames"
            shutil.copytree(img, outside)
            seqinfo.write_text(seqinfo.read_text().replace("imDir=img1", "imDir=../../elsewhere/frames"))
            return Place(label, "seqinfo.ini", 3)
        case "sequence-name-mismatch":
            seqinfo.write_text(seqinfo.read_text().replace(f"name={seq.name}", "name=DEMO-99"))
            return Place(label, "seqinfo.ini", 2)
        case "no-boxes":
            write_gt(seq_dir, [])
            return Place(label, "gt/gt.txt")
    raise AssertionError(defect)


def result_lines(seq: DemoSequence) -> list[str]:
    """A perfect tracker's output for the sequence, as real result files are written: 10 fields,
    floats, frame by frame, ids from 0 (gt's track - 1)."""
    boxes = sorted(seq.boxes or make_boxes(seq), key=lambda b: (b.frame, b.track))
    return [f"{b.frame},{b.track - 1},{b.left:.2f},{b.top:.2f},{b.width:.2f},{b.height:.2f},1.0,-1,-1,-1"
            for b in boxes]


def write_results(folder: Path, sequences: list[DemoSequence]) -> dict[str, Path]:
    """A result folder (TrackEval's <TRACKER>/data/) answering `sequences`: <SEQ>.txt each."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for seq in sequences:
        out[seq.name] = folder / f"{seq.name}.txt"
        out[seq.name].write_text("".join(line + "\n" for line in result_lines(seq)))
    return out
