"""OUT/longtail.duckdb: one view per table over the Parquet files, with paths relative to OUT.

Relative paths keep the folder movable. DuckDB resolves them against the working directory or
`file_search_path`; `connect()` sets the latter, and from a shell `cd OUT && duckdb longtail.duckdb`
works as it is.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from longtail.errors import UsageError
from longtail.output import OutputFolder
from longtail.schemas.tables import TABLES

DATABASE = "longtail.duckdb"


def _sql_type(arrow_type) -> str:
    """The DuckDB type of an empty column, so an absent table still has its declared columns."""
    import pyarrow as pa

    if pa.types.is_list(arrow_type):
        return _sql_type(arrow_type.value_type) + "[]"
    return {
        pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.float64(): "DOUBLE",
        pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN",
    }[arrow_type]


def view_sql(out: OutputFolder, table: str) -> str:
    if out.has_table(table):
        return (f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM "
                f"read_parquet('{table}/*.parquet', union_by_name = true)")
    columns = ", ".join(f"NULL::{_sql_type(f.type)} AS {f.name}" for f in TABLES[table])
    return f"CREATE OR REPLACE VIEW {table} AS SELECT {columns} WHERE false"


def build_database(out_root: str | Path) -> Path:
    """(Re)create OUT/longtail.duckdb with a view for every declared table."""
    out = OutputFolder(out_root)
    path = out.root / DATABASE
    with duckdb.connect(str(path)) as con:
        con.execute(f"SET file_search_path = '{_quoted(out.root.resolve())}'")
        for table in TABLES:
            con.execute(view_sql(out, table))
    return path


def connect(out_root: str | Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    out = OutputFolder(out_root)
    path = out.root / DATABASE
    if not out.root.is_dir():
        raise UsageError(f"output folder not found: {out_root}")
    if not path.exists():
        raise UsageError(f"{path} not found: run a longtail stage into {out_root} first")
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"SET file_search_path = '{_quoted(out.root.resolve())}'")
    return con


def run_query(out_root: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    with connect(out_root) as con:
        try:
            cursor = con.execute(sql)
        except duckdb.Error as err:
            raise UsageError(f"query failed: {str(err).splitlines()[0]}") from err
        columns = [d[0] for d in cursor.description or []]
        return columns, cursor.fetchall()


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
