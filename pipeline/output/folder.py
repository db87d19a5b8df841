"""The output folder: tables as Parquet files, stage records, runs in progress, the manifest.

Layout of OUT (a local folder or an object-store prefix, through `longtail.output.storage`):
    <table>/part-<stage>-<shard>-<commit>.parquet   committed table files, and only those
    _stages/<stage>.json             record of the stage's last finished run (see lineage)
    _work/<stage>/                   a run in progress: plan.json, markers/<shard>.done, and
                                     the files it has written so far, <table>/part-...parquet
    _work/<stage>/commit.json        the commit journal while a run is being committed
    _lock (_lock.json on stores)     the one writer holding OUT (see `longtail.output.lock`)
    manifest.json                    every stage's record without file lists, and row counts
    longtail.duckdb                  one view per table over the committed files

**Commit protocol.** A run writes its table files under `_work/<stage>/` with names that hold a
fresh commit id; each shard then writes a marker naming its files with their rows, sizes and
checksums. When every shard is done, the stage is committed: a journal lists the files to move
into `<table>/`, the record to write and the replaced run's files to delete; the moves are
made, the record written (the moment the new run becomes the stage's output) and the old files
deleted. A command killed at any point leaves the previous run intact (or, once the journal is
written, a commit the next writer completes), so `read_parquet('OUT/<table>/*.parquet')` reads
exactly the current table once a command has finished. Table files are never renamed inside
`<table>/`, so the protocol is the same on a local disk and on an object store.
"""

from __future__ import annotations

import io
import posixpath
import re
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from longtail.errors import UsageError
from longtail.output.checksums import (
    TAIL_BYTES,
    digest,
    read_chunks,
    stream_digest,
    tail_digest,
)
from longtail.output.records import FileEntry, Locations, StageRecord
from longtail.output.storage import TMP_PREFIX, FileStat, Storage
from longtail.schemas import ALL_TABLES

WORK = "_work"
RECORDS = "_stages"
MANIFEST = "manifest.json"
PLAN = "plan.json"
JOURNAL = "commit.json"
MARKER_SUFFIX = ".done"
_PART = re.compile(r"^part-(?P<stage>[a-z_]+)-")
RESERVED = frozenset({WORK, RECORDS, "_markers"})
# pages carry CRC checksums (written with write_page_checksum) that every read verifies
PARQUET = ds.ParquetFileFormat(
    default_fragment_scan_options=ds.ParquetFragmentScanOptions(
        page_checksum_verification=True))


def new_commit_id() -> str:
    return uuid.uuid4().hex[:12]


def part_stage(name: str) -> str | None:
    """The stage a table file's name says wrote it."""
    match = _PART.match(name)
    return match.group("stage") if match else None


def final_path(path: str) -> str:
    """Where a staged file (`_work/<stage>/<table>/<name>`) lives once committed."""
    if path.startswith(WORK + "/"):
        return "/".join(path.split("/")[2:])
    return path


class OutputFolder:
    """Reading and writing one output folder by the commit protocol."""

    def __init__(self, root: str | Storage):
        self.storage = root if isinstance(root, Storage) else Storage(root)
        root_location = self.storage.root if self.storage.local else self.storage.location
        self.locations = Locations(root_location, self.storage.local)

    def __repr__(self) -> str:
        return f"OutputFolder({self.storage.location!r})"

    @property
    def location(self) -> str:
        """OUT as the user named it (a path or a URI)."""
        return self.storage.location

    def display(self, relative: str = "") -> str:
        return self.storage.display(relative)

    # -- table files --------------------------------------------------------------------

    def write_table_file(self, table: str, path: str, data: pa.Table,
                         row_group_rows: int | None = None) -> FileEntry:
        """Write `data`, cast to `table`'s declared schema, as OUT/<path>, with checksums of
        the bytes written."""
        schema = ALL_TABLES[table]
        data = data.select(schema.names).cast(schema)
        buffer = io.BytesIO()
        pq.write_table(data, buffer, compression="zstd", row_group_size=row_group_rows,
                       write_page_checksum=True)
        payload = buffer.getvalue()
        with self.storage.open_output(path) as stream:
            stream.write(payload)
        stat = self.storage.stat(path)
        return FileEntry(table, path, data.num_rows, len(payload), digest(payload),
                         tail_digest(payload), stat.mtime_ns if stat else None)

    def table_listing(self, tables: Iterable[str], under: str = "") -> dict[str, FileStat]:
        """Every file under the given table folders (of `under`), by path relative to OUT."""
        found: dict[str, FileStat] = {}
        for table in tables:
            found.update(self.storage.list(f"{under}/{table}" if under else table))
        return found

    def check_files(self, files: Iterable[FileEntry],
                    listing: dict[str, FileStat]) -> str | None:
        """The cheap check: why the committed `files` are not all there as written, or None.
        A file whose modification time differs from the one it was written with has its tail
        (Parquet footer) compared with its checksum."""
        for entry in files:
            seen = listing.get(entry.path)
            if seen is None:
                return f"{entry.path} is missing"
            if seen.size != entry.bytes:
                return (f"{entry.path} changed ({entry.bytes:,} bytes when written, "
                        f"{seen.size:,} now)")
            if entry.tail and seen.mtime_ns != entry.mtime_ns \
                    and self.tail_of(entry) != entry.tail:
                return f"{entry.path} is damaged (its content is not what was written)"
        return None

    def tail_of(self, entry: FileEntry) -> str | None:
        try:
            with self.storage.open_input(entry.path) as handle:
                handle.seek(max(0, entry.bytes - TAIL_BYTES))
                return digest(handle.read())
        except OSError:
            return None

    def verify_files(self, files: Iterable[FileEntry]) -> list[str]:
        """The full check: one line per file whose sha256 is not the one it was written with."""
        problems = []
        for entry in files:
            if not entry.sha256:
                continue
            try:
                with self.storage.open_input(entry.path) as handle:
                    found = stream_digest(read_chunks(handle))
            except FileNotFoundError:
                problems.append(f"{entry.path} is missing")
                continue
            except OSError as err:
                problems.append(f"{entry.path} cannot be read: {err}")
                continue
            if found != entry.sha256:
                problems.append(f"{entry.path} is damaged (sha256 {found[:12]}..., written "
                                f"as {entry.sha256[:12]}...)")
        return problems

    # -- runs in progress ---------------------------------------------------------------

    def work_dir(self, stage: str) -> str:
        return f"{WORK}/{stage}"

    def marker_path(self, stage: str, shard_id: str) -> str:
        return f"{WORK}/{stage}/markers/{shard_id}{MARKER_SUFFIX}"

    def write_marker(self, stage: str, shard_id: str, marker: dict) -> None:
        self.storage.write_json(self.marker_path(stage, shard_id), marker)

    def markers(self, stage: str) -> dict[str, dict]:
        """Every commit marker of `stage`'s run in progress, by shard id."""
        found = {}
        for shard_id, path in self._listed(f"{WORK}/{stage}/markers", MARKER_SUFFIX).items():
            try:
                marker = self.storage.read_json(path)
            except ValueError:
                continue  # a marker cut short is no marker: its shard is done again
            if isinstance(marker, dict) and "files" in marker:
                found[shard_id] = marker
        return found

    def has_markers(self, stage: str) -> bool:
        return bool(self._listed(f"{WORK}/{stage}/markers", MARKER_SUFFIX))

    def delete_marker(self, stage: str, shard_id: str) -> None:
        self.storage.delete(self.marker_path(stage, shard_id))

    def _listed(self, folder: str, suffix: str) -> dict[str, str]:
        """The files in `folder` named `<name><suffix>` (temporaries aside): path by name."""
        found = {}
        for path in sorted(self.storage.list(folder)):
            name = posixpath.basename(path)
            if name.endswith(suffix) and not name.startswith(TMP_PREFIX):
                found[name.removesuffix(suffix)] = path
        return found

    def plan(self, stage: str) -> dict | None:
        try:
            return self.storage.read_json(f"{WORK}/{stage}/{PLAN}")
        except ValueError:
            return None

    def write_plan(self, stage: str, plan: dict) -> None:
        self.storage.write_json(f"{WORK}/{stage}/{PLAN}", plan)

    def has_work(self, stage: str) -> bool:
        """Whether a run of `stage` started and has not been committed."""
        return bool(self.storage.list(f"{WORK}/{stage}"))

    def discard_work(self, stage: str) -> None:
        """Forget a run in progress: its plan, markers and files (never the committed run)."""
        self.storage.delete_dir(f"{WORK}/{stage}")

    def started_stages(self) -> set[str]:
        return {path.split("/")[1] for path in self.storage.list(WORK, recursive=True)
                if path.count("/") >= 2}

    # -- stage records ------------------------------------------------------------------

    def record_path(self, stage: str) -> str:
        return f"{RECORDS}/{stage}.json"

    def record(self, stage: str) -> StageRecord | None:
        path = self.record_path(stage)
        try:
            data = self.storage.read_json(path)
        except ValueError as err:
            raise UsageError(f"{self.display(path)} is damaged ({str(err).splitlines()[0]}); "
                             f"restore it, or redo the stage with `longtail {stage} "
                             "--overwrite`") from None
        if data is None:
            return None
        try:
            return StageRecord.from_json(data)
        except (KeyError, TypeError, ValueError) as err:
            raise UsageError(f"{self.display(path)} is damaged (not a stage record: {err}); "
                             f"restore it, or redo the stage with `longtail {stage} "
                             "--overwrite`") from None

    def records(self) -> dict[str, StageRecord]:
        """The record of every stage that has finished, by stage."""
        found = {}
        for stage in self._listed(RECORDS, ".json"):
            record = self.record(stage)
            if record is not None:
                found[stage] = record
        return found

    def write_record(self, record: StageRecord) -> None:
        self.storage.write_json(self.record_path(record.stage), record.to_json())

    def delete_record(self, stage: str) -> None:
        self.storage.delete(self.record_path(stage))

    # -- commits ------------------------------------------------------------------------

    def commit(self, record: StageRecord, staged: Iterable[FileEntry],
               retire: Iterable[str] = ()) -> None:
        """Make `record` the stage's output: the staged files move into their table folders,
        the record is written, the files of the run it replaces (and the records and files of
        the `retire` stages, which it stands in for) are deleted. Written down first as a
        journal, so that a command killed half-way is completed by the next one."""
        kept = {f.path for f in record.all_files()}
        replaced = [r for r in (self.record(s) for s in {record.stage, *retire}) if r]
        journal = {
            "record": record.to_json(),
            "moves": [[f.path, final_path(f.path)] for f in staged
                      if f.path != final_path(f.path)],
            "remove": sorted(f.path for r in replaced for f in r.all_files()
                             if f.path not in kept),
            "retire": sorted(s for s in retire if s != record.stage),
        }
        self.storage.write_json(f"{WORK}/{record.stage}/{JOURNAL}", journal)
        self._apply(journal)

    def _apply(self, journal: dict) -> None:
        for source, target in journal["moves"]:
            if self.storage.stat(source) is not None:
                self.storage.move(source, target)
        record = StageRecord.from_json(journal["record"])
        for stage in journal.get("retire", []):
            self.delete_record(stage)
            self.discard_work(stage)
        self.write_record(record)
        for path in journal["remove"]:
            self.storage.delete(path)
        self.discard_work(record.stage)

    def interrupted_commits(self) -> list[str]:
        """Stages whose commit was stopped half-way (the next writer completes it)."""
        return sorted(path.split("/")[1] for path in self.storage.list(WORK, recursive=True)
                      if path.endswith("/" + JOURNAL))

    def recover(self, tables: Iterable[str]) -> list[str]:
        """Complete interrupted commits, then delete table files no record names (left by
        older versions or by commits that were interrupted); returns what was done. Only
        while holding the lock."""
        done = []
        for stage in self.interrupted_commits():
            try:
                journal = self.storage.read_json(f"{WORK}/{stage}/{JOURNAL}")
            except ValueError:
                journal = None
            if journal:  # a journal cut short was never acted on: the run is simply undone
                self._apply(journal)
                done.append(f"completed the interrupted commit of `{stage}`")
        named = {f.path for r in self.records().values() for f in r.all_files()}
        stray = [path for path in self.table_listing(tables)
                 if path not in named and (part_stage(posixpath.basename(path))
                                           or posixpath.basename(path).startswith(TMP_PREFIX))]
        for path in stray:
            self.storage.delete(path)
        if stray:
            done.append(f"removed {len(stray)} table files no record names")
        return done

    # -- reading committed tables -------------------------------------------------------

    def committed_files(self, table: str, records: dict[str, StageRecord] | None = None
                        ) -> list[FileEntry]:
        """The files of `table` that finished stages committed, in stage then path order."""
        records = self.records() if records is None else records
        return [entry for stage in sorted(records)
                for entry in records[stage].files.get(table, [])]

    def row_count(self, table: str) -> int:
        return sum(f.rows for f in self.committed_files(table))

    def dataset(self, table: str, files: Iterable[FileEntry]) -> ds.Dataset:
        """The given committed files of `table` as one Arrow dataset with its declared schema."""
        return ds.dataset([self.storage.path(f.path) for f in files], format=PARQUET,
                          filesystem=self.storage.fs, schema=ALL_TABLES[table])

    def read_table(self, table: str, files: Iterable[FileEntry],
                   columns: list[str] | None = None,
                   filter: ds.Expression | None = None) -> pa.Table:
        """Rows of the given committed files of `table` (empty, with its columns, for none)."""
        files = list(files)
        try:
            return self.dataset(table, files).to_table(columns=columns, filter=filter)
        except (OSError, pa.ArrowInvalid) as err:
            raise UsageError(self.damage_line(table, files, err)) from None

    def damage_line(self, table: str, files: list[FileEntry], err: Exception) -> str:
        """One line naming the file of `table` that could not be read (found by checking each
        file's content), or the error itself when every file checks out."""
        damaged = self.verify_files(files)
        if damaged:
            return f"{self.display()}: {damaged[0]}; run `longtail status --verify` to see all"
        return f"cannot read {table} in {self.display()}: {str(err).splitlines()[0]}"

    def read_file(self, entry: FileEntry | str, columns: list[str] | None = None) -> pa.Table:
        path = entry.path if isinstance(entry, FileEntry) else entry
        with self.storage.open_input(path) as handle:
            return pq.read_table(handle, columns=columns)

    def manifest(self) -> dict:
        try:
            return self.storage.read_json(MANIFEST) or {"stages": {}}
        except ValueError:
            return {"stages": {}}

    def write_manifest(self, manifest: dict) -> None:
        self.storage.write_json(MANIFEST, manifest)

    def check_exists(self) -> None:
        """One line when OUT does not exist or cannot be reached."""
        self.storage.check_readable()

