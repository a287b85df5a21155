"""motqa's benchmark: each figure as a ratio to a baseline run in the same session, whole processes."""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import DATA, generate

HERE = Path(__file__).resolve().parent
BASELINES = HERE / "baselines"
PY = sys.executable
MOTQA = [PY, "-m", "motqa"]
GIB = 1024**3
FIGURES = ("startup", "annotations", "images", "parallel", "ingest", "memory", "longest", "scaling", "results",
           "archive")


@dataclass
class Run:
    seconds: float
    max_rss: int  # bytes: the process's peak resident set (the largest of it and its children)
    cpu: float = 0.0  # user + system seconds of the process and its children


@dataclass
class Measured:
    label: str
    runs: list[Run]

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def max_rss(self) -> int:
        return max(r.max_rss for r in self.runs)

    @property
    def cores_used(self) -> float:
        """CPU seconds over wall seconds: how many cores the process kept busy."""
        return statistics.median(r.cpu / r.seconds for r in self.runs)


@dataclass
class Figure:
    name: str
    data: str
    subject: str  # what motqa ran
    value: float | None  # seconds, or bytes for memory
    baseline: str
    baseline_value: float | None
    goal: str
    holds: bool | None  # None: not measured
    unit: str = "s"
    note: str = ""
    runs: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value


class BenchError(RuntimeError):
    pass


def run_once(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Time one whole process and read its peak RSS from wait4 (this process's, not the sum of
    all children so far as RUSAGE_CHILDREN would give)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            tail = out.read().decode("utf-8", "replace")[-2000:]
            raise BenchError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return Run(seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime)


@dataclass
class Job:
    label: str
    cmd: list[str]
    before: Callable[[], None] | None = None  # runs before each run (clears an ingest target)


def ratio_figure(name: str, data: str, m: Measured, base: Measured, goal: float, note: str = "") -> Figure:
    return Figure(name, data, m.label, m.seconds, base.label, base.seconds, f"<= {goal:g}x",
                  m.seconds / base.seconds <= goal, note=note,
                  runs={m.label: [round(r.seconds, 3) for r in m.runs],
                        base.label: [round(r.seconds, 3) for r in base.runs]})


# ---------------------------------------------------------------------------------- figures


class Bench:
    def __init__(self, data: Path, quick: bool, repeat: int, repeat_long: int, log: Callable[[str], None]):
        self.data, self.quick, self.repeat, self.repeat_long, self.log = data, quick, repeat, repeat_long, log
        self._runs: dict[tuple[str, ...], list[Run]] = {}  # one command's runs serve every figure
        self._ingest_help: str | None = None

    def measure(self, *jobs: Job, repeat: int) -> list[Measured]:
        """Run each job until it has `repeat` runs, taking turns so that all see the same machine
        load and a warm page cache. Earlier runs of the same command count."""
        for i in range(repeat):
            for job in jobs:
                done = self._runs.setdefault(tuple(job.cmd), [])
                if len(done) <= i:
                    if job.before is not None:
                        job.before()
                    done.append(run_once(job.cmd))
        return [Measured(job.label, list(self._runs[tuple(job.cmd)])) for job in jobs]

    def dataset(self, benchmark: str, scale: int = 1) -> Path:
        return generate(benchmark, scale, self.quick, self.data, log=not self.quick)

    def validate(self, root: Path, images: str, scale: int = 1) -> Job:
        return Job(f"validate --images {images}" + (f" x{scale}" if scale > 1 else ""),
                   [*MOTQA, "validate", str(root), "--images", images, "--quiet"])

    def baseline(self, label: str, script: str, *args: str) -> Job:
        return Job(label, [PY, str(BASELINES / script), *args])

    def ingest_jobs(self) -> tuple[Job, Job] | None:
        """motqa ingest and the tutorial's, on MOT20, or None while `motqa ingest` does not exist."""
        if self._ingest_help is None:
            probe = subprocess.run([*MOTQA, "ingest", "--help"], capture_output=True, text=True)
            self._ingest_help = probe.stdout if probe.returncode == 0 else ""
        if not self._ingest_help:
            return None
        root = self.dataset("MOT20")
        ours, theirs = self.out / "motqa.deeplake", self.out / "tutorial.deeplake"
        return (Job("motqa ingest", ingest_cmd(self._ingest_help, root, ours), lambda: self.clear(ours)),
                Job("tutorial ingest", [PY, str(BASELINES / "tutorial_ingest.py"), str(root), str(theirs)],
                    lambda: self.clear(theirs)))

    @property
    def out(self) -> Path:
        return self.data / "out"

    def clear(self, target: Path) -> None:
        """Each ingest run writes a new dataset (and report) at `target`."""
        shutil.rmtree(target, ignore_errors=True)
        Path(str(target) + "-report.html").unlink(missing_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------------------ figures

    def startup(self) -> list[Figure]:
        """What the Great Expectations suites add where a user waits: `motqa demo`'s small download
        (135 frames), where start-up is most of the run."""
        root = self.data / "demo"
        if not (root / "README.txt").is_file():
            shutil.rmtree(root, ignore_errors=True)
            run_once([*MOTQA, "demo", str(root)])
        self.log("start-up: validate of the demo download, shipped suites vs --no-shipped-expectations")
        cmd = [*MOTQA, "validate", str(root), "--quiet"]
        m, base = self.measure(Job("validate demo", cmd),
                               Job("validate demo --no-shipped-expectations", [*cmd, "--no-shipped-expectations"]),
                               repeat=self.repeat)
        return [ratio_figure("start-up, GX suites", "motqa demo", m, base, 2.0,
                             "GE's import (scipy.stats, altair, jsonschema, boto3 deferred) and its suites")]

    def annotations(self) -> list[Figure]:
        root = self.dataset("MOT20")
        self.log("annotations: validate --images skip vs pandas.read_csv on MOT20 gt")
        m, base = self.measure(self.validate(root, "skip"),
                               self.baseline("pandas.read_csv", "read_csv.py", str(root)), repeat=self.repeat)
        out = [ratio_figure("annotations vs read_csv", "MOT20 gt", m, base, 4.0)]
        if "--no-shipped-expectations" in subprocess.run([*MOTQA, "validate", "--help"], capture_output=True,
                                                         text=True).stdout:
            self.log("annotations: the same without the shipped Great Expectations suites")
            bare = self.validate(root, "skip")
            bare.label += " --no-shipped-expectations"
            bare.cmd.append("--no-shipped-expectations")
            (nogx,) = self.measure(bare, repeat=self.repeat)
            out.append(ratio_figure("annotations, no GX suites", "MOT20 gt", nogx, base, 4.0,
                                    "where the time goes: the same run without Great Expectations"))
        if importlib.util.find_spec("trackeval") is None:
            out.append(Figure("annotations vs TrackEval", "MOT20 gt", m.label, m.seconds, "TrackEval loader",
                              None, "<= 0.5x", None, note="trackeval not installed (pip install trackeval)"))
            return out
        self.log("annotations: validate --images skip vs TrackEval's MOTChallenge loader")
        (te,) = self.measure(self.baseline("TrackEval loader", "trackeval_loader.py", str(root), "MOT20"),
                             repeat=max(1, self.repeat - 2))
        out.append(ratio_figure("annotations vs TrackEval", "MOT20 gt", m, te, 0.5,
                                "TrackEval reads and splits per frame, checks duplicate ids only"))
        return out

    def images(self) -> list[Figure]:
        root = self.dataset("MOT17")
        self.log("images: validate --images decode vs a loop of full Pillow decodes on MOT17 frames")
        m, base = self.measure(self.validate(root, "decode"),
                               self.baseline("Pillow decode loop", "pillow_decode.py", str(root)),
                               repeat=self.repeat_long)
        return [ratio_figure("images (decode)", "MOT17 frames", m, base, 0.5,
                             f"{os.cpu_count()} cores; motqa decodes at 1/8 scale, which reads every byte")]

    def parallel(self) -> list[Figure]:
        """How motqa's frame decode spreads over the cores: 1 worker vs one per core."""
        root = self.dataset("MOT17")
        cores = len(os.sched_getaffinity(0))
        script = str(HERE / "parallel.py")
        self.log(f"parallel: decoding MOT17 frames with 1 thread, {cores} threads, {cores} processes")
        one, threads, procs = self.measure(
            Job("1 thread", [PY, script, str(root), "threads", "1"]),
            Job(f"{cores} threads", [PY, script, str(root), "threads", str(cores)]),
            Job(f"{cores} processes", [PY, script, str(root), "processes", str(cores)]), repeat=self.repeat_long)
        goal = 1.25 / cores
        out = [Figure(f"decode on {m.label}", "MOT17 frames", m.label, m.seconds, one.label, one.seconds,
                      f"<= {goal:g}x", m.seconds / one.seconds <= goal,
                      note=f"whole processes; cores kept busy: {m.cores_used:.2f} "
                           f"(1 thread: {one.cores_used:.2f}; load average at start {os.getloadavg()[0]:.1f})",
                      runs={m.label: [round(r.seconds, 3) for r in m.runs],
                            one.label: [round(r.seconds, 3) for r in one.runs]})
               for m in (threads, procs)]
        if "--jobs" not in subprocess.run([*MOTQA, "validate", "--help"], capture_output=True, text=True).stdout:
            return out
        self.log(f"parallel: motqa validate --jobs 1 vs --jobs {cores} on MOT17 frames (no GX suites)")
        base = [*MOTQA, "validate", str(root), "--images", "decode", "--no-shipped-expectations", "--quiet"]
        j1, jn = self.measure(Job("validate --jobs 1", [*base, "--jobs", "1"]),
                              Job(f"validate --jobs {cores}", [*base, "--jobs", str(cores)]), repeat=self.repeat_long)
        out.append(Figure(f"validate --jobs {cores}", "MOT17 frames", jn.label, jn.seconds, j1.label, j1.seconds,
                          f"<= {goal:g}x", jn.seconds / j1.seconds <= goal,
                          note=f"the whole command (parsing and checks are not spread); cores kept busy: "
                               f"{jn.cores_used:.2f} (--jobs 1: {j1.cores_used:.2f})",
                          runs={jn.label: [round(r.seconds, 3) for r in jn.runs],
                                j1.label: [round(r.seconds, 3) for r in j1.runs]}))
        return out

    def ingest(self) -> list[Figure]:
        jobs = self.ingest_jobs()
        if jobs is None:
            self.log("ingest: not available yet")
            return [Figure("ingest", "MOT20", "motqa ingest", None, "tutorial ingest", None, "<= 1.5x",
                           None, note="ingest: not available yet")]
        self.log("ingest: motqa ingest vs the tutorial's way on MOT20")
        m, base = self.measure(*jobs, repeat=self.repeat_long)
        return [ratio_figure("ingest", "MOT20", m, base, 1.5,
                             "gate with every frame decoded, write, report vs pandas per frame + write")]

    def memory(self) -> list[Figure]:
        root = self.dataset("MOT20")
        self.log("memory: validate (decode) on MOT20")
        m, base = self.measure(self.validate(root, "decode"),
                               self.baseline("pandas.read_csv", "read_csv.py", str(root)), repeat=1)
        out = [_memory_figure("peak memory validate", m, base, "every frame decoded")]
        jobs = self.ingest_jobs()
        if jobs is None:
            out.append(Figure("peak memory ingest", "MOT20", "motqa ingest", None, "tutorial ingest", None,
                              "< 1.5 GiB", None, unit="GiB", note="ingest: not available yet"))
            return out
        self.log("memory: ingest vs the tutorial's on MOT20")
        mi, bi = self.measure(*jobs, repeat=1)
        out.append(_memory_figure("peak memory ingest", mi, bi, "the largest of its runs"))
        return out

    def longest(self) -> list[Figure]:
        """Ingest's peak memory as the longest sequence doubles: MOT20-05 alone (3,315 frames of
        1654x1080, 751,330 gt rows) against a generated sequence twice as long. Memory bounded by
        what the writer commits at a time holds at most 1.2x; one bounded by the sequence, 2x."""
        if self.ingest_jobs() is None:
            return []
        assert self._ingest_help is not None
        jobs = []
        for name in ("MOT20-05", "MOT20-05-long"):
            root, target = self.dataset(name), self.out / f"{name}.deeplake"
            jobs.append(Job(f"motqa ingest {name}", ingest_cmd(self._ingest_help, root, target),
                            lambda target=target: self.clear(target)))
        self.log("longest: motqa ingest of MOT20-05 and of a sequence twice as long")
        one, two = self.measure(*jobs, repeat=1)
        return [
            Figure("peak memory ingest, longest x1", "MOT20-05", one.label, one.max_rss, "", None, "< 1.5 GiB",
                   one.max_rss < 1.5 * GIB, unit="GiB", note="one sequence of 3,315 frames"),
            Figure("peak memory ingest, longest x2", "MOT20-05 x2 long", two.label, two.max_rss, one.label,
                   one.max_rss, "<= 1.2x", two.max_rss <= 1.2 * one.max_rss and two.max_rss < 1.5 * GIB,
                   unit="GiB", note=f"one sequence of 6,630 frames; time {two.seconds:.1f} s against "
                                    f"{one.seconds:.1f} s ({two.seconds / one.seconds:.2f}x)"),
        ]

    def scaling(self) -> list[Figure]:
        """validate --images skip at 1x, 2x and 4x MOT20's annotations (more sequences)."""
        measured = {}
        for scale in (1, 2, 4):
            root = self.dataset("MOT20", scale)
            self.log(f"scaling: validate --images skip on MOT20 x{scale}")
            (measured[scale],) = self.measure(self.validate(root, "skip", scale), repeat=max(1, self.repeat - 2))
        one = measured[1]
        out = []
        for scale in (2, 4):
            m = measured[scale]
            out.append(Figure(f"scaling time x{scale}", f"MOT20 gt x{scale}", m.label, m.seconds, one.label,
                              one.seconds, f"<= {1.1 * scale:g}x", m.seconds / one.seconds <= 1.1 * scale,
                              note="linear or better (start-up is paid once)",
                              runs={m.label: [round(r.seconds, 3) for r in m.runs]}))
        for scale in (2, 4):
            m = measured[scale]
            out.append(Figure(f"scaling memory x{scale}", f"MOT20 gt x{scale}", m.label, m.max_rss, one.label,
                              one.max_rss, "<= 1.25x", m.max_rss / one.max_rss <= 1.25, unit="GiB",
                              note="flat: sequences are loaded one at a time"))
        t1, t2, t4 = (measured[s].seconds for s in (1, 2, 4))
        if t2 > t1:
            out[1].note += f"; increments (x4-x2)/(x2-x1) = {(t4 - t2) / (t2 - t1):.2f} (2 is linear)"
        return out


    def results(self) -> list[Figure]:
        """motqa results on MOT20-size tracker output (the gt as a perfect tracker's result) vs
        validate --images skip on the same gt, in one session."""
        root = self.dataset("MOT20")
        folder = result_folder(root)
        self.log("results: motqa results --gt vs validate --images skip on MOT20 gt")
        m, base = self.measure(Job("motqa results --gt", [*MOTQA, "results", str(folder), "--gt", str(root),
                                                          "--quiet"]),
                               self.validate(root, "skip"), repeat=self.repeat)
        return [ratio_figure("results vs validate", "MOT20 results", m, base, 2.0,
                             "1.3M result rows (gt with ids from 0, frame order), read with the gt they answer")]


    def archive(self) -> list[Figure]:
        """The same MOT17 download validated as its zip and as the folder it extracts to: with every
        frame decoded (the default) and with --images header, where reading is most of the work (a
        zip member is inflated whole; on disk only a frame's header and end are read)."""
        root = self.dataset("MOT17")
        archive = zipped(root, self.log)
        out: list[Figure] = []
        for images in ("decode", "header"):
            self.log(f"archive: validate --images {images} of {archive.name} "
                     f"({archive.stat().st_size / GIB:.1f} GiB) vs the extracted folder")
            args = ["--images", images, "--quiet"]
            m, base = self.measure(Job(f"validate MOT17.zip --images {images}",
                                       [*MOTQA, "validate", str(archive), *args]),
                                   Job(f"validate folder --images {images}", [*MOTQA, "validate", str(root), *args]),
                                   repeat=self.repeat_long)
            note = ("deflated members (level 1) read with os.pread and zlib, never extracted"
                    + ("; each member inflated whole, the folder reads a frame's ends only" if images == "header"
                       else ""))
            out += [ratio_figure(f"archive vs folder ({images})", "MOT17 zip", m, base, 1.25, note),
                    Figure(f"archive vs folder ({images}), memory", "MOT17 zip", m.label, m.max_rss, base.label,
                           base.max_rss, "<= 1.25x", m.max_rss <= 1.25 * base.max_rss, unit="GiB",
                           note="peak RSS")]
        return out


def zipped(root: Path, log: Callable[[str], None]) -> Path:
    """The generated download as a zip (cached beside it), MOT17/train/... inside, as MOT17.zip is."""
    import zipfile

    out = root.parent / f"{root.name}.zip"
    if out.is_file():
        return out
    log(f"archive: zipping {root.name} (deflate level 1)")
    tmp = out.with_suffix(".partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for f in sorted(root.rglob("*")):
            if f.is_file() and f.name != "complete.json":
                zf.write(f, "MOT17/" + f.relative_to(root).as_posix())
    tmp.rename(out)
    return out


def result_folder(root: Path) -> Path:
    """A tracker's result folder for the generated gt under `root` (cached beside it): every gt
    row as a result row, id shifted to count from 0, in frame order, 10 fields as floats."""
    import numpy as np
    import pandas as pd

    out, done = root.parent / f"{root.name}-results", root.parent / f"{root.name}-results.complete"
    if done.is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    for gt in sorted(root.glob("train/*/gt/gt.txt")):
        rows = pd.read_csv(gt, header=None).to_numpy()
        rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
        result = pd.DataFrame({"frame": rows[:, 0].astype(int), "id": rows[:, 1].astype(int) - 1,
                               "left": rows[:, 2], "top": rows[:, 3], "width": rows[:, 4], "height": rows[:, 5],
                               "conf": 1.0, "x": -1, "y": -1, "z": -1})
        result.to_csv(out / f"{gt.parent.parent.name}.txt", header=False, index=False, float_format="%.2f")
    done.write_text("")  # beside the folder: a file in it would be a result-not-text finding
    return out


def _memory_figure(name: str, m: Measured, base: Measured, note: str) -> Figure:
    return Figure(name, "MOT20", m.label, m.max_rss, base.label, base.max_rss, "< 1.5 GiB",
                  m.max_rss < 1.5 * GIB, unit="GiB", note=note)


def ingest_cmd(help_text: str, root: Path, target: Path) -> list[str]:
    """`motqa ingest` with every frame decoded, no progress display, and its HTML report written
    beside the target."""
    cmd = [*MOTQA, "ingest", str(root), str(target)]
    if "--images" in help_text:
        cmd += ["--images", "decode"]
    if "--quiet" in help_text:
        cmd.append("--quiet")
    if "--report" in help_text:
        cmd += ["--report", str(target) + "-report.html"]
    return cmd


# ---------------------------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def _show(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value / GIB:.2f} GiB" if unit == "GiB" else f"{value:.2f} s"


def table(figures: list[Figure]) -> str:
    head = ("figure", "data", "motqa", "baseline", "ratio", "goal", "holds")
    rows = [head]
    for f in figures:
        holds = "-" if f.holds is None else ("yes" if f.holds else "NO")
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        rows.append((f.name, f.data, _show(f.value, f.unit), f"{_show(f.baseline_value, f.unit)} {f.baseline}",
                     ratio, f.goal, holds))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {f.name}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else [])) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny data, one run each (the smoke test)")
    p.add_argument("--only", action="append", choices=FIGURES, help="run only this figure (repeatable)")
    p.add_argument("--repeat", type=int, help="runs of the short measurements (median; default 5, quick 1)")
    p.add_argument("--repeat-long", type=int, help="runs of the long ones (default 2, quick 1)")
    p.add_argument("--data", type=Path, default=DATA, help=f"generated data cache (default {DATA})")
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = p.parse_args(argv)
    bench = Bench(args.data, args.quick, args.repeat or (1 if args.quick else 5),
                  args.repeat_long or (1 if args.quick else 2),
                  lambda text: print(f"... {text}", file=sys.stderr, flush=True))
    args.data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    figures: list[Figure] = []
    for name in args.only or FIGURES:
        try:
            figures += getattr(bench, name)()
        except BenchError as e:
            print(f"bench: {name} failed: {e}", file=sys.stderr)
            return 1
        finally:
            shutil.rmtree(bench.out, ignore_errors=True)  # ingested datasets: GBs, never reused
    info = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), **machine(),
            "command": " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
            "seconds": round(time.perf_counter() - started, 1)}
    print(f"motqa bench {info['date']}  nproc {info['nproc']}  {info['cpu']}  load {info['load_average']}")
    print(f"command: {info['command']}  ({info['seconds']} s)\n")
    if args.quick:
        print("quick: tiny data, one run each; the goals do not apply\n")
        for f in figures:
            f.holds = None
    print(table(figures), end="")
    if args.json:
        args.json.write_text(json.dumps({**info, "figures": [{**asdict(f), "ratio": f.ratio} for f in figures]},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
