"""Everything that produces a MotDataset: MOT folders, Deep Lake datasets."""
