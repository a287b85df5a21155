"""`motqa audit`: the gate's checks on stored Deep Lake datasets of each kind, read-only."""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any

import deeplake
import numpy as np
import pandas as pd
import pytest
from deeplake import types
from PIL import Image

from motqa.catalog import CHECKS
from motqa.cli import run
from motqa.deeplake import layout as L
from motqa.deeplake import read as deeplake_read
from motqa.deeplake.read import (
    GET_BYTES_SETTLE_S,
    KIND_MOTQA,
    KIND_TUTORIAL3,
    KIND_TUTORIAL4,
    Columns,
    open_stored,
    parse_columns,
    settle_get_bytes,
)
from motqa.deeplake.stored_layout import box_format, count_mismatches, sequence_lengths
from motqa.deeplake.write import write_dataset
from motqa.demo import DemoSequence, write_demo
from motqa.errors import UsageError
from motqa.findings import FOLD_AT
from motqa.gate import GateConfig, GateResult, run_gate
from motqa.model import Finding
from motqa.sources.layout import discover
from tests.s3server import KEY_ID, SECRET, S3Server, s3_server  # noqa: F401 - the fixture

FIXTURE_DL3 = Path(__file__).parent / "fixtures" / "tutorial_deeplake3"
FAST = GateConfig(shipped_expectations=False)  # the suites have their own tests; GE is slow to import
STORED_CHECKS = ["box-format", "box-format-unstated", "sequence-lengths-differ", "ids-boxes-mismatch",
                 "frame-size-varies", "ingest-incomplete"]


# ------------------------------------------------------------------------------------ helpers


def tree_hash(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> sha256): equal before and after means untouched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def small_download(root: Path, frames: int = 8) -> Path:
    """Two train sequences of 160x120 frames (as the Deep Lake 3 fixture's generator writes)."""
    write_demo(root, sequences=[
        DemoSequence("train", "DEMO-01", frames=frames, width=160, height=120, tracks=4, seed=1),
        DemoSequence("train", "DEMO-02", frames=frames, width=160, height=120, tracks=3, seed=2),
    ])
    return root


def tutorial_rows(root: Path) -> list[dict[str, list[Any]]]:
    """What the tutorial's code appends per sequence: frames' JPEG bytes, boxes and ids per frame."""
    rows = []
    for seq_dir in sorted((root / "train").iterdir()):
        paths = sorted((seq_dir / "img1").iterdir())
        gt = pd.read_csv(seq_dir / "gt" / "gt.txt", header=None)
        boxes, ids = [], []
        for frame in range(1, len(paths) + 1):
            in_frame = gt[gt[0] == frame]
            boxes.append(in_frame.loc[:, [2, 3, 4, 5]].to_numpy().astype("float32"))
            ids.append(in_frame.loc[:, 1].to_numpy().astype("uint32"))
        rows.append({"frames": [p.read_bytes() for p in paths], "boxes": boxes, "ids": ids})
    return rows


def write_tutorial4(path: Path | str, rows: list[dict[str, list[Any]]], columns: Columns | None = None,
                    boxes_type: Any = None, creds: dict[str, str] | None = None) -> Path | str:
    """A Deep Lake 4 dataset in the tutorial's layout: frames, boxes and ids only."""
    columns = columns or Columns()
    schema = {
        columns.frames: types.Sequence(types.Image(sample_compression="jpg")),
        columns.boxes: boxes_type or types.Sequence(types.BoundingBox("float32", "ltwh", "pixel")),
        columns.ids: types.Sequence(types.Array(types.UInt32(), dimensions=1)),
    }
    ds = deeplake.create(str(path), schema=schema, creds=creds)
    for row in rows:
        ds.append({columns.frames: [row["frames"]], columns.boxes: [row["boxes"]], columns.ids: [row["ids"]]})
    ds.commit()
    del ds  # a writer never read with get_bytes: safe to drop at once (see settle_get_bytes)
    return path


def jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buf, format="JPEG")
    return buf.getvalue()


def audit(path: Path | str, columns: Columns | None = None, cfg: GateConfig = FAST) -> GateResult:
    return run_gate(open_stored(str(path), columns), cfg)


def places(result: GateResult, check: str) -> list[tuple[Any, ...]]:
    return [(f.place.sequence, f.place.frame, f.place.track_id) for f in result.findings if f.check == check]


def errors(result: GateResult) -> list[Finding]:
    return [f for f in result.findings if f.severity >= result.fail_on]


@pytest.fixture(scope="module")
def download(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_download(tmp_path_factory.mktemp("audit") / "mot")


@pytest.fixture(scope="module")
def rows(download: Path) -> list[dict[str, list[Any]]]:
    return tutorial_rows(download)


def copy_rows(rows: list[dict[str, list[Any]]]) -> list[dict[str, list[Any]]]:
    return [{k: [x.copy() if isinstance(x, np.ndarray) else x for x in v] for k, v in r.items()} for r in rows]


# ------------------------------------------------------------------------------------ motqa layout


@pytest.mark.slow  # the whole gate: Great Expectations' import takes seconds
def test_ingested_dataset_audits_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = small_download(tmp_path / "mot", frames=12)
    target = tmp_path / "ds"
    write_dataset(discover(source), str(target))
    before = tree_hash(target)
    code = run(["audit", str(target), "--format", "json", "-q"])  # the whole gate, suites included
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["valid"] is True and doc["kind"] == KIND_MOTQA
    assert [s["label"] for s in doc["sequences"]] == ["train/DEMO-01", "train/DEMO-02"]
    seq = doc["sequences"][0]
    assert (seq["frames"], seq["width"], seq["height"], seq["seq_length"], seq["frame_rate"]) == (12, 160, 120, 12, 30)
    assert tree_hash(target) == before


def plant_rows(seq_dir: Path) -> None:
    """Several row defects in one gt.txt: width 0, conf 0.5, class 0, visibility 1.4, a duplicate."""
    gt = seq_dir / "gt" / "gt.txt"
    lines = gt.read_text().splitlines()
    for k, (field, value) in zip((3, 9, 15, 21), ((4, "0"), (6, "0.5"), (7, "0"), (8, "1.4")), strict=True):
        cells = lines[k].split(",")
        cells[field] = value
        lines[k] = ",".join(cells)
    lines.insert(30, lines[30])
    gt.write_text("\n".join(lines) + "\n")


def test_ingested_findings_equal_the_sources(tmp_path: Path) -> None:
    """The same checks, the same ids, the same frames and tracks as validate on the source."""
    source = small_download(tmp_path / "mot", frames=12)
    plant_rows(source / "train" / "DEMO-01")
    target = tmp_path / "ds"
    write_dataset(discover(source), str(target))  # the gate is ingest's business: this writes anyway
    of_source = run_gate(discover(source), FAST)
    of_stored = audit(target)
    key = sorted((f.check, f.place.sequence, f.place.frame, f.place.track_id) for f in of_source.findings)
    assert {k[0] for k in key} == {"box-size", "conf-flag", "class-unknown", "visibility-range", "duplicate-id"}
    assert key == sorted((f.check, f.place.sequence, f.place.frame, f.place.track_id) for f in of_stored.findings)
    assert all(f.place.file is None and f.place.line is None for f in of_stored.findings)


@pytest.mark.parametrize("defect", ["duplicate-id", "box-size", "conf-flag", "class-unknown",
                                    "visibility-range", "frame-out-of-range", "box-outside-image",
                                    "image-unreadable", "image-format", "image-size-mismatch"])
def test_ingested_defect_found_at_its_frame(defect: str, tmp_path: Path) -> None:
    """write_dataset stores what it is given (the gate runs before it): a defect ingested with its
    check ignored is found again by audit, at the same sequence, frame and track."""
    source = tmp_path / "mot"
    place = write_demo(source, defect, [DemoSequence("train", "DEMO-02", frames=12, width=160, height=120,
                                                     tracks=4, seed=2)])
    assert place is not None
    write_dataset(discover(source), str(tmp_path / "ds"))
    result = audit(tmp_path / "ds")
    assert (place.sequence, place.frame, place.track_id) in places(result, defect)


def test_stored_id_below_the_benchmarks_base_is_found(tmp_path: Path) -> None:
    """A negative id cannot be stored (uint32) and 0 is legal in the generic profile: a stored id 0
    is id-invalid under a benchmark whose ids start at 1 (here MOT17, as --benchmark gives it)."""
    source = tmp_path / "mot"
    write_demo(source, None, [DemoSequence("train", "DEMO-02", frames=12, width=160, height=120, tracks=4, seed=2)])
    gt = source / "train" / "DEMO-02" / "gt" / "gt.txt"
    lines = gt.read_text().splitlines()
    cells = lines[16].split(",")
    cells[1] = "0"
    lines[16] = ",".join(cells)
    gt.write_text("\n".join(lines) + "\n")
    write_dataset(discover(source), str(tmp_path / "ds"))
    assert not places(audit(tmp_path / "ds"), "id-invalid")
    found = places(audit(tmp_path / "ds", cfg=GateConfig(images="skip", shipped_expectations=False,
                                                         benchmark="MOT17")), "id-invalid")
    assert found == [("train/DEMO-02", int(cells[0]), 0)]


def test_frames_without_image_read_as_missing(tmp_path: Path) -> None:
    source = tmp_path / "mot"
    place = write_demo(source, "missing-image", [DemoSequence("train", "DEMO-02", frames=12, width=160,
                                                              height=120, tracks=4, seed=2)])
    assert place is not None
    write_dataset(discover(source), str(tmp_path / "ds"))
    result = audit(tmp_path / "ds")
    assert ("train/DEMO-02", place.frame, None) in places(result, "missing-image")
    assert not places(result, "image-unreadable")
    assert result.sequences[0].frames == 11


def test_unpublished_motqa_dataset_is_reported(tmp_path: Path) -> None:
    ds = deeplake.create(str(tmp_path / "ds"))
    ds.metadata[L.META_LAYOUT] = L.LAYOUT
    ds.metadata[L.META_STATE] = "writing"
    ds.commit()
    del ds
    result = audit(tmp_path / "ds")
    assert [f.check for f in result.findings] == ["ingest-incomplete"] and not result.valid


def test_ingested_split_or_sequence_has_plain_names(tmp_path: Path) -> None:
    """Ingesting a split stores split "" (read back as None by Deep Lake): labels are the names."""
    source = small_download(tmp_path / "mot")
    write_dataset(discover(source / "train"), str(tmp_path / "ds"))
    assert [s.label for s in audit(tmp_path / "ds").sequences] == ["DEMO-01", "DEMO-02"]


def write_layout1(path: Path, source: Path) -> None:
    """A dataset as motqa ingest wrote it before layout 2 (motqa-sequences/1): a row per sequence,
    each frame-level column a Sequence of the frames' values; written here from the layout-2
    writer's own rows (rows._sequence_rows), so both layouts hold the same values."""
    from motqa.deeplake import rows as R

    def per_box(dtype: str) -> Any:
        return types.Sequence(types.Array(dtype, dimensions=1))

    ds = deeplake.create(str(path), schema={
        "name": types.Text(), "split": types.Text(), "frame_rate": types.Float32(), "width": types.Int32(),
        "height": types.Int32(), "seq_length": types.Int32(), "frame_numbers": types.Array("int32", dimensions=1),
        "frames": types.Sequence(types.Image(sample_compression="jpg")),
        "boxes": types.Sequence(types.BoundingBox("float32", "ltwh", "pixel")),
        "ids": types.Sequence(types.Array(types.UInt32(), dimensions=1)),
        "conf": per_box("float32"), "classes": per_box("int32"), "visibility": per_box("float32")})
    for ref in discover(source).sequences:
        seq = ref.load()
        if seq.gt is None:
            continue
        rows = R._sequence_rows(seq)
        assert rows is not None
        jpegs = [seq.frames.read(i) for i in range(len(seq.frames))]
        row = rows.columns(0, rows.frames, jpegs, 0)
        values = {c: [row[c][0]] for c in ("name", "split", "frame_rate", "width", "height", "seq_length")}
        values.update({"frame_numbers": [rows.numbers], **{c: [row[c]] for c in ("frames", *L.PER_BOX)}})
        ds.append(values)
    ds.metadata[L.META_LAYOUT] = L.LAYOUT_V1
    ds.metadata[L.META_STATE] = L.PUBLISHED
    ds.commit()
    del ds


def test_a_layout1_dataset_audits_and_reads_as_layout2(tmp_path: Path) -> None:
    """Datasets motqa wrote before layout 2 (a row per sequence) are still read: audit finds what
    it finds in the same data stored as layout 2, and the helpers give the same frames."""
    source = small_download(tmp_path / "mot", frames=10)
    write_layout1(tmp_path / "v1", source)
    write_dataset(discover(source), str(tmp_path / "v2"))
    old, new = audit(tmp_path / "v1"), audit(tmp_path / "v2")
    assert old.kind == new.kind == KIND_MOTQA and old.valid and new.valid
    assert [s.as_dict() for s in old.sequences] == [s.as_dict() for s in new.sequences]
    v1, v2 = deeplake.open_read_only(str(tmp_path / "v1")), deeplake.open_read_only(str(tmp_path / "v2"))
    assert L.is_published(v1) and [s[:3] for s in L.sequences(v1)] == [s[:3] for s in L.sequences(v2)]
    for r in range(2):
        a, b = list(L.iter_frames(v1, r)), list(L.iter_frames(v2, r))
        assert len(a) == len(b) == 10
        for f, g in zip(a, b, strict=True):
            assert f.number == g.number and f.jpeg == g.jpeg
            for col in L.PER_BOX:
                np.testing.assert_array_equal(getattr(f, col), getattr(g, col))
        assert L.read_frame(v1, r, 3).jpeg == L.read_frame(v2, r, 3).jpeg
    assert len(L.sequence_view(v1)) == len(L.sequence_view(v2)) == 2
    settle_get_bytes()


def test_audit_reads_layout2_frames_a_window_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sequence's frames are read a window at a time, a few windows held: never the sequence."""
    source = small_download(tmp_path / "mot", frames=20)
    write_dataset(discover(source), str(tmp_path / "ds"))
    monkeypatch.setattr(deeplake_read._WindowedFrames, "WINDOW", 4)
    monkeypatch.setattr(deeplake_read._WindowedFrames, "HELD", 2)
    held: list[int] = []
    getitem = deeplake_read._WindowedFrames.__getitem__

    def watching(self: Any, k: int) -> bytes:
        data: bytes = getitem(self, k)
        held.append(len(self._held))
        return data

    monkeypatch.setattr(deeplake_read._WindowedFrames, "__getitem__", watching)
    result = audit(tmp_path / "ds", cfg=GateConfig(images="decode", shipped_expectations=False))
    assert result.valid and [s.frames for s in result.sequences] == [20, 20]
    assert held and max(held) <= 2


# ------------------------------------------------------------------------------------ tutorial, Deep Lake 4


def test_tutorial4_clean(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    path = write_tutorial4(tmp_path / "ds", rows)
    before = tree_hash(path)
    result = audit(path)
    assert result.kind == KIND_TUTORIAL4 and result.valid, result.findings
    assert [s.label for s in result.sequences] == ["row 0", "row 1"]
    assert (result.sequences[0].width, result.sequences[0].height) == (160, 120)  # the first frame's
    assert not [f for f in result.findings if f.check in STORED_CHECKS]
    assert tree_hash(path) == before


def test_box_outside_found_whatever_the_selection(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    """A tutorial dataset states no frame size: the source's frame-size step reads the first
    frame for the box checks, whatever is selected; under --images skip the output says why
    they could not run."""
    bad = copy_rows(rows)
    bad[0]["boxes"][2][0] = [500, 10, 20, 30]  # row 0, frame 3: wholly right of the 160x120 picture
    path = write_tutorial4(tmp_path / "ds", bad)
    for cfg in (FAST, GateConfig(shipped_expectations=False, select=["box-outside-image"])):
        result = audit(path, cfg=cfg)
        assert places(result, "box-outside-image") == [("row 0", 3, int(bad[0]["ids"][2][0]))], cfg
    result = audit(path, cfg=GateConfig(shipped_expectations=False, select=["box-outside-image"]))
    assert [f.check for f in result.findings] == ["box-outside-image"]  # --select runs what it names
    skipped = audit(path, cfg=GateConfig(shipped_expectations=False, images="skip"))
    assert places(skipped, "box-outside-image") == []
    why = skipped.not_run["box-outside-image"]
    assert "--images skip reads no frame" in why and "row 0" in why


def test_tutorial4_planted_defects_at_row_and_frame(tmp_path: Path, rows: list[dict[str, list[Any]]],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = copy_rows(rows)
    ids_1_3 = bad[1]["ids"][3]
    ids_1_3[1] = ids_1_3[0]  # row 1, frame 4: a duplicated id
    bad[1]["boxes"][5][0, 2] = -5  # row 1, frame 6: a negative width
    jpg = bad[0]["frames"][2]
    bad[0]["frames"][2] = jpg[: len(jpg) // 2]  # row 0, frame 3: truncated bytes
    bad[0]["ids"][4] = np.append(bad[0]["ids"][4], np.uint32(99))  # row 0, frame 5: more ids than boxes
    path = write_tutorial4(tmp_path / "ds", bad)
    before = tree_hash(path)
    code = run(["audit", str(path), "--format", "json", "-q", "--no-shipped-expectations"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["kind"] == KIND_TUTORIAL4
    at = {(f["check"], f["sequence"], f["frame"], f["track_id"], f["file"]) for f in doc["findings"]}
    assert ("duplicate-id", "row 1", 4, int(ids_1_3[0]), None) in at
    assert ("box-size", "row 1", 6, int(bad[1]["ids"][5][0]), None) in at
    assert ("image-unreadable", "row 0", 3, None, "frames[2]") in at
    assert ("ids-boxes-mismatch", "row 0", 5, None, None) in at
    assert {f["check"] for f in doc["findings"]} <= {"duplicate-id", "box-size", "image-unreadable",
                                                     "ids-boxes-mismatch", "track-gap"}
    assert all(f["line"] is None for f in doc["findings"])
    assert tree_hash(path) == before


def test_frames_read_one_at_a_time_verbatim(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    path = write_tutorial4(tmp_path / "ds", rows)
    mot = open_stored(str(path))
    seq = mot.sequences[1].load()
    assert seq.frames.names[3] == "frames[3]" and list(seq.frames.numbers) == list(range(1, 9))
    assert [seq.frames.read(k) for k in range(len(seq.frames))] == rows[1]["frames"]
    assert seq.gt is not None and seq.gt.file is None
    assert list(seq.gt.rows.index[:3]) == [1, 2, 3]
    assert seq.gt.rows["conf"].eq(1.0).all() and seq.gt.rows["class"].isna().all()
    assert len(seq.gt) == sum(len(b) for b in rows[1]["boxes"])


def test_settle_get_bytes_waits_out_the_rest_of_the_settle_time(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(deeplake_read.time, "sleep", waits.append)
    now = time.monotonic()
    settle_get_bytes(now - GET_BYTES_SETTLE_S / 2)
    settle_get_bytes(now - 2 * GET_BYTES_SETTLE_S)  # long past: no wait
    settle_get_bytes()  # the last get_bytes was just now: the whole time
    assert len(waits) == 2 and 0 < waits[0] <= GET_BYTES_SETTLE_S / 2 and waits[1] == GET_BYTES_SETTLE_S


def test_a_reader_lets_its_handle_go_only_after_get_bytes_settled(tmp_path: Path, rows: list[dict[str, list[Any]]],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Deep Lake 4.5.1-4.7.4 abort the process when a handle goes right after get_bytes read a row
    other than the first (bench/repro/deeplake_abort.py): a dropped reader waits first."""
    path = write_tutorial4(tmp_path / "ds", rows)
    waits: list[float] = []
    sleep = time.sleep
    monkeypatch.setattr(deeplake_read.time, "sleep", lambda s: (waits.append(s), sleep(s)))
    mot = open_stored(str(path))
    mot.sequences[1].load()  # get_bytes of row 1
    del mot
    assert len(waits) == 1 and 0 < waits[0] <= GET_BYTES_SETTLE_S
    mot = open_stored(str(path))
    assert [s.label for s in mot.sequences] == ["row 0", "row 1"]
    del mot  # nothing read with get_bytes: no wait
    assert len(waits) == 1


def test_columns_option(tmp_path: Path, rows: list[dict[str, list[Any]]], capsys: pytest.CaptureFixture[str]) -> None:
    cols = Columns("video", "bbox", "track")
    path = write_tutorial4(tmp_path / "ds", rows, cols)
    assert audit(path, parse_columns("frames=video,boxes=bbox,ids=track")).valid
    assert run(["audit", str(path), "--columns", "frames=video,boxes=bbox,ids=track", "-q",
                "--no-shipped-expectations"]) == 0
    capsys.readouterr()
    assert run(["audit", str(path), "-q"]) == 2
    assert "--columns" in capsys.readouterr().err


def test_a_name_column_names_the_rows(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    path = write_tutorial4(tmp_path / "ds", rows)
    ds = deeplake.open(str(path))
    ds.add_column("name", types.Text())
    ds["name"][0:2] = ["MOT17-02", ""]
    ds.commit()
    del ds
    assert [s.label for s in audit(path).sequences] == ["MOT17-02", "row 1"]


def test_parse_columns() -> None:
    assert parse_columns("boxes=bbox") == Columns(boxes="bbox")
    for bad in ("frame=video", "boxes", "ids="):
        with pytest.raises(UsageError):
            parse_columns(bad)


def test_empty_frames_read_as_no_boxes(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    """Deep Lake gives back None for an empty ids array and (0, 4) for no boxes."""
    some = copy_rows(rows[:1])
    some[0]["boxes"][2] = np.zeros((0, 4), np.float32)
    some[0]["ids"][2] = np.zeros(0, np.uint32)
    result = audit(write_tutorial4(tmp_path / "ds", some))
    assert not [f for f in result.findings if f.check in ("ids-boxes-mismatch", "sequence-lengths-differ")]


def test_not_a_dataset_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", str(tmp_path / "nothing")]) == 2
    (tmp_path / "folder").mkdir()
    assert run(["audit", str(tmp_path / "folder")]) == 2
    err = capsys.readouterr().err
    assert "no such dataset" in err and "not a Deep Lake dataset" in err and "Traceback" not in err


def test_empty_dataset_has_no_sequences(tmp_path: Path) -> None:
    result = audit(write_tutorial4(tmp_path / "ds", []))
    assert [f.check for f in result.findings] == ["no-sequences"]


# ------------------------------------------------------------------------------------ stored checks


def test_box_format_other_than_ltwh_pixel(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    ltrb = types.Sequence(types.BoundingBox("float32", "ltrb", "pixel"))
    result = audit(write_tutorial4(tmp_path / "ds", rows, boxes_type=ltrb))
    hits = [f for f in result.findings if f.check == "box-format"]
    assert len(hits) == 1 and "LTRB pixel" in hits[0].message and hits[0].place.file == "boxes"
    assert not result.valid and not [f for f in result.findings if f.check == "duplicate-id"]
    assert result.sequences[0].boxes == 0  # not read as LTWH


def test_box_format_unstated_is_read_as_ltwh(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    plain = types.Sequence(types.Array("float32", dimensions=2))
    result = audit(write_tutorial4(tmp_path / "ds", rows, boxes_type=plain))
    assert [f.check for f in result.findings if f.check.startswith("box-format")] == ["box-format-unstated"]
    assert result.valid and result.sequences[0].boxes > 0


def test_boxes_not_four_numbers(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    plain = types.Sequence(types.Array("float32", dimensions=2))
    bad = copy_rows(rows[:1])
    bad[0]["boxes"] = [np.zeros((2, 5), np.float32) for _ in bad[0]["boxes"]]
    bad[0]["ids"] = [np.array([1, 2], np.uint32) for _ in bad[0]["ids"]]
    result = audit(write_tutorial4(tmp_path / "ds", bad, boxes_type=plain))
    hits = [f for f in result.findings if f.check == "box-format"]
    assert len(hits) == 1 and "(2, 5)" in hits[0].message and hits[0].place.sequence == "row 0"


def test_sequence_lengths_differ(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    bad = copy_rows(rows)
    del bad[1]["boxes"][-2:]
    del bad[1]["ids"][-2:]
    result = audit(write_tutorial4(tmp_path / "ds", bad))
    hits = [f for f in result.findings if f.check == "sequence-lengths-differ"]
    assert len(hits) == 1 and hits[0].place.sequence == "row 1"
    assert "frames 8, boxes 6, ids 6" in hits[0].message


def test_ids_boxes_mismatch_fewer_ids(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    bad = copy_rows(rows)
    bad[1]["ids"][0] = bad[1]["ids"][0][:1]
    result = audit(write_tutorial4(tmp_path / "ds", bad))
    assert places(result, "ids-boxes-mismatch") == [("row 1", 1, None)]
    assert result.sequences[1].boxes == sum(len(b) for b in rows[1]["boxes"]) - (len(rows[1]["boxes"][0]) - 1)


def test_frame_size_varies(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    bad = copy_rows(rows)
    bad[0]["frames"][5] = jpeg(80, 60)
    result = audit(write_tutorial4(tmp_path / "ds", bad))
    hits = [f for f in result.findings if f.check == "frame-size-varies"]
    assert len(hits) == 1 and (hits[0].place.sequence, hits[0].place.frame) == ("row 0", 6)
    assert "80x60" in hits[0].message and "160x120" in hits[0].message
    assert not places(result, "image-size-mismatch")
    only = run_gate(open_stored(str(tmp_path / "ds")), GateConfig(select=["frame-size-varies"],
                                                                   shipped_expectations=False))
    assert [f.check for f in only.findings] == ["frame-size-varies"]


def test_box_outside_found_with_the_first_frames_size(tmp_path: Path, rows: list[dict[str, list[Any]]]) -> None:
    bad = copy_rows(rows)
    bad[1]["boxes"][2][0, 0] = 500  # row 1, frame 3: left past the 160 px wide picture
    result = audit(write_tutorial4(tmp_path / "ds", bad))
    hits = places(result, "box-outside-image")
    assert len(hits) == 1 and hits[0][:2] == ("row 1", 3), hits


def test_stored_size_is_compared_by_image_size_mismatch(tmp_path: Path) -> None:
    """With a stored width and height (motqa layout) the existing check applies, not frame-size-varies."""
    source = tmp_path / "mot"
    place = write_demo(source, "image-size-mismatch", [DemoSequence("train", "DEMO-02", frames=12, width=160,
                                                                    height=120, tracks=4, seed=2)])
    assert place is not None
    write_dataset(discover(source), str(tmp_path / "ds"))
    result = audit(tmp_path / "ds")
    assert places(result, "image-size-mismatch") == [("train/DEMO-02", place.frame, None)]
    assert not places(result, "frame-size-varies")


def test_stored_check_functions() -> None:
    assert box_format("boxes", ("ltwh", "pixel")) == []
    assert [f.check for f in box_format("boxes", ("ccwh", "fractional"))] == ["box-format"]
    assert [f.check for f in box_format("boxes", None)] == ["box-format-unstated"]
    assert sequence_lengths("row 0", {"frames": 3, "boxes": 3, "ids": 3}) == []
    n = FOLD_AT + 5
    numbers = np.arange(1, n + 1)
    same = count_mismatches("row 0", "ids", numbers, numbers - 1, np.full(n, 2), np.full(n, 2), "frames")
    assert same == []
    folded = count_mismatches("row 0", "ids", numbers, numbers - 1, np.full(n, 2), np.full(n, 3), "frames")
    assert len(folded) == 1 and folded[0].count == n and len(folded[0].more) == FOLD_AT - 1
    assert "frame 1 (frames[0]) holds 2 boxes but 3 ids" in folded[0].message
    for check in STORED_CHECKS:
        assert check in CHECKS


# ------------------------------------------------------------------------------------ tutorial, Deep Lake 3


def test_deeplake3_fixture_audits_in_place_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_hash(FIXTURE_DL3)
    assert "dataset_meta.json" in before and not deeplake.exists(str(FIXTURE_DL3))
    code = run(["audit", str(FIXTURE_DL3), "--format", "json", "-q", "--no-shipped-expectations"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["kind"] == KIND_TUTORIAL3 and doc["valid"] is True
    assert [(s["label"], s["frames"], s["width"], s["height"]) for s in doc["sequences"]] == [
        ("row 0", 6, 160, 120), ("row 1", 6, 160, 120)]
    assert tree_hash(FIXTURE_DL3) == before


def test_deeplake3_fixture_holds_the_demos_boxes(tmp_path: Path) -> None:
    """The generator's source, written again: the boxes and ids read back are the gt's."""
    source = tmp_path / "mot"
    write_demo(source, sequences=[
        DemoSequence("train", "DEMO-01", frames=6, width=160, height=120, tracks=4, seed=1),
        DemoSequence("train", "DEMO-02", frames=6, width=160, height=120, tracks=3, seed=2),
    ])
    mot = open_stored(str(FIXTURE_DL3))
    assert mot.kind == KIND_TUTORIAL3
    for ref, name in zip(mot.sequences, ("DEMO-01", "DEMO-02"), strict=True):
        seq = ref.load()
        gt = pd.read_csv(source / "train" / name / "gt" / "gt.txt", header=None)
        want = gt.sort_values([0], kind="stable")[[0, 1, 2, 3, 4, 5]].to_numpy(dtype=np.float64)
        assert seq.gt is not None
        got = seq.gt.rows[["frame", "id", "left", "top", "width", "height"]].to_numpy(dtype=np.float64)
        assert np.array_equal(got, want)
        assert all(Image.open(io.BytesIO(seq.frames.read(k))).size == (160, 120) for k in range(6))


def test_deeplake3_wrong_column_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", str(FIXTURE_DL3), "--columns", "frames=video"]) == 2
    assert "no column 'video'; it has boxes, frames, ids" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ S3


def bucket_state(s3: S3Server, bucket: str) -> dict[str, str]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                          region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def upload(s3: S3Server, folder: Path, bucket: str, prefix: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                          region_name="us-east-1")
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(folder)}")


@pytest.mark.slow
@pytest.mark.s3
def test_audit_each_kind_on_s3(s3_server: S3Server, tmp_path: Path, rows: list[dict[str, list[Any]]],  # noqa: F811
                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    bucket = s3_server.new_bucket()
    source = small_download(tmp_path / "mot", frames=12)
    write_dataset(discover(source), f"s3://{bucket}/ingested", creds=s3_server.creds)
    bad = copy_rows(rows)
    bad[0]["boxes"][1][0, 3] = -2  # row 0, frame 2: a negative height
    write_tutorial4(f"s3://{bucket}/tutorial4", bad, creds=s3_server.creds)
    upload(s3_server, FIXTURE_DL3, bucket, "tutorial3")
    before = bucket_state(s3_server, bucket)
    got = {}
    for prefix in ("ingested", "tutorial4", "tutorial3"):
        code = run(["audit", f"s3://{bucket}/{prefix}", "--endpoint-url", s3_server.endpoint, "--format", "json",
                    "-q", "--no-shipped-expectations"])
        doc = json.loads(capsys.readouterr().out)
        got[prefix] = (code, doc["kind"], [(f["check"], f["sequence"], f["frame"]) for f in doc["findings"]
                                           if f["severity"] == "error"])
    assert got["ingested"] == (0, KIND_MOTQA, [])
    assert got["tutorial4"] == (1, KIND_TUTORIAL4, [("box-size", "row 0", 2)])
    assert got["tutorial3"] == (0, KIND_TUTORIAL3, [])
    assert bucket_state(s3_server, bucket) == before
    assert run(["audit", f"s3://{bucket}/nothing-here", "--endpoint-url", s3_server.endpoint, "-q"]) == 2

