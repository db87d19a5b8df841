"""Load benchmark of `longtail serve` against the same linker called in-process.

    .venv/bin/python bench/serve.py [--model DIR] [--clients 4] [--seconds 20] [--threads 1]
                                    [--workers 1] [--texts c4|sample]

Starts `python -m longtail.serve` on 127.0.0.1 (the bundled sample's model, built once into
bench/out/serve/model with Spark, unless --model names one) and drives it for a bounded time
with N client threads, each with its own `requests.Session`, posting real texts as form data
(the 449 C4 documents of ../shared/data/c4 when present, else the bundled sample corpus) in
Spotlight's JSON; then N client processes, since N client threads share one interpreter lock
and can be the bottleneck themselves. Then the same texts for the same time in this process:
N threads, each with its own `StatisticalLinker` over one memory-mapped model (what the
server does per request), and one thread alone. Prints requests/s, p50/p99 latency and KB/s
of text for each, and writes them to bench/out/serve/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from longtail.linking.statistical import StatisticalLinker, StatisticalModel  # noqa: E402
from longtail.sample import SAMPLE_CORPUS, SAMPLE_WIKI  # noqa: E402

C4 = ROOT.parent / "shared" / "data" / "c4" / "c4-sample-449.jsonl"
OUT = ROOT / "bench" / "out" / "serve"
CONFIDENCE = 0.4
MAX_REQUESTS_PER_CLIENT = 1_000_000  # a bound besides the clock


def load_texts(which: str) -> tuple[str, list[str]]:
    path = C4 if which == "c4" else SAMPLE_CORPUS
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            text = json.loads(line).get("text", "")
        except json.JSONDecodeError:
            continue
        if isinstance(text, str) and text.strip():
            texts.append(text)
    return str(path), texts


def sample_model() -> Path:
    model = OUT / "model"
    if not (model / "model.json").is_file():
        print(f"building the sample model into {model} (Spark, about a minute)", flush=True)
        subprocess.run([sys.executable, "-m", "longtail.jobs.build_model",
                        "--wikipedia", str(SAMPLE_WIKI),
                        "--out", str(model), "--master", "local[2]"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    return model


def run_client(work: Callable[[str], None], texts: list[str], first: int,
               deadline: float) -> tuple[list[float], int, int]:
    """(latencies, bytes of text, errors) of one client calling `work` until `deadline`."""
    latencies: list[float] = []
    text_bytes = errors = 0
    k = first
    while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS_PER_CLIENT:
        text = texts[k % len(texts)]
        k += 1
        began = time.perf_counter()
        try:
            work(text)
        except Exception:  # noqa: BLE001 - counted, the run goes on
            errors += 1
            continue
        latencies.append(time.perf_counter() - began)
        text_bytes += len(text.encode("utf-8"))
    return latencies, text_bytes, errors


def summary(clients: int, elapsed: float, runs: list[tuple[list[float], int, int]]) -> dict:
    every = sorted(x for latencies, _, _ in runs for x in latencies)
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(every),
        "errors": sum(e for _, _, e in runs),
        "requests_per_s": round(len(every) / elapsed, 1),
        "p50_ms": round(statistics.median(every) * 1000, 2) if every else None,
        "p99_ms": round(every[min(len(every) - 1, int(len(every) * 0.99))] * 1000, 2)
        if every else None,
        "text_kb_per_s": round(sum(b for _, b, _ in runs) / 1024 / elapsed, 1),
    }


def drive_threads(clients: int, seconds: float, texts: list[str],
                  make_work: Callable[[], Callable[[str], None]]) -> dict:
    """`clients` threads of this process, each with its own `make_work()`."""
    runs: list = [None] * clients
    works = [make_work() for _ in range(clients)]
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()

    def client(i: int) -> None:
        runs[i] = run_client(works[i], texts, i * 7, deadline)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(clients, time.perf_counter() - began, runs)


_HTTP_CLIENT: dict = {}  # what forked client processes inherit: url and texts


def _http_client_process(args: tuple[int, float]) -> tuple[list[float], int, int]:
    index, deadline_in = args
    work = http_work(_HTTP_CLIENT["url"])
    return run_client(work, _HTTP_CLIENT["texts"], index * 7, time.perf_counter() + deadline_in)


def drive_processes(clients: int, seconds: float, texts: list[str], url: str) -> dict:
    """`clients` client processes (forked), so that the clients' own CPU is not one GIL."""
    import multiprocessing

    _HTTP_CLIENT.update(url=url, texts=texts)
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        runs = pool.map(_http_client_process, [(i, seconds) for i in range(clients)])
    return summary(clients, time.perf_counter() - began, runs)


def http_work(url: str) -> Callable[[str], None]:
    import requests

    session = requests.Session()
    session.trust_env = False

    def work(text: str) -> None:
        response = session.post(f"{url}/annotate", timeout=60,
                                data={"text": text, "confidence": str(CONFIDENCE)},
                                headers={"Accept": "application/json"})
        response.raise_for_status()
        response.json()

    return work


def linker_work(model: StatisticalModel) -> Callable[[], Callable[[str], None]]:
    def make() -> Callable[[str], None]:
        linker = StatisticalLinker(model)  # one per thread: a linker is not thread-safe
        return lambda text: linker.annotate(text, confidence=CONFIDENCE)

    return make


def start_server(model: Path, threads: int, workers: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "longtail.serve", "--model", str(model), "--port", "0",
         "--threads", str(threads), "--workers", str(workers)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("listening on "):
        process.kill()
        raise SystemExit(f"longtail serve did not start: {line!r}")
    return process, line.split()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="model folder (default: the bundled sample's, built if missing)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase (default 20)")
    parser.add_argument("--threads", type=int, default=1,
                        help="the server's --threads per worker (default 1)")
    parser.add_argument("--workers", type=int, default=1,
                        help="the server's --workers (default 1)")
    parser.add_argument("--texts", choices=["c4", "sample"],
                        default="c4" if C4.is_file() else "sample")
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients must be >= 1 and --seconds > 0")

    model_dir = args.model or sample_model()
    source, texts = load_texts(args.texts)
    print(f"model {model_dir}; {len(texts)} texts from {source} "
          f"({sum(len(t) for t in texts) / len(texts):,.0f} characters on average); "
          f"{args.clients} clients, {args.seconds:g} s per phase, server workers {args.workers} "
          f"x threads {args.threads}, "
          f"{os.cpu_count()} CPUs", flush=True)

    model = StatisticalModel.load(model_dir)
    process, url = start_server(model_dir, args.threads, args.workers)
    try:
        # a first pass warms the server's caches (and the page cache of the model)
        drive_threads(1, min(2.0, args.seconds), texts, lambda: http_work(url))
        results = {
            "http_client_threads": drive_threads(args.clients, args.seconds, texts,
                                                 lambda: http_work(url)),
            "http_client_processes": drive_processes(args.clients, args.seconds, texts, url),
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    make = linker_work(model)
    drive_threads(1, min(2.0, args.seconds), texts, make)
    results["in_process_threads"] = drive_threads(args.clients, args.seconds, texts, make)
    results["in_process_single"] = drive_threads(1, args.seconds, texts, make)

    print(f"\n{'mode':<24}{'clients':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
          f"{'text KB/s':>11}{'errors':>8}")
    for mode, r in results.items():
        print(f"{mode:<24}{r['clients']:>8}{r['requests_per_s']:>10}{r['p50_ms']:>10}"
              f"{r['p99_ms']:>10}{r['text_kb_per_s']:>11}{r['errors']:>8}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": str(model_dir), "texts": source,
                                    "server_threads": args.threads,
                                    "server_workers": args.workers, "cpus": os.cpu_count(),
                                    "results": results}, indent=1), encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
