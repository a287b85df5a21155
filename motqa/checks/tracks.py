"""Track checks over gt: a track id at most once per frame, and tracks that leave and return."""

from __future__ import annotations

import numpy as np

from motqa.checks.registry import FOLD_AT, finding, many
from motqa.model import Finding, Sequence


def check_tracks(seq: Sequence) -> list[Finding]:
    ann = seq.gt
    if ann is None or not len(ann):
        return []
    frame = ann.rows["frame"].to_numpy()
    track = ann.rows["id"].to_numpy()
    lines = ann.rows.index.to_numpy()
    return _duplicates(seq, frame, track, lines) + _gaps(seq, frame, track, lines)


def _duplicates(seq: Sequence, frame: np.ndarray, track: np.ndarray, lines: np.ndarray) -> list[Finding]:
    order = np.lexsort((lines, track, frame))
    f, t, ln = frame[order], track[order], lines[order]
    dup = np.flatnonzero((f[1:] == f[:-1]) & (t[1:] == t[:-1])) + 1
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


def _gaps(seq: Sequence, frame: np.ndarray, track: np.ndarray, lines: np.ndarray) -> list[Finding]:
    order = np.lexsort((frame, track))
    f, t, ln = frame[order], track[order], lines[order]
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
