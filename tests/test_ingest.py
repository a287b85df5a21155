"""`motqa ingest` to a local folder: round trip against the source files, refusals, overwrite,
leftovers of dead runs, and kill -9 at every step of the write."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import deeplake
import numpy as np
import pytest

from motqa.cli import run
from motqa.deeplake import layout as L
from motqa.deeplake.read import settle_get_bytes
from motqa.deeplake.write import WriteError, write_dataset
from motqa.demo import DemoSequence, default_sequences, write_demo
from motqa.sources.layout import discover

HERE = Path(__file__).parent
FAST_GATE = ("--no-shipped-expectations", "--images", "header", "-q")  # the kill tests' gate: quick

# ---------------------------------------------------------------------------------- the oracle:
# the source read with plain Python, independent of motqa's parsers


def source_sequence(seq_dir: Path) -> dict[str, Any]:
    """Frame numbers, frame file bytes and per-frame gt (sorted by id, then line) of a folder."""
    files = {int(p.stem): p.read_bytes() for p in (seq_dir / "img1").glob("*.jpg")}
    per_frame: dict[int, list[tuple[int, int, list[float]]]] = {}
    gt = seq_dir / "gt" / "gt.txt"
    for line_no, line in enumerate(gt.read_text().splitlines(), start=1):
        if line.strip():
            cells = [float(c) for c in line.split(",")]
            per_frame.setdefault(int(cells[0]), []).append((int(cells[1]), line_no, cells))
    numbers = sorted(set(files) | set(per_frame))
    frames = []
    for n in numbers:
        rows = [cells for _, _, cells in sorted(per_frame.get(n, []))]
        mot15 = bool(rows) and len(rows[0]) == 10
        frames.append({
            "number": n,
            "jpeg": files.get(n, b""),
            "boxes": np.array([r[2:6] for r in rows], dtype=np.float32).reshape(-1, 4),
            "ids": np.array([r[1] for r in rows], dtype=np.uint32),
            "conf": np.array([r[6] for r in rows], dtype=np.float32),
            "classes": np.array([-1 if mot15 else r[7] for r in rows], dtype=np.int32),
            "visibility": np.array([np.nan if mot15 else r[8] for r in rows], dtype=np.float32),
        })
    return {"frames": frames}


def sequences_with_gt(root: Path) -> list[tuple[str, str, Path]]:
    """(split, name, folder) of every sequence with gt under a benchmark root, in discover's order."""
    return [(d.parent.name, d.name, d) for d in sorted(root.glob("*/*")) if (d / "gt" / "gt.txt").is_file()]


def assert_matches_source(ds: Any, root: Path, rows_only: bool = False) -> None:
    """Every row, frame, byte, box, id, conf, class and visibility against the source, read with
    Deep Lake alone (no motqa reader): the frame rows, and (unless `rows_only`: what a plain reader
    sees of an unpublished dataset) the metadata, the stored one-row-per-sequence view and motqa's
    reader. It reads frames with get_bytes, so it lets Deep Lake settle before it returns
    (settle_get_bytes): the caller may drop `ds` at once."""
    try:
        _compare_with_source(ds, root, rows_only)
    finally:
        settle_get_bytes()


def _empty_or_equal(got: Any, want: np.ndarray, what: str) -> None:
    if len(want) == 0:
        assert got is None or len(got) == 0, what  # Deep Lake gives None for an empty 1-D array
    else:
        np.testing.assert_array_equal(np.asarray(got), want, err_msg=what)
        assert np.asarray(got).dtype == want.dtype, what


def _compare_with_source(ds: Any, root: Path, rows_only: bool) -> None:
    expected = sequences_with_gt(root)
    sources = [source_sequence(seq_dir)["frames"] for _, _, seq_dir in expected]
    assert len(ds) == sum(map(len, sources)), "one row per frame"
    row = 0
    for index, ((split, name, _), src) in enumerate(zip(expected, sources, strict=True)):
        for f in src:  # the frame rows: a sequence's frames together, in frame order
            what = f"{name} frame {f['number']}"
            assert (ds["sequence"][row], ds["name"][row], ds["split"][row]) == (index, name, split), what
            assert ds["frame_numbers"][row] == f["number"], what
            assert ds["frames"].get_bytes(row) == f["jpeg"], f"{what}: bytes differ"
            np.testing.assert_array_equal(np.asarray(ds["boxes"][row]).reshape(-1, 4), f["boxes"], err_msg=what)
            for col in ("ids", "conf", "classes", "visibility"):
                _empty_or_equal(ds[col][row], f[col], f"{what} {col}")
            row += 1
    if rows_only:
        return
    assert ds.metadata["motqa_layout"] == L.LAYOUT
    view = ds.tags["sequences"].open()  # the stored view: one row per sequence
    assert len(view) == len(expected)
    for r, ((split, name, _), src) in enumerate(zip(expected, sources, strict=True)):
        assert set(view["name"][r]) == {name} and set(view["split"][r]) == {split}
        assert list(view["frame_numbers"][r]) == [f["number"] for f in src]
        assert [bytes(b) for b in view["frames"].get_bytes(r)] == [f["jpeg"] for f in src]
        boxes, ids = view["boxes"][r], view["ids"][r]
        for k, f in enumerate(src):
            np.testing.assert_array_equal(np.asarray(boxes[k]).reshape(-1, 4), f["boxes"])
            _empty_or_equal(ids[k], f["ids"], f"{name} {f['number']} ids (view)")
        # the reader helpers give the same, with empty arrays where Deep Lake gives None
        for f, frame in zip(src, L.iter_frames(ds, r), strict=True):
            assert frame.number == f["number"] and frame.jpeg == f["jpeg"]
            assert frame.boxes.shape == (len(f["ids"]), 4) and frame.boxes.dtype == np.float32
            for col in ("ids", "conf", "classes", "visibility"):
                np.testing.assert_array_equal(getattr(frame, col), f[col])
                assert getattr(frame, col).dtype == f[col].dtype


def open_ro(url: str | Path, creds: dict[str, str] | None = None) -> Any:
    """A read-only handle. A test that reads frames from it with get_bytes (L.iter_frames,
    L.read_frame) calls settle_get_bytes() before the handle can go: Deep Lake 4.5.1-4.7.4 abort
    the process otherwise (bench/repro/deeplake_abort.py). assert_matches_source does it itself."""
    return deeplake.open_read_only(str(url), creds=creds)


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def ingest(*args: object) -> int:
    """motqa ingest in this process; Great Expectations suites are another module's tests."""
    return run(["ingest", *map(str, args), "-q", "--no-shipped-expectations"])


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".motqa-" in p.name)


# ---------------------------------------------------------------------------------- round trip


def test_round_trip(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(demo_root)
    target = tmp_path / "out" / "mot.dl"
    assert ingest(demo_root, target) == 0
    assert "skipped test/DEMO-03: no ground truth" in capsys.readouterr().err
    ds = open_ro(target)
    assert_matches_source(ds, demo_root)
    assert L.is_published(ds)
    meta = ds.metadata
    assert meta[L.META_LAYOUT] == L.LAYOUT and meta[L.META_BENCHMARK] == "generic"
    assert meta[L.META_SOURCE] == str(demo_root) and meta[L.META_VERSION]
    gate = L.read_json(ds, L.META_GATE)
    assert gate["valid"] is True and gate["counts"]["error"] == 0
    assert L.read_json(ds, L.META_SKIPPED) == [{"sequence": "test/DEMO-03", "why": "no ground truth (gt/gt.txt)"}]
    assert ds["frame_rate"][0] == 30 and ds["width"][0] == 160 and ds["seq_length"][0] == 16
    assert snapshot(demo_root) == before  # the source is never changed
    assert leftovers(target.parent) == []


def test_conf0_rows_kept_and_boxes_ordered_by_id(demo_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "mot.dl"
    assert ingest(demo_root, target) == 0
    ds = open_ro(target)
    frames = list(L.iter_frames(ds, 0))
    assert any((f.conf == 0).any() for f in frames)  # the demo's static person: conf 0, class 7
    assert all((np.diff(f.ids.astype(np.int64)) > 0).all() for f in frames)
    assert sum(len(f.ids) for f in frames) == len((demo_root / "train/DEMO-01/gt/gt.txt").read_text().splitlines())
    settle_get_bytes()  # before ds goes: see open_ro


def test_mot15_and_frames_without_boxes(tmp_path: Path) -> None:
    """10-column gt (no class, no visibility) and frames 3-5 without any box."""
    root = tmp_path / "mot"
    write_demo(root, sequences=[DemoSequence("train", "DEMO-15", frames=12, width=160, height=120, tracks=4, seed=5)])
    gt = root / "train/DEMO-15/gt/gt.txt"
    rows = [line.split(",") for line in gt.read_text().splitlines()]
    gt.write_text("".join(",".join([*c[:7], "-1", "-1", "-1"]) + "\n" for c in rows if int(c[0]) not in (3, 4, 5)))
    target = tmp_path / "mot15.dl"
    assert ingest(root, target) == 0
    ds = open_ro(target)
    assert_matches_source(ds, root)
    assert len(ds["ids"][2]) == 0  # Deep Lake's own answer for an empty id array (the third frame's row)...
    empty = L.read_frame(ds, 0, 2)  # ...and motqa's reader's
    assert empty.number == 3 and empty.boxes.shape == (0, 4) and empty.ids.shape == (0,)
    assert empty.ids.dtype == np.uint32 and empty.jpeg[:2] == b"\xff\xd8"
    full = L.read_frame(ds, 0, 0)
    assert (full.classes == -1).all() and np.isnan(full.visibility).all()
    settle_get_bytes()  # before ds goes: see open_ro


def test_missing_image_ignored_keeps_its_rows(make_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("missing-image")
    target = tmp_path / "mot.dl"
    assert ingest(root, target) == 1 and not target.exists()
    assert ingest(root, target, "--ignore", "missing-image,frame-count-mismatch") == 0
    ds = open_ro(target)
    assert_matches_source(ds, root)
    assert L.read_json(ds, L.META_NO_IMAGE) == {"train/DEMO-02": [7]}
    second = L.sequences(ds)[1]
    k = list(ds["frame_numbers"][second.first_row:second.first_row + second.frames]).index(7)
    frame = L.read_frame(ds, 1, k)
    assert frame.jpeg == b"" and len(frame.ids) > 0
    settle_get_bytes()  # before ds goes: see open_ro


# ---------------------------------------------------------------------------------- refusals


def test_refused_gate_leaves_nothing(make_demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("duplicate-id")
    target = tmp_path / "out" / "mot.dl"
    assert ingest(root, target) == 1
    out, err = capsys.readouterr()
    assert "duplicate-id" in out and "nothing was written" in err
    assert not target.parent.exists()  # not even the parent folder is made


def test_existing_dataset_kept_then_overwritten(make_demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    old_root, _ = make_demo()
    new_root, _ = make_demo("sequence-name-mismatch")  # a warning: passes, and differs from old
    (new_root / "train/DEMO-01/gt/gt.txt").write_text("1,1,10,10,20,40,1,1,1\n")
    target = tmp_path / "mot.dl"
    assert ingest(old_root, target) == 0
    version = open_ro(target).version
    capsys.readouterr()
    assert ingest(new_root, target) == 2
    assert "already exists" in capsys.readouterr().err
    kept = open_ro(target)
    assert kept.version == version
    assert_matches_source(kept, old_root)
    assert ingest(new_root, target, "--overwrite") == 0
    replaced = open_ro(target)
    assert_matches_source(replaced, new_root)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("what", ["file", "folder"])
def test_never_replaces_what_is_not_a_dataset(what: str, demo_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious"
    if what == "file":
        target.write_text("keep me")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("keep me")
    assert ingest(demo_root, target, "--overwrite") == 2
    assert (target.read_text() if what == "file" else (target / "notes.txt").read_text()) == "keep me"


def test_empty_folder_is_written_into(demo_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    assert ingest(demo_root, target) == 0
    assert_matches_source(open_ro(target), demo_root)


def test_target_overlapping_source_refused(demo_root: Path, tmp_path: Path) -> None:
    assert ingest(demo_root, demo_root / "mot.dl") == 2
    assert ingest(demo_root / "train", demo_root, "--overwrite") == 2
    assert not (demo_root / "mot.dl").exists() and (demo_root / "train").is_dir()


def test_nothing_with_gt_is_refused(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mot.dl"
    assert ingest(demo_root / "test", target) == 2
    assert "no sequence with ground truth" in capsys.readouterr().err
    assert not target.exists() and leftovers(tmp_path) == []


def test_other_url_schemes_refused(demo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ingest(demo_root, "gs://bucket/mot") == 2
    assert ingest(demo_root, "s3://bucket-only") == 2


def test_source_changed_after_gate(demo_root: Path, tmp_path: Path) -> None:
    """The writer re-reads each sequence; one that differs from what the gate saw is refused."""
    mot = discover(demo_root)
    expected = {"train/DEMO-01": (16, 1), "train/DEMO-02": (12, 9999)}
    target = tmp_path / "mot.dl"
    with pytest.raises(WriteError, match="changed after the gate"):
        write_dataset(mot, str(target), expected=expected)
    assert not target.exists() and leftovers(tmp_path) == []


def test_concurrent_ingest_refused(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mot.dl"
    lock = tmp_path / ".mot.dl.motqa-lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running ingest holds it
        assert ingest(demo_root, target) == 2
        assert "another motqa ingest" in capsys.readouterr().err
        assert not target.exists()
    finally:
        os.close(fd)
    assert ingest(demo_root, target) == 0 and not lock.exists()


# ---------------------------------------------------------------------------------- dead runs


def test_stale_leftovers_are_deleted(demo_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "mot.dl"
    stale = tmp_path / ".mot.dl.motqa-tmp-deadbeef"
    (stale / "_deeplake_log").mkdir(parents=True)
    (tmp_path / ".mot.dl.motqa-lock").write_text("")  # a dead run's lock file: no flock on it
    assert ingest(demo_root, target) == 0
    assert leftovers(tmp_path) == []


def test_old_dataset_put_back_after_a_run_died_between_renames(make_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old_root, _ = make_demo()
    target = tmp_path / "mot.dl"
    assert ingest(old_root, target) == 0
    aside = tmp_path / ".mot.dl.motqa-old-0123"
    os.rename(target, aside)  # as a run killed between its two renames leaves it
    assert ingest(old_root, target) == 2  # the old dataset is back, and kept
    assert_matches_source(open_ro(target), old_root)
    assert leftovers(tmp_path) == []


def run_killed(step: str, count: int, *args: object, no_exchange: bool = False) -> subprocess.CompletedProcess[str]:
    flags = ["--no-exchange"] if no_exchange else []
    cmd = [sys.executable, str(HERE / "kill_helper.py"), step, str(count), *flags, "--", "ingest", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_child_env())


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    return env


def bigger_sequences(frames: int = 24) -> list[DemoSequence]:
    return default_sequences(frames=frames, width=320, height=240)


@pytest.fixture
def two_sources(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    write_demo(old, sequences=bigger_sequences())
    seqs = bigger_sequences(30)
    write_demo(new, sequences=seqs)
    return old, new


KILL_FRESH = [("sequence-written", 1), ("sequence-written", 2), ("written", 1), ("published", 1)]


@pytest.mark.slow
@pytest.mark.parametrize(("step", "count"), KILL_FRESH)
def test_kill_fresh_write(step: str, count: int, two_sources: tuple[Path, Path], tmp_path: Path) -> None:
    _, new = two_sources
    target = tmp_path / "out" / "mot.dl"
    done = run_killed(step, count, new, target, *FAST_GATE)
    assert done.returncode == -signal.SIGKILL, done.stderr
    if target.exists():  # killed after the rename: the whole new dataset
        assert step == "published"
        assert_matches_source(open_ro(target), new)
        return
    assert ingest(new, target, *FAST_GATE) == 0  # the next run needs no --overwrite
    assert_matches_source(open_ro(target), new)
    assert leftovers(target.parent) == []


KILL_OVERWRITE = [("sequence-written", 1, False), ("written", 1, False), ("swapped", 1, False),
                  ("old-moved-aside", 1, True), ("published", 1, True)]


@pytest.mark.slow
@pytest.mark.parametrize(("step", "count", "no_exchange"), KILL_OVERWRITE)
def test_kill_overwrite(step: str, count: int, no_exchange: bool, two_sources: tuple[Path, Path],
                        tmp_path: Path) -> None:
    old, new = two_sources
    target = tmp_path / "mot.dl"
    assert ingest(old, target, *FAST_GATE) == 0
    done = run_killed(step, count, new, target, "--overwrite", *FAST_GATE, no_exchange=no_exchange)
    assert done.returncode == -signal.SIGKILL, done.stderr
    if target.exists():
        ds = open_ro(target)
        assert_matches_source(ds, new if step in ("swapped", "published") else old)
    else:
        assert step == "old-moved-aside"  # the only moment with nothing there (no RENAME_EXCHANGE)
    assert ingest(new, target, "--overwrite", *FAST_GATE) == 0
    assert_matches_source(open_ro(target), new)
    assert leftovers(tmp_path) == []


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], poll: float) -> None:
    """SIGKILL `proc` as soon as `ready()` holds (within 120 s); fails if it finished first."""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(poll)
        assert proc.poll() is None, "the ingest finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate()


@pytest.mark.slow
def test_kill_9_from_outside_mid_write(tmp_path: Path) -> None:
    """No injected step: the process is killed from outside once its temporary dataset holds a
    committed sequence."""
    source = tmp_path / "mot"
    write_demo(source, sequences=default_sequences(frames=150, width=640, height=480))
    target = tmp_path / "mot.dl"
    cmd = [sys.executable, "-m", "motqa", "ingest", str(source), str(target), *FAST_GATE]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_child_env())
    kill_when(proc, lambda: any(_commits(p) >= 2 for p in tmp_path.glob(".mot.dl.motqa-tmp-*")), 0.02)
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists() and leftovers(tmp_path) != []
    assert ingest(source, target, *FAST_GATE) == 0
    assert_matches_source(open_ro(target), source)
    assert leftovers(tmp_path) == []


def _commits(dataset: Path) -> int:
    """Commits in a local dataset's branch logs (schema, then one per sequence)."""
    return sum(1 for p in dataset.glob("_deeplake_log/*/*.jsonl*") if "_meta" not in p.parts)


def test_metadata_is_json(demo_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "mot.dl"
    assert ingest(demo_root, target) == 0
    meta = open_ro(target).metadata
    for key in (L.META_GATE, L.META_SKIPPED, L.META_NO_IMAGE):
        json.loads(meta[key])


def test_readme_reading_and_training_loop(demo_root: Path, tmp_path: Path) -> None:
    """The README's snippets, as they are printed there."""
    import io

    from PIL import Image, ImageDraw

    from motqa.deeplake.layout import is_published, iter_frames, read_frame, sequences

    target = tmp_path / "mot17.dl"
    assert ingest(demo_root, target) == 0
    # -- README: read frame k of sequence r with its boxes
    ds = open_ro(target)
    assert is_published(ds)
    r, k = 1, 9
    f = read_frame(ds, r, k)
    img = Image.open(io.BytesIO(f.jpeg)).convert("RGB")
    draw = ImageDraw.Draw(img)
    for (x, y, w, h), track in zip(f.boxes, f.ids, strict=True):
        draw.rectangle((x, y, x + w, y + h), outline="red", width=2)
        draw.text((x, y - 10), str(track), fill="red")
    img.save(tmp_path / "frame.png")

    # -- README: a training loop
    def training_frames(ds, evaluated_only=True):  # type: ignore[no-untyped-def]
        for r, _seq in enumerate(sequences(ds)):
            for f in iter_frames(ds, r):
                if not f.jpeg:
                    continue  # a frame with gt rows but no image file (ingested with ignored errors)
                keep = f.conf == 1 if evaluated_only else np.ones(len(f.ids), bool)
                yield np.asarray(Image.open(io.BytesIO(f.jpeg)).convert("RGB")), f.boxes[keep], f.ids[keep]

    seen = 0
    for image, boxes, ids in training_frames(ds):
        assert image.shape == (120, 160, 3) and boxes.shape == (len(ids), 4)
        seen += 1
    # -- end of README
    assert f.number == 10 and seen == len(ds) == sum(seq.frames for seq in sequences(ds))
    settle_get_bytes()  # before ds goes: see open_ro


def test_parse_target_and_creds() -> None:
    from motqa.errors import UsageError
    from motqa.storage import parse_target, s3_creds

    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL": "http://a:1"}
    t = parse_target("s3://bucket/some/prefix/", env=env)
    assert t.folder is None and t.url == "s3://bucket/some/prefix" and t.creds is not None
    assert t.creds["endpoint_url"] == "http://a:1" and t.creds["aws_access_key_id"] == "k"
    assert parse_target("s3://b/p", "http://b:2", env=env).creds["endpoint_url"] == "http://b:2"  # type: ignore[index]
    assert s3_creds(None, {}) is None
    local = parse_target("file:///tmp/x/../y.dl", env={})
    assert local.folder == Path("/tmp/y.dl")
    for bad in ("s3://bucket", "s3:///prefix", "gs://b/p", "/", ""):
        with pytest.raises(UsageError):
            parse_target(bad, env={})
    with pytest.raises(UsageError):
        parse_target("local.dl", "http://a:1", env={})
