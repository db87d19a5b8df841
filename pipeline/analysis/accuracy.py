"""QA accuracy by relevant-document count (Kandpal et al. 2022, Figure 1).

A prediction is correct when, after normalisation, it equals one of the question's answer
aliases exactly. Normalisation `squad` is SQuAD's evaluation script: lower case, punctuation
removed, the articles a/an/the removed, whitespace collapsed. `triviaqa` is TriviaQA's: the
same, except that underscores and punctuation (with ‘ ’ ´ `) become spaces.
Accuracy is reported per bin of `longtail.analysis.bins` with a 95% Wilson interval; zero-count
and uncounted questions get their own bins. Spearman's rho is taken between the count and
correctness (0/1) over scored questions that have a count (zero included).
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from longtail.analysis.bins import UNCOUNTED, ZERO, count_bin
from longtail.analysis.tables import read_table, require
from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.schemas.analysis import ACCURACY, ACCURACY_QUESTIONS, ACCURACY_SUMMARY

NORMALISATIONS = ("squad", "triviaqa")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SQUAD_PUNCT = str.maketrans("", "", string.punctuation)
_TRIVIAQA_PUNCT = str.maketrans({c: " " for c in string.punctuation + "‘’´`"})
SHOWN_PROBLEMS = 5


def normalize_answer(text: str, style: str = "squad") -> str:
    if style == "squad":
        text = text.lower().translate(_SQUAD_PUNCT)
    elif style == "triviaqa":
        text = text.replace("_", " ").lower().translate(_TRIVIAQA_PUNCT)
    else:
        raise UsageError(f"unknown normalisation {style!r}; choose {' or '.join(NORMALISATIONS)}")
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: list[str], style: str = "squad") -> bool:
    predicted = normalize_answer(prediction, style)
    return any(predicted == normalize_answer(a, style) for a in answers)


def wilson_interval(correct: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    from scipy import stats  # the analysis extra: imported when used

    ci = stats.binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass
class Predictions:
    """One predictions file, read and matched to question ids."""

    label: str
    path: str
    by_question: dict[str, str] = field(default_factory=dict)
    lines: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    unknown_ids: list[str] = field(default_factory=list)
    duplicates: int = 0


def read_predictions(path: str, label: str, known: set[str],
                     id_of_row: dict[int, str] | None) -> Predictions:
    """JSON Lines of {"question_id" or "row", "prediction"}; problems are counted, not fatal.

    `id_of_row` maps QA rows to question ids, or is None when rows are ambiguous (several QA
    files): a line keyed by row is then a bad line.
    """
    result = Predictions(label, path)
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as err:
        raise UsageError(f"cannot read predictions file {path}: {err.strerror}") from err
    with handle:
        for number, line in enumerate(handle, start=1):
            result.lines += 1
            problem, qid, prediction = _parse_prediction(line, id_of_row)
            if problem:
                result.bad_lines.append((number, problem))
            elif qid not in known:
                result.unknown_ids.append(qid)
            elif qid in result.by_question:
                result.duplicates += 1
            else:
                result.by_question[qid] = prediction
    return result


def _parse_prediction(line: str, id_of_row: dict[int, str] | None
                      ) -> tuple[str | None, str, str]:
    if not line.strip():
        return "empty line", "", ""
    try:
        record = json.loads(line)
    except ValueError as err:
        return f"not JSON ({err})", "", ""
    if not isinstance(record, dict):
        return "not a JSON object", "", ""
    prediction = record.get("prediction")
    if isinstance(prediction, int | float) and not isinstance(prediction, bool):
        prediction = json.dumps(prediction)
    if not isinstance(prediction, str):
        return "no string field 'prediction'", "", ""
    if record.get("question_id") is not None:
        return None, str(record["question_id"]), prediction
    row = record.get("row")
    if not isinstance(row, int) or isinstance(row, bool):
        return "neither 'question_id' nor an integer 'row'", "", ""
    if id_of_row is None:
        return "keyed by 'row', but the output folder holds several QA files", "", ""
    return None, id_of_row.get(row, f"row {row}"), prediction


@dataclass
class AccuracyResult:
    bins: pa.Table
    summary: pa.Table
    questions: pa.Table
    predictions: list[Predictions]


def score_predictions(out: OutputFolder, paths: list[str], *, min_bin_size: int = 0,
                      style: str = "squad", labels: list[str] | None = None) -> AccuracyResult:
    require(out, "relevant_docs")
    if labels is not None and len(labels) != len(paths):
        raise UsageError(f"{len(labels)} labels for {len(paths)} predictions files")
    normalize_answer("", style)  # rejects an unknown style before any work
    rd = read_table(out, "relevant_docs",
                    columns=["question_id", "row", "answers", "relevant_docs", "status"])
    qids = rd["question_id"].to_pylist()
    answers = dict(zip(qids, rd["answers"].to_pylist(), strict=True))
    counts = dict(zip(qids, rd["relevant_docs"].to_pylist(), strict=True))
    status = dict(zip(qids, rd["status"].to_pylist(), strict=True))
    rows = rd["row"].to_pylist()
    id_of_row = dict(zip(rows, qids, strict=True)) if len(set(rows)) == len(rows) else None
    labels = labels or _labels(paths)

    bin_cols: dict[str, list] = {name: [] for name in ACCURACY.names}
    sum_cols: dict[str, list] = {name: [] for name in ACCURACY_SUMMARY.names}
    q_cols: dict[str, list] = {name: [] for name in ACCURACY_QUESTIONS.names}
    read = []
    for path, label in zip(paths, labels, strict=True):
        preds = read_predictions(path, label, set(qids), id_of_row)
        read.append(preds)
        per_bin: dict[str, list[int]] = defaultdict(list)
        bin_info = {}
        xs, ys = [], []
        for qid, prediction in preds.by_question.items():
            correct = exact_match(prediction, answers[qid], style)
            b = count_bin(counts[qid])
            bin_info[b.label] = b
            per_bin[b.label].append(int(correct))
            if counts[qid] is not None:
                xs.append(counts[qid])
                ys.append(int(correct))
            for name, value in zip(ACCURACY_QUESTIONS.names, (
                    label, qid, prediction, correct, counts[qid], status[qid], b.label),
                    strict=True):
                q_cols[name].append(value)
        for b in sorted(bin_info.values(), key=lambda b: b.order):
            hits = per_bin[b.label]
            low, high = wilson_interval(sum(hits), len(hits))
            for name, value in zip(ACCURACY.names, (
                    label, b.label, b.low, b.high, len(hits), sum(hits), sum(hits) / len(hits),
                    low, high, len(hits) < min_bin_size), strict=True):
                bin_cols[name].append(value)
        rho, p = _spearman(xs, ys)
        for name, value in zip(ACCURACY_SUMMARY.names, (
                label, path, preds.lines, len(preds.by_question),
                sum(sum(h) for h in per_bin.values()), len(preds.unknown_ids),
                len(preds.bad_lines), preds.duplicates, len(qids) - len(preds.by_question),
                rho, p, len(xs)), strict=True):
            sum_cols[name].append(value)
    return AccuracyResult(pa.table(bin_cols, schema=ACCURACY),
                          pa.table(sum_cols, schema=ACCURACY_SUMMARY),
                          pa.table(q_cols, schema=ACCURACY_QUESTIONS), read)


def _labels(paths: list[str]) -> list[str]:
    stems = [Path(p).stem for p in paths]
    return stems if len(set(stems)) == len(stems) else list(paths)


def _spearman(xs: list[int], ys: list[int]) -> tuple[float | None, float | None]:
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None, None
    from scipy import stats

    result = stats.spearmanr(xs, ys)
    rho, p = float(result.statistic), float(result.pvalue)
    return (None, None) if math.isnan(rho) else (rho, p)


def plot_accuracy(result: AccuracyResult, path: str | Path, min_bin_size: int = 0) -> Path:
    """One line per predictions file over the zero and counted bins, on a symlog x axis."""
    from longtail.analysis.figures import new_figure, save_png

    fig, ax = new_figure()
    table = result.bins.to_pylist()
    highest = 1
    annotated: set[tuple[float, int]] = set()
    for label in result.summary["predictions"].to_pylist():
        rows = [r for r in table if r["predictions"] == label and r["bin"] != UNCOUNTED]
        if not rows:
            continue
        xs = [0.0 if r["bin"] == ZERO else math.sqrt(r["bin_low"] * r["bin_high"]) for r in rows]
        ys = [r["accuracy"] for r in rows]
        err = [[y - r["ci_low"] for y, r in zip(ys, rows, strict=True)],
               [r["ci_high"] - y for y, r in zip(ys, rows, strict=True)]]
        line = ax.errorbar(xs, ys, yerr=err, capsize=3, label=label)
        color = line.lines[0].get_color()
        for x, y, r in zip(xs, ys, rows, strict=True):
            ax.plot([x], [y], marker="o", markersize=7, color=color,
                    markerfacecolor="white" if r["small"] else color)
            if (x, r["questions"]) not in annotated:  # one label when files share questions
                annotated.add((x, r["questions"]))
                ax.annotate(f"n={r['questions']:,}", (x, y), textcoords="offset points",
                            xytext=(6, -12), fontsize=8, color="dimgray")
        highest = max(highest, *(r["bin_high"] for r in rows))
    ax.set_xscale("symlog", linthresh=1, linscale=0.5)
    ticks = [0] + [10**k for k in range(len(str(highest)))]
    ax.set_xticks(ticks, ["0"] + [f"$10^{{{k}}}$" for k in range(len(ticks) - 1)])
    ax.set_xlim(-0.3, highest * 1.2)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("relevant pre-training documents: documents with both the question and "
                  "the answer entity\n(log scale; each point is a bin [10^k, 10^(k+1)), "
                  "zero-count questions at 0)")
    ax.set_ylabel("exact-match accuracy (95% Wilson interval)")
    ax.set_title("QA accuracy by number of relevant documents")
    handles, names = ax.get_legend_handles_labels()
    if min_bin_size > 0:
        handles += ax.plot([], [], linestyle="none", marker="o", markerfacecolor="white",
                           markeredgecolor="gray")
        names.append(f"hollow: bin with < {min_bin_size} questions")
    ax.legend(handles, names, loc="best", title="predictions")
    return save_png(fig, path)
