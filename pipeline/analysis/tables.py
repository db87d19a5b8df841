"""Reading the pipeline's tables (fresh ones only) and writing the analyses' own tables."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.runner import StageSpec, WholeStage


def output_folder(out_root: str | Path) -> OutputFolder:
    out = OutputFolder(str(out_root))
    out.check_exists()
    return out


def require(out: OutputFolder, *tables: str) -> None:
    """Stop with one line unless every table is there and fresh."""
    Lineage(out).require(tables)


def read_table(out: OutputFolder, table: str, columns: list[str] | None = None,
               filter: ds.Expression | None = None) -> pa.Table:
    """A fresh table's committed rows with its declared schema (one line if it is stale or
    missing)."""
    lineage = Lineage(out)
    lineage.require([table])
    return out.read_table(table, lineage.committed_files(table), columns, filter)


def analysis_stage(out: OutputFolder, stage: str, tables: Iterable[str], reads: Iterable[str],
                   parameters: dict, inputs: dict | None = None) -> WholeStage:
    """The stage an analysis runs as: it reads fresh `reads`, and its `tables` replace what it
    wrote before, recorded like any stage (`with analysis_stage(...) as run: run.write(...)`)."""
    return WholeStage(out, StageSpec(stage, list(tables), parameters, inputs or {}), reads)
