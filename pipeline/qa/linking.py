"""Link QA pairs the way the relevant-document heuristic needs them.

The question text gives the question entities. `question + "\\n" + "\\n".join(answers)` is linked
as one text and the mentions at offsets >= len(question) are the answer entities, one per
mention (repeats kept). Linking both texts with context is what the reference method does.
"""

from __future__ import annotations

import time
from collections import Counter

import pyarrow as pa

from longtail.linking.annotation import Annotation
from longtail.linking.shard import EntityUris
from longtail.linking.spec import LinkerSpec
from longtail.output.failures import FailureRecord, failures_table
from longtail.output.folder import OutputFolder
from longtail.output.runner import ShardWriter
from longtail.qa.readers import QAPair
from longtail.schemas.tables import QA_ENTITIES, QA_QUESTIONS

STAGE = "qa"
TABLES = ["qa_questions", "qa_entities", "entity_uris", "failures"]
READ_SHARD = "read"


def answer_text(pair: QAPair) -> str:
    return pair.question + "\n" + "\n".join(pair.answers)


def write_read_failures(out: OutputFolder, failures: list[FailureRecord]) -> dict:
    """The QA records that could not be read, as the stage's shard `read`; returns the marker."""
    writer = ShardWriter(out, STAGE, READ_SHARD)
    writer.write("failures", failures_table(failures))
    return writer.commit_marker({"records_in": len(failures), "unreadable": len(failures),
                                 "failure_reasons": dict(Counter(f.reason for f in failures))})


def link_qa_shard(shard_id: str, pairs: list[QAPair], spec: LinkerSpec,
                  out: OutputFolder) -> dict:
    """Link every pair of one QA shard, write its tables and its commit marker; returns the
    marker."""
    started = time.perf_counter()
    linker = spec.build()
    items = []
    for i, pair in enumerate(pairs):
        items.append(((i, "question"), pair.question))
        items.append(((i, "answer"), answer_text(pair)))
    found: dict[tuple[int, str], list[Annotation]] = {}
    errors: dict[int, FailureRecord] = {}
    for result in linker.annotate_many(items):
        i, role = result.key
        if result.error is not None:
            pair = pairs[i]
            errors.setdefault(i, FailureRecord(None, pair.source, pair.row, STAGE,
                                               result.error.reason,
                                               f"{role} text: {result.error.detail}"))
        else:
            found[(i, role)] = result.annotations

    entities: dict[str, list] = {name: [] for name in QA_ENTITIES.names}
    uris = EntityUris()
    for i, pair in enumerate(pairs):
        if i in errors:
            continue
        cut = len(pair.question)
        q_mentions = found[(i, "question")]
        a_mentions = [a for a in found[(i, "answer")] if a.offset >= cut]
        for role, mentions in (("question", q_mentions), ("answer", a_mentions)):
            for a in mentions:
                entities["question_id"].append(pair.question_id)
                entities["row"].append(pair.row)
                entities["source"].append(pair.source)
                entities["role"].append(role)
                entities["entity_id"].append(uris.add(a))
                entities["surface_form"].append(a.surface_form)
                entities["offset"].append(a.offset)
                entities["similarity"].append(a.similarity)
                entities["second_rank"].append(a.second_rank)

    questions = pa.table(
        {
            "question_id": [p.question_id for p in pairs],
            "row": [p.row for p in pairs],
            "source": [p.source for p in pairs],
            "question": [p.question for p in pairs],
            "answers": [list(p.answers) for p in pairs],
            "linked": [i not in errors for i in range(len(pairs))],
        },
        schema=QA_QUESTIONS,
    )
    writer = ShardWriter(out, STAGE, shard_id)
    writer.write("qa_questions", questions)
    writer.write("qa_entities", pa.table(entities, schema=QA_ENTITIES))
    writer.write("entity_uris", uris.table())
    writer.write("failures", failures_table(errors.values()))
    roles = Counter(entities["role"])
    stats = {
        "records_in": len(pairs),
        "pairs": len(pairs),
        "linked": len(pairs) - len(errors),
        "link_failed": len(errors),
        "failure_reasons": dict(Counter(f.reason for f in errors.values())),
        "question_mentions": roles.get("question", 0),
        "answer_mentions": roles.get("answer", 0),
        "task_seconds": round(time.perf_counter() - started, 3),
    }
    return writer.commit_marker(stats)
