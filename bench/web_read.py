"""Reading through the storage layer from a local disk and over http:// (the test suite's
static file server, a separate process on 127.0.0.1): a whole file read sequentially, the
same with every response cut after 24 MB (each cut is retried after a 0.5 s backoff), and one
row group of a Parquet file; prints MB/s and, for Parquet, how many bytes were fetched.

    .venv/bin/python bench/web_read.py [--mb 512] [--repeat 3]

What is measured is the cost of range requests and of the Python-level reads (spans doubling
from 256 KiB to 32 MiB), not of a network: the server is on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from longtail.output.storage import open_source  # noqa: E402
from tests.servers.http_files import HttpFileServer  # noqa: E402

OUT = ROOT / "bench" / "out" / "web_read"
CHUNK = 1 << 20


def read_all(location: str) -> tuple[float, int]:
    started, total = time.perf_counter(), 0
    with open_source(location) as handle:
        while block := handle.read(CHUNK):
            total += len(block)
    return time.perf_counter() - started, total


def read_group(location: str, group: int) -> float:
    started = time.perf_counter()
    with open_source(location) as handle:
        pq.ParquetFile(handle).read_row_group(group)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=512, help="size of the test files (MB)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / "data.bin"
    if not data.is_file() or data.stat().st_size != args.mb << 20:
        with open(data, "wb") as out:
            for _ in range(args.mb):
                out.write(os.urandom(1 << 20))
    table = OUT / "groups.parquet"
    rows = args.mb * 64  # 16 KiB a row, 4 row groups
    if not table.is_file():
        texts = pa.array([os.urandom(8192).hex() for _ in range(rows)])
        pq.write_table(pa.table({"text": texts}), table, row_group_size=rows // 4,
                       compression="none")
    size = data.stat().st_size
    with HttpFileServer(OUT) as server:
        url = f"{server.url}/{data.name}"
        cases = {"local disk": lambda: read_all(str(data))[0],
                 "http://": lambda: read_all(url)[0]}

        def cut_every_24_mb() -> float:
            server.reset()
            server.fault(f"/{data.name}", cut_after=24 << 20, times=size // (24 << 20))
            return read_all(url)[0]

        cases["http://, cut every 24 MB"] = cut_every_24_mb
        print(f"sequential read of {size / 1e6:,.0f} MB, median of {args.repeat}:")
        for name, case in cases.items():
            seconds = statistics.median(case() for _ in range(args.repeat))
            print(f"  {name:<26} {seconds:6.2f} s  {size / 1e6 / seconds:7.0f} MB/s")
        server.reset()
        local_s = statistics.median(read_group(str(table), 2) for _ in range(args.repeat))
        server.reset()
        remote_s = statistics.median(read_group(f"{server.url}/{table.name}", 2)
                                     for _ in range(args.repeat))
        fetched = sum(int(b) - int(a) + 1 for method, _, wanted in server.requests()
                      if method == "GET" and wanted
                      for a, b in [wanted.removeprefix("bytes=").split("-")]) / args.repeat
        print(f"one row group of 4 ({table.stat().st_size / 1e6:,.0f} MB Parquet): local "
              f"{local_s:.2f} s, http:// {remote_s:.2f} s, {fetched / 1e6:,.0f} MB fetched "
              f"per read ({fetched / table.stat().st_size:.0%} of the file)")


if __name__ == "__main__":
    main()
