"""`motqa ingest` to s3://bucket/prefix on a real S3-compatible server (moto's, on 127.0.0.1):
round trip, refusals, overwrite and kill -9 at every step of the branch-and-merge write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import deeplake
import pytest

from motqa.cli import run
from motqa.deeplake import layout as L
from motqa.demo import write_demo
from tests.s3server import S3Server, s3_server  # noqa: F401 - the fixture
from tests.test_ingest import FAST_GATE, HERE, assert_matches_source, bigger_sequences, kill_when, open_ro

pytestmark = [pytest.mark.slow, pytest.mark.s3]


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:  # noqa: F811
    """The server, with the AWS_* variables of its credentials set for in-process runs."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    return s3_server


def ingest(s3: S3Server, *args: object) -> int:
    return run(["ingest", *map(str, args), "--endpoint-url", s3.endpoint, "-q", "--no-shipped-expectations"])


def open_main(s3: S3Server, url: str) -> Any:
    return open_ro(url, s3.creds)


def branches(s3: S3Server, url: str) -> list[str]:
    ds = open_ro(url, s3.creds)  # the branches object needs its dataset alive (DatasetUnavailableError)
    return list(ds.branches.names())


def matches(ds: Any, root: Path, rows_only: bool = False) -> bool:
    try:
        assert_matches_source(ds, root, rows_only)
    except AssertionError:
        return False
    return True


def test_s3_round_trip(s3: S3Server, demo_root: Path) -> None:
    url = f"s3://{s3.new_bucket()}/datasets/mot"
    assert ingest(s3, demo_root, url) == 0
    ds = open_main(s3, url)
    assert_matches_source(ds, demo_root)
    assert L.is_published(ds) and ds.metadata[L.META_LAYOUT] == L.LAYOUT
    assert branches(s3, url) == ["main"]


def test_s3_endpoint_from_environment(s3: S3Server, demo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    url = f"s3://{s3.new_bucket()}/mot"
    assert run(["ingest", str(demo_root), url, "-q", "--no-shipped-expectations"]) == 0
    assert_matches_source(open_main(s3, url), demo_root)


def test_s3_refused_gate_leaves_nothing(s3: S3Server, make_demo) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("box-size")
    url = f"s3://{s3.new_bucket()}/mot"
    assert ingest(s3, root, url) == 1
    assert not deeplake.exists(url, creds=s3.creds)


def test_s3_existing_kept_then_overwritten(s3: S3Server, make_demo, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    old, _ = make_demo()
    new, _ = make_demo("no-boxes")  # a warning: passes; DEMO-02 has an empty gt.txt
    url = f"s3://{s3.new_bucket()}/mot"
    assert ingest(s3, old, url) == 0
    capsys.readouterr()
    assert ingest(s3, new, url) == 2
    assert "already exists" in capsys.readouterr().err
    assert_matches_source(open_main(s3, url), old)
    assert ingest(s3, new, url, "--overwrite") == 0
    ds = open_main(s3, url)
    assert_matches_source(ds, new)
    assert L.is_published(ds)
    assert L.read_json(ds, L.META_GATE)["counts"]["warning"] == 1
    assert branches(s3, url) == ["main"]


def test_s3_foreign_dataset_needs_overwrite(s3: S3Server, demo_root: Path) -> None:
    url = f"s3://{s3.new_bucket()}/mot"
    other = deeplake.create(url, creds=s3.creds, schema={"x": deeplake.types.Int32()})
    other.append({"x": [1, 2]})
    other.commit()
    assert ingest(s3, demo_root, url) == 2
    assert len(open_main(s3, url)) == 2
    assert ingest(s3, demo_root, url, "--overwrite") == 0
    assert_matches_source(open_main(s3, url), demo_root)


# ---------------------------------------------------------------------------------- kill -9


def run_killed(s3: S3Server, step: str, count: int, *args: object) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(HERE / "kill_helper.py"), step, str(count), "--",
           "ingest", *map(str, args), "--endpoint-url", s3.endpoint, *FAST_GATE]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=child_env(s3))


def child_env(s3: S3Server) -> dict[str, str]:
    env = {**os.environ, **s3.env()}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    return env


def assert_never_a_part(s3: S3Server, url: str, old: Path | None, new: Path) -> str:
    """What a reader of `url` sees now: 'nothing', 'old' or 'new'. A motqa reader (is_published)
    sees the whole new or old dataset or nothing; a plain Deep Lake reader sees no rows, all the
    old rows or all the new rows."""
    if not deeplake.exists(url, creds=s3.creds):
        return "nothing"
    ds = open_main(s3, url)
    if L.is_published(ds):
        if old is not None and matches(ds, old):
            return "old"
        assert_matches_source(ds, new)
        return "new"
    if len(ds) == 0:
        return "nothing"
    assert (old is not None and matches(ds, old, rows_only=True)) or matches(ds, new, rows_only=True), \
        "a reader sees part of a dataset"
    return "nothing"  # rows without the published marker: absent to motqa readers


@pytest.fixture
def two_sources(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    write_demo(old, sequences=bigger_sequences())
    write_demo(new, sequences=bigger_sequences(30))
    return old, new


KILL_FRESH = ["s3-created", "s3-branch-ready", "sequence-written", "s3-before-merge", "s3-merged", "s3-published"]


@pytest.mark.parametrize("step", KILL_FRESH)
def test_s3_kill_fresh_write(step: str, s3: S3Server, two_sources: tuple[Path, Path]) -> None:
    _, new = two_sources
    url = f"s3://{s3.new_bucket()}/mot"
    done = run_killed(s3, step, 1, new, url)
    assert done.returncode == -signal.SIGKILL, done.stderr
    seen = assert_never_a_part(s3, url, None, new)
    assert seen == ("new" if step == "s3-published" else "nothing")
    if seen == "nothing":
        assert ingest(s3, new, url) == 0  # no --overwrite needed over a dead run's leftovers
    assert_matches_source(open_main(s3, url), new)
    if step != "s3-published":  # a run killed after publishing leaves its branch to the next run
        assert branches(s3, url) == ["main"]


KILL_OVERWRITE = ["s3-branch-ready", "sequence-written", "s3-before-merge", "s3-merged", "s3-published"]


@pytest.mark.parametrize("step", KILL_OVERWRITE)
def test_s3_kill_overwrite(step: str, s3: S3Server, two_sources: tuple[Path, Path]) -> None:
    old, new = two_sources
    url = f"s3://{s3.new_bucket()}/mot"
    assert ingest(s3, old, url) == 0
    done = run_killed(s3, step, 1, new, url, "--overwrite")
    assert done.returncode == -signal.SIGKILL, done.stderr
    seen = assert_never_a_part(s3, url, old, new)
    expected = {"s3-branch-ready": "old", "sequence-written": "old", "s3-published": "new"}
    assert seen == expected.get(step, "nothing")
    assert ingest(s3, new, url, "--overwrite") == 0
    assert_matches_source(open_main(s3, url), new)
    assert branches(s3, url) == ["main"]


def test_s3_kill_9_from_outside_mid_write(s3: S3Server, tmp_path: Path) -> None:
    """No injected step: killed from outside while the branch is being written."""
    import boto3

    source = tmp_path / "mot"
    write_demo(source, sequences=bigger_sequences(120))
    bucket = s3.new_bucket()
    url = f"s3://{bucket}/mot"
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                          aws_access_key_id=s3.creds["aws_access_key_id"],
                          aws_secret_access_key=s3.creds["aws_secret_access_key"])
    cmd = [sys.executable, "-m", "motqa", "ingest", str(source), url, "--endpoint-url", s3.endpoint, *FAST_GATE]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(s3))
    # killed once the branch holds the schema and one sequence
    kill_when(proc, lambda: _branch_commits(client, bucket) >= 2, 0.05)
    assert assert_never_a_part(s3, url, None, source) == "nothing"
    assert ingest(s3, source, url) == 0
    assert_matches_source(open_main(s3, url), source)


def _branch_commits(client: Any, bucket: str) -> int:
    """Commit files in the branch logs (not _meta); main has none before the merge."""
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])]
    return sum(1 for k in keys if "/_deeplake_log/" in k and "/_meta/" not in k and ".jsonl" in k)
