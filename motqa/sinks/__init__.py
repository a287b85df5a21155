"""Where a gated MotDataset goes: the Deep Lake 4 sequence dataset (deeplake_write, deeplake_layout)."""
