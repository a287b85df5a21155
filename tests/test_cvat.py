"""CVAT's MOT 1.1 export (gt/labels.txt, img1/ with the task's image names, no seqinfo.ini), as a
folder or its zip: recognised, frames matched to images as CVAT's exporter numbers them, classes
named from labels.txt, its quirks found at their place, ingested with its labels and audited."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from motqa.demo_formats import CVAT_DEFECTS, CVAT_LABELS, write_cvat
from motqa.gate import GateConfig, run_gate
from motqa.sources.layout import discover, load_sequence


def _gate(path: Path, **kw):  # type: ignore[no-untyped-def]
    return run_gate(discover(path), GateConfig(**kw))


def _validate(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "motqa", "validate", str(path), "--format", "json", *extra],
                          capture_output=True, text=True)


@pytest.mark.parametrize("name", ["task", "task.zip"])
def test_a_clean_export_passes_under_the_cvat_profile(tmp_path: Path, name: str) -> None:
    write_cvat(tmp_path / name, frames=20)
    out = _validate(tmp_path / name)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["counts"] == {"error": 0, "warning": 0, "info": 0}, report["findings"]
    (seq,) = report["sequences"]
    assert seq["benchmark"] == "CVAT" and "CVAT MOT 1.1" in seq["benchmark_reason"]
    assert seq["labels"] == list(CVAT_LABELS)
    assert seq["frames"] == seq["seq_length"] == 20 and (seq["width"], seq["height"]) == (640, 360)


def _task(root: Path, images: list[str], gt: str, labels: str = "person\ncar\n") -> Path:
    (root / "img1").mkdir(parents=True)
    (root / "gt").mkdir()
    for name in images:
        buf = io.BytesIO()
        Image.new("RGB", (32, 24)).save(buf, format="PNG" if name.endswith(".png") else "JPEG")
        (root / "img1" / name).write_bytes(buf.getvalue())
    (root / "gt" / "gt.txt").write_text(gt)
    (root / "gt" / "labels.txt").write_text(labels)
    return root


def test_frames_are_matched_to_images_in_cvats_order(tmp_path: Path) -> None:
    """Names that are not numbers: frame k is the k-th image in sorted ("lexicographical") order,
    whatever its format; a name that is a number is that frame."""
    root = _task(tmp_path / "t", ["street_b.jpg", "street_a.jpg", "street_c.png", "notes.txt"],
                 "1,1,1,1,5,5,1,1,1\n")
    seq = load_sequence(root, None)
    assert seq.layout == "CVAT" and seq.labels == ("person", "car")
    assert seq.frames.numbers.tolist() == [1, 2, 3]
    assert seq.frames.names == ["img1/street_a.jpg", "img1/street_b.jpg", "img1/street_c.png"]
    assert seq.frames.read(2) == (root / "img1" / "street_c.png").read_bytes()
    assert [f.check for f in seq.findings] == ["stray-file"]  # notes.txt, not an image
    assert seq.info.seq_length == 3


def test_classes_are_named_from_labels_and_an_unknown_one_is_found(tmp_path: Path) -> None:
    root = _task(tmp_path / "t", ["frame_000000.jpg", "frame_000001.jpg"],
                 "1,1,1.0,1.0,5.0,5.0,1,2,1.0\n2,1,1.0,1.0,5.0,5.0,1,3,1.0\n")
    result = _gate(root, expectations=[], shipped_expectations=False)
    hit = [f for f in result.findings if f.check == "class-unknown"]
    assert [(f.place.file, f.place.line) for f in hit] == [("gt/gt.txt", 2)]
    assert "1 person" in hit[0].message and "2 car" in hit[0].message


def test_a_box_outside_any_track_is_named_as_cvat_writes_it(tmp_path: Path) -> None:
    root = _task(tmp_path / "t", ["frame_000000.jpg"], "1,1,1.0,1.0,5.0,5.0,1,1,1.0\n1,-1,9.0,9.0,5.0,5.0,1,1,1.0\n")
    hit = [f for f in _gate(root, expectations=[], shipped_expectations=False).findings if f.check == "id-invalid"]
    assert [(f.place.line, f.place.track_id) for f in hit] == [(2, -1)]
    assert "outside any track" in hit[0].message


@pytest.mark.parametrize("defect", CVAT_DEFECTS)
def test_each_cvat_quirk_is_found_at_its_place(tmp_path: Path, defect: str) -> None:
    place = write_cvat(tmp_path / "task", defect, frames=30)
    assert place is not None
    result = _gate(tmp_path / "task")
    hit = [f for f in result.findings if f.check == defect]
    assert len(hit) == 1, [str(f) for f in result.findings]
    assert (hit[0].place.file, hit[0].place.line) == (place.file, place.line)
    others = {f.check for f in result.findings if f.severity.name in ("ERROR", "WARNING")} - {defect}
    # frames from 0 are said in gt.txt and by the image names: the first file is frame 0, and a
    # reader of 1..seqLength misses the last (each message says the shift)
    assert others == ({"frame-numbering", "missing-image"} if defect == "frames-zero-based" else set()), others
    assert result.valid == (defect == "tracks-keyframes-only")  # a warning: the gate passes


def test_keyframe_tracks_are_looked_for_in_exports_only(make_demo) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo()
    gt = root / "train" / "DEMO-01" / "gt" / "gt.txt"
    rows = [line for line in gt.read_text().splitlines()
            if line.split(",")[1] != "1" or int(line.split(",")[0]) % 3 == 1]
    gt.write_text("\n".join(rows) + "\n")
    result = _gate(root, expectations=[], shipped_expectations=False)
    assert not [f for f in result.findings if f.check == "tracks-keyframes-only"]


def test_an_export_ingests_with_its_labels_and_audits_clean(tmp_path: Path) -> None:
    import deeplake

    from motqa.deeplake.layout import META_BENCHMARK, META_CLASSES
    from motqa.deeplake.read import settle_get_bytes

    task = tmp_path / "task.zip"
    write_cvat(task, frames=16)
    lake = tmp_path / "lake"
    out = subprocess.run([sys.executable, "-m", "motqa", "ingest", str(task), str(lake), "--quiet"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    ds = deeplake.open_read_only(str(lake))
    assert ds.metadata[META_BENCHMARK] == "CVAT"
    assert json.loads(ds.metadata[META_CLASSES]) == {"task": {"1": "person", "2": "car"}}
    import zipfile

    with zipfile.ZipFile(task) as zf:
        want = [zf.read(f"img1/frame_{k:06d}.jpg") for k in range(16)]
    got = [bytes(b) for b in ds["frames"].get_bytes(slice(0, len(ds)))]  # a row per frame
    settle_get_bytes()
    assert got == want  # the members' bytes, in CVAT's frame order
    del ds
    audit = subprocess.run([sys.executable, "-m", "motqa", "audit", str(lake), "--format", "json"],
                           capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    (seq,) = json.loads(audit.stdout)["sequences"]
    assert seq["benchmark"] == "CVAT" and seq["labels"] == list(CVAT_LABELS)
