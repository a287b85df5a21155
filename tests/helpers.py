"""Builders for in-memory sequences, so that a check's test needs no files."""

from __future__ import annotations

import numpy as np

from motqa.model import Frames, SeqInfo, Sequence
from motqa.profiles import profile
from motqa.sources.mot_files import parse_annotations


def sequence(gt: str | None = None, *, length: int = 10, width: int = 640, height: int = 480,
             frames: list[int] | None = None, det: str | None = None, name: str = "MOT17-02",
             benchmark: str = "MOT17") -> Sequence:
    """A sequence whose gt.txt holds `gt` (lines), with frame files `frames` (default 1..length)."""
    numbers = np.array(frames if frames is not None else range(1, length + 1), dtype=np.int64)
    names = [f"img1/{n:06d}.jpg" for n in numbers]
    info = SeqInfo(name=name, frame_rate=30, seq_length=length, im_width=width, im_height=height,
                   lines={"name": 2, "seqLength": 5})
    seq = Sequence(name, "train", info, Frames(numbers, names, lambda i: b""), profile=profile(benchmark))
    if gt is not None:
        seq.gt, problems = parse_annotations(gt.encode(), "gt", seq.label, "gt/gt.txt")
        seq.findings += problems
    if det is not None:
        seq.det, problems = parse_annotations(det.encode(), "det", seq.label, "det/det.txt")
        seq.findings += problems
    return seq


def run_checks(seq: Sequence, *modules: str, images: str = "skip") -> list:  # type: ignore[type-arg]
    """The registered checks of motqa.checks.<module> for each of `modules` on `seq`, as the gate
    runs them (the frame-size step first), without the source's findings."""
    from motqa.checks.registry import Options
    from motqa.plan import Plan

    names = tuple(f"motqa.checks.{m}." for m in modules)
    plan = Plan.make(lambda c: True, images, {})
    blocked = plan.prepare(seq)
    out = []
    for check in plan.checks:
        ids = plan.ids_of(check).difference(blocked)
        if ids and check.name.startswith(names):
            out += check.run(seq, ids, Options(images))
    return out


def checks_of(findings) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.check for f in findings]
