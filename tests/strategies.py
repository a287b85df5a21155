"""Hypothesis strategies for hostile MOT bytes and layouts, and the digest of a source tree that
every robustness test compares before and after a command."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def tree_digest(root: Path, hash_above: int = 2**24) -> dict[bytes, tuple[object, ...]]:
    """Every entry under `root` (links not followed): its type, mode and content (a SHA-256 of a
    regular file, the target of a link). Files larger than `hash_above` bytes are compared by size,
    mtime and inode instead of content, so that a multi-GB test file is not read. FIFOs and
    devices are never opened."""
    out: dict[bytes, tuple[object, ...]] = {}
    base = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, base)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode)
            elif stat.S_ISREG(st.st_mode) and st.st_size > hash_above:
                out[rel] = ("big", st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    out[rel] = ("file", st.st_mode, hashlib.file_digest(f, "sha256").hexdigest())
            else:
                out[rel] = ("other", st.st_mode, st.st_mtime_ns)
    return out
