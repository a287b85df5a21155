"""The command line: arguments -> gate -> reporters -> exit code. The only place exit codes are made."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from motqa import __version__
from motqa.errors import UsageError


class Exit(IntEnum):
    OK = 0  # no finding at or above the fail level
    FINDINGS = 1  # findings at or above the fail level (or an ingest refused)
    CANNOT_RUN = 2  # bad arguments, no such path, a broken suite


def _csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _gate_options(p: argparse.ArgumentParser, dataset: bool = True) -> None:
    """The gate's options; `dataset`: also those that read a dataset's frames and suites (not
    `motqa results`, which reads result files)."""
    from motqa.imaging import MODES
    from motqa.reporters import REPORTERS

    p.add_argument("--format", choices=sorted(REPORTERS), default="text", help="output format (default text)")
    p.add_argument("--output", "-o", type=Path, help="write the output to this file instead of stdout")
    if dataset:
        p.add_argument("--images", choices=MODES, help="decode every frame (default), read headers only, or skip")
        p.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                       help="threads that check frames (default: the cores available to this process)")
        p.add_argument("--benchmark", metavar="NAME", help="check every sequence under this benchmark's profile "
                       "(MOT15, MOT16, MOT17, MOT20, HT21, DanceTrack, SportsMOT, generic) instead of recognising it")
    p.add_argument("--select", type=_csv_list, action="extend",
                   help="run only these check ids (comma-separated, globs allowed)")
    p.add_argument("--ignore", type=_csv_list, action="extend", help="do not run these check ids")
    p.add_argument("--severity", type=_check_level, action="append", metavar="CHECK=LEVEL",
                   help="report a check (or glob) at another severity, e.g. track-gap=warning (repeatable)")
    p.add_argument("--fail-on", choices=["error", "warning", "info"], help="lowest severity that fails (default error)")
    p.add_argument("--config", type=Path, help="pyproject.toml to read [tool.motqa] from (default ./pyproject.toml)")
    if dataset:
        p.add_argument("--expectations", type=Path, action="append", metavar="DIR",
                       help="also run the Great Expectations suites (*.json) in DIR (repeatable)")
        p.add_argument("--no-shipped-expectations", dest="shipped_expectations", action="store_false", default=None,
                       help="do not run the suites shipped in motqa's expectations/")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    p.add_argument("--root", type=Path, metavar="DIR", help="repository root: sarif and github paths relative to it")


def build_parser() -> argparse.ArgumentParser:
    from motqa.demo import DEFECTS
    from motqa.demo_formats import CVAT_DEFECTS

    parser = argparse.ArgumentParser(prog="motqa", description="Validate and QA MOTChallenge tracking datasets.")
    parser.add_argument("--version", action="version", version=f"motqa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a raw MOT download (the gate alone)")
    p.add_argument("path", type=Path, help="benchmark root, split, or sequence folder")
    p.add_argument("--report", type=Path, metavar="FILE", help="also write the HTML QA report to FILE")
    _gate_options(p)

    p = sub.add_parser("ingest", help="the gate, then (only when it passes) the Deep Lake 4 dataset")
    p.add_argument("source", type=Path, help="benchmark root, split, or sequence folder")
    p.add_argument("dataset", help="a local folder or s3://bucket/prefix (AWS_* variables for credentials)")
    p.add_argument("--overwrite", action="store_true", help="replace a dataset already at DATASET")
    p.add_argument("--endpoint-url", help="S3-compatible endpoint (default AWS_ENDPOINT_URL)")
    p.add_argument("--report", type=Path, metavar="FILE", help="the HTML QA report (default under ./reports/)")
    _gate_options(p)

    p = sub.add_parser("audit", help="the gate's checks on an existing Deep Lake dataset (read-only)")
    p.add_argument("dataset", help="a local folder or s3://bucket/prefix: motqa's own layout, or the "
                   "tutorial's (Deep Lake 4 or 3)")
    p.add_argument("--columns", metavar="frames=NAME,boxes=NAME,ids=NAME",
                   help="the tutorial layout's column names where they differ (default frames, boxes, ids)")
    p.add_argument("--endpoint-url", help="S3-compatible endpoint (default AWS_ENDPOINT_URL)")
    p.add_argument("--report", type=Path, metavar="FILE", help="also write the HTML QA report to FILE")
    _gate_options(p)

    p = sub.add_parser("hook", help="pre-commit's entry: validate the sequences that changed files belong to")
    p.add_argument("files", nargs="*", type=Path, help="changed gt/gt.txt, det/det.txt and seqinfo.ini files")
    _gate_options(p)

    p = sub.add_parser("results", help="check a tracker's result files (a folder of <SEQ>.txt or a submission zip) "
                       "before TrackEval or an evaluation server sees them")
    p.add_argument("results", type=Path, help="a folder of <SEQ>.txt (TrackEval's <TRACKER>/data/) or a .zip")
    p.add_argument("--gt", type=Path, metavar="PATH", help="the sequences to answer: a benchmark root, split or "
                   "TrackEval gt folder (seqLength, size and gt rows from there)")
    p.add_argument("--benchmark", metavar="NAME", help="the sequences to answer from this benchmark's profile and "
                   "published facts (with --split), where no gt is at hand")
    p.add_argument("--split", choices=["train", "test", "all"], help="with --benchmark: the split the results "
                   "answer (all: train and test, as MOTChallenge's server wants them)")
    p.add_argument("--report", type=Path, metavar="FILE", help="also write the HTML QA report to FILE: the "
                   "tracker's boxes on sampled frames (where --gt has frames), boxes per frame beside gt's")
    _gate_options(p, dataset=False)

    p = sub.add_parser("demo", help="write a synthetic MOT17-style download")
    p.add_argument("dir", type=Path, help="folder to create (must be empty or absent)")
    p.add_argument("--defect", choices=sorted(set(DEFECTS) | set(CVAT_DEFECTS)), help="plant one defect "
                   f"(with --as cvat: {', '.join(CVAT_DEFECTS)})")
    p.add_argument("--frames", type=int, default=60, help="frames in the first sequence (default 60)")
    p.add_argument("--as", dest="form", choices=("folder", "zip", "tar", "tar.gz", "cvat"), default="folder",
                   help="folder (default); zip, tar or tar.gz: the download as an archive DIR (.zip, ... added "
                   "when missing); cvat: one task as CVAT's MOT 1.1 export (zipped when DIR ends in .zip)")

    p = sub.add_parser("checks", help="list the check ids and their default severities, or explain one")
    p.add_argument("id", nargs="?", help="a check id: what it finds, why it matters, an example, the fix")
    return parser


def _gate_config(args: argparse.Namespace) -> Any:
    from motqa.config import load_settings
    from motqa.gate import GateConfig

    if args.root is not None and not args.root.is_dir():  # said before anything runs or is written
        raise UsageError(f"--root {args.root} is not a folder")
    settings = load_settings(args.config)
    fail_on = args.fail_on or settings.get("fail-on", "error")
    return GateConfig(
        select=args.select if args.select is not None else settings.get("select"),
        ignore=args.ignore if args.ignore is not None else settings.get("ignore", []),
        fail_on=_severity(str(fail_on)),
        images=args.images or settings.get("images", "decode"),
        benchmark=args.benchmark or settings.get("benchmark"),
        jobs=getattr(args, "jobs", None) or settings.get("jobs"),
        expectations=[Path(p) for p in (args.expectations if args.expectations is not None
                                        else settings.get("expectations", []))],
        shipped_expectations=_shipped(args.shipped_expectations, settings),
        severity=_severities({**settings.get("severity", {}), **dict(args.severity or [])}),
    )


def _severities(table: dict[str, str]) -> dict[str, Any]:
    return {check: _severity(level, f"severity of {check}") for check, level in table.items()}


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _check_level(text: str) -> tuple[str, str]:
    """`track-gap=warning` -> ("track-gap", "warning")."""
    check, sep, level = text.partition("=")
    if not sep or not check.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not CHECK=LEVEL (e.g. track-gap=warning)")
    return check.strip(), level.strip()


def _shipped(flag: bool | None, settings: dict[str, Any]) -> bool:
    value = flag if flag is not None else settings.get("shipped-expectations", True)
    if not isinstance(value, bool):
        raise UsageError(f"[tool.motqa] shipped-expectations must be true or false, not {value!r}")
    return value


def _severity(text: str, what: str = "fail-on") -> Any:
    from motqa.model import Severity

    try:
        return Severity.parse(text)
    except ValueError as e:
        raise UsageError(f"{what}: {e}") from None


def _emit(args: argparse.Namespace, text: str) -> None:
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write --output {args.output}: {e.strerror or e}") from None
    else:
        sys.stdout.write(text)


def _render(args: argparse.Namespace, result: Any) -> str:
    """The result in --format; sarif and github paths relative to --root when it is given."""
    from motqa.reporters import render

    return render(args.format, result, getattr(args, "root", None))


def cmd_validate(args: argparse.Namespace) -> Exit:
    from motqa.gate import run_gate
    from motqa.progress import Progress
    from motqa.sources.layout import discover

    cfg = _gate_config(args)
    observers = _report_observers(args)
    result = run_gate(discover(args.path), cfg, Progress.for_terminal(args.quiet), observers=observers)
    _emit(args, _render(args, result))
    _write_report(args, result, observers)
    return Exit.OK if result.valid else Exit.FINDINGS


def _report_observers(args: argparse.Namespace) -> tuple[Any, ...]:
    """The report's frame sampler, when a report is to be written."""
    if getattr(args, "report", None) is None:
        return ()
    from motqa.report import ReportCollector

    return (ReportCollector(),)


def _write_report(args: argparse.Namespace, result: Any, observers: tuple[Any, ...],
                  extra: dict[str, Any] | None = None) -> None:
    if not observers:
        return
    from motqa.report import write_report

    try:
        path = write_report(args.report, result, observers[0], command=args.command_line, extra=extra)
    except OSError as e:
        raise UsageError(f"cannot write the report to {args.report}: {e.strerror or e}") from None
    print(f"motqa: report written to {path}", file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> Exit:
    """Exit 2 before the gate when DATASET exists without --overwrite (it is kept); exit 1 when
    the gate refuses (nothing is written); exit 0 when the dataset was written."""
    from motqa.deeplake.write import check_target
    from motqa.ingest import ingest
    from motqa.progress import Progress
    from motqa.storage import parse_target

    target = parse_target(args.dataset, args.endpoint_url)
    if not args.source.exists():
        raise UsageError(f"no such path: {args.source}")
    check_target(target, overwrite=args.overwrite, source=args.source)
    cfg = _gate_config(args)
    if args.report is None:  # ingest always writes its report
        from motqa.report import default_report_path

        args.report = default_report_path(str(args.source), "ingest")
    observers = _report_observers(args)
    outcome = ingest(args.source, target, cfg, overwrite=args.overwrite, progress=Progress.for_terminal(args.quiet),
                     observers=observers)
    _emit(args, _render(args, outcome.result))
    _write_report(args, outcome.result, observers, {"target": str(target), "outcome": outcome.status,
                                                    "dataset": outcome.detail})
    if outcome.error is not None:
        raise outcome.error
    if not outcome.written:
        print(f"motqa: ingest refused by the gate; nothing was written to {target}", file=sys.stderr)
        return Exit.FINDINGS
    print(f"motqa: {outcome.detail}", file=sys.stderr)
    return Exit.OK


def cmd_audit(args: argparse.Namespace) -> Exit:
    """The gate on a stored dataset, which is opened read-only: exit codes as validate."""
    from motqa.deeplake.read import open_stored, parse_columns
    from motqa.gate import run_gate
    from motqa.progress import Progress

    columns = parse_columns(args.columns) if args.columns is not None else None
    cfg = _gate_config(args)
    observers = _report_observers(args)
    result = run_gate(open_stored(args.dataset, columns, args.endpoint_url), cfg, Progress.for_terminal(args.quiet),
                      observers=observers)
    _emit(args, _render(args, result))
    _write_report(args, result, observers)
    return Exit.OK if result.valid else Exit.FINDINGS


def cmd_hook(args: argparse.Namespace) -> Exit:
    """The sequences of the changed files, annotations only unless --images says otherwise (a commit
    hook cannot decode every frame): exit codes as validate."""
    from motqa.gate import run_gate
    from motqa.progress import Progress
    from motqa.sources.changed import changed_sequences

    args.images = args.images or "skip"
    ds, other = changed_sequences(args.files)
    for file in other:
        print(f"motqa: {file} is not a seqinfo.ini, gt/gt.txt or det/det.txt: not checked", file=sys.stderr)
    result = run_gate(ds, _gate_config(args), Progress.for_terminal(args.quiet))
    _emit(args, _render(args, result))
    return Exit.OK if result.valid else Exit.FINDINGS


def cmd_results(args: argparse.Namespace) -> Exit:
    """The result-* checks on a tracker's files, matched with the sequences of --gt or of
    --benchmark/--split: exit codes as validate. The files are only read."""
    from motqa.gate import run_gate
    from motqa.progress import Progress
    from motqa.sources.results import expected_from_benchmark, expected_from_gt, open_results

    if (args.gt is None) == (args.benchmark is None):
        raise UsageError("say which sequences the results answer: --gt PATH, or --benchmark NAME --split SPLIT")
    if args.benchmark is not None and args.split is None:
        raise UsageError("--benchmark needs --split (train, test or all)")
    if args.gt is not None and args.split is not None:
        raise UsageError("--split goes with --benchmark; --gt PATH is the split itself")
    expected = expected_from_gt(args.gt) if args.gt is not None else expected_from_benchmark(args.benchmark,
                                                                                             args.split)
    # header: a frame size nothing states may come from the gt's first frame; no suite reads results
    args.images, args.expectations, args.shipped_expectations = "header", [], False
    cfg = _gate_config(args)
    cfg.results = True
    observers = _report_observers(args)
    result = run_gate(open_results(args.results, expected), cfg, Progress.for_terminal(args.quiet),
                      observers=observers)
    _emit(args, _render(args, result))
    _write_report(args, result, observers)
    return Exit.OK if result.valid else Exit.FINDINGS


def cmd_demo(args: argparse.Namespace) -> Exit:
    from motqa.demo import DEFECTS, default_sequences, write_demo
    from motqa.demo_formats import CVAT_DEFECTS, archive_suffix, write_archive, write_cvat

    if args.frames < 12:
        raise UsageError("--frames must be at least 12")
    cvat = args.form == "cvat"
    if args.defect is not None and args.defect not in (CVAT_DEFECTS if cvat else DEFECTS):
        raise UsageError(f"--defect {args.defect} is not one the demo plants " + (
            f"in a CVAT export (choose from {', '.join(CVAT_DEFECTS)})" if cvat else "without --as cvat"))
    dst: Path = args.dir
    if args.form not in ("folder", "cvat") and archive_suffix(dst) is None:
        dst = dst.with_name(f"{dst.name}.{args.form}")
    try:
        if cvat:
            place = write_cvat(dst, args.defect, args.frames)
            what = "a CVAT MOT 1.1 export"
        elif args.form == "folder":
            place = write_demo(dst, args.defect, default_sequences(args.frames))
            what = "a MOT17-style download"
        else:
            if dst.exists():
                raise FileExistsError(f"{dst} exists")
            with tempfile.TemporaryDirectory() as tmp:
                place = write_demo(Path(tmp) / "d", args.defect, default_sequences(args.frames))
                write_archive(Path(tmp) / "d", dst, top=_stem(dst))
            what = f"a MOT17-style download as a {archive_suffix(dst)} archive"
    except FileExistsError as e:
        raise UsageError(f"{e}: motqa demo writes only into an empty or new folder, or a new archive") from None
    except OSError as e:  # a file where the folder should be, or no right to write there
        raise UsageError(f"cannot write the demo to {dst}: {e.strerror or e}") from None
    print(f"wrote {what} to {dst}" + (f" with defect {args.defect} at {place}" if place else ""))
    return Exit.OK


def _stem(path: Path) -> str:
    from motqa.demo_formats import archive_suffix

    suffix = archive_suffix(path) or ""
    return path.name[: len(path.name) - len(suffix)]


def cmd_checks(args: argparse.Namespace) -> Exit:
    from difflib import get_close_matches

    from motqa.catalog import CHECKS

    if args.id is None:
        for c in CHECKS.values():
            print(f"{c.id:24} {c.severity!s:8} {c.summary}")
        return Exit.OK
    info = CHECKS.get(args.id)
    if info is None:
        if args.id.startswith("gx-"):
            raise UsageError(f"{args.id} is an expectation of a Great Expectations suite: its meta.notes in "
                             "expectations/*.json (or your own suite) say what it is for")
        near = get_close_matches(args.id, list(CHECKS), n=3)
        raise UsageError(f"unknown check id {args.id!r}" + (f"; did you mean {', '.join(near)}?" if near else
                                                             "; `motqa checks` lists them"))
    print(info.doc(), end="")
    return Exit.OK


COMMANDS = {"validate": cmd_validate, "ingest": cmd_ingest, "audit": cmd_audit, "results": cmd_results,
            "demo": cmd_demo, "checks": cmd_checks, "hook": cmd_hook}


def _may_run_suites(argv: Sequence[str]) -> bool:
    """Whether this command line may run Great Expectations suites, told from the words alone
    (before the arguments are parsed, which imports most of motqa): a wrong yes costs a worker
    that is killed at exit, a wrong no only the head start."""
    if not argv or argv[0] not in ("validate", "ingest", "audit", "hook") or {"-h", "--help"} & set(argv):
        return False
    if "--no-shipped-expectations" in argv and not any(a.startswith("--expectations") for a in argv):
        return False
    selected = [part for k, a in enumerate(argv) for value in ([argv[k + 1]] if a == "--select" and k + 1 < len(argv)
                else [a.split("=", 1)[1]] if a.startswith("--select=") else []) for part in value.split(",")]
    return not selected or any(p.startswith("gx") or p[:1] in "*?[" for p in selected)


def run(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        if _may_run_suites(words):
            from motqa.expectations.worker import prestart

            prestart()  # GE's import starts on another core now, while this process imports and reads
        args = build_parser().parse_args(argv)
        args.command_line = shlex.join(["motqa", *words])
        return int(COMMANDS[args.command](args))
    except UsageError as e:
        print(f"motqa: {e}", file=sys.stderr)
        return int(Exit.CANNOT_RUN)
    except KeyboardInterrupt:
        print("motqa: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("MOTQA_DEBUG"):
            raise
        print(f"motqa: internal error: {type(e).__name__}: {e} (set MOTQA_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return int(Exit.CANNOT_RUN)


def main() -> None:
    """The console command. Once a command is done and its output written, what is left of the
    process is the interpreter tearing down the modules it imported (pandas, pandera, Pillow:
    0.1 to 0.2 s here): skipped. Nothing motqa writes is pending by then (datasets are committed,
    reports and outputs closed); the Great Expectations workers are ended first."""
    code = run()
    from motqa.expectations.worker import shutdown

    shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (| head), or a closed stream
            pass
    os._exit(code)
