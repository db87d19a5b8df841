"""Stage `count`: per-question relevant-document counts (the heuristic in longtail.qa.heuristic).

spark-submit jobs/submit.py count --out OUT [--exclude-countries [--countries FILE]]

Only the (question entity, salient answer entity) pairs that some question needs are counted
(longtail.indexes.pair_counts), one doc_entities file per task: no shuffle, and work that grows
with the corpus, not with the square of its entity vocabulary.
"""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

from longtail.errors import UsageError
from longtail.indexes.pair_counts import PairIndex
from longtail.jobs.count_pairs import count_pair_docs
from longtail.linking.annotation import entity_id
from longtail.output.context import StageContext
from longtail.output.lineage import Lineage
from longtail.output.records import StageRecord
from longtail.progress import stage_line
from longtail.qa.countries import load_countries
from longtail.qa.relevant import QAEntityLists, relevant_docs_table, status_counts
from longtail.stage_config import CountConfig

STAGE = "count"
_ROWS = pa.schema([("doc_id", pa.int64()), ("entity_id", pa.int64())])


def run_count(ctx: StageContext, config: CountConfig) -> StageRecord:
    out = ctx.out
    mixed = mixed_linkers(ctx.lineage)
    if mixed and not config.allow_mixed_linkers:
        raise UsageError(f"the corpus and the QA set were linked with different settings "
                         f"({mixed}); relink one of them, or pass --allow-mixed-linkers to "
                         "count them together anyway")
    steps = StepTimer()
    with ctx.whole(config) as run:
        excluded = ({entity_id(u) for u in load_countries(config.countries)}
                    if config.exclude_countries else set())
        qa_stages = run.lineage.writers("qa_entities")
        qa = QAEntityLists.from_tables(
            out.read_table("qa_questions", run.committed_files("qa_questions")),
            out.read_table("qa_entities", run.committed_files("qa_entities")), excluded)
        wanted = sorted(qa.entity_ids())
        entities = out.read_table("entities", run.committed_files("entities"),
                                  ["entity_id", "doc_count"], pc.field("entity_id").isin(wanted))
        doc_count = dict(zip(entities["entity_id"].to_pylist(),
                             entities["doc_count"].to_pylist(), strict=True))
        # URIs of the QA entities come from the stage that linked the questions, so an
        # answer the corpus never mentions still has its name.
        names = out.read_table("entity_uris", run.committed_files("entity_uris", qa_stages),
                               ["entity_id", "uri"], pc.field("entity_id").isin(wanted))
        uris = dict(zip(names["entity_id"].to_pylist(), names["uri"].to_pylist(), strict=True))
        steps.lap("read_qa_and_entities")
        index = PairIndex.build(sorted(qa.needed_pairs()))
        steps.lap("wanted_pairs")

        pair_docs: dict[tuple[int, int], int] = {}
        if len(index):
            totals = count_pair_docs(ctx.spark, out, run.committed_files("doc_entities"), index)
            pair_docs = {(int(q), int(a)): int(n)
                         for (q, a), n in zip(index.pairs, totals, strict=True) if n}
        steps.lap("count_pairs_on_spark")

        table = relevant_docs_table(qa, pair_docs, doc_count, uris)
        run.write("relevant_docs", table)
        steps.lap("relevant_docs_table")
        run.stats.update({"questions": table.num_rows, "entity_pairs": len(index),
                          "status": status_counts(table), "excluded_countries": len(excluded),
                          "step_seconds": steps.seconds,
                          **({"mixed_linkers": mixed} if mixed else {})})
    stats = run.record.stats
    ctx.say(stage_line(STAGE, run.record.seconds, questions=stats["questions"], **{
        k.replace(" ", "_"): v for k, v in stats["status"].items()}))
    return run.record


LINKER_SETTINGS = ("linker", "confidence", "support", "spotlight")


def mixed_linkers(lineage: Lineage) -> str:
    """How the linker settings of the stage that linked the corpus and the one that linked the
    QA set differ, described; "" when they agree (or one side was imported)."""
    sides = []
    for table in ("mentions", "qa_entities"):
        for stage in lineage.writers(table):
            record = lineage.records[stage]
            if "linker" in record.parameters:
                settings = {k: record.parameters.get(k) for k in LINKER_SETTINGS}
                settings["model"] = record.model.id if record.model else None
                sides.append((stage, settings))
    if len(sides) < 2:
        return ""
    (a, first), (b, second) = sides[0], sides[1]
    differ = [k for k in first if first[k] != second[k]]
    return ", ".join(f"{k} {first[k]} in `{a}`, {second[k]} in `{b}`" if k != "model"
                     else f"another model in `{b}`" for k in differ)


class StepTimer:
    """Seconds per step of the stage, recorded in its stats (where the time goes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self._mark, 3)
        self._mark = now
