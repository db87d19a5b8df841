"""Load benchmark of `longtail serve` against the same linker called in-process.

    .venv/bin/python bench/serve.py [--model DIR] [--clients 4] [--seconds 20] [--threads 1]
                                    [--workers 1] [--texts c4|sample] [--url URL]
                                    [--connections 1000] [--idle 300] [--slow 300]

Starts `python -m longtail.serve` on 127.0.0.1 (the bundled sample's model, built once into
bench/out/serve/model with Spark, unless --model names one) and drives it for a bounded time
with N client threads, each with its own `requests.Session`, posting real texts as form data
(the 449 C4 documents of ../shared/data/c4 when present, else the bundled sample corpus) in
Spotlight's JSON; then N client processes, since N client threads share one interpreter lock
and can be the bottleneck themselves. Then the same texts for the same time in this process:
N threads, each with its own `StatisticalLinker` over one memory-mapped model (what the
server does per request), and one thread alone. Prints requests/s, p50/p99 latency and KB/s
of text for each, and writes them to bench/out/serve/results.json.

Two phases load the server with connections rather than requests (an asyncio client, bounded
in connections and time): `--connections` connections opened at once, each posting one text
(answered, resets, timeouts and other errors are counted); then `--idle` connections that send
nothing and `--slow` connections that send a request head one byte per second, while one client
posts texts one after another, each on a new connection, for `--seconds` (latency p50, p99 and
max). `--url` measures a server that is already running there instead of starting one. For the
HTTP phases it also prints the CPU time the server's processes spent per request (from /proc;
with `--url`, when `--server-pid` names the server), a figure that other work on the machine
disturbs far less than requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from longtail.linking.statistical import StatisticalLinker, StatisticalModel  # noqa: E402
from longtail.sample import SAMPLE_CORPUS, SAMPLE_WIKI  # noqa: E402

C4 = ROOT.parent / "shared" / "data" / "c4" / "c4-sample-449.jsonl"
OUT = ROOT / "bench" / "out" / "serve"
CONFIDENCE = 0.4
MAX_REQUESTS_PER_CLIENT = 1_000_000  # a bound besides the clock
ANSWER_TIMEOUT_SECONDS = 60.0  # a connection of the load phases waits this long at most


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
        subprocess.run([sys.executable, "-m", "longtail.jobs.build_model", "--wikipedia",
                        str(SAMPLE_WIKI), "--out", str(model), "--master", "local[2]"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
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
        "server_cpu_ms_per_request": None,
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


# -- connection load: many at once; idle and slow ones beside a measured client ------------


def request_bytes(url: str, text: str) -> bytes:
    """A Spotlight annotate request for `text` on a connection that closes after the answer."""
    parts = urlsplit(url)
    body = urlencode({"text": text, "confidence": str(CONFIDENCE)}).encode()
    return (f"POST {parts.path}/annotate HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Accept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def exchange(url: str, request: bytes) -> tuple[str, float]:
    """Send `request` on a new connection, read the answer to the end: ("200" or what went
    wrong, seconds from connecting to the end of the answer)."""
    parts = urlsplit(url)
    began = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port), ANSWER_TIMEOUT_SECONDS)
        try:
            writer.write(request)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT_SECONDS)
        finally:
            writer.close()
    except ConnectionResetError:
        return "reset", time.perf_counter() - began
    except (asyncio.TimeoutError, TimeoutError):
        return "timeout", time.perf_counter() - began
    except OSError as err:
        return type(err).__name__, time.perf_counter() - began
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "no answer"
    return status, time.perf_counter() - began


def latency_summary(outcomes: list[tuple[str, float]], elapsed: float) -> dict:
    answered = sorted(seconds for status, seconds in outcomes if status == "200")
    counts: dict[str, int] = {}
    for status, _ in outcomes:
        counts[status] = counts.get(status, 0) + 1
    return {
        "requests": len(outcomes),
        "answered_200": len(answered),
        "outcomes": counts,
        "seconds": round(elapsed, 2),
        "p50_ms": round(statistics.median(answered) * 1000, 1) if answered else None,
        "p99_ms": round(answered[min(len(answered) - 1, int(len(answered) * 0.99))] * 1000, 1)
        if answered else None,
        "max_ms": round(answered[-1] * 1000, 1) if answered else None,
    }


async def connections_at_once(url: str, texts: list[str], count: int) -> dict:
    """`count` connections opened at once, each posting one text."""
    requests = [request_bytes(url, texts[i % len(texts)]) for i in range(count)]
    began = time.perf_counter()
    outcomes = await asyncio.gather(*(exchange(url, r) for r in requests))
    return {"connections": count, **latency_summary(outcomes, time.perf_counter() - began)}


async def trickle(writer: asyncio.StreamWriter, head: bytes, stop: asyncio.Event) -> None:
    """Send `head` one byte per second until `stop` (or the connection fails)."""
    for byte in head:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except OSError:
            return
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
            return
        except (asyncio.TimeoutError, TimeoutError):
            pass


async def beside_idle_and_slow(url: str, texts: list[str], idle: int, slow: int,
                               seconds: float) -> dict:
    """One client posting texts one after another, each on a new connection, for `seconds`,
    while `idle` connections send nothing and `slow` ones send a head one byte per second."""
    parts = urlsplit(url)
    opened: list[asyncio.StreamWriter] = []
    refused = 0
    for _ in range(idle + slow):
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname, parts.port), ANSWER_TIMEOUT_SECONDS)
            opened.append(writer)
        except (OSError, asyncio.TimeoutError, TimeoutError):
            refused += 1
    stop = asyncio.Event()
    head = (f"POST {parts.path}/annotate HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Padding: "
            ).encode() + b"x" * int(seconds + 60)
    trickles = [asyncio.create_task(trickle(w, head, stop)) for w in opened[idle:]]
    outcomes: list[tuple[str, float]] = []
    began = time.perf_counter()
    deadline = began + seconds
    k = 0
    while time.perf_counter() < deadline and k < MAX_REQUESTS_PER_CLIENT:
        outcomes.append(await exchange(url, request_bytes(url, texts[k % len(texts)])))
        k += 1
    elapsed = time.perf_counter() - began
    stop.set()
    await asyncio.gather(*trickles)
    for writer in opened:
        writer.close()
    return {"idle": idle, "slow": slow, "not_connected": refused,
            **latency_summary(outcomes, elapsed)}


def process_tree_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a running process and of its descendants (Linux /proc)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def with_server_cpu(server_pid: int | None, phase: Callable[[], dict]) -> dict:
    """`phase()`'s results, with the server's CPU milliseconds per answered request."""
    before = process_tree_cpu_seconds(server_pid) if server_pid else 0.0
    result = phase()
    if server_pid and result["requests"]:
        spent = process_tree_cpu_seconds(server_pid) - before
        result["server_cpu_ms_per_request"] = round(spent * 1000 / result["requests"], 2)
    return result


def raise_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


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
    parser.add_argument("--url", default=None,
                        help="a server already running there (http://HOST:PORT/rest) instead "
                             "of starting one; --threads and --workers are then only recorded")
    parser.add_argument("--server-pid", type=int, default=None,
                        help="with --url: the server's process id, to count the CPU time it "
                             "and its worker processes spend per request")
    parser.add_argument("--connections", type=int, default=1000,
                        help="connections opened at once (default 1000)")
    parser.add_argument("--idle", type=int, default=300,
                        help="idle connections beside the measured client (default 300)")
    parser.add_argument("--slow", type=int, default=300,
                        help="connections sending one byte per second (default 300)")
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients must be >= 1 and --seconds > 0")
    if min(args.connections, args.idle, args.slow) < 0:
        parser.error("--connections, --idle and --slow must be >= 0")
    raise_open_file_limit()

    model_dir = args.model or sample_model()
    source, texts = load_texts(args.texts)
    print(f"model {model_dir}; {len(texts)} texts from {source} "
          f"({sum(len(t) for t in texts) / len(texts):,.0f} characters on average); "
          f"{args.clients} clients, {args.seconds:g} s per phase, server "
          f"{args.url or 'started here'}, workers {args.workers} x threads {args.threads}, "
          f"{os.cpu_count()} CPUs", flush=True)

    model = StatisticalModel.load(model_dir)
    process, url = (None, args.url) if args.url else \
        start_server(model_dir, args.threads, args.workers)
    server_pid = process.pid if process is not None else args.server_pid
    try:
        # a first pass warms the server's caches (and the page cache of the model)
        drive_threads(1, min(2.0, args.seconds), texts, lambda: http_work(url))
        results = {
            "http_client_threads": with_server_cpu(server_pid, lambda: drive_threads(
                args.clients, args.seconds, texts, lambda: http_work(url))),
            "http_client_processes": with_server_cpu(server_pid, lambda: drive_processes(
                args.clients, args.seconds, texts, url)),
        }
        load = {
            "connections_at_once": asyncio.run(
                connections_at_once(url, texts, args.connections)),
            "beside_idle_and_slow": asyncio.run(
                beside_idle_and_slow(url, texts, args.idle, args.slow, args.seconds)),
        }
    finally:
        if process is not None:
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
          f"{'text KB/s':>11}{'errors':>8}{'server CPU ms/req':>19}")
    for mode, r in results.items():
        print(f"{mode:<24}{r['clients']:>8}{r['requests_per_s']:>10}{r['p50_ms']:>10}"
              f"{r['p99_ms']:>10}{r['text_kb_per_s']:>11}{r['errors']:>8}"
              f"{r['server_cpu_ms_per_request'] or '-':>19}")
    at_once, beside = load["connections_at_once"], load["beside_idle_and_slow"]
    print(f"\n{at_once['connections']} connections at once: {at_once['answered_200']} answered "
          f"(200) in {at_once['seconds']} s; outcomes {at_once['outcomes']}; "
          f"p50 {at_once['p50_ms']} ms, max {at_once['max_ms']} ms")
    print(f"one client beside {beside['idle']} idle and {beside['slow']} one-byte-per-second "
          f"connections ({beside['not_connected']} not connected): {beside['answered_200']} of "
          f"{beside['requests']} answered (200); outcomes {beside['outcomes']}; "
          f"p50 {beside['p50_ms']} ms, p99 {beside['p99_ms']} ms, max {beside['max_ms']} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": str(model_dir), "texts": source,
                                    "url": args.url, "server_threads": args.threads,
                                    "server_workers": args.workers, "cpus": os.cpu_count(),
                                    "results": results, "connection_load": load},
                                   indent=1), encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
