"""The sequences that changed files belong to (a commit's gt.txt, det.txt and seqinfo.ini), for the
pre-commit hook: only those are read, never the folders around them."""

from __future__ import annotations

import os
from pathlib import Path

from motqa.model import MotDataset, SequenceRef
from motqa.sources.layout import DET_FILE, GT_FILE, SEQINFO, load_sequence, shown

# A changed file -> how many folders up its sequence folder is.
_DEPTH = {SEQINFO: 1, GT_FILE: 2, DET_FILE: 2}


def sequence_folder(file: Path) -> Path | None:
    """The sequence folder of a seqinfo.ini, gt/gt.txt or det/det.txt; None for another file."""
    parts = Path(os.path.normpath(file)).parts
    for name, depth in _DEPTH.items():
        if tuple(parts[-depth:]) == tuple(name.split("/")):
            folder = Path(*parts[:-depth]) if len(parts) > depth else Path(".")
            return folder if folder != Path(".") else Path.cwd()
    return None


def changed_sequences(files: list[Path]) -> tuple[MotDataset, list[Path]]:
    """One dataset of the sequences `files` belong to, each labelled by its folder's path (as the
    files are given: from the repository's top in a hook), and the files that belong to none."""
    folders: dict[Path, None] = {}
    other = []
    for file in files:
        folder = sequence_folder(file)
        if folder is None:
            other.append(file)
        else:
            folders.setdefault(folder, None)
    ds = MotDataset(".", "mot-folder", [])
    for folder in sorted(folders):
        above = folder.parent
        split = shown(above.as_posix()) if not folder.is_absolute() and above != Path(".") else None
        ds.sequences.append(SequenceRef(shown(folder.name), split, _loader(folder, split)))
    return ds, other


def _loader(folder: Path, split: str | None):  # type: ignore[no-untyped-def]
    return lambda: load_sequence(folder, split)
