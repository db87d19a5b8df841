"""Build the embedded linker's model from Wikipedia XML dumps, the way Spotlight builds its own.

    spark-submit jobs/build_model.py --wikipedia enwiki-*.xml.bz2 --out MODEL

Writes Spotlight's four wikistats files to MODEL/wikistats/, compiles them into MODEL (so
`--model MODEL` loads it) and writes MODEL/build-report.json. Per-page and per-article work
is `longtail.wikipedia`; this script reads dump splits into partitions, maps those functions,
aggregates and writes. Intermediate tables live beside MODEL (in `.MODEL.building/`, removed
at the end; `--keep-work` moves them to MODEL/.work); the driver only streams sorted output
rows into the files. MODEL's folder must be one the executors see at the same path: any
folder in local mode, the shared `/data` volume with docker/compose.yaml.

Uncompressed dumps are read in byte ranges (`--split-mb`), compressed ones one file per
task, so pass the multi-file dumps (enwiki-...-pages-articles1.xml-p1p41242.bz2, ...) to
spread a bz2 dump over the cluster.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, fields
from functools import partial
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from longtail.errors import UsageError
from longtail.jobs.session import spark_session
from longtail.linking.statistical import wikistats
from longtail.linking.statistical.importer import import_wikistats
from longtail.output.failures import FailureRecord, failures_table
from longtail.wikipedia import counts, pages
from longtail.wikipedia.dump import plan_splits
from longtail.wikipedia.options import BuildOptions, add_build_args, build_options
from longtail.wikipedia.redirects import resolve_redirects

REPORT_FILE = "build-report.json"
FAILURES_FILE = "build-failures.parquet"
WIKISTATS_DIR = "wikistats"
WORK_DIR = ".work"
_MAX_REDIRECT_ROUNDS = 64
_CYCLE_EXAMPLES = 20
_MAX_FAILURE_RECORDS = 100_000


def build_model(
    spark: SparkSession,
    dumps: list[str],
    out: str | Path,
    options: BuildOptions | Mapping[str, object] | None = None,
) -> dict:
    """Build a model folder from `dumps`; returns the report also written to build-report.json.

    `options` is a `BuildOptions` or a mapping of its fields; wrong usage (a missing dump, a
    non-empty MODEL without `overwrite`, a bad option) raises `UsageError`.
    """
    if options is None:
        options = BuildOptions()
    elif isinstance(options, Mapping):
        unknown = set(options) - {f.name for f in fields(BuildOptions)}
        if unknown:
            raise UsageError(f"unknown build options: {', '.join(sorted(unknown))}")
        options = BuildOptions(**options)
    dumps = _check_dumps(dumps)
    out = _check_out(Path(out), options.overwrite)
    # Everything is built beside MODEL and moved in at the end: the model compiler writes
    # MODEL itself, and a failed build leaves no half-written model behind.
    staging = out.parent / f".{out.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    report: dict = {"dumps": dumps, "out": str(out), "options": asdict(options), "seconds": {}}
    started = time.perf_counter()
    try:
        _run_steps(spark, dumps, out, staging, options, report)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if options.keep_work:
        shutil.move(staging / WORK_DIR, out / WORK_DIR)
    shutil.rmtree(staging, ignore_errors=True)
    report["seconds_total"] = round(time.perf_counter() - started, 3)
    (out / REPORT_FILE).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return report


# -- steps ------------------------------------------------------------------------------------


def _run_steps(spark: SparkSession, dumps: list[str], out: Path, staging: Path,
               options: BuildOptions, report: dict) -> None:
    work = staging / WORK_DIR
    stats = work / "stats"
    steps = _Steps(report["seconds"])

    with steps("extract"):
        splits = plan_splits(dumps, options.split_bytes)
        split_rows = spark.sparkContext.parallelize(
            [(s.path, s.start, s.end) for s in splits], len(splits)
        )
        (spark.createDataFrame(split_rows, from_arrow_schema(pages.SPLITS))
            .mapInArrow(pages.extract_pages, from_arrow_schema(pages.PAGES))
            .write.parquet(_uri(work / "pages")))
        page_table = spark.read.parquet(_uri(work / "pages"))
        report.update(_page_counts(page_table))
        report["failures"], failures = _failures(page_table)

    with steps("redirects"):
        resolved, report["redirects"] = _resolve_redirects(spark, page_table, work)

    with steps("links"):
        articles = _spread(spark, page_table.filter(F.col("kind") == pages.ARTICLE))
        links = _resolved_links(spark, articles, page_table, resolved, options, work)
        report["links"] = _link_fates(links)
        kept = links.filter(F.col("fate") == "kept").select("surface_form", "uri").cache()

    with steps("uri_and_pair_counts"):
        linked = kept.groupBy("surface_form").agg(F.count("*").alias("linked"))
        frequent = linked.filter(F.col("linked") >= options.min_surface_form_count)
        frequent.write.parquet(_uri(stats / "surface_forms"))
        frequent = spark.read.parquet(_uri(stats / "surface_forms"))
        uri_counts = kept.groupBy("uri").agg(F.count("*").alias("count"))
        pair_counts = (kept.join(frequent.select("surface_form"), "surface_form", "left_semi")
                       .groupBy("surface_form", "uri").agg(F.count("*").alias("count")))
        uri_counts.write.parquet(_uri(stats / "uri_counts"))
        pair_counts.write.parquet(_uri(stats / "pair_counts"))
        report["surface_forms"] = {"linked": linked.count(), "kept": frequent.count()}

    with steps("sf_and_total_counts"):
        forms_file = _spotter_forms(spark, frequent, options, stats)
        occurrences = (articles.select("kind", "text", "links")
                       .mapInArrow(partial(counts.occurrences_of_listed_forms, forms_file),
                                   from_arrow_schema(counts.SURFACE_FORM_OCCURRENCES))
                       .groupBy("surface_form").agg(F.sum("occurrences").alias("total")))
        occurrences.write.parquet(_uri(stats / "occurrences"))

    with steps("token_counts"):
        tokens = (articles.select("kind", "text", "links")
                  .mapInArrow(partial(counts.context_token_counts,
                                      window=options.context_window),
                              from_arrow_schema(counts.CONTEXT_TOKENS)))
        entities = spark.read.parquet(_uri(stats / "uri_counts")).select("uri")
        _context_vectors(tokens, resolved, entities, options).write.parquet(
            _uri(stats / "token_counts"))

    with steps("write_wikistats"):
        report["files"] = _write_wikistats(spark, stats, staging / WIKISTATS_DIR, options)
        report["entities"] = report["files"][wikistats.URI_COUNTS]
        report["pairs"] = report["files"][wikistats.PAIR_COUNTS]
        report["context_vectors"] = report["files"][wikistats.TOKEN_COUNTS]
    kept.unpersist()

    with steps("import"):
        report["import"] = import_wikistats(
            staging / WIKISTATS_DIR, out, overwrite=True,
            min_surface_form_count=options.min_surface_form_count,
            min_context_count=options.min_token_count)
        shutil.move(staging / WIKISTATS_DIR, out / WIKISTATS_DIR)
        if failures:
            pq.write_table(failures_table(failures), out / FAILURES_FILE)


class _Steps:
    def __init__(self, seconds: dict):
        self.seconds = seconds

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)


def _page_counts(page_table: DataFrame) -> dict:
    by_kind = {row["kind"]: row["count"] for row in page_table.groupBy("kind").count().collect()}
    return {
        "pages": sum(n for kind, n in by_kind.items() if kind != pages.FAILURE),
        "articles": by_kind.get(pages.ARTICLE, 0),
        "disambiguation_pages": by_kind.get(pages.DISAMBIGUATION, 0),
        "other_namespace_pages": by_kind.get(pages.OTHER_NAMESPACE, 0),
    }


def _failures(page_table: DataFrame) -> tuple[dict, list[FailureRecord]]:
    failed = page_table.filter(F.col("kind") == pages.FAILURE)
    rows = failed.select("page_id", "source", "reason", "title", "detail").limit(
        _MAX_FAILURE_RECORDS).collect()
    records = [
        FailureRecord(row["page_id"], row["source"], None, "model_build", row["reason"],
                      f"{row['title']}: {row['detail']}" if row["title"] else row["detail"] or "")
        for row in rows
    ]
    if len(rows) < _MAX_FAILURE_RECORDS:
        by_reason = dict(Counter(r.reason for r in records))
    else:
        by_reason = {r["reason"]: r["count"] for r in failed.groupBy("reason").count().collect()}
    summary = {"count": sum(by_reason.values()), "by_reason": by_reason,
               "examples": [r.detail for r in records[:5]]}
    return summary, records


def _resolve_redirects(spark: SparkSession, page_table: DataFrame, work: Path
                       ) -> tuple[DataFrame, dict]:
    """(title, final) for every redirect, `final` null for dead ends, by pointer jumping:
    each round replaces a target that is itself a redirect by that redirect's target, so a
    chain of n redirects resolves in about log2(n) rounds. Rounds stop when the number of
    targets that are still redirects stops falling; those left are in or lead into cycles."""
    edges = (page_table.filter(F.col("kind") == pages.REDIRECT)
             .groupBy("title").agg(F.min("redirect_target").alias("target")))
    edges.write.parquet(_uri(work / "redirects"))
    edges = spark.read.parquet(_uri(work / "redirects"))
    titles = edges.select(F.col("title").alias("redirect"))

    def pending(frame: DataFrame) -> int:
        return frame.join(titles, frame.target == titles.redirect, "left_semi").count()

    current, waiting, rounds = edges, pending(edges), 0
    while waiting and rounds < _MAX_REDIRECT_ROUNDS:
        a, b = current.alias("a"), current.alias("b")
        step = (a.join(b, F.col("a.target") == F.col("b.title"), "left")
                .select(F.col("a.title").alias("title"),
                        F.when(F.col("b.title").isNotNull(), F.col("b.target"))
                        .otherwise(F.col("a.target")).alias("target"))
                .localCheckpoint())
        rounds += 1
        still = pending(step)
        current = step
        if still == waiting:
            break
        waiting = still
    stuck = current.join(titles, current.target == titles.redirect, "left_semi").select("title")
    (current.join(stuck.withColumn("in_cycle", F.lit(True)), "title", "left")
        .select("title", F.when(F.col("in_cycle"), F.lit(None))
                .otherwise(F.col("target")).alias("final"))
        .write.parquet(_uri(work / "resolved_redirects")))
    resolved = spark.read.parquet(_uri(work / "resolved_redirects"))
    sizes = edges.agg(F.count("*").alias("total"),
                      F.count_if(F.col("target").isNull()).alias("leaving")).first()
    total, leaving = sizes["total"], sizes["leaving"]
    # The cycles themselves, for the report: the redirects still waiting are few.
    cycle_edges = edges.join(stuck, "title", "left_semi").limit(100_000).collect()
    cycles = resolve_redirects({r["title"]: r["target"] for r in cycle_edges}).cycles
    summary = {
        "total": total,
        "resolved": total - leaving - waiting,
        "leaving_main_namespace": leaving,
        "in_or_into_cycles": waiting,
        "cycle_count": len(cycles),
        "cycles": sorted(cycles)[:_CYCLE_EXAMPLES],
        "rounds": rounds,
    }
    return resolved, summary


def _spread(spark: SparkSession, frame: DataFrame) -> DataFrame:
    """At least one partition per core, so one big dump file is counted in parallel."""
    cores = spark.sparkContext.defaultParallelism
    return frame.repartition(cores) if frame.rdd.getNumPartitions() < cores else frame


def _resolved_links(spark: SparkSession, articles: DataFrame, page_table: DataFrame,
                    resolved: DataFrame, options: BuildOptions, work: Path) -> DataFrame:
    """Every link with its `uri` after redirects and its `fate`: kept, dead_redirect (into a
    cycle or out of the main namespace) or disambiguation (the target is one)."""
    raw = articles.select("kind", "title", "links").mapInArrow(
        partial(counts.article_links, min_surface_form_length=options.min_surface_form_length),
        from_arrow_schema(counts.LINKS))
    disambiguation = (page_table.filter(F.col("kind") == pages.DISAMBIGUATION)
                      .select(F.col("title").alias("uri")).distinct()
                      .withColumn("is_disambiguation", F.lit(True)))
    links = (raw.join(resolved, raw.target == resolved.title, "left")
             .select("source", "surface_form",
                     F.col("title").isNotNull().alias("via_redirect"),
                     F.when(F.col("title").isNotNull(), F.col("final"))
                     .otherwise(F.col("target")).alias("uri"))
             .join(disambiguation, "uri", "left")
             .withColumn("fate", F.when(F.col("uri").isNull(), F.lit("dead_redirect"))
                         .when(F.col("is_disambiguation"), F.lit("disambiguation"))
                         .otherwise(F.lit("kept")))
             .drop("is_disambiguation"))
    links.write.parquet(_uri(work / "links"))
    return spark.read.parquet(_uri(work / "links"))


def _link_fates(links: DataFrame) -> dict:
    rows = links.groupBy("fate", "via_redirect").count().collect()
    fates: dict[str, int] = {}
    for row in rows:
        fates[row["fate"]] = fates.get(row["fate"], 0) + row["count"]
    return {
        "total": sum(fates.values()),
        "kept": fates.get("kept", 0),
        "via_redirect": sum(r["count"] for r in rows if r["via_redirect"]),
        "to_dead_redirects": fates.get("dead_redirect", 0),
        "to_disambiguation_pages": fates.get("disambiguation", 0),
    }


def _spotter_forms(spark: SparkSession, frequent: DataFrame, options: BuildOptions,
                   stats: Path) -> str:
    """The parquet file of surface forms to count in text: the kept ones and, for
    Spotlight's lowercase lines, their lower-case spellings."""
    forms = frequent.select("surface_form")
    if options.lowercase_counts:
        forms = forms.union(frequent.select(F.lower("surface_form").alias("surface_form")))
    target = stats / "spotted_forms"
    forms.distinct().coalesce(1).write.parquet(_uri(target))
    return str(target)


def _context_vectors(tokens: DataFrame, resolved: DataFrame, entities: DataFrame,
                     options: BuildOptions) -> DataFrame:
    """Context tokens per entity of uriCounts (so not of dead redirects or disambiguation
    pages), pruned below the minimum count."""
    return (tokens.join(resolved, tokens.target == resolved.title, "left")
            .select(F.when(F.col("title").isNotNull(), F.col("final"))
                    .otherwise(F.col("target")).alias("uri"), "token", "count")
            .join(entities, "uri", "left_semi")
            .groupBy("uri", "token").agg(F.sum("count").alias("count"))
            .filter(F.col("count") >= options.min_token_count)
            .groupBy("uri").agg(F.collect_list(F.struct("token", "count")).alias("tokens")))


def _write_wikistats(spark: SparkSession, stats: Path, folder: Path,
                     options: BuildOptions) -> dict[str, int]:
    """The four files, each streamed row by row from a sorted table (biggest counts first)."""
    folder.mkdir(parents=True, exist_ok=True)
    read = lambda name: spark.read.parquet(_uri(stats / name))  # noqa: E731
    lines = {}
    lines[wikistats.URI_COUNTS] = wikistats.write_uri_counts(
        folder / wikistats.URI_COUNTS,
        ((r["uri"], r["count"]) for r in _sorted(read("uri_counts"), "count", "uri")))
    lines[wikistats.PAIR_COUNTS] = wikistats.write_pair_counts(
        folder / wikistats.PAIR_COUNTS,
        ((r["surface_form"], r["uri"], r["count"])
         for r in _sorted(read("pair_counts"), "count", "surface_form", "uri")))
    occurrences = read("occurrences")
    frequent = read("surface_forms")
    totals = (frequent.join(occurrences, "surface_form", "left")
              .select("surface_form", "linked",
                      F.greatest(F.coalesce("total", F.lit(0)), "linked").alias("total")))
    if options.lowercase_counts:
        lower = (frequent.filter(F.lower("surface_form") != F.col("surface_form"))
                 .select(F.lower("surface_form").alias("surface_form")).distinct()
                 .join(occurrences.filter(F.col("total") > 0), "surface_form")
                 .select("surface_form", F.lit(-1).cast("long").alias("linked"),
                         F.col("total").cast("long").alias("total")))
        totals = totals.unionByName(lower)
    lines[wikistats.SF_AND_TOTAL_COUNTS] = wikistats.write_sf_and_total_counts(
        folder / wikistats.SF_AND_TOTAL_COUNTS,
        ((r["surface_form"], r["linked"], r["total"])
         for r in _sorted(totals, "linked", "surface_form")))
    lines[wikistats.TOKEN_COUNTS] = wikistats.write_token_counts(
        folder / wikistats.TOKEN_COUNTS,
        ((r["uri"], sorted(((t["token"], t["count"]) for t in r["tokens"]),
                           key=lambda pair: (-pair[1], pair[0])))
         for r in read("token_counts").orderBy("uri").toLocalIterator()))
    return lines


def _sorted(frame: DataFrame, count: str, *keys: str) -> Iterator:
    return frame.orderBy(F.col(count).desc(), *keys).toLocalIterator()


# -- arguments and paths ----------------------------------------------------------------------


def _check_dumps(dumps: list[str]) -> list[str]:
    if not dumps:
        raise UsageError("no Wikipedia dump given (--wikipedia DUMP...)")
    paths = []
    for dump in dumps:
        path = Path(dump)
        if not path.is_file():
            raise UsageError(f"Wikipedia dump not found: {dump}")
        paths.append(str(path.resolve()))
    return paths


def _check_out(out: Path, overwrite: bool) -> Path:
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"--out {out} is not empty (use --overwrite to replace it)")
    return out


def _uri(path: Path) -> str:
    return path.resolve().as_uri()


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, BuildOptions]:
    parser = argparse.ArgumentParser(prog="build_model", description=__doc__.split("\n")[0])
    add_build_args(parser)
    parser.add_argument("--master", help="Spark master (default: spark-submit's, else local)")
    args = parser.parse_args(argv)
    try:
        return args, build_options(args)
    except UsageError as err:
        parser.error(str(err))
        raise


def main(argv: list[str] | None = None) -> int:
    args, options = parse_args(argv)
    running = SparkSession.getActiveSession()
    spark = spark_session("longtail model build", args.master)
    try:
        report = build_model(spark, args.wikipedia, args.out, options)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if running is None:
            spark.stop()
    summary = {k: report[k] for k in ("pages", "articles", "entities", "pairs",
                                      "context_vectors", "seconds_total")}
    summary["failures"] = report["failures"]["count"]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
