"""action.yml, the composite GitHub Action: its steps run here as a runner runs them (each `run:`
in `bash --noprofile --norc -eo pipefail`, the step's `env:` with the inputs' expressions filled
in, GITHUB_OUTPUT a file), and motqa's findings come out as workflow annotations."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from motqa.demo import DemoSequence, write_demo

REPO = Path(__file__).resolve().parents[1]
ACTION: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
SMALL = [DemoSequence("train", "DEMO-01", frames=12, width=160, height=120, tracks=3, seed=1),
         DemoSequence("train", "DEMO-02", frames=12, width=160, height=120, tracks=4, seed=2)]
EXPRESSION = re.compile(r"\$\{\{\s*([a-z_.-]+)\s*\}\}")


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


def step(name: str) -> dict[str, Any]:
    return next(s for s in ACTION["runs"]["steps"] if s["name"] == name)


def expand(text: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    """`${{ inputs.x }}`, `${{ github.action_path }}` and `${{ steps.id.outputs.x }}`, as Actions
    fills them in (an input not given takes its default)."""
    def value(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref.startswith("inputs."):
            name = ref.removeprefix("inputs.")
            assert name in ACTION["inputs"], f"{ref} is not an input of action.yml"
            return inputs.get(name, str(ACTION["inputs"][name].get("default", "")))
        if ref == "github.action_path":
            return str(REPO)
        if ref.startswith("steps."):
            sid, _, out = ref.removeprefix("steps.").partition(".outputs.")
            return steps.get(sid, {}).get(out, "")
        raise AssertionError(f"an expression the test does not know: {ref}")
    return EXPRESSION.sub(value, text)


def run_steps(names: list[str], inputs: dict[str, str], workspace: Path, base_env: dict[str, str]) -> Ran:
    """Run the named steps in order, stopping at the first that fails (as a runner does)."""
    steps: dict[str, dict[str, str]] = {}
    out, err, code = "", "", 0
    for name in names:
        s = step(name)
        assert s["shell"] == "bash"
        output = workspace.parent / f"github-output-{name.replace(' ', '-')}"
        output.write_text("")
        env = {**base_env, "GITHUB_ACTION_PATH": str(REPO), "GITHUB_WORKSPACE": str(workspace),
               "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(workspace.parent)}
        env.update({k: expand(str(v), inputs, steps) for k, v in s.get("env", {}).items()})
        script = workspace.parent / "step.sh"
        script.write_text(s["run"])
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                              env=env, capture_output=True, text=True, timeout=600)
        out, err, code = out + done.stdout, err + done.stderr, done.returncode
        if "id" in s:
            steps[s["id"]] = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        if code != 0:
            break
    outputs = {k: expand(v["value"], inputs, steps) for k, v in ACTION["outputs"].items()}
    return Ran(code, out, err, outputs)


def test_steps_are_plain_shell_with_inputs_only_in_env() -> None:
    """No expression inside a script (a path or argument cannot inject shell), every input used."""
    assert ACTION["runs"]["using"] == "composite"
    used = set()
    for s in ACTION["runs"]["steps"]:
        assert s["shell"] == "bash" and "${{" not in s["run"], s["name"]
        for value in s.get("env", {}).values():
            used |= {m.removeprefix("inputs.") for m in EXPRESSION.findall(str(value)) if m.startswith("inputs.")}
    assert used == set(ACTION["inputs"])
    assert {"path", "command", "format", "fail-on"} <= set(ACTION["inputs"])
    assert ACTION["inputs"]["format"]["default"] == "github" and ACTION["inputs"]["command"]["default"] == "validate"
    assert set(ACTION["outputs"]) == {"sarif-file", "exit-code"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """The install step, run once: motqa from the action's path into a virtualenv that sees the
    packages installed here, pip asking no index (nothing downloaded: offline-safe)."""
    env_dir = tmp_path_factory.mktemp("action-python") / "venv"
    # virtualenv (pre-commit's, of the test extras) seeds setuptools and wheel, which a build without an index needs
    subprocess.run([sys.executable, "-m", "virtualenv", "-q", "--system-site-packages", str(env_dir)], check=True)
    python = str(env_dir / ("Scripts" if sys.platform == "win32" else "bin") / "python")
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed copy runs, not this checkout
    base.update({"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"})
    workspace = tmp_path_factory.mktemp("install-ws")
    ran = run_steps(["Install motqa"], {"path": ".", "python": python}, workspace, base)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert "motqa 0.1.0" in ran.stdout
    where = subprocess.run([python, "-c", "import motqa; print(motqa.__file__)"], capture_output=True, text=True,
                           env=base, cwd=workspace)
    assert str(env_dir) in where.stdout, where  # installed into the action's Python, not read from the checkout
    return python, base


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def test_findings_are_github_annotations(installed: tuple[str, dict[str, str]], workspace: Path) -> None:
    python, base = installed
    place = write_demo(workspace / "data", "conf-flag", SMALL)
    assert place is not None
    ran = run_steps(["Run motqa"], {"path": "data", "python": python, "args": "--no-shipped-expectations"},
                    workspace, base)
    assert ran.code == 1, ran.stdout + ran.stderr
    assert re.search(rf"^::error file=data/train/DEMO-02/gt/gt\.txt,line={place.line},title=motqa conf-flag::",
                     ran.stdout, re.M), ran.stdout
    assert ran.outputs == {"sarif-file": "", "exit-code": "1"}
    # fail-on: a warning fails only when asked
    write_demo(workspace / "warn", "no-boxes", SMALL)
    inputs = {"path": "warn", "python": python, "args": "--no-shipped-expectations"}
    passed = run_steps(["Run motqa"], inputs, workspace, base)
    assert passed.code == 0 and re.search(r"^::warning file=warn/train/DEMO-02/gt/gt\.txt,", passed.stdout, re.M)
    assert run_steps(["Run motqa"], {**inputs, "fail-on": "warning"}, workspace, base).code == 1


def test_sarif_to_a_file_named_as_an_output(installed: tuple[str, dict[str, str]], workspace: Path) -> None:
    python, base = installed
    place = write_demo(workspace / "data", "duplicate-id", SMALL)
    assert place is not None
    ran = run_steps(["Run motqa"], {"path": "data", "python": python, "format": "sarif", "sarif-file": "out/m.sarif",
                                    "images": "skip", "args": "--no-shipped-expectations"}, workspace, base)
    assert ran.code == 1 and ran.outputs == {"sarif-file": "out/m.sarif", "exit-code": "1"}, ran.stdout + ran.stderr
    log = json.loads((workspace / "out" / "m.sarif").read_text(encoding="utf-8"))
    r = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "duplicate-id")
    assert r["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "data/train/DEMO-02/gt/gt.txt", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": place.line}}


def test_clean_data_passes_and_bad_inputs_say_why(installed: tuple[str, dict[str, str]], workspace: Path) -> None:
    python, base = installed
    write_demo(workspace / "data", None, SMALL)
    ran = run_steps(["Run motqa"], {"path": "data", "python": python, "images": "header",
                                    "args": "--no-shipped-expectations"}, workspace, base)
    assert ran.code == 0 and "::error" not in ran.stdout and ran.outputs["exit-code"] == "0", ran.stdout + ran.stderr
    no_target = run_steps(["Run motqa"], {"path": "data", "python": python, "command": "ingest"}, workspace, base)
    assert no_target.code == 2 and "::error title=motqa::the ingest command needs the dataset input" in no_target.stdout
    other = run_steps(["Run motqa"], {"path": "data", "python": python, "command": "results"}, workspace, base)
    assert other.code == 2 and "command must be validate or ingest, not 'results'" in other.stdout
    target = workspace.parent / "ds"
    ingested = run_steps(["Run motqa"], {"path": "data", "python": python, "command": "ingest", "dataset": str(target),
                                         "images": "skip", "args": "--no-shipped-expectations"}, workspace, base)
    assert ingested.code == 0 and ingested.outputs["exit-code"] == "0", ingested.stdout + ingested.stderr
    assert target.is_dir() and "written" in ingested.stderr, ingested.stderr
