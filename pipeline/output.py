"""The output folder: one Parquet folder per table, per-shard completion markers, the manifest.

Layout of OUT:
    <table>/part-<stage>-<shard>.parquet   written by sharded stages (link, qa)
    <table>/part-*.parquet         written by Spark for whole-table stages (index, count)
    _markers/<stage>/<shard>.done  JSON stats of a finished shard
    manifest.json                  inputs, parameters, versions, row counts, time per stage
    longtail.duckdb                one view per table

Every file is written under a temporary name in the same folder and renamed into place, so a
killed run never leaves a half-written file under a final name.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from longtail.errors import UsageError
from longtail.schemas.tables import TABLES

TMP_PREFIX = ".tmp-"
MARKERS = "_markers"


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path beside `final`, renamed to `final` only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{final.name}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_json_atomic(path: Path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


class OutputFolder:
    """Paths and atomic writers for one output folder."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def table_dir(self, table: str) -> Path:
        if table not in TABLES:
            raise KeyError(f"unknown table {table!r}")
        return self.root / table

    def part_path(self, table: str, stage: str, shard_id: str) -> Path:
        return self.table_dir(table) / f"part-{stage}-{shard_id}.parquet"

    def write_part(self, table: str, stage: str, shard_id: str, data: pa.Table) -> int:
        """Write one shard's rows of `table`, cast to its declared schema; returns the rows."""
        data = data.select(TABLES[table].names).cast(TABLES[table])
        with atomic_path(self.part_path(table, stage, shard_id)) as tmp:
            pq.write_table(data, tmp, compression="zstd")
        return data.num_rows

    def marker_path(self, stage: str, shard_id: str) -> Path:
        return self.root / MARKERS / stage / f"{shard_id}.done"

    def is_done(self, stage: str, shard_id: str) -> bool:
        return self.marker_path(stage, shard_id).exists()

    def mark_done(self, stage: str, shard_id: str, stats: dict) -> None:
        write_json_atomic(self.marker_path(stage, shard_id), stats)

    def shard_stats(self, stage: str) -> dict[str, dict]:
        """Stats of every finished shard of `stage`, by shard id."""
        folder = self.root / MARKERS / stage
        if not folder.is_dir():
            return {}
        return {
            p.name.removesuffix(".done"): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("*.done"))
        }

    def clear_stage(self, stage: str, tables: list[str]) -> None:
        """Forget a sharded stage's markers and the parts it wrote (for --overwrite)."""
        shutil.rmtree(self.root / MARKERS / stage, ignore_errors=True)
        for table in tables:
            for part in self.table_dir(table).glob(f"part-{stage}-*.parquet"):
                part.unlink()

    def check_plan(self, stage: str, plan: dict) -> None:
        """Refuse to resume a stage whose earlier run had other inputs or parameters.

        The plan is saved when a stage starts, so even a killed run leaves it behind.
        """
        path = self.root / MARKERS / stage / "_plan.json"
        if path.exists():
            previous = json.loads(path.read_text(encoding="utf-8"))
            if previous != plan:
                changed = sorted(k for k in plan.keys() | previous.keys()
                                 if plan.get(k) != previous.get(k))
                raise UsageError(
                    f"{self.root} holds a '{stage}' run with different {', '.join(changed)}; "
                    "pass --overwrite to redo it or choose another --out"
                )
        else:
            write_json_atomic(path, plan)

    def remove_stale_temporaries(self, tables: list[str]) -> int:
        """Delete temporary files a killed run left behind; returns how many."""
        removed = 0
        for table in tables:
            folder = self.table_dir(table)
            if folder.is_dir():
                for p in folder.glob(f"{TMP_PREFIX}*"):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                    removed += 1
        return removed

    def _row_cache(self, stage: str) -> Path:
        return self.root / MARKERS / stage / "_rows.json"

    @staticmethod
    def _file_keys(files: list) -> dict[str, list[int]]:
        keys = {}
        for f in files:
            stat = os.stat(f.path)
            keys[f.path] = [stat.st_size, stat.st_mtime_ns]
        return keys

    def cached_row_counts(self, stage: str, files: list) -> dict[str, int] | None:
        """Row counts saved by an earlier run over the very same files (size and mtime)."""
        path = self._row_cache(stage)
        if not path.exists():
            return None
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("files") != self._file_keys(files):
            return None
        return cached["rows"]

    def cache_row_counts(self, stage: str, files: list, rows: dict[str, int]) -> None:
        write_json_atomic(self._row_cache(stage), {"files": self._file_keys(files), "rows": rows})

    def has_table(self, table: str) -> bool:
        folder = self.table_dir(table)
        return folder.is_dir() and any(folder.glob("*.parquet"))

    def row_count(self, table: str) -> int:
        """Rows in a table, from Parquet footers only."""
        folder = self.table_dir(table)
        if not folder.is_dir():
            return 0
        return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.glob("*.parquet"))

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"
