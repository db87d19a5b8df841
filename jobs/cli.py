"""The `longtail` command.

Stages that need Spark import it only when they run, so `longtail annotate`, `query` and `docs`
work without it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from longtail import __version__, stage_args
from longtail.analysis.commands import register as register_analysis
from longtail.errors import UsageError
from longtail.packaging import register as register_packaging
from longtail.serve import register as register_serve
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
    linker = stage_args.linker_spec(args).build()
    try:
        annotations = linker.annotate(text)
    finally:
        linker.close()
    print(render_annotate_json(text, annotations, confidence=args.confidence,
                               support=args.support, types="", sparql="", policy="whitelist"))
    return 0


def cmd_model_import(args: argparse.Namespace) -> int:
    from longtail.linking.statistical import import_wikistats

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

    spec = stage_args.linker_spec(args)
    resolve_inputs(args.corpus, args.corpus_format)  # wrong paths stop before Spark starts
    run_link(_spark(args, "link"), args.corpus, spec, args.out,
             corpus_format=args.corpus_format, text_field=args.text_field,
             id_field=args.id_field, rows_per_shard=args.rows_per_shard,
             overwrite=args.overwrite)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from longtail.jobs.index import run_index

    run_index(_spark(args, "index"), args.out, min_cooccurrence=args.min_cooccurrence,
              max_entities_per_doc=args.max_entities_per_doc)
    return 0


def cmd_qa(args: argparse.Namespace) -> int:
    from longtail.jobs.qa import run_qa
    from longtail.qa.readers import resolve_qa_paths

    spec = stage_args.linker_spec(args)
    resolve_qa_paths(args.qa)
    run_qa(_spark(args, "qa"), args.qa, args.qa_format, spec, args.out,
           question_field=args.question_field, answers_field=args.answers_field,
           rows_per_shard=args.qa_rows_per_shard, overwrite=args.overwrite)
    return 0


def cmd_count(args: argparse.Namespace) -> int:
    from longtail.jobs.count import run_count

    run_count(_spark(args, "count"), args.out, exclude_countries=args.exclude_countries,
              countries=args.countries)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from longtail.corpus import resolve_inputs
    from longtail.jobs.run import run_all
    from longtail.qa.readers import resolve_qa_paths

    stage_args.linker_spec(args)
    resolve_inputs(args.corpus, args.corpus_format)
    resolve_qa_paths(args.qa)
    run_all(_spark(args, "run"), args)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from longtail.query.database import run_query
    from longtail.query.printing import print_rows

    columns, rows = run_query(args.out_dir, args.sql)
    print_rows(columns, rows, args.output_format)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from longtail.query.docs_view import question_report
    from longtail.query.printing import print_question_report

    print_question_report(question_report(args.out_dir, args.question_id, args.limit))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    stage_args.add_linker(p)

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
    stage_args.add_master(p)

    stage_args.add_link_args(command(
        "link", "entity-link a corpus: writes docs, mentions, entity_uris, failures", cmd_link))
    stage_args.add_index_args(command(
        "index", "build entities, doc_entities and cooccurrence from mentions", cmd_index))
    stage_args.add_qa_args(command(
        "qa", "entity-link a QA dataset: writes qa_questions, qa_entities", cmd_qa))
    stage_args.add_count_args(command(
        "count", "count relevant documents per question: writes relevant_docs", cmd_count))
    stage_args.add_run_args(command("run", "link, index, qa and count in one go", cmd_run))

    p = command("query", "run SQL on an output folder's DuckDB views and print the result",
                cmd_query)
    p.add_argument("out_dir", metavar="OUT")
    p.add_argument("sql", metavar="SQL")
    p.add_argument("--output-format", choices=["table", "csv", "json"], default="table")

    p = command("docs", "show a question, its winning entity pair and its relevant documents",
                cmd_docs)
    p.add_argument("out_dir", metavar="OUT")
    p.add_argument("question_id", metavar="QUESTION_ID")
    p.add_argument("--limit", type=int, default=10, help="documents to show (default 10)")

    register_analysis(sub)
    register_packaging(sub)
    register_serve(sub)

    p = command("demo", "run every stage on the bundled sample with local Spark", cmd_demo)
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    stage_args.add_master(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as err:
        print(f"longtail: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("longtail: interrupted; finished shards are kept, run again to resume",
              file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - last line of defence: name the known causes
        hint = _known_cause(err)
        if hint is None:
            raise
        print(f"longtail: error: {hint}", file=sys.stderr)
        return 1


def _known_cause(err: Exception) -> str | None:
    """One line for failures a user can act on, also when Spark wraps them in its own error."""
    text = f"{type(err).__name__}: {err}"
    for line in text.splitlines():
        if "EndpointsUnreachable: " in line:
            return line.split("EndpointsUnreachable: ", 1)[1].strip()
    if "JAVA_GATEWAY_EXITED" in text or "Java gateway process exited" in text:
        java = os.environ.get("JAVA_HOME", "java on PATH")
        return f"Spark could not start Java ({java}); install a Java 17 runtime"
    return None


if __name__ == "__main__":
    sys.exit(main())
