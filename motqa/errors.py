"""The one exception that means the command itself could not run (exit code 2)."""


class UsageError(Exception):
    """Bad arguments, no such path, a broken suite: not a finding about the data."""
