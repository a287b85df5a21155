"""Great Expectations in its worker process (motqa/expectations/worker.py): the gate's process never
imports GE, outcomes are GE's own whatever the timing, a broken or dead worker is a clear error, and
the tricks that make the worker start fast (stand-ins for GE's unused datasources, the columns a
suite reads) change no outcome and fail loudly here when a GE release stops allowing them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from motqa.cli import run
from motqa.errors import UsageError
from motqa.expectations import worker
from motqa.expectations.run import ExpectationRun, GxFindings
from motqa.expectations.suites import load_suite, load_suites
from motqa.gate import GateConfig

from .test_expectations import GT_FAILURES, gate, gate_folder, lines, mot17, write_suite

TABLE_SUITE = {
    "name": "team-table", "meta": {"target": "gt"},
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}, "meta": {"id": "team-rows"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "visibility", "min_value": 0.9},
         "meta": {"id": "team-visible", "severity": "warning"}},
    ],
}


def shipped(target: str) -> Any:
    return next(s for s in load_suites([], shipped=True) if s.target == target)


# ------------------------------------------------------------------ what crosses to the worker


def test_the_gt_suite_gets_the_columns_it_reads() -> None:
    assert worker.needed_columns(shipped("gt")) == {"height", "width", "class", "conf"}
    assert worker.needed_columns(shipped("det")) == {"height", "id", "conf"}


def test_a_table_level_expectation_gets_every_column(tmp_path: Path) -> None:
    assert worker.needed_columns(load_suite(write_suite(tmp_path / "team", TABLE_SUITE))) is None


@pytest.mark.parametrize(("condition", "names"), [
    ({"type": "comparison", "column": {"name": "class"}, "operator": "==", "parameter": 1}, {"class"}),
    ({"type": "and", "conditions": [
        {"type": "comparison", "column": {"name": "class"}, "operator": "==", "parameter": 1},
        {"type": "comparison", "column": {"name": "conf"}, "operator": ">", "parameter": 0}]}, {"class", "conf"}),
    ('class == 1', None),  # pandas query syntax: no way to tell, so every column
    ({"type": "comparison", "column": {"name": 3}}, None),
])
def test_row_condition_columns(condition: Any, names: set[str] | None) -> None:
    assert worker._condition_columns(condition) == names


def test_the_table_keeps_its_lines_and_values() -> None:
    df = pd.DataFrame({"frame": [1, 2], "height": [3.5, 4.0], "conf": [1.0, 0.0]}, index=[7, 12])
    back = worker.from_table(worker.to_table(df, frozenset({"height"})))
    assert back.index.tolist() == [7, 12] and list(back.columns) == ["height"]
    assert back["height"].tolist() == [3.5, 4.0] and back["height"].dtype == np.float64


# ------------------------------------------------------------------ outcomes are GE's own


@pytest.mark.parametrize("case", sorted(GT_FAILURES))
def test_worker_outcomes_equal_ge_on_the_whole_frame(case: str) -> None:
    """The worker validates the columns a suite reads; GE in this process on every column gives
    the same outcomes (check, success, count, lines, observed)."""
    from motqa.expectations.engine import GxEngine

    rows, *_ = GT_FAILURES[case]
    seq = mot17(lines(rows))
    suite = shipped("gt")
    local = GxEngine()
    local.add_suites([suite])
    expected = local.validate(suite, seq.gt.rows, "x")
    session = worker.Session([suite])
    try:
        got = session.validate(suite, seq.gt.rows, "x").result()
    finally:
        session.close()
    assert [(o.spec.check, o.success, o.count, o.lines, o.observed) for o in got] == \
           [(o.spec.check, o.success, o.count, o.lines, o.observed) for o in expected]
    assert any(not o.success for o in got), case


def test_findings_do_not_depend_on_when_ge_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sequences finish as soon as GE has answered, or when too many wait: the result is the same."""
    seqs = [mot17(lines(GT_FAILURES[case][0]), name=f"MOT17-0{k}") for k, case in enumerate(sorted(GT_FAILURES), 2)]
    results = []
    for done in (True, False):
        monkeypatch.setattr(GxFindings, "done", lambda self, done=done: done)
        results.append(gate(*seqs))
    first, second = results
    assert [f.as_dict() for f in first.findings] == [f.as_dict() for f in second.findings]
    assert [s.label for s in first.sequences] == [s.label for s in second.sequences]
    assert {f.check for f in first.findings if f.check.startswith("gx-")} >= {"gx-gt-pedestrian-upright",
                                                                              "gx-gt-pedestrians-evaluated"}


def test_a_worker_serves_one_run_after_another() -> None:
    """Tests and long-lived callers run many gates: the worker is taken back, not started again."""
    gate(mot17())
    pids = {w.proc.pid for w in worker._idle}
    gate(mot17())
    assert pids and {w.proc.pid for w in worker._idle} == pids


# ------------------------------------------------------------------ errors


def test_a_broken_suite_is_the_users_error_and_the_next_run_is_clean(tmp_path: Path) -> None:
    bad = {"name": "bad", "meta": {"target": "gt"},
           "expectations": [{"type": "expect_column_values_to_be_between", "kwargs": {"colum": "x"}}]}
    write_suite(tmp_path / "bad", bad)
    with pytest.raises(UsageError, match="expectation 1"):
        gate(mot17(), expectations=[tmp_path / "bad"])
    assert gate(mot17()).valid


def test_a_worker_that_dies_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    run_ = ExpectationRun.start([], True, GateConfig().wants)
    assert run_.engine is not None
    run_.engine.ready()
    run_.engine.worker.proc.kill()
    with pytest.raises(worker.WorkerFailed, match="killed by signal 9"):
        run_.submit_annotations(mot17()).findings()
    run_.close()
    assert gate(mot17()).valid  # a new worker for the next run


def test_a_dead_worker_exits_2_from_the_command_line(demo_root: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    original = worker.Session.__init__

    def doomed(self: worker.Session, suites: Any) -> None:
        original(self, suites)
        self.worker.proc.kill()

    monkeypatch.setattr(worker.Session, "__init__", doomed)
    assert run(["validate", str(demo_root), "--images", "skip"]) == 2
    err = capsys.readouterr().err
    assert "Great Expectations process was killed by signal 9" in err and "Traceback" not in err


# ------------------------------------------------------------------ the gate's process


def test_validate_never_imports_ge_in_its_own_process(demo_root: Path) -> None:
    """The point of the worker: GE's import and its thousands of modules stay out of the gate's
    process. Runs a whole validate (shipped suites, report) in a fresh interpreter."""
    code = textwrap.dedent(f"""
        import sys
        from motqa.cli import run
        code = run(["validate", {str(demo_root)!r}, "--images", "skip", "--report", "r.html"])
        assert code == 0, code
        ge = sorted(m for m in sys.modules if m.split(".")[0] in ("great_expectations", "scipy", "altair"))
        assert not ge, ge[:5]
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_ctrl_c_mid_validate_exits_130_without_a_word_from_the_worker(demo_root: Path) -> None:
    """SIGINT goes to the whole process group, the worker included: it leaves the interrupt to
    the gate's process (exit 130, one line) and ends with it."""
    proc = subprocess.Popen([sys.executable, "-m", "motqa", "validate", str(demo_root)], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    time.sleep(1.0)  # the worker is importing GE, the gate decoding frames
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "motqa: interrupted" in err and "Traceback" not in err, err
    time.sleep(0.5)
    alive = subprocess.run(["pgrep", "-f", "motqa.expectations.worker", "-g", str(proc.pid)],
                           capture_output=True, text=True)
    assert alive.stdout.strip() == "", "the worker outlived the command"


# ------------------------------------------------------------------ the stand-ins


STAND_IN_PATH = textwrap.dedent("""
    import json, sys
    from motqa.expectations import engine
    stand_ins = json.loads(sys.argv[1])
    gx = engine.import_gx(tuple(stand_ins))
    print(json.dumps({"failure": engine.stand_in_failure,
                      "imported": [m for m in engine.STAND_INS if m in sys.modules],
                      "stand_in": [m for m in engine.STAND_INS if m in sys.modules
                                   and type(sys.modules[m]).__name__ == "_StandIn"]}))
""")


def _import_in_child(stand_ins: tuple[str, ...]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", STAND_IN_PATH, json.dumps(list(stand_ins))],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_every_stand_in_is_a_module_ge_imports_and_stands_in() -> None:
    """GE imports each of STAND_INS when imported whole (else the stand-in buys nothing: drop it),
    and with them GE's probe passes: if a GE release needs one of them, this fails and says why."""
    from motqa.expectations.engine import STAND_INS

    whole = _import_in_child(())
    assert sorted(whole["imported"]) == sorted(STAND_INS), "GE no longer imports these: drop them from STAND_INS"
    assert whole["stand_in"] == [] and whole["failure"] is None
    trimmed = _import_in_child(STAND_INS)
    assert trimmed["failure"] is None, f"GE no longer works with engine.STAND_INS: {trimmed['failure']}"
    assert sorted(trimmed["stand_in"]) == sorted(STAND_INS)


def test_the_worker_says_its_stand_ins_held() -> None:
    session = worker.Session(load_suites([], shipped=True))
    try:
        assert session.ready() == {"stand_in_failure": None}
    finally:
        session.close()


def test_a_failing_stand_in_falls_back_to_the_whole_import(tmp_path: Path) -> None:
    """A GE that needs a stood-in module: the probe fails, the worker starts again with GE
    imported whole (pydantic will not define GE's models twice in one process), says why, and
    the suites run."""
    code = textwrap.dedent("""
        from motqa.expectations import engine, worker
        # GE's pandas datasource is what motqa uses: standing it in must fail the probe.
        engine.STAND_INS += ("great_expectations.datasource.fluent.pandas_datasource",)
        worker.main()
    """)
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as child:
        assert child.stdin is not None and child.stdout is not None
        worker.send(child.stdin, ("session", [shipped("gt")]))
        seq = mot17(lines(GT_FAILURES["LTRB instead of LTWH"][0]))
        worker.send(child.stdin, ("validate", 0, "x", worker.to_table(seq.gt.rows, None)))
        about, outcomes = worker.receive(child.stdout), worker.receive(child.stdout)
        child.stdin.close()
        assert child.wait(timeout=60) == 0
    assert about[0] == "ok" and "add_pandas" in str(about[1]["stand_in_failure"]), about
    assert outcomes[0] == "ok" and any(not success for _, success, *_ in outcomes[1]), outcomes


def test_gx_findings_of_a_folder_are_as_before(demo_root: Path) -> None:
    """A whole validate through the worker: the clean demo passes with every suite run."""
    result = gate_folder(demo_root)
    assert result.valid and {"gx-gt-box-pixels", "gx-seq-frame-rate"} <= set(result.checks_run)
