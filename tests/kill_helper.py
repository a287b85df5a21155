"""Runs `motqa ARGS` in this process and SIGKILLs it at a named step of the Deep Lake write.

    python tests/kill_helper.py STEP COUNT [--no-exchange] -- ARGS...

STEP is a name the writer passes to motqa.deeplake.rows.checkpoint ("sequence-written", "written",
"swapped", "old-moved-aside", "published", "s3-created", "s3-branch-ready", "s3-before-merge",
"s3-merged", "s3-published"); the process kills itself the COUNT-th time it gets there, as
`kill -9` would. --no-exchange makes the local publish take the two-rename path. Everything else
(deeplake, the file system, the S3 server) is real.
"""

from __future__ import annotations

import os
import signal
import sys


def main(argv: list[str]) -> int:
    step, count = argv[0], int(argv[1])
    rest = argv[2:]
    no_exchange = "--no-exchange" in rest[: rest.index("--")]
    args = rest[rest.index("--") + 1:]

    from motqa.cli import run
    from motqa.deeplake import local, rows

    seen = 0

    def checkpoint(name: str) -> None:
        nonlocal seen
        if name == step:
            seen += 1
            if seen == count:
                os.kill(os.getpid(), signal.SIGKILL)

    rows.checkpoint = checkpoint  # type: ignore[assignment]
    if no_exchange:
        local._exchange = lambda src, dst: False  # type: ignore[assignment]
    return run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
