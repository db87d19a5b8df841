"""Peak memory and time of the embedded linker on long texts without sentence breaks.

    .venv/bin/python bench/linker_memory.py [--before REF] [--surface-forms N] [--reuse]

Each case is one `annotate` call (what `longtail annotate`, `serve` and the link tasks do per
text) in a fresh process, with Spotlight's defaults (confidence 0.5, support 0):

- `"Paris " * N` for N = 4k, 16k, 64k and 1.75M (10.5 MB): one capitalised run of N tokens;
- a 10 MB document without punctuation: the model's corpus with `.,;:!?` and line breaks
  removed, one sentence;
- for comparison, the same 10 MB as normal text (its sentences kept).

Two models: the synthetic one of bench/linker.py (`--surface-forms`, its corpus of made-up
names; "Paris" is no surface form there, so every sub-chunk of the run is tried and fails),
and the sample model (longtail/sample/wikistats, the wikistats `longtail model build` wrote for
the bundled sample wiki, what `longtail demo` links with; "Paris" is linked there, and its
10 MB texts are the bundled sample corpus repeated).

Per case: resident memory before the call (model loaded, text built, one short text linked),
peak resident memory of the process (VmHWM), the model's pages the call mapped in (RssFile
growth: page cache, shared between processes), the call's working memory (peak less the two),
wall and CPU seconds, annotations. With `--before REF` the same cases run with that git revision's
`longtail` (as bench/linker.py does), each capped at `--limit-gb` of address space and
`--timeout` seconds: the quadratic code would take 23 GB at N = 64k. Files go to
bench/out/linker_memory/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

PARIS = (4_000, 16_000, 64_000, 1_750_000)
TEN_MB = 10_000_000
_PUNCTUATION = re.compile(r"[.,;:!?\n]+")

MEASURE = r"""
import json, resource, sys, time
limit = {limit!r}
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

def memory(key):
    for line in open("/proc/self/status"):
        name, _, value = line.partition(":")
        if name == key:
            return int(value.split()[0]) * 1024

from longtail.sample import SAMPLE_WIKISTATS
from longtail.linking.statistical import StatisticalLinker
linker = StatisticalLinker.load({model!r})
case = {case!r}
if case.startswith("paris-"):
    text = "Paris " * int(case.split("-")[1])
else:
    text = open({path!r}, encoding="utf-8").read()
linker.annotate("Paris is the capital of France.")
before, file_before = memory("VmRSS"), memory("RssFile")
started, cpu = time.perf_counter(), time.process_time()
try:
    found = len(linker.annotate(text))
except MemoryError:
    found = "MemoryError"
print(json.dumps(dict(chars=len(text), before=before, peak=memory("VmHWM"),
                      model_pages=memory("RssFile") - file_before,
                      wall=time.perf_counter() - started, cpu=time.process_time() - cpu,
                      annotations=found)))
"""


def texts(out: Path, corpus: list[str], name: str) -> dict[str, Path]:
    """The 10 MB normal and unpunctuated texts of a corpus (its documents repeated as needed)."""
    paths = {"normal": out / f"{name}-normal.txt", "unpunctuated": out / f"{name}-flat.txt"}
    if not all(p.is_file() for p in paths.values()):
        parts, size = [], 0
        while size < TEN_MB:
            for doc in corpus:
                parts.append(doc)
                size += len(doc) + 1
                if size >= TEN_MB:
                    break
        normal = " ".join(parts)[:TEN_MB]
        paths["normal"].write_text(normal, encoding="utf-8")
        flat = " ".join(_PUNCTUATION.sub(" ", normal).split())
        paths["unpunctuated"].write_text(flat, encoding="utf-8")
    return paths


def sample_corpus() -> list[str]:
    from longtail.sample import SAMPLE_CORPUS

    docs = []
    for line in Path(SAMPLE_CORPUS).read_text(encoding="utf-8").splitlines():
        try:
            text = json.loads(line)["text"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(text, str) and text.strip():
            docs.append(" ".join(text.split()))
    return docs


def prepare(out: Path, surface_forms: int, reuse: bool) -> dict[str, tuple[Path, dict]]:
    """Model folder and 10 MB texts per model."""
    import linker

    from longtail.linking.statistical import import_wikistats
    from longtail.sample import SAMPLE_WIKISTATS

    out.mkdir(parents=True, exist_ok=True)
    built = out / "synthetic" / "build.json"
    if not (reuse and built.is_file()):
        shutil.rmtree(out / "synthetic", ignore_errors=True)
        for stale in out.glob("*.txt"):
            stale.unlink()
        stats = linker.build(out / "synthetic", surface_forms, 12.0)
        import_wikistats(out / "synthetic" / "wikistats", out / "synthetic" / "model",
                         overwrite=True)
        built.write_text(json.dumps(stats), encoding="utf-8")
    if not (reuse and (out / "sample-model").is_dir()):
        import_wikistats(SAMPLE_WIKISTATS, out / "sample-model",
                         overwrite=True)
    synthetic = (out / "synthetic" / "corpus.txt").read_text(encoding="utf-8").splitlines()
    return {
        "synthetic": (out / "synthetic" / "model", texts(out, synthetic, "synthetic")),
        "sample": (out / "sample-model", texts(out, sample_corpus(), "sample")),
    }


def run_case(code: Path | None, model: Path, case: str, path: Path | None, limit: int,
             timeout: float) -> dict:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    script = MEASURE.format(limit=limit, model=str(model), case=case,
                            path=str(path) if path else "")
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"over {timeout:.0f} s"}
    if done.returncode != 0 or not done.stdout.strip():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "MemoryError" in last:  # the linker reports it as LinkError("internal_error")
            return {"failed": f"MemoryError at the {limit / 2**30:.0f} GiB cap"}
        return {"failed": last[:50], "wall": time.perf_counter() - started}
    result = json.loads(done.stdout)
    if result["annotations"] == "MemoryError":
        return {"failed": f"MemoryError at the {limit / 2**30:.0f} GiB cap"}
    return result


def mib(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def working(result: dict) -> int:
    """Peak less the resident memory before the call and the model pages it mapped in."""
    return result["peak"] - result["before"] - max(result["model_pages"], 0)


def row(result: dict) -> str:
    if "failed" in result:
        return f"{result['failed']:>51}"
    return (f"{mib(result['before']):>6} {mib(result['peak']):>6} "
            f"{mib(result['model_pages']):>6} {mib(working(result)):>6} {result['wall']:>7.2f} "
            f"{result['cpu']:>7.2f} {result['annotations']:>9,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="REF",
                        help="also measure this git revision's linker on the same cases")
    parser.add_argument("--surface-forms", type=int, default=200_000,
                        help="size of the synthetic model (default 200,000)")
    parser.add_argument("--limit-gb", type=float, default=4.0,
                        help="address-space cap of each measuring process (default 4)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds before a case is stopped (default 300)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "linker_memory")
    parser.add_argument("--reuse", action="store_true",
                        help="use the models and texts of a previous run in --out")
    args = parser.parse_args()
    limit = int(args.limit_gb * 2**30)
    models = prepare(args.out, args.surface_forms, args.reuse)
    versions: dict[str, Path | None] = {"this checkout": None}
    if args.before:
        import linker

        versions = {f"before ({args.before})": linker.checkout(args.before, args.out),
                    **versions}
    cases = [(f"paris-{n}", None) for n in PARIS] + [("unpunctuated", "unpunctuated"),
                                                     ("normal", "normal")]
    results: dict = {}
    for name, code in versions.items():
        for model, (folder, paths) in models.items():
            for case, text in cases:
                result = run_case(code, folder, case, paths[text] if text else None, limit,
                                  args.timeout)
                results.setdefault(model, {}).setdefault(case, {})[name] = result
                print(f"{name:>24} {model:>9} {case:>14} {row(result)}", flush=True)
    (args.out / "figures.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    report(results, list(versions))
    return 0


def report(results: dict, versions: list[str]) -> None:
    print("\nMiB: resident before the call, peak, model pages mapped in by the call, working "
          "(peak - before - model pages); seconds: wall, CPU; annotations")
    header = f"{'model':>9} {'case':>14} {'chars':>11}"
    for name in versions:
        header += f" | {name[:51]:>51}"
    print(header)
    for model, cases in results.items():
        for case, by_version in cases.items():
            chars = next((r["chars"] for r in by_version.values() if "chars" in r), 0)
            print(f"{model:>9} {case:>14} {chars:>11,}"
                  + "".join(f" | {row(by_version[v])}" for v in versions))
    target = ["paris-4000", "paris-16000", "paris-64000", "unpunctuated"]
    for name in versions:
        print(f"\n{name}:")
        for model, cases in results.items():
            runs = {c: r[name] for c, r in cases.items() if "peak" in r[name]}
            peaks = [runs[c]["peak"] for c in target if c in runs]
            line = f"  {model}: "
            if len(peaks) == len(target):
                line += (f"peak RSS over 'Paris ' x 4k, 16k, 64k and 10 MB unpunctuated "
                         f"{mib(min(peaks))}-{mib(max(peaks))} MiB "
                         f"({max(peaks) / min(peaks):.2f}x); ")
            per_mb = [f"{c.split('-')[-1]}: {runs[c]['cpu'] / (runs[c]['chars'] / 1e6):.2f}"
                      for c in cases if c in runs]
            print(line + "CPU s per MB " + ", ".join(per_mb))
    if len(versions) == 2:
        old_name, new_name = versions
        print(f"\n{old_name} -> {new_name}:")
        for model, cases in results.items():
            for case, by_version in cases.items():
                old, new = by_version[old_name], by_version[new_name]
                if "peak" in new:
                    was = (f"{mib(old['peak'])} MiB, {old['cpu']:.2f} s" if "peak" in old
                           else old["failed"])
                    ratio = (f" ({old['peak'] / new['peak']:.1f}x less memory, CPU "
                             f"{old['cpu'] / max(new['cpu'], 1e-9):.2f}x)"
                             if "peak" in old else "")
                    print(f"  {model} {case}: peak RSS, CPU {was} -> {mib(new['peak'])} MiB, "
                          f"{new['cpu']:.2f} s{ratio}")


if __name__ == "__main__":
    raise SystemExit(main())
