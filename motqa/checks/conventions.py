"""File conventions: a gt.txt or det.txt written another way (frame and id swapped, boxes normalised
to 0-1, LTRB or centres for LTWH, frames from 0, visibility in percent), recognised from the whole
file and said once; the findings it explains are then not reported for that file."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from motqa.checks.places import place_of
from motqa.checks.registry import CONVENTIONS, Options, check
from motqa.checks.sequences import border_margins
from motqa.findings import finding
from motqa.model import Annotations, Convention, Finding, Sequence

Recognised = tuple[Finding, Convention]
Detector = Callable[[Sequence, Annotations], "Recognised | None"]

# Signatures that need many rows to mean anything: below this a file is too small to tell.
MIN_ROWS = 20
# A recognised convention explains these checks (ids of the shipped suites in expectations/) for
# the file: the median height of normalised boxes is below 4 px, LTRB "boxes" are wide.
_PIXEL_EXPECTATIONS = frozenset({"gx-gt-box-pixels", "gx-gt-box-width-pixels", "gx-det-box-pixels"})
_UPRIGHT = "gx-gt-pedestrian-upright"


@check("frame-id-swapped", "frames-zero-based", "boxes-normalised", "boxes-ltrb", "boxes-centres",
       "visibility-percent", stage=CONVENTIONS)
def check_conventions(seq: Sequence, ids: frozenset[str], options: Options) -> list[Finding]:
    """Recognise each file's conventions, one per thing a convention can change (frames, boxes,
    visibility), and keep those whose check is selected on the file (Annotations.conventions):
    the checks that run after this one leave out the rows they explain, and the gate drops the
    findings they explain (`explained`). A convention whose check is not selected explains
    nothing. (MOTS masks are the parser's: such a file was never read as boxes.)"""
    out: list[Finding] = []
    for ann in (seq.gt, seq.det):
        if ann is None or not len(ann):
            continue
        for detectors in _AXES:
            got = next((r for r in (detect(seq, ann) for detect in detectors) if r is not None), None)
            if got is not None and got[1].check in ids:
                out.append(got[0])
                ann.conventions.append(got[1])
    return out


def explained(seq: Sequence, f: Finding) -> bool:
    """Whether a convention recognised in one of the sequence's files explains finding `f` (a
    finding of a check whose every finding on that file it explains)."""
    return any(f.check in c.checks and f.place.file == ann.file
               for ann in (seq.gt, seq.det) if ann is not None for c in ann.conventions)


def table_checks(seq: Sequence) -> frozenset[str]:
    """The sequences-table checks (gx-seq-*) the conventions of the sequence's files explain."""
    return frozenset(c for ann in (seq.gt, seq.det) if ann is not None for conv in ann.conventions
                     for c in conv.table_checks)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


# ------------------------------------------------------------------------------------ frames


def frame_id_swapped(seq: Sequence, ann: Annotations) -> Recognised | None:
    """Columns 1 and 2 exchanged: column 1 holds the track id, column 2 the frame.

    Signature (gt with a seqLength, at least MIN_ROWS rows): every value of column 2 lies in
    1..seqLength and they cover at least half of those frames; column 1, read as the frame, covers
    at most half as many frames, or runs past seqLength in at least a tenth of the rows (more
    tracks than frames); and within each value of column 1, column 2 steps by 1 in at least 80% of
    the steps, as a track's frames do.
    Why not on correct data: correct gt annotates most frames (every official sequence at least
    77% of them; MOT16/17/20, DanceTrack and SportsMOT all of them), while its ids span at most a
    quarter of seqLength (MOT17-13: 188 ids in 750 frames), so column 2 never covers half the
    frames; and its frames do not run past seqLength (a planted row that does is one row, not a
    tenth). The order of the lines does not matter (gt sorted by frame is the same file)."""
    length = seq.info.seq_length
    if ann.kind != "gt" or length is None or len(ann) < MIN_ROWS:
        return None
    first, second = ann.rows["frame"].to_numpy(), ann.rows["id"].to_numpy()
    if second.min() < 1 or second.max() > length:
        return None
    covered = len(np.unique(second))
    as_frames = len(np.unique(first[(first >= 1) & (first <= length)]))
    past = int(np.count_nonzero(first > length))
    if covered * 2 < length or (as_frames * 2 > covered and past * 10 < len(first)):
        return None
    order = np.lexsort((second, first))
    a, b = first[order], second[order]
    same = a[1:] == a[:-1]
    steps = int(np.count_nonzero(same & (b[1:] - b[:-1] == 1)))
    pairs = int(np.count_nonzero(same))
    if not pairs or steps < 0.8 * pairs:
        return None
    lines = ann.line_numbers()
    as_frame = (f"runs to {int(first.max()):,}, past seqLength in {past:,} of {len(first):,} rows"
                if past * 10 >= len(first) else f"covers only {as_frames:,} of {length:,} frames")
    message = (f"looks like frame and id are swapped (columns 1 and 2): column 2, read as the track id, holds "
               f"{int(b.min())}-{int(b.max())}, {covered:,} of the {length:,} frames of seqLength, and steps by 1 "
               f"within the runs of column 1 ({steps:,} of {pairs:,} steps, {_share(steps, pairs)}), as a track's "
               f"frames do; column 1, read as the frame, {as_frame}. A MOT gt line is frame, id, left, ...: "
               "exchange columns 1 and 2")
    out_of_range = lines[(first < 1) | (first > length)]
    convention = Convention("frame-id-swapped", rows={"frame-out-of-range": out_of_range},
                            checks=frozenset({"frames-unannotated", "track-gap"}),
                            table_checks=frozenset({"gx-seq-gt-coverage", "gx-seq-boxes-per-frame"}))
    return finding("frame-id-swapped", message, seq.place(file=ann.file)), convention


def zero_based_frames(seq: Sequence, ann: Annotations) -> Recognised | None:
    """Frames numbered from 0: the whole file shifted by one.

    Signature: the frames run from exactly 0 to seqLength - 1, or nearly (to 90% of it: a det.txt
    may have no detection in the last frames), and frame 0 holds at least two rows (one where the
    median frame holds one): it is annotated like the other frames.
    Why not on correct data: a correct file has no frame 0. A single planted frame-0 row in a
    correct file is not a shift: the file still reaches frame seqLength (every official sequence
    with gt in every frame does), and one row is not a frame's worth; it stays a
    frame-out-of-range error at its line."""
    length = seq.info.seq_length
    frame = ann.rows["frame"].to_numpy()
    if length is None or frame.min() != 0 or not 0.9 * (length - 1) <= frame.max() <= length - 1:
        return None
    frames, counts = np.unique(frame, return_counts=True)
    typical = float(np.median(counts))
    if counts[0] < min(2.0, typical):
        return None
    lines = ann.line_numbers()
    at_zero = lines[frame == 0]
    message = (f"frames are numbered from 0: they run 0-{int(frame.max())} in a sequence of seqLength {length:,}, and "
               f"frame 0 holds {int(counts[0]):,} rows (the median frame {typical:g}); MOT frames run "
               f"1..seqLength: add 1 to every frame")
    # the gt's frames 0..L-1 are 1..L shifted: "frame L has no box" is the shift as well
    checks = frozenset({"frames-unannotated"}) if len(frames) == length else frozenset()
    convention = Convention("frames-zero-based", rows={"frame-out-of-range": at_zero}, checks=checks)
    return finding("frames-zero-based", message, place_of(seq, ann, int(at_zero[0]))), convention


# ------------------------------------------------------------------------------------- boxes


def _boxes(ann: Annotations) -> tuple[np.ndarray, ...]:
    r = ann.rows
    left, top, width, height = (r[c].to_numpy() for c in ("left", "top", "width", "height"))
    return left, top, width, height, (width > 0) & (height > 0)


def normalised_boxes(seq: Sequence, ann: Annotations) -> Recognised | None:
    """Coordinates normalised to the picture (YOLO style, 0-1) instead of pixels.

    Signature: every box of positive size has left, top, width and height within [-2, 2]: 0-1,
    with room for amodal boxes that start before the picture or are taller than it.
    Why not on correct data: MOT boxes are pixels; no person is at most 2 px wide and high in the
    picture's top-left corner, let alone every one in the file. Rows of zero or negative size are
    left out of the signature and stay box-size errors."""
    left, top, width, height, sized = _boxes(ann)
    n = int(np.count_nonzero(sized))
    fits = (width <= 2) & (height <= 2) & (np.abs(left) <= 2) & (np.abs(top) <= 2)
    if not n or not fits[sized].all():
        return None
    w, h = seq.info.im_width, seq.info.im_height
    picture = f"the {w}x{h} picture" if w and h else "the picture"
    scale = f"left and width by imWidth ({w}), top and height by imHeight ({h})" if w and h else \
        "left and width by the picture's width, top and height by its height"
    message = (f"boxes are normalised to 0-1, not pixels: all {n:,} boxes have left, top, width and height within "
               f"[-2, 2] (median height {float(np.median(height[sized])):g}) in {picture}; "
               f"MOTChallenge boxes are pixels: multiply {scale}")
    convention = Convention("boxes-normalised", checks=_PIXEL_EXPECTATIONS | {_UPRIGHT})
    return finding("boxes-normalised", message, seq.place(file=ann.file)), convention


def ltrb_boxes(seq: Sequence, ann: Annotations) -> Recognised | None:
    """Columns 5-6 hold the right and bottom edges (LTRB) instead of width and height.

    Signature (at least MIN_ROWS boxes, a known picture size): in every box of positive size,
    column 5 exceeds column 3 and column 6 exceeds column 4 (as a right edge does a left), and read
    as width and height at least a quarter of the boxes reach past the right or bottom edge of the
    picture (LTRB boxes do whenever their centre is in the right or lower half).
    Why not on correct data: a width exceeds its box's left only near the left edge of the
    picture; for every box to do so, every box must sit at the left and top, and then hardly any
    reaches past the right or bottom edge. Both together need boxes wider than half the picture
    throughout the file."""
    w, h = seq.info.im_width, seq.info.im_height
    left, top, width, height, sized = _boxes(ann)
    n = int(np.count_nonzero(sized))
    if not w or not h or n < MIN_ROWS or not ((width > left) & (height > top))[sized].all():
        return None
    mx, my = border_margins(w, h)
    past = int(np.count_nonzero(sized & ((left + width > w + mx) | (top + height > h + my))))
    if past * 4 < n:
        return None
    # Read as width and height, a box more than half out on the left or top lands wholly outside
    # (its "right" is left + right < 0); read as LTRB it overlaps the picture. A box that misses the
    # picture as LTRB too stays a box-outside-image error.
    ltrb_far = (left - w > mx) | (-width > mx) | (top - h > my) | (-height > my)
    lines = ann.line_numbers()[~ltrb_far]
    message = (f"looks like columns 5-6 hold right and bottom (LTRB), not width and height: in all {n:,} boxes "
               f"column 5 exceeds column 3 and column 6 exceeds column 4, as right and bottom edges do, and read as "
               f"width and height {past:,} of them ({_share(past, n)}) reach past the right or bottom edge of the "
               f"{w}x{h} picture; write width = right - left and height = bottom - top")
    convention = Convention("boxes-ltrb", rows={"box-outside-image": lines, "box-beyond-border": lines},
                            checks=frozenset({_UPRIGHT}))
    return finding("boxes-ltrb", message, seq.place(file=ann.file)), convention


def centre_boxes(seq: Sequence, ann: Annotations) -> Recognised | None:
    """Columns 3-4 hold the box centre (cx, cy) instead of the top-left corner.

    Signature (a known picture size): at least 10 boxes lie wholly outside the picture beyond the
    border's rounding margin, and at least 90% of those lie past the right or bottom edge (not the
    left or top) by at most half their own width or height (plus the margin). Read as a
    corner, a centre moves the box right and down by half its size: a person leaving by the right
    or bottom lands wholly outside, one leaving by the left or top never does.
    Why not on correct data: correct data has no box wholly outside beyond the rounding margin
    (each is a box-outside-image error), let alone ten on one side within half a box. The wholly
    outside boxes that do not fit stay box-outside-image errors; a single planted one is not ten.
    It cannot see a file whose boxes never leave the picture by more than half their size."""
    w, h = seq.info.im_width, seq.info.im_height
    if not w or not h:
        return None
    left, top, width, height, sized = _boxes(ann)
    mx, my = border_margins(w, h)
    right_miss, left_miss = left - w, -(left + width)
    bottom_miss, top_miss = top - h, -(top + height)
    far = sized & ((right_miss > mx) | (left_miss > mx) | (bottom_miss > my) | (top_miss > my))
    fits = far & (left_miss <= mx) & (top_miss <= my) & (right_miss <= 0.5 * width + mx) & \
        (bottom_miss <= 0.5 * height + my)
    k, outside = int(np.count_nonzero(fits)), int(np.count_nonzero(far))
    if k < 10 or k < 0.9 * outside:
        return None
    near = sized & ~far & ((right_miss >= 0) | (bottom_miss >= 0))  # box-beyond-border rows on those sides
    lines = ann.line_numbers()
    n = int(np.count_nonzero(sized))
    message = (f"looks like columns 3-4 hold box centres, not top-left corners: {k:,} of the {n:,} boxes lie wholly "
               f"past the right or bottom edge of the {w}x{h} picture, each by at most half its own width or height "
               f"({outside - k:,} other boxes lie wholly outside), which is where a box lands when its centre is "
               "written for its corner; write left = cx - width/2 and top = cy - height/2")
    convention = Convention("boxes-centres", rows={"box-outside-image": lines[fits], "box-beyond-border": lines[near]})
    return finding("boxes-centres", message, place_of(seq, ann, int(lines[fits][0]))), convention


# -------------------------------------------------------------------------------- visibility


def visibility_percent(seq: Sequence, ann: Annotations) -> Recognised | None:
    """Visibility written in percent (0-100) instead of a ratio in [0, 1].

    Signature: more than half of the gt rows with a visibility hold a value above 1 and at most
    100. Only those rows are explained: a value below 0 or above 100 stays a visibility-range error.
    Why not on correct data: correct visibility never exceeds 1; a single planted 1.2 is one row,
    not half the file."""
    if ann.kind != "gt" or "visibility" not in ann.rows:
        return None
    vis = ann.rows["visibility"].to_numpy()
    known = int(np.count_nonzero(~np.isnan(vis)))
    percent = (vis > 1) & (vis <= 100)
    n = int(np.count_nonzero(percent))
    if n * 2 <= known:
        return None
    lines = ann.line_numbers()[percent]
    message = (f"visibility is written in percent: {n:,} of {known:,} rows hold values above 1, up to "
               f"{float(vis[percent].max()):g}; MOT visibility is a ratio in [0, 1]: divide the column by 100")
    convention = Convention("visibility-percent", rows={"visibility-range": lines})
    return finding("visibility-percent", message, place_of(seq, ann, int(lines[0]))), convention


# One convention per thing a convention can change, the first that fits: a file's frames can be
# shifted and its visibility in percent at once, but its boxes are written one way.
_AXES: tuple[tuple[Detector, ...], ...] = (
    (frame_id_swapped, zero_based_frames),
    (normalised_boxes, ltrb_boxes, centre_boxes),
    (visibility_percent,),
)
