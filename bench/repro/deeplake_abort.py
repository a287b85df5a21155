"""Reproduces a Deep Lake 4 crash: the process aborts ("free(): double free detected in tcache 2",
"Fatal Python error: Aborted") when a dataset handle is dropped shortly after `get_bytes` read a
row other than the first of a `Sequence(Image)` column.

Standalone (deeplake, numpy and pillow only; no motqa), for an upstream bug report. The parent
runs the scenario in N fresh subprocesses and counts how they end: a crash is a matter of timing,
so one run proves little. Not collected by pytest (it lives outside tests/).

    python bench/repro/deeplake_abort.py                      # motqa's scenario, 30 runs
    python bench/repro/deeplake_abort.py --scenario minimal   # the smallest trigger found
    python bench/repro/deeplake_abort.py --settle 0.3         # wait before each drop: no abort
    python bench/repro/deeplake_abort.py --hold               # never drop a reader: no abort
    python bench/repro/deeplake_abort.py --after 0.3          # wait after each drop: aborts all the same
    python bench/repro/deeplake_abort.py --python /tmp/dl-4.6.5/bin/python   # another release
    python bench/repro/deeplake_abort.py --python A/bin/python --python B/bin/python   # a table

Scenarios (each loop ends with `del ds; gc.collect()` for every handle it opened):
- motqa: what motqa's ingest/audit tests do, per loop: create a new local dataset with motqa's
  tutorial columns (Sequence(Image jpg), Sequence(BoundingBox float32 ltwh pixel),
  Sequence(Array uint32, 1)), append 3 rows of 16 frames, commit, drop; open it with
  open_read_only, read boxes, ids and frames.get_bytes(row) of every row, drop.
- minimal: one dataset (one Sequence(Image) column, 3 rows) written once; per loop
  open_read_only, frames.get_bytes(1), drop.

What was found with it on deeplake 4.7.4 (see the report in the commit that added this file):
the abort happens on Deep Lake's "MainQueueThread" while the main thread is elsewhere; it needs
get_bytes of a row >= 1 (row 0 alone, decoding with ds[col][row], or boxes/ids never abort), and
it needs the handle to go within a few tens of milliseconds of that read: 50 ms of sleep before
the drop, or keeping the handle, makes it go away; sleeping after the drop does not.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FRAMES, ROWS = 16, 3


# ------------------------------------------------------------------------------------ child


def _jpegs(n: int) -> list[bytes]:
    import numpy as np
    from PIL import Image

    out = []
    for seed in range(n):
        pixels = np.random.default_rng(seed).integers(0, 255, (120, 160, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="JPEG")
        out.append(buf.getvalue())
    return out


def _rows(jpegs: list[bytes], with_labels: bool) -> list[dict[str, list[Any]]]:
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for _ in range(ROWS):
        counts = [int(rng.integers(0, 6)) for _ in jpegs]
        row: dict[str, list[Any]] = {"frames": [jpegs]}
        if with_labels:
            row["boxes"] = [[(rng.random((k, 4)) * 50).astype("float32") for k in counts]]
            row["ids"] = [[np.arange(k, dtype="uint32") for k in counts]]
        rows.append(row)
    return rows


def _schema(with_labels: bool) -> dict[str, Any]:
    from deeplake import types

    schema = {"frames": types.Sequence(types.Image(sample_compression="jpg"))}
    if with_labels:
        schema["boxes"] = types.Sequence(types.BoundingBox("float32", "ltwh", "pixel"))
        schema["ids"] = types.Sequence(types.Array(types.UInt32(), dimensions=1))
    return schema


def _write(path: str, rows: list[dict[str, list[Any]]], with_labels: bool) -> None:
    import deeplake

    ds = deeplake.create(path, schema=_schema(with_labels))
    for row in rows:
        ds.append(row)
    ds.commit()
    del ds
    gc.collect()


def _read(path: str, rows_to_read: list[int], labels: bool, decode: bool, settle: float, after: float,
          held: list[Any] | None) -> None:
    import deeplake

    ds = deeplake.open_read_only(path)
    for r in rows_to_read:
        if labels:
            ds["boxes"][r]
            ds["ids"][r]
        if decode:
            ds["frames"][r]
        else:
            ds["frames"].get_bytes(r)
    if settle:
        time.sleep(settle)
    if held is not None:
        held.append(ds)
    del ds
    gc.collect()
    if after:
        time.sleep(after)


def child(args: argparse.Namespace) -> int:
    """One run: the scenario's loops in this process. Prints the loop count at the end."""
    faulthandler.enable()  # a Python stack of every thread on SIGABRT, for the report
    folder = tempfile.mkdtemp(prefix="deeplake-abort-")
    jpegs = _jpegs(FRAMES)
    held: Any = [] if args.hold else None
    if args.scenario == "minimal":
        path = os.path.join(folder, "ds")
        _write(path, _rows(jpegs, False), False)
        for _ in range(args.loops):
            _read(path, [1], False, args.decode, args.settle, args.after, held)
    else:
        rows = _rows(jpegs, True)
        for i in range(args.loops):
            path = os.path.join(folder, f"ds{i}")
            _write(path, rows, True)
            _read(path, list(range(ROWS)), True, args.decode, args.settle, args.after, held)
    print(f"clean after {args.loops} loops", flush=True)
    return 0


# ------------------------------------------------------------------------------------ parent


def _versions(python: str) -> dict[str, str]:
    code = ("import json, platform, sys, deeplake, numpy, PIL; print(json.dumps({'deeplake': deeplake.__version__, "
            "'python': sys.version.split()[0], 'numpy': numpy.__version__, 'pillow': PIL.__version__, "
            "'platform': platform.platform(), 'libc': ' '.join(platform.libc_ver())}))")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _outcome(returncode: int | None) -> str:
    if returncode is None:  # seen on 4.6.0: the crash handler (Sentry's) deadlocks in malloc
        return "hang"
    if returncode == 0:
        return "clean"
    if returncode in (-signal.SIGABRT, 128 + signal.SIGABRT):
        return "abort"
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit {returncode}"


def _run_once(python: str, flags: list[str], timeout: float) -> tuple[str, str]:
    """One child run: its outcome and its stderr."""
    try:
        proc = subprocess.run([python, __file__, "--child", *flags], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return _outcome(None), err
    return _outcome(proc.returncode), proc.stderr


def parent(args: argparse.Namespace) -> int:
    """Runs the child `args.runs` times per interpreter, interleaved (run 1 of each, then run 2 of
    each, ...) so that every release sees the same machine load, and prints a table."""
    pythons = args.python or [sys.executable]
    infos = [_versions(py) for py in pythons]
    flags = [f"--scenario={args.scenario}", f"--loops={args.loops}", f"--settle={args.settle}", f"--after={args.after}"]
    flags += ["--hold"] * args.hold + ["--decode"] * args.decode
    first = infos[0]
    print(f"Python {first['python']}, numpy {first['numpy']}, pillow {first['pillow']}, {first['platform']} "
          f"({first['libc']}), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{args.runs} runs per release of: python {Path(__file__).name} --child {' '.join(flags)}")
    counts: list[dict[str, int]] = [{} for _ in pythons]
    failures: list[str | None] = [None for _ in pythons]
    for i in range(args.runs):
        for k, py in enumerate(pythons):
            started = time.monotonic()
            outcome, stderr = _run_once(py, flags, args.timeout)
            counts[k][outcome] = counts[k].get(outcome, 0) + 1
            if outcome != "clean" and failures[k] is None:
                failures[k] = stderr
            if args.verbose:
                print(f"  run {i + 1:3d} deeplake {infos[k]['deeplake']}: {outcome} "
                      f"({time.monotonic() - started:.1f} s)", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print("| deeplake | aborts / runs | hangs / runs | other outcomes |")
    print("|---|---|---|---|")
    for info, count in zip(infos, counts, strict=True):
        other = ", ".join(f"{k} {v}" for k, v in sorted(count.items()) if k not in ("clean", "abort", "hang")) or "-"
        print(f"| {info['deeplake']} | {count.get('abort', 0)} / {args.runs} | {count.get('hang', 0)} / {args.runs} "
              f"| {other} |")
    for info, failure in zip(infos, failures, strict=True):
        if failure is not None:
            print(f"deeplake {info['deeplake']}: stderr of the first run that did not end clean (first 30 lines):")
            for line in failure.splitlines()[:30]:
                print(f"  | {line}")
    if args.json:
        with open(args.json, "a") as f:
            for info, count in zip(infos, counts, strict=True):
                record = {**info, "scenario": args.scenario, "loops": args.loops, "settle": args.settle,
                          "after": args.after, "hold": args.hold, "decode": args.decode, "runs": args.runs,
                          "outcomes": count}
                f.write(json.dumps(record) + "\n")
    return 1 if any(c.get("clean", 0) != args.runs for c in counts) else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=30, help="subprocess runs (default 30)")
    p.add_argument("--loops", type=int, default=30, help="loops per run (default 30)")
    p.add_argument("--scenario", choices=("motqa", "minimal"), default="motqa")
    p.add_argument("--settle", type=float, default=0.0, help="seconds to sleep before dropping each reader")
    p.add_argument("--after", type=float, default=0.0, help="seconds to sleep after dropping each reader (control)")
    p.add_argument("--hold", action="store_true", help="keep every reader until the process ends (control)")
    p.add_argument("--decode", action="store_true", help="read frames with ds[col][row], not get_bytes (control)")
    p.add_argument("--python", action="append", help="interpreter of the runs, e.g. a venv with another deeplake\n"
                   "(default: this one); repeat it to compare releases, runs interleaved")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds before a run counts as a hang and is killed (default 60; a run takes 1-3 s)")
    p.add_argument("--json", help="append the result as one JSON line to this file")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per run")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
