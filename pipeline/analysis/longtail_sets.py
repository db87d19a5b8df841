"""Long-tail fact sets for fine-tuning, and REMIX-style mixing data (Chen et al. 2024).

The set is every question with a count (status `counted` or `zero`) of at most K relevant
documents. Questions without a count (no question entity, no answer entity, linking failed)
are left out unless asked for; they are then written with relevant_docs null, since nothing
says how rare their fact is.
Mixing data, `ratio` x (facts written) records:
- `random`: sequences of words drawn uniformly from the corpus's distinct words (runs of
  letters as they appear in the texts);
- `generic`: corpus documents, drawn uniformly from those that mention none of the entities
  (question or answer side) of the written facts.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from longtail.analysis.tables import read_table, require
from longtail.corpus.linked import LinkedCorpus
from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.output.storage import atomic_path
from longtail.output.views import connect
from longtail.schemas.analysis import LONGTAIL_SET
from longtail.schemas.tables import STATUS_COUNTED, STATUS_ZERO

MIX_KINDS = ("random", "generic")
_LETTERS = re.compile(r"[^\W\d_]+")
_FACT_FIELDS = ["question_id", "question", "answers", "relevant_docs", "q_uri", "a_uri",
                "status"]


def longtail_set(out: OutputFolder, max_docs: int, include_uncounted: bool = False
                 ) -> pa.Table:
    """The questions with at most `max_docs` relevant documents, in question_id order."""
    if max_docs < 0:
        raise UsageError(f"--max-docs must be 0 or more, not {max_docs}")
    require(out, "relevant_docs")
    rd = read_table(out, "relevant_docs", columns=_FACT_FIELDS)
    counted = pc.is_in(rd["status"], pa.array([STATUS_COUNTED, STATUS_ZERO]))
    keep = pc.and_kleene(counted, pc.less_equal(rd["relevant_docs"], max_docs))
    if include_uncounted:
        keep = pc.or_kleene(keep, pc.invert(counted))
    chosen = rd.filter(keep).sort_by("question_id")
    return chosen.append_column(
        "max_docs", pa.array([max_docs] * chosen.num_rows, pa.int64())).cast(LONGTAIL_SET)


def write_jsonl(records: Iterable[dict], path: str | Path) -> int:
    """Write records as JSON Lines (UTF-8, not ASCII-escaped) atomically; returns the lines."""
    path = Path(path)
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def fact_records(table: pa.Table) -> list[dict]:
    return [{name: row[name] for name in _FACT_FIELDS} for row in table.to_pylist()]


def corpus_vocabulary(corpus: LinkedCorpus) -> list[str]:
    words: set[str] = set()
    for doc in corpus.documents():
        words.update(_LETTERS.findall(doc.text))
    return sorted(words)


def random_word_records(vocabulary: list[str], n: int, length: int, seed: int) -> list[dict]:
    if length < 1:
        raise UsageError(f"--mix-length must be at least 1, not {length}")
    if not vocabulary:
        raise UsageError("the corpus has no words to draw random sequences from")
    rng = random.Random(seed)
    return [{"kind": "random", "text": " ".join(rng.choices(vocabulary, k=length))}
            for _ in range(n)]


def generic_records(out: OutputFolder, corpus: LinkedCorpus, facts: pa.Table, n: int,
                    seed: int) -> list[dict]:
    """`n` documents (fewer if the corpus has fewer) with none of the facts' entities."""
    require(out, "docs", "doc_entities", "qa_entities")
    qa = read_table(out, "qa_entities", columns=["question_id", "entity_id"])
    qa = qa.filter(pc.is_in(qa["question_id"], facts["question_id"]))
    entities = pa.table({"entity_id": pc.unique(qa["entity_id"])})
    with connect(out) as con:
        con.register("fact_entities", entities)
        pool = con.sql(
            "SELECT doc_id FROM docs "
            "WHERE status = 'linked' AND n_chars > 0 AND doc_id NOT IN ("
            "SELECT doc_id FROM doc_entities "
            "WHERE entity_id IN (SELECT entity_id FROM fact_entities)) ORDER BY doc_id"
        ).to_arrow_table()["doc_id"].to_numpy()
    rng = np.random.default_rng(seed)
    picked = pool[rng.choice(len(pool), min(n, len(pool)), replace=False)].tolist()
    texts = {d.doc_id: d for d in corpus.documents(set(picked))}
    return [{"kind": "generic", "doc_id": d, "source": texts[d].source, "row": texts[d].row,
             "text": texts[d].text} for d in picked if d in texts]


def mix_size(ratio: float, facts: int) -> int:
    if ratio < 0:
        raise UsageError(f"--ratio must be 0 or more, not {ratio}")
    return round(ratio * facts)
