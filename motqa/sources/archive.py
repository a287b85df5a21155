"""A download's archive (.zip, .tar, .tar.gz) as a read-only Folder (motqa/sources/tree.py):
listed once, read member by member, never extracted. Discovery and loading are the folder's
(motqa/sources/layout.py), so a zip gives the findings and the dataset of the folder it came from.

What an archive can do wrong is found while listing:
- `archive-unreadable`: cut short, a damaged central directory or tar header. A zip without its
  central directory is listed from its members' local headers instead (what `zip -FF` does), so
  every member before the damage is still checked.
- `archive-member-refused`: a member that could write or read outside the target if extracted
  (an absolute name, '..', a link, a device), a name that appears twice, an encrypted member, or a
  size no compressed data of its length can hold (a zip bomb). Refused members are never read.
A member whose bytes are damaged (a bad CRC, data cut short) is found when it is read, as the
file-unreadable or image-unreadable finding of that member's path."""

from __future__ import annotations

import errno
import os
import stat
import struct
import tarfile
import threading
import weakref
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from motqa.findings import FOLD_AT, finding, many
from motqa.model import Finding, Place
from motqa.sources.tree import IMAGE_EXTS, MAX_FRAME_BYTES, Entry, Folder, mib, safe_relative, too_large

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
# Deflate cannot expand data more than about 1032 times; a member that says it holds more than
# this times its compressed size (plus a little for tiny members) is lying, or is a bomb.
MAX_DEFLATE_RATIO = 1100
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # a zip local file header, 30 bytes
_LOCAL_SIG = b"PK\x03\x04"


@dataclass(frozen=True)
class Member:
    """A regular file in an archive: where its data is and what it says it holds."""

    name: str  # the member's path, posix, as the archive names it
    size: int  # uncompressed, as declared
    csize: int  # compressed, as declared (tar: = size)
    offset: int  # zip: its local header; tar: its data
    method: int = 0  # zip compression method (0 stored, 8 deflate); tar: -1
    crc: int | None = None
    flags: int = 0
    alias: str | None = None  # a tar hard link: the member whose bytes it has


def is_archive(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and (name.endswith(ZIP_SUFFIXES + TAR_SUFFIXES) or zipfile.is_zipfile(path)
                               or _is_tar(path))


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def open_archive(path: Path) -> tuple[Folder, str, list[Finding]]:
    """The archive's root folder, the dataset kind ("mot-zip", "mot-tar") and what listing found.
    An archive whose members all sit in one folder stands for that folder, as it extracts."""
    name = path.name.lower()
    if name.endswith(TAR_SUFFIXES) or (not name.endswith(ZIP_SUFFIXES) and not zipfile.is_zipfile(path)):
        index = _list_tar(path)
        kind = "mot-tar"
    else:
        index = _list_zip(path)
        kind = "mot-zip"
    root = ArchiveFolder(index, "")
    top = index.dirs.get("", set())
    if len(top) == 1 and not any("/" not in m for m in index.members):
        root = ArchiveFolder(index, next(iter(top)))
    return root, kind, index.findings


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


class _Index:
    """An archive's members by path, its folders (each with the names of its subfolders), how to
    read a member's bytes, and what listing found."""

    def __init__(self, path: Path, read: Callable[[Member, int], bytes]) -> None:
        self.path = path
        self.shown = path.name
        self.read_member = read
        self.members: dict[str, Member] = {}
        self.dirs: dict[str, set[str]] = {"": set()}  # a folder -> the names of its subfolders
        self.files: dict[str, set[str]] = {}  # a folder -> the names of its files
        self.findings: list[Finding] = []
        self._refused: dict[str, list[str]] = {}
        self._seen_twice: set[str] = set()

    def closes(self, close: Callable[[], None]) -> None:
        """Run `close` (it must not hold the index) once the index is no longer used."""
        weakref.finalize(self, close)

    def add_dir(self, rel: str) -> None:
        parts = rel.split("/") if rel else []
        for i in range(len(parts)):
            parent, child = "/".join(parts[:i]), "/".join(parts[: i + 1])
            self.dirs.setdefault(parent, set()).add(parts[i])
            self.dirs.setdefault(child, set())

    def add(self, raw_name: str, member: Member | None, why_not: str | None = None, shown: str | None = None) -> None:
        """A member as listed: `member` None for a folder entry, `why_not` when it is refused
        (`shown`: how the finding names it, a link with its target)."""
        name = raw_name.replace("\\", "/")  # Windows tools write backslashes
        parts = safe_relative(name.rstrip("/")) if name.strip("/") else []
        if parts is None:
            self.refuse(raw_name, "has an absolute name or '..': extracted, it would be written outside the target")
            return
        rel = "/".join(parts)
        if why_not is not None:
            self.refuse(shown or raw_name, why_not)
            return
        if member is None:
            self.add_dir(rel)
            return
        if rel in self.members or rel in self._seen_twice:
            self._seen_twice.add(rel)
            self.members.pop(rel, None)
            self.refuse(raw_name, "appears twice in the archive (which copy a tool extracts depends on the tool); "
                        "neither was read")
            return
        self.members[rel] = member
        self.add_dir(rel.rpartition("/")[0])

    def refuse(self, name: str, why: str) -> None:
        self._refused.setdefault(why, []).append(name)

    def close_listing(self) -> None:
        for why, names in self._refused.items():
            places = [Place(file=f"{self.shown}:{n}") for n in names]
            if len(names) > FOLD_AT:
                self.findings.append(many("archive-member-refused", f"{names[0]} {why}", places, len(names)))
            else:
                self.findings += [finding("archive-member-refused", f"{n} {why}", p)
                                  for n, p in zip(names, places, strict=True)]
        for rel in self.members:  # a file and a folder of one name: the file is the one read
            self.dirs.pop(rel, None)
            parent, _, base = rel.rpartition("/")
            self.dirs.get(parent, set()).discard(base)
            self.files.setdefault(parent, set()).add(base)

    def unreadable(self, why: str) -> None:
        self.findings.append(finding("archive-unreadable", f"{self.shown} {why}", Place(file=self.shown)))


# ------------------------------------------------------------------------ zip


def _list_zip(path: Path) -> _Index:
    fd = os.open(path, os.O_RDONLY)
    index = _Index(path, lambda m, limit: _read_zip_member(fd, m, limit))
    index.closes(lambda: os.close(fd))
    archive_size = os.fstat(fd).st_size
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as e:
        infos = _scan_local_headers(fd, archive_size, index, str(e))
    for info in infos:
        _add_zip_member(index, info)
    index.close_listing()
    return index


def _add_zip_member(index: _Index, info: zipfile.ZipInfo) -> None:
    name = info.filename
    # Unix permissions and file type in the high half; a zip written elsewhere, or without the type
    # bits (0o644 alone), holds regular files.
    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    why = None
    if info.is_dir():
        index.add(name, None)
        return
    if stat.S_ISLNK(mode):
        why = "is a symbolic link: extracted, it could lead outside the target; it was not followed"
    elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        why = "is not a regular file (a device or pipe)"
    elif info.flag_bits & 0x1:
        why = "is encrypted; motqa reads no encrypted member"
    elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        why = f"uses compression method {info.compress_type}, which motqa cannot read"
    elif _bomb(info.file_size, info.compress_size, info.compress_type):
        why = (f"says it holds {mib(info.file_size)} in {info.compress_size} compressed bytes, more than any "
               "compression gives (a zip bomb or a damaged entry)")
    member = Member(name, info.file_size, info.compress_size, info.header_offset, info.compress_type, info.CRC,
                    info.flag_bits)
    index.add(name, member, why)


def _bomb(size: int, csize: int, method: int) -> bool:
    if method == zipfile.ZIP_STORED:
        return size != csize
    return size > MAX_DEFLATE_RATIO * csize + 2**16


def _scan_local_headers(fd: int, archive_size: int, index: _Index, why: str) -> list[zipfile.ZipInfo]:
    """The members a zip's local headers name, in order, when its central directory is unreadable
    (a download cut short). The scan stops at the first header that is not whole."""
    out: list[zipfile.ZipInfo] = []
    offset = 0
    stop = ""
    while offset + _LOCAL.size <= archive_size:
        head = os.pread(fd, _LOCAL.size, offset)
        if head[:4] != _LOCAL_SIG:
            if head[:4] not in (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06"):  # the central directory
                stop = f"byte {offset}, which starts no member"
            break
        _, _, flags, method, _, _, crc, csize, size, name_len, extra_len = _LOCAL.unpack(head)
        raw = os.pread(fd, name_len + extra_len, offset + _LOCAL.size)
        if len(raw) < name_len + extra_len:
            stop = f"byte {offset}, a header cut short"
            break
        name = raw[:name_len].decode("utf-8" if flags & 0x800 else "cp437", "replace")
        size, csize = _zip64_sizes(raw[name_len:], size, csize)
        if flags & 0x8:  # sizes in a data descriptor after the data: its end is not known here
            stop = f"{name} (its size is written after its data)"
            break
        info = zipfile.ZipInfo(name)
        info.flag_bits, info.compress_type, info.CRC = flags, method, crc
        info.compress_size, info.file_size, info.header_offset = csize, size, offset
        info.external_attr = 0
        out.append(info)
        offset += _LOCAL.size + name_len + extra_len + csize
    where = f"; the listing stopped at {stop}" if stop else ""
    detail = (f"is cut short or damaged ({why}): its {len(out)} members were listed from their local headers "
              f"instead of the central directory{where}; the archive is {mib(archive_size)}")
    index.unreadable(detail)
    return out


def _zip64_sizes(extra: bytes, size: int, csize: int) -> tuple[int, int]:
    if size != 0xFFFFFFFF and csize != 0xFFFFFFFF:
        return size, csize
    i = 0
    while i + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, i)
        if tag == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, i + 4))
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            break
        i += 4 + length
    return size, csize


def _read_zip_member(fd: int, m: Member, limit: int) -> bytes:
    """A member's bytes, checked against its size and CRC; OSError says why they cannot be had.
    os.pread: threads read members at once without sharing a file position."""
    if m.size > limit:
        raise OSError(errno.EFBIG, too_large(m.size, limit))
    head = os.pread(fd, _LOCAL.size, m.offset)
    if len(head) < _LOCAL.size or head[:4] != _LOCAL_SIG:
        raise OSError(errno.EIO, "its local header is missing or damaged (the archive is cut short or corrupt)")
    name_len, extra_len = _LOCAL.unpack(head)[9:]
    start = m.offset + _LOCAL.size + name_len + extra_len
    raw = os.pread(fd, m.csize, start)
    if len(raw) < m.csize:
        raise OSError(errno.EIO, f"the archive ends {len(raw)} bytes into its {m.csize} bytes of data (cut short)")
    try:
        data = _decompress(raw, m.method, m.size)
    except (zlib.error, OSError, EOFError, ValueError) as e:
        raise OSError(errno.EIO, f"does not decompress: {e}") from None
    if len(data) != m.size:
        raise OSError(errno.EIO, f"decompresses to {len(data)} bytes, not the {m.size} the archive states (damaged)")
    if m.crc is not None and zlib.crc32(data) != m.crc:
        raise OSError(errno.EIO, "its CRC-32 does not match its bytes (the archive is damaged)")
    return data


def _decompress(raw: bytes, method: int, size: int) -> bytes:
    if method == zipfile.ZIP_STORED:
        return raw
    if method == zipfile.ZIP_DEFLATED:
        d = zlib.decompressobj(-15)
        return d.decompress(raw, size + 1)  # never more than one byte past the stated size
    if method == zipfile.ZIP_BZIP2:
        import bz2

        return bz2.BZ2Decompressor().decompress(raw, size + 1)
    import lzma  # zip's LZMA: a 4-byte version/size header, then the properties, then the stream

    props_len = struct.unpack_from("<H", raw, 2)[0]
    filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, raw[4:4 + props_len])]  # type: ignore[attr-defined]
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters).decompress(raw[4 + props_len:], size + 1)


# ------------------------------------------------------------------------ tar


def _list_tar(path: Path) -> _Index:
    compressed = not path.name.lower().endswith(".tar")
    lock = threading.Lock()
    tf: tarfile.TarFile | None = None
    fd = os.open(path, os.O_RDONLY)
    kept: dict[str, bytes] = {}  # a gzip stream's small non-image members, read while listing

    def read(m: Member, limit: int) -> bytes:
        if m.size > limit:
            raise OSError(errno.EFBIG, too_large(m.size, limit))
        if (m.alias or m.name) in kept:
            return kept[m.alias or m.name]
        if not compressed:
            data = os.pread(fd, m.size, m.offset)
        else:  # a gzip stream has no random access: one reader at a time, seeking in the stream
            assert tf is not None
            with lock:
                try:
                    f = tf.fileobj
                    assert f is not None
                    f.seek(m.offset)
                    data = f.read(m.size)
                except (OSError, EOFError, zlib.error, tarfile.TarError) as e:
                    raise OSError(errno.EIO, f"cannot be read from the archive: {e}") from None
        if len(data) < m.size:
            raise OSError(errno.EIO, f"the archive ends {len(data)} bytes into its {m.size} bytes (it is cut short)")
        return data

    def close() -> None:
        os.close(fd)
        if tf is not None:
            tf.close()

    index = _Index(path, read)
    index.closes(close)
    try:
        tf = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        index.unreadable(f"is not a readable tar archive: {e}")
        index.close_listing()
        return index
    archive_size = os.fstat(fd).st_size
    while True:
        try:
            info = tf.next()
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            index.unreadable(f"is cut short or damaged after {len(index.members)} members ({e}); the members "
                             f"before it were listed; the archive is {mib(archive_size)}")
            break
        if info is None:
            break
        _add_tar_member(index, info)
        if compressed and info.isreg() and info.size <= KEEP_TAR_MEMBER_BYTES and not _is_image(info.name):
            _keep(tf, info, kept)
    index.close_listing()
    return index


# A .tar.gz has no random access: a member before the stream's position is reached by inflating
# from the start again. seqinfo.ini, gt.txt and det.txt are read before a sequence's frames but
# lie on both sides of img1/ in the archive, so these small members are kept as the listing passes
# them (at most this size each; MOT20-05's gt.txt is 26 MiB) and frames are read forward.
KEEP_TAR_MEMBER_BYTES = 64 << 20


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS)


def _keep(tf: tarfile.TarFile, info: tarfile.TarInfo, kept: dict[str, bytes]) -> None:
    """The member's bytes into `kept`, read at the stream's position; a member that cannot be read
    is left to be read (and its error found) when it is needed."""
    try:
        f = tf.extractfile(info)
        data = f.read() if f is not None else None
    except (OSError, EOFError, zlib.error, tarfile.TarError):
        return
    if data is not None and len(data) == info.size:
        kept[info.name] = data


def _add_tar_member(index: _Index, info: tarfile.TarInfo) -> None:
    if info.isdir():
        index.add(info.name, None)
        return
    why = None
    if info.islnk():  # a hard link: the bytes of a member listed before it (tar stores them once)
        target = index.members.get("/".join(safe_relative(info.linkname.replace("\\", "/")) or ["\0"]))
        if target is not None:
            index.add(info.name, Member(info.name, target.size, target.size, target.offset, -1, alias=target.name))
            return
        why = "is a hard link to a member that is not in the archive before it; it was not followed"
    elif info.issym():
        why = "is a symbolic link: extracted, it could lead outside the target; it was not followed"
    elif not info.isreg():
        why = "is not a regular file (a device or pipe)"
    elif info.issparse():
        why = "is a sparse file, which motqa does not read"
    shown = f"{info.name} (-> {info.linkname})" if info.issym() or info.islnk() else info.name
    index.add(info.name, Member(info.name, info.size, info.size, info.offset_data, -1), why, shown)


# ------------------------------------------------------------------------ the folder


class ArchiveFolder(Folder):
    """A folder inside an archive. Members are what the listing kept: no member is a link, none
    leaves the archive, so only paths from the data (imDir) can escape."""

    def __init__(self, index: _Index, rel: str) -> None:
        self._index = index
        self._rel = rel
        self.name = rel.rpartition("/")[2] if rel else _stem(index.path)

    def _at(self, rel: str) -> str:
        parts = safe_relative(rel) if rel else []
        joined = "/".join([self._rel] + (parts or [])) if self._rel else "/".join(parts or [])
        return joined if parts is not None else "\0"

    def child(self, rel: str) -> ArchiveFolder:
        return ArchiveFolder(self._index, self._at(rel))

    def lexists(self, rel: str) -> bool:
        at = self._at(rel)
        return at in self._index.members or at in self._index.dirs

    def is_file(self, rel: str) -> bool:
        return self._at(rel) in self._index.members

    def is_dir(self, rel: str = "") -> bool:
        return self._at(rel) in self._index.dirs

    def entries(self, rel: str = "") -> list[Entry]:
        at = self._at(rel)
        dirs, files = self._index.dirs.get(at, set()), self._index.files.get(at, set())
        return [Entry(n, n in files, n in dirs) for n in sorted(dirs | files)]

    def escapes(self, rel: str) -> bool:
        return safe_relative(rel) is None

    def read(self, rel: str, limit: int) -> bytes | str:
        member = self._index.members.get(self._at(rel))
        if member is None:
            return "is not a file of the archive"
        try:
            return self._index.read_member(member, limit)
        except OSError as e:
            return e.strerror or str(e)

    def frame_reader(self, rel: str) -> Callable[[], bytes]:
        member = self._index.members[self._at(rel)]
        read = self._index.read_member
        return lambda: read(member, MAX_FRAME_BYTES)

    def key(self) -> str:
        return f"{self._index.path}:{self._rel}"

    def file_name(self, rel: str) -> str:
        at = self._at(rel)
        return at + "/" if not rel and at else at

    def relative_to(self, root: Folder) -> str:
        assert isinstance(root, ArchiveFolder)
        if self._rel == root._rel:
            return ""
        return self._rel[len(root._rel) + 1:] if root._rel else self._rel

    def above(self, limit: int = 6) -> tuple[str, ...]:
        inside_archive = list(PurePosixPath(self._rel).parents)[:-1] if self._rel else []
        names = [p.name for p in inside_archive]
        stem = _stem(self._index.path)
        if not names or names[-1] != stem:
            names.append(stem)
        disk = [p.name for p in Path(os.path.abspath(self._index.path)).parents if p.name]
        return tuple((names + disk)[:limit])
