"""Each stage's configuration: one dataclass per stage, the one place its defaults live.

A config object builds the stage's command-line flags (for the `longtail` commands and the
spark-submit job scripts alike, so `longtail qa` and `longtail run` spell every flag the same
way), checks their values, and is what the stage records as its parameters.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from longtail.corpus.preflight import DEFAULT_MAX_FAILED_SHARE, check_max_failed_share
from longtail.corpus.shards import parse_byte_size
from longtail.errors import UsageError
from longtail.linking.spec import KANDPAL_CONFIDENCE, KANDPAL_SUPPORT, LinkerSpec
from longtail.qa.readers import FORMATS as QA_FORMATS


def option(default: Any, *flags: str, help: str, input: bool = False, output: bool = False,
           **argparse_options: Any):
    """A config field with its default and its command-line flag(s). `input`: the field names
    files the stage reads from outside OUT (recorded with their fingerprints, not as a
    parameter); `output`: it only says where to write or what to print, so it is not part of
    what the stage's tables depend on."""
    return field(default=default, metadata={"flags": flags, "help": help, "input": input,
                                             "output": output, **argparse_options})


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def add_flags(group, config_class: type, skip: tuple[str, ...] = ()) -> None:
    """Add a flag for every field of `config_class` that declares one (a flag that several
    configs share, in `longtail run`, once)."""
    for f in fields(config_class):
        meta = dict(f.metadata)
        if "flags" not in meta or f.name in skip or any(
                flag in group._option_string_actions for flag in meta["flags"]):
            continue
        flags = meta.pop("flags")
        text = meta.pop("help")
        meta.pop("input")
        meta.pop("output")
        if f.default not in (MISSING, None, (), "") and meta.get("action") is None \
                and not meta.get("required"):
            text += f" (default {f.default})"
        if f.default is not MISSING:
            meta["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
        group.add_argument(*flags, dest=f.name, help=text, **meta)


def from_args(config_class: type, args: argparse.Namespace, **extra: Any):
    """An instance of `config_class` from parsed flags (fields without a flag from `extra`)."""
    values = {}
    for f in fields(config_class):
        if f.name in extra:
            values[f.name] = extra[f.name]
        elif hasattr(args, f.name):
            value = getattr(args, f.name)
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return config_class(**values)


def parameters(config: Any) -> dict:
    """A config as the plain JSON a stage records: its fields, but the ones naming inputs
    (recorded as inputs) and outputs."""
    found = {}
    for f in fields(config):
        if f.metadata.get("input") or f.metadata.get("output"):
            continue
        value = getattr(config, f.name)
        found[f.name] = list(value) if isinstance(value, tuple) else value
    return found


def input_files(config: Any) -> dict[str, list[str]]:
    """The fields of a config that name input files, as lists of locations."""
    found = {}
    for f in fields(config):
        if f.metadata.get("input"):
            value = getattr(config, f.name)
            if value:
                found[f.name] = [value] if isinstance(value, str) else list(value)
    return found


def _at_least(name: str, value: int, least: int) -> None:
    if value < least:
        raise UsageError(f"{name} must be at least {least}, got {value}")


# -- linker ------------------------------------------------------------------------------


def add_linker_flags(parser: argparse.ArgumentParser, required: bool = True) -> None:
    group = parser.add_argument_group("linker (exactly one of --model / --spotlight)")
    which = group.add_mutually_exclusive_group(required=required)
    which.add_argument("--model", metavar="DIR", help="embedded linker model folder")
    which.add_argument("--spotlight", nargs="+", metavar="URL",
                       help="DBpedia Spotlight endpoint(s), e.g. http://127.0.0.1:2222/rest")
    defaults = LinkerSpec.__dataclass_fields__
    group.add_argument("--confidence", type=float, default=defaults["confidence"].default,
                       help=f"Spotlight confidence (default {defaults['confidence'].default}; "
                            f"Kandpal et al.: {KANDPAL_CONFIDENCE})")
    group.add_argument("--support", type=int, default=defaults["support"].default,
                       help=f"keep entities with support > S (default "
                            f"{defaults['support'].default}; Kandpal et al.: {KANDPAL_SUPPORT})")
    group.add_argument("--max-in-flight", type=int, default=defaults["max_in_flight"].default,
                       help="concurrent requests per Spotlight endpoint per process "
                            f"(default {defaults['max_in_flight'].default})")
    group.add_argument("--timeout", type=float, default=defaults["timeout"].default,
                       help="seconds to wait for one Spotlight response "
                            f"(default {defaults['timeout'].default:g})")


def linker_spec(args: argparse.Namespace) -> LinkerSpec:
    return LinkerSpec(model=args.model, spotlight=tuple(args.spotlight or ()),
                      confidence=args.confidence, support=args.support,
                      max_in_flight=args.max_in_flight, timeout=args.timeout)


# -- stages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusConfig:
    """What the link stage reads and how it cuts it into shards."""

    corpus: tuple[str, ...] = option(
        (), "--corpus", nargs="+", required=True, metavar="PATH", input=True,
        help="corpus files, folders or globs (jsonl[.gz|.zst], parquet, a folder of .txt "
             "files, a saved Hugging Face dataset)")
    corpus_format: str | None = option(
        None, "--corpus-format", help="corpus format when the extension does not say "
                                      "(jsonl, parquet, text, arrow)")
    text_field: str = option("text", "--text-field", help="field holding the text")
    id_field: str | None = option(
        None, "--id-field", help="optional field holding the document's own id (dotted paths "
                                 "work)")
    rows_per_shard: int | None = option(
        None, "--rows-per-shard", type=int,
        help="at most this many documents per shard (default: no limit, shards are cut by "
             "--shard-bytes)")
    shard_bytes: int = option(
        64 << 20, "--shard-bytes", type=parse_byte_size, metavar="SIZE",
        help="input bytes per shard, e.g. 64MiB or 1GB; lowered so that every core gets "
             "a shard")

    max_failed_share: float = option(
        DEFAULT_MAX_FAILED_SHARE, "--max-failed-share", type=float, metavar="SHARE",
        output=True, help="stop before any work when more than this share of a file's "
                          "records cannot be read (a sample of each corpus file; every QA "
                          "record)")

    def __post_init__(self) -> None:
        check_max_failed_share(self.max_failed_share)
        if self.rows_per_shard is not None:
            _at_least("--rows-per-shard", self.rows_per_shard, 1)
        _at_least("--shard-bytes", self.shard_bytes, 1)


@dataclass(frozen=True)
class QAConfig:
    """What the qa stage reads and how."""

    qa: tuple[str, ...] = option((), "--qa", nargs="+", required=True, metavar="PATH",
                                 input=True, help="QA files, folders or globs")
    qa_format: str = option("", "--qa-format", required=True, choices=QA_FORMATS,
                            help="QA file format")
    question_field: str = option("question", "--question-field",
                                 help="question field for the jsonl format")
    answers_field: str = option("answer", "--answers-field",
                                help="answers field for the jsonl format")
    dedupe_answers: bool = option(
        False, "--dedupe-answers", action="store_true",
        help="link each distinct answer alias once (the paper's code links them as given)")
    qa_rows_per_shard: int = option(2_000, "--qa-rows-per-shard", type=int,
                                    help="QA pairs per shard")
    max_failed_share: float = option(
        DEFAULT_MAX_FAILED_SHARE, "--max-failed-share", type=float, metavar="SHARE",
        output=True, help="stop before any work when more than this share of a QA file's "
                          "records cannot be read")

    def __post_init__(self) -> None:
        check_max_failed_share(self.max_failed_share)
        _at_least("--qa-rows-per-shard", self.qa_rows_per_shard, 1)
        if self.qa_format not in QA_FORMATS:
            raise UsageError(f"unknown QA format {self.qa_format!r}; choose one of: "
                             f"{', '.join(QA_FORMATS)}")


@dataclass(frozen=True)
class IndexConfig:
    min_cooccurrence: int = option(2, "--min-cooccurrence", type=int,
                                   help="keep entity pairs seen in at least N documents")
    max_entities_per_doc: int = option(
        100, "--max-entities-per-doc", type=int,
        help="pairs are formed from at most K entities per document, the most mentioned "
             "first; capped documents are counted in the manifest (0 = no cap)")

    def __post_init__(self) -> None:
        _at_least("--min-cooccurrence", self.min_cooccurrence, 1)
        if self.max_entities_per_doc < 0:
            raise UsageError("--max-entities-per-doc must be 0 (no cap) or more")


@dataclass(frozen=True)
class CountConfig:
    exclude_countries: bool = option(False, "--exclude-countries", action="store_true",
                                     help="ignore question entities that are countries")
    countries: str | None = option(
        None, "--countries", metavar="FILE", input=True,
        help="country list for --exclude-countries, one URI or name per line (default: the "
             "built-in list of sovereign states)")
    allow_mixed_linkers: bool = option(
        False, "--allow-mixed-linkers", action="store_true",
        help="count a corpus and a QA set linked with different linker settings (refused "
             "otherwise; the count's record says what differed)")


# -- argument parsers ---------------------------------------------------------------------


def add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="OUT",
                        help="output folder (created if missing; shared by every stage): a "
                             "local path or a URI such as s3://bucket/prefix")
    add_storage(parser)


def add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--s3-endpoint", metavar="URL", default=None,
                        help="endpoint of an S3-compatible store for s3:// paths (default: "
                             "AWS_ENDPOINT_URL, else AWS itself); credentials come from the "
                             "standard AWS chain (environment, profile, instance role)")


def apply_storage(args: argparse.Namespace) -> None:
    """Make `--s3-endpoint` the endpoint of this process and of the Spark executors it starts
    (they read AWS_ENDPOINT_URL through spark.executorEnv)."""
    endpoint = getattr(args, "s3_endpoint", None)
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint


def add_master(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--master", default=None,
                        help="Spark master URL (default: spark-submit's, else local[*])")
    parser.add_argument("--verbose", action="store_true",
                        help="show Spark's own log (INFO) on the console; by default only "
                             "its warnings and errors, and longtail's progress")


def apply_verbose(args: argparse.Namespace) -> None:
    if getattr(args, "verbose", False):
        os.environ["LONGTAIL_VERBOSE"] = "1"


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="redo the stage from scratch instead of resuming finished shards")
