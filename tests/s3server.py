"""A real S3-compatible server for the tests: moto's standalone server as a process on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

KEY_ID, SECRET = "motqa-test-key", "motqa-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    @property
    def creds(self) -> dict[str, str]:
        """What deeplake takes as `creds`."""
        return {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET, "endpoint_url": self.endpoint}

    def env(self, with_endpoint: bool = False) -> dict[str, str]:
        """AWS_* variables for a `motqa` process (the endpoint then comes from --endpoint-url)."""
        env = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}
        if with_endpoint:
            env["AWS_ENDPOINT_URL"] = self.endpoint
        return env

    def new_bucket(self) -> str:
        import boto3

        name = f"motqa-{secrets.token_hex(4)}"
        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=KEY_ID,
                              aws_secret_access_key=SECRET, region_name="us-east-1")
        client.create_bucket(Bucket=name)
        return name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("moto_server did not start listening")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto server process for the session; each test makes its own bucket."""
    port = _free_port()
    log = Path(tmp_path_factory.mktemp("moto")) / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "MOTO_PORT": str(port)})
    try:
        _wait_for(port, proc)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
