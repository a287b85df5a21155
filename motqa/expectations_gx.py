"""Great Expectations behind a small API: imported in the background, suites built strictly,
results turned into plain outcomes. The only module that imports great_expectations."""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from motqa.errors import UsageError

if TYPE_CHECKING:
    from motqa.expectations import ExpectationSpec, SuiteFile

# Rows in a result that carry line numbers. SUMMARY gives the first 20 (more than FOLD_AT places
# are never shown); the sequences table is small, so it asks for every row.
ROW_FORMAT = "SUMMARY"
TABLE_FORMAT = "COMPLETE"


@dataclass(frozen=True)
class Outcome:
    """What one expectation found in one table: `lines` are index values of failing rows (file
    lines for gt/det, 1-based positions for the sequences table), empty when GE names no rows."""

    spec: ExpectationSpec
    success: bool
    count: int  # failing rows, or 1 for a failed aggregate
    lines: tuple[int, ...]
    observed: str | None


def prepare_import() -> None:
    """Run in the main thread before GE is imported in another. GE imports sre_constants and
    sre_parse, which warn on import (an error under -W error): imported here first, quietly,
    they are not imported again. catch_warnings is not thread-safe, hence not in the thread."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import sre_constants  # noqa: F401
        import sre_parse  # noqa: F401


def import_gx() -> Any:
    """Import great_expectations with its side effect undone: it turns on
    logging.captureWarnings at import, which would hide every later warning."""
    shown = warnings.showwarning
    try:
        import great_expectations as gx
    finally:
        restore_warnings(shown)
    return gx


def restore_warnings(shown: Any = None) -> None:
    """Turn off the logging capture GE turned on: where showwarning changed since `shown`, or
    (shown None) where showwarning is logging's."""
    current = warnings.showwarning
    captured = current is not shown if shown is not None else getattr(current, "__module__", "") == "logging"
    if captured:
        logging.captureWarnings(False)  # puts back the showwarning saved when capture began


class GxEngine:
    """An ephemeral GE context (nothing written, no analytics, no progress bars) and the suites
    built in it. Made in the background thread; suites are added and run in the main thread."""

    def __init__(self) -> None:
        gx = import_gx()
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        from great_expectations.execution_engine import pandas_execution_engine

        # GE fingerprints each pandas batch by hashing every cell, twice per validation: 1.4 s of
        # a 2.3 s run on a MOT20-size gt, for a batch marker motqa never reads. Below this size
        # (bytes) it hashes; 0 turns the fingerprint off.
        if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
            pandas_execution_engine.HASH_THRESHOLD = 0
        shown = warnings.showwarning
        try:
            self._gx = gx
            self._ctx = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                progress_bars=ProgressBarsConfig(globally=False), analytics_enabled=False))
            self._batches = (self._ctx.data_sources.add_pandas("motqa").add_dataframe_asset("rows")
                             .add_batch_definition_whole_dataframe("whole"))
        finally:
            restore_warnings(shown)
        self._suites: dict[Path, tuple[Any, dict[str, ExpectationSpec]]] = {}

    def add_suites(self, suites: list[SuiteFile]) -> None:
        with _quiet():
            for suite in suites:
                self._suites[suite.path] = self._build(suite, len(self._suites))

    def _build(self, suite: SuiteFile, n: int) -> tuple[Any, dict[str, ExpectationSpec]]:
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        built = []
        for spec in suite.expectations:
            # The configuration's own constructor raises on an unknown type or bad kwargs, where
            # ExpectationSuite(**json) would drop the expectation with a log line.
            try:
                built.append(ExpectationConfiguration(**spec.config).to_domain_obj())
            except Exception as e:  # noqa: BLE001 - GE raises several kinds; each is the user's error
                raise UsageError(f"{spec.where}: {_first_lines(e)}") from None
        # Adding the suite to the context gives each expectation an id that its result carries.
        gx_suite = self._ctx.suites.add(self._gx.ExpectationSuite(name=f"{n}-{suite.path.name}",
                                                                  expectations=built))
        pairs = list(zip(gx_suite.expectations, suite.expectations, strict=True))
        if any(e.expectation_type != spec.type for e, spec in pairs):
            raise RuntimeError(f"{suite.path}: GE reordered the suite's expectations")
        return gx_suite, {e.id: spec for e, spec in pairs}

    def validate(self, suite: SuiteFile, df: pd.DataFrame, what: str) -> list[Outcome]:
        """Run `suite` on `df` (whose index names the rows); a broken expectation is a UsageError
        naming it, since GE reports it as a failure with exception_info rather than raising."""
        gx_suite, by_id = self._suites[suite.path]
        fmt = TABLE_FORMAT if suite.target == "sequences" else ROW_FORMAT
        try:
            with _quiet():
                batch = self._batches.get_batch(batch_parameters={"dataframe": df})
                result = batch.validate(gx_suite, result_format={"result_format": fmt})
        except Exception as e:  # noqa: BLE001 - an expectation with catch_exceptions=false raises here
            raise UsageError(f"{suite.path}: the suite cannot run on {what}: {_first_lines(e)}") from None
        outcomes = []
        for r in result.results:
            spec = by_id[r.expectation_config.id]
            problem = _exception_message(r.exception_info)
            if problem is not None:
                raise UsageError(f"{spec.where}: cannot run on {what}: {problem}")
            outcomes.append(_outcome(spec, bool(r.success), r.result or {}))
        order = {id(s): k for k, s in enumerate(suite.expectations)}
        return sorted(outcomes, key=lambda o: order[id(o.spec)])


@contextmanager
def _quiet() -> Iterator[None]:
    """Main thread only (catch_warnings is not thread-safe). GE's own warnings are not the
    user's: the string row_condition's deprecation, pandas notices inside GE; and catch_warnings
    also undoes a logging capture turned on by a GE module imported late."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    restore_warnings()


def _outcome(spec: ExpectationSpec, success: bool, result: dict[str, Any]) -> Outcome:
    raw = result.get("unexpected_index_list") or result.get("partial_unexpected_index_list") or []
    lines: list[int] = []
    for x in raw:
        try:
            lines.append(int(x))
        except (TypeError, ValueError):  # a named index gives dicts: then no line is known
            lines = []
            break
    count = int(result.get("unexpected_count") or 0) or (1 if not success else 0)
    return Outcome(spec, success, count, tuple(lines), _observed(result))


def _observed(result: dict[str, Any]) -> str | None:
    if "observed_value" not in result:
        return None
    text = _show(result["observed_value"])
    missing = (result.get("details") or {}).get("mismatched", {}).get("missing") if isinstance(
        (result.get("details") or {}).get("mismatched"), dict) else None
    return f"{text} (missing: {', '.join(map(str, missing))})" if missing else text


def _show(value: Any) -> str:
    if isinstance(value, float) or hasattr(value, "dtype"):
        try:
            return f"{float(value):.6g}"
        except (TypeError, ValueError):
            pass
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _exception_message(info: Any) -> str | None:
    """GE's exception_info is either one {raised_exception, exception_message} dict or a dict of
    them keyed by metric."""
    if not isinstance(info, dict) or not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "it raised an exception") if info["raised_exception"] else None
    for value in info.values():
        found = _exception_message(value)
        if found is not None:
            return found
    return None


def _first_lines(e: Exception, limit: int = 6) -> str:
    text = str(e).strip() or type(e).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[:limit]) + (" ..." if len(lines) > limit else "")


class BackgroundEngine:
    """Imports GE and makes its context in a thread, so that the ~2 s import overlaps parsing and
    image checks. `get()` waits for it, builds the suites once and re-raises what went wrong."""

    def __init__(self, suites: list[SuiteFile]) -> None:
        prepare_import()
        self._suites = suites
        self._engine: GxEngine | None = None
        self._built = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="motqa-gx-import", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._engine = GxEngine()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread by get()
            self._error = e

    def get(self) -> GxEngine:
        self._thread.join()
        # Once more from the main thread: a catch_warnings block in another thread (image
        # checks) may have put GE's logging capture back while the import ran.
        restore_warnings()
        if self._error is not None:
            raise self._error
        assert self._engine is not None
        if not self._built:
            self._built = True
            self._engine.add_suites(self._suites)
        return self._engine
