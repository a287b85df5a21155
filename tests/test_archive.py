"""A download's zip or tar read in place: the same findings (paths aside) as the folder it came
from, located at member paths; damaged and hostile archives are located errors, never
tracebacks, and nothing is extracted."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from motqa.demo_formats import write_archive
from motqa.gate import GateConfig, run_gate
from motqa.sources.layout import discover


def _gate(path: Path, **kw):  # type: ignore[no-untyped-def]
    return run_gate(discover(path), GateConfig(expectations=[], **kw))


def _of(result, label: str) -> list:  # type: ignore[no-untyped-def]
    return [f for f in result.findings if f.place.sequence == label]


def _strip(findings, prefix: str) -> list[tuple[str, str | None, str | None, int | None, int | None, int | None]]:  # type: ignore[no-untyped-def]
    """Findings as tuples, the archive's member-path prefix taken off file names and messages."""
    out = []
    for f in findings:
        file = f.place.file
        if file is not None and file.startswith(prefix):
            file = file[len(prefix):]
        out.append((f.check, f.message.replace(prefix, ""), f.place.sequence, file, f.place.line,
                    f.place.frame, f.place.track_id))
    return sorted(out, key=repr)


def _prefix(label: str) -> str:
    return f"mot/{label}/"


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
@pytest.mark.parametrize("defect", [None, "box-outside-image", "missing-image", "image-unreadable", "duplicate-id"])
def test_an_archive_gives_the_folders_findings(make_demo, tmp_path: Path, kind: str, defect: str | None) -> None:
    root, place = make_demo(defect)
    folder = _gate(root)
    archive = write_archive(root, tmp_path / f"mot.{kind}", top="mot")
    zipped = _gate(archive)
    assert [s.label for s in zipped.sequences] == [s.label for s in folder.sequences]
    for seq_folder, seq_zip in zip(folder.sequences, zipped.sequences, strict=True):
        prefix = _prefix(seq_zip.label)
        want = _strip(_of(folder, seq_folder.label), "")
        assert _strip(_of(zipped, seq_zip.label), prefix) == want
    assert zipped.valid == folder.valid == (defect is None)
    if place is not None:  # the finding names the member
        hit = [f for f in zipped.findings if f.place.line == place.line and f.place.frame == place.frame
               and f.place.sequence == place.sequence]
        assert hit and all(f.place.file is not None and f.place.file.startswith(_prefix(place.sequence or ""))
                           for f in hit)


def test_a_finding_names_the_member_path(make_demo, tmp_path: Path) -> None:
    root, place = make_demo("box-outside-image")
    archive = write_archive(root, tmp_path / "MOT17.zip", top="MOT17")
    out = subprocess.run([sys.executable, "-m", "motqa", "validate", str(archive), "--no-shipped-expectations"],
                         capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    assert f"MOT17/{place.sequence}/gt/gt.txt:{place.line}" in out.stdout
    assert "Traceback" not in out.stderr


def test_an_archive_without_a_top_folder_is_its_own_root(demo_root: Path, tmp_path: Path) -> None:
    archive = write_archive(demo_root, tmp_path / "MOT17.zip", top=None)
    result = _gate(archive)
    assert result.valid, [str(f) for f in result.findings]
    assert {s.label.split("/")[0] for s in result.sequences} == {"train", "test"}
    assert result.sequences[0].benchmark == "MOT17"  # recognised from the archive's name


def _cut(archive: Path, keep: float, to: Path) -> Path:
    data = archive.read_bytes()
    to.write_bytes(data[: int(len(data) * keep)])
    return to


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_a_truncated_archive_is_a_located_error_and_the_rest_is_checked(demo_root: Path, tmp_path: Path,
                                                                       kind: str) -> None:
    archive = write_archive(demo_root, tmp_path / f"mot.{kind}", top="mot")
    cut = _cut(archive, 0.6, tmp_path / f"cut.{kind}")
    out = subprocess.run([sys.executable, "-m", "motqa", "validate", str(cut), "--no-shipped-expectations",
                          "--format", "json"], capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    report = json.loads(out.stdout)
    checks = {f["check"] for f in report["findings"]}
    assert "archive-unreadable" in checks
    unreadable = next(f for f in report["findings"] if f["check"] == "archive-unreadable")
    assert unreadable["file"] == f"cut.{kind}" and "cut short" in unreadable["message"]
    assert len(report["sequences"]) >= 1  # what arrived was still checked


def test_a_zip_cut_inside_a_member_names_that_member(demo_root: Path, tmp_path: Path) -> None:
    archive = write_archive(demo_root, tmp_path / "mot.zip", top="mot")
    with zipfile.ZipFile(archive) as zf:
        frame = next(i for i in zf.infolist() if i.filename.endswith("img1/000009.jpg"))
    end = frame.header_offset + 30 + len(frame.filename) + frame.compress_size // 2
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[:end])
    result = _gate(cut, images="decode")
    hit = [f for f in result.findings if f.check == "image-unreadable"]
    assert [f.place.file for f in hit] == [frame.filename]
    assert "cut short" in hit[0].message
    assert not result.valid


def test_a_bad_crc_is_the_members_finding(demo_root: Path, tmp_path: Path) -> None:
    archive = write_archive(demo_root, tmp_path / "mot.zip", top="mot", stored=True)
    with zipfile.ZipFile(archive) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("gt/gt.txt"))
    data = bytearray(archive.read_bytes())
    at = info.header_offset + 30 + len(info.filename) + 3
    data[at] = ord("9") if data[at] != ord("9") else ord("8")  # still a digit: only the CRC can tell
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    result = _gate(bad)
    hit = [f for f in result.findings if f.check == "file-unreadable"]
    assert [f.place.file for f in hit] == [info.filename]
    assert "CRC" in hit[0].message


def test_a_damaged_central_directory_is_listed_from_local_headers(demo_root: Path, tmp_path: Path) -> None:
    archive = write_archive(demo_root, tmp_path / "mot.zip", top="mot")
    data = bytearray(archive.read_bytes())
    cd = data.rfind(b"PK\x05\x06")  # the end of central directory record
    data[cd:cd + 4] = b"XXXX"
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    result = _gate(bad)
    assert [f.check for f in result.findings if f.severity.name == "ERROR"] == ["archive-unreadable"]
    assert len(result.sequences) == 3  # every member was recovered and checked


def _zip_with(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]], base: Path | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        if base is not None:
            for f in sorted(base.rglob("*")):
                if f.is_file():
                    zf.write(f, "mot/" + f.relative_to(base).as_posix())
        for info, data in members:
            zf.writestr(info, data)
    return path


def _link(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    info.create_system = 3
    return (info, target.encode())  # type: ignore[return-value]


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "mot/../../evil.txt", "C:/evil.txt",
                                  "mot\\..\\..\\evil.txt"])
def test_a_member_that_leaves_the_target_is_refused(demo_root: Path, tmp_path: Path, name: str) -> None:
    bad = _zip_with(tmp_path / "bad.zip", [(name, b"x")], demo_root)
    result = _gate(bad)
    refused = [f for f in result.findings if f.check == "archive-member-refused"]
    assert len(refused) == 1 and name in refused[0].message and refused[0].place.file == f"bad.zip:{name}"
    assert not result.valid
    assert not (tmp_path / "evil.txt").exists() and not Path("/etc/evil.txt").exists()


def test_a_link_member_is_refused_and_never_followed(demo_root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("1,1,1,1,1,1,1,1,1\n")
    gt = demo_root / "train" / "DEMO-02" / "gt" / "gt.txt"
    gt.unlink()  # the link stands in for DEMO-02's gt
    bad = _zip_with(tmp_path / "bad.zip", [_link("mot/train/DEMO-02/gt/gt.txt", str(secret))], demo_root)
    result = _gate(bad)
    refused = [f for f in result.findings if f.check == "archive-member-refused"]
    assert len(refused) == 1 and "link" in refused[0].message, [str(f) for f in result.findings]
    seq = next(s for s in result.sequences if s.name == "DEMO-02")
    assert seq.boxes == 0  # the link's target was never read as gt


def test_a_name_given_twice_is_refused(demo_root: Path, tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate it writes
        bad = _zip_with(tmp_path / "bad.zip", [("mot/train/DEMO-02/gt/gt.txt", b"1,1,1,1,5,5,1,1,1\n")], demo_root)
    result = _gate(bad)
    refused = [f for f in result.findings if f.check == "archive-member-refused"]
    assert len(refused) == 1 and "twice" in refused[0].message


def test_a_zip_bomb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A member whose central directory claims far more than its compressed bytes can hold."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mot/seq/gt/gt.txt", b"1,1,1,1,5,5,1,1,1\n" * 10)
    data = bytearray(buf.getvalue())
    cd = data.find(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (2**32 - 2).to_bytes(4, "little")  # uncompressed size: 4 GiB
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(bytes(data))
    result = _gate(bomb)
    refused = [f for f in result.findings if f.check == "archive-member-refused"]
    assert len(refused) == 1 and "zip bomb" in refused[0].message


def test_a_deflate_bomb_is_read_no_further_than_its_cap(tmp_path: Path) -> None:
    """A real high-ratio member (zeros) over the cap for gt.txt is file-unreadable, not read."""
    from motqa.sources.mot_files import MAX_TABLE_BYTES

    path = tmp_path / "zeros.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mot/seq/seqinfo.ini", b"[Sequence]\nname=seq\nseqLength=1\n")
        zf.writestr("mot/seq/gt/gt.txt", b"\0" * (MAX_TABLE_BYTES + 1))
    result = _gate(path)
    assert any(f.check == "file-unreadable" and "larger than" in f.message for f in result.findings)


def test_an_encrypted_member_is_refused(demo_root: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mot/seq/gt/gt.txt", b"1,1,1,1,5,5,1,1,1\n")
    data = bytearray(buf.getvalue())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(sig) + flag_at
        data[at] |= 1
    path = tmp_path / "enc.zip"
    path.write_bytes(bytes(data))
    result = _gate(path)
    assert any(f.check == "archive-member-refused" and "encrypted" in f.message for f in result.findings)


def test_tar_links_and_devices_are_refused(demo_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.tar"
    with tarfile.open(path, "w") as tf:
        tf.add(demo_root, arcname="mot")
        link = tarfile.TarInfo("mot/train/DEMO-02/det/det.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
        dev = tarfile.TarInfo("mot/train/DEMO-02/gt/x")
        dev.type = tarfile.CHRTYPE
        tf.addfile(dev)
    result = _gate(path)
    refused = sorted(f.message for f in result.findings if f.check == "archive-member-refused")
    assert len(refused) == 2 and any("/etc/passwd" in m for m in refused), refused  # the link, a device


def test_nothing_is_written_beside_the_archive(demo_root: Path, tmp_path: Path) -> None:
    archive = write_archive(demo_root, tmp_path / "z" / "mot.zip", top="mot")
    before = sorted(os.listdir(archive.parent))
    _gate(archive, images="decode")
    assert sorted(os.listdir(archive.parent)) == before


def test_not_an_archive_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    out = subprocess.run([sys.executable, "-m", "motqa", "validate", str(path)], capture_output=True, text=True)
    assert out.returncode == 2 and "not a folder or an archive" in out.stderr and "Traceback" not in out.stderr


def test_a_file_named_zip_that_is_not_one_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "MOT17.zip"
    path.write_bytes(b"<html>404 not found</html>")
    result = _gate(path)
    assert [f.check for f in result.findings if f.severity.name == "ERROR"] == ["archive-unreadable", "no-sequences"]


def test_a_zip_ingests_the_folders_dataset_byte_for_byte(demo_root: Path, tmp_path: Path) -> None:
    import deeplake

    from .test_ingest import assert_matches_source

    archive = write_archive(demo_root, tmp_path / "MOT17.zip", top="MOT17")
    lake = tmp_path / "lake"
    out = subprocess.run([sys.executable, "-m", "motqa", "ingest", str(archive), str(lake), "--quiet",
                          "--no-shipped-expectations"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_matches_source(deeplake.open_read_only(str(lake)), demo_root)
    assert sorted(os.listdir(tmp_path)) == ["MOT17.zip", "lake", "mot"]  # nothing extracted


def test_tar_hard_links_inside_the_archive_are_read_as_their_target(demo_root: Path, tmp_path: Path) -> None:
    """tar stores a hard-linked file once, the second name as a link to the first (frames that
    share bytes, as a folder of hard links gives): the link reads the first member's bytes."""
    frames = sorted((demo_root / "train" / "DEMO-01" / "img1").iterdir())
    frames[-1].unlink()
    os.link(frames[0], frames[-1])
    folder = _gate(demo_root, images="decode")
    for kind in ("tar", "tar.gz"):
        path = tmp_path / f"linked.{kind}"
        with tarfile.open(path, "w:gz" if kind == "tar.gz" else "w") as tf:
            tf.add(demo_root, arcname="mot")
        with tarfile.open(path) as tf:
            assert any(m.islnk() for m in tf.getmembers())
        result = _gate(path, images="decode")
        assert not [f for f in result.findings if f.check == "archive-member-refused"], kind
        assert _strip(result.findings, "mot/") == _strip(folder.findings, ""), kind


def test_refused_members_of_one_kind_are_one_folded_finding(demo_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w") as tf:
        tf.add(demo_root, arcname="mot")
        for k in range(30):
            link = tarfile.TarInfo(f"mot/extra/{k:02d}.jpg")
            link.type, link.linkname = tarfile.SYMTYPE, f"/somewhere/{k}.jpg"
            tf.addfile(link)
    refused = [f for f in _gate(path).findings if f.check == "archive-member-refused"]
    assert len(refused) == 1 and refused[0].count == 30 and "/somewhere/0.jpg" in refused[0].message


def test_results_are_checked_against_a_zipped_gt(tmp_path: Path) -> None:
    from motqa.demo import default_sequences, write_demo, write_results

    seqs = default_sequences(frames=16, width=160, height=120)
    write_demo(tmp_path / "gt", sequences=seqs)
    write_results(tmp_path / "res", [s for s in seqs if s.with_gt])
    archive = write_archive(tmp_path / "gt", tmp_path / "MOT17-train.zip", top="gt")

    def results(gt: Path) -> tuple[int, list[tuple[str, str | None]]]:
        out = subprocess.run([sys.executable, "-m", "motqa", "results", str(tmp_path / "res"), "--gt", str(gt),
                              "--format", "json"], capture_output=True, text=True)
        assert "Traceback" not in out.stderr, out.stderr
        return out.returncode, sorted((f["check"], f["sequence"]) for f in json.loads(out.stdout)["findings"])

    assert results(archive) == results(tmp_path / "gt")


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_damaged_archives_never_raise(tmp_path: Path, kind: str) -> None:
    """Archives cut at random places and with random bytes changed (a fixed seed): the gate gives
    findings, never an exception; a file no longer recognised as an archive is a usage error."""
    import random

    from motqa.demo import default_sequences, write_demo
    from motqa.errors import UsageError

    root = tmp_path / "mot"
    write_demo(root, sequences=default_sequences(frames=12, width=64, height=48))
    data = write_archive(root, tmp_path / f"a.{kind}", top="mot").read_bytes()
    rng = random.Random(kind)
    for k in range(15):
        damaged = bytearray(data[: rng.randrange(len(data))] if k % 3 != 1 else data)
        for _ in range(rng.randint(0 if k % 3 == 0 else 1, 20)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path = tmp_path / f"damaged-{k}.{kind}"
        path.write_bytes(bytes(damaged))
        try:
            ds = discover(path)
        except UsageError:
            continue
        result = run_gate(ds, GateConfig(expectations=[], images="decode"))
        assert result.sequences or result.findings, k
