"""A tracker's result files (`motqa results`): a folder of <SEQ>.txt or a submission zip, read
member by member and never extracted or changed, matched with the sequences they must answer.

The sequences come from a gt path (the same discovery as `validate`: each sequence's seqLength,
size and gt rows) or from a benchmark profile and the published facts (a test split's gt is not
public). What is wrong with the set of files (missing, misnamed, extra, in a folder of the zip,
duplicated) is found here while listing; each file's rows become `Sequence.result` for the checks
of motqa/checks/results.py."""

from __future__ import annotations

import difflib
import os
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np

from motqa.errors import UsageError
from motqa.findings import FOLD_AT, finding, many, severity_of
from motqa.model import Finding, Frames, MotDataset, Place, SeqInfo, Sequence, SequenceRef
from motqa.profiles import profile, published
from motqa.sources.layout import discover, shown
from motqa.sources.mot_files import MAX_TABLE_BYTES, parse_annotations

SPLITS = ("train", "test", "all")
MAX_DEPTH = 3  # folders below RESULTS looked into (a zip's data/ or <TRACKER>/data/)
TOO_LARGE = f"is larger than the {MAX_TABLE_BYTES // 2**20} MiB motqa reads"


# A sequence a result file must answer: its name (the file's stem), split, and how to load what is
# known of it (the gt sequence, or the published facts).
Expected = SequenceRef


@dataclass(frozen=True)
class Entry:
    """One file of the results: its path inside RESULTS (posix, as a zip names it) and a reader
    that returns its bytes or why they cannot be read."""

    path: str
    read: Callable[[], bytes | str]

    @property
    def base(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def folder(self) -> str:
        return str(PurePosixPath(self.path).parent) if "/" in self.path else ""


# ------------------------------------------------------------------------ the expected sequences


def expected_from_gt(path: Path) -> list[Expected]:
    ds = discover(path)
    if not ds.sequences:
        raise UsageError(f"no MOT sequence under --gt {path}: point it at a benchmark root, split or TrackEval "
                         "gt folder (`motqa validate` says what it holds)")
    return [Expected(ref.name, ref.split, ref.load) for ref in ds.sequences]


def expected_from_benchmark(name: str, split: str) -> list[Expected]:
    """The profile's test sequences (`test`), the published train sequences (`train`), or both
    (`all`: what MOTChallenge's server wants in one zip)."""
    bench = profile(name)
    if split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
    facts = published()
    names: list[tuple[str, str]] = []
    if split in ("train", "all"):
        names += [(p.sequence, "train") for (b, _), p in facts.items() if b == bench.name and p.split == "train"]
    if split in ("test", "all"):
        names += [(s, "test") for s in bench.test_sequences]
    if not names:
        raise UsageError(f"no {split} sequences of {bench.name} are known to motqa; use --gt PATH")
    return [Expected(n, s, _facts_loader(bench.name, n, s)) for n, s in names]


def _facts_loader(bench: str, name: str, split: str) -> Callable[[], Sequence]:
    def load() -> Sequence:
        facts = published().get((bench, name))
        info = SeqInfo(name=name, origin="inferred")
        if facts is not None:
            info = SeqInfo(name=name, frame_rate=facts.frame_rate, seq_length=facts.seq_length,
                           im_width=facts.im_width, im_height=facts.im_height, origin="published",
                           size_from="published")
        frames = Frames(np.zeros(0, dtype=np.int64), [], _no_frame, listed=False, folder=False)
        return Sequence(name, split, info, frames, folders=(f"{bench}-{split}",))
    return load


def _no_frame(i: int) -> bytes:
    raise IndexError(i)


# ------------------------------------------------------------------------ listing the results


def list_results(path: Path) -> tuple[list[Entry], str, list[Finding]]:
    """The files under RESULTS (a folder or a .zip), root first; the dataset kind; what stopped
    the listing."""
    if not path.exists():
        raise UsageError(f"no such path: {path}")
    if path.is_dir():
        return _list_folder(path), "results-folder", []
    if not zipfile.is_zipfile(path):
        why = "is not a zip archive" if path.suffix.lower() == ".zip" else "is neither a folder nor a zip archive"
        return [], "results-zip", [finding("result-unreadable", f"{path.name} {why}", Place(file=shown(path.name)))]
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        return [], "results-zip", [finding("result-unreadable", f"{path.name} is not a readable zip archive: {e}",
                                           Place(file=shown(path.name)))]
    entries = [Entry(shown(i.filename), _member_reader(path, i)) for i in infos]
    return sorted(entries, key=lambda e: (e.path.count("/"), e.path)), "results-zip", []


def _list_folder(root: Path) -> list[Entry]:
    out = []
    for folder, dirs, names in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        if depth >= MAX_DEPTH:
            dirs[:] = []
        dirs.sort()
        for n in sorted(names):
            p = Path(folder) / n
            out.append(Entry(shown(p.relative_to(root).as_posix()), _file_reader(p)))
    return sorted(out, key=lambda e: (e.path.count("/"), e.path))


def _file_reader(p: Path) -> Callable[[], bytes | str]:
    def read() -> bytes | str:
        try:
            if not p.is_file():
                return "is not a regular file"
            if p.stat().st_size > MAX_TABLE_BYTES:
                return TOO_LARGE
            return p.read_bytes()
        except OSError as e:
            return f"cannot be read: {e.strerror or e}"
    return read


def _member_reader(zip_path: Path, info: zipfile.ZipInfo) -> Callable[[], bytes | str]:
    def read() -> bytes | str:
        if info.file_size > MAX_TABLE_BYTES:  # the size the zip states; the read below is capped too
            return TOO_LARGE
        try:
            with zipfile.ZipFile(zip_path) as zf, zf.open(info) as f:
                data = f.read(MAX_TABLE_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, NotImplementedError, EOFError) as e:
            return f"does not decompress: {e}"
        except RuntimeError as e:  # an encrypted member
            return f"cannot be read: {e}"
        return data if len(data) <= MAX_TABLE_BYTES else TOO_LARGE
    return read


# ------------------------------------------------------------------------ matching


def open_results(path: Path, expected: list[Expected]) -> MotDataset:
    """The results under `path` as a dataset of the expected sequences that have a file (each
    loads its gt or facts and its result rows), with the findings of the set of files."""
    entries, kind, findings = list_results(path)
    ds = MotDataset(shown(str(path)), kind, [], findings)
    if findings:
        return ds
    by_name = {e.name: e for e in expected}
    claimed: dict[str, Entry] = {}
    unmatched: list[Entry] = []
    in_folder: dict[str, list[tuple[Entry, str | None]]] = {}
    not_text: list[Entry] = []
    for entry in entries:
        if not entry.base.lower().endswith(".txt") or _macos_copy(entry):
            not_text.append(entry)
            continue
        stem = entry.base[:-4]
        known = by_name.get(stem)
        if known is not None and stem in claimed:  # said once, as a duplicate (root files come first)
            ds.findings.append(finding("result-duplicate", f"a second file for {stem} (the first is "
                                       f"{claimed[stem].path}); only the first was checked",
                                       Place(known.label, entry.path)))
            continue
        if entry.folder:
            in_folder.setdefault(entry.folder, []).append((entry, known.label if known else None))
        if known is None:
            unmatched.append(entry)
        else:
            claimed[stem] = entry
    ds.findings += _not_text(not_text) + _in_folders(in_folder)
    explained: set[str] = set()
    for entry in unmatched:
        missing = [e.name for e in expected if e.name not in claimed and e.name not in explained]
        ds.findings.append(_misnamed_or_extra(entry, missing, by_name, claimed, explained))
    for e in expected:
        if e.name not in claimed and e.name not in explained:
            ds.findings.append(finding("result-missing", f"no result file for {e.name} (expected {e.name}.txt)",
                                       Place(e.label, f"{e.name}.txt")))
    result_dir = path if kind == "results-folder" else None
    for e in expected:
        if e.name in claimed:
            ds.sequences.append(SequenceRef(e.name, e.split, _loader(e, claimed[e.name], result_dir)))
    return ds


def _not_text(entries: list[Entry]) -> list[Finding]:
    """One finding per file that is not a result; one for all when there are many (a macOS zip
    holds a ._NAME for every file)."""
    if not entries:
        return []
    places = [Place(file=e.path) for e in entries]
    messages = [f"{e.path} is not a .txt result file; servers read only <SEQ>.txt" for e in entries]
    if len(entries) > FOLD_AT:
        return [many("result-not-text", messages[0], places, len(entries))]
    return [finding("result-not-text", m, p) for m, p in zip(messages, places, strict=True)]


def _in_folders(in_folder: dict[str, list[tuple[Entry, str | None]]]) -> list[Finding]:
    """One finding per folder that holds result files (the server reads the zip's root only)."""
    out = []
    for folder, members in in_folder.items():
        first, label = members[0]
        n = len(members)
        listed = ", ".join(e.path for e, _ in members[:2]) + (", ..." if n > 2 else "")
        what = f"{n} result files are" if n > 1 else "a result file is"
        out.append(finding("result-in-folder", f"{what} in folder {folder}/, not in the root: the server finds "
                           f"none of them ({listed})", Place(label, first.path)))
    return out


def _macos_copy(entry: Entry) -> bool:
    """macOS's resource forks that its zip tool adds (__MACOSX/, ._NAME): not results, whatever
    their extension."""
    return entry.path.startswith("__MACOSX/") or entry.base.startswith("._")


def _misnamed_or_extra(entry: Entry, missing: list[str], by_name: dict[str, Expected], claimed: dict[str, Entry],
                       explained: set[str]) -> Finding:
    """A file named for no sequence: misnamed when its name is near a missing sequence's (MOT17-02
    for MOT17-02-FRCNN, another case, a typo); a single intended sequence is checked with it."""
    stem = entry.base[:-4]
    copies = [n for n in missing if n.startswith(stem + "-") or n.lower() == stem.lower()]
    near = copies or difflib.get_close_matches(stem, missing, n=1, cutoff=0.8)
    if not near:
        return finding("result-extra", f"{entry.path} answers no sequence of the split; it is not scored",
                       Place(file=entry.path))
    explained.update(near)
    if len(near) == 1:
        claimed[near[0]] = entry
        return finding("result-misnamed", f"{entry.base} is named for no sequence; did you mean {near[0]}.txt? "
                       f"(its rows were checked as {near[0]})", Place(by_name[near[0]].label, entry.path))
    names = ", ".join(f"{n}.txt" for n in near)
    return finding("result-misnamed", f"{entry.base} is named for no sequence; the benchmark names each detector "
                   f"copy: did you mean {names}? (the server wants each of them)", Place(file=entry.path))


def _without_trailing_commas(data: bytes) -> bytes:
    """The bytes without a comma at the end of each line, where the first line ends in one: some
    trackers write `...,-1,-1,-1,`, which TrackEval reads (it drops an empty last field). Only the
    bytes in memory change; the line numbers stay."""
    first = data[:4096].splitlines()[:1]
    if not first or not first[0].rstrip().endswith(b","):
        return data
    data = data.replace(b",\r\n", b"\r\n").replace(b",\n", b"\n")
    return data[:-1] if data.endswith(b",") else data


def _loader(expected: Expected, entry: Entry, folder: Path | None) -> Callable[[], Sequence]:
    def load() -> Sequence:
        seq = expected.load()
        seq.findings = []  # the gt's own findings are `motqa validate`'s business
        # where the findings' files are (reporters join it with Place.file): the result folder; a
        # zip's members have no path of their own
        seq.path = folder
        where = Place(seq.label, entry.path)
        data = entry.read()
        if isinstance(data, str):
            seq.findings.append(finding("result-unreadable", f"{entry.path} {data}", where))
            return seq
        if not data.strip():
            seq.findings.append(finding("result-empty", f"{entry.base} is empty: no box for the sequence, every "
                                        "gt box counts as missed", where))
        ann, found = parse_annotations(_without_trailing_commas(data), "result", seq.label, entry.path)
        seq.result = ann
        # every problem of reading a result is one id: the gt parser's ids are validate's
        seq.findings += [f if f.check == "result-malformed" else
                         replace(f, check="result-malformed", severity=severity_of("result-malformed"))
                         for f in found]
        return seq
    return load
