"""Deferred imports: while a `deferring(names)` block runs, a module of `names` that gets imported
is put in sys.modules without running its code; its code runs, for real, the first time anything
reads an attribute it does not yet have. GE imports scipy.stats and altair (about 2 s of its 4 s
import on 2 cores) for expectations and renderers motqa never calls; this is what lets a run skip
them while GE keeps every module it does call.

The stdlib's importlib.util.LazyLoader does the same but is not used: on Python 3.11 any later
`import scipy.stats` runs the module (the import system reads `__spec__`, which LazyLoader's module
traps), and two threads touching the module first at once see it half made. Here the module keeps
its import attributes (`__spec__`, `__path__`, ...) readable, and a lock makes a second thread wait
for the first thread's load."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, SourceFileLoader, SourcelessFileLoader
from typing import Any


@contextmanager
def deferring(names: Iterable[str]) -> Iterator[None]:
    """Defer the named modules (full dotted names) that are first imported inside this block, by
    any thread. The finder is removed at the end of the block; a module deferred here stays
    deferred until used, and _SubmoduleGuard stays on sys.meta_path until every one has run."""
    finder = _DeferringFinder(frozenset(names))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def is_deferred(module: types.ModuleType) -> bool:
    """True while `module`'s code has not run (it was deferred and nothing has used it yet)."""
    return type(module) is _DeferredModule


class _DeferringFinder(MetaPathFinder):
    """First on sys.meta_path: for a named module, the spec the other finders give, with its loader
    wrapped so that loading leaves the module unrun. Anything that is not plain Python source or
    bytecode (an extension module, a namespace package) is left to load as usual."""

    def __init__(self, names: frozenset[str]) -> None:
        self._names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self._names:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or isinstance(finder, _DeferringFinder) or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is None:
                continue
            if isinstance(spec.loader, SourceFileLoader | SourcelessFileLoader):
                spec.loader = _DeferringLoader(spec.loader)
            return spec
        return None


class _DeferringLoader(Loader):
    """Makes the module the usual way (import attributes set, in sys.modules) and, instead of
    running its code, turns it into a _DeferredModule that runs it on first use."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return None  # the default module, as a source loader makes

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None
        # Put the real loader back where code that inspects the module looks for it.
        spec.loader = self.loader
        module.__loader__ = self.loader
        spec.loader_state = _State(self.loader, dict(module.__dict__))
        module.__class__ = _DeferredModule
        _pending.add(spec.name)
        if _GUARD not in sys.meta_path:
            sys.meta_path.insert(0, _GUARD)


class _SubmoduleGuard(MetaPathFinder):
    """On sys.meta_path while a deferred package is unrun. Importing one of its submodules on its
    own would run the submodule before its package (the reverse of an eager import, and a circular
    ImportError when the package imports the submodule back): so the package runs first, and the
    submodule it imported is handed back as it is rather than run a second time."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        parent = sys.modules.get(fullname.rpartition(".")[0])
        if parent is None or not is_deferred(parent) or _state(parent).running:
            return None  # not deferred, or running now: its own submodule imports go as usual
        _run(parent, fullname.rpartition(".")[2])
        done = sys.modules.get(fullname)
        if done is None:
            return None  # the package does not import it: it loads as usual, after the package
        # The import system goes on to load the spec found here, or, when the module is already in
        # sys.modules, the module's own spec: both must be the one that hands back `done`.
        alias = ModuleSpec(fullname, _Loaded(done), origin=getattr(done, "__file__", None))
        done.__spec__ = alias
        return alias


class _Loaded(Loader):
    """The loader of a module that is already loaded: the import system gets the same object,
    with its own spec put back (the import system sets `__spec__` to the spec it was given)."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__  # its own, read before the guard swaps in the alias

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self.spec


_GUARD = _SubmoduleGuard()
_pending: set[str] = set()  # names of deferred modules not yet run


@dataclass
class _State:
    loader: Loader
    made: dict[str, Any]  # the module's attributes when it was made, before its code runs
    lock: threading.RLock = field(default_factory=threading.RLock)
    running: bool = False


class _DeferredModule(types.ModuleType):
    """A module whose code has not run. Import attributes are in its dict and read as usual;
    reading any other missing attribute runs the code, then reads it."""

    def __getattr__(self, attr: str) -> Any:
        _run(self, attr)
        return getattr(self, attr)

    def __dir__(self) -> list[str]:
        _run(self, "__dir__")
        return dir(self)


def _state(module: types.ModuleType) -> _State:
    spec = module.__spec__
    assert spec is not None and isinstance(spec.loader_state, _State)
    return spec.loader_state


def _run(module: types.ModuleType, attr: str) -> None:
    spec = module.__spec__
    assert spec is not None
    state = _state(module)
    with state.lock:  # a second thread waits here until the first has run the module
        if not is_deferred(module):
            return
        if state.running:  # the module's own code (or an import it makes) asks before it is done
            raise AttributeError(f"partially initialized module {spec.name!r} has no attribute {attr!r} "
                                 "(most likely due to a circular import)")
        # Attributes set on the module while it waited (a submodule imported on its own binds
        # itself to its parent) are set again after the code runs, as an eager import would end.
        waited = {k: v for k, v in module.__dict__.items() if k not in state.made or state.made[k] is not v}
        state.running = True
        try:
            state.loader.exec_module(module)
        except BaseException:
            if sys.modules.get(spec.name) is module:
                del sys.modules[spec.name]  # as a failed eager import leaves it: the next import retries
            raise
        finally:
            state.running = False
            module.__class__ = types.ModuleType
            _pending.discard(spec.name)
            if not _pending:
                with suppress(ValueError):  # another thread's last load removed it first
                    sys.meta_path.remove(_GUARD)
        module.__dict__.update(waited)


@contextmanager
def standing_in(names: Iterable[str]) -> Iterator[None]:
    """While the block runs, a module of `names` imported for the first time is a stand-in: an
    empty module whose every public attribute, read, is a new empty class, so that `from M import
    Name` works and none of M's code runs. For modules that only define classes nobody here uses
    (GE's Spark, cloud-storage and SQL datasources register themselves as pydantic models are
    made, a third of GE's import). Nothing about it is checked here: the caller proves that what
    it does use works, and imports for real when it does not (engine.import_gx)."""
    finder = _StandInFinder(frozenset(names))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def is_stand_in(module: types.ModuleType) -> bool:
    return type(module) is _StandIn


class _StandIn(types.ModuleType):
    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)  # import machinery and introspection: a plain module's answers
        made = type(attr, (), {"__module__": self.__name__, "__doc__": "a stand-in (motqa.expectations.deferred)"})
        setattr(self, attr, made)
        return made


class _StandInFinder(MetaPathFinder, Loader):
    def __init__(self, names: frozenset[str]) -> None:
        self._names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        return ModuleSpec(fullname, self) if fullname in self._names else None

    def create_module(self, spec: ModuleSpec) -> types.ModuleType:
        return _StandIn(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        pass
