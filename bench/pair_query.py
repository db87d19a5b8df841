"""One entity-pair count through DuckDB: `pair_docs()` over entity_docs against a scan of
doc_entities (the query the README showed before), at growing corpus sizes.

    .venv/bin/python bench/pair_query.py [--sizes 1000000 2000000 4000000] [--runs 15]

For each size, bench/count.py's generator writes a synthetic index (Zipf-like entities, 5-30
per document) with entity_docs and entities in the index stage's layout. Then, on one
connection made as `longtail query` makes it (`longtail.output.views.connect`: DuckDB reads
the committed files through the read-only `longtail://` filesystem), three pairs are counted:
two of the most frequent entities, two of middling frequency, two rare ones. Each query runs
once to warm the session (Parquet footers are cached), then `--runs` times; the median and the
slowest are printed, beside the same count on a session that reads OUT's files by their local
paths (how `connect` worked before `longtail://`; it could also write them), the doc_entities
scan, and the scan's ratio to pair_docs. The two sessions take turns, run by run, so both see
the same load on the machine. `--keep` keeps the generated indexes, `--reuse` counts on
them again.

`--options` also times the other ways of keeping DuckDB off OUT's files that were weighed:
the tables handed to DuckDB as Arrow datasets (no file access at all), as they are and with
entity_ref() a Python function that DuckDB folds into a constant (the subquery filter is
not pushed into an Arrow scan). Three queries, `--option-runs` times each: a middling pair,
that pair's documents joined with doc_entities, and a count of doc_entities.
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
import duckdb  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402

from longtail.output.folder import OutputFolder  # noqa: E402
from longtail.output.lineage import Lineage  # noqa: E402
from longtail.output.views import (  # noqa: E402
    MACROS,
    connect,
    view_body,
    view_sources,
    view_statements,
)

OUT = ROOT / "bench" / "out" / "pair_query"
PAIRS = {"frequent (ranks 3, 10)": (3, 10), "middling (ranks 300, 1,000)": (300, 1_000),
         "rare (ranks 5,000, 20,000)": (5_000, 20_000)}
SCAN_SQL = ("SELECT count(*) FROM doc_entities a JOIN doc_entities b USING (doc_id) "
            "WHERE a.entity_id = entity_ref(?) AND b.entity_id = entity_ref(?)")
PAIR_SQL = "SELECT count(*) FROM pair_docs(?, ?)"
OPTION_QUERIES = {
    "pair_docs, middling pair": PAIR_SQL,
    "the pair's documents JOIN doc_entities": "SELECT count(*) FROM pair_docs(?, ?) p "
                                              "JOIN doc_entities d USING (doc_id)",
    "count(*) of doc_entities": "SELECT count(*) FROM doc_entities WHERE ? || ? <> ''",
}


def local_paths_session(out: OutputFolder) -> duckdb.DuckDBPyConnection:
    """The views over OUT's files by their local paths, with OUT an allowed directory: the
    session `connect` made before `longtail://` (the reference for its cost)."""
    con = duckdb.connect(":memory:")
    con.execute("SET parquet_metadata_cache = true")
    for statement in view_statements(Lineage(out), str(out.storage.local_path())):
        con.execute(statement)
    con.execute(f"SET allowed_directories = ['{out.storage.local_path()}/']")
    con.execute("SET enable_external_access = false")
    return con


def arrow_session(out: OutputFolder, fold_entity_ref: bool) -> duckdb.DuckDBPyConnection:
    """Views over the committed files as Arrow datasets; with `fold_entity_ref`, entity_ref()
    looks the entity up in Python, a function DuckDB runs once and folds into a constant."""
    lineage = Lineage(out)
    con = duckdb.connect(":memory:")
    for table, kind, payload in view_sources(lineage):
        body = view_body(table, kind, payload)
        if body is None:
            con.register(f"_{table}_files", out.dataset(table, payload))
            body = f"SELECT * FROM _{table}_files"
        con.execute(f"CREATE OR REPLACE VIEW {table} AS {body}")
    macros = dict(MACROS)
    if fold_entity_ref:
        entities = out.dataset("entities", lineage.committed_files("entities"))

        def entity_ref(name: str | None) -> int | None:
            if name is None:
                return None
            uri = ds.field("uri")
            found = entities.to_table(columns=["entity_id"], filter=(uri == name) | (
                uri == "http://dbpedia.org/resource/" + name.replace(" ", "_")))
            return min(found["entity_id"].to_pylist(), default=None)

        con.create_function("entity_ref", entity_ref, ["VARCHAR"], "BIGINT",
                            null_handling="special")
        del macros["entity_ref"]
    for sql, _ in macros.values():
        con.execute(sql)
    con.execute("SET enable_external_access = false")
    return con


def timed(sessions: list, sql: str, params: list, runs: int
          ) -> tuple[int, list[tuple[float, float]]]:
    """The query's answer, and its (median, slowest) seconds on each session; the sessions
    take turns run by run, so that they see the same load."""
    found = {con.execute(sql, params).fetchone()[0] for con in sessions}  # warm the caches
    assert len(found) == 1, found
    seconds: list[list[float]] = [[] for _ in sessions]
    for _ in range(runs):
        for con, times in zip(sessions, seconds, strict=True):
            started = time.perf_counter()
            con.execute(sql, params).fetchone()
            times.append(time.perf_counter() - started)
    return found.pop(), [(statistics.median(t), max(t)) for t in seconds]


def print_options(out: OutputFolder, size: int, runs: int) -> None:
    """The three option queries on each kind of session, medians in milliseconds."""
    names = [f"Synthetic_entity_{rank}" for rank in PAIRS["middling (ranks 300, 1,000)"]]
    sessions = {"longtail:// (connect)": connect(out),
                "local paths": local_paths_session(out),
                "Arrow datasets": arrow_session(out, fold_entity_ref=False),
                "Arrow, entity_ref folded": arrow_session(out, fold_entity_ref=True)}
    print(f"\n{size:,} documents, median of {runs} (ms): " + " | ".join(sessions))
    for label, sql in OPTION_QUERIES.items():
        _, figures = timed(list(sessions.values()), sql, names, runs)
        print(f"  {label:<40} " + " | ".join(f"{m * 1e3:,.0f}" for m, _ in figures),
              flush=True)
    for con in sessions.values():
        con.close()
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000,
                                                                 4_000_000])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the generated indexes")
    parser.add_argument("--reuse", action="store_true",
                        help="use the indexes a run with --keep left (implies --keep)")
    parser.add_argument("--options", action="store_true",
                        help="also time Arrow-dataset sessions (the options not taken)")
    parser.add_argument("--option-runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'documents':>10} {'rows':>12}  {'pair':<28} {'docs':>7} {'pair_docs':>16} "
          f"{'local paths':>18} {'scan':>10} {'ratio':>6}")
    for size in args.sizes:
        folder = OUT / f"{size}"
        if not (args.reuse and (folder / "manifest.json").exists()):
            shutil.rmtree(folder, ignore_errors=True)
            n_entities = min(1_000_000, max(1_000, size // 2))
            count_bench.generate(str(folder), size, 1_000, n_entities, seed=7)
        out = OutputFolder(str(folder))
        rows = out.row_count("doc_entities")
        with connect(out) as con, local_paths_session(out) as direct:
            for label, (a, b) in PAIRS.items():
                names = [f"Synthetic_entity_{a}", f"Synthetic_entity_{b}"]
                found, [(median, slowest), (direct_median, direct_slowest)] = timed(
                    [con, direct], PAIR_SQL, names, args.runs)
                scanned, [(scan, _)] = timed([con], SCAN_SQL, names, max(3, args.runs // 5))
                assert scanned == found, (label, scanned, found)
                print(f"{size:>10,} {rows:>12,}  {label:<28} {found:>7,} "
                      f"{median * 1e3:>7.1f} ms (max {slowest * 1e3:.0f}) "
                      f"{direct_median * 1e3:>7.1f} ms (max {direct_slowest * 1e3:.0f}) "
                      f"{scan * 1e3:>7.0f} ms {scan / median:>5.0f}x", flush=True)
        if args.options:
            print_options(out, size, args.option_runs)
        if not (args.keep or args.reuse):
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
