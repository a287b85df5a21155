"""Decodes every frame under a benchmark root as motqa does (inspect_bytes, decode mode) on N
threads or N processes. Usage: parallel.py ROOT threads|processes N"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from motqa.imaging import inspect_bytes

CHUNK = 32


def decode(paths: list[str]) -> int:
    bad = 0
    for p in paths:
        with open(p, "rb") as f:
            bad += inspect_bytes(f.read(), "decode", ".jpg").check is not None
    return bad


def main() -> int:
    root, how, workers = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    paths = sorted(str(p) for p in root.glob("*/*/img1/*.jpg"))
    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    pool: Executor
    if how == "threads":
        pool = ThreadPoolExecutor(workers)
    else:  # Deep Lake patches os.fork: spawn (forkserver's workers would not be our children,
        # and wait4 would not count their CPU time)
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    with pool:
        bad = sum(pool.map(decode, chunks))
    print(f"{len(paths)} frames, {bad} bad, {how} x{workers}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
