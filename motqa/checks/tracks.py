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
    lines = ann.rows.index.to_numpy()
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
