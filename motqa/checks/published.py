"""Published facts: a known official sequence (data/published.csv) compared with what the download
holds (seqinfo.ini, the frames on disk, gt.txt), with both numbers in every message."""

from __future__ import annotations

from motqa.checks.registry import check
from motqa.findings import finding
from motqa.model import Finding, Sequence
from motqa.profiles import Published, published_sequence

SEQINFO = "seqinfo.ini"
_SEQINFO_FIELDS = (("seqLength", "seq_length", "seq_length"), ("imWidth", "im_width", "im_width"),
                   ("imHeight", "im_height", "im_height"), ("frameRate", "frame_rate", "frame_rate"))


def _facts(seq: Sequence) -> Published | None:
    return published_sequence(seq.profile.name, seq.name)


@check("published-seqinfo")
def published_seqinfo(seq: Sequence) -> list[Finding]:
    facts = _facts(seq)
    return _seqinfo(seq, facts) if facts is not None else []


@check("published-frames")
def published_frames(seq: Sequence) -> list[Finding]:
    facts = _facts(seq)
    return _frames(seq, facts) if facts is not None else []


@check("published-gt")
def published_gt(seq: Sequence) -> list[Finding]:
    facts = _facts(seq)
    return _gt(seq, facts) if facts is not None else []


def _n(value: float | int) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _seqinfo(seq: Sequence, facts: Published) -> list[Finding]:
    """seqinfo.ini's values (or a stored dataset's) against the official seqinfo.ini's."""
    info = seq.info
    if info.origin == "inferred":
        return []  # no seqinfo.ini (MOT15): the frames are compared instead
    out = []
    for key, attr, fact in _SEQINFO_FIELDS:
        have, want = getattr(info, attr), getattr(facts, fact)
        if have is None or float(have) == float(want):
            continue
        where = f"{key} is {_n(have)}" if info.origin == SEQINFO else f"the stored {attr} is {_n(have)}"
        out.append(finding("published-seqinfo", f"{where}; the published {facts.sequence} has {_n(want)}",
                           seq.place(file=seq.file(SEQINFO) if info.origin == SEQINFO else None,
                                     line=info.lines.get(key) if info.origin == SEQINFO else None)))
    return out


def _frames(seq: Sequence, facts: Published) -> list[Finding]:
    """Without a seqinfo.ini (MOT15) the length and size come from the frames: compare those."""
    info, frames = seq.info, seq.frames
    if info.origin != "inferred" or not len(frames):
        return []
    problems = []
    if len(frames) != facts.seq_length:
        problems.append(f"{info.im_dir}/ holds {_n(len(frames))} frames; the published {facts.sequence} "
                        f"has {_n(facts.seq_length)}")
    if info.im_width and info.im_height and (info.im_width, info.im_height) != (facts.im_width, facts.im_height):
        problems.append(f"its frames are {info.im_width}x{info.im_height}; the published {facts.sequence}'s are "
                        f"{facts.im_width}x{facts.im_height}")
    return [finding("published-frames", text, seq.place(file=info.im_dir)) for text in problems]


def _gt(seq: Sequence, facts: Published) -> list[Finding]:
    """gt.txt's rows, frames, id range, classes and width against the official file's."""
    gt = seq.gt
    if gt is None or facts.gt_rows is None:
        return []
    rows = gt.rows
    have: list[str] = []
    want: list[str] = []

    def differs(ours: str, theirs: str) -> None:
        if ours != theirs:
            have.append(ours)
            want.append(theirs)

    differs(f"{_n(gt.line_count)} rows", f"{_n(facts.gt_rows)} rows")
    if facts.gt_columns is not None and gt.file is not None:  # a stored dataset keeps no line width
        differs(f"{gt.columns} fields a line", f"{facts.gt_columns} fields a line")
    if len(rows):
        if facts.gt_frames_annotated is not None:
            differs(f"boxes in {_n(rows['frame'].nunique())} frames",
                    f"boxes in {_n(facts.gt_frames_annotated)} frames")
        if facts.gt_id_min is not None and facts.gt_id_max is not None:
            differs(f"ids {int(rows['id'].min())}-{int(rows['id'].max())}", f"ids {facts.gt_id_min}-{facts.gt_id_max}")
        if facts.gt_classes and gt.has_class:
            ours = " ".join(str(int(c)) for c in sorted(rows["class"].dropna().unique()))
            differs(f"classes {ours}", f"classes {' '.join(map(str, facts.gt_classes))}")
    if not have:
        return []
    return [finding("published-gt", f"{gt.file or 'gt'} holds {', '.join(have)}; the published "
                    f"{facts.sequence} gt.txt holds {', '.join(want)}", seq.place(file=gt.file))]
