"""`longtail serve`: the embedded linker behind DBpedia Spotlight's REST API.

    longtail serve --model MODEL [--host 127.0.0.1] [--port 2222] [--workers 1] [--threads 2]
                   [--request-timeout 30] [--max-request-memory 1G] [--max-request-seconds 60]
    python -m longtail.serve --model MODEL --port 0     # the same, any free port
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence

from longtail.errors import UsageError
from longtail.serve.parameters import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_REQUEST_MEMORY,
    DEFAULT_MAX_REQUEST_SECONDS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_THREADS,
)

DESCRIPTION = ("serve the embedded linker over DBpedia Spotlight's REST API "
               "(/rest/annotate, /rest/candidates, /rest/spot)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="embedded linker model folder")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the "
                             "network)")
    parser.add_argument("--port", type=int, default=2222,
                        help="port (default 2222, Spotlight's; 0 picks a free one)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"texts each worker links at the same time (default "
                             f"{DEFAULT_THREADS}; linking holds Python's interpreter lock, so "
                             f"use --workers to use more CPUs)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the port and the model's memory, "
                             "forked from one master process (default 1; about one per CPU "
                             "for throughput)")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help=f"larger POST bodies get 413 (default {DEFAULT_MAX_BODY_BYTES:,}, "
                             f"Spotlight's)")
    parser.add_argument("--request-timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT,
                        metavar="SECONDS",
                        help=f"a request (head and body) must arrive within this many seconds "
                             f"of the connection opening, else 408 and the connection closes "
                             f"(default {DEFAULT_REQUEST_TIMEOUT:g})")
    parser.add_argument("--max-request-memory", default=f"{DEFAULT_MAX_REQUEST_MEMORY >> 20}M",
                        metavar="SIZE",
                        help=f"memory linking one text may add to a worker (e.g. 512M, 2G); a "
                             f"text that needs more gets 413 (default "
                             f"{DEFAULT_MAX_REQUEST_MEMORY >> 30}G)")
    parser.add_argument("--max-request-seconds", type=float,
                        default=DEFAULT_MAX_REQUEST_SECONDS, metavar="SECONDS",
                        help=f"CPU seconds linking one text may take, else 413; 0: no limit "
                             f"(default {DEFAULT_MAX_REQUEST_SECONDS:g})")
    parser.add_argument("--access-log", action="store_true",
                        help="print one line per request to stderr")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `serve` subcommand (handler: `cmd_serve`)."""
    parser = subparsers.add_parser("serve", help=DESCRIPTION, description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(handler=cmd_serve)
    return parser


def cmd_serve(args: argparse.Namespace,
              memory_estimate: Callable[[str], int] | None = None) -> int:
    """Load the model, bind the port, print "listening on http://HOST:PORT/rest", serve with
    `--workers` processes until SIGTERM/SIGINT; the exit status. `memory_estimate` replaces
    the linker's own estimate of a text's working memory."""
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.max_body_bytes < 1:
        raise UsageError(f"--max-body-bytes must be >= 1, got {args.max_body_bytes}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if not args.request_timeout > 0:
        raise UsageError(f"--request-timeout must be > 0 seconds, got {args.request_timeout:g}")
    if not args.max_request_seconds >= 0:
        raise UsageError(f"--max-request-seconds must be >= 0, got {args.max_request_seconds:g}")
    max_request_memory = byte_size(args.max_request_memory, "--max-request-memory")
    from longtail.linking.statistical import StatisticalModel
    from longtail.serve.app import SpotlightApp
    from longtail.serve.prefork import serve_with_workers
    from longtail.serve.server import listening_socket, raise_open_file_limit

    model = StatisticalModel.load(args.model)
    app = SpotlightApp(model, threads=args.threads, max_body_bytes=args.max_body_bytes,
                       access_log=sys.stderr if args.access_log else None,
                       request_timeout=args.request_timeout,
                       max_request_memory=max_request_memory,
                       max_request_seconds=args.max_request_seconds or None,
                       memory_estimate=memory_estimate)
    raise_open_file_limit()
    try:
        listener = listening_socket(args.host, args.port)
    except OSError as err:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: "
                         f"{err.strerror or err}") from None
    return serve_with_workers(app, listener, workers=args.workers)


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", re.IGNORECASE)


def byte_size(value: str, flag: str) -> int:
    """Bytes from "1073741824", "512M", "1.5G" (K, M, G, T: powers of 1024); UsageError if
    it is not such a size, or is under 1 MB."""
    match = _SIZE.fullmatch(value)
    if match is None:
        raise UsageError(f"{flag} must be a size such as 512M or 2G, got {value!r}")
    size = int(float(match[1]) * 1024 ** " kmgt".index(match[2].lower() or " "))
    if size < 1 << 20:
        raise UsageError(f"{flag} must be at least 1M, got {value!r}")
    return size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="longtail serve", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_serve(args)
    except UsageError as err:
        print(f"longtail serve: error: {err}", file=sys.stderr)
        return 2
