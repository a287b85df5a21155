"""The HTML report in a real headless Chromium (Debian's, driven by Playwright): every image loads,
no dialog fires, nothing is fetched, the findings are listed and the filter works."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.test_report import HOSTILE_FILE, HOSTILE_FOLDER, HOSTILE_NAME, build_report

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@dataclass
class Visit:
    page: Any
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report-screenshots")


def open_report(browser: Any, path: Path) -> Visit:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    visit = Visit(page)

    def on_dialog(d: Any) -> None:
        visit.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda r: visit.requests.append(r.url))
    page.on("console", lambda m: visit.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: visit.console.append(f"pageerror: {e}"))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return visit


def assert_loads_safely(visit: Visit, path: Path) -> None:
    page = visit.page
    images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    assert images, "the report shows no image"
    assert [alt for complete, width, alt in images if not (complete and width > 0)] == []
    page.wait_for_timeout(200)  # a handler set by injected markup would have fired by now
    assert visit.dialogs == []
    assert [u for u in visit.requests if not u.startswith(("data:", "file:"))] == []
    assert [u for u in visit.requests if u.startswith("file:")] == [path.resolve().as_uri()]
    # A CSP violation (a blocked style or script) shows in the console: there must be none.
    assert [m for m in visit.console if m.startswith(("error", "pageerror", "warning"))] == []
    # the hashed style and script ran: styles apply, the filter bar was revealed
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "block"


def screenshot(visit: Visit, shots: Path, name: str) -> Path:
    out = shots / f"{name}.png"
    visit.page.screenshot(path=str(out), full_page=True)
    print(f"screenshot: {out}")
    return out


def visible_rows(page: Any) -> list[dict[str, str]]:
    return page.evaluate("""Array.from(document.querySelectorAll('#findings-table tbody tr'))
        .filter(r => !r.hidden && r.offsetParent !== null)
        .map(r => ({check: r.cells[1].innerText, seq: r.cells[2].innerText}))""")


def test_clean_report_in_chromium(browser: Any, tmp_path: Path, shots: Path) -> None:
    path, _ = build_report("clean", tmp_path, 640, 360)
    visit = open_report(browser, path)
    assert_loads_safely(visit, path)
    page = visit.page
    assert page.inner_text(".verdict") == "PASSED"
    assert "No findings" in page.inner_text("#findings")
    screenshot(visit, shots, "clean")
    # a thumbnail opens the frame larger (a :target lightbox, no script needed) and closes again
    thumb = page.locator("a.thumb").first
    target = thumb.get_attribute("href")
    thumb.click()
    box = page.locator(f"div.lightbox{target}")
    assert box.is_visible()
    natural = box.locator("img").evaluate("i => i.naturalWidth")
    assert natural > int(page.locator("a.thumb img").first.evaluate("i => i.naturalWidth"))
    page.screenshot(path=str(shots / "clean-lightbox.png"))
    page.keyboard.press("Escape")
    assert not box.is_visible()
    page.close()


def test_report_with_findings_in_chromium(browser: Any, tmp_path: Path, shots: Path) -> None:
    path, result = build_report("defects", tmp_path, 640, 360)
    visit = open_report(browser, path)
    assert_loads_safely(visit, path)
    page = visit.page
    assert page.inner_text(".verdict") == "REFUSED"
    assert page.locator("#filters").is_visible()
    rows = visible_rows(page)
    assert len(rows) == len(result.findings) >= 5
    text = page.inner_text("#findings")
    for f in result.findings:
        assert f.check in text and f.message in text
    assert f"{len(rows)} of {len(rows)} findings shown" in text
    screenshot(visit, shots, "defects")

    options = page.locator("#filters select[name=check] option").all_inner_texts()
    page.select_option("#filters select[name=check]", label=next(o for o in options if o.startswith("duplicate-id")))
    shown = visible_rows(page)
    assert shown and {r["check"] for r in shown} == {"duplicate-id"}
    assert len(shown) == sum(1 for f in result.findings if f.check == "duplicate-id")
    page.select_option("#filters select[name=check]", value="")
    seq_label = next(o for o in page.locator("#filters select[name=seq] option").all_inner_texts()
                     if o.startswith("train/DEMO-01"))
    page.select_option("#filters select[name=seq]", label=seq_label)
    shown = visible_rows(page)
    assert shown and {r["seq"] for r in shown} == {"train/DEMO-01"}
    assert len(shown) == sum(1 for f in result.findings if f.sequence == "train/DEMO-01")
    page.locator("#filters").screenshot(path=str(shots / "defects-filtered-bar.png"))
    page.locator("#findings-table").screenshot(path=str(shots / "defects-filtered.png"))
    page.click("#f-reset")
    assert len(visible_rows(page)) == len(result.findings)

    # the finding's frame link leads to the sampled frame, drawn as a placeholder
    page.click("#findings-table a[title='show the sampled frame']")
    anchor = page.evaluate("location.hash")
    assert page.locator(f"figure{anchor}").is_visible()
    page.locator("section.seq").nth(1).screenshot(path=str(shots / "defects-sequence.png"))
    page.close()


def test_hostile_names_in_chromium(browser: Any, tmp_path: Path, shots: Path) -> None:
    path, _ = build_report("hostile", tmp_path, 640, 360)
    visit = open_report(browser, path)
    assert_loads_safely(visit, path)
    page = visit.page
    body = page.inner_text("body")
    assert f"train/{HOSTILE_FOLDER}" in body  # shown as text
    assert HOSTILE_NAME in body and HOSTILE_FILE in body
    # the markup built no element: one script (ours), every image ours, no svg but the plots'
    assert page.evaluate("document.scripts.length") == 1
    assert page.evaluate("Array.from(document.images).every(i => i.src.startsWith('data:image/jpeg;base64,'))")
    assert page.evaluate("document.querySelectorAll('svg:not(.plot)').length") == \
        page.evaluate("document.querySelectorAll('.legend svg').length")
    assert page.evaluate("Array.from(document.querySelectorAll('*')).filter("
                         "e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length") == 0
    # the hostile sequence's filter option selects its findings only
    label = next(o for o in page.locator("#filters select[name=seq] option").all_inner_texts()
                 if o.startswith(f"train/{HOSTILE_FOLDER}"))
    page.select_option("#filters select[name=seq]", label=label)
    assert {r["seq"] for r in visible_rows(page)} == {f"train/{HOSTILE_FOLDER}"}
    page.click("#f-reset")
    screenshot(visit, shots, "hostile")
    page.wait_for_timeout(200)
    assert visit.dialogs == []
    page.close()
