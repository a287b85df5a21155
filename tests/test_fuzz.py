"""Property-based tests: whatever gt.txt, det.txt and seqinfo.ini hold and however the folders are
laid out, `motqa validate` ends with exit 0 or 1, JSON that parses, findings from the registry,
no line lost, and the sources unchanged. The long run (many examples, every suite) is slow."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motqa.catalog import CHECKS
from motqa.cli import run
from motqa.demo import default_sequences, write_demo
from motqa.model import DET_COLUMNS, GT_COLUMNS, WORLD_COLUMNS
from motqa.sources.mot_files import parse_annotations, parse_seqinfo
from tests.strategies import annotation_bytes, apply_op, layout_ops, seqinfo_bytes, tree_digest

# Hypothesis reports a failing example through code that imports mypy_extensions.TypedDict, which
# warns; under `-W error` that warning would hide the example behind a pytest INTERNALERROR.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")

# Fast runs for every `pytest`; the slow ones, with many examples, bounded to about two minutes.
QUICK = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEVERITIES = {"error", "warning", "info"}
SEQ = "train/DEMO-01"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "mot"
    write_demo(root, sequences=default_sequences(12, 96, 72))
    return root


@contextmanager
def copy_of(template: Path) -> Iterator[tuple[Path, Path]]:
    """A fresh copy of the demo tree, and a folder outside it for links to point at."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mot"
        shutil.copytree(template, root, symlinks=True)
        outside = Path(tmp) / "outside"
        (outside / "img1").mkdir(parents=True)
        (outside / "gt.txt").write_bytes(b"1,1,1,1,5,5,1,1,1\n")
        yield root, outside


def validate(root: Path, outside: Path, path: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    """`motqa validate --format json` in this process, with every invariant of issue 8 checked."""
    before = tree_digest(root), tree_digest(outside)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(["validate", str(path), "--format", "json", *extra])
    assert (tree_digest(root), tree_digest(outside)) == before, "the command changed the sources"
    assert code in (0, 1), err.getvalue()
    assert err.getvalue() == ""
    text = out.getvalue()
    text.encode("utf-8")
    doc = json.loads(text)
    assert doc["valid"] is (code == 0)
    counts = {s: 0 for s in SEVERITIES}
    for f in doc["findings"]:
        assert f["check"] in CHECKS or f["check"].startswith("gx-"), f
        assert f["severity"] in SEVERITIES and f["message"] and f["count"] >= 1
        counts[f["severity"]] += f["count"]
    assert doc["counts"] == counts
    return doc  # type: ignore[no-any-return]


def run_with(template: Path, write: Callable[[Path, Path], None], *extra: str) -> dict:  # type: ignore[type-arg]
    with copy_of(template) as (root, outside):
        write(root, outside)
        return validate(root, outside, root / SEQ, *extra)


def set_file(rel: str, data: bytes) -> Callable[[Path, Path], None]:
    def write(root: Path, outside: Path) -> None:
        (root / SEQ / rel).write_bytes(data)

    return write


FAST = ("--no-shipped-expectations", "--images", "header")


# -- the parser loses no line and changes no value -----------------------------------------------------------

def assert_nothing_lost(data: bytes, kind: str) -> None:
    """Every non-blank line is a row with exactly the file's values, or counted in a
    parse-error finding; the named lines are those lines."""
    table, findings = parse_annotations(data, kind, "S", f"{kind}/{kind}.txt")
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    lines = body.splitlines()
    nonblank = {n for n, line in enumerate(lines, start=1) if line.strip()}
    rows = table.rows
    kept = rows.index.to_list()
    assert kept == sorted(set(kept)) and set(kept) <= nonblank
    errors = [f for f in findings if f.check == "parse-error"]
    assert len(findings) == len(errors)
    named = {p.line for f in errors for p in (f.place, *f.more)}
    assert not named & set(kept) and named <= nonblank
    assert len(kept) + sum(f.count for f in errors) == len(nonblank)
    if all(f.count == 1 for f in errors):
        assert named | set(kept) == nonblank
    width = table.columns
    names = list(GT_COLUMNS[:7] if kind == "gt" else DET_COLUMNS)
    names += list(GT_COLUMNS[7:]) if (kind, width) == ("gt", 9) else list(WORLD_COLUMNS) if width == 10 else []
    for n in kept[:50]:
        cells = [float(c) for c in lines[n - 1].split(b",")]
        assert len(cells) == width
        got = [float(rows[c].to_numpy()[rows.index.get_loc(n)]) for c in names]
        same = all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(got, cells, strict=True))
        assert same, (n, got, cells)


@settings(QUICK, max_examples=40)
@given(data=annotation_bytes(), kind=st.sampled_from(["gt", "det"]))
def test_parser_keeps_every_line(data: bytes, kind: str) -> None:
    assert_nothing_lost(data, kind)


@settings(QUICK, max_examples=60)
@given(data=seqinfo_bytes())
def test_seqinfo_parser_takes_any_bytes(data: bytes) -> None:
    parsed = parse_seqinfo(data, "S")
    info = parsed.info
    assert info.seq_length is None or 0 < info.seq_length < 10**9
    assert info.frame_rate is None or (math.isfinite(info.frame_rate) and info.frame_rate > 0)
    assert "\0" not in info.im_dir and info.im_dir
    assert all(f.check == "seqinfo-invalid" for f in parsed.findings)


# -- the command on hostile bytes and layouts ------------------------------------------------------------------

@QUICK
@given(data=annotation_bytes(widths=(9, 10)))
def test_validate_any_gt(template: Path, data: bytes) -> None:
    run_with(template, set_file("gt/gt.txt", data), *FAST)


@QUICK
@given(data=annotation_bytes(widths=(7, 10)))
def test_validate_any_det(template: Path, data: bytes) -> None:
    run_with(template, set_file("det/det.txt", data), *FAST)


@QUICK
@given(data=seqinfo_bytes())
def test_validate_any_seqinfo(template: Path, data: bytes) -> None:
    run_with(template, set_file("seqinfo.ini", data), *FAST)


@QUICK
@given(ops=layout_ops())
def test_validate_any_layout(template: Path, ops: list[tuple[str, str, int, bytes]]) -> None:
    with copy_of(template) as (root, outside):
        for op in ops:
            apply_op(root, outside, op)
        validate(root, outside, root, *FAST)


# -- the long run: many examples, every shipped suite, every image mode ----------------------------------------

@pytest.mark.slow
@pytest.mark.timeout(300)
@LONG
@given(data=annotation_bytes(), kind=st.sampled_from(["gt", "det"]))
def test_long_parser_keeps_every_line(data: bytes, kind: str) -> None:
    assert_nothing_lost(data, kind)


@pytest.mark.slow
@pytest.mark.timeout(300)
@settings(LONG, max_examples=150)
@given(gt=annotation_bytes(widths=(9, 10)), det=annotation_bytes(widths=(7, 10)), info=seqinfo_bytes(),
       images=st.sampled_from(["decode", "header", "skip"]))
def test_long_validate_any_files(template: Path, gt: bytes, det: bytes, info: bytes, images: str) -> None:
    def write(root: Path, outside: Path) -> None:
        seq = root / SEQ
        for rel, data in (("gt/gt.txt", gt), ("det/det.txt", det), ("seqinfo.ini", info)):
            if data or os.urandom(1)[0] & 1:
                (seq / rel).write_bytes(data)

    run_with(template, write, "--no-shipped-expectations", "--images", images)


@pytest.mark.slow
@pytest.mark.timeout(300)
@settings(LONG, max_examples=150)
@given(ops=layout_ops(), images=st.sampled_from(["decode", "header"]))
def test_long_validate_any_layout(template: Path, ops: list[tuple[str, str, int, bytes]], images: str) -> None:
    with copy_of(template) as (root, outside):
        for op in ops:
            apply_op(root, outside, op)
        validate(root, outside, root, "--no-shipped-expectations", "--images", images)


@pytest.mark.slow
@pytest.mark.timeout(300)
@settings(LONG, max_examples=60)
@given(gt=annotation_bytes(widths=(9, 10)), info=seqinfo_bytes(), ops=layout_ops())
def test_long_validate_with_every_suite(template: Path, gt: bytes, info: bytes,
                                        ops: list[tuple[str, str, int, bytes]]) -> None:
    """The shipped Great Expectations suites see the same hostile data."""
    with copy_of(template) as (root, outside):
        (root / SEQ / "gt/gt.txt").write_bytes(gt)
        (root / "train/DEMO-02/seqinfo.ini").write_bytes(info)
        for op in ops:
            apply_op(root, outside, op)
        validate(root, outside, root, "--images", "header")
