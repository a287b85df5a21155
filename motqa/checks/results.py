"""Checks of a tracker's result rows (`Sequence.result`, read by motqa/sources/results.py): what
stops TrackEval or an evaluation server (frames outside 1..seqLength, an id twice in a frame, a
class field above 1), what it scores wrongly (negative ids, boxes of no area or off the picture),
and, for the record, frames left unanswered and ids that come back after a long absence."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from motqa.checks.registry import Options, check
from motqa.checks.sequences import border_margins
from motqa.findings import FOLD_AT, finding, many
from motqa.model import Annotations, Finding, Place, Sequence

# An id away longer than this and back is said (info): trackers keep a lost track for about a
# second (ByteTrack's track_buffer is 30 frames), so ten seconds is a different person more often.
REUSE_SECONDS = 10.0
REUSE_FRAMES = 300  # where the frame rate is unknown


def _result(seq: Sequence) -> Annotations | None:
    ann = seq.result
    return ann if ann is not None and len(ann) else None


def _place(seq: Sequence, ann: Annotations, i: int) -> Place:
    """Where row `i` (a position) of the result is: file, line, frame and id."""
    r = ann.rows
    return Place(seq.label, ann.file, int(r.index[i]), int(r["frame"].to_numpy()[i]),
                 int(r["id"].to_numpy()[i]))


def _rows(check_id: str, message: Callable[[int], str], seq: Sequence, ann: Annotations,
          positions: np.ndarray) -> list[Finding]:
    """Findings for the rows at `positions` (in file order), folded past FOLD_AT."""
    if len(positions) > FOLD_AT:
        places = [_place(seq, ann, int(i)) for i in positions[:FOLD_AT]]
        return [many(check_id, message(int(positions[0])), places, len(positions))]
    return [finding(check_id, message(int(i)), _place(seq, ann, int(i))) for i in positions]


@check("result-zero-based", "result-frame-range", "result-id-negative", "result-box-size", "result-class")
def result_rows(seq: Sequence, ids: frozenset[str], options: Options) -> list[Finding]:
    ann = _result(seq)
    if ann is None:
        return []
    r = ann.rows
    frame, track = r["frame"].to_numpy(), r["id"].to_numpy()
    length = seq.info.seq_length
    out: list[Finding] = []
    low = frame < 1
    first, last = int(frame.min()), int(frame.max())
    if _zero_based(frame, length):
        if "result-zero-based" in ids:
            at = int(np.flatnonzero(frame == 0)[0])
            span = f" of seqLength {length}" if length is not None else ""
            out.append(finding("result-zero-based", f"frames count from 0 ({first}-{last}{span}): every frame is "
                               "one too low; write frame + 1", _place(seq, ann, at)))
        low &= frame != 0
    if "result-frame-range" in ids:
        high = frame > length if length is not None else np.zeros(len(frame), dtype=bool)

        def where(i: int) -> str:
            f = int(frame[i])
            return f"frame {f} is past seqLength {length}" if f >= 1 else f"frame {f} is before the first frame, 1"

        out += _rows("result-frame-range", where, seq, ann, np.flatnonzero(low | high))
    if "result-id-negative" in ids:
        out += _rows("result-id-negative", lambda i: f"id {track[i]} is negative; result ids are whole numbers "
                     "from 0", seq, ann, np.flatnonzero(track < 0))
    if "result-box-size" in ids:
        w, h = r["width"].to_numpy(), r["height"].to_numpy()

        def size(i: int) -> str:
            side, value = ("width", w[i]) if w[i] <= 0 else ("height", h[i])
            return f"box {side} is {value:g}; a box needs a positive width and height"

        out += _rows("result-box-size", size, seq, ann, np.flatnonzero((w <= 0) | (h <= 0)))
    if "result-class" in ids and "x" in r:  # TrackEval reads field 8 as the class where there is one
        cls = r["x"].to_numpy()
        out += _rows("result-class", lambda i: f"field 8 is {cls[i]:g}: TrackEval reads it as the class and "
                     "scores pedestrians (1) only; write -1", seq, ann, np.flatnonzero(cls > 1))
    return out


def _zero_based(frame: np.ndarray, length: int | None) -> bool:
    """Whether the file counts frames from 0: its first frame is 0 and, shifted by one, every
    frame is within seqLength (a 1-based file with one stray frame 0 is a frame-range error)."""
    return bool(frame.min() == 0 and (length is None or frame.max() < length))


@check("result-box-outside")
def result_outside(seq: Sequence) -> list[Finding]:
    """Wholly outside the picture by more than the border's rounding margin (as gt's
    box-outside-image): a box partly outside is a person leaving the picture."""
    ann, w, h = _result(seq), seq.info.im_width, seq.info.im_height
    if ann is None or w is None or h is None:
        return []
    r = ann.rows
    left, top = r["left"].to_numpy(), r["top"].to_numpy()
    bw, bh = r["width"].to_numpy(), r["height"].to_numpy()
    miss_x = np.maximum(left - w, -(left + bw))
    miss_y = np.maximum(top - h, -(top + bh))
    mx, my = border_margins(w, h)
    far = (bw > 0) & (bh > 0) & ((miss_x > mx) | (miss_y > my))

    def message(i: int) -> str:
        box = f"({left[i]:g}, {top[i]:g}, {bw[i]:g}, {bh[i]:g})"
        return (f"box {box} lies wholly outside the {w}x{h} picture, {max(miss_x[i], miss_y[i]):g} px from it; "
                "were the coordinates written for another frame size?")

    return _rows("result-box-outside", message, seq, ann, np.flatnonzero(far))


@check("result-duplicate-id", "result-id-reused", "result-frames-empty")
def result_tracks(seq: Sequence, ids: frozenset[str], options: Options) -> list[Finding]:
    ann = _result(seq)
    if ann is None:
        return []
    frame, track = ann.rows["frame"].to_numpy(), ann.rows["id"].to_numpy()
    out: list[Finding] = []
    if "result-duplicate-id" in ids or "result-id-reused" in ids:
        order = np.lexsort((np.arange(len(frame)), frame, track))  # by id, then frame, then line
        f, t = frame[order], track[order]
        if "result-duplicate-id" in ids:
            out += _duplicates(seq, ann, order, f, t)
        if "result-id-reused" in ids:
            out += _reused(seq, ann, order, f, t)
    if "result-frames-empty" in ids and not _zero_based(frame, seq.info.seq_length):
        out += _unanswered(seq, ann, frame)  # a 0-based file misses gt's last frame: result-zero-based says why
    return out


def _duplicates(seq: Sequence, ann: Annotations, order: np.ndarray, f: np.ndarray, t: np.ndarray) -> list[Finding]:
    k = np.flatnonzero((f[1:] == f[:-1]) & (t[1:] == t[:-1])) + 1
    second = order[k]
    firsts = order[k - 1]
    by_line = np.argsort(second, kind="stable")
    second, firsts = second[by_line], firsts[by_line]
    lines, frames, tracks = ann.line_numbers(), ann.rows["frame"].to_numpy(), ann.rows["id"].to_numpy()
    first_of = dict(zip(second.tolist(), firsts.tolist(), strict=True))

    def message(i: int) -> str:
        return f"id {tracks[i]} appears twice in frame {frames[i]}: lines {lines[first_of[i]]} and {lines[i]}"

    return _rows("result-duplicate-id", message, seq, ann, second)


def _reused(seq: Sequence, ann: Annotations, order: np.ndarray, f: np.ndarray, t: np.ndarray) -> list[Finding]:
    rate = seq.info.frame_rate
    limit = REUSE_SECONDS * rate if rate else REUSE_FRAMES
    k = np.flatnonzero((t[1:] == t[:-1]) & (f[1:] - f[:-1] > limit)) + 1
    back, before = order[k], f[k - 1]
    by_line = np.argsort(back, kind="stable")
    back, before = back[by_line], before[by_line]
    last_seen = dict(zip(back.tolist(), before.tolist(), strict=True))
    frames, tracks = ann.rows["frame"].to_numpy(), ann.rows["id"].to_numpy()

    def message(i: int) -> str:
        return (f"id {tracks[i]} returns at frame {frames[i]} after {frames[i] - last_seen[i] - 1} "
                f"frames away (last seen at frame {last_seen[i]})")

    return _rows("result-id-reused", message, seq, ann, back)


def _unanswered(seq: Sequence, ann: Annotations, frame: np.ndarray) -> list[Finding]:
    gt = seq.gt
    if gt is None or not len(gt):
        return []
    counted = gt.rows["conf"].to_numpy() != 0  # conf 0 rows are not evaluated
    wanted = np.unique(gt.rows["frame"].to_numpy()[counted])
    empty = np.setdiff1d(wanted, np.unique(frame))
    if not len(empty):
        return []
    runs = np.split(empty, np.flatnonzero(np.diff(empty) != 1) + 1)
    shown = ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs[:5])
    more = f" and {len(runs) - 5} more runs" if len(runs) > 5 else ""
    what = f"{len(empty)} frames" if len(empty) > 1 else "1 frame"
    which = f"frames {shown}{more}" if len(empty) > 1 else f"frame {shown}"
    return [finding("result-frames-empty", f"no result box in {what} where gt has boxes ({which})",
                    Place(seq.label, ann.file, frame=int(empty[0])))]
