"""`longtail query`: one read-only statement over an output folder's views, and its export.

Read-only twice over. `check_read_only` runs only a SELECT, or an EXPLAIN [ANALYZE] of one,
as DuckDB's own parser sees the statement (the statement inside an EXPLAIN is what runs), and
refuses anything else in one line. And the connection could not write even what slips past
it: it reads OUT's committed files through a read-only filesystem and no other file
(`longtail.output.views.connect`). Results go to a file through `export_result`, never
through SQL, and never into OUT.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from longtail.console import unique_names
from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.storage import atomic_path
from longtail.output.views import MACROS, connect, damaged_file_line
from longtail.schemas import ALL_TABLES

EXPORT_FORMATS = (".csv", ".parquet", ".jsonl")


def parse(sql: str) -> list[duckdb.Statement]:
    """The statements of `sql` by DuckDB's parser; one line for SQL it cannot parse."""
    try:
        return duckdb.extract_statements(sql)
    except (duckdb.Error, ValueError) as err:  # ValueError: a type Python does not name
        raise UsageError(f"query failed: {str(err).strip().splitlines()[0]}") from None


def check_read_only(sql: str) -> str:
    """The text of the one SELECT that `sql` runs (itself, or the one it EXPLAINs); any
    other statement, or more than one, is refused with one line."""
    statements = parse(sql)
    if not statements:
        raise UsageError("no SQL statement given (the query is empty or only comments)")
    if len(statements) > 1:
        raise UsageError(f"one statement at a time, please ({len(statements)} given)")
    statement, explained = statements[0], False
    if statement_type(statement) == "EXPLAIN":
        statement, explained = explained_statement(statement), True
    kind = statement_type(statement)
    if kind == "SELECT":
        return statement.query
    if kind == "MULTI":  # a PIVOT without IN creates an ENUM type first
        raise UsageError("longtail query is read-only: this PIVOT would create a type first; "
                         "list the values it pivots on: PIVOT t ON c IN ('x', 'y')")
    name = statement_name(statement)
    article = "an" if name[0] in "AEIOU" else "a"
    refused = (f"EXPLAIN of {article} {name} statement is refused" if explained
               else f"{name} statements are refused")
    hint = ("export results with --output FILE" if name in ("COPY", "EXPORT")
            else "only SELECT runs, or EXPLAIN [ANALYZE] of a SELECT")
    raise UsageError(f"longtail query is read-only: {refused}; {hint}")


def statement_type(statement: duckdb.Statement) -> str:
    """The statement's type name; UNKNOWN for one the Python API has no name for (UPDATE
    EXTENSIONS)."""
    try:
        return statement.type.name
    except ValueError:
        return "UNKNOWN"


def explained_statement(statement: duckdb.Statement) -> duckdb.Statement:
    """The statement an EXPLAIN [ANALYZE] [VERBOSE] [(options)] runs: the first tail of its
    text after the EXPLAIN keyword, cut at a token, that DuckDB parses as one statement."""
    text = statement.query
    starts = [start for start, kind in duckdb.tokenize(text)
              if kind != duckdb.token_type.comment]
    after = next((i + 1 for i, start in enumerate(starts)
                  if text[start:start + 7].upper() == "EXPLAIN"), len(starts))
    for start in starts[after:]:
        try:
            inner = duckdb.extract_statements(text[start:])
        except (duckdb.Error, ValueError):
            continue
        if len(inner) == 1:
            return inner[0]
    raise UsageError("longtail query is read-only: cannot tell which statement this EXPLAIN "
                     "runs, so it is refused")


def statement_name(statement: duckdb.Statement) -> str:
    """What a statement is called by its first keyword (INSTALL, RESET, CHECKPOINT, FORCE
    INSTALL...), or by its type when it starts otherwise (WITH, a parenthesis)."""
    words = []
    for start, kind in duckdb.tokenize(statement.query):
        if kind == duckdb.token_type.comment:
            continue
        word = re.match(r"[A-Za-z_]+", statement.query[start:])
        if kind != duckdb.token_type.keyword or not word or word.group().upper() == "WITH":
            break
        words.append(word.group().upper())
        if words != ["FORCE"]:
            return " ".join(words)
    return statement_type(statement)


def referenced_tables(sql: str) -> set[str]:
    """The output folder's tables a SELECT reads, from DuckDB's parse tree (and the tables
    of the macros it names); every table named as a word where the tree is not to be had."""
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
    select = check_read_only(sql)
    reads = () if allow_stale else sorted(referenced_tables(select))
    with connect(out_root, allow_stale, reads) as con:
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as err:
            out = out_root if isinstance(out_root, OutputFolder) else OutputFolder(out_root)
            raise UsageError(damaged_file_line(out, Lineage(out), err)) from None


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
    """Write a query result to a .csv, .parquet or .jsonl file outside OUT; returns rows.
    Columns of the same name are told apart as DuckDB's COPY does (a, a_1)."""
    target = check_export_target(path, out)
    suffix = target.suffix.lower()
    result = result.rename_columns(unique_names(result.column_names))
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
