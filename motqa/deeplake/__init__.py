"""Deep Lake 4: the motqa sequence layout (layout.py), reading any dataset motqa audits (read.py,
stored_layout.py: a source, on the model only), and writing one (write.py, rows.py, local.py,
s3.py: a sink, never on the gate or the reporters)."""
