"""Layout discovery (root, split, sequence), MOT15 without seqinfo.ini, and path safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from motqa.errors import UsageError
from motqa.gate import GateConfig, run_gate
from motqa.sources.frame_size import frame_size
from motqa.sources.layout import discover, inside


def labels(path: Path) -> list[str]:
    return [r.label for r in discover(path).sequences]


def test_root_split_and_sequence(demo_root: Path) -> None:
    assert labels(demo_root) == ["test/DEMO-03", "train/DEMO-01", "train/DEMO-02"]
    assert labels(demo_root / "train") == ["DEMO-01", "DEMO-02"]
    assert labels(demo_root / "train" / "DEMO-01") == ["DEMO-01"]


def test_missing_path_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such path"):
        discover(tmp_path / "nope")


def test_empty_folder_is_a_finding(tmp_path: Path) -> None:
    ds = discover(tmp_path)
    assert [f.check for f in ds.findings] == ["no-sequences"]


def test_test_split_has_no_gt_finding(demo_root: Path) -> None:
    result = run_gate(discover(demo_root / "test"), GateConfig(images="skip"))
    assert result.findings == [] and result.sequences[0].boxes == 0


def test_mot15_without_seqinfo(demo_root: Path) -> None:
    seq_dir = demo_root / "train" / "DEMO-01"
    (seq_dir / "seqinfo.ini").unlink()
    seq = discover(seq_dir).sequences[0].load()
    assert [f.check for f in seq.findings] == ["seqinfo-missing"]
    assert (seq.info.seq_length, seq.info.im_width, seq.info.im_height) == (16, None, None)
    assert seq.info.origin == "inferred"
    # the size is the first frame's, found by the source's frame-size step (not under --images skip)
    assert frame_size(seq, may_read=False) is not None and seq.info.im_width is None
    assert frame_size(seq, may_read=True) is None
    assert (seq.info.im_width, seq.info.im_height, seq.info.size_from) == (160, 120, "img1/000001.jpg")


@pytest.mark.parametrize("im_dir", ["/etc", "../DEMO-02/img1", "img1/../../DEMO-02/img1", "..", "C:\\frames"])
def test_imdir_leaving_the_sequence_is_unsafe(demo_root: Path, im_dir: str) -> None:
    seq_dir = demo_root / "train" / "DEMO-01"
    ini = seq_dir / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("imDir=img1", f"imDir={im_dir}"))
    seq = discover(seq_dir).sequences[0].load()
    assert [f.check for f in seq.findings] == ["unsafe-path"]
    assert seq.findings[0].place.line == 3 and len(seq.frames) == 0


def test_imdir_symlink_out_is_unsafe(demo_root: Path) -> None:
    seq_dir = demo_root / "train" / "DEMO-01"
    os.symlink(demo_root / "train" / "DEMO-02" / "img1", seq_dir / "frames")
    ini = seq_dir / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("imDir=img1", "imDir=frames"))
    seq = discover(seq_dir).sequences[0].load()
    assert [f.check for f in seq.findings] == ["unsafe-path"]


def test_frame_and_gt_symlinks_out_are_unsafe(demo_root: Path, tmp_path: Path) -> None:
    seq_dir = demo_root / "train" / "DEMO-01"
    secret = tmp_path / "secret.txt"
    secret.write_text("1,1,1,1,1,1,1,1,1\n")
    (seq_dir / "img1" / "000016.jpg").unlink()
    os.symlink(demo_root / "train" / "DEMO-02" / "img1" / "000001.jpg", seq_dir / "img1" / "000016.jpg")
    (seq_dir / "gt" / "gt.txt").unlink()
    os.symlink(secret, seq_dir / "gt" / "gt.txt")
    seq = discover(seq_dir).sequences[0].load()
    unsafe = sorted(f.place.file for f in seq.findings if f.check == "unsafe-path")
    assert unsafe == ["gt/gt.txt", "img1/000016.jpg"]
    assert seq.gt is None and 16 not in seq.frames.numbers


def test_symlink_inside_the_sequence_is_fine(demo_root: Path) -> None:
    seq_dir = demo_root / "train" / "DEMO-01"
    os.rename(seq_dir / "img1", seq_dir / "frames_real")
    os.symlink("frames_real", seq_dir / "img1")
    seq = discover(seq_dir).sequences[0].load()
    assert seq.findings == [] and len(seq.frames) == 16


def test_inside_rules(tmp_path: Path) -> None:
    assert inside(tmp_path, "img1") == tmp_path.resolve() / "img1"
    assert inside(tmp_path, "a/b") is not None
    for bad in ("", "/abs", "..", "a/../../b", "\\\\server\\share"):
        assert inside(tmp_path, bad) is None


def test_stray_files_are_info(demo_root: Path) -> None:
    seq_dir = demo_root / "train" / "DEMO-01"
    (seq_dir / "img1" / "Thumbs.db").write_bytes(b"x")
    (seq_dir / "img1" / "000001.png").write_bytes(b"x")
    seq = discover(seq_dir).sequences[0].load()
    assert sorted(f.place.file for f in seq.findings if f.check == "stray-file") == [
        "img1/000001.png", "img1/Thumbs.db"]


def test_gt_that_is_a_directory(demo_root: Path) -> None:
    seq_dir = demo_root / "train" / "DEMO-01"
    (seq_dir / "gt" / "gt.txt").unlink()
    (seq_dir / "gt" / "gt.txt").mkdir()
    seq = discover(seq_dir).sequences[0].load()
    assert [f.check for f in seq.findings] == ["file-unreadable"]


def test_missing_gt_in_train_is_info(demo_root: Path) -> None:
    seq_dir = demo_root / "train" / "DEMO-01"
    (seq_dir / "gt" / "gt.txt").unlink()
    seq = discover(demo_root).sequences[1].load()
    assert [f.check for f in seq.findings] == ["gt-missing"]


def test_read_capped_reads_what_the_file_holds_and_no_more_than_the_cap(tmp_path: Path) -> None:
    import io

    from motqa.sources.tree import read_capped

    data = bytes(range(256)) * 40  # 10,240 bytes
    assert read_capped(io.BytesIO(data), len(data), 1 << 20) == data
    assert read_capped(io.BytesIO(data), 100, 1 << 20) == data  # grew since its stat: all of it
    assert read_capped(io.BytesIO(data), 100, 5000) == data[:5001]  # grew past the cap: cap + 1
    assert read_capped(io.BytesIO(data), len(data), 5000) == data[:5001]
    assert read_capped(io.BytesIO(b""), 0, 10) == b""
