"""`motqa ingest` as a pipeline: each sequence is read and parsed once, checked, and handed to the
writer while the gate goes on to the next; the dataset is published only when the whole gate has
passed, exactly as before (tests/test_ingest.py and tests/test_ingest_faults.py hold the publish
protocol; these hold what the pipeline adds)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from motqa.cli import run
from motqa.deeplake import rows
from motqa.demo import default_sequences, write_demo
from motqa.gate import GateConfig
from motqa.ingest import ingest as ingest_api
from motqa.model import Sequence, Severity
from motqa.progress import Progress
from motqa.sources import layout, tree
from motqa.storage import parse_target
from tests.test_ingest import assert_matches_source, leftovers, open_ro


def _demo(root: Path, defect: str | None = None) -> Path:
    write_demo(root, defect, default_sequences(frames=16, width=160, height=120))
    return root


def _ingest(source: Path, target: Path, *observers: Any, **cfg: Any) -> Any:
    cfg.setdefault("shipped_expectations", False)
    return ingest_api(source, parse_target(str(target)), GateConfig(**cfg), overwrite=False,
                      progress=Progress(False), observers=observers)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """("written", label) as the writer commits each sequence; ("checked", label) as the gate
    finishes each sequence's checks."""
    seen: list[tuple[str, str]] = []
    labels: list[str] = []
    original = rows.store

    def store(ds: Any, item: rows.Prepared, *args: Any, **kw: Any) -> Any:
        labels.append(item.label)
        return original(ds, item, *args, **kw)

    def checkpoint(step: str) -> None:
        if step == "sequence-written":
            seen.append(("written", labels[-1]))

    monkeypatch.setattr(rows, "store", store)
    monkeypatch.setattr(rows, "checkpoint", checkpoint)
    return seen


def _checked(seen: list[tuple[str, str]]) -> Any:
    return lambda seq, found: seen.append(("checked", seq.label))


@pytest.mark.parametrize("images", ["decode", "header", "skip"])
def test_every_frame_file_read_once_and_every_sequence_loaded_once(images: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    source = _demo(tmp_path / "mot")
    reads: Counter[str] = Counter()
    loads: Counter[str] = Counter()
    read_frame, load_sequence = tree.read_frame, layout.load_sequence

    def counting_read(path: Path) -> bytes:
        reads[str(path)] += 1
        return read_frame(path)

    def counting_load(seq_dir: Any, split: Any) -> Sequence:
        loads[str(seq_dir)] += 1
        return load_sequence(seq_dir, split)

    monkeypatch.setattr(tree, "read_frame", counting_read)
    monkeypatch.setattr(layout, "load_sequence", counting_load)
    outcome = _ingest(source, tmp_path / "mot.dl", images=images)
    assert outcome.status == "written"
    frame_files = sorted(str(p) for p in source.glob("*/*/img1/*.jpg"))  # test/DEMO-03's are checked too
    if images == "skip":  # only the writer reads them: the train split's
        frame_files = [f for f in frame_files if "/train/" in f]
    assert sorted(reads) == frame_files, "a frame file not read"
    assert set(reads.values()) == {1}, f"read more than once: {[f for f, n in reads.items() if n > 1]}"
    assert set(loads.values()) == {1} and len(loads) == 3  # test/DEMO-03 too: the gate checks it
    assert_matches_source(open_ro(tmp_path / "mot.dl"), source)


def test_frames_stream_to_the_writer_in_parts_with_the_gate_a_bounded_way_ahead(
        tmp_path: Path, events: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory bounded by a part, not by a sequence: the gate hands frames over as it reads them,
    never more than FrameFeed.BACKLOG chunks ahead of the writer; the writer commits every
    COMMIT_BYTES of frames (and at each sequence's end), sequences in their order."""
    import deeplake

    from motqa import ingest

    monkeypatch.setattr(rows, "COMMIT_BYTES", 30_000)  # a demo frame is 5 to 10 kB: several commits a sequence
    monkeypatch.setattr(rows, "WINDOW", 4)
    monkeypatch.setattr(ingest.FrameFeed, "BACKLOG", 2)
    ahead: list[int] = []
    put = ingest.FrameFeed._put

    def counting_put(self: Any, kind: str, value: Any = None) -> None:
        put(self, kind, value)
        ahead.append(self._chunks)

    monkeypatch.setattr(ingest.FrameFeed, "_put", counting_put)
    source = _demo(tmp_path / "mot")
    for k in (4, 5, 6):  # five train sequences
        shutil.copytree(source / "train/DEMO-01", source / f"train/DEMO-0{k}")
        ini = source / f"train/DEMO-0{k}/seqinfo.ini"
        ini.write_text(ini.read_text().replace("DEMO-01", f"DEMO-0{k}"))
    outcome = _ingest(source, tmp_path / "mot.dl", images="decode", jobs=1)
    assert outcome.status == "written"
    train = [f"train/DEMO-0{k}" for k in (1, 2, 4, 5, 6)]
    assert [label for what, label in events if what == "written"] == train
    assert ahead and max(ahead) <= 2, f"the gate ran {max(ahead)} chunks ahead of the writer"
    ds = deeplake.open_read_only(str(tmp_path / "mot.dl"))
    messages = [v.message for v in ds.history]
    for label in train:
        parts = [m for m in messages if m.startswith(f"motqa ingest: {label}, frames to ")]
        assert len(parts) >= 1, f"{label} was committed at once: {messages}"
    assert_matches_source(ds, source)


def test_a_refused_sequence_stops_the_write_and_the_gate_still_checks_the_rest(
        tmp_path: Path, events: list[tuple[str, str]]) -> None:
    source = _demo(tmp_path / "mot", "duplicate-id")  # the defect is in DEMO-02
    shutil.copytree(source / "train/DEMO-01", source / "train/DEMO-04")  # a clean sequence after it
    ini = source / "train/DEMO-04/seqinfo.ini"
    ini.write_text(ini.read_text().replace("DEMO-01", "DEMO-04"))
    target = tmp_path / "out" / "mot.dl"
    outcome = _ingest(source, target, _checked(events))
    assert outcome.status == "refused" and not outcome.result.valid
    assert [e for e in events if e[0] == "written"] == [("written", "train/DEMO-01")]  # none from DEMO-02 on
    checked = [label for what, label in events if what == "checked"]
    assert checked[-1] == "train/DEMO-04"  # the gate went on: the report lists every sequence
    assert [s.label for s in outcome.result.sequences] == ["test/DEMO-03", "train/DEMO-01", "train/DEMO-02",
                                                           "train/DEMO-04"]
    assert [f.sequence for f in outcome.result.findings if f.severity >= Severity.ERROR] == ["train/DEMO-02"]
    assert not target.parent.exists()  # the temporary dataset, its lock and the folder made for it: gone


def test_refused_by_a_finding_of_the_whole_run_after_every_sequence_was_written(
        tmp_path: Path, events: list[tuple[str, str]]) -> None:
    """sequence-name-mismatch is a warning; failing on warnings makes the last sequence's finding
    the refusal, after DEMO-01 and DEMO-02 were written: nothing may be published."""
    source = _demo(tmp_path / "mot", "sequence-name-mismatch")
    target = tmp_path / "mot.dl"
    outcome = _ingest(source, target, fail_on=Severity.WARNING)
    assert outcome.status == "refused"
    assert not target.exists() and leftovers(tmp_path) == []


def test_what_cannot_be_stored_but_is_refused_is_a_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A negative track id cannot be stored as uint32, and the gate refuses it (id-invalid): the
    refusal is the answer (exit 1, nothing left), though the writer gets the sequence's rows as it
    is loaded; told to let it pass, the writer says why it cannot store it (exit 2)."""
    source = _demo(tmp_path / "mot")
    gt = source / "train/DEMO-01/gt/gt.txt"
    lines = gt.read_text().splitlines()
    cells = lines[2].split(",")
    lines[2] = ",".join([cells[0], "-3", *cells[2:]])
    gt.write_text("\n".join(lines) + "\n")
    target = tmp_path / "out" / "mot.dl"
    args = ["ingest", str(source), str(target), "-q", "--no-shipped-expectations"]
    assert run(args) == 1
    assert "refused by the gate" in capsys.readouterr().err and not target.parent.exists()
    assert run([*args, "--ignore", "id-invalid"]) == 2
    assert "track id -3 cannot be stored as uint32" in capsys.readouterr().err and not target.parent.exists()


def test_a_frame_that_cannot_be_read_is_refused_or_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame file the image check cannot read is image-unreadable: refused. Ignored, the
    sequence passes the gate but cannot be stored: not written, saying why."""
    source = _demo(tmp_path / "mot")
    read_frame = tree.read_frame

    def failing(path: Path) -> bytes:
        if path.name == "000005.jpg" and "DEMO-02" in str(path):
            raise OSError(5, "Input/output error (planted)")
        return read_frame(path)

    monkeypatch.setattr(tree, "read_frame", failing)
    refused = _ingest(source, tmp_path / "a.dl")
    assert refused.status == "refused" and not (tmp_path / "a.dl").exists()
    assert [f.place.frame for f in refused.result.findings if f.check == "image-unreadable"] == [5]
    ignored = _ingest(source, tmp_path / "b.dl", ignore=["image-unreadable"])
    assert ignored.status == "not written" and "a frame file cannot be read" in ignored.detail
    assert not (tmp_path / "b.dl").exists() and leftovers(tmp_path) == []


def test_a_write_that_fails_mid_gate_still_gives_the_whole_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = _demo(tmp_path / "mot")
    original = rows.store

    def failing(ds: Any, item: rows.Prepared, *args: Any, **kw: Any) -> Any:
        if item.label.endswith("DEMO-02"):
            raise rows.WriteError(f"{item.label}: no space left (planted)")
        return original(ds, item, *args, **kw)

    monkeypatch.setattr(rows, "store", failing)
    target = tmp_path / "mot.dl"
    outcome = _ingest(source, target)
    assert outcome.status == "not written" and "planted" in outcome.detail
    assert [s.label for s in outcome.result.sequences] == ["test/DEMO-03", "train/DEMO-01", "train/DEMO-02"]
    assert not target.exists() and leftovers(tmp_path) == []
    assert run(["ingest", str(source), str(target), "-q", "--no-shipped-expectations"]) == 2
    assert "planted" in capsys.readouterr().err


def test_a_gate_that_crashes_mid_ingest_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """An internal error in the gate is the gate's (exit 2 with its message), after the writer has
    written DEMO-01 to its temporary dataset: that is deleted."""
    source = _demo(tmp_path / "mot")
    load_sequence = layout.load_sequence

    def load(seq_dir: Any, split: Any) -> Sequence:
        seq = load_sequence(seq_dir, split)
        if seq.name == "DEMO-02":
            raise RuntimeError("planted crash")
        return seq

    monkeypatch.setattr(layout, "load_sequence", load)
    target = tmp_path / "mot.dl"
    assert run(["ingest", str(source), str(target), "-q", "--no-shipped-expectations"]) == 2
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: planted crash" in err and "Traceback" not in err
    assert not target.exists() and leftovers(tmp_path) == []


_INTERRUPT = """
import os, signal, sys, time
from motqa.cli import run
from motqa.deeplake import rows
seen = 0
def checkpoint(step):
    global seen
    if step == "sequence-written":
        seen += 1
        if seen == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the main thread is in the gate
            time.sleep(1)  # the writer waits here: the main thread has the signal before it goes on
rows.checkpoint = checkpoint
sys.exit(run(sys.argv[1:]))
"""


def test_ctrl_c_mid_ingest_publishes_nothing_and_deletes_what_was_written(tmp_path: Path) -> None:
    import subprocess
    import sys

    source = _demo(tmp_path / "mot")
    target = tmp_path / "mot.dl"
    args = ["ingest", str(source), str(target), "-q", "--no-shipped-expectations"]
    proc = subprocess.run([sys.executable, "-c", _INTERRUPT, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130 and "motqa: interrupted" in proc.stderr and "Traceback" not in proc.stderr
    assert not target.exists() and leftovers(tmp_path) == []
    assert run(args) == 0  # and the next run writes it whole
    assert_matches_source(open_ro(target), source)
