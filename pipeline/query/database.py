"""`longtail query`: one read-only statement over an output folder's views, and its export.

Only SELECT and EXPLAIN run (`check_read_only`); the connection cannot reach files outside
OUT nor change its own settings (`longtail.output.views.connect`). Results go to a file through
`export_result`, never through SQL, and never into OUT.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.output.storage import atomic_path
from longtail.output.views import MACROS, connect, query_error
from longtail.schemas import ALL_TABLES

READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")
EXPORT_FORMATS = (".csv", ".parquet", ".jsonl")


def check_read_only(sql: str) -> str:
    """The one read-only statement in `sql`; anything else is refused with one line."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as err:
        raise UsageError(f"query failed: {str(err).splitlines()[0]}") from None
    if not statements:
        raise UsageError("no SQL statement given (the query is empty or only comments)")
    if len(statements) > 1:
        raise UsageError(f"one statement at a time, please ({len(statements)} given)")
    kind = statements[0].type.name
    if kind not in READ_ONLY_STATEMENTS:
        raise UsageError(f"longtail query is read-only: {kind} statements are refused; "
                         "export results with --output FILE")
    return sql


def referenced_tables(sql: str) -> set[str]:
    """The output folder's tables a statement reads: from DuckDB's parse tree for a SELECT,
    else (EXPLAIN) every table whose name appears as a word in the SQL."""
    with duckdb.connect(":memory:") as con:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
                found.add(node["table_name"].lower())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    words = set(re.findall(r"[a-z_]+", sql.lower()))
    used = {t for name, (_, tables) in MACROS.items() if name in words for t in tables}
    if tree.get("error"):
        return used | {t for t in ALL_TABLES if t in words}
    walk(tree)
    return used | {t for t in found if t in ALL_TABLES}


def run_query(out_root: str | OutputFolder, sql: str, allow_stale: bool = False
              ) -> pa.Table:
    """The result of one read-only statement as an Arrow table; refuses (one line) when a
    table it reads is stale or missing, unless `allow_stale`."""
    check_read_only(sql)
    reads = () if allow_stale else sorted(referenced_tables(sql))
    with connect(out_root, allow_stale, reads) as con:
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as err:
            raise UsageError(query_error(err)) from None


def check_export_target(path: str, out: OutputFolder) -> Path:
    """The file `--output` names, when it can be written: a known format, outside OUT, in a
    folder that exists."""
    target = Path(path)
    if target.suffix.lower() not in EXPORT_FORMATS:
        raise UsageError(f"--output must end in {', '.join(EXPORT_FORMATS)}, got {path}")
    if out.storage.local:
        root = out.storage.local_path().resolve()
        resolved = target.resolve()
        if resolved == root or resolved.is_relative_to(root):
            raise UsageError(f"--output {path} is inside the output folder {out.display()}; "
                             "write results somewhere else")
    if not target.parent.is_dir():
        raise UsageError(f"--output folder does not exist: {target.parent}")
    return target


def export_result(result: pa.Table, path: str, out: OutputFolder) -> int:
    """Write a query result to a .csv, .parquet or .jsonl file outside OUT; returns rows."""
    target = check_export_target(path, out)
    suffix = target.suffix.lower()
    with atomic_path(target) as tmp:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(result, tmp, compression="zstd")
        elif suffix == ".csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(result, tmp)
        else:
            with tmp.open("w", encoding="utf-8") as fh:
                for row in result.to_pylist():
                    fh.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
    return result.num_rows
