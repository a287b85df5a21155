"""Small inline SVG plots for the report: boxes per frame over time, track lengths, box sizes.
Every text that reaches the SVG is escaped; no style attributes (the page's CSP forbids them)."""

from __future__ import annotations

import math
from html import escape

import numpy as np

W, H = 380, 200
LEFT, RIGHT, TOP, BOTTOM = 50, 12, 30, 34
ALL_COLOUR = "#2f6fdf"
COUNTED_COLOUR = "#1aa37a"
MARK_COLOUR = "#d6333f"
BAR_COLOUR = "#6b7fd7"
_VIRIDIS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = True) -> list[float]:
    """Round tick values covering [lo, hi]; whole numbers only unless `integer` is False."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    if integer:
        raw = max(raw, 1.0)
    mag = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer and mag < 10 else (1, 2, 2.5, 5, 10)
    step = next(m * mag for m in steps if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e6 else f"{v:.3g}"


class _Frame:
    """Plot area and axes in data coordinates."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float) -> None:
        self.x0, self.x1 = x0, x1 if x1 > x0 else x0 + 1
        self.y0, self.y1 = y0, y1 if y1 > y0 else y0 + 1

    def x(self, v: float) -> float:
        return LEFT + (v - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return H - BOTTOM - (v - self.y0) / (self.y1 - self.y0) * (H - TOP - BOTTOM)

    def axes(self, xlabel: str, ylabel: str, xticks: list[float] | None = None,
             xtick_text: list[str] | None = None, yticks: list[float] | None = None,
             ytick_text: list[str] | None = None) -> list[str]:
        out = [f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#555"/>',
               f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#555"/>']
        xticks = xticks if xticks is not None else nice_ticks(self.x0, self.x1)
        labels = xtick_text or [_fmt(t) for t in xticks]
        for t, text in zip(xticks, labels, strict=True):
            if self.x0 <= t <= self.x1:
                x = self.x(t)
                out.append(f'<line x1="{x:.1f}" y1="{H - BOTTOM}" x2="{x:.1f}" y2="{H - BOTTOM + 4}" stroke="#555"/>')
                out.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 15}" text-anchor="middle">{_e(text)}</text>')
        yticks = yticks if yticks is not None else nice_ticks(self.y0, self.y1, 4)
        ylabels = ytick_text or [_fmt(t) for t in yticks]
        for t, text in zip(yticks, ylabels, strict=True):
            if self.y0 <= t <= self.y1:
                y = self.y(t)
                out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#e4e6eb"/>')
                out.append(f'<text x="{LEFT - 5}" y="{y + 4:.1f}" text-anchor="end">{_e(text)}</text>')
        out.append(f'<text x="{(LEFT + W - RIGHT) / 2:.0f}" y="{H - 4}" text-anchor="middle" '
                   f'class="axis">{_e(xlabel)}</text>')
        mid = (TOP + H - BOTTOM) / 2
        out.append(f'<text x="12" y="{mid:.0f}" text-anchor="middle" class="axis" '
                   f'transform="rotate(-90 12 {mid:.0f})">{_e(ylabel)}</text>')
        return out


def _svg(title: str, body: list[str], legend: list[tuple[str, str]] | None = None) -> str:
    parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
             f'height="{H}" role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>'
             f'<text x="{LEFT - 30}" y="15" class="title">{_e(title)}</text>']
    parts += body
    x = W - RIGHT
    for label, colour in reversed(legend or []):
        width = 7 * len(label) + 18
        x -= width
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{_e(colour)}"/>'
                     f'<text x="{x + 14}" y="15">{_e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _empty(title: str, text: str) -> str:
    return _svg(title, [f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" class="empty">{_e(text)}</text>'])


def _reduce(values: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, values), at most `limit` points: the mean of each run of frames past that."""
    n = len(values)
    if n <= limit:
        return np.arange(n, dtype=np.float64), values.astype(np.float64)
    edges = np.linspace(0, n, limit + 1).astype(np.int64)
    means = np.add.reduceat(values.astype(np.float64), edges[:-1]) / np.diff(edges)
    return (edges[:-1] + edges[1:] - 1) / 2, means


def timeline(first_frame: int, per_frame: np.ndarray, counted: np.ndarray | None, marks: list[int],
             title: str = "Boxes per frame", second: str = "counted") -> str:
    """Boxes per frame over the sequence; `counted` (the boxes evaluation counts) as a second line,
    frames that findings name as red ticks under the axis."""
    if not len(per_frame) or not per_frame.any():
        return _empty(title, "no boxes")
    last = first_frame + len(per_frame) - 1
    f = _Frame(first_frame, last, 0, float(per_frame.max()) * 1.08)
    body = f.axes("frame", "boxes")
    series = [(per_frame, ALL_COLOUR, "all")]
    if counted is not None and (counted != per_frame).any():
        series.append((counted, COUNTED_COLOUR, second))
    for values, colour, _ in series:
        xs, ys = _reduce(values, 600)
        points = " ".join(f"{f.x(first_frame + x):.1f},{f.y(y):.1f}" for x, y in zip(xs, ys, strict=True))
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    for m in marks[:200]:
        x = f.x(m)
        body.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - BOTTOM}" stroke="{MARK_COLOUR}" '
                    f'stroke-opacity="0.45" stroke-dasharray="3 3"/><line x1="{x:.1f}" y1="{H - BOTTOM - 7}" '
                    f'x2="{x:.1f}" y2="{H - BOTTOM}" stroke="{MARK_COLOUR}" stroke-width="2.5">'
                    f'<title>a finding names frame {int(m)}</title></line>')
    legend = [(label, colour) for _, colour, label in series] if len(series) > 1 else []
    if marks:
        legend.append(("finding", MARK_COLOUR))
    return _svg(title, body, legend)


def histogram(values: np.ndarray, xlabel: str, ylabel: str, title: str, bins: int = 20) -> str:
    if not len(values):
        return _empty(title, "no tracks")
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:
        hi = lo + 1
    step = max(1.0, math.ceil((hi - lo + 1) / bins))
    edges = np.arange(lo, hi + step + 1e-9, step)
    counts, edges = np.histogram(values, bins=edges)
    f = _Frame(float(edges[0]), float(edges[-1]), 0, float(counts.max()) * 1.1)
    body = f.axes(xlabel, ylabel)
    for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        if c:
            x0, x1 = f.x(a), f.x(b)
            y = f.y(c)
            body.append(f'<rect x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(1.0, x1 - x0 - 1):.1f}" '
                        f'height="{H - BOTTOM - y:.1f}" fill="{BAR_COLOUR}"><title>{int(c)} tracks with '
                        f'{_fmt(a)} to {_fmt(b - 1 if step > 1 else a)} boxes</title></rect>')
    return _svg(title, body)


def _viridis(t: float) -> str:
    t = min(1.0, max(0.0, t)) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    a, b = _VIRIDIS[i], _VIRIDIS[i + 1]
    r, g, bl = (round(a[k] + (b[k] - a[k]) * (t - i)) for k in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def size_map(hist: np.ndarray, edges: np.ndarray, title: str = "Box sizes") -> str:
    """Boxes by width and height on log2 axes: a cell per half-octave, darker = fewer."""
    if not hist.any():
        return _empty(title, "no boxes")
    xs, ys = np.nonzero(hist)
    x0, x1 = max(0, xs.min() - 1), min(len(edges) - 2, xs.max() + 1)
    y0, y1 = max(0, ys.min() - 1), min(len(edges) - 2, ys.max() + 1)
    f = _Frame(float(edges[x0]), float(edges[x1 + 1]), float(edges[y0]), float(edges[y1 + 1]))
    ticks = [float(t) for t in range(math.ceil(edges[x0]), math.floor(edges[x1 + 1]) + 1)]
    yticks = [float(t) for t in range(math.ceil(edges[y0]), math.floor(edges[y1 + 1]) + 1)]
    body = f.axes("box width (px)", "height (px)", ticks, [_fmt(2**t) for t in ticks],
                  yticks, [_fmt(2**t) for t in yticks])
    top = math.log1p(float(hist.max()))
    for i, j in zip(xs, ys, strict=True):
        c = int(hist[i, j])
        xa, xb = f.x(edges[i]), f.x(edges[i + 1])
        ya, yb = f.y(edges[j + 1]), f.y(edges[j])
        body.append(f'<rect x="{xa:.1f}" y="{ya:.1f}" width="{xb - xa:.1f}" height="{yb - ya:.1f}" '
                    f'fill="{_viridis(math.log1p(c) / top)}"><title>{c} boxes {_fmt(round(2 ** edges[i]))}-'
                    f'{_fmt(round(2 ** edges[i + 1]))} px wide, {_fmt(round(2 ** edges[j]))}-'
                    f'{_fmt(round(2 ** edges[j + 1]))} px high</title></rect>')
    x = W - RIGHT - 100
    body.append(f'<text x="{x - 4}" y="15" text-anchor="end">few</text>')
    for k in range(6):
        body.append(f'<rect x="{x + k * 12}" y="6" width="12" height="10" fill="{_viridis(k / 5)}"/>')
    body.append(f'<text x="{x + 76}" y="15">many</text>')
    return _svg(title, body)
