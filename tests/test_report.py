"""The HTML QA report: sampling, drawing, plots, escaping, the CSP, the size budget and the CLI option."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from motqa.catalog import CHECKS
from motqa.cli import run
from motqa.demo import DEFECTS, DemoSequence, default_sequences, plant, write_demo
from motqa.findings import finding
from motqa.gate import GateConfig, GateResult, run_gate
from motqa.report import ReportCollector, default_report_path, library_versions, plots, render_report, write_report
from motqa.report.drawing import track_colour
from motqa.report.samples import SIZE_BINS, pick_frames
from motqa.sources.layout import discover
from tests.helpers import sequence

HOSTILE_FOLDER = "<img src=x onerror=alert(1)>"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_FILE = '"><svg onload=alert(2)>.txt'


# -- the three reports the browser tests open too ---------------------------------------------------

def write_scenario(kind: str, root: Path, width: int = 160, height: int = 120) -> Path:
    """Write a demo download: "clean", "defects" (several findings in every sequence) or "hostile"
    (a sequence folder and seqinfo name made of markup)."""
    if kind == "clean":
        write_demo(root, None, default_sequences(16, width, height))
    elif kind == "defects":
        seqs = default_sequences(16, width, height)
        write_demo(root, "duplicate-id", seqs)  # in train/DEMO-02
        demo1, demo3 = seqs[0], seqs[2]
        plant(root, root / "train" / demo1.name, demo1, "image-unreadable")
        plant(root, root / "train" / demo1.name, demo1, "box-size")
        plant(root, root / "test" / demo3.name, demo3, "missing-image")
        plant(root, root / "test" / demo3.name, demo3, "sequence-name-mismatch")
    elif kind == "hostile":
        seqs = [DemoSequence("train", HOSTILE_FOLDER, 16, width, height, 6, seed=4),
                DemoSequence("train", "DEMO-02", 12, width, height, 4, seed=2)]
        write_demo(root, "duplicate-id", seqs)  # in DEMO-02
        seq_dir = root / "train" / HOSTILE_FOLDER
        info = seq_dir / "seqinfo.ini"
        info.write_text(info.read_text().replace(f"name={HOSTILE_FOLDER}", f"name={HOSTILE_NAME}"))
        (seq_dir / "img1" / HOSTILE_FILE).write_text("not a frame")
    else:
        raise ValueError(kind)
    return root


def gate_with_report(root: Path, collector: ReportCollector | None = None) -> tuple[GateResult, ReportCollector]:
    collector = collector or ReportCollector()
    result = run_gate(discover(root), GateConfig(shipped_expectations=False), observers=(collector,))
    return result, collector


def build_report(kind: str, folder: Path, width: int = 160, height: int = 120) -> tuple[Path, GateResult]:
    """The report of one scenario, written to folder/<kind>.html."""
    root = write_scenario(kind, folder / kind, width, height)
    result, collector = gate_with_report(root)
    path = write_report(folder / f"{kind}.html", result, collector, command=f"motqa validate {root}")
    return path, result


# -- a parser that sees what a browser would build ----------------------------------------------------

class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.blocks: dict[str, list[str]] = {"script": [], "style": []}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.blocks:
            self._in = tag
            self.blocks[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.blocks[self._in][-1] += data


def parse(html: str) -> Tags:
    p = Tags()
    p.feed(html)
    p.close()
    return p


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def assert_safe_page(html: str) -> Tags:
    """One style and one script, both allowed by hash and nothing else; no event handler
    attribute; every image an embedded JPEG that decodes; no URL that leaves the file."""
    page = parse(html)
    assert len(page.blocks["script"]) == 1 and len(page.blocks["style"]) == 1
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1 and csp[0] is not None
    policy = dict(part.strip().split(" ", 1) for part in csp[0].split(";"))
    assert policy["default-src"] == "'none'" and policy["img-src"] == "data:"
    assert policy["style-src"] == _sha256(page.blocks["style"][0])
    assert policy["script-src"] == _sha256(page.blocks["script"][0])
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "style" not in attrs, (tag, attrs)  # the CSP would block inline style attributes
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("#", "data:image/jpeg;base64,")), (tag, name, value[:80])
        if tag == "img":
            data = base64.b64decode(attrs["src"].split(",", 1)[1])  # type: ignore[union-attr]
            with Image.open(io.BytesIO(data)) as im:
                assert im.format == "JPEG"
                im.load()
                assert im.width == int(attrs["width"])  # type: ignore[arg-type]
    return page


# -- sampling -------------------------------------------------------------------------------------------

def test_pick_frames_first_last_and_evenly_spaced() -> None:
    picks = pick_frames(np.arange(1, 101), [], spaced=5, per_check=3, cap=10)
    assert [f for f, _, _ in picks] == [1, 26, 51, 75, 100]
    assert picks[0][1] == ("first", "spaced") and picks[-1][1] == ("last", "spaced")


def test_pick_frames_takes_finding_frames_before_spaced_ones_and_keeps_the_cap() -> None:
    named = [("duplicate-id", 7), ("duplicate-id", 9), ("duplicate-id", 11), ("duplicate-id", 13),
             ("missing-image", 40)]
    picks = pick_frames(np.arange(1, 101), named, spaced=6, per_check=3, cap=6)
    frames = [f for f, _, _ in picks]
    assert len(picks) == 6
    assert {1, 100, 7, 9, 11, 40} == set(frames)  # first, last, 3 per check at most, then the cap
    assert 13 not in frames
    reasons = dict((f, r) for f, r, _ in picks)
    assert reasons[40] == ("missing-image",)


def test_pick_frames_names_frames_that_have_no_file() -> None:
    picks = pick_frames(np.arange(1, 5), [("frame-out-of-range", 30)], spaced=2, per_check=3, cap=10)
    assert 30 in [f for f, _, _ in picks]


def test_unreadable_and_missing_frames_become_placeholders_with_their_boxes() -> None:
    seq = sequence("1,1,10,10,50,80,1,1,1\n3,1,12,10,50,80,1,1,1\n3,2,100,20,40,90,0,7,1\n",
                   frames=[1, 2, 3], length=4)  # frame files read as b"": not images; frame 4 absent

    def broken(i: int) -> bytes:
        if i == 1:
            raise PermissionError(13, "Permission denied")
        return b"\xff\xd8 not really"

    seq.frames.read = broken
    collector = ReportCollector(spaced_samples=3)
    collector(seq, [finding("missing-image", "frame 4 has no image", seq.place(file="img1/000004.jpg", frame=4))])
    report = collector.sequences[0]
    problems = {x.frame: x.problem for x in report.samples}
    assert set(problems) == {1, 2, 3, 4}
    assert "cannot be read: Permission denied" in str(problems[2])
    assert "cannot be shown" in str(problems[1]) and problems[4] == "no image file for frame 4"
    frame3 = next(x for x in report.samples if x.frame == 3)
    assert (frame3.boxes, frame3.ignored) == (2, 1)
    for x in report.samples:
        with Image.open(io.BytesIO(x.thumb.jpeg)) as im:
            assert im.size == (x.thumb.width, x.thumb.height)


def test_a_failing_sequence_leaves_a_note_not_an_exception() -> None:
    seq = sequence("1,1,10,10,50,80,1,1,1\n", length=2)
    seq.frames.numbers = None  # type: ignore[assignment]  # a source bug: the report must not stop the gate
    collector = ReportCollector()
    collector(seq, [])
    assert collector.sequences[0].samples == [] and "no frames sampled" in collector.sequences[0].notes[0]


def test_statistics_for_the_plots() -> None:
    seq = sequence("1,1,10,10,50,80,1,1,1\n2,1,12,10,50,80,1,1,1\n2,2,100,20,40,90,0,7,1\n9,2,0,0,0,5,1,1,1\n",
                   length=3)
    collector = ReportCollector()
    collector(seq, [])
    st = collector.sequences[0].stats
    assert st is not None and st.source == "gt"
    assert st.first_frame == 1 and st.per_frame.tolist() == [1, 2, 0]
    assert st.counted_per_frame is not None and st.counted_per_frame.tolist() == [1, 1, 0]
    assert st.outside == 1  # frame 9 of a 3-frame sequence
    assert sorted(st.track_lengths.tolist()) == [2, 2]
    assert st.size_hist.sum() == 3  # the box of width 0 has no size to plot


# -- the page -------------------------------------------------------------------------------------------

def test_clean_demo_report(tmp_path: Path) -> None:
    path, result = build_report("clean", tmp_path)
    html = path.read_text(encoding="utf-8")
    page = assert_safe_page(html)
    assert "PASSED" in html and "No findings" in html
    for s in result.sequences:
        assert s.label in html
    for name, version in library_versions().items():
        assert f"{name} {version}" in html
    assert f"motqa validate {tmp_path / 'clean'}" in html
    imgs = [a for t, a in page.tags if t == "img"]
    assert len(imgs) >= 3 * 4  # first, last and spaced frames of three sequences
    assert html.count('<svg class="plot"') >= 3 * 2


def test_report_with_findings_lists_every_one(tmp_path: Path) -> None:
    path, result = build_report("defects", tmp_path, 320, 180)
    html = path.read_text(encoding="utf-8")
    page = assert_safe_page(html)
    assert "REFUSED" in html
    rows = [a for t, a in page.tags if t == "tr" and "data-check" in a]
    assert len(rows) == len(result.findings) >= 5
    checks = {f.check for f in result.findings}
    assert {"duplicate-id", "image-unreadable", "box-size", "missing-image", "sequence-name-mismatch"} <= checks
    for f in result.findings:
        assert f.message.replace("&", "&amp;").replace("'", "&#x27;").replace('"', "&quot;") in html
    # The truncated frame is sampled, shown as a placeholder, and its finding links to it.
    anchor = re.search(r'<a href="#(s\d+-\d+)" title="show the sampled frame">3</a>', html)
    assert anchor is not None
    figure = re.search(rf'<figure class="sample problem" id="{anchor.group(1)}">.*?</figure>', html, re.S)
    assert figure is not None and "image-unreadable" in figure.group(0)
    assert "no image file for frame 7" in html  # the deleted frame of DEMO-03
    # every finding links to its check's explanation, which the page holds once
    for check in checks - {c for c in checks if c.startswith("gx-")}:
        assert f'href="#check-{check}"' in html and html.count(f'id="check-{check}"') == 1
        explained = re.search(rf'<div class="check-doc" id="check-{check}">(.*?)</div>', html, re.S)
        assert explained is not None and CHECKS[check].summary.replace("'", "&#x27;") in explained.group(1)


def test_hostile_names_are_shown_as_text(tmp_path: Path) -> None:
    path, result = build_report("hostile", tmp_path)
    html = path.read_text(encoding="utf-8")
    assert any(s.label == f"train/{HOSTILE_FOLDER}" for s in result.sequences)
    assert HOSTILE_FOLDER not in html and HOSTILE_NAME not in html and "<svg onload" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;svg onload=alert(2)&gt;.txt" in html
    page = assert_safe_page(html)
    assert sum(1 for t, _ in page.tags if t == "script") == 1


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_every_demo_defect_gives_a_whole_report(defect: str, make_demo) -> None:  # type: ignore[no-untyped-def]
    root, place = make_demo(defect)
    result, collector = gate_with_report(root)
    html = render_report(result, collector, command="motqa validate x")
    assert_safe_page(html)
    assert len(collector.sequences) == len(result.sequences)
    assert all(not s.notes or not s.notes[0].startswith("no frames sampled") for s in collector.sequences)
    if place is not None and place.frame is not None and any(f.place.frame == place.frame for f in result.findings):
        assert re.search(rf'<b>frame {place.frame}</b>', html), "the frame a finding names is sampled"


def test_size_budget_leaves_out_large_views_then_spaced_frames(tmp_path: Path) -> None:
    root = write_scenario("defects", tmp_path / "mot", 640, 360)
    result, roomy = gate_with_report(root)
    full = render_report(result, roomy, command="x")
    assert 'class="lightbox"' in full and "left out" not in full
    budget = len(full.encode()) // 5
    result, tight = gate_with_report(root, ReportCollector(budget_bytes=budget))
    html = render_report(result, tight, command="x")
    assert len(html.encode()) <= budget
    assert "full-size views of" in html and "sampled frames were left out" in html
    assert_safe_page(html)
    # first, last and the frames findings name first are kept
    kept = re.findall(r'<span class="chip finding">([a-z-]+)</span>', html)
    assert {"duplicate-id", "image-unreadable", "missing-image"} <= set(kept)


def test_write_report_makes_folders_and_leaves_no_temporary(tmp_path: Path) -> None:
    root = write_scenario("clean", tmp_path / "mot")
    result, collector = gate_with_report(root)
    out = write_report(tmp_path / "a" / "b" / "r.html", result, collector, command="motqa validate mot",
                       title="Nightly QA", extra={"target": "s3://bucket/mot17", "outcome": "written"})
    html = out.read_text(encoding="utf-8")
    assert "<title>Nightly QA</title>" in html and "s3://bucket/mot17" in html and "WRITTEN" in html
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]


def test_default_report_path() -> None:
    p = default_report_path("/data/MOT17/train/", "ingest")
    assert p.parent == Path("reports")
    assert re.fullmatch(r"motqa-ingest-train-\d{8}T\d{6}Z\.html", p.name), p.name
    assert re.fullmatch(r"motqa-audit-mot17-v2-\d{8}T\d{6}Z\.html",
                        default_report_path("s3://bucket/mot17 v2", "audit").name)
    assert "<" not in default_report_path(f"/x/{HOSTILE_FOLDER}", "validate").name


def test_versions_come_from_metadata_without_importing_the_libraries() -> None:
    code = ("import sys\nfrom motqa.report import library_versions\nbefore = set(sys.modules)\n"
            "v = library_versions()\n"
            "assert not {'deeplake', 'great_expectations', 'pandera'} & (set(sys.modules) - before)\n"
            "assert v['pillow'] and v['deeplake'] != 'not installed', v\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- drawing and plots ------------------------------------------------------------------------------------

def test_neighbouring_track_ids_get_different_colours() -> None:
    colours = [track_colour(t) for t in range(1, 40)]
    for a, b in itertools.pairwise(colours):
        assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) > 60
    assert track_colour(5) == track_colour(5)


def test_plots_are_well_formed_svg_with_escaped_text() -> None:
    per_frame = np.array([3, 4, 5, 0, 2] * 300)
    svgs = [plots.timeline(1, per_frame, per_frame - (per_frame > 0), [3, 700], title="<b>&"),
            plots.histogram(np.array([1, 5, 5, 9, 40]), "boxes per track", "tracks", "Track lengths"),
            plots.size_map(np.histogram2d(np.log2([30, 40, 60]), np.log2([80, 100, 150]),
                                          bins=[SIZE_BINS, SIZE_BINS])[0], SIZE_BINS),
            plots.timeline(1, np.zeros(5, dtype=np.int64), None, []),
            plots.histogram(np.zeros(0), "x", "y", "Empty")]
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg") and "style" not in svg.split(">", 1)[0]
    assert "&lt;b&gt;&amp;" in svgs[0]
    assert len(re.findall(r"\d+\.\d,\d+\.\d", svgs[0])) <= 2 * 600  # long sequences are reduced


# -- the command line -------------------------------------------------------------------------------------

def test_validate_report_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_scenario("defects", tmp_path / "mot")
    out = tmp_path / "reports" / "qa.html"
    code = run(["validate", str(root), "--report", str(out), "-q"])
    assert code == 1
    html = out.read_text(encoding="utf-8")
    assert "duplicate-id" in html and f"motqa validate {root} --report {out} -q" in html
    assert f"report written to {out}" in capsys.readouterr().err


def test_validate_report_unwritable_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_scenario("clean", tmp_path / "mot")
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run(["validate", str(root), "--report", str(blocker / "r.html"), "-q"]) == 2
    assert "cannot write the report" in capsys.readouterr().err
