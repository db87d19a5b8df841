"""One entity-pair count through DuckDB: `pair_docs()` over entity_docs against a scan of
doc_entities (the query the README showed before), at growing corpus sizes.

    .venv/bin/python bench/pair_query.py [--sizes 1000000 2000000 4000000] [--runs 15]

For each size, bench/count.py's generator writes a synthetic index (Zipf-like entities, 5-30
per document) with entity_docs and entities in the index stage's layout. Then, on one
connection made as `longtail query` makes it (`longtail.output.views.connect`), three pairs are
counted: two of the most frequent entities, two of middling frequency, two rare ones. Each
query runs once to warm the session (Parquet footers are cached), then `--runs` times; the
median and the slowest are printed, beside the doc_entities scan and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import count as count_bench  # noqa: E402

from longtail.output.folder import OutputFolder  # noqa: E402
from longtail.output.views import connect  # noqa: E402

OUT = ROOT / "bench" / "out" / "pair_query"
PAIRS = {"frequent (ranks 3, 10)": (3, 10), "middling (ranks 300, 1,000)": (300, 1_000),
         "rare (ranks 5,000, 20,000)": (5_000, 20_000)}
SCAN_SQL = ("SELECT count(*) FROM doc_entities a JOIN doc_entities b USING (doc_id) "
            "WHERE a.entity_id = entity_ref(?) AND b.entity_id = entity_ref(?)")
PAIR_SQL = "SELECT count(*) FROM pair_docs(?, ?)"


def timed(con, sql: str, params: list, runs: int) -> tuple[int, float, float]:
    found = con.execute(sql, params).fetchone()[0]  # warm: footers into the cache
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        assert con.execute(sql, params).fetchone()[0] == found
        seconds.append(time.perf_counter() - started)
    return found, statistics.median(seconds), max(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000,
                                                                 4_000_000])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the generated indexes")
    args = parser.parse_args()
    print(f"{'documents':>10} {'rows':>12}  {'pair':<28} {'docs':>7} {'pair_docs':>16} "
          f"{'scan':>10} {'ratio':>6}")
    for size in args.sizes:
        folder = OUT / f"{size}"
        shutil.rmtree(folder, ignore_errors=True)
        n_entities = min(1_000_000, max(1_000, size // 2))
        count_bench.generate(str(folder), size, 1_000, n_entities, seed=7)
        out = OutputFolder(str(folder))
        rows = out.row_count("doc_entities")
        with connect(out) as con:
            for label, (a, b) in PAIRS.items():
                names = [f"Synthetic_entity_{a}", f"Synthetic_entity_{b}"]
                found, median, slowest = timed(con, PAIR_SQL, names, args.runs)
                scanned, scan, _ = timed(con, SCAN_SQL, names, max(3, args.runs // 5))
                assert scanned == found, (label, scanned, found)
                print(f"{size:>10,} {rows:>12,}  {label:<28} {found:>7,} "
                      f"{median * 1e3:>7.1f} ms (max {slowest * 1e3:.0f}) "
                      f"{scan * 1e3:>7.0f} ms {scan / median:>5.0f}x", flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
