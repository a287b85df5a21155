"""Great Expectations behind a small API: suites built strictly, results turned into plain
outcomes. The only module that imports great_expectations; it runs in the worker process
(worker.py), never in the gate's."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from motqa.errors import UsageError
from motqa.expectations.deferred import deferring, standing_in
from motqa.expectations.suites import ExpectationSpec, SuiteFile
from motqa.model import Severity

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


# Imported by GE at module level, called only where motqa's suites never go: scipy.stats and
# altair by expect_column_kl_divergence_to_be_less_than and the KS-test metrics, jsonschema by the
# JSON-schema metric, boto3 by S3 sources. About half of GE's import (python -X importtime; see
# bench/README, Start-up). Deferred, each runs for real on first use; tests/test_startup.py fails
# if a GE release starts running one on motqa's path.
DEFERRED = ("scipy.stats", "altair", "jsonschema", "boto3")

# Modules of GE's that define only datasources motqa never makes (it validates pandas frames it
# hands over): Spark, cloud storage, SQL and Microsoft Fabric sources, each a stack of pydantic
# models built at import, and botocore, which GE imports for S3 sources. Replaced by stand-ins
# (deferred.standing_in) they cost nothing: 0.35 to 0.5 s of GE's 1.1 to 1.4 s import here
# (bench/README, Start-up). import_gx proves the path motqa uses works with them, else imports GE
# for real; tests/test_startup.py fails loudly if a GE release needs one of them.
_FLUENT = "great_expectations.datasource.fluent."
STAND_INS = (
    *(_FLUENT + m for m in (
        "spark_datasource", "spark_file_path_datasource", "spark_filesystem_datasource", "spark_s3_datasource",
        "spark_google_cloud_storage_datasource", "spark_azure_blob_storage_datasource", "spark_dbfs_datasource",
        "pandas_s3_datasource", "pandas_google_cloud_storage_datasource", "pandas_azure_blob_storage_datasource",
        "pandas_dbfs_datasource", "pandas_file_path_datasource", "pandas_filesystem_datasource", "fabric",
        "fabric_datasource", "sql_datasource", "alloy_datasource", "aurora_datasource", "bigquery_datasource",
        "citus_datasource", "databricks_sql_datasource", "neon_datasource", "postgres_datasource",
        "redshift_datasource", "snowflake_datasource", "sql_server_datasource", "sqlite_datasource",
    )),
    "botocore",
)
# Why GE could not be imported with STAND_INS in this process's lineage (worker.py starts itself
# again without them, and says so); None when it could, or was not asked to.
stand_in_failure: str | None = None


class StandInsFailed(RuntimeError):
    """GE imported with STAND_INS fails the probe: import it whole, in a new process (pydantic v1
    will not define GE's models a second time in this one)."""


def import_gx(stand_ins: tuple[str, ...] | None = None) -> Any:
    """Import great_expectations with its side effects undone, DEFERRED left unrun until something
    uses them, and `stand_ins` (default STAND_INS) never run, provided a small suite then validates
    as it must (else StandInsFailed). GE calls logging.captureWarnings(True), which would hide
    every later warning: catch_warnings puts showwarning back. The sre_constants and sre_parse
    modules it imports warn on import, an error under -W error."""
    if "great_expectations" in sys.modules:
        return sys.modules["great_expectations"]
    stand_ins = STAND_INS if stand_ins is None else stand_ins
    with warnings.catch_warnings(), deferring(DEFERRED):
        warnings.simplefilter("ignore", DeprecationWarning)
        if not stand_ins:
            import great_expectations as gx

            return gx
        try:
            with standing_in(stand_ins):
                import great_expectations as gx
            _probe(gx)
        except Exception as e:  # whatever it is, GE whole is the answer
            raise StandInsFailed(f"{type(e).__name__}: {_first_lines(e, 2)}") from e
    return gx


def _probe(gx: Any) -> None:
    """What motqa does with GE, in small: a context, a pandas batch, a suite with a row condition,
    its failing row named."""
    spec = ExpectationSpec("gx-probe", Severity.ERROR, "", {"type": "expect_column_values_to_be_in_set", "kwargs": {
        "column": "a", "value_set": [1], "row_condition": {
            "type": "comparison", "column": {"name": "b"}, "operator": "==", "parameter": 1}}, "meta": {}}, "probe")
    suite = SuiteFile(Path("probe.json"), "probe", "gt", [spec])
    engine = GxEngine(gx)
    engine.add_suites([suite])
    (outcome,) = engine.validate(suite, pd.DataFrame({"a": [1, 2, 2], "b": [1, 1, 0]}, index=[5, 6, 7]), "probe")
    if (outcome.success, outcome.count, outcome.lines) != (False, 1, (6,)):
        raise RuntimeError(f"the probe suite gave {outcome}")


class GxEngine:
    """An ephemeral GE context (nothing written, no analytics, no progress bars) and the suites
    built in it."""

    def __init__(self, gx: Any = None) -> None:
        gx = gx if gx is not None else import_gx()
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        from great_expectations.execution_engine import pandas_execution_engine

        # GE fingerprints each pandas batch by hashing every cell, twice per validation (a third
        # of the gt suite's time on a MOT20-size gt: 0.9 s -> 0.6 s), for a batch marker motqa
        # never reads. Below this size in bytes it hashes; 0 turns the fingerprint off.
        if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
            pandas_execution_engine.HASH_THRESHOLD = 0
        self._gx = gx
        with _quiet():
            self._ctx = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                progress_bars=ProgressBarsConfig(globally=False), analytics_enabled=False))
            self._batches = (self._ctx.data_sources.add_pandas("motqa").add_dataframe_asset("rows")
                             .add_batch_definition_whole_dataframe("whole"))
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
    """GE's own warnings are not the user's (the string row_condition's deprecation, pandas
    notices inside GE); catch_warnings also undoes a logging capture by a GE module imported late."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


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
