"""The check catalog's documentation (motqa/data/checks.toml): every check says why it matters, shows a
failing example with the finding motqa prints for it, and says how to fix it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from motqa.catalog import CHECKS
from motqa.cli import run
from motqa.demo import DEFECTS, write_demo

# A finding line as the text reporter prints it: severity padded to 7, check id padded to 22, place: message.
FINDING_LINE = re.compile(r"^(error|warning|info) +([a-z0-9-]+) +\S.*: .+$")
# How long each part may be, in lines: a page a user reads right after the finding, not a manual.
LINES = {"why": (2, 5), "example": (2, 8), "fix": (1, 4)}


def finding_lines(example: str) -> list[tuple[str, str, str]]:
    """(line, severity, check id) of every line of `example` that quotes a motqa finding."""
    return [(line, m.group(1), m.group(2)) for line in example.splitlines() if (m := FINDING_LINE.match(line))]


@pytest.mark.parametrize("cid", CHECKS)
def test_every_check_is_documented(cid: str) -> None:
    info = CHECKS[cid]
    for part, (low, high) in LINES.items():
        text = getattr(info, part).strip()
        assert text, f"[{cid}] has no {part}"
        assert low <= len(text.splitlines()) <= high, f"[{cid}] {part}: {len(text.splitlines())} lines"
    page = info.doc()
    assert all(title in page for title in ("Why it matters:", "Example:", "How to fix it:"))


@pytest.mark.parametrize("cid", CHECKS)
def test_example_quotes_its_own_finding(cid: str) -> None:
    """The example shows the finding of its own check, at its default severity, as motqa prints it;
    other quoted findings (the missing-image errors a frame-count-mismatch brings) are catalog ids."""
    info = CHECKS[cid]
    quoted = finding_lines(info.example)
    own = [line for line, _, check in quoted if check == cid]
    assert own, f"[{cid}] example quotes no {cid} finding: {[c for _, _, c in quoted]}"
    for line, severity, check in quoted:
        assert check in CHECKS, f"[{cid}] example quotes an unknown check {check!r}"
        assert severity == str(CHECKS[check].severity), f"[{cid}] {check} is {CHECKS[check].severity}: {line}"
        assert line.startswith(f"{severity:7} {check:22} "), f"[{cid}] not as the text reporter pads it: {line}"


def test_a_finding_line_of_another_check_is_told_apart() -> None:
    example = ("train/X/gt/gt.txt, line 2:\n5,2,1,1,0,1,1,1,1\n"
               "error   box-size               train/X gt/gt.txt:2 frame 5 id 2: box width is 0; a box needs ...\n")
    assert [c for _, _, c in finding_lines(example)] == ["box-size"]
    assert finding_lines("5,2,1,1,0,1,1,1,1\nerror: not a finding line\n") == []


DEMO_EXAMPLES = [cid for cid in DEFECTS if "train/DEMO-02" in CHECKS[cid].example]


@pytest.mark.slow  # writes and validates one demo download per defect
@pytest.mark.parametrize("cid", DEMO_EXAMPLES)
def test_demo_examples_are_what_motqa_prints(cid: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A quoted finding of the demo download (`motqa demo DIR --defect ID`) is the line motqa prints."""
    write_demo(tmp_path / "demo", cid)
    images = "decode" if CHECKS[cid].reads == "frames" else "skip"  # frames are read only for image checks
    run(["validate", str(tmp_path / "demo"), "--images", images, "--no-shipped-expectations", "-q"])
    printed = capsys.readouterr().out.splitlines()
    quoted = [line for line, _, _ in finding_lines(CHECKS[cid].example) if "train/DEMO-02" in line]
    assert quoted
    for line in quoted:
        assert line in printed, f"[{cid}] motqa printed:\n" + "\n".join(printed)
