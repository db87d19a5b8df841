"""A counterfactual corpus: the corpus without the relevant documents of chosen questions.

Per bin of relevant documents (`longtail.analysis.bins`, counted questions only) N questions
are drawn with a seeded generator from the bin's questions in question_id order, so the same
seed always picks the same questions. All their relevant documents (documents holding both
winning entities) are left out; every other row, unreadable ones too, is written back in its
input format and order (`longtail.corpus.write_filtered`). The layout under the target folder
mirrors the corpus files below their common folder; a Hugging Face dataset folder also gets
its state.json and dataset_info.json.
"""

from __future__ import annotations

import os
import random
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from longtail.analysis.bins import count_bin
from longtail.analysis.relevant_sets import counted_questions, relevant_doc_pairs
from longtail.analysis.tables import require
from longtail.corpus import FilteredFile, write_filtered
from longtail.corpus.inputs import HF_STATE_FILE
from longtail.corpus.linked import LinkedCorpus
from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.output.views import connect
from longtail.schemas.analysis import COUNTERFACTUAL_QUESTIONS, COUNTERFACTUAL_REMOVED

HF_INFO_FILE = "dataset_info.json"


@dataclass
class Counterfactual:
    questions: pa.Table
    removed: pa.Table
    available: dict[str, int]  # counted questions per bin
    total_docs: int
    total_chars: int
    written: list[FilteredFile] = field(default_factory=list)

    @property
    def removed_docs(self) -> int:
        return self.removed.num_rows

    @property
    def removed_chars(self) -> int:
        return int(pc.sum(self.removed["n_chars"]).as_py() or 0)

    @property
    def doc_fraction(self) -> float:
        return self.removed_docs / self.total_docs if self.total_docs else 0.0

    @property
    def char_fraction(self) -> float | None:
        """None when no document has a character count (an imported archive)."""
        return self.removed_chars / self.total_chars if self.total_chars else None


def choose_questions(counted: pa.Table, per_bin: int, seed: int) -> tuple[pa.Table, dict]:
    """Up to `per_bin` counted questions per bin; returns them and the questions per bin."""
    if per_bin < 1:
        raise UsageError(f"--per-bin must be at least 1, not {per_bin}")
    by_bin: dict[str, list[int]] = defaultdict(list)
    orders: dict[str, int] = {}
    order = pc.sort_indices(counted, [("question_id", "ascending")]).to_pylist()
    counts = counted["relevant_docs"].to_pylist()
    for i in order:
        b = count_bin(counts[i])
        by_bin[b.label].append(i)
        orders[b.label] = b.order
    rng = random.Random(seed)
    chosen: list[int] = []
    labels: list[str] = []
    for label in sorted(by_bin, key=orders.__getitem__):
        members = by_bin[label]
        picked = sorted(rng.sample(members, min(per_bin, len(members))))
        chosen.extend(picked)
        labels.extend([label] * len(picked))
    table = counted.take(pa.array(chosen, pa.int64())).append_column(
        "bin", pa.array(labels, pa.string()))
    return table.select(COUNTERFACTUAL_QUESTIONS.names).cast(COUNTERFACTUAL_QUESTIONS), {
        label: len(by_bin[label]) for label in sorted(by_bin, key=orders.__getitem__)}


def build_counterfactual(out: OutputFolder, per_bin: int, seed: int) -> Counterfactual:
    require(out, "docs", "doc_entities", "relevant_docs")
    questions, available = choose_questions(counted_questions(out), per_bin, seed)
    pairs = relevant_doc_pairs(out, questions)
    supported = Counter(pairs["doc_id"].to_pylist())
    with connect(out) as con:
        con.register("wanted", pa.table({"doc_id": pa.array(sorted(supported), pa.int64())}))
        removed = con.sql("SELECT doc_id, source, row, n_chars FROM docs "
                          "WHERE doc_id IN (SELECT doc_id FROM wanted) ORDER BY doc_id"
                          ).to_arrow_table()
        totals = con.sql("SELECT count(*), sum(n_chars) FROM docs").fetchall()
    total_docs, total_chars = totals[0]
    removed = removed.append_column("questions", pa.array(
        [supported[d] for d in removed["doc_id"].to_pylist()], pa.int32()))
    return Counterfactual(questions, removed.cast(COUNTERFACTUAL_REMOVED), available,
                          total_docs=int(total_docs), total_chars=int(total_chars or 0))


def write_corpus(corpus: LinkedCorpus, removed_ids: set[int], target: str | Path
                 ) -> list[FilteredFile]:
    """Every corpus file without the removed rows, under `target`, same relative layout."""
    target = Path(target)
    paths = [os.path.abspath(f.path) for f in corpus.files]
    base = os.path.commonpath([os.path.dirname(p) for p in paths])
    destinations = [target / os.path.relpath(p, base) for p in paths]
    inputs = {Path(p).resolve() for p in paths}
    if any(d.resolve() in inputs for d in destinations):
        raise UsageError(f"--write-corpus {target} would overwrite the corpus; choose a new folder")
    written = []
    for file, destination in zip(corpus.files, destinations, strict=True):
        written.append(write_filtered(file, destination, lambda d: d not in removed_ids))
    for folder in corpus.hf_dataset_folders():
        for name in (HF_STATE_FILE, HF_INFO_FILE):
            source = Path(folder) / name
            if source.is_file():
                destination = target / os.path.relpath(os.path.abspath(source), base)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
    return written
