"""A one-line progress display on stderr, shown only on a terminal and never with --quiet."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._last = 0.0
        self._width = 0

    @classmethod
    def for_terminal(cls, quiet: bool) -> Progress:
        return cls(not quiet and sys.stderr.isatty())

    def status(self, text: str, force: bool = True) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        text = text[:120]
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def bar(self, text: str, total: int) -> Callable[[int], None]:
        """A callback that counts `n` more items done out of `total`."""
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            self.status(f"{text} {done}/{total}", force=done >= total)

        self.status(f"{text} 0/{total}")
        return advance

    def done(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
