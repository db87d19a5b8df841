"""Options of the Wikipedia model build, and their command-line flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from longtail.errors import UsageError
from longtail.wikipedia.counts import DEFAULT_CONTEXT_WINDOW
from longtail.wikipedia.dump import DEFAULT_SPLIT_BYTES


@dataclass(frozen=True)
class BuildOptions:
    """Spotlight's English defaults: CreateSpotlightModel keeps surface forms linked at least
    twice (`minimumSFCounts("en") = 2`) and context tokens seen at least three times with an
    entity (`minimumContextCounts("en") = 3`); pignlproc drops surface forms shorter than two
    characters (`MIN_SURFACE_FORM_LENGTH = 2`)."""

    min_surface_form_count: int = 2
    min_token_count: int = 3
    min_surface_form_length: int = 2
    context_window: int = DEFAULT_CONTEXT_WINDOW
    split_bytes: int = DEFAULT_SPLIT_BYTES
    lowercase_counts: bool = True
    keep_work: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        for name in ("min_surface_form_count", "min_token_count", "min_surface_form_length",
                     "split_bytes"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name.replace('_', ' ')} must be at least 1")
        if self.context_window < 0:
            raise UsageError("context window must not be negative")



def add_pruning_args(parser: argparse.ArgumentParser) -> None:
    """Spotlight's model pruning flags, shared by `model build` and `model import`."""
    defaults = BuildOptions()
    parser.add_argument("--min-sf-count", type=int, default=defaults.min_surface_form_count,
                        help="keep surface forms linked at least this often (Spotlight en: 2)")
    parser.add_argument("--min-token-count", type=int, default=defaults.min_token_count,
                        help="keep context tokens seen this often with an entity (en: 3)")


def add_build_args(parser: argparse.ArgumentParser) -> None:
    """The flags of `longtail model build` and `jobs/build_model.py`."""
    defaults = BuildOptions()
    parser.add_argument("--wikipedia", nargs="+", required=True, metavar="DUMP",
                        help="MediaWiki XML dumps (.xml, .xml.bz2, .xml.gz)")
    parser.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    add_pruning_args(parser)
    parser.add_argument("--min-sf-length", type=int, default=defaults.min_surface_form_length,
                        help="drop surface forms shorter than this many characters")
    parser.add_argument("--context-window", type=int, default=defaults.context_window,
                        help="context tokens taken on each side of a link")
    parser.add_argument("--split-mb", type=int, default=defaults.split_bytes >> 20,
                        help="read uncompressed dumps in byte ranges of this size")
    parser.add_argument("--no-lowercase-counts", action="store_true",
                        help="do not write Spotlight's lowercase lines in sfAndTotalCounts")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the intermediate tables in MODEL/.work")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty MODEL")


def build_options(args: argparse.Namespace) -> BuildOptions:
    """BuildOptions from parsed flags; bad values raise UsageError."""
    return BuildOptions(
        min_surface_form_count=args.min_sf_count,
        min_token_count=args.min_token_count,
        min_surface_form_length=args.min_sf_length,
        context_window=args.context_window,
        split_bytes=args.split_mb << 20,
        lowercase_counts=not args.no_lowercase_counts,
        keep_work=args.keep_work,
        overwrite=args.overwrite,
    )
