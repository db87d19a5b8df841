"""Reading the pipeline's tables (fresh ones only) and writing the analyses' own tables."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage


def output_folder(out_root: str | Path) -> OutputFolder:
    out = OutputFolder(str(out_root))
    out.check_exists()
    return out


def require(out: OutputFolder, *tables: str, lineage: Lineage | None = None) -> None:
    """Stop with one line unless every table is there and fresh."""
    (lineage or Lineage(out)).require(tables)


def read_table(out: OutputFolder, table: str, columns: list[str] | None = None,
               filter: ds.Expression | None = None, lineage: Lineage | None = None
               ) -> pa.Table:
    """A fresh table's committed rows with its declared schema (one line if it is stale or
    missing). A command that reads several tables passes its one `lineage`."""
    lineage = lineage or Lineage(out)
    lineage.require([table])
    return out.read_table(table, lineage.committed_files(table), columns, filter)
