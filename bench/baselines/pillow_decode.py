"""Baseline: a plain loop of full Pillow decodes of every frame under a benchmark root, one process."""

import sys
from pathlib import Path

from PIL import Image

count = 0
for seq in sorted(Path(sys.argv[1]).glob("*/*/img1")):
    for path in sorted(seq.iterdir()):
        with Image.open(path) as im:
            im.load()
        count += 1
print(f"{count} frames")
