"""Writing gated sequences as the motqa Deep Lake 4 sequence dataset, all at once, locally
(motqa/deeplake/local.py) or on S3 (motqa/deeplake/s3.py); the rows, the feeds and the layout's
protocol: motqa/deeplake/rows.py."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from motqa.deeplake.local import check_local, write_local
from motqa.deeplake.rows import Feed, Gated, LoadFeed, Stop, TargetExistsError, WriteError, WriteSummary
from motqa.deeplake.s3 import check_s3, write_s3
from motqa.model import MotDataset
from motqa.progress import Progress
from motqa.storage import Target, parse_target

__all__ = ["Feed", "Gated", "LoadFeed", "Stop", "TargetExistsError", "WriteError", "WriteSummary", "check_target",
           "write_dataset", "write_feed"]


# ---------------------------------------------------------------------------------- entry points


def check_target(target: Target, *, overwrite: bool, source: Path | None = None) -> None:
    """Refuse early (before the gate) what write_dataset would refuse: an existing dataset
    without --overwrite, something that is not a dataset, a target that overlaps the source."""
    if target.folder is not None:
        check_local(target.folder, overwrite, source)
    else:
        check_s3(target, overwrite)


def write_dataset(mot: MotDataset, target: str | Target, *, overwrite: bool = False,
                  creds: dict[str, str] | None = None, metadata: Mapping[str, str] | None = None,
                  progress: Progress | None = None,
                  expected: Mapping[str, Gated] | None = None) -> WriteSummary:
    """Write `mot` (loading one sequence at a time from its refs) to `target`, all at once.
    `metadata` is merged into the dataset metadata (the gate's record); `expected` (the gate's
    frames and gt rows per sequence) makes the write refuse a sequence that changed since the gate ran."""
    source = Path(mot.source) if mot.kind == "mot-folder" else None
    return write_feed(LoadFeed(mot, expected, metadata, progress), target, overwrite=overwrite, creds=creds,
                      source=source, progress=progress)


def write_feed(feed: Feed, target: str | Target, *, overwrite: bool = False, creds: dict[str, str] | None = None,
               source: Path | None = None, progress: Progress | None = None) -> WriteSummary:
    """Write the sequences a feed gives to `target`, all at once (motqa/ingest.py feeds the gate's)."""
    if isinstance(target, str):
        target = parse_target(target)
    if creds is not None:
        target = Target(target.url, target.folder, creds)
    progress = progress or Progress(False)
    if target.folder is not None:
        return write_local(feed, target.folder, overwrite, source, progress)
    return write_s3(feed, target, overwrite, progress)
