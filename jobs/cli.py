"""The `longtail` command.

Stages that need Spark import it only when they run, so `longtail annotate`, `query` and `docs`
work without it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from longtail import __version__, stage_config
from longtail.analysis.commands import register as register_analysis
from longtail.jobs.errors import run_guarded
from longtail.packaging import register as register_packaging
from longtail.serve import register as register_serve
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig
from longtail.wikipedia.options import add_build_args, add_pruning_args

EPILOG = """\
typical run:
  longtail run --corpus data/*.jsonl.gz --qa nq-open.dev.jsonl --qa-format nq-open \\
               --model MODEL --out OUT
  longtail query OUT "SELECT status, count(*) FROM relevant_docs GROUP BY status"
  longtail docs OUT <question_id>
"""


def _spark(args: argparse.Namespace, name: str):
    from longtail.jobs.session import LazySession

    return LazySession(f"longtail {name}", args.master)


def cmd_annotate(args: argparse.Namespace) -> int:
    from longtail.linking.spotlight.wire import render_annotate_json

    if args.spotlight and args.text is None and len(args.spotlight) > 1 \
            and not args.spotlight[-1].startswith(("http://", "https://")):
        args.text = args.spotlight.pop()  # `--spotlight URL... TEXT`: the list took the text
    text = args.text if args.text is not None else sys.stdin.read().removesuffix("\n")
    linker = stage_config.linker_spec(args).build()
    try:
        annotations = linker.annotate(text)
    finally:
        linker.close()
    print(render_annotate_json(text, annotations, confidence=args.confidence,
                               support=args.support, types="", sparql="", policy="whitelist"))
    return 0


def _local_model_folder(path: str) -> None:
    from longtail.errors import UsageError
    from longtail.output.storage import is_remote

    if is_remote(path):
        raise UsageError(f"a model is written to a local folder, not {path}; copy the folder "
                         "to object storage afterwards (--model takes its URI)")


def cmd_model_import(args: argparse.Namespace) -> int:
    from longtail.linking.statistical import import_wikistats

    _local_model_folder(args.out)

    report = import_wikistats(args.wikistats, args.out, progress=_stderr_progress,
                              instance_types=args.instance_types, overwrite=args.overwrite,
                              min_surface_form_count=args.min_sf_count,
                              min_context_count=args.min_token_count)
    _print_mapping("model import", {k: v for k, v in report.items()
                                    if isinstance(v, (int, float, str))})
    return 0


def cmd_model_build(args: argparse.Namespace) -> int:
    from longtail.jobs.build_model import build_model
    from longtail.wikipedia.options import build_options

    _local_model_folder(args.out)
    options = build_options(args)
    report = build_model(_spark(args, "model build"), args.wikipedia, args.out, options)
    _print_mapping("model build", {k: report[k] for k in (
        "pages", "articles", "entities", "pairs", "context_vectors", "seconds_total")
        if k in report})
    print(f"model: {args.out}  (report: {args.out}/build-report.json)")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    from longtail.corpus import resolve_inputs
    from longtail.jobs.link import run_link

    config = stage_config.from_args(CorpusConfig, args)
    resolve_inputs(config.corpus, config.corpus_format)  # wrong paths stop before Spark starts
    spec = stage_config.linker_spec(args)
    run_link(_spark(args, "link"), config, spec, args.out, overwrite=args.overwrite)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from longtail.jobs.index import run_index

    run_index(_spark(args, "index"), stage_config.from_args(IndexConfig, args), args.out)
    return 0


def cmd_qa(args: argparse.Namespace) -> int:
    from longtail.jobs.qa import run_qa
    from longtail.qa.readers import resolve_qa_paths

    config = stage_config.from_args(QAConfig, args)
    resolve_qa_paths(config.qa)
    spec = stage_config.linker_spec(args)
    run_qa(_spark(args, "qa"), config, spec, args.out, overwrite=args.overwrite)
    return 0


def cmd_count(args: argparse.Namespace) -> int:
    from longtail.jobs.count import run_count

    run_count(_spark(args, "count"), stage_config.from_args(CountConfig, args), args.out)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from longtail.corpus import resolve_inputs
    from longtail.jobs.run import run_all
    from longtail.qa.readers import resolve_qa_paths

    for config_class in (CorpusConfig, QAConfig, IndexConfig, CountConfig):
        stage_config.from_args(config_class, args)  # bad values stop before Spark starts
    resolve_inputs(args.corpus, args.corpus_format)
    resolve_qa_paths(args.qa)
    stage_config.linker_spec(args)
    run_all(_spark(args, "run"), args)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from longtail.console import print_rows, table_rows
    from longtail.output.folder import OutputFolder
    from longtail.query.database import (
        check_export_target,
        check_read_only,
        export_result,
        run_query,
    )

    out = OutputFolder(args.out_dir)
    check_read_only(args.sql)
    if args.output:
        check_export_target(args.output, out)  # a wrong --output stops before the query runs
    result = run_query(out, args.sql, allow_stale=args.allow_stale)
    if args.output:
        rows = export_result(result, args.output, out)
        print(f"{rows:,} row{'s' if rows != 1 else ''} written to {args.output}",
              file=sys.stderr)
    else:
        print_rows(result.column_names, table_rows(result),
                   args.output_format)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from longtail.query.status import print_status

    return print_status(args.out_dir)


def cmd_docs(args: argparse.Namespace) -> int:
    from longtail.query.docs_view import question_reports
    from longtail.query.printing import print_question_reports

    print_question_reports(question_reports(args.out_dir, args.question_id, args.limit))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from longtail.jobs.demo import run_demo

    run_demo(args.out, master=args.master)
    return 0


def _stderr_progress(message: str) -> None:
    print(f"[longtail] {message}", file=sys.stderr)


def _print_mapping(title: str, mapping: dict) -> None:
    width = max(len(k) for k in mapping) if mapping else 0
    print(title)
    for key, value in mapping.items():
        print(f"  {key:<{width}}  {value:,}" if isinstance(value, int) else
              f"  {key:<{width}}  {value}")


class CommandParser(argparse.ArgumentParser):
    """argparse with wrong usage as one line (the usage itself is in --help)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="longtail",
        description="Count the pretraining documents that support the fact behind each question.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"longtail {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, handler: Callable[[argparse.Namespace], int],
                parent: argparse._SubParsersAction = sub) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("annotate", "link one text and print Spotlight's /rest/annotate JSON", cmd_annotate)
    p.add_argument("text", nargs="?", metavar="TEXT", help="text to link (default: stdin)")
    stage_config.add_linker_flags(p)
    stage_config.add_storage(p)

    model = sub.add_parser("model", help="build or import the embedded linker's model",
                           description="build or import the embedded linker's model")
    model_sub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    p = command("import", "compile Spotlight wikistats files into a model folder",
                cmd_model_import, model_sub)
    p.add_argument("--wikistats", required=True, metavar="DIR",
                   help="folder with uriCounts, pairCounts, sfAndTotalCounts, tokenCounts "
                        "(plain or .bz2)")
    p.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    p.add_argument("--instance-types", metavar="TSV", default=None,
                   help="optional `URI<TAB>type,type` file giving entities their @types")
    add_pruning_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty MODEL")
    p = command("build", "build a model from Wikipedia XML dumps with Spark, as Spotlight does",
                cmd_model_build, model_sub)
    add_build_args(p)
    stage_config.add_master(p)
    from longtail.linking.statistical.fetch_command import register_fetch
    register_fetch(model_sub)

    stage_config.add_link_args(command(
        "link", "entity-link a corpus: writes docs, mentions, entity_uris, failures", cmd_link))
    stage_config.add_index_args(command(
        "index", "build entities, doc_entities and cooccurrence from mentions", cmd_index))
    stage_config.add_qa_args(command(
        "qa", "entity-link a QA dataset: writes qa_questions, qa_entities", cmd_qa))
    stage_config.add_count_args(command(
        "count", "count relevant documents per question: writes relevant_docs", cmd_count))
    stage_config.add_run_args(command("run", "link, index, qa and count in one go", cmd_run))

    p = command("query", "run one read-only SQL statement on an output folder's tables and "
                "print the result (or write it with --output)", cmd_query)
    p.add_argument("out_dir", metavar="OUT")
    p.add_argument("sql", metavar="SQL", help="one SELECT (or EXPLAIN) statement; statements "
                   "that write, attach, install or load are refused")
    p.add_argument("--output-format", choices=["table", "csv", "json"], default="table",
                   help="how to print the result (default table)")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="write the result to FILE (.csv, .parquet or .jsonl) instead of "
                        "printing it; FILE may not be inside OUT")
    p.add_argument("--allow-stale", action="store_true",
                   help="answer from tables that are stale (see `longtail status`) instead of "
                        "refusing")

    stage_config.add_storage(p)

    p = command("docs", "show the questions with an id, their winning entity pairs and their "
                "relevant documents", cmd_docs)
    p.add_argument("out_dir", metavar="OUT")
    p.add_argument("question_id", metavar="QUESTION_ID")
    p.add_argument("--limit", type=int, default=10,
                   help="documents to show per question (default 10)")
    stage_config.add_storage(p)

    p = command("status", "show each stage of an output folder: parameters, row counts, when "
                "it ran, and whether it is fresh or stale (and why)", cmd_status)
    p.add_argument("out_dir", metavar="OUT")
    stage_config.add_storage(p)

    register_analysis(sub)
    register_packaging(sub)
    register_serve(sub)

    p = command("demo", "run every stage on the bundled sample with local Spark", cmd_demo)
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    stage_config.add_master(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def handle(arguments: Sequence[str] | None) -> int:
        args = build_parser().parse_args(arguments)
        stage_config.apply_storage(args)
        return args.handler(args)

    return run_guarded(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
