"""Content checksums of a model folder's files, recorded in model.json as they are written.

    "files": {"sf_hash.bin": {"size": 872, "mtime_ns": 1733..., "sha256": "9f2c..."}, ...}

`ModelWriter` hashes each file's bytes on their way to disk (no second read) and records its
size and modification time after closing it. Because model.json lists every checksum, the
model's id (a digest of model.json, `longtail.linking.spec.model_id`) changes with any change of
content. Two checks use the record:

- `check_files`, on every load: each listed file is there with its size; one whose modification
  time differs from the recorded one (a copy, or a file written again) has its sha256 computed
  and compared, so copies keep loading and damaged files stop, in one line naming the file.
  A file overwritten with bytes of the same size whose modification time was set back passes
  this check: only
- `verify_model`, which computes every file's sha256 (`longtail status --verify`), finds it.

Model folders written before the record existed have no `files` map: they load as before
(sizes checked against the header), and `verify_model` checks what it can (sizes).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

from longtail.errors import UsageError
from longtail.output.checksums import file_sha256, read_chunks, stream_digest

FILES = "files"


class HashingWriter:
    """A binary file that hashes what is written to it (bytes or contiguous arrays)."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.handle.write(view)


def entry(path: Path, digest: Any) -> dict[str, Any]:
    """The record of a file just written, with the digest of its bytes."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()}


def _files(folder: str | Path, header: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    files = header.get(FILES)
    if files is None:
        return None
    if not isinstance(files, dict) or not all(
            isinstance(e, dict) and isinstance(e.get("size"), int)
            and isinstance(e.get("sha256"), str) for e in files.values()):
        raise UsageError(f"model {folder} is damaged: its model.json has a malformed "
                         f"'{FILES}' record")
    return files


def _unlisted(header: dict[str, Any], files: dict[str, Any]) -> list[str]:
    """Files of the model that its record does not list (a foreign or edited model.json)."""
    names = [f"{name}.bin" for name in header.get("arrays", {})]
    return [n for n in names if n not in files]


def check_files(folder: Path, header: dict[str, Any]) -> None:
    """The cheap check on load (see the module docstring); `UsageError` naming the first
    missing, unlisted or damaged file."""
    files = _files(folder, header)
    if files is None:
        return
    unlisted = _unlisted(header, files)
    if unlisted:
        raise UsageError(f"model {folder} is damaged: model.json has no checksum for "
                         f"{unlisted[0]}")
    for name, recorded in files.items():
        try:
            stat = (folder / name).stat()
        except FileNotFoundError:
            raise UsageError(f"model {folder} is incomplete: {name} is missing") from None
        if stat.st_size != recorded["size"]:
            raise UsageError(f"model {folder} is damaged: {name} has {stat.st_size} bytes, "
                             f"model.json says {recorded['size']}")
        if stat.st_mtime_ns != recorded.get("mtime_ns") and \
                file_sha256(folder / name) != recorded["sha256"]:
            raise UsageError(f"model {folder} is damaged: {name} does not match the sha256 "
                             f"model.json records for it")


def verify_model(folder: str | Path) -> list[str]:
    """One line per missing or damaged file of the model folder at `folder` (a path or a
    `s3://`, `gs://`... URI), every sha256 computed; empty when the model is intact."""
    from longtail.output.storage import Storage, is_remote

    location = str(folder)
    storage = Storage(location) if is_remote(location) else None
    display = storage.display() if storage else location
    try:
        data = (storage.read_bytes("model.json") if storage
                else (Path(location) / "model.json").read_bytes())
        header = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        return [f"{display}: model.json is missing"]
    except (OSError, ValueError) as err:
        return [f"{display}: model.json is unreadable: {err}"]
    if not isinstance(header, dict):
        return [f"{display}: model.json is not a model header"]
    try:
        files = _files(display, header)
    except UsageError as err:
        return [str(err)]
    if files is None:  # an older model: sizes from the array layout
        files = {f"{name}.bin": {"size": _layout_size(spec)}
                 for name, spec in header.get("arrays", {}).items()}
    problems = [f"{display}: {name} has no checksum in model.json"
                for name in _unlisted(header, files)]
    for name, recorded in sorted(files.items()):
        try:
            size, digest = _size_and_digest(storage, Path(location), name,
                                            "sha256" in recorded)
        except FileNotFoundError:
            problems.append(f"{display}: {name} is missing")
            continue
        except OSError as err:
            problems.append(f"{display}: {name} is unreadable: {err}")
            continue
        if size != recorded["size"]:
            problems.append(f"{display}: {name} has {size} bytes, model.json says "
                            f"{recorded['size']}")
        elif digest is not None and digest != recorded["sha256"]:
            problems.append(f"{display}: {name} does not match the sha256 model.json records "
                            f"for it")
    return problems


def _layout_size(spec: Any) -> int | None:
    try:
        count = 1
        for s in spec["shape"]:
            count *= int(s)
        import numpy as np

        return count * np.dtype(spec["dtype"]).itemsize
    except (KeyError, TypeError, ValueError):
        return None


def _size_and_digest(storage: Any, folder: Path, name: str, hashed: bool
                     ) -> tuple[int, str | None]:
    if storage is None:
        size = (folder / name).stat().st_size
        return size, file_sha256(folder / name) if hashed else None
    stat = storage.stat(name)
    if stat is None:
        raise FileNotFoundError(name)
    if not hashed:
        return stat.size, None
    with storage.open_input(name) as source:
        return stat.size, stream_digest(read_chunks(source))


def set_recorded_mtimes(folder: Path, files: dict[str, dict[str, Any]]) -> None:
    """Give verified copies their recorded modification times, so loads skip the sha256."""
    for name, recorded in files.items():
        if isinstance(recorded.get("mtime_ns"), int):
            os.utime(folder / name, ns=(recorded["mtime_ns"], recorded["mtime_ns"]))
