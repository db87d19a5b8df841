"""A model folder in object storage, copied once per machine to local disk for memory-mapping.

`--model s3://bucket/models/en` is read where it is for the checks on the driver (its header)
and copied, the first time a process on a machine builds the linker, into a cache folder on
local disk (`LONGTAIL_MODEL_CACHE`, else the system's temporary folder). The copy is made
under a temporary name, checked file by file against the store's sizes, marked complete and
renamed; processes on the same machine wait on a lock for the one that copies, and reuse a
complete copy of the same model (its header's digest is part of the folder name). Each file
the header records a sha256 for is hashed as it is copied: a damaged file in the store stops the
copy with one line naming it; the verified copies get the recorded modification times, so that
loading them checks sizes and times only (see `statistical.checksums`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from longtail.errors import UsageError
from longtail.linking.statistical.checksums import set_recorded_mtimes
from longtail.output.storage import Storage

COMPLETE = ".complete.json"
CHUNK_BYTES = 8 << 20


def cache_root() -> Path:
    return Path(os.environ.get("LONGTAIL_MODEL_CACHE")
                or Path(tempfile.gettempdir()) / "longtail-models")


def local_model(location: str, header: str = "model.json") -> Path:
    """A complete local copy of the model folder at `location` (a URI); made if needed."""
    storage = Storage(location)
    try:
        listing = storage.list("", recursive=True)
        header_bytes = storage.read_bytes(header)
    except OSError as err:
        raise storage.error(err, "cannot read the model at") from None
    if header not in listing:
        raise UsageError(f"not a statistical linker model (no {header}): {storage.display()}")
    digest = hashlib.sha256(header_bytes).hexdigest()[:16]
    recorded = _recorded(header_bytes)
    sizes = {path: stat.size for path, stat in listing.items()}
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", storage.display())[-80:] + f"-{digest}"
    target = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(target, sizes):
            return target
        partial = root / f".partial-{name}-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            for path, size in sorted(sizes.items()):
                local = partial / path
                local.parent.mkdir(parents=True, exist_ok=True)
                content = hashlib.sha256()
                with storage.open_input(path) as source, open(local, "wb") as sink:
                    while chunk := source.read(CHUNK_BYTES):
                        content.update(chunk)
                        sink.write(chunk)
                if local.stat().st_size != size:
                    raise OSError(f"{path}: {local.stat().st_size} bytes copied of {size}")
                expected = recorded.get(path, {}).get("sha256")
                if expected is not None and content.hexdigest() != expected:
                    raise UsageError(f"model {storage.display()} is damaged: {path} does not "
                                     f"match the sha256 {header} records for it")
            set_recorded_mtimes(partial, {p: e for p, e in recorded.items() if p in sizes})
            (partial / COMPLETE).write_text(json.dumps(sizes, sort_keys=True), "utf-8")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(partial, target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target


def _recorded(header: bytes) -> dict[str, dict]:
    """The header's per-file record (empty for models written before it existed)."""
    try:
        files = json.loads(header.decode("utf-8")).get("files")
    except (ValueError, AttributeError):
        return {}
    return {p: e for p, e in files.items() if isinstance(e, dict)} \
        if isinstance(files, dict) else {}


def _complete(folder: Path, sizes: dict[str, int]) -> bool:
    """Whether `folder` is a finished copy of a model with these files and sizes."""
    try:
        recorded = json.loads((folder / COMPLETE).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == sizes and all(
        (folder / path).is_file() and (folder / path).stat().st_size == size
        for path, size in sizes.items())
