"""The output folder: tables as Parquet files, commit markers, stage records, the manifest.

Layout of OUT (a local folder or an object-store prefix, through `longtail.output.storage`):
    <table>/part-<stage>-<shard>-<commit>.parquet   table files, never renamed once written
    _markers/<stage>/<shard>.done    commit marker of a shard: the files it committed
    _markers/<stage>/_plan.json      parameters and input fingerprints of the stage's run
    _stages/<stage>.json             record of the stage's last finished run (see lineage)
    manifest.json                    every stage's record without file lists, and row counts
    longtail.duckdb                  one view per table over the committed files

**Commit protocol.** A shard writes its table files under names that hold a fresh commit id,
then writes its marker, which names those files with their rows and sizes. A file that no
marker names is invisible: readers (the next stage, `longtail query`, the analyses) read only
the files of finished stages' records. A task killed mid-write, or a duplicate of a task, leaves
files no marker names; they are deleted when the stage runs again. The protocol needs no
rename, so it is the same on a local disk and on an object store.
"""

from __future__ import annotations

import io
import posixpath
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from longtail.output.storage import TMP_PREFIX, FileStat, Storage
from longtail.schemas import ALL_TABLES

MARKERS = "_markers"
RECORDS = "_stages"
MANIFEST = "manifest.json"
PLAN = "_plan.json"
MARKER_SUFFIX = ".done"
_PART = re.compile(r"^part-(?P<stage>[a-z_]+)-")


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One committed table file: path relative to OUT, rows and bytes."""

    table: str
    path: str
    rows: int
    bytes: int

    def to_json(self) -> dict:
        return {"table": self.table, "path": self.path, "rows": self.rows, "bytes": self.bytes}

    @classmethod
    def from_json(cls, data: dict) -> FileEntry:
        return cls(data["table"], data["path"], int(data["rows"]), int(data["bytes"]))


def new_commit_id() -> str:
    return uuid.uuid4().hex[:12]


def part_stage(name: str) -> str | None:
    """The stage a table file's name says wrote it."""
    match = _PART.match(name)
    return match.group("stage") if match else None


class OutputFolder:
    """Reading and writing one output folder by the commit protocol."""

    def __init__(self, root: str | Storage):
        self.storage = root if isinstance(root, Storage) else Storage(root)

    def __repr__(self) -> str:
        return f"OutputFolder({self.storage.location!r})"

    @property
    def location(self) -> str:
        """OUT as the user named it (a path or a URI)."""
        return self.storage.location

    def display(self, relative: str = "") -> str:
        return self.storage.display(relative)

    # -- table files --------------------------------------------------------------------

    def write_table_file(self, table: str, name: str, data: pa.Table,
                         row_group_rows: int | None = None) -> FileEntry:
        """Write `data`, cast to `table`'s declared schema, as OUT/<table>/<name>."""
        schema = ALL_TABLES[table]
        data = data.select(schema.names).cast(schema)
        path = f"{table}/{name}"
        buffer = io.BytesIO()
        pq.write_table(data, buffer, compression="zstd", row_group_size=row_group_rows)
        payload = buffer.getvalue()
        with self.storage.open_output(path) as stream:
            stream.write(payload)
        return FileEntry(table, path, data.num_rows, len(payload))

    def table_listing(self, tables: Iterable[str]) -> dict[str, FileStat]:
        """Every file under the given table folders, by path relative to OUT."""
        found: dict[str, FileStat] = {}
        for table in tables:
            found.update(self.storage.list(table))
        return found

    def missing_or_changed(self, files: Iterable[FileEntry],
                           listing: dict[str, FileStat]) -> str | None:
        """Why the committed `files` are not all there as written, or None when they are."""
        for entry in files:
            seen = listing.get(entry.path)
            if seen is None:
                return f"{entry.path} is missing"
            if seen.size != entry.bytes:
                return (f"{entry.path} changed ({entry.bytes:,} bytes when written, "
                        f"{seen.size:,} now)")
        return None

    def remove_uncommitted(self, stage: str, tables: Iterable[str],
                           committed: Iterable[FileEntry]) -> list[str]:
        """Delete `stage`'s files in `tables` that no commit names, and temporaries; returns
        their paths. Only for a stage that is not running elsewhere at the same time."""
        keep = {entry.path for entry in committed}
        removed = []
        for path in self.table_listing(tables):
            name = posixpath.basename(path)
            if path in keep:
                continue
            if name.startswith(TMP_PREFIX) or part_stage(name) == stage:
                self.storage.delete(path)
                removed.append(path)
        return removed

    # -- markers and plans --------------------------------------------------------------

    def marker_path(self, stage: str, shard_id: str) -> str:
        return f"{MARKERS}/{stage}/{shard_id}{MARKER_SUFFIX}"

    def write_marker(self, stage: str, shard_id: str, marker: dict) -> None:
        self.storage.write_json(self.marker_path(stage, shard_id), marker)

    def markers(self, stage: str) -> dict[str, dict]:
        """Every commit marker of `stage`, by shard id."""
        found = {}
        for shard_id, path in self._listed(f"{MARKERS}/{stage}", MARKER_SUFFIX).items():
            marker = self.storage.read_json(path)
            if isinstance(marker, dict) and "files" in marker:
                found[shard_id] = marker
        return found

    def has_markers(self, stage: str) -> bool:
        """Whether any shard of `stage` is committed (a listing, no marker is read)."""
        return bool(self._listed(f"{MARKERS}/{stage}", MARKER_SUFFIX))

    def _listed(self, folder: str, suffix: str) -> dict[str, str]:
        """The files in `folder` named `<name><suffix>` (temporaries aside): path by name."""
        found = {}
        for path in sorted(self.storage.list(folder)):
            name = posixpath.basename(path)
            if name.endswith(suffix) and not name.startswith(TMP_PREFIX):
                found[name.removesuffix(suffix)] = path
        return found

    def delete_marker(self, stage: str, shard_id: str) -> None:
        self.storage.delete(self.marker_path(stage, shard_id))

    def plan(self, stage: str) -> dict | None:
        return self.storage.read_json(f"{MARKERS}/{stage}/{PLAN}")

    def write_plan(self, stage: str, plan: dict) -> None:
        self.storage.write_json(f"{MARKERS}/{stage}/{PLAN}", plan)

    # -- stage records ------------------------------------------------------------------

    def record(self, stage: str) -> dict | None:
        return self.storage.read_json(f"{RECORDS}/{stage}.json")

    def records(self) -> dict[str, dict]:
        """The record of every stage that has finished, by stage."""
        found = {}
        for stage, path in self._listed(RECORDS, ".json").items():
            record = self.storage.read_json(path)
            if isinstance(record, dict):
                found[stage] = record
        return found

    def write_record(self, stage: str, record: dict) -> None:
        self.storage.write_json(f"{RECORDS}/{stage}.json", record)

    def delete_record(self, stage: str) -> None:
        self.storage.delete(f"{RECORDS}/{stage}.json")

    def has_run(self, stage: str) -> bool:
        """True when `stage` left anything behind: a record, markers or a plan."""
        return self.record(stage) is not None or bool(self.storage.list(f"{MARKERS}/{stage}"))

    def clear_stage(self, stage: str, tables: Iterable[str]) -> None:
        """Forget everything `stage` wrote (for --overwrite): its record, markers and files."""
        self.delete_record(stage)
        self.storage.delete_dir(f"{MARKERS}/{stage}")
        self.remove_uncommitted(stage, tables, ())

    # -- reading committed tables -------------------------------------------------------

    def committed_files(self, table: str, records: dict[str, dict] | None = None
                        ) -> list[FileEntry]:
        """The files of `table` that finished stages committed, in stage then path order."""
        records = self.records() if records is None else records
        files = []
        for stage in sorted(records):
            for data in records[stage].get("files", {}).get(table, []):
                files.append(FileEntry.from_json(data))
        return files

    def row_count(self, table: str, records: dict[str, dict] | None = None) -> int:
        return sum(f.rows for f in self.committed_files(table, records))

    def dataset(self, table: str, files: Iterable[FileEntry]) -> ds.Dataset:
        """The given committed files of `table` as one Arrow dataset with its declared schema."""
        return ds.dataset([self.storage.path(f.path) for f in files], format="parquet",
                          filesystem=self.storage.fs, schema=ALL_TABLES[table])

    def read_table(self, table: str, files: Iterable[FileEntry],
                   columns: list[str] | None = None,
                   filter: ds.Expression | None = None) -> pa.Table:
        """Rows of the given committed files of `table` (empty, with its columns, for none)."""
        return self.dataset(table, files).to_table(columns=columns, filter=filter)

    def read_file(self, entry: FileEntry | str, columns: list[str] | None = None) -> pa.Table:
        path = entry.path if isinstance(entry, FileEntry) else entry
        with self.storage.open_input(path) as handle:
            return pq.read_table(handle, columns=columns)

    def manifest(self) -> dict:
        return self.storage.read_json(MANIFEST) or {"stages": {}}

    def write_manifest(self, manifest: dict) -> None:
        self.storage.write_json(MANIFEST, manifest)

    def check_exists(self) -> None:
        """One line when OUT does not exist or cannot be reached."""
        self.storage.check_readable()

