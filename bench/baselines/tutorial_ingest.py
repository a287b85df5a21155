"""Baseline: the Deep Lake tutorial's ingest (per-frame pandas filtering, then one append per
sequence, no checks), written with the Deep Lake 4 API. Usage: tutorial_ingest.py ROOT DATASET"""

import os
import sys

import deeplake
import pandas as pd
from deeplake import types

dataset_folder = os.path.join(sys.argv[1], "train")
ds = deeplake.create(sys.argv[2], schema={
    "frames": types.Sequence(types.Image(sample_compression="jpg")),
    "boxes": types.Sequence(types.BoundingBox("float32", "ltwh", "pixel")),
    "ids": types.Sequence(types.Array(types.UInt32(), dimensions=1)),
})
sequences = [item for item in os.listdir(dataset_folder) if os.path.isdir(os.path.join(dataset_folder, item))]
for sequence in sequences:
    root_local = os.path.join(dataset_folder, sequence, "img1")
    img_paths = [os.path.join(root_local, item) for item in sorted(os.listdir(root_local))]
    anns_df = pd.read_csv(os.path.join(dataset_folder, sequence, "gt", "gt.txt"), header=None)
    frames = pd.unique(anns_df[0])
    assert len(frames) == len(img_paths)
    boxes_seq = []
    ids_seq = []
    for frame in frames:
        ann_df = anns_df[anns_df[0] == frame]
        boxes_seq.append(ann_df.loc[:, [2, 3, 4, 5]].to_numpy().astype("float32"))
        ids_seq.append(ann_df.loc[:, 1].to_numpy().astype("uint32"))
    frame_bytes = []
    for path in img_paths:
        with open(path, "rb") as f:
            frame_bytes.append(f.read())
    ds.append({"frames": [frame_bytes], "boxes": [boxes_seq], "ids": [ids_seq]})
ds.commit()  # Deep Lake 3's `with ds:` wrote everything at the end of the block
print(f"{len(ds)} sequences")
