"""Start-up: GE imports without running the modules motqa never calls (engine.DEFERRED), the
suites give the same outcomes as with a plain import, and a deferred module is still a real
module when something uses it. The GE tests run in fresh processes, where nothing has imported
scipy or altair before GE does; if a GE release starts calling a deferred module on motqa's path,
test_ge_path_leaves_deferred_modules_unrun fails and says which one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from motqa.expectations.deferred import deferring, is_deferred
from motqa.expectations.engine import DEFERRED, STAND_INS

# Run in a subprocess: the shipped gt suite on clean rows and on rows written normalised to 0-1
# (which fails gt-box-pixels), through motqa's engine, with DEFERRED as given in argv[1] and
# STAND_INS in argv[3].
GE_PATH = textwrap.dedent("""
    import json, sys
    import numpy as np, pandas as pd
    from motqa.expectations import engine
    from motqa.expectations.deferred import is_deferred
    from motqa.expectations.suites import load_suites

    watched = json.loads(sys.argv[2])
    engine.DEFERRED = tuple(json.loads(sys.argv[1]))
    engine.STAND_INS = tuple(json.loads(sys.argv[3]))
    suites = [s for s in load_suites([], shipped=True) if s.target in ("gt", "sequences")]
    gx = engine.GxEngine()
    gx.add_suites(suites)
    n = 200
    rng = np.random.default_rng(7)
    clean = pd.DataFrame({
        "frame": np.repeat(np.arange(1, 41), 5).astype(float), "id": np.tile(np.arange(1, 6), 40).astype(float),
        "left": rng.uniform(0, 500, n), "top": rng.uniform(0, 300, n), "width": rng.uniform(20, 60, n),
        "height": rng.uniform(60, 180, n), "conf": np.ones(n), "class": np.ones(n), "visibility": np.ones(n),
    }, index=pd.RangeIndex(1, n + 1))
    normalised = clean.assign(width=clean.width / 1920, height=clean.height / 1080)
    table = pd.DataFrame({"label": ["train/A-01"], "seq_length": [40.0], "frames_seen": [40.0]},
                         index=pd.RangeIndex(1, 2))
    outcomes = {}
    for suite in suites:
        frames = {"clean": clean, "normalised": normalised} if suite.target == "gt" else {"table": table}
        for name, df in frames.items():
            try:
                found = gx.validate(suite, df, name)
            except Exception as e:  # a sequences suite may need columns this table lacks: compare that too
                outcomes[f"{suite.path.name} {name}"] = f"{type(e).__name__}: {e}"
                continue
            outcomes[f"{suite.path.name} {name}"] = [[o.spec.check, o.success, o.count, list(o.lines), o.observed]
                                                     for o in found]
    state = {m: "absent" if m not in sys.modules else "deferred" if is_deferred(sys.modules[m]) else "run"
             for m in watched}
    print(json.dumps({"outcomes": outcomes, "state": state}))
""")


def ge_path(deferred: tuple[str, ...], watched: list[str], stand_ins: tuple[str, ...] = ()) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", GE_PATH, json.dumps(list(deferred)), json.dumps(watched),
                           json.dumps(list(stand_ins))], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_ge_path_leaves_deferred_modules_unrun() -> None:
    """With deferral (and the stand-ins), the shipped suites run and give exactly the outcomes of
    a plain import (one failing, one passing), and no deferred module ran: neither the module nor
    its submodules.
    A plain import runs them all, so the watch list would catch a GE that stops importing them."""
    watched = [*DEFERRED, "scipy.stats._stats_py", "altair.vegalite"]
    deferred = ge_path(DEFERRED, watched, STAND_INS)
    plain = ge_path((), watched)
    assert deferred["outcomes"] == plain["outcomes"]
    normalised = deferred["outcomes"]["gt_rows.json normalised"]
    assert any(check == "gx-gt-box-pixels" and not ok for check, ok, *_ in normalised), normalised
    assert all(ok for _, ok, *_ in deferred["outcomes"]["gt_rows.json clean"])
    ran = {m: s for m, s in deferred["state"].items() if s == "run"}
    assert not ran, (f"GE (or motqa's path through it) now runs {sorted(ran)} on import or in the shipped "
                     f"suites: the deferral in motqa/expectations/engine.py buys nothing for them; "
                     f"see bench/README 'Start-up'")
    assert plain["state"] == dict.fromkeys(watched, "run"), (
        f"a plain GE import no longer imports {plain['state']}: drop those from engine.DEFERRED")
    assert {m: deferred["state"][m] for m in DEFERRED} == dict.fromkeys(DEFERRED, "deferred")


@pytest.mark.slow
def test_validate_command_leaves_deferred_modules_unrun(demo_root: Path) -> None:
    """The whole `motqa validate` path (every shipped suite, the report) uses none of them, nor the
    stand-ins: asked of the worker that ran the suites (the gate's process never imports GE)."""
    code = textwrap.dedent(f"""
        import json, sys
        from motqa.cli import run
        from motqa.expectations import worker
        code = run(["validate", {str(demo_root)!r}, "--images", "skip"])
        assert code == 0, code
        pids = [w.proc.pid for w in worker._idle]
        states = worker.module_states({[*DEFERRED, *STAND_INS]!r})
        assert [w.proc.pid for w in worker._idle] == pids, "asked another worker than the one that ran the suites"
        print(json.dumps(states))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    states = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {m: states[m] for m in DEFERRED} == dict.fromkeys(DEFERRED, "deferred"), states
    assert {m: states[m] for m in STAND_INS} == dict.fromkeys(STAND_INS, "stand-in"), states


# ------------------------------------------------------------------ the deferral on its own

PACKAGE = {
    "__init__.py": "import tally\ntally.ran.append(__name__)\nimport time\ntime.sleep(DELAY)\n"
                   "from .part import VALUE\nfrom . import part\nANSWER = 42\n",
    "part.py": "import tally\ntally.ran.append(__name__)\nVALUE = 'v'\n",
}


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package `deferme` (with a submodule `part`) that records each run of its code in
    tally.ran, and sleeps DELAY seconds in its __init__ (for the thread test)."""
    root = tmp_path / "pkgs"
    (root / "deferme").mkdir(parents=True)
    for name, text in PACKAGE.items():
        (root / "deferme" / name).write_text(text.replace("DELAY", "0.2" if name == "__init__.py" else "0"))
    (root / "tally.py").write_text("ran = []\n")
    monkeypatch.syspath_prepend(str(root))
    yield "deferme"
    for name in [m for m in sys.modules if m in ("tally", "deferme") or m.startswith("deferme.")]:
        del sys.modules[name]


def test_a_deferred_module_runs_on_first_use_only(package: str) -> None:
    import tally

    with deferring([package]):
        import deferme
    assert is_deferred(deferme) and tally.ran == []
    import deferme as again  # a second import does not run it

    assert again is deferme and tally.ran == [] and deferme.__spec__ is not None
    assert deferme.ANSWER == 42 and not is_deferred(deferme)
    assert tally.ran == ["deferme", "deferme.part"] and deferme.part.VALUE == "v"
    assert type(deferme.__loader__).__name__ == "SourceFileLoader"


def test_outside_the_block_imports_are_eager(package: str) -> None:
    import tally

    with deferring(["something.else"]):
        pass
    import deferme

    assert not is_deferred(deferme) and tally.ran == ["deferme", "deferme.part"]


def test_a_submodule_imported_first_runs_its_package_first_and_once(package: str) -> None:
    """An eager import runs a package before its submodule: so does a deferred one."""
    import tally

    with deferring([package]):
        import deferme
    first = deferme.part  # an attribute read: runs the package
    import deferme.part as direct

    assert tally.ran == ["deferme", "deferme.part"] and direct is first is sys.modules["deferme.part"]
    assert direct.__spec__ is not None and direct.__spec__.name == "deferme.part"


def test_a_direct_submodule_import_of_an_unrun_package(package: str) -> None:
    import tally

    with deferring([package]):
        import deferme
    import deferme.part

    assert tally.ran == ["deferme", "deferme.part"], "the package runs first, the submodule once"
    assert deferme.part is sys.modules["deferme.part"] and deferme.ANSWER == 42
    assert sys.modules["deferme.part"].__spec__.loader.__class__.__name__ == "SourceFileLoader"


def test_a_submodule_imported_inside_the_block_runs_its_package_first(package: str) -> None:
    """As GE does with requests (`from requests.adapters import ...` while requests is deferred):
    the package runs as it would eagerly, and the deferral buys nothing but breaks nothing."""
    import tally

    with deferring([package]):
        import deferme
        from deferme.part import VALUE

    assert VALUE == "v" and not is_deferred(deferme) and tally.ran == ["deferme", "deferme.part"]


def test_two_threads_using_it_first_both_see_it_whole(package: str) -> None:
    """The package sleeps while it runs: the second thread waits for the first's run instead of
    reading a half-made module, and the code runs once."""
    import tally

    with deferring([package]):
        import deferme
    seen: list[object] = []
    errors: list[BaseException] = []

    def use() -> None:
        try:
            seen.append(deferme.ANSWER)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    for t in threads:
        t.join(10)
    assert errors == [] and seen == [42] * 4 and tally.ran == ["deferme", "deferme.part"]


def test_a_module_that_fails_raises_and_is_not_left_half_made(package: str, tmp_path: Path) -> None:
    (tmp_path / "pkgs" / "deferme" / "__init__.py").write_text("raise RuntimeError('broken on purpose')\n")
    with deferring([package]):
        import deferme
    with pytest.raises(RuntimeError, match="broken on purpose"):
        deferme.ANSWER  # noqa: B018 - the read is the test
    assert "deferme" not in sys.modules
