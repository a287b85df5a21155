"""Baseline: TrackEval's MOTChallenge loader on every gt.txt under a benchmark root: its reader,
its per-frame conversion and its duplicate-id check, as an evaluation runs them."""

import sys
import tempfile
from pathlib import Path

import numpy as np

# Older TrackEval releases use the aliases numpy 2 removed; harmless where they are not needed.
for _name, _alias in (("float", float), ("int", int), ("bool", bool)):
    if not hasattr(np, _name):
        setattr(np, _name, _alias)

from trackeval.datasets import MotChallenge2DBox  # noqa: E402

split = Path(sys.argv[1]) / "train"
benchmark = sys.argv[2] if len(sys.argv) > 2 else "MOT17"
seqs = sorted(p.name for p in split.iterdir() if (p / "gt" / "gt.txt").is_file())
with tempfile.TemporaryDirectory() as trackers:
    dataset = MotChallenge2DBox({
        "GT_FOLDER": str(split), "TRACKERS_FOLDER": trackers, "TRACKERS_TO_EVAL": [],
        "BENCHMARK": benchmark, "SKIP_SPLIT_FOL": True, "SEQ_INFO": dict.fromkeys(seqs),
        "PRINT_CONFIG": False,
    })
    rows = 0
    for seq in seqs:
        raw = dataset._load_raw_file(None, seq, is_gt=True)
        dataset._check_unique_ids({"gt_ids": raw["gt_ids"], "tracker_ids": [[]] * raw["num_timesteps"],
                                   "seq": seq})
        rows += sum(len(ids) for ids in raw["gt_ids"])
print(f"{rows} rows")
