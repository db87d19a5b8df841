"""Tables the analyses write under OUT/<name>/ (see pipeline/analysis).

Bins of relevant documents are labelled "0", "1-9", "10-99", ...: a count n >= 1 falls in
[10^k, 10^(k+1)) with k = digits(n) - 1; `bin_low` is inclusive, `bin_high` exclusive. Questions
without a count (no question entity, no answer entity, linking failed, not counted) are in the
bin "uncounted" with both bounds null.
"""

from __future__ import annotations

import pyarrow as pa

# One row per (predictions file, bin).
ACCURACY = pa.schema(
    [
        pa.field("predictions", pa.string(), nullable=False),
        pa.field("bin", pa.string(), nullable=False),
        pa.field("bin_low", pa.int64()),
        pa.field("bin_high", pa.int64()),
        pa.field("questions", pa.int64(), nullable=False),
        pa.field("correct", pa.int64(), nullable=False),
        pa.field("accuracy", pa.float64(), nullable=False),
        pa.field("ci_low", pa.float64(), nullable=False),
        pa.field("ci_high", pa.float64(), nullable=False),
        # fewer questions than --min-bin-size: shown, but not to be read as a trend
        pa.field("small", pa.bool_(), nullable=False),
    ]
)

# One row per predictions file: what matched, and Spearman's rho between count and correctness.
# format: "jsonl" or "lm-eval"; unmatched: lines matching no question; ambiguous: lines whose
# id names several questions (and, for lm-eval samples, whose text and answers do not tell).
ACCURACY_SUMMARY = pa.schema(
    [
        pa.field("predictions", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("lines", pa.int64(), nullable=False),
        pa.field("scored", pa.int64(), nullable=False),
        pa.field("correct", pa.int64(), nullable=False),
        pa.field("unmatched", pa.int64(), nullable=False),
        pa.field("ambiguous", pa.int64(), nullable=False),
        pa.field("bad_lines", pa.int64(), nullable=False),
        pa.field("duplicates", pa.int64(), nullable=False),
        pa.field("missing", pa.int64(), nullable=False),
        pa.field("spearman_rho", pa.float64()),
        pa.field("spearman_p", pa.float64()),
        pa.field("spearman_n", pa.int64(), nullable=False),
    ]
)

# One row per (predictions file, scored question); a question is (source, row).
ACCURACY_QUESTIONS = pa.schema(
    [
        pa.field("predictions", pa.string(), nullable=False),
        pa.field("question_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("prediction", pa.string(), nullable=False),
        pa.field("correct", pa.bool_(), nullable=False),
        pa.field("relevant_docs", pa.int64()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("bin", pa.string(), nullable=False),
    ]
)

# The questions whose relevant documents a counterfactual corpus leaves out.
COUNTERFACTUAL_QUESTIONS = pa.schema(
    [
        pa.field("question_id", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("answers", pa.list_(pa.string()), nullable=False),
        pa.field("q_uri", pa.string(), nullable=False),
        pa.field("a_uri", pa.string(), nullable=False),
        pa.field("relevant_docs", pa.int64(), nullable=False),
        pa.field("bin", pa.string(), nullable=False),
    ]
)

# Documents left out of the counterfactual corpus; `questions`: chosen questions they support.
COUNTERFACTUAL_REMOVED = pa.schema(
    [
        pa.field("doc_id", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("questions", pa.int32(), nullable=False),
    ]
)

# Documents in a duplicate cluster (2+ documents); documents in no cluster are not listed.
# cluster_id is the smallest doc_id of the cluster. kind is "exact" when another document of
# the cluster has the same normalised text, else "near" (MinHash LSH over word shingles).
DUPLICATES = pa.schema(
    [
        pa.field("doc_id", pa.int64(), nullable=False),
        pa.field("cluster_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
    ]
)

# Questions with a count (status counted or zero), keyed by (source, row) as ids may repeat:
# relevant documents, and how many distinct duplicate clusters they make (a document in no
# cluster is its own).
RELEVANT_DOCS_UNIQUE = pa.schema(
    [
        pa.field("question_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("relevant_docs", pa.int64(), nullable=False),
        pa.field("relevant_docs_unique", pa.int64(), nullable=False),
    ]
)

# Where in the training stream each counted question's relevant documents come. Positions are
# 0-based indices in corpus order (input files in order, rows in order, unreadable rows too).
# Steps are null unless a per-step size was given.
EXPOSURE = pa.schema(
    [
        pa.field("question_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("relevant_docs", pa.int64(), nullable=False),
        pa.field("positions", pa.list_(pa.int64()), nullable=False),
        pa.field("first_position", pa.int64(), nullable=False),
        pa.field("last_position", pa.int64(), nullable=False),
        pa.field("position_gaps", pa.list_(pa.int64()), nullable=False),
        pa.field("steps", pa.list_(pa.int64())),
        pa.field("first_step", pa.int64()),
        pa.field("last_step", pa.int64()),
        pa.field("step_gaps", pa.list_(pa.int64())),
    ]
)

# The QA pairs `longtail export longtail` wrote, with the threshold they passed.
LONGTAIL_SET = pa.schema(
    [
        pa.field("question_id", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("answers", pa.list_(pa.string()), nullable=False),
        pa.field("relevant_docs", pa.int64()),
        pa.field("q_uri", pa.string()),
        pa.field("a_uri", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("max_docs", pa.int64(), nullable=False),
    ]
)

# Table name -> schema, for every table an analysis writes as Parquet under OUT/<name>/.
ANALYSIS_TABLES: dict[str, pa.Schema] = {
    "accuracy": ACCURACY,
    "accuracy_summary": ACCURACY_SUMMARY,
    "accuracy_questions": ACCURACY_QUESTIONS,
    "counterfactual_questions": COUNTERFACTUAL_QUESTIONS,
    "counterfactual_removed": COUNTERFACTUAL_REMOVED,
    "duplicates": DUPLICATES,
    "relevant_docs_unique": RELEVANT_DOCS_UNIQUE,
    "exposure": EXPOSURE,
    "longtail_set": LONGTAIL_SET,
}
