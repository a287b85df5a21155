"""The README's Python example runs as written against a dataset the demo ingests."""

from __future__ import annotations

import re
from pathlib import Path

from motqa.cli import run

README = Path(__file__).resolve().parents[1] / "README.md"


def test_reading_back_example_runs(demo_root: Path) -> None:
    assert run(["ingest", str(demo_root), "demo-mot.deeplake", "-q", "--no-shipped-expectations"]) == 0
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    example = next(b for b in blocks if "read_frame" in b)
    scope: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), scope)  # runs in the test's own folder
    f = scope["f"]
    assert f.number == 10 and f.jpeg[:2] == b"\xff\xd8"  # type: ignore[attr-defined]
    frames = list(scope["training_frames"](scope["ds"]))  # type: ignore[operator]
    assert len(frames) == 16 + 12 and frames[0][1].shape[1] == 4
