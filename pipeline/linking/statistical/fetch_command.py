"""The `longtail model fetch` subcommand: its flags and what it prints (the work is in
`longtail.linking.statistical.fetch`)."""

from __future__ import annotations

import argparse
import sys

from longtail.errors import UsageError
from longtail.linking.statistical.fetch import DATABUS_SPARQL, DOWNLOAD_BASE, fetch_model
from longtail.wikipedia.options import add_pruning_args


def register_fetch(model_subparsers: argparse._SubParsersAction) -> None:
    """Add `fetch` to `longtail model`'s subcommands."""
    text = ("download DBpedia's wikistats for a language (resumable, sha256-checked) and "
            "import them into a model folder")
    p = model_subparsers.add_parser("fetch", help=text, description=text)
    p.add_argument("--lang", default="en", help="Wikipedia language code (default en)")
    p.add_argument("--release", metavar="YYYY.MM.DD", default=None,
                   help="Databus release (default: the newest with all four files)")
    p.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    p.add_argument("--base-url", metavar="URL", default=None,
                   help=f"a mirror with DBpedia's layout, URL/RELEASE/FILE (DBpedia's own: "
                        f"{DOWNLOAD_BASE}); the Databus is then not asked")
    p.add_argument("--keep-wikistats", metavar="DIR", default=None,
                   help="download into DIR and keep the files (default: a folder beside MODEL, "
                        "deleted after the import)")
    p.add_argument("--sha256", action="append", default=[], metavar="NAME=HEX",
                   help="expected sha256 of a file with --base-url (NAME: uriCounts, "
                        "pairCounts, sfAndTotalCounts, tokenCounts); repeatable")
    p.add_argument("--databus", metavar="URL", default=DATABUS_SPARQL,
                   help=f"the Databus SPARQL endpoint (default {DATABUS_SPARQL})")
    add_pruning_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty MODEL")
    p.set_defaults(handler=cmd_model_fetch)


def cmd_model_fetch(args: argparse.Namespace) -> int:
    from longtail.linking.statistical.fetch import parse_sha256_flags
    from longtail.output.storage import is_remote

    if is_remote(args.out):
        raise UsageError(f"a model is written to a local folder, not {args.out}; copy the "
                         "folder to object storage afterwards (--model takes its URI)")
    report = fetch_model(
        args.out, lang=args.lang, release=args.release, base_url=args.base_url,
        keep_wikistats=args.keep_wikistats, sha256=parse_sha256_flags(args.sha256),
        databus=args.databus, overwrite=args.overwrite, say=_say,
        min_surface_form_count=args.min_sf_count, min_context_count=args.min_token_count)
    shown = {k: v for k, v in report.items() if isinstance(v, (int, float, str))}
    width = max(map(len, shown), default=0)
    print("model fetch")
    for key, value in shown.items():
        print(f"  {key:<{width}}  {value:,}" if isinstance(value, int) else
              f"  {key:<{width}}  {value}")
    return 0


def _say(message: str) -> None:
    print(f"[longtail] {message}", file=sys.stderr)
