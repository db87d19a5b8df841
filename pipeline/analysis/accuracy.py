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

import math
import re
import string
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from longtail.analysis.bins import UNCOUNTED, ZERO, count_bin
from longtail.analysis.predictions import DEFAULT_METRIC, Predictions, Questions, read_predictions
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
class AccuracyResult:
    bins: pa.Table
    summary: pa.Table
    questions: pa.Table
    predictions: list[Predictions]


def score_predictions(out: OutputFolder, paths: list[str], *, min_bin_size: int = 0,
                      style: str = "squad", labels: list[str] | None = None,
                      formats: list[str] | str | None = None,
                      metric: str = DEFAULT_METRIC) -> AccuracyResult:
    """Score every predictions file against OUT's questions, keyed by (source, row).

    `formats`: one per file, one for all, or None to detect each file's; `metric`: the
    lm-eval sample field holding correctness."""
    require(out, "relevant_docs")
    if labels is not None and len(labels) != len(paths):
        raise UsageError(f"{len(labels)} labels for {len(paths)} predictions files")
    normalize_answer("", style)  # rejects an unknown style before any work
    questions = Questions.from_table(read_table(out, "relevant_docs", columns=[
        "question_id", "source", "row", "question", "answers", "relevant_docs", "status"]))
    qids, sources, rows = (questions.column(c) for c in ("question_id", "source", "row"))
    answers, counts, status = (questions.column(c) for c in ("answers", "relevant_docs",
                                                             "status"))
    labels = labels or _labels(paths)
    if formats is None or isinstance(formats, str):
        formats = [formats] * len(paths)

    bin_cols: dict[str, list] = {name: [] for name in ACCURACY.names}
    sum_cols: dict[str, list] = {name: [] for name in ACCURACY_SUMMARY.names}
    q_cols: dict[str, list] = {name: [] for name in ACCURACY_QUESTIONS.names}
    read = []
    for path, label, fmt in zip(paths, labels, formats, strict=True):
        preds = read_predictions(path, label, questions, fmt, metric)
        read.append(preds)
        per_bin: dict[str, list[int]] = defaultdict(list)
        bin_info = {}
        xs, ys = [], []
        for i, prediction in sorted(preds.by_question.items()):
            correct = prediction.correct if prediction.correct is not None else \
                exact_match(prediction.text, answers[i], style)
            b = count_bin(counts[i])
            bin_info[b.label] = b
            per_bin[b.label].append(int(correct))
            if counts[i] is not None:
                xs.append(counts[i])
                ys.append(int(correct))
            for name, value in zip(ACCURACY_QUESTIONS.names, (
                    label, qids[i], sources[i], rows[i], prediction.text, correct, counts[i],
                    status[i], b.label), strict=True):
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
                label, path, preds.format, preds.lines, len(preds.by_question),
                sum(sum(h) for h in per_bin.values()), len(preds.unmatched),
                len(preds.ambiguous), len(preds.bad_lines), preds.duplicates,
                len(questions) - len(preds.by_question), rho, p, len(xs)), strict=True):
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


def series_label(label: str, bins: list[dict]) -> str:
    """A series' legend entry: its questions and the share of them without a count (in no
    bin of the x axis, so not drawn)."""
    scored = sum(r["questions"] for r in bins)
    uncounted = sum(r["questions"] for r in bins if r["bin"] == UNCOUNTED)
    share = f"{uncounted / scored:.0%}" if scored else "n/a"
    return f"{label}\nn={scored:,}, {uncounted:,} uncounted ({share}, not drawn)"


def plot_accuracy(result: AccuracyResult, path: str | Path, min_bin_size: int = 0) -> Path:
    from longtail.analysis.figures import save_png

    return save_png(accuracy_figure(result, min_bin_size), path)


def accuracy_figure(result: AccuracyResult, min_bin_size: int = 0):
    """One line per predictions file over the zero and counted bins, on a symlog x axis; the
    legend gives each series' n and share of uncounted questions."""
    from longtail.analysis.figures import new_figure

    fig, ax = new_figure()
    table = result.bins.to_pylist()
    highest = 1
    annotated: set[tuple[float, int]] = set()
    for label in result.summary["predictions"].to_pylist():
        series = series_label(label, [r for r in table if r["predictions"] == label])
        rows = [r for r in table if r["predictions"] == label and r["bin"] != UNCOUNTED]
        if not rows:  # still named in the legend
            ax.plot([], [], marker="o", linestyle="none", label=series)
            continue
        xs = [0.0 if r["bin"] == ZERO else math.sqrt(r["bin_low"] * r["bin_high"]) for r in rows]
        ys = [r["accuracy"] for r in rows]
        err = [[y - r["ci_low"] for y, r in zip(ys, rows, strict=True)],
               [r["ci_high"] - y for y, r in zip(ys, rows, strict=True)]]
        line = ax.errorbar(xs, ys, yerr=err, capsize=3, label=series)
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
    ax.legend(handles, names, loc="best", title="predictions", fontsize=8)
    return fig
