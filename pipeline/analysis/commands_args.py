"""Flags and help texts of the analysis subcommands (see `longtail.analysis.commands`)."""

from __future__ import annotations

import argparse

from longtail.analysis.paper_formats import VALUE_STYLES
from longtail.analysis.predictions import DEFAULT_METRIC
from longtail.analysis.predictions import FORMATS as PREDICTION_FORMATS

BINS = ("Bins of relevant documents: 0, then [1,10), [10,100), ... (labelled 1-9,\n"
        "10-99, ...); questions without a count are 'uncounted'")

ACCURACY_HELP = "QA accuracy by number of relevant documents (Kandpal et al., Figure 1)"
ACCURACY_DESCRIPTION = f"""\
{ACCURACY_HELP}.

A predictions file is either JSON Lines of {{"question_id": ..., "prediction": ...}} (or
"row", with "source" when the output folder holds several QA files), or lm-evaluation-harness
--log_samples output (samples_<task>_<date>.jsonl), told apart by its first line
(--predictions-format to force). Our lines are correct when the prediction equals one answer
alias after normalisation (lower case, punctuation, articles a/an/the, whitespace); harness
samples are matched by the id in their doc, else by question text and answers, and their
correctness is the harness's own metric (--metric, default exact_match). Questions are keyed
by QA file and row: an id shared by several questions is ambiguous, and such lines are
counted and skipped. Unmatched and unreadable lines are reported and skipped.
{BINS}.
Writes OUT/accuracy, OUT/accuracy_summary (with Spearman's rho between count and
correctness) and OUT/accuracy_questions.

example:
  longtail analyze accuracy OUT --predictions bloom.jsonl gpt-j.jsonl --min-bin-size 20 \\
      --plot accuracy.png"""

COMPARE_HELP = "the same questions counted over several corpora: correlations and disagreements"
COMPARE_DESCRIPTION = f"""\
{COMPARE_HELP}.

Matches the questions of the output folders by their QA file's content (sha256) and row, so
the same file at another path still matches; folders counted over different QA files are
refused unless --match-on question-text. For every pair of corpora, over the questions both
counted (zero included): Spearman's rho and Pearson's r on log(1 + relevant documents),
questions with zero in one and not the other, and the largest disagreements, with counts per
million documents of each corpus. Folders may be local or in object storage.

example:
  longtail compare c4-out/ pile-out/ s3://bucket/wiki-out --names c4 pile wikipedia \\
      --output counts.parquet --plot compare.png"""

COUNTERFACTUAL_HELP = "write the corpus without the relevant documents of sampled questions"
COUNTERFACTUAL_DESCRIPTION = f"""\
{COUNTERFACTUAL_HELP}.

Draws N counted questions per bin of relevant documents (seeded: the same seed picks the same
questions), removes every document holding both entities of their winning pair, and writes
the rest of the corpus in its own format and order (Hugging Face dataset folders keep their
state.json and dataset_info.json). Reports the share of documents and characters removed.
Writes OUT/counterfactual_questions and OUT/counterfactual_removed.
{BINS}.

example:
  longtail counterfactual OUT --per-bin 100 --seed 0 --write-corpus corpus-without-facts/"""

DUPLICATES_HELP = "exact and near-duplicate documents, and relevant documents per cluster"
DUPLICATES_DESCRIPTION = f"""\
{DUPLICATES_HELP}.

Reads the corpus texts back. Exact duplicates share the hash of their normalised text (lower
case, whitespace collapsed); near duplicates are found with MinHash LSH over word shingles.
Writes OUT/duplicates (doc_id, cluster_id, kind) and, when relevant_docs exists,
OUT/relevant_docs_unique (relevant documents counted once per cluster).

example:
  longtail duplicates OUT --threshold 0.8 --num-perm 128 --shingle 5"""

EXPOSURE_HELP = "where in corpus order each fact's relevant documents come, and the gaps"
EXPOSURE_DESCRIPTION = f"""\
{EXPOSURE_HELP}.

Positions are 0-based indices in corpus order (input files in order, then rows). With a step
size, positions become training steps: --docs-per-step N, or --tokens-per-step T with tokens
estimated as characters x --tokens-per-char. Writes OUT/exposure.

example:
  longtail exposure OUT --tokens-per-step 4000000 --tokens-per-char 0.25 --plot gaps.png"""

REPORT_HELP = "write one self-contained HTML page about an output folder"
REPORT_DESCRIPTION = f"""\
{REPORT_HELP}.

The page opens offline from the file (styles, script, plots and data inside it; it makes no
request): the run (stages, inputs, parameters, times, rows, freshness), linking coverage,
failures by reason, relevant documents per question on log bins, accuracy by count bins with
--predictions (as `analyze accuracy` reads them), the most frequent entities, and a question
explorer: type part of a question to see its linked entities, winning pair, count and a few
relevant documents with the two entities marked. Documents are embedded for
--doc-questions questions (drawn from every bin of counts), so the page stays a few
megabytes for 100,000 questions.

example:
  longtail report OUT --predictions samples_triviaqa_2024-05-01.jsonl --html report.html"""

LONGTAIL_HELP = "write the long-tail QA pairs (at most K relevant documents) as JSON Lines"
LONGTAIL_DESCRIPTION = f"""\
{LONGTAIL_HELP}.

Writes the questions with a count (zero included) of at most K relevant documents as
{{question_id, question, answers, relevant_docs, q_uri, a_uri, status}}. Questions without a
count are left out unless --include-uncounted. With --mix, also writes REMIX-style mixing
data: random word sequences from the corpus vocabulary, or generic corpus documents that
mention none of the written facts' entities. Writes OUT/longtail_set.

example:
  longtail export longtail OUT --max-docs 10 --out facts.jsonl \\
      --mix generic --ratio 1 --mix-out mix.jsonl --seed 0"""

EXPORT_PAPER_HELP = "write the entity map (.npz) and QA entity file of Kandpal et al."
EXPORT_PAPER_DESCRIPTION = f"""\
{EXPORT_PAPER_HELP}.

The entity map holds, per DBpedia URI, an int32 array of the corpus positions of the
documents that mention it; the QA entity file has line i for QA row i with "q_entities" and
"a_entities" (Spotlight resources, offsets in UTF-16 units).

example:
  longtail export paper OUT --entity-map c4_entity_map.npz --qa-entities nq_entities.jsonl"""

IMPORT_PAPER_HELP = "read Kandpal et al.'s entity map and QA entity files into an output folder"
IMPORT_PAPER_DESCRIPTION = f"""\
{IMPORT_PAPER_HELP}.

Writes docs, doc_entities, entity_uris, entities, failures and (with --qa-entities and --qa)
qa_questions and qa_entities, so `longtail count` gives the paper's counts. Document index i
becomes doc_id i; the texts are not in the archive, so n_chars is 0.

example:
  longtail import paper --entity-map c4_entity_map.npz \\
      --qa-entities nq_validation_entities.jsonl --qa NQ-open.dev.jsonl --qa-format nq-open \\
      --out OUT"""


def _out_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT", help="output folder of a longtail run")


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def compare(p: argparse.ArgumentParser) -> None:
    from longtail.stage_config import add_storage

    p.add_argument("out_dirs", nargs="+", metavar="OUT", help="output folders of longtail runs "
                   "(two or more; local paths or URIs such as s3://bucket/prefix)")
    p.add_argument("--names", nargs="+", metavar="NAME",
                   help="a corpus name per folder, for the tables and the plot "
                        "(default: folder names)")
    p.add_argument("--match-on", choices=("qa-content", "question-text"), default="qa-content",
                   help="match questions by QA file content and row (default), or by "
                        "question text when the folders read different QA files")
    p.add_argument("--output", metavar="FILE",
                   help="write the per-question table (.parquet or .csv), one column per corpus")
    p.add_argument("--plot", metavar="PNG", help="write a scatter matrix on log axes here")
    add_storage(p)


def report(p: argparse.ArgumentParser) -> None:
    from longtail.report.explorer import DOC_QUESTIONS, DOCS_PER_QUESTION

    _out_dir(p)
    p.add_argument("--html", required=True, metavar="FILE.html", help="the page to write")
    p.add_argument("--predictions", nargs="+", metavar="FILE",
                   help="predictions files for the accuracy section (our JSON Lines or "
                        "lm-evaluation-harness --log_samples files)")
    p.add_argument("--labels", nargs="+", metavar="NAME", help="a name per predictions file")
    p.add_argument("--predictions-format", choices=PREDICTION_FORMATS, default=None,
                   help="the files' format (default: detected)")
    p.add_argument("--metric", default=DEFAULT_METRIC, metavar="NAME",
                   help=f"the lm-eval sample field holding correctness (default {DEFAULT_METRIC})")
    p.add_argument("--doc-questions", type=_non_negative, default=DOC_QUESTIONS, metavar="N",
                   help=f"questions whose relevant documents are embedded (default "
                        f"{DOC_QUESTIONS:,}; 0: none)")
    p.add_argument("--docs-per-question", type=_non_negative, default=DOCS_PER_QUESTION,
                   metavar="N", help=f"documents shown per question (default {DOCS_PER_QUESTION})")


def export_paper(p: argparse.ArgumentParser) -> None:
    _out_dir(p)
    p.add_argument("--entity-map", metavar="NPZ", help="entity map file to write (.npz)")
    p.add_argument("--qa-entities", metavar="JSONL", help="QA entity file to write")
    p.add_argument("--qa-source", metavar="PATH",
                   help="which QA file, when the output folder holds several")
    p.add_argument("--values", choices=VALUE_STYLES, default="pyspotlight",
                   help="pyspotlight: numbers as numbers, as in the released files (default); "
                        "spotlight: every value a string, as the REST API sends it")


