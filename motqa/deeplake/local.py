"""Local publish: the dataset written into a sibling folder, then renamed (or exchanged) into
place under a lock; a dead run's leftovers recovered (motqa/deeplake/rows.py says the whole
protocol)."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from motqa.deeplake import layout as L
from motqa.deeplake import rows
from motqa.deeplake.rows import TargetExistsError, WriteError, WriteSummary
from motqa.errors import UsageError
from motqa.progress import Progress

# ---------------------------------------------------------------------------------- local


def _is_dataset_folder(path: Path) -> bool:
    """A Deep Lake 4 (_deeplake_log/) or 3 (dataset_meta.json) dataset folder."""
    return (path / "_deeplake_log").is_dir() or (path / "dataset_meta.json").is_file()


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def check_local(folder: Path, overwrite: bool, source: Path | None) -> None:
    if source is not None:
        real_src, real_dst = os.path.realpath(source), os.path.realpath(folder)
        if real_dst == real_src or real_dst.startswith(real_src + os.sep) or real_src.startswith(real_dst + os.sep):
            raise UsageError(f"{folder}: the dataset must not be inside SOURCE, nor SOURCE inside it")
    if folder.is_symlink():
        raise UsageError(f"{folder} is a symbolic link; give the folder it points to")
    if not os.path.lexists(folder) or _is_empty_dir(folder):
        return
    if not folder.is_dir() or not _is_dataset_folder(folder):
        raise UsageError(f"{folder} exists and is not a Deep Lake dataset; motqa does not replace it")
    if not overwrite:
        raise TargetExistsError(f"a dataset already exists at {folder}; it was kept (use --overwrite to replace it)")


class _TargetLock:
    """An exclusive flock on `.NAME.motqa-lock` next to the target, removed on release."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _TargetLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise UsageError(f"another motqa ingest is writing this dataset (it holds {self.path})") from None
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                now = None
            mine = os.fstat(fd)
            if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
                self.fd = fd
                return self
            os.close(fd)  # the holder before us removed the file: lock the new one

    def __exit__(self, *exc: object) -> None:
        try:
            os.unlink(self.path)
        finally:
            os.close(self.fd)


def _leftovers(parent: Path, name: str, kind: str) -> list[Path]:
    prefix = f".{name}.motqa-{kind}-"
    try:
        return sorted((p for p in parent.iterdir() if p.name.startswith(prefix)), key=lambda p: p.stat().st_mtime)
    except OSError:
        return []


def _recover(parent: Path, folder: Path) -> None:
    """Called under the lock, so every tmp/old folder is a dead run's. A dead run that had moved
    the old dataset aside but not the new one in gets the old one put back."""
    olds = _leftovers(parent, folder.name, "old")
    if olds and not os.path.lexists(folder):
        os.rename(olds[-1], folder)
        olds = olds[:-1]
    for p in [*olds, *_leftovers(parent, folder.name, "tmp")]:
        shutil.rmtree(p, ignore_errors=True)


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux renameat2; False where the C library or the file system lacks it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _exchange(src: Path, dst: Path) -> bool:
    return _renameat2(src, dst, _RENAME_EXCHANGE)


def _publish_local(tmp: Path, folder: Path, token: str) -> bool:
    """Put the finished `tmp` at `folder`. Returns True when an old dataset was replaced."""
    parent = folder.parent
    if not os.path.lexists(folder):
        if not _renameat2(tmp, folder, _RENAME_NOREPLACE):
            os.rename(tmp, folder)
        rows.checkpoint("published")
        return False
    if _exchange(tmp, folder):  # tmp now holds the old dataset (or the empty folder)
        rows.checkpoint("swapped")
        replaced = _is_dataset_folder(tmp)
        shutil.rmtree(tmp)
        return replaced
    replaced = _is_dataset_folder(folder)
    old = parent / f".{folder.name}.motqa-old-{token}"
    os.rename(folder, old)  # from here until the next rename, readers see nothing
    rows.checkpoint("old-moved-aside")
    os.rename(tmp, folder)
    rows.checkpoint("published")
    shutil.rmtree(old)
    return replaced


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_local_dataset(tmp: Path, feed: rows.Feed, summary: WriteSummary, progress: Progress) -> None:
    import deeplake

    ds: Any = None
    try:
        ds = deeplake.create(str(tmp), schema=L.schema())
        ds.auto_commit_enabled = False
        benchmarks, metadata = rows.write_rows(ds, feed, summary, progress)
        rows.tag_sequences(ds)
        for key, value in rows.final_metadata(metadata, summary, benchmarks).items():
            ds.metadata[key] = value
        ds.commit("motqa ingest: metadata")
        ds = None  # nothing pending: dropping it commits nothing more
    except BaseException as e:
        # Dropping a handle with pending appends commits them: roll back first, and drop it here
        # rather than with the traceback, after the caller has deleted the folder.
        rows.rollback(ds)
        ds = None
        if isinstance(e, UsageError | rows.Stop) or not isinstance(e, Exception):
            raise
        raise WriteError(f"writing {tmp} failed: {type(e).__name__}: {e}{_disk_full(tmp)}; "
                         "nothing was published") from None


def _disk_full(folder: Path) -> str:
    """A note when the disk holding `folder` is (nearly) full: Deep Lake 4.7.4 reports ENOSPC as
    'Invalid CAS counter' and the like, which does not say so. Measured before the temporary
    folder is deleted, so a full disk still shows as full."""
    try:
        free = shutil.disk_usage(folder.parent).free
    except OSError:
        return ""
    return f" (the disk is full: {free // 1024} KiB free under {folder.parent})" if free < 1 << 20 else ""


def write_local(feed: rows.Feed, folder: Path, overwrite: bool, source: Path | None,
                progress: Progress) -> WriteSummary:
    """Write the feed's sequences into a temporary dataset beside `folder`, under the target's
    lock, and publish it there once the feed's metadata says so. On any failure (a Stop from the
    feed included) the temporary dataset is deleted, and so are the folders made for it."""
    parent = folder.parent
    made = _missing_ancestors(parent)
    parent.mkdir(parents=True, exist_ok=True)
    summary = WriteSummary(str(folder))
    try:
        with _TargetLock(parent / f".{folder.name}.motqa-lock"):
            _recover(parent, folder)
            check_local(folder, overwrite, source)
            token = secrets.token_hex(6)
            tmp = parent / f".{folder.name}.motqa-tmp-{token}"
            try:
                _write_local_dataset(tmp, feed, summary, progress)
                rows.checkpoint("written")
                summary.replaced = _publish_local(tmp, folder, token)
                _fsync_dir(parent)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    except BaseException:
        for path in made:  # nearest first; only while empty (a lock file is gone with the lock)
            try:
                path.rmdir()
            except OSError:
                break
        raise
    return summary


def _missing_ancestors(path: Path) -> list[Path]:
    """`path` and the folders above it that do not exist yet, nearest first."""
    out = []
    while not os.path.lexists(path) and path != path.parent:
        out.append(path)
        path = path.parent
    return out
