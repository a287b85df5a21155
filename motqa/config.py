"""Settings from `[tool.motqa]` in a pyproject.toml, merged under the command line's."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from motqa.errors import UsageError

KEYS = {"select", "ignore", "fail-on", "images", "expectations", "shipped-expectations", "severity", "benchmark",
        "jobs"}


def load_settings(path: Path | None) -> dict[str, Any]:
    """[tool.motqa] of `path`, or of ./pyproject.toml when it exists. Keys may use - or _."""
    explicit = path is not None
    path = path or Path("pyproject.toml")
    if not path.is_file():
        if explicit:
            raise UsageError(f"no such config file: {path}")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"{path}: cannot read [tool.motqa]: {e}") from None
    section = data.get("tool", {}).get("motqa", {})
    if not isinstance(section, dict):
        raise UsageError(f"{path}: [tool.motqa] is not a table")
    settings = {key.replace("_", "-"): value for key, value in section.items()}
    unknown = set(settings) - KEYS
    if unknown:
        raise UsageError(f"{path}: unknown [tool.motqa] keys: {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(KEYS))})")
    base = path.parent
    if "expectations" in settings:
        settings["expectations"] = [str(base / p) for p in _as_list(settings["expectations"], "expectations", path)]
    for key in ("select", "ignore"):
        if key in settings:
            settings[key] = _as_list(settings[key], key, path)
    if "severity" in settings:
        table = settings["severity"]
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise UsageError(f'{path}: [tool.motqa.severity] maps check ids to "error", "warning" or "info"')
        settings["severity"] = dict(table)
    return settings


def _as_list(value: Any, key: str, path: Path) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise UsageError(f"{path}: [tool.motqa] {key} must be a string or a list of strings")
