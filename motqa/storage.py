"""Where a Deep Lake dataset lives: a local folder or s3://bucket/prefix, and the credentials to reach it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from motqa.errors import UsageError

# AWS_* environment variable -> Deep Lake creds key. Deep Lake reads the environment by itself
# too; motqa builds the dict so that --endpoint-url can be added without losing the keys.
_ENV_CREDS = {
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_SESSION_TOKEN": "aws_session_token",
    "AWS_ENDPOINT_URL_S3": "endpoint_url",
    "AWS_ENDPOINT_URL": "endpoint_url",
    "AWS_REGION": "aws_region",
    "AWS_DEFAULT_REGION": "aws_region",
    "AWS_PROFILE": "profile_name",
}
_OTHER_SCHEMES = ("gs://", "gcs://", "gcp://", "az://", "azure://", "al://", "mem://", "tmp://", "hf://")


@dataclass(frozen=True)
class Target:
    """A dataset location. `url` is what Deep Lake opens; `folder` is set for a local target."""

    url: str
    folder: Path | None
    creds: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.url


def s3_creds(endpoint_url: str | None = None, env: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """Deep Lake creds from the AWS_* variables, with `endpoint_url` (from --endpoint-url) winning
    over AWS_ENDPOINT_URL. None when nothing is set: Deep Lake then uses its own defaults."""
    env = os.environ if env is None else env
    creds: dict[str, str] = {}
    for var, key in _ENV_CREDS.items():  # the first variable of a key wins (AWS_ENDPOINT_URL_S3, AWS_REGION)
        if env.get(var) and key not in creds:
            creds[key] = env[var]
    if endpoint_url:
        creds["endpoint_url"] = endpoint_url
    return creds or None


def parse_target(text: str, endpoint_url: str | None = None, env: Mapping[str, str] | None = None) -> Target:
    """The DATASET argument of ingest and audit: a local path (or file://path) or s3://bucket/prefix."""
    if not text.strip():
        raise UsageError("DATASET is empty")
    lowered = text.lower()
    if lowered.startswith("s3://"):
        bucket, _, prefix = text[5:].partition("/")
        prefix = prefix.strip("/")
        if not bucket or not prefix:
            raise UsageError(f"{text}: an S3 dataset needs a bucket and a prefix (s3://bucket/prefix)")
        return Target(f"s3://{bucket}/{prefix}", None, s3_creds(endpoint_url, env))
    if lowered.startswith(_OTHER_SCHEMES):
        raise UsageError(f"{text}: motqa writes local folders and s3://bucket/prefix only")
    if endpoint_url:
        raise UsageError("--endpoint-url applies to s3:// datasets only")
    path = text[7:] if lowered.startswith("file://") else text
    folder = Path(os.path.abspath(os.path.expanduser(path)))
    if not folder.name:
        raise UsageError(f"{text}: a dataset cannot be a file system root")
    return Target(str(folder), folder)
