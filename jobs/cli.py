"""The `longtail` command: one subcommand per registered stage, plus the commands around them.

Stage subcommands, their flags and `longtail run` come from the stage registry
(`longtail.stages`). The same parser serves spark-submit (`jobs/submit.py`). Stages that need
Spark start it only when they run, so `longtail annotate`, `query`, `status` and wrong usage
work without it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from longtail import __version__, stage_config, stages
from longtail.analysis.commands import register as register_analysis
from longtail.jobs.errors import run_guarded
from longtail.linking.statistical.fetch_command import register_fetch
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
GROUPS = {"analyze": "analyses of the counts against model results",
          "export": "write counts in other formats",
          "import": "read counts from other formats",
          "model": "build, import or fetch the embedded linker's model"}
OUT_HELP = "output folder of a longtail run"


def _spark(args: argparse.Namespace, name: str):
    from longtail.jobs.session import LazySession

    return LazySession(f"longtail {name}", getattr(args, "master", None))


def _linker(stage: stages.Stage, args: argparse.Namespace):
    """The stage's linker, made (and its model checked) after its inputs are checked."""
    return (lambda: stage_config.linker_spec(args)) if stage.linker else None


def cmd_stage(stage: stages.Stage, args: argparse.Namespace) -> int:
    from longtail.output.context import Planned, run_stages
    from longtail.output.folder import OutputFolder

    config = stage_config.from_args(stage.config, args)
    out = OutputFolder(args.out_dir if stage.out_positional else args.out)
    run_stages([Planned(stage, config, _linker(stage, args))], out,
               spark=_spark(args, stage.name) if stage.spark else None,
               overwrite=getattr(args, "overwrite", False), require_reads=True)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from longtail.output.context import Planned, run_stages
    from longtail.output.folder import OutputFolder

    planned = [Planned(stage, stage_config.from_args(stage.config, args), _linker(stage, args))
               for stage in stages.run_order()]
    run_stages(planned, OutputFolder(args.out), spark=_spark(args, "run"),
               overwrite=args.overwrite, skip_up_to_date=True)
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from longtail.linking.spotlight.wire import render_annotate_json

    if args.spotlight and args.text is None and len(args.spotlight) > 1 \
            and not args.spotlight[-1].startswith(("http://", "https://")):
        args.text = args.spotlight.pop()  # `--spotlight URL... TEXT`: the list took the text
    text = args.text if args.text is not None else _stdin_text()
    linker = stage_config.linker_spec(args).build()
    try:
        annotations = linker.annotate(text)
    finally:
        linker.close()
    print(render_annotate_json(text, annotations, confidence=args.confidence,
                               support=args.support, types="", sparql="", policy="whitelist"))
    return 0


def _stdin_text() -> str:
    from longtail.errors import UsageError

    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8").removesuffix("\n")
    except UnicodeDecodeError as err:
        raise UsageError(f"standard input is not UTF-8 text (byte {err.start}: "
                         f"{data[err.start:err.start + 1]!r})") from None


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

    return print_status(args.out_dir, verify_checksums=args.verify, relocations=args.relocate)


def cmd_docs(args: argparse.Namespace) -> int:
    from longtail.query.docs_view import question_reports
    from longtail.query.printing import print_question_reports

    print_question_reports(question_reports(args.out_dir, args.question_id, args.limit))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from longtail.jobs.demo import run_demo

    run_demo(args.out, master=args.master, build=args.build_model)
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


def add_stage_flags(parser: argparse.ArgumentParser, stage: stages.Stage) -> None:
    """A stage's flags: its config's, the linker's, where OUT is, and how to run it."""
    if stage.out_positional:
        parser.add_argument("out_dir", metavar="OUT", help=OUT_HELP)
    stage_config.add_flags(parser.add_argument_group(stage.name), stage.config)
    if stage.linker:
        stage_config.add_linker_flags(parser)
    if stage.out_positional:
        stage_config.add_storage(parser)
    else:
        stage_config.add_out(parser)
    if stage.resumable or stage.replaces:
        stage_config.add_overwrite(parser)
    if stage.spark:
        stage_config.add_master(parser)


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """`longtail run`: every flag of the stages it runs, spelled as in their own commands."""
    ordered = stages.run_order()
    for stage in ordered:
        stage_config.add_flags(parser.add_argument_group(stage.name), stage.config)
    stage_config.add_linker_flags(parser)
    stage_config.add_out(parser)
    stage_config.add_overwrite(parser)
    stage_config.add_master(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="longtail",
        description="Count the pretraining documents that support the fact behind each question.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"longtail {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}

    def group(name: str | None) -> argparse._SubParsersAction:
        """The subparsers of `longtail NAME` (of `longtail` itself for None)."""
        if name is None:
            return sub
        if name not in groups:
            p = sub.add_parser(name, help=GROUPS[name], description=GROUPS[name])
            groups[name] = p.add_subparsers(dest=f"{name}_command", metavar="ACTION",
                                            required=True)
        return groups[name]

    def command(words: Sequence[str], help_text: str, handler: Callable[..., int],
                description: str | None = None) -> argparse.ArgumentParser:
        parent = group(words[0]) if len(words) > 1 else sub
        p = parent.add_parser(words[-1], help=help_text, description=description or help_text,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(handler=handler)
        return p

    for stage in stages.STAGES.values():
        add_stage_flags(command(stage.command, stage.help,
                                lambda args, stage=stage: cmd_stage(stage, args),
                                stage.description), stage)
    add_run_flags(command(["run"], "run " + ", ".join(s.name for s in stages.run_order())
                          + " in one go, each only when needed", cmd_run))

    p = command(["annotate"], "link one text and print Spotlight's /rest/annotate JSON",
                cmd_annotate)
    p.add_argument("text", nargs="?", metavar="TEXT", help="text to link (default: stdin)")
    stage_config.add_linker_flags(p)
    stage_config.add_storage(p)

    p = command(["model", "import"], "compile Spotlight wikistats files into a model folder",
                cmd_model_import)
    p.add_argument("--wikistats", required=True, metavar="DIR",
                   help="folder with uriCounts, pairCounts, sfAndTotalCounts, tokenCounts "
                        "(plain or .bz2)")
    p.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    p.add_argument("--instance-types", metavar="TSV", default=None,
                   help="optional `URI<TAB>type,type` file giving entities their @types")
    add_pruning_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty MODEL")
    p = command(["model", "build"], "build a model from Wikipedia XML dumps with Spark, as "
                "Spotlight does", cmd_model_build)
    add_build_args(p)
    stage_config.add_master(p)
    register_fetch(group("model"))

    p = command(["query"], "run one read-only SQL statement on an output folder's tables and "
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

    p = command(["docs"], "show the questions with an id, their winning entity pairs and their "
                "relevant documents", cmd_docs)
    p.add_argument("out_dir", metavar="OUT")
    p.add_argument("question_id", metavar="QUESTION_ID")
    p.add_argument("--limit", type=int, default=10,
                   help="documents to show per question (default 10)")
    stage_config.add_storage(p)

    p = command(["status"], "show each stage of an output folder: parameters, row counts, when "
                "it ran, and whether it is fresh or stale (and why)", cmd_status)
    p.add_argument("out_dir", metavar="OUT")
    p.add_argument("--verify", action="store_true",
                   help="also check the content checksum of every committed file and of the "
                        "model files the stages used; exits 1 naming each damaged file")
    p.add_argument("--relocate", action="append", default=[], metavar="OLD=NEW",
                   help="inputs recorded under OLD are now under NEW (a moved corpus, QA file "
                        "or model); recorded in the stages' records; may be repeated")
    stage_config.add_storage(p)

    register_analysis(group)
    register_packaging(sub)
    register_serve(sub)

    p = command(["demo"], "run every stage on the bundled sample with local Spark", cmd_demo)
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    p.add_argument("--build-model", action="store_true",
                   help="build the sample model from the sample wiki with Spark (`longtail "
                        "model build`, about 40 s) instead of importing the wikistats that "
                        "build gives")
    stage_config.add_master(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def handle(arguments: Sequence[str] | None) -> int:
        args = build_parser().parse_args(arguments)
        stage_config.apply_storage(args)
        stage_config.apply_verbose(args)
        return args.handler(args)

    return run_guarded(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
