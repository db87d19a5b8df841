"""What one request costs a `longtail serve` worker, and what the per-request limits leave of it.

    .venv/bin/python bench/serve_limits.py [--model DIR] [--words 4000,16000,64000,330000]
                                           [--max-request-memory 1G] [--max-request-seconds 60]
                                           [--threads 2] [--slow 50] [--request-timeout 2]

Starts `python -m longtail.serve` on 127.0.0.1 with the given limits (the bundled sample's
model, built once with Spark into bench/out/serve/model, unless --model names one) and posts
`"Paris " * N` for each N, one request at a time: repeated words without punctuation, the
linker's worst case (330,000 words is a form body just under the 2 MB cap). While each
request runs, the worker processes' RSS is sampled with psutil every 5 ms. Prints, per N, the
status, the seconds to the answer, the worker's RSS before the request, its peak during it and
after, and the error when refused. Then `--slow` connections send a request head one byte per
second: prints how many got 408 and when the last was closed, and a normal client's latency
meanwhile. Writes bench/out/serve/limits.json. psutil comes with the dev extra.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from serve import OUT, sample_model  # noqa: E402

MB = 1 << 20


def start_server(model: Path, flags: list[str]) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "longtail.serve", "--model", str(model), "--port", "0", *flags],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("listening on "):
        process.kill()
        raise SystemExit(f"longtail serve did not start: {line!r}")
    return process, line.split()[-1]


def worker_rss(master: psutil.Process) -> int:
    total = 0
    for worker in master.children():
        with contextlib.suppress(psutil.Error):
            total = max(total, worker.memory_info().rss)
    return total


def one_request(url: str, master: psutil.Process, words: int) -> dict:
    """Post `"Paris " * words`; the worker's RSS before, at its peak and after."""
    time.sleep(0.5)  # let a replaced worker start
    before = worker_rss(master)
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], worker_rss(master))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    began = time.perf_counter()
    try:
        answer = requests.post(f"{url}/annotate", data={"text": "Paris " * words},
                               headers={"Accept": "application/json"}, timeout=1800)
        status, error = answer.status_code, answer.json().get("error", "")
    except requests.RequestException as err:
        status, error = 0, f"{type(err).__name__}: {err}"
    seconds = time.perf_counter() - began
    stop.set()
    sampler.join()
    return {"words": words, "text_bytes": 6 * words, "status": status,
            "seconds": round(seconds, 2), "rss_before_mb": round(before / MB),
            "rss_peak_mb": round(peak[0] / MB), "rss_after_mb": round(worker_rss(master) / MB),
            "error": error}


def slow_clients(url: str, count: int, timeout: float) -> dict:
    """`count` connections sending a head one byte per second, and one normal client."""
    host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
    head = b"POST /rest/annotate HTTP/1.1\r\nHost: a\r\nX-Padding: " + b"x" * 200
    conns = [socket.create_connection((host, int(port)), timeout=60) for _ in range(count)]
    began = time.perf_counter()
    ended: list[float | None] = [None] * count
    got_408 = [False] * count

    def slow(i: int) -> None:
        sock = conns[i]
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            ready, _, _ = select.select([sock], [], [], 1.0)  # one byte a second
            if ready:
                break
        with contextlib.suppress(OSError):
            data = sock.recv(65536)
            got_408[i] = data.startswith(b"HTTP/1.1 408")
            while data:
                data = sock.recv(65536)
        ended[i] = time.perf_counter() - began
        sock.close()

    threads = [threading.Thread(target=slow, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    latencies = []
    while any(t.is_alive() for t in threads) and time.perf_counter() - began < timeout + 60:
        t0 = time.perf_counter()
        requests.post(f"{url}/annotate", data={"text": "Paris and Berlin."}, timeout=60,
                      headers={"Accept": "application/json", "Connection": "close"})
        latencies.append(time.perf_counter() - t0)
        time.sleep(0.05)
    for t in threads:
        t.join()
    closed = [e for e in ended if e is not None]
    return {"slow_connections": count, "request_timeout_s": timeout,
            "answered_408": sum(got_408), "first_closed_s": round(min(closed), 2),
            "last_closed_s": round(max(closed), 2), "normal_requests": len(latencies),
            "normal_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "normal_max_ms": round(max(latencies) * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--words", default="4000,16000,64000,330000")
    parser.add_argument("--max-request-memory", default="1G")
    parser.add_argument("--max-request-seconds", default="60")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--request-timeout", type=float, default=2.0)
    args = parser.parse_args()
    model = args.model or sample_model()
    flags = ["--threads", args.threads, "--max-request-memory", args.max_request_memory,
             "--max-request-seconds", args.max_request_seconds,
             "--request-timeout", str(args.request_timeout)]
    process, url = start_server(model, flags)
    master = psutil.Process(process.pid)
    results: dict = {"flags": flags, "requests": []}
    try:
        requests.post(f"{url}/annotate", data={"text": "Paris"}, timeout=60)  # warm
        print(f"longtail serve {' '.join(flags)}", flush=True)
        print(f"{'words':>8} {'status':>6} {'seconds':>8} {'RSS before':>11} {'peak':>8} "
              f"{'after':>8}  error", flush=True)
        for words in (int(w) for w in args.words.split(",")):
            r = one_request(url, master, words)
            results["requests"].append(r)
            print(f"{r['words']:>8,} {r['status']:>6} {r['seconds']:>8} "
                  f"{r['rss_before_mb']:>8} MB {r['rss_peak_mb']:>5} MB {r['rss_after_mb']:>5} MB"
                  f"  {r['error'][:70]}", flush=True)
        if args.slow:
            results["slow"] = slow_clients(url, args.slow, args.request_timeout)
            print(json.dumps(results["slow"]), flush=True)
    finally:
        process.terminate()
        process.wait(timeout=60)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "limits.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
