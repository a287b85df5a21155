"""`motqa ingest` under faults nobody injects by name: SIGKILL at random moments (local and S3), a
full disk (a 2 MB tmpfs), and the S3 server stopped or restarted empty mid-write. Afterwards the
target holds nothing or a whole dataset, the source is unchanged, a failing run says what
happened with exit 1 or 2 and no traceback, and the next run works."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from motqa.cli import run
from motqa.demo import default_sequences, write_demo
from tests.s3server import S3Server, _free_port, _wait_for, s3_server  # noqa: F401 - the fixture
from tests.strategies import tree_digest
from tests.test_ingest import FAST_GATE, _child_env, assert_matches_source, bigger_sequences, leftovers, open_ro
from tests.test_ingest_s3 import assert_never_a_part, branches, open_main, s3  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def ingest(*args: object, report: Path) -> int:
    """motqa ingest in this process, its HTML report kept out of the working directory."""
    return run(["ingest", *map(str, args), *FAST_GATE, "--report", str(report)])


def spawn_ingest(source: Path, target: str, *extra: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "motqa", "ingest", str(source), target, *FAST_GATE, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)


def kill_after(proc: subprocess.Popen[bytes], delay: float) -> tuple[int, str]:
    """SIGKILL `proc` after `delay` seconds (unless it ended before): its exit code and stderr."""
    try:
        _, err = proc.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
    return proc.returncode, err.decode(errors="replace")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An old and a new download, big enough that a write takes a while."""
    base = tmp_path_factory.mktemp("faults")
    old, new = base / "old", base / "new"
    write_demo(old, sequences=bigger_sequences(24))
    write_demo(new, sequences=default_sequences(150, 640, 480))
    return old, new


@pytest.fixture(scope="module")
def write_seconds(sources: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long a local write of the new source lasts here, from its temporary dataset's
    appearance to the end of the run: the span the random kill moments are drawn from (a
    measurement to aim with, never asserted)."""
    work = tmp_path_factory.mktemp("timing")
    proc = spawn_ingest(sources[1], str(work / "mot.dl"), env=_child_env(), cwd=work)
    began = wait_for(proc, lambda: any(".motqa-tmp-" in name for name in os.listdir(work)))
    code, err = kill_after(proc, 300)
    assert code == 0, err
    return time.monotonic() - began


def wait_for(proc: subprocess.Popen[bytes], started: Callable[[], bool]) -> float:
    """Poll until `started()` (the write has begun) or the process ends; the time then."""
    while proc.poll() is None and not started():
        time.sleep(0.003)
    return time.monotonic()


SEEDS = [1, 2, 3, 4, 5, 6]


# ---------------------------------------------------------------------------------- SIGKILL, local


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_a_random_moment_local(seed: int, sources: tuple[Path, Path], write_seconds: float,
                                          tmp_path: Path) -> None:
    """Odd seeds: a fresh write; even seeds: an overwrite of an older dataset."""
    old, new = sources
    overwrite = seed % 2 == 0
    target = tmp_path / "out" / "mot.dl"
    if overwrite:
        assert ingest(old, target, report=tmp_path / "old.html") == 0
    before = tree_digest(new)
    delay = random.Random(seed).uniform(0, write_seconds)  # after the write began
    target.parent.mkdir(exist_ok=True)
    proc = spawn_ingest(new, str(target), *(["--overwrite"] if overwrite else []), env=_child_env(), cwd=tmp_path)
    wait_for(proc, lambda: any(".motqa-tmp-" in name for name in os.listdir(target.parent)))
    code, err = kill_after(proc, delay)
    assert code in (0, -signal.SIGKILL) and "Traceback" not in err, err
    assert tree_digest(new) == before
    if overwrite:  # the rename exchange leaves the old or the new dataset, whole, at every moment
        ds = open_ro(target)
        assert_whole(ds, old, new)
    elif target.exists():
        assert_matches_source(open_ro(target), new)
    assert ingest(new, target, "--overwrite", report=tmp_path / "again.html") == 0
    assert_matches_source(open_ro(target), new)
    assert leftovers(target.parent) == []


def assert_whole(ds: Any, old: Path, new: Path) -> None:
    try:
        assert_matches_source(ds, old)
    except AssertionError:
        assert_matches_source(ds, new)


# ---------------------------------------------------------------------------------- SIGKILL, S3


def s3_env(server: S3Server) -> dict[str, str]:
    return {**_child_env(), **server.env()}


@pytest.mark.s3
@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_a_random_moment_s3(seed: int, s3: S3Server, sources: tuple[Path, Path],  # noqa: F811
                                       write_seconds: float, tmp_path: Path) -> None:
    old, new = sources
    overwrite = seed % 2 == 0
    url = f"s3://{s3.new_bucket()}/mot"
    endpoint = ("--endpoint-url", s3.endpoint)
    if overwrite:
        assert ingest(old, url, *endpoint, report=tmp_path / "old.html") == 0
    before = tree_digest(new)
    client = s3_client(s3)
    bucket = url.split("/")[2]
    objects = object_count(client, bucket)
    # an S3 write (branch, commits, merge) takes longer than a local one
    delay = random.Random(seed).uniform(0, 2 * write_seconds)
    proc = spawn_ingest(new, url, *endpoint, *(["--overwrite"] if overwrite else []), env=s3_env(s3), cwd=tmp_path)
    wait_for(proc, lambda: object_count(client, bucket) > objects)
    code, err = kill_after(proc, delay)
    assert code in (0, -signal.SIGKILL) and "Traceback" not in err, err
    assert tree_digest(new) == before
    seen = assert_never_a_part(s3, url, old if overwrite else None, new)  # nothing, old or new: never a part
    assert seen in (("nothing", "old", "new") if overwrite else ("nothing", "new"))
    assert ingest_after_a_kill(new, url, *endpoint, report=tmp_path / "again.html") == 0
    assert_matches_source(open_main(s3, url), new)
    assert branches(s3, url) == ["main"]


def ingest_after_a_kill(source: Path, url: str, *extra: str, report: Path) -> int:
    """The next run after a kill. A run killed while it held Deep Lake's `meta_ops.lock` (while
    branching) leaves that lock object behind; Deep Lake lets the next run have it only about
    30 s later: the writer waits for it (and says so) rather than failing."""
    return ingest(source, url, *extra, "--overwrite", report=report)


# ---------------------------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, mounted for the test and unmounted after."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs (needs root and mount permission): {done.stderr.strip()}")
    try:
        yield disk
    finally:
        # Deep Lake handles the test kept open may still hold the mount: detach it lazily then
        subprocess.run(["umount", str(disk)], capture_output=True)
        if os.path.ismount(disk):
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.fixture(scope="module")
def tiny_and_big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A download whose dataset fits in 2 MB, and one whose does not (about 5 MB of JPEG)."""
    base = tmp_path_factory.mktemp("disk-sources")
    tiny, big = base / "tiny", base / "big"
    write_demo(tiny, sequences=bigger_sequences(12))
    write_demo(big, sequences=bigger_sequences(120))
    return tiny, big


def test_full_disk_fresh_write(small_disk: Path, tiny_and_big: tuple[Path, Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _, big = tiny_and_big
    before = tree_digest(big)
    target = small_disk / "mot.dl"
    code = ingest(big, target, report=tmp_path / "r.html")
    err = capsys.readouterr().err
    assert code in (1, 2) and "Traceback" not in err and "internal error" not in err, err
    assert f"motqa: writing {small_disk}" in err and "nothing was published" in err
    assert tree_digest(big) == before
    assert not target.exists() and leftovers(small_disk) == []
    assert os.listdir(small_disk) == []  # the temporary dataset is gone: the disk has room again


def test_full_disk_overwrite_keeps_the_old_dataset(small_disk: Path, tiny_and_big: tuple[Path, Path],
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny, big = tiny_and_big
    target = small_disk / "mot.dl"
    assert ingest(tiny, target, report=tmp_path / "tiny.html") == 0
    capsys.readouterr()
    code = ingest(big, target, "--overwrite", report=tmp_path / "big.html")
    err = capsys.readouterr().err
    assert code in (1, 2) and "Traceback" not in err and "internal error" not in err, err
    assert_matches_source(open_ro(target), tiny)
    assert leftovers(small_disk) == []


def test_full_disk_message_says_the_disk_is_full(small_disk: Path, tiny_and_big: tuple[Path, Path],
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ingest(tiny_and_big[1], small_disk / "mot.dl", report=tmp_path / "r.html") in (1, 2)
    err = capsys.readouterr().err.lower()
    assert "no space" in err or "disk is full" in err or "full disk" in err, err


# ---------------------------------------------------------------------------------- the S3 server stops


class OwnServer:
    """A moto server process of this test alone, which the test may stop, kill and start again
    on the same port (moto keeps its buckets in memory: a restart starts empty)."""

    def __init__(self, log: Path) -> None:
        self.port = _free_port()
        self.log = log
        self.proc = self._start()
        self.server = S3Server(f"http://127.0.0.1:{self.port}")

    def _start(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                    stdout=out, stderr=subprocess.STDOUT)
        _wait_for(self.port, proc)
        return proc

    def restart_empty(self, after: float) -> None:
        self.proc.kill()
        self.proc.wait()
        time.sleep(after)
        self.proc = self._start()

    def close(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[OwnServer]:
    srv = OwnServer(tmp_path / "moto.log")
    try:
        yield srv
    finally:
        srv.close()


def s3_client(server: S3Server) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=server.creds["aws_access_key_id"],
                        aws_secret_access_key=server.creds["aws_secret_access_key"])


def object_count(client: Any, bucket: str) -> int:
    return sum(page.get("KeyCount", 0) for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket))


def wait_until_writing(server: S3Server, bucket: str, proc: subprocess.Popen[bytes], objects: int = 20) -> None:
    """Until the bucket holds `objects` objects (the dataset is being written)."""
    client = s3_client(server)
    wait_for(proc, lambda: object_count(client, bucket) >= objects)
    assert proc.poll() is None, f"the ingest ended (exit {proc.poll()}) before it wrote {objects} objects"


@pytest.mark.s3
@pytest.mark.timeout(300)
def test_s3_server_paused_mid_write(own_server: OwnServer, tiny_and_big: tuple[Path, Path], tmp_path: Path) -> None:
    """The server stops answering (SIGSTOP) for 8 s mid-write, then answers again: the ingest waits
    and ends with the whole dataset."""
    big = tiny_and_big[1]
    server = own_server.server
    bucket = server.new_bucket()
    url = f"s3://{bucket}/mot"
    proc = spawn_ingest(big, url, "--endpoint-url", server.endpoint, env=s3_env(server), cwd=tmp_path)
    wait_until_writing(server, bucket, proc)
    own_server.proc.send_signal(signal.SIGSTOP)
    time.sleep(8)
    own_server.proc.send_signal(signal.SIGCONT)
    code, err = kill_after(proc, 240)
    assert code == 0 and "Traceback" not in err, err
    assert_matches_source(open_ro(url, server.creds), big)


@pytest.mark.s3
@pytest.mark.timeout(300)
def test_s3_server_lost_mid_write(own_server: OwnServer, tiny_and_big: tuple[Path, Path], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The server dies mid-write and comes back empty (moto keeps nothing): exit 2, a message
    naming the target and what failed, no traceback; the target holds nothing, and a new run
    writes the whole dataset."""
    big = tiny_and_big[1]
    server = own_server.server
    bucket = server.new_bucket()
    url = f"s3://{bucket}/mot"
    before = tree_digest(big)
    proc = spawn_ingest(big, url, "--endpoint-url", server.endpoint, env=s3_env(server), cwd=tmp_path)
    wait_until_writing(server, bucket, proc)
    own_server.restart_empty(after=2)
    code, err = kill_after(proc, 240)
    if code == -signal.SIGKILL:
        # deeplake 4.7.4 sometimes never returns after its PUTs to the vanished bucket fail (seen
        # in 1 of 3 clean runs: 13 PUTs answered 404, then no request for 240 s). motqa cannot end
        # a call that hangs inside deeplake; what must hold still holds: nothing published, the
        # source unchanged, and the next run writes the whole dataset.
        assert "bucket does not exist" in err, err
    else:
        assert code in (1, 2) and "Traceback" not in err and "internal error" not in err, err
        assert f"motqa: {url}: writing failed" in err, err
    assert tree_digest(big) == before
    _create_bucket(server, bucket)
    assert assert_never_a_part(server, url, None, big) == "nothing"
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    assert run(["ingest", str(big), url, "--endpoint-url", server.endpoint, *FAST_GATE,
                "--report", str(tmp_path / "again.html")]) == 0
    assert_matches_source(open_ro(url, server.creds), big)


def _create_bucket(server: S3Server, bucket: str) -> None:
    s3_client(server).create_bucket(Bucket=bucket)
