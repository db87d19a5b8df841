"""When a training run reading the corpus in order meets each fact (Chang et al. 2024).

For every counted question: the corpus positions of its relevant documents (0-based, corpus
order, see `longtail.analysis.corpus_access`), the first and last, and the gaps between
consecutive ones. With a step size the same is given in training steps:
- `docs_per_step` N: a document at position p is seen in step p // N;
- `tokens_per_step` T: documents are counted as n_chars x tokens_per_char tokens; a document
  is seen in the step its first token falls in, floor(tokens before it / T). Unreadable rows
  count as no tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from longtail.analysis.bins import count_bin
from longtail.analysis.corpus_access import CorpusOrder
from longtail.analysis.relevant_sets import relevant_doc_pairs
from longtail.analysis.tables import read_table, require
from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.schemas.analysis import EXPOSURE
from longtail.schemas.tables import STATUS_COUNTED


@dataclass(frozen=True)
class StepSize:
    docs_per_step: int | None = None
    tokens_per_step: int | None = None
    tokens_per_char: float = 0.25

    def __post_init__(self) -> None:
        if self.docs_per_step is not None and self.tokens_per_step is not None:
            raise UsageError("give --docs-per-step or --tokens-per-step, not both")
        if self.docs_per_step is not None and self.docs_per_step < 1:
            raise UsageError(f"--docs-per-step must be at least 1, not {self.docs_per_step}")
        if self.tokens_per_step is not None and self.tokens_per_step < 1:
            raise UsageError(f"--tokens-per-step must be at least 1, not {self.tokens_per_step}")
        if not self.tokens_per_char > 0:
            raise UsageError(f"--tokens-per-char must be positive, not {self.tokens_per_char}")

    @property
    def given(self) -> bool:
        return self.docs_per_step is not None or self.tokens_per_step is not None

    @property
    def unit(self) -> str:
        return "training steps" if self.given else "documents"


def _step_function(out: OutputFolder, order: CorpusOrder, size: StepSize):
    if size.docs_per_step is not None:
        return lambda positions: positions // size.docs_per_step
    if size.tokens_per_step is None:
        return None
    docs = read_table(out, "docs", columns=["doc_id", "n_chars"])
    doc_positions = order.positions(docs["doc_id"].to_numpy())
    sort = np.argsort(doc_positions, kind="stable")
    doc_positions = doc_positions[sort]
    tokens = docs["n_chars"].to_numpy()[sort].astype(np.float64) * size.tokens_per_char
    if docs.num_rows and not tokens.any():
        raise UsageError("no document has a character count (an imported archive has no "
                         "texts): use --docs-per-step")
    before = np.cumsum(tokens) - tokens

    def steps(positions: np.ndarray) -> np.ndarray:
        index = np.minimum(np.searchsorted(doc_positions, positions), len(before) - 1)
        return np.floor(before[index] / size.tokens_per_step).astype(np.int64)

    return steps


def exposure_table(out: OutputFolder, size: StepSize = StepSize()) -> pa.Table:
    """One row per counted question, keyed by (source, row): ids may repeat."""
    require(out, "docs", "doc_entities", "relevant_docs")
    questions = read_table(out, "relevant_docs", columns=[
        "question_id", "source", "row", "q_uri", "a_uri", "relevant_docs", "status"])
    questions = questions.filter(pc.equal(questions["status"], STATUS_COUNTED)).sort_by(
        [("source", "ascending"), ("row", "ascending")])
    # each question's position stands in for its id, which may be shared
    keyed = pa.table({"question_id": [str(i) for i in range(questions.num_rows)],
                      "q_uri": questions["q_uri"], "a_uri": questions["a_uri"]})
    pairs = relevant_doc_pairs(out, keyed)
    order = CorpusOrder.load(out)
    to_steps = _step_function(out, order, size)
    keys = np.array([int(k) for k in pairs["question_id"].to_pylist()], dtype=np.int64)
    positions = order.positions(pairs["doc_id"].to_numpy())
    steps = to_steps(positions) if to_steps else None
    qids, sources, rows, counts = (questions[c].to_pylist() for c in (
        "question_id", "source", "row", "relevant_docs"))
    cols: dict[str, list] = {name: [] for name in EXPOSURE.names}
    sort = np.argsort(keys, kind="stable")
    keys, positions = keys[sort], positions[sort]
    steps = steps[sort] if steps is not None else None
    boundaries = np.flatnonzero(keys[1:] != keys[:-1]) + 1 if len(keys) else []
    for chunk in np.split(np.arange(len(keys)), boundaries) if len(keys) else []:
        i = int(keys[chunk[0]])
        where = np.sort(positions[chunk])
        values = [qids[i], sources[i], rows[i], counts[i], where.tolist(), int(where[0]),
                  int(where[-1]), np.diff(where).tolist()]
        if steps is not None:
            at = np.sort(steps[chunk])
            values += [at.tolist(), int(at[0]), int(at[-1]), np.diff(at).tolist()]
        else:
            values += [None, None, None, None]
        for name, value in zip(EXPOSURE.names, values, strict=True):
            cols[name].append(value)
    return pa.table(cols, schema=EXPOSURE)


def summary_rows(table: pa.Table, size: StepSize) -> list[tuple]:
    """Per bin of relevant documents: questions, median first/last exposure, median/max gap."""
    column = "step" if size.given else "position"
    by_bin: dict[str, list[dict]] = {}
    order: dict[str, int] = {}
    for row in table.to_pylist():
        b = count_bin(row["relevant_docs"])
        by_bin.setdefault(b.label, []).append(row)
        order[b.label] = b.order
    rows = []
    for label in sorted(by_bin, key=order.__getitem__):
        group = by_bin[label]
        gaps = [g for r in group for g in r[f"{column}_gaps"]]
        rows.append((label, len(group),
                     _median([r[f"first_{column}"] for r in group]),
                     _median([r[f"last_{column}"] for r in group]),
                     _median(gaps), max(gaps) if gaps else None))
    return rows


def _median(values: list[int]) -> float | None:
    return float(np.median(values)) if values else None


def gap_series(table: pa.Table, size: StepSize) -> list[tuple[str, np.ndarray]]:
    """One series per bin of relevant documents, in bin order: its legend entry (every bin
    is named, also one with no gap to draw) and its gaps."""
    column = "step_gaps" if size.given else "position_gaps"
    groups: dict[str, list[int]] = {}
    questions: dict[str, int] = {}
    order: dict[str, int] = {}
    for count, gaps in zip(table["relevant_docs"].to_pylist(), table[column].to_pylist(),
                           strict=True):
        b = count_bin(count)
        groups.setdefault(b.label, []).extend(gaps)
        questions[b.label] = questions.get(b.label, 0) + 1
        order[b.label] = b.order
    series = []
    for label in sorted(groups, key=order.__getitem__):
        gaps = np.array(groups[label], dtype=np.int64)
        name = f"{label} relevant docs: {questions[label]:,} questions, "
        if not (gaps > 0).any():  # nothing to draw on log axes
            why = "one document each" if not len(gaps) else f"all {len(gaps):,} gaps are 0"
            name += f"no gap to draw ({why})"
        else:
            name += f"{(gaps == 0).sum():,} of {len(gaps):,} gaps are 0"
        series.append((name, gaps))
    return series


def plot_gaps(table: pa.Table, size: StepSize, path: str | Path) -> Path:
    """Histograms of the gaps between consecutive exposures, one per bin of relevant documents,
    log-spaced bins on log axes (gaps of 0 cannot be drawn there: the legend counts them)."""
    from longtail.analysis.figures import new_figure, save_png

    series = gap_series(table, size)
    every = np.concatenate([gaps for _, gaps in series] or [np.zeros(0, np.int64)])
    top = max(1, math.ceil(math.log10(every.max() + 1))) if len(every) else 1
    edges = np.logspace(0, top, 5 * top + 1)
    fig, ax = new_figure()
    for name, gaps in series:
        if (gaps > 0).any():
            ax.hist(gaps[gaps > 0], bins=edges, histtype="step", linewidth=1.8, label=name)
        else:  # a legend entry without a histogram
            ax.plot([], [], linestyle="none", marker="s", markerfacecolor="none", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"gap between consecutive exposures to the same fact ({size.unit})")
    ax.set_ylabel("number of gaps (log scale)")
    if size.docs_per_step:
        detail = f"{size.docs_per_step:,} documents per step"
    elif size.tokens_per_step:
        detail = (f"{size.tokens_per_step:,} tokens per step, tokens = characters x "
                  f"{size.tokens_per_char:g}")
    else:
        detail = "gaps in documents"
    ax.set_title(f"Time between exposures to a fact in corpus order\n({detail}; by number "
                 "of relevant documents)")
    if series:
        ax.legend(loc="best", fontsize=8)
    return save_png(fig, path)
