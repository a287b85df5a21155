"""The Great Expectations suites: suites.py loads them (plain JSON), run.py makes findings of a gate
run's outcomes, worker.py runs GE in a process of its own, engine.py (there, the only module that
imports GE) builds and validates the suites. Dependencies go one way: run -> worker -> engine ->
suites. Nothing is imported here: the worker process imports engine.py without the gate's modules."""
