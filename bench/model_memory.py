"""Driver memory of a model build as the dump grows: one copy of the 206-page enwiki sample
against the same pages repeated 20 times in one dump.

    .venv/bin/python bench/model_memory.py [--copies 20] [--out DIR]

Each build runs in a fresh process (local[2] Spark) and reports the peak resident memory
(VmHWM) of the Python driver and of the driver JVM (which in local mode also runs the tasks;
its heap is capped by spark.driver.memory). The build streams pages through the executors and
streams output rows to the files, so the driver's peak should stay flat: the target is the
20-copy build using at most twice the driver memory of the one-copy build. (The 20-copy model
itself is larger: every surface form linked once in the sample is linked 20 times there and
passes the minimum count; the model compiler runs in the driver process.)
"""

from __future__ import annotations

import argparse
import bz2
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT.parent / "shared" / "data" / "wikipedia" / "enwiki-sample-206pages.xml.bz2"


def write_copies(sample: Path, copies: int, path: Path) -> Path:
    """The sample's pages `copies` times inside one <mediawiki> root (a well-formed dump)."""
    xml = bz2.decompress(sample.read_bytes()).decode("utf-8")
    head = xml[: xml.index("<page>")]
    body = xml[xml.index("<page>") : xml.rindex("</page>") + len("</page>")]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head)
        for _ in range(copies):
            handle.write(body)
            handle.write("\n")
        handle.write("</mediawiki>\n")
    return path


def peak_kib(pid: int | str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


def run_build(dump: str, out: str) -> dict:
    """One build in this process; peak memory of this process and of the driver JVM."""
    from longtail.jobs.build_model import BuildOptions, build_model
    from longtail.jobs.session import spark_session

    spark = spark_session("bench model memory", "local[2]", **{
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false"})
    jvm_pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    try:
        report = build_model(spark, [dump], out, BuildOptions(overwrite=True))
        jvm = peak_kib(jvm_pid)
    finally:
        spark.stop()
    return {"python_driver_kib": peak_kib("self"), "jvm_driver_kib": jvm,
            "pages": report["pages"], "links": report["links"]["total"],
            "surface_forms": report["surface_forms"]["kept"],
            "context_tokens": report["import"].get("vocabulary", 0),
            "seconds": report["seconds_total"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "model_memory")
    parser.add_argument("--run", nargs=2, metavar=("DUMP", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_build(*args.run)))
        return 0
    if not SAMPLE.is_file():
        print(f"sample not found: {SAMPLE}", file=sys.stderr)
        return 2
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    results = {}
    for copies in (1, args.copies):
        dump = write_copies(SAMPLE, copies, args.out / f"sample-x{copies}.xml")
        done = subprocess.run(
            [sys.executable, __file__, "--run", str(dump), str(args.out / f"model-x{copies}")],
            capture_output=True, text=True, check=True)
        results[copies] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[copies]
        print(f"{copies:>3} cop{'y' if copies == 1 else 'ies'} ({dump.stat().st_size / 1e6:.0f} MB"
              f" XML, {r['pages']:,} pages, {r['links']:,} links, {r['seconds']:.0f} s): "
              f"peak RSS python driver {r['python_driver_kib'] / 1024:.0f} MiB, "
              f"driver JVM {r['jvm_driver_kib'] / 1024:.0f} MiB; model of "
              f"{r['surface_forms']:,} surface forms")
    one, many = results[1], results[args.copies]
    total_one = one["python_driver_kib"] + one["jvm_driver_kib"]
    total_many = many["python_driver_kib"] + many["jvm_driver_kib"]
    ratio = total_many / total_one
    print(f"driver peak x{args.copies} / x1: {ratio:.2f} "
          f"(python {many['python_driver_kib'] / one['python_driver_kib']:.2f}, "
          f"JVM {many['jvm_driver_kib'] / one['jvm_driver_kib']:.2f}); "
          f"{'within' if ratio <= 2 else 'OVER'} the 2x target")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
