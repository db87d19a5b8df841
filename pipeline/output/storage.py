"""One storage layer for every path longtail reads or writes: local folders and object stores.

A `Storage` is a root (a local folder, or a URI such as `s3://bucket/prefix`) and the
`pyarrow.fs` filesystem that reaches it; paths below the root are POSIX-style relative paths
(`docs/part-link-f00000-r000000000000-1a2b.parquet`). It pickles to its URI and options, so a
Spark task rebuilds the same filesystem on the executor.

Writes of whole small files (markers, records, the manifest) are atomic on a local disk (a
temporary name, then a rename) and single PUTs on object stores, which are atomic there.
Table files are never renamed: they get unique names and become visible to readers only through
the completion marker that names them (see `longtail.output.folder`).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import glob
import json
import os
import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from longtail.errors import UsageError

TMP_PREFIX = ".tmp-"


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path beside the local file `final`, renamed to `final` only if the block
    succeeds (for files written outside OUT, such as exports)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{final.name}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@dataclass(frozen=True, slots=True)
class FileStat:
    """What identifies one version of a file: its size and modification time, and on
    http(s):// and hf:// its ETag (else Last-Modified) or git blob id."""

    size: int
    mtime_ns: int
    etag: str | None = None


def is_uri(location: str) -> bool:
    """True for `scheme://...` locations (s3://, gs://, hdfs://, file://...)."""
    return "://" in location and not os.path.exists(location)


def is_remote(location: str) -> bool:
    """True for a location on another filesystem than the local one."""
    return is_uri(location) and not location.startswith("file://")


def open_source(location: str):
    """A readable binary file (seekable) for a local path or a URI."""
    if not is_remote(location):
        return open(location.removeprefix("file://"), "rb")  # noqa: SIM115 - the caller closes
    storage, name = Storage.for_file(location)
    return storage.open_input(name)


class Storage:
    """A root folder on some filesystem, and what longtail does with the files under it."""

    def __init__(self, location: str | os.PathLike[str], endpoint: str | None = None):
        self.location = os.fspath(location)
        self._fs: pafs.FileSystem | None = None
        self.endpoint: str | None = None
        if is_remote(self.location):
            from longtail.output.remote import remote_filesystem, s3_endpoint

            # the endpoint travels with the storage to Spark tasks (credentials never do)
            self.endpoint = endpoint or s3_endpoint()
            self._fs, self.root = remote_filesystem(self.location, self.endpoint)
            self.local = False
        else:
            path = self.location.removeprefix("file://")
            self.root = os.path.abspath(path)
            self.local = True

    @classmethod
    def for_file(cls, location: str) -> tuple[Storage, str]:
        """The storage of a file's folder and the file's name in it (one storage per folder,
        reused)."""
        if is_remote(location):
            from longtail.output.remote import s3_endpoint

            folder, _, name = location.rstrip("/").rpartition("/")
            return _folder_storage(folder, s3_endpoint()), name
        folder, name = os.path.split(os.path.abspath(location.removeprefix("file://")))
        return _folder_storage(folder, None), name

    # -- pickling: a Spark task rebuilds the filesystem from the location --

    def __getstate__(self) -> dict:
        return {"location": self.location, "endpoint": self.endpoint}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["location"], state.get("endpoint"))

    def __repr__(self) -> str:
        return f"Storage({self.display()!r})"

    @property
    def fs(self) -> pafs.FileSystem:
        if self._fs is None:
            self._fs = pafs.LocalFileSystem()
        return self._fs

    def child(self, relative: str) -> Storage:
        """The storage rooted at a sub-folder."""
        if self.local:
            return Storage(os.path.join(self.root, relative))
        return Storage(self.location.rstrip("/") + "/" + relative, self.endpoint)

    def path(self, relative: str = "") -> str:
        """The filesystem path of `relative` (what `self.fs` takes)."""
        return posixpath.join(self.root, relative) if relative else self.root

    def display(self, relative: str = "") -> str:
        """`relative` as a user would write it: a local path, or the full URI."""
        if self.local:
            return os.path.join(self.location, relative) if relative else self.location
        from longtail.output.remote import redact

        return redact(self.location.rstrip("/")) + ("/" + relative if relative else "")

    def local_path(self, relative: str = "") -> Path:
        if not self.local:
            raise ValueError(f"{self.display(relative)} is not on a local disk")
        return Path(self.path(relative))

    # -- reading ----------------------------------------------------------------------------

    def stat(self, relative: str) -> FileStat | None:
        """Size and modification time (and ETag, where the store has one) of a file; None
        when there is none."""
        file_stat = getattr(getattr(self._fs, "handler", None), "file_stat", None)
        if file_stat is not None:
            return file_stat(self.path(relative))
        info = self.fs.get_file_info(self.path(relative))
        if info.type != pafs.FileType.File:
            return None
        return FileStat(int(info.size), int(info.mtime_ns or 0))

    def is_dir(self, relative: str = "") -> bool:
        info = self.fs.get_file_info(self.path(relative))
        if info.type == pafs.FileType.Directory:
            return True
        if self.local:
            return False
        # object stores have no folders: a prefix with objects under it is one
        return bool(self.list(relative))

    def list(self, folder: str, recursive: bool = False) -> dict[str, FileStat]:
        """Files under `folder` by relative path (empty when the folder does not exist)."""
        selector = pafs.FileSelector(self.path(folder), allow_not_found=True, recursive=recursive)
        found: dict[str, FileStat] = {}
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File:
                relative = posixpath.relpath(info.path, self.root)
                found[relative] = FileStat(int(info.size), int(info.mtime_ns or 0))
        return found

    def read_bytes(self, relative: str) -> bytes:
        with self.fs.open_input_stream(self.path(relative)) as stream:
            return stream.read()

    def read_json(self, relative: str) -> Any:
        """A JSON file's value; None when the file does not exist (one read, no stat first)."""
        try:
            data = self.read_bytes(relative)
        except FileNotFoundError:
            return None
        return json.loads(data.decode("utf-8"))

    def open_input(self, relative: str):
        """A seekable file (what pyarrow.parquet.ParquetFile and the corpus readers take)."""
        return self.fs.open_input_file(self.path(relative))

    # -- writing ----------------------------------------------------------------------------

    def open_output(self, relative: str):
        """A stream that writes `relative` (object stores: one upload when it is closed)."""
        self.make_dirs(posixpath.dirname(relative))
        return self.fs.open_output_stream(self.path(relative))

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a whole file atomically: readers see the old file or the new one, never a part."""
        if self.local:
            with atomic_path(self.local_path(relative)) as tmp:
                tmp.write_bytes(data)
            return
        with self.fs.open_output_stream(self.path(relative)) as stream:
            stream.write(data)

    def write_json(self, relative: str, payload: Any) -> None:
        text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
        self.write_bytes(relative, text.encode("utf-8"))

    def move(self, source: str, target: str) -> None:
        """Move a file within the root (a rename on a local disk; copy, then delete, on an
        object store)."""
        self.make_dirs(posixpath.dirname(target))
        if self.local:
            os.replace(self.path(source), self.path(target))
            return
        self.fs.copy_file(self.path(source), self.path(target))
        self.delete(source)

    def make_dirs(self, folder: str) -> None:
        if self.local:
            os.makedirs(self.path(folder), exist_ok=True)

    def delete(self, relative: str) -> None:
        """Remove a file; a file that is already gone is fine."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(relative))

    def delete_dir(self, folder: str) -> None:
        """Remove a folder and everything under it; a missing folder is fine."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.path(folder))

    def check_writable(self) -> None:
        """Stop with one line when the root cannot be written to (before any work starts)."""
        probe = f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:12]}"
        try:
            self.write_bytes(probe, b"")
            self.delete(probe)
        except OSError as err:
            raise self.error(err, "cannot write to") from None

    def check_readable(self) -> None:
        """Stop with one line when the root does not exist or cannot be read."""
        try:
            found = self.is_dir()
        except OSError as err:
            raise self.error(err, "cannot read") from None
        if not found:
            raise UsageError(f"output folder not found: {self.display()}")

    def error(self, err: OSError, doing: str) -> UsageError:
        """One line for an error of this storage, without credentials."""
        if self.local:
            reason = err.strerror or str(err).splitlines()[0]
            return UsageError(f"{doing} {self.display()}: {reason}")
        from longtail.output.remote import storage_error

        return storage_error(self.location, err)


@functools.lru_cache(maxsize=256)
def _folder_storage(folder: str, endpoint: str | None) -> Storage:
    return Storage(folder, endpoint)


# -- inputs named by the user: local paths or URIs --------------------------------------


def absolute_location(location: str) -> str:
    """A location that does not depend on the working folder: a local path made absolute (a
    `file://` prefix dropped), a URI as given, without a trailing slash."""
    if is_remote(location):
        return location.rstrip("/")
    return os.path.abspath(location.removeprefix("file://"))


def join_location(folder: str, name: str) -> str:
    """`name` inside `folder`, for a local path or a URI."""
    return f"{folder.rstrip('/')}/{name}" if is_remote(folder) else os.path.join(folder, name)


def file_identity(location: str) -> str:
    """What makes two names of one file equal (a local file named twice, or through a link,
    is read once)."""
    return location if is_remote(location) else os.path.realpath(location)


def location_kind(location: str) -> str | None:
    """"file", "folder" or None (nothing there) for a local path or a URI."""
    if not is_remote(location):
        path = location.removeprefix("file://")
        return "file" if os.path.isfile(path) else "folder" if os.path.isdir(path) else None
    storage, name = Storage.for_file(location)
    try:
        if storage.stat(name) is not None:
            return "file"
        return "folder" if storage.child(name).is_dir() else None
    except OSError as err:
        raise storage.error(err, "cannot read") from None


def walk(location: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk` for a local folder or a folder URI, top-down; callers may prune the
    sub-folder list in place."""
    if not is_remote(location):
        yield from os.walk(location.removeprefix("file://"))
        return
    storage = Storage(location)
    try:
        files = sorted(storage.list("", recursive=True))
    except OSError as err:
        raise storage.error(err, "cannot list") from None
    tree: dict[str, tuple[set[str], list[str]]] = {"": (set(), [])}
    for path in files:
        parts = path.split("/")
        for depth in range(len(parts) - 1):
            parent, child = "/".join(parts[:depth]), "/".join(parts[:depth + 1])
            tree.setdefault(parent, (set(), []))[0].add(parts[depth])
            tree.setdefault(child, (set(), []))
        tree["/".join(parts[:-1])][1].append(parts[-1])
    base = location.rstrip("/")
    pending = [""]
    while pending:
        folder = pending.pop(0)
        subfolders, names = tree[folder]
        dirnames = sorted(subfolders)
        yield (f"{base}/{folder}" if folder else base), dirnames, sorted(names)
        pending[:0] = [f"{folder}/{d}" if folder else d for d in dirnames]


def glob_locations(pattern: str) -> list[str]:
    """Files matching a glob, for a local pattern (`**` recursive) or a URI pattern."""
    if not is_remote(pattern):
        return sorted(glob.glob(pattern, recursive=True))
    from longtail.output.remote import HTTP_SCHEMES, check_listable, scheme_of

    if scheme_of(pattern) in HTTP_SCHEMES:
        if location_kind(pattern) == "file":  # the `?` of a query string, not a glob
            return [pattern]
        check_listable(pattern)
    magic = min(i for i, c in enumerate(pattern) if c in "*?[")
    base = pattern[:magic].rpartition("/")[0]
    found = []
    for folder, _, names in walk(base):
        found.extend(f"{folder}/{name}" for name in names
                     if fnmatch.fnmatchcase(f"{folder}/{name}", pattern))
    return sorted(found)
