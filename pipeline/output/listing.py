"""Inputs named through a list file: `--corpus @urls.txt`, `--qa @files.txt`.

Published corpora are lists of URLs (Dolma's `urls/v1_7.txt`, a C4 split's files), and a
plain HTTP server cannot be listed, so an input may be `@FILE`: FILE (a local path or a URL)
lists one location per line; blank lines and lines starting with `#` are skipped. A relative
path in the list is taken relative to the list's own folder. Locations in a list are not lists
themselves; they may be anything an input may be (files, folders, globs, URIs).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable

from longtail.errors import UsageError
from longtail.output.storage import is_remote, join_location, location_kind, open_source

LIST_PREFIX = "@"


def expand_lists(named: Iterable[str]) -> list[str]:
    """`named` in order, each `@FILE` replaced by the locations FILE lists."""
    found: list[str] = []
    for item in map(str, named):
        if item.startswith(LIST_PREFIX) and len(item) > 1 and not os.path.exists(item):
            found.extend(listed_locations(item[len(LIST_PREFIX):]))
        else:
            found.append(item)
    return found


def listed_locations(list_file: str) -> list[str]:
    """The locations one list file names (see the module docstring)."""
    if location_kind(list_file) != "file":
        raise UsageError(f"list file not found: {list_file} (an input @FILE names a file that "
                         "lists one location per line)")
    try:
        with open_source(list_file) as handle:
            text = handle.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"list file {list_file} is not UTF-8 text") from None
    except OSError as err:
        raise UsageError(f"cannot read list file {list_file}: {err}") from None
    remote = is_remote(list_file)
    folder = posixpath.dirname(list_file) if remote else os.path.dirname(
        os.path.abspath(list_file.removeprefix("file://")))
    locations = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if "://" not in entry and not os.path.isabs(entry):
            entry = join_location(folder, entry)
        locations.append(entry)
    if not locations:
        raise UsageError(f"list file {list_file} lists no location (one per line; lines "
                         "starting with # are comments)")
    return locations
