"""Boxes drawn on frames for the report: a colour per track id, ignored boxes grey and dashed, and a
placeholder where a frame cannot be shown."""

from __future__ import annotations

import colorsys
import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont

IGNORED_COLOUR = (190, 190, 190)
FLAG_COLOUR = (230, 28, 48)
DET_COLOUR = (255, 255, 255)
PLACEHOLDER_BACKGROUND = (58, 58, 64)


def track_colour(track: int) -> tuple[int, int, int]:
    """A bright colour per track id; neighbouring ids get far-apart hues (golden ratio steps)."""
    hue = (track * 0.618033988749895) % 1.0
    light = 0.55 if track % 2 else 0.62
    r, g, b = colorsys.hls_to_rgb(hue, light, 0.9)
    return int(r * 255), int(g * 255), int(b * 255)


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True)
class DrawBox:
    """One box in frame pixels. `track` is None for detections; `ignored` for conf 0 or a
    distractor class."""

    left: float
    top: float
    width: float
    height: float
    track: int | None
    ignored: bool = False
    flagged: bool = False  # a finding names this box's line (or its frame and track id)


@dataclass(frozen=True)
class Rendered:
    jpeg: bytes
    width: int
    height: int


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError, ImportError):  # a Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def decode(data: bytes, max_width: int) -> tuple[Image.Image, int, int]:
    """The frame as RGB, decoded no larger than needed for `max_width` (JPEG draft mode), and the
    frame's own width and height. Raises what Pillow raises for bytes that are not a whole image."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd EXIF and the like; the image checks report problems
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if im.format == "JPEG" and w > max_width:
            im.draft("RGB", (max_width, max(1, h * max_width // w)))
        im.load()
    return im.convert("RGB"), w, h


def placeholder(width: int, height: int) -> Image.Image:
    """A dark hatched canvas where the picture should be; the boxes and a banner go on it."""
    img = Image.new("RGB", (max(16, width), max(16, height)), PLACEHOLDER_BACKGROUND)
    draw = ImageDraw.Draw(img)
    step = max(8, min(img.size) // 12)
    for x in range(-img.height, img.width, step):  # diagonal hatching: visibly not a photo
        draw.line([(x, img.height), (x + img.height, 0)], fill=(72, 72, 80), width=1)
    return img


def draw_banner(img: Image.Image, text: str) -> None:
    """`text` on a red strip across the top of `img`, over the boxes."""
    draw = ImageDraw.Draw(img)
    font = _font(max(11, round(img.width / 22)))
    lines = _wrap(text, draw, font, img.width - 12)[:2]
    line_h = font.getbbox("Ag")[3] + 3
    draw.rectangle((0, 0, img.width, line_h * len(lines) + 8), fill=(176, 32, 44))
    for k, line in enumerate(lines):
        draw.text((6, 4 + k * line_h), line, fill=(255, 255, 255), font=font)


def _wrap(text: str, draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    out = []
    for line in [*lines, current][:6]:
        if draw.textlength(line, font=font) > width:  # one long word (a file name): cut it
            while len(line) > 1 and draw.textlength(line + "…", font=font) > width:
                line = line[:-1]
            line += "…"
        out.append(line)
    return out


def _dashed_rectangle(draw: ImageDraw.ImageDraw, xy: tuple[float, float, float, float],
                      colour: tuple[int, int, int], width: int, dash: float) -> None:
    x0, y0, x1, y1 = xy
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        length = max(abs(bx - ax), abs(by - ay))
        steps = max(1, int(length // (2 * dash)))
        for k in range(steps + 1):
            s = k * 2 * dash / max(length, 1e-9)
            e = min(1.0, s + dash / max(length, 1e-9))
            if s >= 1:
                break
            draw.line([(ax + (bx - ax) * s, ay + (by - ay) * s), (ax + (bx - ax) * e, ay + (by - ay) * e)],
                      fill=colour, width=width)


def draw_boxes(img: Image.Image, boxes: Iterable[DrawBox], scale: float) -> None:
    """Draw `boxes` (frame pixels) on `img`, which shows the frame scaled by `scale`: ignored boxes
    first, flagged ones last, so that what a finding names stays on top."""
    draw = ImageDraw.Draw(img)
    line = max(1, round(img.width / 400))
    font = _font(max(9, round(img.width / 52)))
    for b in sorted(boxes, key=lambda b: (b.flagged, not b.ignored)):
        x0, y0 = b.left * scale, b.top * scale
        x1, y1 = (b.left + b.width) * scale, (b.top + b.height) * scale
        if b.track is None:
            colour = DET_COLOUR
        else:
            colour = IGNORED_COLOUR if b.ignored else track_colour(b.track)
        if b.flagged:
            colour = FLAG_COLOUR
        if not (x1 > x0 and y1 > y0):
            # a box of no size cannot be drawn: a cross marks where it would be
            r = max(4, line * 5)
            if x1 > x0 or y1 > y0:  # one side has a length: draw it
                draw.line((x0, y0, max(x0, x1), max(y0, y1)), fill=colour, width=line + 1)
            draw.line((x0 - r, y0 - r, x0 + r, y0 + r), fill=colour, width=line + 1)
            draw.line((x0 - r, y0 + r, x0 + r, y0 - r), fill=colour, width=line + 1)
            y0 -= r
        elif b.ignored and not b.flagged:
            _dashed_rectangle(draw, (x0, y0, x1, y1), colour, line, dash=max(3.0, 3.0 * line))
        else:
            width = line + (b.track is not None) + (b.flagged * line)
            draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
        if b.track is None:
            continue
        text = str(b.track)
        tw = draw.textlength(text, font=font)
        th = font.getbbox("0")[3] + 2
        tx = min(max(x0, 0), img.width - tw - 4)
        ty = y0 - th - 2 if y0 - th - 2 >= 0 else max(y0, 0)
        draw.rectangle((tx, ty, tx + tw + 4, ty + th + 1), fill=colour)
        draw.text((tx + 2, ty), text, fill=(255, 255, 255) if b.flagged else (0, 0, 0), font=font)


def to_jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def render(base: Image.Image, frame_width: int, boxes: list[DrawBox], width: int, quality: int,
           banner: str | None = None) -> Rendered:
    """`base` (the frame, or a placeholder, at any scale) resized to `width` pixels wide, with
    `boxes` drawn at that scale (frame pixels, the frame being `frame_width` wide) and `banner`
    across the top."""
    width = max(16, width)
    height = max(1, round(base.height * width / base.width))
    if base.size == (width, height):
        img = base.copy()
    else:
        img = base.resize((width, height), Image.Resampling.LANCZOS)
    draw_boxes(img, boxes, width / max(1, frame_width))
    if banner:
        draw_banner(img, banner)
    return Rendered(to_jpeg(img, quality), width, height)
