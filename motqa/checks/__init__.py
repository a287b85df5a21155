"""motqa's checks: the registry of ids lives in registry.py, one module per thing a check reads."""
