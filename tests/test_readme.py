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


def _table(section: str) -> list[list[str]]:
    """The rows of the first table after the heading `section`, cells stripped of backticks."""
    lines = README.read_text().split(section, 1)[1].splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        table.append([c.strip().strip("`") for c in line.strip("|").split("|")])
    return table[2:]  # past the header and the |---| line


def test_checks_table_is_the_registry() -> None:
    from motqa.catalog import CHECKS

    rows = _table("### The checks\n")
    assert [r[0] for r in rows] == list(CHECKS), "README's checks table: the registry's ids, in its order"
    assert {r[0]: r[1] for r in rows} == {c.id: str(c.severity) for c in CHECKS.values()}


def test_benchmark_table_is_the_profiles() -> None:
    from motqa.profiles import profiles

    rows = {r[0]: r for r in _table("### Benchmarks\n")}
    assert list(rows) == list(profiles())
    for name, p in profiles().items():
        _, _, id_base, _, _, fields, every = rows[name]
        assert int(id_base) == p.id_min, name
        assert fields.split(" or ") == [str(w) for w in p.gt_columns], name
        assert every.startswith("yes" if p.every_frame_annotated else "no"), name
