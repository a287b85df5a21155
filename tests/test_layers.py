"""The dependencies of motqa's modules point one way: the model at the bottom, sources and checks on
it, the gate on those, the Deep Lake writer never on reporters, the command line on top; no import cycle, no
private name imported across modules. Read from the source, function-level imports included."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "motqa"
# The model layer: what every other layer may import.
MODEL = {"motqa", "motqa.model", "motqa.catalog", "motqa.findings", "motqa.errors", "motqa.profiles",
         "motqa.imaging", "motqa.storage", "motqa.progress"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def imports() -> dict[str, set[tuple[str, str | None]]]:
    """module -> {(imported module, imported name or None)} of every `motqa` import in it."""
    out: dict[str, set[tuple[str, str | None]]] = {}
    for path in PACKAGE.rglob("*.py"):
        found: set[tuple[str, str | None]] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("motqa"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add((sub, None) if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                              or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else (node.module, alias.name))
            elif isinstance(node, ast.Import):
                found |= {(a.name, None) for a in node.names if a.name.startswith("motqa")}
        out[module_name(path)] = found
    return out


def targets(module: str) -> set[str]:
    return {m for m, _ in imports()[module]}


def in_layer(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


SOURCES = ("motqa.sources", "motqa.deeplake.read", "motqa.deeplake.stored_layout")
SINKS = ("motqa.deeplake.write", "motqa.deeplake.rows", "motqa.deeplake.local", "motqa.deeplake.s3")


def test_sources_depend_on_the_model_only() -> None:
    for module in imports():
        if any(in_layer(module, s) for s in SOURCES):
            bad = {t for t in targets(module) if t not in MODEL and not any(in_layer(t, s) for s in SOURCES)
                   and t != "motqa.deeplake.layout"}
            assert not bad, f"{module} imports {bad}"


def test_checks_depend_on_the_model_only() -> None:
    for module in imports():
        if in_layer(module, "motqa.checks"):
            bad = {t for t in targets(module) if t not in MODEL and not in_layer(t, "motqa.checks")
                   and t != "motqa.schemas"}
            assert not bad, f"{module} imports {bad}"


def test_sinks_never_import_reporters_or_the_gate() -> None:
    for module in imports():
        if any(in_layer(module, s) for s in SINKS):
            bad = {t for t in targets(module) if in_layer(t, "motqa.reporters") or in_layer(t, "motqa.report")
                   or t in ("motqa.gate", "motqa.cli", "motqa.ingest") or in_layer(t, "motqa.checks")
                   or t in SOURCES}
            assert not bad, f"{module} imports {bad}"


def test_no_private_name_across_modules() -> None:
    for module, found in imports().items():
        private = {(m, n) for m, n in found if n is not None and n.startswith("_") and not n.startswith("__")
                   and m != module}
        assert not private, f"{module} imports private names {private}"


def test_no_import_cycle() -> None:
    graph = {m: {t for t in targets(m) if t in imports() and t != m and t != "motqa"} for m in imports()}
    # a package's __init__ that re-exports its modules is not a cycle with them
    graph = {m: {t for t in ts if not in_layer(m, t)} for m, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
