"""Great Expectations in a process of its own. GE's import (1 to 2 s of Python that holds the GIL)
runs on another core while the gate imports, parses and decodes, and each sequence's suites run
there while the gate checks the next one. GE itself runs unchanged (engine.GxEngine, in the child).

The parent (Worker, Session) and the child (main) talk over the child's stdin and stdout in
length-prefixed pickles; replies come in the order of the requests:

    ("session", [SuiteFile, ...])             -> ("ok", None) | ("error", why)
    ("validate", suite index, what, Table)    -> ("ok", [(spec index, success, count, lines, observed)])
                                               | ("error", why)
    ("modules", [name, ...])                  -> ("ok", {name: "absent" | "deferred" | "stand-in" | "run"})

An "error" is the user's (a broken suite): UsageError in the parent. Anything else the child
cannot do ends it, and the parent says so (WorkerFailed, with the child's last words).

A worker outlives a gate run: the next run in the same process takes it back from the idle pool
(tests run hundreds of gates), and `prestart()` lets the command line start one before it has even
parsed its arguments. Idle workers are killed when the parent exits; a child whose parent dies
reads end-of-file and exits."""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from motqa.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from motqa.expectations.engine import Outcome
    from motqa.expectations.suites import SuiteFile

_HEADER = struct.Struct("<Q")
_WHOLE = "MOTQA_GX_STAND_IN_FAILURE"  # set when a worker starts again to import GE whole: why
# A table as it crosses: (index values, or the range they run, {column: values}).
Table = tuple["np.ndarray | range", dict[str, "np.ndarray"]]


class WorkerFailed(RuntimeError):
    """The Great Expectations process stopped or answered nonsense: not the user's doing."""


def send(out: IO[bytes], message: Any) -> None:
    """One message: its pickle, then the data of the numpy arrays in it as they are in memory
    (pickle protocol 5's out-of-band buffers: an array crossing is never copied on this side)."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    out.write(_HEADER.pack(len(data)))
    out.write(data)
    out.write(_HEADER.pack(len(buffers)))
    for buffer in buffers:
        raw = buffer.raw()
        out.write(_HEADER.pack(raw.nbytes))
        out.write(raw)
    out.flush()


def receive(inp: IO[bytes]) -> Any:
    """The next message, or EOFError when the other side has gone."""
    data = _read_exactly(inp, _size(inp))
    buffers = [_read_exactly(inp, _size(inp)) for _ in range(_size(inp))]
    return pickle.loads(data, buffers=buffers)  # our own child, on a pipe only we hold


def _size(inp: IO[bytes]) -> int:
    return int(_HEADER.unpack(_read_exactly(inp, _HEADER.size))[0])


def _read_exactly(inp: IO[bytes], size: int) -> bytearray:
    out = bytearray(size)
    view, got = memoryview(out), 0
    while got < size:
        n = inp.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            raise EOFError
        got += n
    return out


# ---------------------------------------------------------------------------------- parent


class Worker:
    """One child process and the pipes to it. Requests are written by a thread of their own, so
    that the gate never waits while the child is still importing GE (a pipe holds 64 KiB), and
    replies are read by another as they come, so that the gate can ask whether one is there."""

    def __init__(self) -> None:
        import motqa

        env = dict(os.environ)
        # The child imports the motqa this process runs, wherever it comes from.
        package_root = str(Path(motqa.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "motqa.expectations.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()  # requests to send; None ends
        self._sent = 0  # requests queued
        self._cond = threading.Condition()
        self._replies: dict[int, Any] = {}  # read, not yet taken
        self._taken = 0  # replies taken
        self.failed: str | None = None  # why the child is unusable, once it is
        for target, name in ((self._write, "motqa-gx-writer"), (self._read, "motqa-gx-reader")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def _write(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while (message := self._outbox.get()) is not None:
                send(stdin, message)
        except OSError:
            pass  # the child has gone: the reader says why
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _read(self) -> None:
        assert self.proc.stdout is not None
        number = 0
        while True:
            try:
                message = receive(self.proc.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as e:
                why = self._obituary(e)
                with self._cond:
                    self.failed = self.failed or why
                    self._cond.notify_all()
                self.proc.stdout.close()
                return
            with self._cond:
                self._replies[number] = message
                self._cond.notify_all()
            number += 1

    def request(self, message: Any) -> int:
        """Queue a request (sent as it is when the child reads: it must not change meanwhile);
        its number is what reply() takes."""
        self._outbox.put(message)
        self._sent += 1
        return self._sent - 1

    def has_reply(self, number: int) -> bool:
        with self._cond:
            return number in self._replies or self.failed is not None

    def reply(self, number: int) -> Any:
        """The reply to request `number`, once it is there (each is taken once)."""
        with self._cond:
            self._cond.wait_for(lambda: number in self._replies or self.failed is not None)
            if number not in self._replies:
                raise WorkerFailed(str(self.failed))
            self._taken += 1
            return self._replies.pop(number)

    def _obituary(self, e: BaseException) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if self.failed is not None:
            return self.failed  # ended on purpose (kill)
        try:
            self._stderr.seek(0)
            said = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):  # closed by kill() meanwhile
            said = []
        last = f": {said[-1]}" if said else ""
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"the Great Expectations process {how} ({type(e).__name__}){last}"

    @property
    def usable(self) -> bool:
        """Alive, and every request answered and taken: the next session starts clean."""
        with self._cond:
            return self.failed is None and self.proc.poll() is None and self._taken == self._sent

    def kill(self) -> None:
        with self._cond:
            self.failed = self.failed or "the Great Expectations process was ended"
        self._outbox.put(None)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._stderr.close()


_idle: list[Worker] = []
_lock = threading.Lock()


def prestart() -> None:
    """Start a worker now (it begins importing GE) for the next session to take."""
    with _lock:
        if not any(w.usable for w in _idle):
            _idle.append(Worker())


def _acquire() -> Worker:
    with _lock:
        while _idle:
            worker = _idle.pop()
            if worker.usable:
                return worker
            worker.kill()
    return Worker()


def _release(worker: Worker) -> None:
    with _lock:
        if worker.usable:
            _idle.append(worker)
            return
    worker.kill()


@atexit.register
def shutdown() -> None:
    """End the idle workers (at exit). They hold nothing: killing them is instant, where waiting
    for one that is still importing GE is not."""
    with _lock:
        while _idle:
            _idle.pop().kill()


@dataclass
class Pending:
    """Outcomes still being computed: result() waits for them."""

    worker: Worker
    number: int
    make: Callable[[Any], list[Outcome]]

    def done(self) -> bool:
        """True when result() will not wait."""
        return self.worker.has_reply(self.number)

    def result(self) -> list[Outcome]:
        return self.make(_answer(self.worker.reply(self.number)))


def _answer(reply: Any) -> Any:
    if not (isinstance(reply, tuple) and len(reply) == 2 and reply[0] in ("ok", "error")):
        raise WorkerFailed(f"the Great Expectations process answered {type(reply).__name__}")
    if reply[0] == "error":
        raise UsageError(str(reply[1]))
    return reply[1]


class Session:
    """One gate run's suites, built in a worker; validate() returns at once with a Pending."""

    def __init__(self, suites: list[SuiteFile]) -> None:
        self.suites = suites
        self._index = {id(s): k for k, s in enumerate(suites)}
        self._columns = [needed_columns(s) for s in suites]
        self.worker = _acquire()
        self._built = self.worker.request(("session", suites))
        self._about: dict[str, Any] | None = None

    def ready(self) -> dict[str, Any]:
        """What the worker says of itself once the suites are built ({"stand_in_failure": why
        GE had to be imported whole, or None}); raises the UsageError of a suite that GE cannot
        build (a typo in a type or kwargs)."""
        if self._about is None:
            self._about = _answer(self.worker.reply(self._built))
        return self._about

    def built(self) -> bool:
        """True once the worker has answered the session (its suites are built, or failed to)."""
        return self._about is not None or self.worker.has_reply(self._built)

    def validate(self, suite: SuiteFile, df: pd.DataFrame, what: str) -> Pending:
        k = self._index[id(suite)]
        number = self.worker.request(("validate", k, what, to_table(df, self._columns[k])))

        def make(raw: list[tuple[int, bool, int, tuple[int, ...], str | None]]) -> list[Outcome]:
            from motqa.expectations.engine import Outcome

            self.ready()
            return [Outcome(suite.expectations[i], success, count, tuple(lines), observed)
                    for i, success, count, lines, observed in raw]

        return Pending(self.worker, number, make)

    def close(self) -> None:
        """Give the worker back for the next run (or end it, if a request is unanswered)."""
        _release(self.worker)


def to_table(df: pd.DataFrame, columns: frozenset[str] | None) -> Table:
    """The frame as it crosses to the worker: only the columns its suite reads (every one when
    that cannot be told), and the index (the file lines GE names). Views of the frame's own
    arrays, not copies: a sequence waiting for its findings holds its rows anyway."""
    import pandas as pd

    keep = [c for c in df.columns if columns is None or c in columns]
    index = df.index
    # A RangeIndex crosses as its range: its to_numpy() would be kept with the frame (8 bytes a row).
    lines = range(index.start, index.stop, index.step) if isinstance(index, pd.RangeIndex) else index.to_numpy()
    return lines, {str(c): df[c].to_numpy() for c in keep}


def from_table(table: Table) -> pd.DataFrame:
    """The frame back, its index a RangeIndex where the lines run without a gap (a clean file):
    the same labels, and GE filters such a frame 20 to 30% faster."""
    import numpy as np
    import pandas as pd

    index, columns = table
    if isinstance(index, range):
        return pd.DataFrame(columns, index=pd.RangeIndex(index.start, index.stop, index.step))
    n = len(index)
    whole = n > 0 and index.dtype.kind == "i" and index[0] + n - 1 == index[-1] \
        and bool(np.array_equal(index, np.arange(index[0], index[0] + n, dtype=index.dtype)))
    return pd.DataFrame(columns, index=pd.RangeIndex(int(index[0]), int(index[0]) + n) if whole else pd.Index(index))


def needed_columns(suite: SuiteFile) -> frozenset[str] | None:
    """The columns a suite's expectations read, or None (all) when one of them is not about named
    columns (a table-level expectation: row count, column set) or has a row_condition in GE's
    string syntax. GE filters the whole frame for each row_condition, so a frame of the columns
    it reads is validated two to three times faster (bench/README, Start-up)."""
    names: set[str] = set()
    for spec in suite.expectations:
        if not spec.columns:
            return None
        names.update(spec.columns)
        condition = spec.config["kwargs"].get("row_condition")
        if condition is None:
            continue
        found = _condition_columns(condition)
        if found is None:
            return None
        names.update(found)
    return frozenset(names)


def _condition_columns(condition: Any) -> set[str] | None:
    """Column names of a row_condition in GE 1.x's dict form ({"column": {"name": ...}, ...}),
    nested conditions included; None for anything else (a string is pandas query syntax)."""
    if isinstance(condition, list):
        parts = [_condition_columns(c) for c in condition]
        return None if any(p is None for p in parts) else set().union(*(p for p in parts if p is not None))
    if not isinstance(condition, dict):
        return None
    names: set[str] = set()
    for key, value in condition.items():
        if key == "column":
            name = value.get("name") if isinstance(value, dict) else value
            if not isinstance(name, str):
                return None
            names.add(name)
        elif isinstance(value, dict | list):
            found = _condition_columns(value)
            if found is None:
                return None
            names |= found
    return names


# ---------------------------------------------------------------------------------- child


def main() -> None:
    """The child: import GE at once, then answer requests until stdin ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends us
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything GE prints goes to stderr, never into the replies
    inp = sys.stdin.buffer
    from motqa.expectations import engine as engine_module
    from motqa.expectations.engine import GxEngine, StandInsFailed

    engine_module.stand_in_failure = os.environ.pop(_WHOLE, None)
    try:
        engine_module.import_gx(() if engine_module.stand_in_failure else None)
    except StandInsFailed as e:  # this GE needs a module STAND_INS names: start again, GE whole
        os.environ[_WHOLE] = str(e)
        os.dup2(out.fileno(), 1)
        os.execv(sys.executable, [sys.executable, "-m", "motqa.expectations.worker"])
    engine: GxEngine | None = None
    suites: list[SuiteFile] = []
    while True:
        try:
            message = receive(inp)
        except EOFError:
            break
        try:
            if message[0] == "session":
                suites = message[1]
                engine = GxEngine()
                engine.add_suites(suites)
                send(out, ("ok", {"stand_in_failure": engine_module.stand_in_failure}))
            elif message[0] == "validate":
                _, k, what, table = message
                assert engine is not None
                suite = suites[k]
                position = {id(s): i for i, s in enumerate(suite.expectations)}
                outcomes = engine.validate(suite, from_table(table), what)
                send(out, ("ok", [(position[id(o.spec)], o.success, o.count, o.lines, o.observed)
                                  for o in outcomes]))
            elif message[0] == "modules":  # what became of these modules here (tests/test_startup.py)
                send(out, ("ok", {name: _module_state(name) for name in message[1]}))
            else:
                raise WorkerFailed(f"unknown request {message[0]!r}")
        except UsageError as e:
            send(out, ("error", str(e)))
    out.close()
    os._exit(0)  # nothing to finalise: GE's thousands of modules take half a second to tear down


def _module_state(name: str) -> str:
    from motqa.expectations.deferred import is_deferred, is_stand_in

    module = sys.modules.get(name)
    if module is None:
        return "absent"
    return "deferred" if is_deferred(module) else "stand-in" if is_stand_in(module) else "run"


def module_states(names: list[str]) -> dict[str, str]:
    """In an idle worker of this process (one is started if there is none): "absent", "deferred",
    "stand-in" or "run" for each module name."""
    worker = _acquire()
    try:
        return dict(_answer(worker.reply(worker.request(("modules", names)))))
    finally:
        _release(worker)


if __name__ == "__main__":
    main()
