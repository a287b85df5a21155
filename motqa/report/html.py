"""The self-contained HTML QA report: summary, sequences, findings, sampled frames and plots, in one
file with inline CSS, images as data URIs and a strict Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import UTC, datetime
from html import escape
from importlib import metadata
from importlib.resources import files
from pathlib import Path, PurePosixPath
from string import Template
from typing import Any

from motqa import __version__
from motqa.catalog import CHECKS
from motqa.gate import GateResult, SequenceSummary
from motqa.model import Finding, Place, Severity
from motqa.report import plots
from motqa.report.drawing import FLAG_COLOUR, IGNORED_COLOUR, hex_colour, track_colour
from motqa.report.samples import SIZE_BINS, FrameSample, ReportCollector, SequenceReport, b64_size

LIBRARIES = ("deeplake", "pandas", "numpy", "pillow", "pandera", "great_expectations")
REPORTS_DIR = Path("reports")


def _e(value: object) -> str:
    """Every string that reaches the page goes through here (text and attribute values alike)."""
    return escape(str(value), quote=True)


def library_versions() -> dict[str, str]:
    """The installed versions, read from package metadata (importing deeplake or GE is slow)."""
    out = {"motqa": __version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def default_report_path(source: str, command: str) -> Path:
    """reports/motqa-<command>-<source name>-<UTC time>.html, not yet taken."""
    name = PurePosixPath(source.replace("\\", "/").rstrip("/")).name
    if name in ("", ".", ".."):
        name = Path(source).resolve().name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "dataset"
    cmd = re.sub(r"[^A-Za-z0-9_-]+", "-", command).strip("-") or "report"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = REPORTS_DIR / f"motqa-{cmd}-{slug}-{stamp}.html"
    n = 2
    while path.exists():
        path = REPORTS_DIR / f"motqa-{cmd}-{slug}-{stamp}-{n}.html"
        n += 1
    return path


def _template() -> tuple[Template, str]:
    """The template and its Content-Security-Policy: its one <style> and one <script> by hash."""
    text = files("motqa.report").joinpath("template.html").read_text(encoding="utf-8")
    style = re.search(r"<style>(.*?)</style>", text, re.S)
    script = re.search(r"<script>(.*?)</script>", text, re.S)
    assert style is not None and script is not None, "template.html lost its <style> or <script>"

    def digest(block: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode() + "'"

    csp = (f"default-src 'none'; img-src data:; style-src {digest(style.group(1))}; "
           f"script-src {digest(script.group(1))}; base-uri 'none'; form-action 'none'")
    return Template(text), csp


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _n(value: int | float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3g}"


def _sev(severity: Severity) -> str:
    return f'<span class="sev {severity}">{severity}</span>'


def _place_file(p: Place) -> str:
    if p.file is None:
        return ""
    return _e(p.file if p.line is None else f"{p.file}:{p.line}")


class _Page:
    """Builds the sections from one gate result and one collector."""

    def __init__(self, result: GateResult, collector: ReportCollector | None, command: str,
                 title: str | None, extra: dict[str, Any] | None, image_budget: int | None) -> None:
        self.result = result
        self.command = command
        self.extra = extra or {}
        name = PurePosixPath(result.source.replace("\\", "/").rstrip("/")).name or result.source
        self.title = title or f"motqa QA report: {name}"
        self.seqs, self.budget_notes = collector.fitted(image_budget) if collector is not None else ([], [])
        self.section_of: dict[str, str] = {}
        for n, s in enumerate(self.seqs, start=1):
            self.section_of.setdefault(s.label, f"q{n}")
        # (sequence label, frame) -> anchor of the sample showing it
        self.sample_of = {(s.label, x.frame): x.key for s in self.seqs for x in s.samples}

    # -- summary ---------------------------------------------------------------------------------
    def verdict(self) -> tuple[str, str]:
        outcome = self.extra.get("outcome")
        if outcome is not None:
            return str(outcome).upper(), ("pass" if self.result.valid else "fail")
        return ("PASSED", "pass") if self.result.valid else ("REFUSED", "fail")

    def summary(self) -> str:
        r = self.result
        c = r.counts()
        cards = []
        for sev in ("error", "warning", "info"):
            label = {"error": "errors", "warning": "warnings", "info": "info"}[sev]
            cards.append(f'<div class="card {sev}{" zero" if not c[sev] else ""}"><div class="n">{c[sev]:,}</div>'
                         f'<div class="l">{label}</div></div>')
        frames = sum(s.frames for s in r.sequences)
        boxes = sum(s.boxes for s in r.sequences)
        tracks = sum(s.tracks for s in r.sequences)
        for n, label in ((len(r.sequences), "sequences"), (frames, "frames"), (boxes, "gt boxes"), (tracks, "tracks")):
            cards.append(f'<div class="card"><div class="n">{n:,}</div><div class="l">{label}</div></div>')
        failing = sum(f.count for f in r.findings if f.severity >= r.fail_on)
        if r.valid:
            banner = (f'<div class="banner pass">No finding at or above <b>{_e(r.fail_on)}</b>: the data passes '
                      f"the gate.</div>")
        else:
            banner = (f'<div class="banner fail"><b>{failing:,}</b> finding{"s" if failing != 1 else ""} at or above '
                      f'<b>{_e(r.fail_on)}</b>: the gate refuses the data. See <a href="#findings">Findings</a>.</div>')
        rows = [("source", f"<code>{_e(r.source)}</code> ({_e(r.kind)})"),
                ("command", f"<code>{_e(self.command)}</code>"),
                ("fails on", f"{_e(r.fail_on)} and above"),
                ("generated", _e(datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")))]
        rows += [(str(k), _e(v)) for k, v in self.extra.items()]
        versions = ", ".join(f"{_e(k)} {_e(v)}" for k, v in library_versions().items())
        rows.append(("versions", versions))
        ran = ", ".join(f'<code title="{_e(CHECKS[c].summary) if c in CHECKS else ""}">{_e(c)}</code>'
                        for c in r.checks_run)
        rows.append(("checks run", f'<details class="more"><summary>{len(r.checks_run)} checks</summary>'
                                   f"{ran}</details>"))
        table = "".join(f"<tr><th>{_e(k)}</th><td class=\"wrap\">{v}</td></tr>" for k, v in rows)
        notes = "".join(f'<div class="banner note">{_e(n)}</div>' for n in self.budget_notes)
        return f'<div class="cards">{"".join(cards)}</div>{banner}{notes}<table class="kv">{table}</table>'

    # -- sequences table ---------------------------------------------------------------------------
    def _counts_by_sequence(self) -> dict[str | None, dict[Severity, int]]:
        out: dict[str | None, dict[Severity, int]] = {}
        for f in self.result.findings:
            d = out.setdefault(f.sequence, {s: 0 for s in Severity})
            d[f.severity] += f.count
        return out

    def sequences(self) -> str:
        if not self.result.sequences:
            return "<p>No sequence was found.</p>"
        counts = self._counts_by_sequence()
        head = ("<tr><th>sequence</th><th>benchmark</th><th class=num>frames</th><th class=num>seqLength</th>"
                "<th class=num>boxes</th>"
                "<th class=num>tracks</th><th class=num>boxes / frame</th><th class=num>det boxes</th>"
                "<th>size</th><th class=num>fps</th><th>findings</th></tr>")
        body = []
        for s in self.result.sequences:
            body.append(self._sequence_row(s, counts.get(s.label)))
        return f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(body)}</tbody></table></div>'

    def _sequence_row(self, s: SequenceSummary, c: dict[Severity, int] | None) -> str:
        anchor = self.section_of.get(s.label)
        name = f'<a href="#{anchor}">{_e(s.label)}</a>' if anchor else _e(s.label)
        size = f"{s.width}×{s.height}" if s.width and s.height else "–"
        per_frame = f"{s.boxes / s.frames:.1f}" if s.frames and s.boxes else "–"
        c = c or {}
        found = " ".join(f'<span class="{k}">{c.get(sev, 0)} {label}</span>' if c.get(sev, 0)
                         else f'<span class="z">0 {label}</span>'
                         for sev, k, label in ((Severity.ERROR, "e", "E"), (Severity.WARNING, "w", "W"),
                                               (Severity.INFO, "i", "I")))
        bench = f'<span title="{_e(s.benchmark_reason)}">{_e(s.benchmark)}</span>'
        return (f"<tr><td class=wrap>{name}</td><td>{bench}</td><td class=num>{_n(s.frames)}</td>"
                f"<td class=num>{_n(s.seq_length)}</td>"
                f"<td class=num>{_n(s.boxes)}</td><td class=num>{_n(s.tracks)}</td><td class=num>{per_frame}</td>"
                f"<td class=num>{_n(s.det_boxes)}</td><td>{size}</td><td class=num>{_n(s.frame_rate)}</td>"
                f'<td class="counts">{found}</td></tr>')

    # -- findings --------------------------------------------------------------------------------
    def findings(self) -> str:
        r = self.result
        if not r.findings:
            return '<p>No findings: every check that ran passed.</p>'
        ordered = sorted(r.findings, key=lambda f: (-f.severity, f.sequence or "", f.check))
        checks = sorted({f.check for f in ordered})
        seqs = list(dict.fromkeys(f.sequence or "" for f in ordered))
        check_ix = {c: str(i) for i, c in enumerate(checks)}
        seq_ix = {s: str(i) for i, s in enumerate(seqs)}

        def options(name: str, label: str, values: list[tuple[str, str, int]]) -> str:
            opts = "".join(f'<option value="{_e(v)}">{_e(text)} ({n:,})</option>' for v, text, n in values)
            return f'<label>{label}<select name="{name}"><option value="">all</option>{opts}</select></label>'

        def total(pred: Any) -> int:
            return sum(f.count for f in ordered if pred(f))

        bar = ('<div class="filters" id="filters" hidden>'
               + options("check", "check", [(check_ix[c], c, total(lambda f, c=c: f.check == c)) for c in checks])
               + options("seq", "sequence", [(seq_ix[s], s or "(dataset)",
                                              total(lambda f, s=s: (f.sequence or "") == s)) for s in seqs])
               + options("sev", "severity", [(str(sev), str(sev), total(lambda f, sev=sev: f.severity == sev))
                                            for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO)
                                            if any(f.severity == sev for f in ordered)])
               + '<button type="button" id="f-reset">show all</button><span id="shown"></span></div>')
        head = ("<tr><th>severity</th><th>check</th><th>sequence</th><th>file:line</th><th class=num>frame</th>"
                "<th class=num>track id</th><th>message</th><th class=num>count</th></tr>")
        rows = [self._finding_row(f, check_ix[f.check], seq_ix[f.sequence or ""]) for f in ordered]
        return (f'{bar}<div class="scroll"><table id="findings-table"><thead>{head}</thead>'
                f'<tbody>{"".join(rows)}</tbody></table></div>{self._explanations(checks)}')

    @staticmethod
    def _explanations(checks: list[str]) -> str:
        """What each check with a finding here finds, why it matters, an example and the fix
        (`motqa checks ID`'s page), each the target of its findings' links."""
        items = []
        for c in checks:
            info = CHECKS.get(c)
            if info is None:
                continue  # a gx-* expectation: its message carries its note
            parts = "".join(f"<dt>{title}</dt><dd><pre>{_e(text.strip())}</pre></dd>"
                            for title, text in (("why it matters", info.why), ("example", info.example),
                                                ("how to fix it", info.fix)) if text)
            items.append(f'<div class="check-doc" id="check-{_e(c)}"><h4><code>{_e(c)}</code> '
                         f"({_e(info.severity)}): {_e(info.summary)}</h4><dl>{parts}</dl></div>")
        return f'<h3 class="checks-head">The checks above</h3>{"".join(items)}' if items else ""

    def _frame_cell(self, p: Place) -> str:
        if p.frame is None:
            return ""
        key = self.sample_of.get((p.sequence or "", p.frame))
        return f'<a href="#{key}" title="show the sampled frame">{p.frame}</a>' if key else str(p.frame)

    @staticmethod
    def _check_cell(check: str, title: str) -> str:
        code = f'<code title="{title}">{_e(check)}</code>'
        return f'<a href="#check-{_e(check)}" title="what it is, why, the fix">{code}</a>' if check in CHECKS else code

    def _finding_row(self, f: Finding, check: str, seq: str) -> str:
        p = f.place
        title = _e(CHECKS[f.check].summary) if f.check in CHECKS else ""
        more = ""
        if f.more:
            items = "".join(f"<li>{_e(x)}</li>" for x in f.more)
            rest = f.count - 1 - len(f.more)
            tail = f"<li>… and {rest:,} more</li>" if rest > 0 else ""
            more = f'<details class="more"><summary>more places</summary><ul>{items}{tail}</ul></details>'
        seq_cell = _e(p.sequence) if p.sequence is not None else "(dataset)"
        return (f'<tr data-check="{check}" data-seq="{seq}" data-sev="{f.severity}">'
                f"<td>{_sev(f.severity)}</td><td>{self._check_cell(f.check, title)}</td>"
                f'<td class="wrap">{seq_cell}</td><td class="mono wrap">{_place_file(p)}</td>'
                f"<td class=num>{self._frame_cell(p)}</td>"
                f"<td class=num>{'' if p.track_id is None else _e(p.track_id)}</td>"
                f'<td class="msg">{_e(f.message)}{more}</td><td class=num>{f.count:,}</td></tr>')

    # -- frames and plots ------------------------------------------------------------------------
    def legend(self) -> str:
        def swatch(colour: str, dashed: bool = False, fill: str = "none") -> str:
            dash = ' stroke-dasharray="4 3"' if dashed else ""
            return (f'<svg width="30" height="18" viewBox="0 0 30 18" aria-hidden="true"><rect x="2" y="2" width="26" '
                    f'height="14" fill="{fill}" stroke="{colour}" stroke-width="2.5"{dash}/></svg>')

        tracks = "".join(swatch(hex_colour(track_colour(t))) for t in range(1, 6))
        return ('<div class="legend">'
                f"<span>{tracks} a colour per track id, the id on the box</span>"
                f"<span>{swatch(hex_colour(IGNORED_COLOUR), dashed=True, fill='#777')} ignored by evaluation: conf 0, "
                "or a distractor class of the sequence's benchmark</span>"
                f"<span>{swatch(hex_colour(FLAG_COLOUR))} a box a finding names (× where it has no size)</span>"
                f"<span>{swatch('#ffffff', fill='#555')} detection (sequences without gt)</span>"
                f"<span>{swatch('#c62a36', fill='#3a3a40')} frame missing or unreadable: a placeholder</span>"
                "<span>Click a frame to see it larger.</span></div>")

    def frames(self) -> str:
        if not self.seqs:
            return "<p>No frames were sampled.</p>"
        return self.legend() + "".join(self._sequence_section(s, f"q{n}") for n, s in enumerate(self.seqs, start=1))

    def _sequence_section(self, s: SequenceReport, anchor: str) -> str:
        meta = []
        if s.frame_width and s.frame_height:
            meta.append(f"{s.frame_width}×{s.frame_height}")
        if s.seqinfo_name is not None and s.seqinfo_name != PurePosixPath(s.label).name:
            meta.append(f"seqinfo.ini name: {_e(s.seqinfo_name)}")
        meta.append(f"{len(s.samples)} frames sampled")
        notes = "".join(f'<p class="note">{_e(n)}</p>' for n in s.notes)
        figures = "".join(self._figure(s, x) for x in s.samples)
        grid = f'<div class="grid">{figures}</div>' if figures else ""
        return (f'<section class="seq" id="{anchor}"><header><h3>{_e(s.label)}</h3>'
                f'<span class="meta">{" · ".join(meta)}</span></header>{notes}{grid}{self._plots(s)}</section>')

    def _figure(self, s: SequenceReport, x: FrameSample) -> str:
        alt = _e(f"{s.label} frame {x.frame}")
        img = (f'<img src="{_data_uri(x.thumb.jpeg)}" width="{x.thumb.width}" height="{x.thumb.height}" '
               f'alt="{alt}">')
        if x.large is not None:
            img = f'<a class="thumb" href="#v{x.key}" title="open frame {x.frame} larger">{img}</a>'
        chips = "".join(f'<span class="chip{"" if r in ("first", "last", "spaced") else " finding"}">{_e(r)}</span>'
                        for r in x.reasons)
        counts = [f"{x.boxes} box{'es' if x.boxes != 1 else ''}"]
        if x.ignored:
            counts.append(f"{x.ignored} ignored")
        if x.flagged:
            counts.append(f'<span class="flag">{x.flagged} named by findings</span>')
        problem = f'<div class="msg problem">{_e(x.problem)}</div>' if x.problem else ""
        file = f" · <span class=mono>{_e(x.file)}</span>" if x.file else ""
        cls = "sample problem" if x.problem else "sample"
        return (f'<figure class="{cls}" id="{x.key}">{img}<figcaption><b>frame {x.frame}</b>{file}'
                f'<div>{", ".join(counts)}</div>{problem}<div>{chips}</div></figcaption></figure>')

    def _plots(self, s: SequenceReport) -> str:
        st = s.stats
        if st is None:
            return ""
        what = {"gt": "gt boxes", "det": "detections", "result": "result boxes", "none": "boxes"}[st.source]
        title = {"gt": "GT boxes", "det": "Detections", "result": "Result boxes", "none": "Boxes"}[st.source]
        parts = [plots.timeline(st.first_frame, st.per_frame, st.counted_per_frame, st.finding_frames,
                                title + " per frame", "gt, counted" if st.source == "result" else "counted")]
        if st.source in ("gt", "result"):
            parts.append(plots.histogram(st.track_lengths, "boxes per track", "tracks", "Track lengths"))
        parts.append(plots.size_map(st.size_hist, SIZE_BINS, f"Box sizes ({what})"))
        note = (f'<p class="note">{st.outside:,} rows have a frame outside {st.first_frame}–'
                f"{st.first_frame + len(st.per_frame) - 1} and are not plotted.</p>") if st.outside else ""
        return f'<div class="plots">{"".join(parts)}</div>{note}'

    def lightboxes(self) -> str:
        out = []
        for s in self.seqs:
            for x in s.samples:
                if x.large is None:
                    continue
                caption = f"{s.label} · frame {x.frame}" + (f" · {x.file}" if x.file else "")
                out.append(f'<div class="lightbox" id="v{x.key}"><a class="lb-close" href="#{x.key}" '
                           f'aria-label="close"></a><span class="x" aria-hidden="true">×</span><figure>'
                           f'<img src="{_data_uri(x.large.jpeg)}" width="{x.large.width}" height="{x.large.height}" '
                           f'alt="{_e(caption)}"><figcaption>{_e(caption)} · click anywhere or press Esc to close'
                           "</figcaption></figure></div>")
        return "".join(out)

    def footer(self) -> str:
        return (f"Written by motqa {_e(__version__)}. This file is self-contained: it loads nothing from the network "
                "and runs one small script (the findings filter), allowed by its hash.")


def render_report(result: GateResult, collector: ReportCollector | None, *, command: str,
                  title: str | None = None, extra: dict[str, Any] | None = None) -> str:
    """The report as one HTML string, within the collector's size budget where the images allow."""
    text, image_bytes = _render(result, collector, command, title, extra, None)
    if collector is not None and len(text.encode("utf-8")) > collector.budget_bytes:
        overhead = len(text.encode("utf-8")) - image_bytes
        text, _ = _render(result, collector, command, title, extra, max(0, collector.budget_bytes - overhead))
    return text


def _render(result: GateResult, collector: ReportCollector | None, command: str, title: str | None,
            extra: dict[str, Any] | None, image_budget: int | None) -> tuple[str, int]:
    template, csp = _template()
    page = _Page(result, collector, command, title, extra, image_budget if image_budget is not None else 1 << 62)
    verdict, verdict_class = page.verdict()
    r = result
    subtitle = (f"{r.source} · {len(r.sequences)} sequence{'s' if len(r.sequences) != 1 else ''} · "
                f"{sum(s.frames for s in r.sequences):,} frames · {len(r.findings):,} findings")
    text = template.substitute(
        csp=csp, version=_e(__version__), title=_e(page.title), subtitle=_e(subtitle),
        verdict=_e(verdict), verdict_class=verdict_class, summary=page.summary(), sequences=page.sequences(),
        findings=page.findings(), frames=page.frames(), footer=page.footer(), lightboxes=page.lightboxes())
    images = sum(b64_size(len(x.thumb.jpeg)) + (b64_size(len(x.large.jpeg)) if x.large else 0)
                 for s in page.seqs for x in s.samples)
    return text, images


def write_report(path: Path, result: GateResult, collector: ReportCollector | None, *, command: str,
                 title: str | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write the report to `path` (folders made as needed; the file appears whole or not at all)."""
    text = render_report(result, collector, command=command, title=title, extra=extra)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
