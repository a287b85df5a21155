"""S3 publish: an empty target at once, the sequences on a branch, one merge and one metadata
commit (motqa/deeplake/rows.py says the whole protocol)."""

from __future__ import annotations

import functools
import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any

from motqa.deeplake import layout as L
from motqa.deeplake import rows
from motqa.deeplake.rows import BRANCH_PREFIX, REPLACING, WRITING, TargetExistsError, WriteError, WriteSummary
from motqa.errors import UsageError
from motqa.progress import Progress
from motqa.storage import Target

# ---------------------------------------------------------------------------------- S3


# A run killed while it held Deep Lake's meta_ops lock (while branching or merging) leaves the lock
# object behind; Deep Lake lets another run take it about 30 s later. Until then calls fail with
# "lock contended": the next run waits it out rather than failing.
LOCK_WAIT_S = 120.0


def _deeplake_call(target: Target, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    """Run a Deep Lake call on an S3 target; its many exception types become one WriteError."""
    deadline = time.monotonic() + LOCK_WAIT_S
    told = False
    while True:
        try:
            return fn(*args, **kw)
        except UsageError:
            raise
        except Exception as e:  # noqa: BLE001 - deeplake raises KeyError, RuntimeError and its own types
            if "lock contended" in str(e) and time.monotonic() < deadline:
                if not told:
                    print(f"motqa: {target}: Deep Lake's lock is held (left by a killed ingest?); "
                          "waiting for it to expire", file=sys.stderr)
                    told = True
                time.sleep(2)
                continue
            hint = "; Deep Lake's lock stayed held: try again later" if "lock contended" in str(e) else ""
            raise WriteError(f"{target}: {what} failed: {type(e).__name__}: {e}{hint}") from None


def _state(ds: Any) -> str | None:
    meta = ds.metadata
    return str(meta[L.META_STATE]) if L.META_STATE in meta else None


def check_s3(target: Target, overwrite: bool) -> None:
    import deeplake

    if not _deeplake_call(target, "checking for a dataset", deeplake.exists, target.url, creds=target.creds):
        return
    ds = _deeplake_call(target, "opening", deeplake.open_read_only, target.url, creds=target.creds)
    state = _state(ds)
    if state in (WRITING, REPLACING) or overwrite or (not L.column_types(ds) and not len(ds)):
        return  # an unpublished or empty dataset is what a dead ingest leaves: written over
    if state == L.PUBLISHED:
        raise TargetExistsError(f"a motqa dataset already exists at {target}; it was kept "
                                "(use --overwrite to replace it)")
    raise TargetExistsError(f"a Deep Lake dataset already exists at {target}; it was kept "
                            "(use --overwrite to replace it)")


def _open_s3_base(target: Target, overwrite: bool) -> tuple[Any, str | None]:
    """The main branch to write over and its state before: a new empty dataset ("writing"), or
    the existing one. A dataset of another schema is deleted first (readers see nothing)."""
    import deeplake

    check_s3(target, overwrite)
    if _deeplake_call(target, "checking for a dataset", deeplake.exists, target.url, creds=target.creds):
        ds = _deeplake_call(target, "opening", deeplake.open, target.url, creds=target.creds)
        cols = L.column_types(ds)
        if not cols or cols == _layout_types():
            return ds, _state(ds)
        del ds
        _deeplake_call(target, "deleting the old dataset", deeplake.delete, target.url, creds=target.creds)
    ds = _deeplake_call(target, "creating", deeplake.create, target.url, creds=target.creds)
    ds.metadata[L.META_STATE] = WRITING
    _deeplake_call(target, "committing", ds.commit, "motqa ingest: writing")
    rows.checkpoint("s3-created")
    return ds, WRITING


@functools.cache
def _layout_types() -> dict[str, str]:
    import deeplake

    return L.column_types(deeplake.create(f"mem://motqa-layout-{secrets.token_hex(6)}", schema=L.schema()))


def _delete_stale_branches(ds: Any, target: Target) -> None:
    for name in ds.branches.names():
        if name.startswith(BRANCH_PREFIX):
            _deeplake_call(target, f"deleting the stale branch {name}", ds.branches[name].delete)


def write_s3(feed: rows.Feed, target: Target, overwrite: bool, progress: Progress) -> WriteSummary:
    summary = WriteSummary(target.url)
    main, before = _open_s3_base(target, overwrite)
    main.auto_commit_enabled = False
    _delete_stale_branches(main, target)
    branch = BRANCH_PREFIX + secrets.token_hex(6)
    _deeplake_call(target, "branching", main.branch, branch)
    work: Any = _deeplake_call(target, "opening the branch", main.branches[branch].open)
    merged = False
    try:
        benchmarks, metadata = _fill_branch(work, feed, target, summary, progress)
        work = None
        if before == L.PUBLISHED:
            main.metadata[L.META_STATE] = REPLACING  # motqa readers: absent until published again
            _deeplake_call(target, "committing", main.commit, "motqa ingest: replacing")
            summary.replaced = True
        rows.checkpoint("s3-before-merge")
        _deeplake_call(target, "merging", main.merge, branch, message="motqa ingest: publish rows")
        merged = True
        rows.checkpoint("s3-merged")
        _deeplake_call(target, "tagging the sequences view", rows.tag_sequences, main)
        for key, value in rows.final_metadata(metadata, summary, benchmarks).items():
            main.metadata[key] = value
        _deeplake_call(target, "committing the metadata", main.commit, "motqa ingest: published")
        rows.checkpoint("s3-published")
    except BaseException:
        rows.rollback(work)
        if summary.replaced and not merged:  # the old rows are still there: published again
            rows.best_effort(lambda: _set_state(main, L.PUBLISHED))
        rows.best_effort(lambda: main.branches[branch].delete())
        raise
    rows.best_effort(lambda: main.branches[branch].delete())  # else the next run deletes it
    return summary


def _fill_branch(work: Any, feed: rows.Feed, target: Target, summary: WriteSummary,
                 progress: Progress) -> tuple[set[str], Mapping[str, str]]:
    """The layout's columns (or the old rows deleted), then every sequence, in the branch."""
    try:
        work.auto_commit_enabled = False
        if not L.column_types(work):
            for name, dtype in L.schema().items():
                work.add_column(name, dtype)
        else:
            for row in reversed(range(len(work))):  # the old rows go in the same merge
                work.delete(row)
        work.commit("motqa ingest: schema")
        rows.checkpoint("s3-branch-ready")
        return rows.write_rows(work, feed, summary, progress)
    except (UsageError, rows.Stop):
        raise
    except Exception as e:  # noqa: BLE001 - see _deeplake_call
        raise WriteError(f"{target}: writing failed: {type(e).__name__}: {e}") from None


def _set_state(ds: Any, state: str) -> None:
    ds.metadata[L.META_STATE] = state
    ds.commit(f"motqa ingest: {state}")
