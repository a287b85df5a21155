"""motqa: validation and QA for Multiple Object Tracking datasets in the MOTChallenge format."""

__version__ = "0.1.0"
