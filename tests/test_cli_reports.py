"""The HTML report from each command: ingest always (also when refused), validate and audit on request."""

from __future__ import annotations

from pathlib import Path

from motqa.cli import run

FAST = ["-q", "--no-shipped-expectations"]


def reports_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("reports/motqa-ingest-*.html"))


def test_ingest_writes_report_by_default(demo_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.deeplake"
    assert run(["ingest", str(demo_root), str(target), *FAST]) == 0
    [report] = reports_in(Path.cwd())
    html = report.read_text()
    assert "written" in html and "wrote" in html and str(target) in html and "DEMO-01" in html


def test_refused_ingest_still_writes_report(make_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_demo("duplicate-id")
    target = tmp_path / "out.deeplake"
    report = tmp_path / "refused.html"
    assert run(["ingest", str(root), str(target), "--report", str(report), *FAST]) == 1
    assert not target.exists()
    html = report.read_text()
    assert "refused" in html and "duplicate-id" in html


def test_audit_report(demo_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.deeplake"
    assert run(["ingest", str(demo_root), str(target), *FAST]) == 0
    report = tmp_path / "audit.html"
    assert run(["audit", str(target), "--report", str(report), *FAST]) == 0
    html = report.read_text()
    assert "motqa-deeplake" in html and "DEMO-02" in html and "<img" in html
