"""Benchmark of `longtail run` end to end: where the time goes, stage by stage.

    .venv/bin/python bench/pipeline.py [--mb 200] [--variants jsonl,jsonl-1000,parquet,...]
                                       [--surface-forms 1000000] [--run-args "..."] [--reuse]

Builds once (bench/linker.py's helpers, same seeds) the synthetic 1M-form model and a corpus of
3 KB documents of `--mb` MB, written as one JSON Lines file, as 1,000 JSON Lines files, as one
Parquet file (row groups of 5,000 rows) and as 1,000 Parquet files. Measures the linker in
process on the first `--linker-mb` MB (MB per CPU second: the per-core rate of
bench/linker.py), then for each variant runs `longtail run --master local[2]` as a real
subprocess on a fresh output folder and prints, per stage: wall seconds (the stage's own
line), CPU seconds of the whole process tree over those seconds, MB/s per core
(corpus MB / wall / cores), Spark jobs, stages and tasks (from Spark's event log), peak
memory of the Python driver, of the JVM and of the Python workers (psutil, sampled every
0.2 s), and the link stage's per-core rate over the in-process rate. The load average is
printed beside every run: the machine may be shared. Files go to bench/out/pipeline/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import linker as linker_bench  # noqa: E402

VARIANTS = ("jsonl", "jsonl-1000", "parquet", "parquet-1000")
PARQUET_ROW_GROUP_ROWS = 5_000
STAGE_LINE = re.compile(r"^\[longtail\] (\w+)\s+([\d.]+) s")
MASTER_CORES = re.compile(r"local\[(\d+)\]")

IN_PROCESS = """
import json, sys, time
sys.path.insert(0, {bench!r})
from linker_measure import timed
from longtail.linking.statistical import StatisticalLinker
linker = StatisticalLinker.load({model!r}, confidence=0.4, support=20)
docs, size = [], 0
with open({corpus!r}, encoding="utf-8") as handle:
    for line in handle:
        docs.append(line.rstrip("\\n"))
        size += len(line.encode("utf-8"))
        if size >= {limit}:
            break
linker.annotate(docs[0])
wall, cpu, found = timed(linker, docs)
print(json.dumps({{"bytes": size, "wall": wall, "cpu": cpu, "annotations": found}}))
"""


# ---- inputs -------------------------------------------------------------------------------

def build_model(work: Path, surface_forms: int) -> Path:
    """The bench model (bench/linker.py's wikistats, imported), built once per size."""
    model = work / f"model-{surface_forms}"
    if (model / "model.json").is_file() and (work / f"lexicon-{surface_forms}.txt").is_file():
        return model
    print(f"building the {surface_forms:,}-form model (once)", flush=True)
    stats = linker_bench.write_wikistats(work / "wikistats", surface_forms)
    (work / f"lexicon-{surface_forms}.txt").write_text(
        "".join(n + "\n" for n in stats["names"]), encoding="utf-8")
    np.save(work / f"weights-{surface_forms}.npy", stats["weights"])
    linker_bench.import_model(None, work / "wikistats", model)
    shutil.rmtree(work / "wikistats")
    return model


def build_corpus(work: Path, surface_forms: int, mb: float, files: int) -> dict[str, Path]:
    """The corpus text, and each variant's input (a file or a folder), built once per size."""
    folder = work / f"corpus-{mb:g}mb-{files}"
    text = folder / "corpus.txt"
    variants = {"jsonl": folder / "corpus.jsonl", "jsonl-1000": folder / "jsonl-files",
                "parquet": folder / "corpus.parquet", "parquet-1000": folder / "parquet-files"}
    if (folder / "done").is_file():
        return variants
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    names = (work / f"lexicon-{surface_forms}.txt").read_text(encoding="utf-8").splitlines()
    weights = np.load(work / f"weights-{surface_forms}.npy")
    written = linker_bench.write_corpus(text, names, weights, mb)
    lines = text.read_text(encoding="utf-8").splitlines()
    print(f"corpus: {len(lines):,} documents, {written / 1e6:.1f} MB of text", flush=True)
    records = [json.dumps({"text": line, "id": f"doc-{i}"}, ensure_ascii=False) + "\n"
               for i, line in enumerate(lines)]
    variants["jsonl"].write_text("".join(records), encoding="utf-8")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"text": lines, "id": [f"doc-{i}" for i in range(len(lines))]})
    pq.write_table(table, variants["parquet"], row_group_size=PARQUET_ROW_GROUP_ROWS)
    bounds = np.linspace(0, len(lines), files + 1).astype(int)
    variants["jsonl-1000"].mkdir()
    variants["parquet-1000"].mkdir()
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        (variants["jsonl-1000"] / f"part-{i:05d}.jsonl").write_text(
            "".join(records[lo:hi]), encoding="utf-8")
        pq.write_table(table.slice(lo, hi - lo), variants["parquet-1000"] / f"part-{i:05d}.parquet")
    (folder / "done").write_text(str(written), encoding="utf-8")
    return variants


def in_process_rate(model: Path, corpus: Path, mb: float) -> dict:
    """bench/linker.py's measure in a fresh process: annotate_many over the first `mb` MB."""
    code = IN_PROCESS.format(bench=str(ROOT / "bench"), model=str(model), corpus=str(corpus),
                             limit=int(mb * 1e6))
    result = linker_bench.run_python(None, ["-c", code])
    result["mb_per_cpu_s"] = result["bytes"] / 1e6 / result["cpu"]
    return result


# ---- one run ------------------------------------------------------------------------------

class TreeSampler:
    """CPU and resident memory of a process tree, sampled in a thread.

    Roles: the `driver` (the root Python process), the `jvm` (java processes) and the
    `workers` (Python processes under the JVM). CPU of a process is its last sampled value,
    so a process that lives less than one interval is missed.
    """

    def __init__(self, root: int, interval: float = 0.2):
        self.root = psutil.Process(root)
        self.interval = interval
        self.cpu: dict[tuple[int, float], float] = {}
        self.peaks: dict[str, int] = defaultdict(int)
        self.history: list[tuple[float, float]] = []  # (time, CPU seconds of the tree)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def total_cpu(self) -> float:
        self.sample()
        with self.lock:
            return sum(self.cpu.values())

    def cpu_at(self, moment: float) -> float:
        """CPU seconds of the tree at `moment` (perf_counter), from the samples around it."""
        with self.lock:
            times = [t for t, _ in self.history]
            at = np.searchsorted(times, moment)
            if at == 0:
                return 0.0
            if at == len(times):
                return self.history[-1][1]
            (t0, c0), (t1, c1) = self.history[at - 1], self.history[at]
            return c0 + (c1 - c0) * (moment - t0) / (t1 - t0 or 1)

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        rss: dict[str, int] = defaultdict(int)
        largest_worker = 0
        with self.lock:
            for proc in procs:
                try:
                    with proc.oneshot():
                        times = proc.cpu_times()
                        memory = proc.memory_info().rss
                        role = self._role(proc)
                        key = (proc.pid, proc.create_time())
                except psutil.Error:
                    continue
                self.cpu[key] = max(self.cpu.get(key, 0.0), times.user + times.system)
                rss[role] += memory
                if role == "workers":
                    largest_worker = max(largest_worker, memory)
            self.history.append((time.perf_counter(), sum(self.cpu.values())))
            for role, value in rss.items():
                self.peaks[role] = max(self.peaks[role], value)
            self.peaks["largest worker"] = max(self.peaks["largest worker"], largest_worker)

    def _role(self, proc: psutil.Process) -> str:
        if proc.pid == self.root.pid:
            return "driver"
        if "java" in proc.name():
            return "jvm"
        return "workers"

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()


def event_log_figures(folder: Path) -> dict[str, dict[str, int]]:
    """Spark jobs, completed stages and tasks per longtail stage (the job description's first
    word), from the event log(s) in `folder`."""
    job_stage: dict[int, str] = {}
    stage_owner: dict[int, str] = {}
    stage_job: dict[int, int] = {}
    figures: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    jobs: dict[int, dict] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith((".", "appstatus")):
            continue
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                event = json.loads(line)
                kind = event["Event"]
                if kind == "SparkListenerJobStart":
                    described = (event.get("Properties") or {}).get("spark.job.description")
                    owner = (described or "other").split(":")[0].strip() or "other"
                    job_stage[event["Job ID"]] = owner
                    figures[owner]["jobs"] += 1
                    jobs[event["Job ID"]] = {"owner": owner, "description": described or "",
                                             "start": event["Submission Time"], "stages": 0,
                                             "tasks": 0}
                    for stage_id in event.get("Stage IDs", []):
                        stage_owner.setdefault(stage_id, owner)
                        stage_job.setdefault(stage_id, event["Job ID"])
                elif kind == "SparkListenerJobEnd" and event["Job ID"] in jobs:
                    job = jobs[event["Job ID"]]
                    job["seconds"] = (event["Completion Time"] - job.pop("start")) / 1000
                elif kind == "SparkListenerStageCompleted":
                    info = event["Stage Info"]
                    owner = stage_owner.get(info["Stage ID"], "other")
                    figures[owner]["stages"] += 1
                    figures[owner]["tasks"] += info["Number of Tasks"]
                    job = jobs.get(stage_job.get(info["Stage ID"], -1))
                    if job is not None:
                        job["stages"] += 1
                        job["tasks"] += info["Number of Tasks"]
    for job in jobs.values():
        figures[job["owner"]].setdefault("job_list", []).append(job)
    return {k: dict(v) for k, v in figures.items()}


def checkout(ref: str, work: Path) -> Path:
    """A folder where `import longtail` gives the code of git revision `ref` (pipeline/ as
    longtail, jobs/ and schemas/ inside it, as the installed package lays them out)."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], check=True,
                         capture_output=True, text=True).stdout.strip()
    root = work / f"code-{sha}"
    if not (root / "longtail" / "jobs").is_dir():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "pipeline", "jobs",
                                  "schemas"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
        (root / "pipeline").rename(root / "longtail")
        (root / "jobs").rename(root / "longtail" / "jobs")
        (root / "schemas").rename(root / "longtail" / "schemas")
    return root


def run_variant(name: str, corpus: Path, corpus_mb: float, model: Path, work: Path,
                master: str, run_args: list[str], code: Path | None = None) -> dict:
    label = f"{code.name if code else 'checkout'}-{corpus_mb:.0f}mb"
    out = work / "runs" / label / name  # runs of other revisions or sizes may be going on
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    events = Path(tempfile.mkdtemp(prefix="longtail-events-"))
    from longtail.sample import SAMPLE_QA

    command = [sys.executable, "-m", "longtail.jobs.cli", "run", "--corpus", str(corpus),
               "--qa", str(SAMPLE_QA), "--qa-format", "nq-open", "--model", str(model),
               "--out", str(out), "--master", master, *run_args]
    env = dict(os.environ, PYSPARK_SUBMIT_ARGS=(
        f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={events.as_uri()} "
        "--conf spark.eventLog.compress=false --conf spark.eventLog.rolling.enabled=false "
        "--conf spark.ui.showConsoleProgress=false pyspark-shell"))
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=ROOT)
    stages: list[dict] = []
    log: list[str] = []
    with TreeSampler(proc.pid) as sampler:
        mark_cpu, mark_wall = 0.0, started
        for line in proc.stdout:
            log.append(line)
            match = STAGE_LINE.match(line)
            if match:
                # the stage's own seconds end now: its CPU is the tree's over that span
                now, cpu, seconds = time.perf_counter(), sampler.total_cpu(), float(match[2])
                stages.append({"stage": match[1], "seconds": seconds,
                               "window": now - mark_wall, "window_cpu": cpu - mark_cpu,
                               "cpu": cpu - sampler.cpu_at(now - seconds),
                               "line": line.strip()})
                mark_cpu, mark_wall = cpu, now
        proc.wait()
        total_cpu = sampler.total_cpu()
    wall = time.perf_counter() - started
    (out.parent / f"{name}.log").write_text("".join(log), encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"{name}: longtail run failed ({proc.returncode}):\n"
                         + "".join(log[-40:]))
    spark = event_log_figures(events)
    shutil.rmtree(events, ignore_errors=True)
    return {"variant": name, "corpus_mb": corpus_mb, "wall": wall, "cpu": total_cpu,
            "stages": stages, "spark": spark, "peaks": dict(sampler.peaks),
            "load_before": load_before, "load_after": os.getloadavg(),
            "command": shlex.join(command)}


def show(result: dict, cores: int, rate: float) -> None:
    mb = result["corpus_mb"]
    print(f"\n== {result['variant']}: {mb:.1f} MB, wall {result['wall']:.1f} s, "
          f"CPU {result['cpu']:.1f} s; load average before "
          f"{'/'.join(f'{x:.2f}' for x in result['load_before'])}, after "
          f"{'/'.join(f'{x:.2f}' for x in result['load_after'])}")
    header = (f"  {'stage':<8} {'wall s':>7} {'CPU s':>7} {'MB/s/core':>9} {'MB/CPU-s':>8} "
              f"{'jobs':>5} {'stages':>6} {'tasks':>6}")
    print(header)
    accounted = 0.0
    for stage in result["stages"]:
        spark = result["spark"].get(stage["stage"], {})
        accounted += stage["seconds"]
        per_core = mb / stage["seconds"] / cores if stage["seconds"] else float("nan")
        per_cpu = mb / stage["cpu"] if stage["cpu"] else float("nan")
        print(f"  {stage['stage']:<8} {stage['seconds']:7.1f} {stage['cpu']:7.1f} "
              f"{per_core:9.2f} {per_cpu:8.2f} {spark.get('jobs', 0):5} "
              f"{spark.get('stages', 0):6} {spark.get('tasks', 0):6}")
        if stage["stage"] == "link":
            result["link_over_in_process"] = per_core / rate
            result["link_cpu_over_in_process"] = per_cpu / rate
    other = result["spark"].get("other", {})
    print(f"  {'other':<8} {result['wall'] - accounted:7.1f} {'':>7} {'':>9} {'':>8} "
          f"{other.get('jobs', 0):5} {other.get('stages', 0):6} {other.get('tasks', 0):6}"
          "   (start-up, plans, jobs without a stage's description)")
    peaks = result["peaks"]
    print("  peak RSS: " + ", ".join(
        f"{role} {peaks.get(role, 0) / 2**20:,.0f} MiB"
        for role in ("driver", "jvm", "workers", "largest worker")))
    link = next((s for s in result["stages"] if s["stage"] == "link"), None)
    index = next((s for s in result["stages"] if s["stage"] == "index"), None)
    if link:
        print(f"  link per core {mb / link['seconds'] / cores:.2f} MB/s = "
              f"{result['link_over_in_process']:.2f} of the in-process {rate:.2f} MB/CPU-s "
              f"(per CPU second {result['link_cpu_over_in_process']:.2f} of it; cores busy "
              f"{link['cpu'] / link['seconds']:.2f} of {cores})"
              + (f"; index / link = {index['seconds'] / link['seconds']:.2f}" if index else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200.0, help="corpus size (default 200)")
    parser.add_argument("--files", type=int, default=1000,
                        help="files of the many-file variants (default 1000)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--surface-forms", type=int, default=1_000_000)
    parser.add_argument("--linker-mb", type=float, default=20.0,
                        help="MB linked in process for the reference rate (default 20)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--run-args", default="",
                        help="extra arguments for longtail run, e.g. \"--shard-bytes 32MB\"")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "pipeline")
    parser.add_argument("--save", type=Path, help="write the figures as JSON to this file")
    parser.add_argument("--jobs", default="index",
                        help="comma-separated stages whose Spark jobs are listed one by one "
                             "(default index; '' for none)")
    parser.add_argument("--code", metavar="REF",
                        help="run longtail from this git revision instead of the checkout "
                             "(e.g. the commit before a change: the 'before' figures)")
    parser.add_argument("--show", type=Path, metavar="JSON",
                        help="print the figures saved with --save by an earlier run, and stop")
    args = parser.parse_args()
    cores = int(m[1]) if (m := MASTER_CORES.fullmatch(args.master)) else os.cpu_count() or 1
    if args.show:
        saved = json.loads(args.show.read_text(encoding="utf-8"))
        print(f"in-process linker: {saved['in_process']['mb_per_cpu_s']:.2f} MB per CPU second")
        for result in saved["runs"]:
            show(result, cores, saved["in_process"]["mb_per_cpu_s"])
        return 0
    variants = [v for v in args.variants.split(",") if v]
    if bad := [v for v in variants if v not in VARIANTS]:
        parser.error(f"unknown variant {bad[0]!r}; choose of {', '.join(VARIANTS)}")
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    model = build_model(work, args.surface_forms)
    inputs = build_corpus(work, args.surface_forms, args.mb, args.files)
    corpus_mb = (inputs["jsonl"].parent / "corpus.txt").stat().st_size / 1e6
    print(f"{os.cpu_count()} CPUs, master {args.master}; load average "
          f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    rate = in_process_rate(model, inputs["jsonl"].parent / "corpus.txt", args.linker_mb)
    print(f"in-process linker (bench/linker.py's measure, first {rate['bytes'] / 1e6:.1f} MB): "
          f"{rate['mb_per_cpu_s']:.2f} MB per CPU second", flush=True)
    code = checkout(args.code, work) if args.code else None
    if code is not None:
        print(f"longtail from {args.code} ({code.name})", flush=True)
    results = []
    for name in variants:
        result = run_variant(name, inputs[name], corpus_mb, model, work, args.master,
                             shlex.split(args.run_args), code)
        result["code"] = args.code or "checkout"
        show(result, cores, rate["mb_per_cpu_s"])
        for stage in filter(None, args.jobs.split(",")):
            for job in result["spark"].get(stage, {}).get("job_list", []):
                print(f"    {stage} job {job.get('seconds', float('nan')):6.2f} s "
                      f"{job['stages']:3} stages {job['tasks']:5} tasks  {job['description']}")
        results.append(result)
        sys.stdout.flush()
    if args.save:
        args.save.write_text(json.dumps({"in_process": rate, "runs": results}, indent=1),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
