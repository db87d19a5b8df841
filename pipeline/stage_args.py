"""Flags of each pipeline stage, shared by the `longtail` CLI and the spark-submit job scripts."""

from __future__ import annotations

import argparse

from longtail.linking.spec import KANDPAL_CONFIDENCE, KANDPAL_SUPPORT, LinkerSpec
from longtail.qa.readers import FORMATS as QA_FORMATS

DEFAULT_ROWS_PER_SHARD = 20_000
DEFAULT_QA_ROWS_PER_SHARD = 2_000
DEFAULT_MAX_ENTITIES_PER_DOC = 100
DEFAULT_MIN_COOCCURRENCE = 2


def add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="OUT",
                        help="output folder (created if missing; shared by every stage)")


def add_master(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--master", default=None,
                        help="Spark master URL (default: spark-submit's, else local[*])")


def add_linker(parser: argparse.ArgumentParser, required: bool = True) -> None:
    group = parser.add_argument_group("linker (exactly one of --model / --spotlight)")
    which = group.add_mutually_exclusive_group(required=required)
    which.add_argument("--model", metavar="DIR", help="embedded linker model folder")
    which.add_argument("--spotlight", nargs="+", metavar="URL",
                       help="DBpedia Spotlight endpoint(s), e.g. http://127.0.0.1:2222/rest")
    group.add_argument("--confidence", type=float, default=0.5,
                       help=f"Spotlight confidence (default 0.5; Kandpal et al.: "
                            f"{KANDPAL_CONFIDENCE})")
    group.add_argument("--support", type=int, default=0,
                       help=f"keep entities with support > S (default 0; Kandpal et al.: "
                            f"{KANDPAL_SUPPORT})")
    group.add_argument("--max-in-flight", type=int, default=5,
                       help="concurrent requests per Spotlight endpoint per process (default 5)")
    group.add_argument("--timeout", type=float, default=60.0,
                       help="seconds to wait for one Spotlight response (default 60)")


def linker_spec(args: argparse.Namespace) -> LinkerSpec:
    return LinkerSpec(
        model=args.model,
        spotlight=tuple(args.spotlight or ()),
        confidence=args.confidence,
        support=args.support,
        max_in_flight=args.max_in_flight,
        timeout=args.timeout,
    )


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="redo the stage from scratch instead of resuming finished shards")


def _add_corpus_inputs(group, format_flag: str) -> None:
    group.add_argument("--corpus", nargs="+", required=True, metavar="PATH",
                       help="corpus files, folders or globs (jsonl[.gz|.zst], parquet, a folder "
                            "of .txt files, a saved Hugging Face dataset)")
    group.add_argument(format_flag, dest="corpus_format", default=None,
                       help="corpus format when the extension does not say "
                            "(jsonl, parquet, text, arrow)")
    group.add_argument("--text-field", default="text",
                       help="field holding the text (default text)")
    group.add_argument("--id-field", default=None,
                       help="optional field holding the document's own id (dotted paths work)")
    group.add_argument("--rows-per-shard", type=int, default=DEFAULT_ROWS_PER_SHARD,
                       help=f"documents per shard (default {DEFAULT_ROWS_PER_SHARD})")


def _add_qa_inputs(group, format_flag: str, rows_flag: str) -> None:
    group.add_argument("--qa", nargs="+", required=True, metavar="PATH",
                       help="QA files, folders or globs")
    group.add_argument(format_flag, dest="qa_format", required=True, choices=QA_FORMATS,
                       help="QA file format")
    group.add_argument("--question-field", default="question",
                       help="question field for the jsonl format (default question)")
    group.add_argument("--answers-field", default="answer",
                       help="answers field for the jsonl format (default answer)")
    group.add_argument(rows_flag, dest="qa_rows_per_shard", type=int,
                       default=DEFAULT_QA_ROWS_PER_SHARD,
                       help=f"QA pairs per shard (default {DEFAULT_QA_ROWS_PER_SHARD})")


def _add_index_options(group) -> None:
    group.add_argument("--min-cooccurrence", type=int, default=DEFAULT_MIN_COOCCURRENCE,
                       help="keep entity pairs seen in at least N documents "
                            f"(default {DEFAULT_MIN_COOCCURRENCE})")
    group.add_argument("--max-entities-per-doc", type=int, default=DEFAULT_MAX_ENTITIES_PER_DOC,
                       help="pairs are formed from at most K entities per document, the most "
                            "mentioned first; capped documents are counted in the manifest "
                            f"(default {DEFAULT_MAX_ENTITIES_PER_DOC}; 0 = no cap)")


def _add_count_options(group) -> None:
    group.add_argument("--exclude-countries", action="store_true",
                       help="ignore question entities that are countries")
    group.add_argument("--countries", metavar="FILE", default=None,
                       help="country list for --exclude-countries, one URI or name per line "
                            "(default: the built-in list of sovereign states)")


def _add_common(parser: argparse.ArgumentParser, linker: bool, overwrite: bool) -> None:
    if linker:
        add_linker(parser)
    add_out(parser)
    if overwrite:
        add_overwrite(parser)
    add_master(parser)


def add_link_args(parser: argparse.ArgumentParser) -> None:
    _add_corpus_inputs(parser, "--format")
    _add_common(parser, linker=True, overwrite=True)


def add_index_args(parser: argparse.ArgumentParser) -> None:
    _add_index_options(parser)
    _add_common(parser, linker=False, overwrite=False)


def add_qa_args(parser: argparse.ArgumentParser) -> None:
    _add_qa_inputs(parser, "--format", "--rows-per-shard")
    _add_common(parser, linker=True, overwrite=True)


def add_count_args(parser: argparse.ArgumentParser) -> None:
    _add_count_options(parser)
    _add_common(parser, linker=False, overwrite=False)


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """`longtail run`: every stage's flags, with the two input formats named apart."""
    _add_corpus_inputs(parser.add_argument_group("corpus"), "--corpus-format")
    _add_qa_inputs(parser.add_argument_group("QA dataset"), "--qa-format",
                   "--qa-rows-per-shard")
    index = parser.add_argument_group("index and count")
    _add_index_options(index)
    _add_count_options(index)
    _add_common(parser, linker=True, overwrite=True)
