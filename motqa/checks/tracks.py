"""Track checks over gt: a track id at most once per frame, and tracks that leave and return."""

from __future__ import annotations

import numpy as np

from motqa.checks.registry import Options, check
from motqa.findings import FOLD_AT, finding, many
from motqa.model import Finding, Sequence


@check("duplicate-id", "track-gap")
def check_tracks(seq: Sequence, ids: frozenset[str], options: Options) -> list[Finding]:
    ann = seq.gt
    if ann is None or not len(ann):
        return []
    frame = ann.rows["frame"].to_numpy()
    track = ann.rows["id"].to_numpy()
    lines = ann.line_numbers()
    # One order serves both checks: by track, then frame, then line. A duplicate pair is adjacent
    # in it as well, and gt files come in this order already, so usually no sort is needed.
    f, t, ln = _by_track(frame, track, lines)
    return ((_duplicates(seq, f, t, ln) if "duplicate-id" in ids else [])
            + (_gaps(seq, f, t, ln) if "track-gap" in ids else []))


def _by_track(frame: np.ndarray, track: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, ...]:
    dt, df, dl = np.diff(track), np.diff(frame), np.diff(lines)
    if np.all((dt > 0) | ((dt == 0) & ((df > 0) | ((df == 0) & (dl > 0))))):
        return frame, track, lines
    order = np.lexsort((lines, frame, track))
    return frame[order], track[order], lines[order]


def _duplicates(seq: Sequence, f: np.ndarray, t: np.ndarray, ln: np.ndarray) -> list[Finding]:
    dup = np.flatnonzero((f[1:] == f[:-1]) & (t[1:] == t[:-1])) + 1
    dup = dup[np.lexsort((ln[dup], t[dup], f[dup]))]  # reported in frame order
    file = seq.gt.file if seq.gt is not None else None
    out = []
    for k in dup[: FOLD_AT + 1]:
        where = f": lines {ln[k - 1]} and {ln[k]}" if file else ""
        out.append(finding("duplicate-id", f"track {t[k]} appears twice in frame {f[k]}{where}",
                           seq.place(file=file, line=int(ln[k]) if file else None,
                                     frame=int(f[k]), track_id=int(t[k]))))
    if len(dup) > FOLD_AT:
        return [many("duplicate-id", out[0].message, [x.place for x in out[:FOLD_AT]], len(dup))]
    return out


def _gaps(seq: Sequence, f: np.ndarray, t: np.ndarray, ln: np.ndarray) -> list[Finding]:
    gap = np.flatnonzero((t[1:] == t[:-1]) & (f[1:] - f[:-1] > 1)) + 1
    file = seq.gt.file if seq.gt is not None else None
    out = []
    for k in gap[: FOLD_AT + 1]:
        gone = f"frame {f[k - 1] + 1}" if f[k] - f[k - 1] == 2 else f"frames {f[k - 1] + 1}-{f[k] - 1}"
        out.append(finding("track-gap", f"track {t[k]} is absent in {gone} and returns at frame {f[k]}",
                           seq.place(file=file, line=int(ln[k]) if file else None,
                                     frame=int(f[k]), track_id=int(t[k]))))
    if len(gap) > FOLD_AT:
        return [many("track-gap", out[0].message, [x.place for x in out[:FOLD_AT]], len(gap))]
    return out


# A track needs this many boxes before "never two consecutive frames" says anything of it.
KEYFRAMES_MIN_BOXES = 3


@check("tracks-keyframes-only")
def keyframes_only(seq: Sequence) -> list[Finding]:
    """Tracks of an annotation tool's export (profile trait "keyframe-export") that hold boxes only
    on their keyframes: at least KEYFRAMES_MIN_BOXES boxes and never two on consecutive frames.
    CVAT's own export interpolates every frame between keyframes; tracks read through its API do not
    (cvat#8767). One finding for the sequence, at the first such track's second box."""
    ann = seq.gt
    if ann is None or not len(ann) or not seq.profile.has("keyframe-export"):
        return []
    f, t, ln = _by_track(ann.rows["frame"].to_numpy(), ann.rows["id"].to_numpy(), ann.line_numbers())
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    ends = np.r_[starts[1:], len(t)]
    sparse = [(s, e) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
              if e - s >= KEYFRAMES_MIN_BOXES and t[s] >= 0 and np.all(np.diff(f[s:e]) > 1)]
    if not sparse:
        return []
    s, e = sparse[0]
    steps = np.unique(np.diff(f[s:e]))
    step = f"every {steps[0]} frames" if len(steps) == 1 else f"{steps.min()}-{steps.max()} frames apart"
    tracks = len(sparse)
    others = f"; {tracks - 1} more of its {len(starts)} tracks are so" if tracks > 1 else f" (of {len(starts)} tracks)"
    message = (f"track {t[s]} has {e - s} boxes in frames {f[s]}-{f[e - 1]}, {step}, never two in consecutive frames"
               f"{others}: these are keyframes without the boxes between them (tracks read through CVAT's API "
               "are not interpolated); export the task's annotations as MOT 1.1, which interpolates")
    file = ann.file
    return [finding("tracks-keyframes-only", message,
                    seq.place(file=file, line=int(ln[s + 1]) if file else None, frame=int(f[s + 1]),
                              track_id=int(t[s])))]
