"""The Great Expectations suites: suites.py loads them (plain JSON), engine.py runs them in GE
(the only module that imports it, on first use), run.py makes findings of a gate run's outcomes.
Dependencies go one way: run -> engine -> suites."""

from motqa.expectations.run import ExpectationRun
from motqa.expectations.suites import SHIPPED_DIR, TARGETS, ExpectationSpec, SuiteFile, load_suite, load_suites

__all__ = ["SHIPPED_DIR", "TARGETS", "ExpectationRun", "ExpectationSpec", "SuiteFile", "load_suite", "load_suites"]
