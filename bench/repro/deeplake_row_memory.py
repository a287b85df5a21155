"""What one Deep Lake 4 row of a long sequence costs in memory: the peak resident set of a process
that appends N JPEG frames (about 185 KB each, as MOT's 1080p frames) and commits them.

Standalone (deeplake and pillow only; no motqa). Each layout runs in a fresh subprocess, so each
peak (ru_maxrss, read from wait4) is that layout's alone; "before" is the process's peak before
the first frame is made (Python, deeplake, Pillow and 32 frames).

    python bench/repro/deeplake_row_memory.py                 # 3,315 and 6,630 frames (MOT20-05, 2x)
    python bench/repro/deeplake_row_memory.py --frames 1000

Layouts:
- row: motqa's, one row per sequence: all N frames in one Sequence(Image(jpg)) cell, one append,
  one commit (Deep Lake 4.7.4 has no way to append to a cell: ds.append and column[row] = value
  both take the whole value).
- set: the row appended empty and committed, then the cell set whole (`ds["frames"][0] = ...`).
- frame-rows: one row per frame (an Image(jpg) column), committed every 300 frames.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

CHILD = "--child"


def pool() -> list[bytes]:
    """32 distinct 1920x1080 JPEGs of about 180 KB (blurred noise, quality 80), as MOT's frames."""
    from PIL import Image, ImageFilter

    out = []
    for k in range(32):
        im = Image.effect_noise((1920, 1080), 10 + k % 3).filter(ImageFilter.GaussianBlur(1)).convert("RGB")
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


def frames(base: list[bytes], start: int, stop: int) -> list[bytes]:
    """Frames start..stop-1: each a new bytes object, as a file read makes."""
    return [base[i % 32][:-2] + base[i % 32][-2:] for i in range(start, stop)]


def child(layout: str, n: int, path: str) -> None:
    import deeplake
    from deeplake import types

    base = pool()
    data_mib = sum(len(base[i % 32]) for i in range(n)) / 2**20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if layout in ("row", "set"):  # the whole sequence is one value: it is all in memory at once
        ds = deeplake.create(path, schema={"frames": types.Sequence(types.Image(sample_compression="jpg"))})
        ds.auto_commit_enabled = False
        if layout == "row":
            ds.append({"frames": [frames(base, 0, n)]})
        else:
            ds.append({"frames": [[]]})
            ds.commit()
            ds["frames"][0] = frames(base, 0, n)
        ds.commit()
    else:  # a part at a time: read, append, commit, let go
        ds = deeplake.create(path, schema={"frame": types.Image(sample_compression="jpg")})
        ds.auto_commit_enabled = False
        for a in range(0, n, 300):
            ds.append({"frame": frames(base, a, min(n, a + 300))})
            ds.commit()
    print(f"{data_mib:.0f} {before:.0f} {time.perf_counter() - started:.2f}")


def run(layout: str, n: int) -> tuple[float, float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([sys.executable, __file__, CHILD, layout, str(n), os.path.join(tmp, "ds")],
                                stdout=subprocess.PIPE, text=True)
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{layout} {n}: exited {os.waitstatus_to_exitcode(status)}")
        shutil.rmtree(tmp, ignore_errors=True)
    data, before, seconds = (float(x) for x in out.split())
    return data, before, usage.ru_maxrss / 1024, seconds


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, action="append", help="frames per sequence (repeatable)")
    p.add_argument("--layout", action="append", choices=("row", "set", "frame-rows"))
    args = p.parse_args()
    import deeplake

    print(f"deeplake {deeplake.__version__}, Python {sys.version.split()[0]}")
    print(f"{'layout':<11} {'frames':>6} {'JPEG MiB':>8} {'before MiB':>10} {'peak MiB':>8} {'peak/JPEG':>9} {'s':>6}")
    for n in args.frames or [3315, 6630]:
        for layout in args.layout or ["row", "set", "frame-rows"]:
            data, before, peak, seconds = run(layout, n)
            print(f"{layout:<11} {n:>6} {data:>8.0f} {before:>10.0f} {peak:>8.0f} {peak / data:>9.2f} {seconds:>6.1f}")


if __name__ == "__main__":
    main()
