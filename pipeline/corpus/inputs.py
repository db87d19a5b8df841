"""Turn the inputs a user names (files, folders, globs) into the sorted list of corpus files.

Rules, in order:
- A glob (`*`, `?`, `[`) is expanded, sorted; a glob that matches nothing is a usage error.
- A file is read in the given format, or the one its name says: `.jsonl`, `.json`, `.ndjson`
  (each optionally `.gz`, `.zst`, `.zstd`) are JSON Lines, `.parquet`/`.pq` Parquet, `.arrow`
  Arrow, `.txt` plain text.
- A folder holding `state.json` is a dataset saved by Hugging Face `save_to_disk`: the
  `data-*.arrow` files that `state.json` lists (their names sort in the listed order). In a
  folder holding `dataset_dict.json` (a saved `DatasetDict`) only the split folders are read.
- Any other folder is walked recursively, skipping names that start with `.` or `_` (hidden
  files, `_SUCCESS` markers). Without an explicit format it yields the files with a known
  extension; `.txt` files count only when the folder holds no JSON Lines, Parquet or Arrow
  file (so a README.txt beside the data is not a document). With an explicit format every
  file is taken (for `arrow`, every `.arrow` file).
- In a folder, symbolic links to folders are followed, except to a folder already walked (an
  ancestor: a loop; or a second name of one, whose files are listed once); a symbolic link
  to nothing, where a corpus file would be read, is a usage error.
All files are then de-duplicated (by real path) and sorted by path; a file's position in that
list is its `file_index`, the high bits of its documents' ids.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from longtail.corpus.ids import MAX_FILES
from longtail.errors import UsageError
from longtail.output.listing import expand_lists
from longtail.output.storage import (
    file_identity,
    glob_locations,
    is_remote,
    join_location,
    location_kind,
    open_source,
    walk,
)

FORMATS = ("jsonl", "parquet", "text", "arrow")
COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd")
_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
_PLAIN_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".txt": "text"}
HF_STATE_FILE = "state.json"
HF_DATASET_DICT_FILE = "dataset_dict.json"


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """One input file; `path` is also the `source` of its documents and failures."""

    path: str
    file_index: int
    format: str


def format_from_name(name: str) -> str | None:
    """The format a file name says, or None when the name says nothing known."""
    lower = name.lower()
    compressed = lower.endswith(COMPRESSION_SUFFIXES)
    if compressed:
        lower = lower[: lower.rindex(".")]
    if lower.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if compressed:
        return None
    return _PLAIN_SUFFIXES.get(os.path.splitext(lower)[1])


def resolve_inputs(inputs: Iterable[str | Path], format: str | None = None) -> list[CorpusFile]:
    """The corpus files named by `inputs`, sorted, each with its index; see the module rules."""
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown input format {format!r}; choose one of {', '.join(FORMATS)}")
    named = expand_lists(inputs)
    if not named:
        raise UsageError("no input given: name at least one file, folder or glob")
    found: list[tuple[str, str]] = []
    for item in named:
        if glob.has_magic(item):
            matches = glob_locations(item)
            if not matches:
                raise UsageError(f"no file matches {item}")
            for match in matches:
                found.extend(_expand(match, format))
        elif location_kind(item) is not None:
            found.extend(_expand(item, format))
        else:
            raise UsageError(f"input not found: {item}")
    unique: dict[str, tuple[str, str]] = {}
    for path, fmt in found:
        unique.setdefault(file_identity(path), (path, fmt))
    ordered = sorted(unique.values())
    if not ordered:
        raise UsageError(f"no corpus files in {', '.join(named)}")
    if len(ordered) > MAX_FILES:
        raise UsageError(f"{len(ordered)} input files; at most {MAX_FILES} are supported")
    return [CorpusFile(path, index, fmt) for index, (path, fmt) in enumerate(ordered)]


def _expand(path: str, format: str | None) -> list[tuple[str, str]]:
    path = path.rstrip("/") if is_remote(path) else os.path.normpath(path)
    if location_kind(path) == "folder":
        return _expand_folder(path, format)
    fmt = format or format_from_name(os.path.basename(path))
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of {path} from its name; pass a format "
            f"({', '.join(FORMATS)})"
        )
    return [(path, fmt)]


def _expand_folder(folder: str, format: str | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in walk_following_links(folder):
        if HF_STATE_FILE in filenames:
            if format not in (None, "arrow"):
                raise UsageError(
                    f"{dirpath} is a dataset saved by Hugging Face save_to_disk (it has "
                    f"{HF_STATE_FILE}); read it as arrow, not {format}"
                )
            found.extend((path, "arrow") for path in hf_dataset_files(dirpath))
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        if HF_DATASET_DICT_FILE in filenames:
            continue  # a saved DatasetDict: only its split folders hold data
        for name in sorted(filenames):
            if _is_hidden(name):
                continue
            if format is None:
                fmt = format_from_name(name)
            elif format != "arrow" or name.lower().endswith(".arrow"):
                fmt = format
            else:
                fmt = None
            if fmt is not None:
                found.append((_not_dangling(join_location(dirpath, name)), fmt))
    if format is None and any(fmt != "text" for _, fmt in found):
        found = [(path, fmt) for path, fmt in found if fmt != "text"]
    if not found:
        raise UsageError(
            f"no corpus files in folder {folder} (looked for .jsonl, .json, .ndjson, optionally "
            ".gz/.zst, .parquet, .arrow, .txt)"
        )
    return found


def walk_following_links(folder: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """`walk` that also enters symbolic links to folders, each real folder once (a link
    back to an ancestor is not entered); a folder that cannot be listed is a usage error.
    Callers may prune the sub-folder list in place, as with `os.walk`."""
    if is_remote(folder):
        yield from walk(folder)
        return

    def refuse(err: OSError) -> None:
        raise UsageError(f"cannot list folder {err.filename}: {err.strerror}") from err

    seen = {os.path.realpath(folder)}
    for dirpath, dirnames, filenames in os.walk(folder, onerror=refuse, followlinks=True):
        yield dirpath, dirnames, filenames
        paths = {d: os.path.join(dirpath, d) for d in dirnames}
        keep = set()
        # real folders claim their place before links to them
        for name in sorted(dirnames, key=lambda d: (os.path.islink(paths[d]), d)):
            real = os.path.realpath(paths[name])
            if real not in seen:
                seen.add(real)
                keep.add(name)
        dirnames[:] = [d for d in dirnames if d in keep]


def _not_dangling(path: str) -> str:
    if not is_remote(path) and os.path.islink(path) and not os.path.exists(path):
        raise UsageError(f"{path} is a symbolic link to {os.readlink(path)}, which does not "
                         "exist")
    return path


def hf_dataset_files(folder: str) -> list[str]:
    """The data files listed in the `state.json` of a dataset folder written by `save_to_disk`."""
    state_path = join_location(folder, HF_STATE_FILE)
    try:
        with open_source(state_path) as fh:
            listed = [entry["filename"] for entry in json.load(fh)["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the data file list in {state_path}: {exc}") from exc
    paths = [join_location(folder, name) for name in listed]
    missing = [path for path in paths if location_kind(path) != "file"]
    if missing:
        raise UsageError(f"{state_path} lists {missing[0]}, which does not exist")
    if not paths:
        raise UsageError(f"{state_path} lists no data files")
    return paths


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "_"))
