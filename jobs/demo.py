"""`longtail demo`: every stage on the bundled sample with local Spark, then a summary."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from longtail.linking.spec import LinkerSpec
from longtail.output.folder import OutputFolder
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA, SAMPLE_WIKI, SAMPLE_WIKISTATS
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig
from longtail.stages import stage

DEMO_CONFIDENCE = 0.4
DEMO_SUPPORT = 0
# A wiki of about 100 articles is too small for Spotlight's English pruning (surface forms
# linked twice, context tokens seen three times): most names are linked once in it.
DEMO_BUILD = {"min_surface_form_count": 1, "min_token_count": 1}
TRY_QUERY = (
    "SELECT question, q_uri, a_uri, relevant_docs FROM relevant_docs "
    "WHERE status = 'counted' ORDER BY relevant_docs DESC LIMIT 5"
)


def run_demo(out_dir: str, master: str | None = None, build: bool = False) -> dict:
    """The sample model, imported from the wikistats `longtail model build` computes from the
    sample wiki (or, with `build`, built from the wiki with Spark), then link, qa, index and
    count."""
    from longtail.jobs.build_model import build_model
    from longtail.jobs.session import spark_session
    from longtail.linking.statistical import import_wikistats
    from longtail.output.context import Planned, run_stages

    out = OutputFolder(out_dir)
    root = out.storage.local_path()
    root.mkdir(parents=True, exist_ok=True)
    spark = spark_session("longtail demo", master or "local[2]",
                          **{"spark.sql.shuffle.partitions": "4"})
    seconds: dict[str, float] = {}
    model_dir = root / "model"
    started = time.perf_counter()
    if build:
        build_model(spark, [str(SAMPLE_WIKI)], str(model_dir), {**DEMO_BUILD, "overwrite": True})
    elif not (model_dir / "model.json").exists():
        import_wikistats(SAMPLE_WIKISTATS, model_dir,
                         min_surface_form_count=DEMO_BUILD["min_surface_form_count"],
                         min_context_count=DEMO_BUILD["min_token_count"])
    seconds["model"] = time.perf_counter() - started
    spec = LinkerSpec(model=str(model_dir), confidence=DEMO_CONFIDENCE, support=DEMO_SUPPORT)
    planned = [
        Planned(stage("link"), CorpusConfig(corpus=(str(SAMPLE_CORPUS),), rows_per_shard=100),
                spec),
        Planned(stage("qa"), QAConfig(qa=(str(SAMPLE_QA),), qa_format="nq-open",
                                      qa_rows_per_shard=20), spec),
        Planned(stage("index"), IndexConfig(min_cooccurrence=1)),
        Planned(stage("count"), CountConfig()),
    ]
    records = run_stages(planned, out, spark=spark)
    spark.stop()
    seconds.update({name: record.seconds for name, record in records.items()})
    link, index, qa, count = (records[name].stats for name in ("link", "index", "qa", "count"))
    summary = {
        "documents": link["documents_in"],
        "linked": link["linked"],
        "empty": link["empty"],
        "failed documents": link["failed"],
        "mentions": link["mentions"],
        "entities": index["entities"],
        "entity pairs (cooccurrence)": index["cooccurrence_pairs"],
        "questions": count["questions"],
        **{f"questions {k}": v for k, v in count["status"].items()},
        "QA pairs failed": qa.get("unreadable", 0) + qa.get("link_failed", 0),
    }
    _print_summary(root, summary, seconds)
    return summary


def _print_summary(root: Path, summary: dict, seconds: dict[str, float]) -> None:
    console = Console(file=sys.stdout)
    table = Table("", "count", title="longtail demo")
    for key, value in summary.items():
        table.add_row(key, f"{value:,}")
    timing = Table("stage", "seconds", title="time per stage")
    for name, s in seconds.items():
        timing.add_row(name, f"{s:.1f}")
    timing.add_row("total", f"{sum(seconds.values()):.1f}")
    console.print(table)
    console.print(timing)
    where = shlex.quote(str(root))
    console.print(f"\noutputs: {root.resolve()}  (Parquet tables, manifest.json, longtail.duckdb)")
    console.print("try:", soft_wrap=True)
    console.print(f"  longtail query {where} \"{TRY_QUERY}\"", soft_wrap=True, markup=False)
    console.print(f"  longtail docs {where} <question_id>", soft_wrap=True, markup=False)
    console.print(f"  cd {where} && duckdb longtail.duckdb", soft_wrap=True, markup=False)
