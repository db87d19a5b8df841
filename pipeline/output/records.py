"""What a stage records about a run, as types: committed files, inputs, the model, the record.

A record is written as JSON (`OUT/_stages/<stage>.json`) and read back into these classes;
nothing else inspects its raw form. Locations follow one rule, so that an output folder can be
moved, copied or synced and still describe itself truly:

- a table file, and any input that lies inside OUT (the demo's model, say), is recorded
  relative to OUT;
- any other input is recorded as an absolute location: a local path made absolute when it is
  recorded (never relative to the working folder of the command that ran), a URI as given.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from longtail.output.storage import absolute_location


def _known(cls, data: dict) -> dict:
    """The keys of `data` that are fields of the dataclass `cls` (older records carry others,
    newer ones may lack some)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One committed table file: path relative to OUT, rows, bytes and content checksums.

    `sha256` covers the whole file; `tail` the last `TAIL_BYTES` bytes (for Parquet: its
    footer), which is what the cheap check on every read compares when the file's modification
    time is not the one it was written with."""

    table: str
    path: str
    rows: int
    bytes: int
    sha256: str | None = None
    tail: str | None = None
    mtime_ns: int | None = None
    shard: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict) -> FileEntry:
        data = _known(cls, data)
        data["rows"], data["bytes"] = int(data["rows"]), int(data["bytes"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class InputFile:
    """A file a stage read from outside its own tables, as it was when the stage read it.

    `location` is absolute (a local path or a URI), or relative to OUT when `inside_out`.
    `etag` identifies a version of a remote file (HTTP); `sha256` is kept for small inputs
    (QA files), so that the same content at another place is recognised as the same."""

    location: str
    inside_out: bool = False
    size: int | None = None
    mtime_ns: int | None = None
    etag: str | None = None
    sha256: str | None = None
    rows: int | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @classmethod
    def from_json(cls, data: dict) -> InputFile:
        if "location" not in data and "path" in data:  # records written before this format
            data = {**data, "location": data["path"]}
        return cls(**_known(cls, data))


@dataclass(frozen=True, slots=True)
class ModelInput:
    """The embedded linker's model a stage linked with: where, and which (a digest of its
    header, which lists every model file's checksum)."""

    location: str
    inside_out: bool = False
    id: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @classmethod
    def from_json(cls, data: dict) -> ModelInput:
        if "location" not in data and "path" in data:
            data = {**data, "location": data["path"]}
        return cls(**_known(cls, data))


@dataclass(frozen=True, slots=True)
class Relocation:
    """`longtail status OUT --relocate OLD=NEW`: inputs under OLD are now under NEW."""

    old: str
    new: str
    at: str

    def to_json(self) -> dict:
        return asdict(self)


def now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class StageRecord:
    """A finished run of a stage: what it is (run id), what it was given, what it wrote."""

    stage: str
    run_id: str
    finished: str = ""
    seconds: float = 0.0
    parameters: dict = field(default_factory=dict)
    inputs: dict[str, list[InputFile]] = field(default_factory=dict)
    model: ModelInput | None = None
    upstream: dict[str, str] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    files: dict[str, list[FileEntry]] = field(default_factory=dict)
    shards: dict[str, dict] = field(default_factory=dict)  # shard -> commit, stats
    plan: list[dict] = field(default_factory=list)  # the shards as planned (sharded stages)
    relocations: list[Relocation] = field(default_factory=list)

    def all_files(self) -> list[FileEntry]:
        return [entry for entries in self.files.values() for entry in entries]

    def rows(self) -> dict[str, int]:
        return {table: sum(f.rows for f in entries) for table, entries in self.files.items()}

    def input_files(self) -> Iterable[InputFile]:
        for entries in self.inputs.values():
            yield from entries

    def summary(self) -> dict:
        """The record without its file lists (what the manifest shows)."""
        data = self.to_json()
        data.pop("files", None)
        data.pop("shards", None)
        data.pop("plan", None)
        data["tables"] = self.rows()
        return data

    def to_json(self) -> dict:
        data: dict[str, Any] = {
            "stage": self.stage, "run_id": self.run_id, "finished": self.finished,
            "seconds": self.seconds, "parameters": self.parameters,
            "inputs": {name: [f.to_json() for f in entries]
                       for name, entries in self.inputs.items()},
            "upstream": self.upstream, "stats": self.stats,
            "files": {table: [f.to_json() for f in entries]
                      for table, entries in self.files.items()},
            "shards": self.shards,
        }
        if self.plan:
            data["plan"] = self.plan
        if self.model is not None:
            data["model"] = self.model.to_json()
        if self.relocations:
            data["relocations"] = [r.to_json() for r in self.relocations]
        return data

    @classmethod
    def from_json(cls, data: dict) -> StageRecord:
        inputs: dict[str, list[InputFile]] = {}
        model = data.get("model")
        for name, value in (data.get("inputs") or {}).items():
            if name == "model" and isinstance(value, dict):  # records before this format
                model = model or value
            elif isinstance(value, list):
                inputs[name] = [InputFile.from_json(v) for v in value if isinstance(v, dict)]
        return cls(
            stage=data["stage"], run_id=data["run_id"], finished=data.get("finished", ""),
            seconds=float(data.get("seconds") or 0.0), parameters=data.get("parameters") or {},
            inputs=inputs, model=ModelInput.from_json(model) if model else None,
            upstream=data.get("upstream") or {}, stats=data.get("stats") or {},
            files={table: [FileEntry.from_json(f) for f in entries]
                   for table, entries in (data.get("files") or {}).items()},
            shards=data.get("shards") or {},
            plan=data.get("plan") or [],
            relocations=[Relocation(**r) for r in data.get("relocations") or []],
        )


# -- locations ------------------------------------------------------------------------------


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class Locations:
    """How locations are recorded for one output folder (see the module docstring)."""

    def __init__(self, root: str, local: bool):
        self.root = root  # the folder's absolute path, or its URI
        self.local = local

    def record(self, location: str) -> tuple[str, bool]:
        """(what to record, whether it is relative to OUT) for a location as a user gave it."""
        absolute = absolute_location(location)
        root = self.root if self.local else self.root.rstrip("/")
        if _is_under(absolute, root):
            return posixpath.relpath(absolute.replace(os.sep, "/"),
                                     root.replace(os.sep, "/")), True
        return absolute, False

    def resolve(self, location: str, inside_out: bool) -> str:
        """Where a recorded location is now."""
        if not inside_out:
            return location
        if location in ("", "."):
            return self.root
        return (os.path.join(self.root, location) if self.local
                else f"{self.root.rstrip('/')}/{location}")

    def input_file(self, location: str, **facts: Any) -> InputFile:
        recorded, inside = self.record(location)
        return InputFile(recorded, inside, **facts)

    def model(self, location: str, model_id: str | None) -> ModelInput:
        recorded, inside = self.record(location)
        return ModelInput(recorded, inside, model_id)


def relocated(location: str, old: str, new: str) -> str | None:
    """`location` with the prefix `old` replaced by `new`, or None when it is not under it."""
    old, new = old.rstrip("/") or "/", new.rstrip("/") or "/"
    if location == old:
        return new
    if location.startswith(old.rstrip("/") + "/"):
        return new.rstrip("/") + location[len(old.rstrip("/")):]
    return None


def relocate_record(record: StageRecord, old: str, new: str) -> tuple[StageRecord, int]:
    """The record with its absolute inputs under `old` moved under `new`; how many moved."""
    moved = 0
    inputs: dict[str, list[InputFile]] = {}
    for name, entries in record.inputs.items():
        inputs[name] = []
        for entry in entries:
            target = None if entry.inside_out else relocated(entry.location, old, new)
            if target is not None:
                moved += 1
                entry = replace(entry, location=target)
            inputs[name].append(entry)
    model = record.model
    if model is not None and not model.inside_out:
        target = relocated(model.location, old, new)
        if target is not None:
            moved += 1
            model = replace(model, location=target)
    if not moved:
        return record, 0
    return replace(record, inputs=inputs, model=model,
                   relocations=[*record.relocations, Relocation(old, new, now_utc())]), moved
