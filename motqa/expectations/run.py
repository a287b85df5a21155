"""A gate run's expectations: the suites selected, run by GE on each sequence's gt and det rows
and on the sequences table, their failures turned into gx-* findings at their lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from motqa.checks.places import place_of
from motqa.errors import UsageError
from motqa.expectations.suites import PREFIX, SEQINFO_KEYS, ExpectationSpec, SuiteFile, load_suites
from motqa.findings import FOLD_AT, many
from motqa.model import Annotations, Finding, Place, Sequence

if TYPE_CHECKING:
    from motqa.expectations.engine import Outcome
    from motqa.expectations.worker import Pending, Session


@dataclass
class ExpectationRun:
    """The suites of one gate run: read before the first sequence, run on each sequence's gt and
    det rows, and on the sequences table at the end, by GE in a worker process (worker.py): a
    sequence's suites are submitted as soon as its rows are loaded and their findings collected
    later, so GE runs while the gate goes on."""

    suites: list[SuiteFile]
    engine: Session | None = None
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _places: list[tuple[str, str, dict[str, int]]] = field(default_factory=list)

    @classmethod
    def start(cls, dirs: list[Path], shipped: bool, wants: Callable[[str], bool],
              named: Iterable[str] = ()) -> ExpectationRun:
        """Load the suites and keep the expectations `wants` selects (GE is imported when the
        first of them runs). `named` are the ids given to --select/--ignore: a gx-* id that no
        suite defines is a typo."""
        loaded = load_suites(dirs, shipped)
        known = {s.check for suite in loaded for s in suite.expectations}
        for name in named:
            if name.startswith(PREFIX) and not any(c in name for c in "*?[") and name not in known:
                raise UsageError(f"unknown check id {name!r}: no expectation suite loaded defines it "
                                 f"(they define {', '.join(sorted(known)) or 'none'})")
        suites = []
        for suite in loaded:
            kept = [s for s in suite.expectations if wants(s.check)]
            if kept:
                suites.append(replace(suite, expectations=kept))
        run = cls(suites)
        if suites:
            from motqa.expectations.worker import Session

            run.engine = Session(suites)  # GE builds them now, in the worker, while the gate starts
        return run

    def started(self) -> bool:
        """True once GE has built the suites in its worker (or when there is none): from then on
        it keeps pace with the gate, and nothing is gained by letting sequences wait for it."""
        return self.engine is None or self.engine.built()

    def close(self) -> None:
        """The run is over (or failed): the worker goes back to the idle pool, or is ended."""
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    @property
    def check_ids(self) -> list[str]:
        return list(dict.fromkeys(s.check for suite in self.suites for s in suite.expectations))

    def submit_annotations(self, seq: Sequence) -> GxFindings:
        """Send this sequence's gt and det rows to their suites; the findings come later."""
        pending: list[tuple[Pending, Annotations]] = []
        for ann in (seq.gt, seq.det):
            if ann is None or not len(ann) or self.engine is None:
                continue  # an empty file is the no-boxes check's business
            for suite in self.suites:
                if suite.target == ann.kind:
                    pending.append((self.engine.validate(suite, ann.rows, f"{seq.label} {ann.file or ann.kind}"), ann))
        return GxFindings(seq, pending)

    def add_sequence(self, seq: Sequence, summary: dict[str, Any]) -> None:
        """Keep this sequence's row of the sequences table."""
        row = dict(summary)
        length, annotated = row.get("seq_length"), row.get("annotated_frames")
        row["annotated_share"] = annotated / length if length and row.get("boxes") and annotated is not None \
            else None
        self._rows.append(row)
        origin = seq.info.origin
        lines = dict(seq.info.lines) if origin == "seqinfo.ini" else {}
        self._places.append((seq.label, seq.file("seqinfo.ini"), lines))

    def sequences_table(self) -> pd.DataFrame:
        """One row per sequence, indexed from 1; numbers as float64 (NaN where unknown)."""
        df = pd.DataFrame(self._rows, index=pd.RangeIndex(1, len(self._rows) + 1))
        for col in df.columns:
            values = [v for v in self._column(col) if v is not None]
            if values and all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values):
                df[col] = pd.to_numeric(pd.Series(self._column(col), index=df.index), errors="coerce").astype("float64")
        return df

    def _column(self, col: str) -> list[Any]:
        return [row.get(col) for row in self._rows]

    def submit_sequences(self) -> Callable[[], list[Finding]]:
        """Send the table of every sequence seen to the sequences suites (once each sequence has
        been added); the function returned waits for their findings."""
        engine = self.engine
        if engine is None:
            return list
        if not self._rows:
            def nothing() -> list[Finding]:
                engine.ready()  # also when no sequence used it: a broken suite must not pass unseen
                return []

            return nothing
        table = self.sequences_table()
        pending = [engine.validate(suite, table, "the sequences table") for suite in self.suites
                   if suite.target == "sequences"]

        def collect() -> list[Finding]:
            out: list[Finding] = []
            for outcomes in pending:
                for outcome in outcomes.result():
                    if not outcome.success:
                        out += self._sequence_findings(outcome, table)
            return out

        return collect

    def _sequence_findings(self, outcome: Outcome, table: pd.DataFrame) -> list[Finding]:
        spec = outcome.spec
        if not outcome.lines:
            return [Finding(spec.check, spec.severity, _message(spec, outcome.observed), Place())]
        out = []
        for k in outcome.lines:
            label, file, lines = self._places[k - 1]
            keys = [SEQINFO_KEYS[c] for c in spec.columns if c in SEQINFO_KEYS]
            line = next((lines[key] for key in keys if key in lines), None)
            place = Place(label, file, line) if line is not None else Place(label)
            out.append(Finding(spec.check, spec.severity, _message(spec, _values(table, k, spec)), place))
        return out


@dataclass
class GxFindings:
    """A sequence's suites, submitted: done() says whether findings() would wait."""

    seq: Sequence
    pending: list[tuple[Pending, Annotations]]

    def done(self) -> bool:
        return all(p.done() for p, _ in self.pending)

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for outcomes, ann in self.pending:
            for outcome in outcomes.result():
                if not outcome.success and outcome.spec.applies(self.seq):
                    out += _row_findings(outcome, self.seq, ann)
        return out


def _values(df: pd.DataFrame, index: int, spec: ExpectationSpec) -> str | None:
    shown = []
    for col in spec.columns:
        if col in df.columns:
            v: Any = df.at[index, col]
            shown.append(f"{col}={v:g}" if isinstance(v, float | np.floating) else f"{col}={v!s}")
    return ", ".join(shown) or None


def _message(spec: ExpectationSpec, observed: str | None) -> str:
    text = spec.describe() + (f" failed: found {observed}" if observed is not None else " failed")
    return f"{text}. {spec.note}" if spec.note else text


def _row_findings(outcome: Outcome, seq: Sequence, ann: Annotations) -> list[Finding]:
    spec = outcome.spec
    if not outcome.lines:
        return [Finding(spec.check, spec.severity, _message(spec, outcome.observed), seq.place(file=ann.file))]
    lines = outcome.lines
    def message(line: int) -> str:
        return _message(spec, _values(ann.rows, line, spec))
    if outcome.count > FOLD_AT or outcome.count > len(lines):
        places = [place_of(seq, ann, k) for k in lines[:FOLD_AT]]
        return [replace(many(spec.check, message(lines[0]), places, max(outcome.count, len(lines))),
                        severity=spec.severity)]
    return [Finding(spec.check, spec.severity, message(k), place_of(seq, ann, k)) for k in lines]
