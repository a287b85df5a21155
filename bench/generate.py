"""Writes MOT17- and MOT20-train-size data for the benchmark, cached under bench/data/."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parent / "data"
VERSION = 3  # bump when the generated data changes: the cache key holds it
POOL = 32  # distinct textured frames per picture size; frames reuse their bytes by hard link


@dataclass(frozen=True)
class SeqSpec:
    name: str
    frames: int
    width: int
    height: int
    rows: int  # gt rows
    frame_rate: int = 30


# The real train splits: sequence names, lengths, picture sizes and gt row counts (every line of
# the official gt.txt, all classes, conf 0 and 1, from motqa/data/published.csv: 204,701 in MOT17
# train; MOT-FORMAT.md and issue 15 say 204,501, which the per-sequence counts do not add up to).
# Names carry "-syn": the data is made up, so the published facts of MOT17-02-FRCNN (motqa's
# published-* checks) must not apply; the root folder (MOT17-x1-v3) still gives the MOT17 profile.
MOT17_TRAIN = [
    SeqSpec("MOT17-02-FRCNN-syn", 600, 1920, 1080, 30003),
    SeqSpec("MOT17-04-FRCNN-syn", 1050, 1920, 1080, 108005),
    SeqSpec("MOT17-05-FRCNN-syn", 837, 640, 480, 8013, 14),
    SeqSpec("MOT17-09-FRCNN-syn", 525, 1920, 1080, 10411),
    SeqSpec("MOT17-10-FRCNN-syn", 654, 1920, 1080, 17450),
    SeqSpec("MOT17-11-FRCNN-syn", 900, 1920, 1080, 10617),
    SeqSpec("MOT17-13-FRCNN-syn", 750, 1920, 1080, 20202, 25),
]
MOT20_TRAIN = [
    SeqSpec("MOT20-01-syn", 429, 1920, 1080, 26647, 25),
    SeqSpec("MOT20-02-syn", 2782, 1920, 1080, 202215, 25),
    SeqSpec("MOT20-03-syn", 2405, 1173, 880, 356728, 25),
    SeqSpec("MOT20-05-syn", 3315, 1654, 1080, 751330, 25),
]
# The longest train sequence alone, and a sequence twice as long (frames and gt rows): what a
# writer holds as the longest sequence doubles (issue 15: memory bounded by a part, not a sequence).
MOT20_05 = [MOT20_TRAIN[-1]]
MOT20_05_LONG = [SeqSpec("MOT20-05-syn-long", 2 * 3315, 1654, 1080, 2 * 751330, 25)]
# --quick: the same shapes in miniature, for the smoke test.
QUICK = {
    "MOT17": [SeqSpec("MOT17-02-FRCNN-syn", 12, 96, 64, 60), SeqSpec("MOT17-05-FRCNN-syn", 9, 64, 48, 30, 14)],
    "MOT20": [SeqSpec("MOT20-01-syn", 10, 96, 64, 80, 25), SeqSpec("MOT20-02-syn", 14, 80, 64, 120, 25)],
    "MOT20-05": [SeqSpec("MOT20-05-syn", 12, 96, 64, 90, 25)],
    "MOT20-05-long": [SeqSpec("MOT20-05-syn-long", 24, 96, 64, 180, 25)],
}
FULL = {"MOT17": MOT17_TRAIN, "MOT20": MOT20_TRAIN, "MOT20-05": MOT20_05, "MOT20-05-long": MOT20_05_LONG}


def specs(benchmark: str, scale: int = 1, quick: bool = False) -> list[SeqSpec]:
    """The sequences of `benchmark` at `scale`: scale k holds k copies of each sequence (with
    other tracks), as a dataset grows by more sequences; copy c of MOT20-01-syn is MOT20-01-syn-c{c}."""
    base = (QUICK if quick else FULL)[benchmark]
    out = list(base)
    for c in range(2, scale + 1):
        out += [SeqSpec(f"{s.name}-c{c}", s.frames, s.width, s.height, s.rows, s.frame_rate) for s in base]
    return out


def dataset_dir(benchmark: str, scale: int = 1, quick: bool = False, root: Path = DATA) -> Path:
    return root / f"{benchmark}-x{scale}{'-quick' if quick else ''}-v{VERSION}"


def generate(benchmark: str, scale: int = 1, quick: bool = False, root: Path = DATA,
             log: bool = False) -> Path:
    """The benchmark root (holding train/), written unless a complete copy is cached."""
    out = dataset_dir(benchmark, scale, quick, root)
    marker = out / "complete.json"
    if marker.is_file():
        return out
    started = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)  # a run that died half-way
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    seqs = specs(benchmark, scale, quick)
    for n, spec in enumerate(seqs):
        if log:
            print(f"generate: {benchmark} x{scale}: {spec.name} ({spec.frames} frames, {spec.rows} rows)",
                  file=sys.stderr)
        _write_sequence(tmp / "train" / spec.name, spec, seed=n, pool=_pool(spec.width, spec.height, quick, root))
    (tmp / "complete.json").write_text(json.dumps(
        {"benchmark": benchmark, "scale": scale, "quick": quick, "version": VERSION,
         "sequences": [asdict(s) for s in seqs], "seconds": round(time.perf_counter() - started, 1)}, indent=1))
    tmp.rename(out)
    return out


def _pool(width: int, height: int, quick: bool, root: Path) -> list[Path]:
    """A few dozen distinct textured JPEGs of one size (cached)."""
    count = 4 if quick else POOL
    folder = root / f"pool-{width}x{height}-n{count}-v{VERSION}"
    files = [folder / f"{i:03d}.jpg" for i in range(count)]
    if all(f.is_file() for f in files):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(width * 7919 + height)
    for f in files:
        part = f.with_suffix(".part")
        part.write_bytes(textured_jpeg(width, height, rng))
        part.rename(f)
    return files


def textured_jpeg(width: int, height: int, rng: np.random.Generator) -> bytes:
    """Smooth colour regions plus sensor-like grain at quality 80: about 180 KB and a 4.5 ms full
    decode at 1920x1080, as MOT17's camera frames."""
    block = 48
    low = rng.integers(0, 256, (height // block + 2, width // block + 2, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(low).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    grain = rng.normal(0, 2, (height, width)).astype(np.int16)
    pixels = np.clip(base + grain[:, :, None], 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _write_sequence(folder: Path, spec: SeqSpec, seed: int, pool: list[Path]) -> None:
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={spec.name}\nimDir=img1\nframeRate={spec.frame_rate}\nseqLength={spec.frames}\n"
        f"imWidth={spec.width}\nimHeight={spec.height}\nimExt=.jpg\n")
    for k in range(1, spec.frames + 1):
        src, dst = pool[(k * 7 + seed) % len(pool)], folder / "img1" / f"{k:06d}.jpg"
        try:
            os.link(src, dst)
        except OSError:  # another file system, or no hard links: copy
            shutil.copyfile(src, dst)
    (folder / "gt" / "gt.txt").write_text(gt_text(spec, seed))


def gt_text(spec: SeqSpec, seed: int) -> str:
    """`spec.rows` clean gt lines ordered by track then frame, as the real files are. Track 1
    spans the whole sequence so that every frame has a box (the tutorial's loader needs that)."""
    rng = np.random.default_rng(1000 + seed)
    n, f = spec.rows, spec.frames
    lengths: list[int] = [min(f, n)]
    total = lengths[0]
    while total < n:
        length = min(n - total, int(rng.integers(max(1, f // 10), max(2, f * 4 // 5) + 1)))
        lengths.append(length)
        total += length
    lens = np.array(lengths, dtype=np.int64)
    tracks = len(lens)
    starts = np.array([1] + [int(rng.integers(1, f - x + 2)) for x in lens[1:]], dtype=np.int64)
    track = np.repeat(np.arange(1, tracks + 1), lens)
    offset = np.arange(n) - np.repeat(np.cumsum(lens) - lens, lens)  # 0.. within each track
    frame = np.repeat(starts, lens) + offset
    # A person walks: a start point, a velocity and a size per track; amodal boxes may leave the
    # picture partly, never wholly.
    bw = np.repeat(rng.uniform(0.02, 0.09, tracks) * spec.width, lens)
    bh = np.minimum(bw * np.repeat(rng.uniform(2.0, 3.0, tracks), lens), spec.height * 0.9)
    x0 = np.repeat(rng.uniform(0, spec.width, tracks), lens)
    y0 = np.repeat(rng.uniform(0, spec.height, tracks), lens)
    vx = np.repeat(rng.normal(0, 1.5, tracks), lens)
    vy = np.repeat(rng.normal(0, 0.4, tracks), lens)
    left = np.clip(x0 + vx * offset, -bw / 2, spec.width - bw / 2)
    top = np.clip(y0 + vy * offset - bh / 2, -bh / 2, spec.height - bh / 2)
    classes = np.array([1, 1, 1, 1, 1, 1, 2, 7, 8, 12], dtype=np.int64)
    cls = np.repeat(rng.choice(classes, tracks), lens)
    conf = np.repeat((rng.random(tracks) < 0.85).astype(np.int64), lens)
    vis = np.round(rng.random(n), 5)
    cols = [frame, track, np.round(left).astype(np.int64), np.round(top).astype(np.int64),
            np.maximum(1, np.round(bw)).astype(np.int64), np.maximum(1, np.round(bh)).astype(np.int64),
            conf, cls]
    lines = map("{},{},{},{},{},{},{},{},{:g}".format, *(c.tolist() for c in cols), vis.tolist())
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("benchmark", choices=sorted(FULL))
    p.add_argument("--scale", type=int, default=1, help="copies of each sequence (default 1)")
    p.add_argument("--quick", action="store_true", help="tiny sequences (the smoke test's)")
    p.add_argument("--data", type=Path, default=DATA, help=f"cache folder (default {DATA})")
    args = p.parse_args(argv)
    print(generate(args.benchmark, args.scale, args.quick, args.data, log=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
