"""A read-only folder that sequences are found and loaded from: a folder on disk (`DiskFolder`) or
a folder inside an archive (motqa/sources/archive.py). motqa/sources/layout.py reads sources only
through this interface, so a zip is discovered and read exactly as the folder it came from.

Paths given to a Folder are posix, relative to it ("gt/gt.txt", "img1"); "" is the folder itself."""

from __future__ import annotations

import errno
import os
import re
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# A frame file larger than this is an image-unreadable finding, never read: an 8K PNG is about
# 100 MB, a 1080p MOT JPEG about 0.5 MB.
MAX_FRAME_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Entry:
    """A name in a folder: whether it is a file (links followed), and whether it is a link that
    leads out of `base` (the folder the listing was asked for from)."""

    name: str
    is_file: bool
    is_dir: bool
    escapes: bool = False


class Folder(ABC):
    """A folder of a source, read-only."""

    name: str  # its own name, as found (may hold bytes that are not UTF-8: see layout.shown)

    @abstractmethod
    def child(self, rel: str) -> Folder:
        """The folder at `rel` below this one (it need not exist)."""

    @abstractmethod
    def lexists(self, rel: str) -> bool:
        """Whether anything is at `rel`: a file, a folder, or a link (even a broken one)."""

    @abstractmethod
    def is_file(self, rel: str) -> bool: ...

    @abstractmethod
    def is_dir(self, rel: str = "") -> bool: ...

    @abstractmethod
    def entries(self, rel: str = "") -> list[Entry]:
        """What the folder at `rel` holds, in name order; [] where it cannot be listed."""

    @abstractmethod
    def escapes(self, rel: str) -> bool:
        """Whether `rel` leads out of this folder (an absolute path, '..', a link out)."""

    @abstractmethod
    def read(self, rel: str, limit: int) -> bytes | str:
        """The bytes of the regular file at `rel` (at most `limit`), or why they were not read."""

    @abstractmethod
    def frame_reader(self, rel: str) -> Callable[[], bytes]:
        """A reader of a frame file's bytes; it raises OSError when they cannot be read."""

    @abstractmethod
    def key(self) -> str:
        """What the folder is, for telling a folder seen twice (a link loop) from another."""

    @abstractmethod
    def file_name(self, rel: str) -> str:
        """How findings name the file at `rel` of this sequence folder: relative to it for a folder
        on disk ("gt/gt.txt"), the whole member path for an archive
        ("MOT17/train/MOT17-02-FRCNN/gt/gt.txt")."""

    @abstractmethod
    def relative_to(self, root: Folder) -> str:
        """This folder's path below `root`, posix ("train/MOT17-02-FRCNN"); "" for root itself."""

    @abstractmethod
    def above(self, limit: int = 6) -> tuple[str, ...]:
        """The names of the folders above this one, nearest first (an archive's own name, without
        its extension, counts as the folder it stands for)."""

    @property
    def path(self) -> Path | None:
        """The folder on disk, where there is one."""
        return None


def safe_relative(rel: str) -> list[str] | None:
    """The parts of a relative path, or None where it is absolute, names a drive, holds '..' or NUL."""
    if not rel or "\0" in rel or os.path.isabs(rel) or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        return None
    parts = [p for p in re.split(r"[\\/]", rel) if p not in ("", ".")]
    if ".." in parts:
        return None
    return parts


def inside(base: Path, rel: str) -> Path | None:
    """`base/rel` if it stays inside `base` (no absolute path, no '..', no symlink out), else None.
    Only links inside `base` are read to find out."""
    parts = safe_relative(rel)
    if parts is None:
        return None
    real_base = os.path.realpath(base)
    target = os.path.realpath(os.path.join(real_base, *parts))
    if target != real_base and not target.startswith(real_base + os.sep):
        return None
    return Path(target)


# Image files CVAT's export and a .tar.gz's listing tell from the other files, by suffix.
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def too_large(size: int, limit: int) -> str:
    """Why a file of `size` bytes is not read."""
    return f"it is {mib(size)}, larger than the {mib(limit)} motqa reads of such a file"


def mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size < 2**30 else f"{size / 2**30:.1f} GiB"


class DiskFolder(Folder):
    """A folder on disk. Links that lead out of it are never followed to read."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.name = path.name

    @property
    def path(self) -> Path:
        return self._path

    def _at(self, rel: str) -> Path:
        return self._path / rel if rel else self._path

    def child(self, rel: str) -> DiskFolder:
        return DiskFolder(self._at(rel))

    def lexists(self, rel: str) -> bool:
        return os.path.lexists(self._at(rel))

    def is_file(self, rel: str) -> bool:
        return self._at(rel).is_file()

    def is_dir(self, rel: str = "") -> bool:
        return self._at(rel).is_dir()

    def entries(self, rel: str = "") -> list[Entry]:
        folder = inside(self._path, rel) if rel else self._path
        if folder is None:
            return []
        try:
            found = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return []
        real_base = os.path.realpath(self._path)
        out = []
        for e in found:
            try:
                is_file, is_dir = e.is_file(), e.is_dir()
            except OSError:
                is_file = is_dir = False
            escapes = e.is_symlink() and not os.path.realpath(e.path).startswith(real_base + os.sep)
            out.append(Entry(e.name, is_file, is_dir, escapes))
        return out

    def escapes(self, rel: str) -> bool:
        return inside(self._path, rel) is None

    def read(self, rel: str, limit: int) -> bytes | str:
        """Only regular files of at most `limit` bytes are read: a named pipe would block for ever,
        a device or a file of many GB would fill the memory."""
        path = inside(self._path, rel)
        if path is None:
            return "leads out of the sequence folder"
        try:
            return _read_regular(path, limit)
        except OSError as e:
            return e.strerror or str(e)

    def frame_reader(self, rel: str) -> Callable[[], bytes]:
        path = self._at(rel)
        return lambda: read_frame(path)

    def key(self) -> str:
        return os.path.realpath(self._path)

    def file_name(self, rel: str) -> str:
        return rel

    def relative_to(self, root: Folder) -> str:
        assert isinstance(root, DiskFolder)
        return "" if self._path == root._path else self._path.relative_to(root._path).as_posix()

    def above(self, limit: int = 6) -> tuple[str, ...]:
        parents = Path(os.path.abspath(self._path)).parents
        return tuple(p.name for p in list(parents)[:limit] if p.name)


def _read_regular(path: Path, limit: int) -> bytes | str:
    """The file's bytes, or why it was not read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: opening a FIFO must not wait
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return "is a directory, not a file"
        if not stat.S_ISREG(st.st_mode):
            return "is not a regular file (a named pipe, socket or device); it was not read"
        if st.st_size > limit:
            return too_large(st.st_size, limit)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = read_capped(f, st.st_size, limit)
        if len(data) > limit:
            return f"it grew past {mib(limit)}, the most motqa reads of such a file, while being read"
        return data
    finally:
        os.close(fd)


def read_frame(path: Path) -> bytes:
    """A frame file's bytes; OSError for a file over MAX_FRAME_BYTES, which is never read."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FRAME_BYTES:
            raise OSError(errno.EFBIG, f"it is {mib(size)}, larger than the {mib(MAX_FRAME_BYTES)} motqa "
                          "reads of a frame")
        return read_capped(f, size, MAX_FRAME_BYTES)


def read_capped(f: BinaryIO, size: int, limit: int) -> bytes:
    """A file's bytes, at most limit + 1 of them (one more than the cap, so a caller sees that a
    file grew past it), read as one read of its stated `size`: `f.read(limit + 1)` allocates
    limit + 1 bytes before it reads (256 MiB per frame: 6x the time of the read itself)."""
    data = f.read(min(size, limit) + 1)
    while size < len(data) <= limit:  # the file grew since it was stat'ed
        more = f.read(min(1 << 20, limit + 1 - len(data)))
        if not more:
            break
        data += more
    return data
