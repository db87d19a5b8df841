"""Reading the pipeline's tables and writing the analyses' own tables under OUT."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from longtail.errors import UsageError
from longtail.manifest import record_stage
from longtail.output import OutputFolder, atomic_path
from longtail.schemas.analysis import ANALYSIS_TABLES
from longtail.schemas.tables import TABLES

# The stage that writes each pipeline table, for "run ... first" messages.
_WRITTEN_BY = {
    "docs": "link", "mentions": "link", "entity_uris": "link", "failures": "link",
    "entities": "index", "doc_entities": "index", "cooccurrence": "index",
    "qa_questions": "qa", "qa_entities": "qa", "relevant_docs": "count",
}


def output_folder(out_root: str | Path) -> OutputFolder:
    out = OutputFolder(out_root)
    if not out.root.is_dir():
        raise UsageError(f"output folder not found: {out_root}")
    return out


def require(out: OutputFolder, *tables: str) -> None:
    for table in tables:
        if not out.has_table(table):
            raise UsageError(f"no {table} under {out.root}: run `longtail "
                             f"{_WRITTEN_BY.get(table, table)}` first")


def read_table(out: OutputFolder, table: str, columns: list[str] | None = None,
               filter: ds.Expression | None = None) -> pa.Table:
    """A pipeline table with its declared schema; an absent table reads as empty."""
    schema = TABLES[table]
    if not out.has_table(table):
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    dataset = ds.dataset(str(out.root / table), format="parquet", schema=schema)
    return dataset.to_table(columns=columns, filter=filter)


def parquet_glob(out: OutputFolder, table: str) -> str:
    """A read_parquet() argument for DuckDB, quoted."""
    return "'" + str(out.root / table / "*.parquet").replace("'", "''") + "'"


def write_analysis_table(out: OutputFolder, name: str, data: pa.Table) -> int:
    """Replace OUT/<name>/ with `data`, cast to its declared schema; returns the rows."""
    schema = ANALYSIS_TABLES[name]
    data = data.select(schema.names).cast(schema)
    folder = out.root / name
    final = folder / f"part-{name}-all.parquet"
    with atomic_path(final) as tmp:
        pq.write_table(data, tmp, compression="zstd")
    for old in folder.glob("*.parquet"):
        if old != final:
            old.unlink()
    return data.num_rows


def read_analysis_table(out: OutputFolder, name: str) -> pa.Table:
    folder = out.root / name
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise UsageError(f"no {name} under {out.root}")
    return ds.dataset(str(folder), format="parquet", schema=ANALYSIS_TABLES[name]).to_table()


def record_analysis(out: OutputFolder, stage: str, started: float, *, inputs: dict,
                    parameters: dict, stats: dict) -> None:
    """Add the analysis to OUT/manifest.json like any stage."""
    record_stage(out, stage, inputs=inputs, parameters=parameters, stats=stats,
                 seconds=time.perf_counter() - started)
