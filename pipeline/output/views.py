"""DuckDB views over an output folder: one view per table over its committed files.

`OUT/longtail.duckdb` holds the views with paths relative to OUT, so the folder can be moved
and `cd OUT && duckdb longtail.duckdb` works; it is rewritten whenever a stage finishes. A
table that is stale when it is written (see `longtail.output.lineage`) gets a view that raises its
one-line reason instead of answering.

`longtail query`, `longtail docs` and the analyses do not trust that file: they `connect()`
to an in-memory database whose views are made from the stage records at that moment, so a
stale table refuses to answer, and which reads OUT's committed files and can write no file
(`connect`).
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from longtail.errors import UsageError
from longtail.output.committed_fs import ROOT as COMMITTED_ROOT
from longtail.output.committed_fs import CommittedFilesystem
from longtail.output.folder import FileEntry, OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.storage import atomic_path
from longtail.schemas import ALL_TABLES

DATABASE = "longtail.duckdb"


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_list(arrow_type):
        return _sql_type(arrow_type.value_type) + "[]"
    return {
        pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.float64(): "DOUBLE",
        pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN",
    }[arrow_type]


# Table macros over the views, and the tables they read. A name is a URI or a DBpedia resource
# name ('Paris', 'Barack Obama'): `SELECT count(*) FROM pair_docs('Paris', 'France')`.
MACROS = {
    "entity_ref": ("CREATE OR REPLACE MACRO entity_ref(name) AS (SELECT min(entity_id) FROM "
                   "entities WHERE uri = name OR uri = 'http://dbpedia.org/resource/' || "
                   "replace(name, ' ', '_'))", ("entities",)),
    "entity_docs_of": ("CREATE OR REPLACE MACRO entity_docs_of(name) AS TABLE SELECT doc_id "
                       "FROM entity_docs WHERE entity_id = entity_ref(name)",
                       ("entities", "entity_docs")),
    "pair_docs": ("CREATE OR REPLACE MACRO pair_docs(a, b) AS TABLE SELECT x.doc_id FROM "
                  "entity_docs x JOIN entity_docs y ON x.doc_id = y.doc_id "
                  "WHERE x.entity_id = entity_ref(a) AND y.entity_id = entity_ref(b)",
                  ("entities", "entity_docs")),
}


def typed_empty(table: str) -> str:
    """A SELECT of no rows with the declared columns of `table`."""
    columns = ", ".join(f"NULL::{_sql_type(f.type)} AS \"{f.name}\"" for f in ALL_TABLES[table])
    return f"SELECT {columns} WHERE false"


def view_sources(lineage: Lineage, allow_stale: bool = False
                 ) -> Iterator[tuple[str, str, list[FileEntry] | str | None]]:
    """What each table's view stands on: ("files", its committed files), ("stale", the line
    that says why) or ("empty", None). With `allow_stale`, a stale table's files that are still
    there."""
    for table in ALL_TABLES:
        files = lineage.committed_files(table)
        state = lineage.table_state(table) if files else None
        if files and allow_stale:
            listing = lineage.listing()
            files = [f for f in files if f.path in listing]
        if not files:
            yield table, "empty", None
        elif state is not None and not state.fresh and not allow_stale:
            yield table, "stale", state.line(table)
        else:
            yield table, "files", files


def view_body(table: str, kind: str, payload) -> str | None:
    """The SELECT of a view that has no files to read (None for one that has)."""
    if kind == "empty":
        return typed_empty(table)
    if kind == "stale":  # a view that answers nothing but why
        return (f"{typed_empty(table).removesuffix(' WHERE false')} "
                f"WHERE (SELECT error({sql_string(payload)}))")
    return None


def view_statements(lineage: Lineage, base: str | None, allow_stale: bool = False
                    ) -> list[str]:
    """CREATE VIEW statements for every table; file paths relative to OUT when `base` is
    None, else joined to `base`."""
    statements = []
    for table, kind, payload in view_sources(lineage, allow_stale):
        body = view_body(table, kind, payload)
        if body is None:
            paths = ", ".join(sql_string(f.path if base is None else os.path.join(base, f.path))
                              for f in payload)
            body = f"SELECT * FROM read_parquet([{paths}], union_by_name = true)"
        statements.append(f"CREATE OR REPLACE VIEW {table} AS {body}")
    return statements + [sql for sql, _ in MACROS.values()]


def build_database(out: OutputFolder, lineage: Lineage | None = None) -> Path | None:
    """(Re)write OUT/longtail.duckdb; None for an output folder that is not on a local disk."""
    if not out.storage.local:
        return None
    path = out.storage.local_path(DATABASE)
    with atomic_path(path) as tmp:
        try:
            with duckdb.connect(str(tmp)) as con:
                # the views' relative paths are found from OUT while they are made
                con.execute(f"SET file_search_path = {sql_string(str(path.parent))}")
                for statement in view_statements(lineage or Lineage(out), None):
                    con.execute(statement)
        finally:  # a write that failed (a full disk) leaves DuckDB's log beside the file
            tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return path


def connect(out_root: str | OutputFolder, allow_stale: bool = False,
            reads: Iterable[str] = ()) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with a view for every table of OUT, that can read OUT's
    committed files and write no file anywhere; one line when OUT holds nothing, or when a
    table in `reads` is missing or stale.

    DuckDB reaches files only through `longtail://` (`longtail.output.committed_fs`): the
    committed files, read-only. Local paths and every store are closed to it
    (`enable_external_access`), it spills to a private temporary folder, never the working
    directory (which may be OUT), and no statement can change these settings.
    """
    out = out_root if isinstance(out_root, OutputFolder) else OutputFolder(out_root)
    out.check_exists()
    lineage = Lineage(out)
    lineage.require(reads)
    if not lineage.records:
        raise UsageError(f"{out.display()} holds no finished stage: run a longtail stage "
                         "into it first")
    committed = [f.path for _, kind, payload in view_sources(lineage, allow_stale)
                 if kind == "files" for f in payload]
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET parquet_metadata_cache = true")  # footers read once per session
        con.execute("SET enable_progress_bar = false")  # it would write into stdout's results
        con.execute(f"SET temp_directory = {sql_string(spill_directory(out))}")
        con.register_filesystem(CommittedFilesystem(out.storage, committed))
        con.execute(f"SET allowed_directories = [{sql_string(COMMITTED_ROOT)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("SET lock_configuration = true")
        for statement in view_statements(lineage, COMMITTED_ROOT, allow_stale):
            try:
                con.execute(statement)
            except duckdb.Error as err:  # a view reads its files' footers when it is made
                table = statement.split()[4]  # CREATE OR REPLACE VIEW <table> AS ...
                raise UsageError(damaged_file_line(
                    out, lineage, err, lineage.committed_files(table))) from None
    except BaseException:
        con.close()
        raise
    return con


def spill_directory(out: OutputFolder) -> str:
    """Where DuckDB may spill a large sort or join: a folder of its own in the system's
    temporary folder, which DuckDB makes and removes; '' (no spilling) if that is inside OUT."""
    folder = os.path.join(tempfile.gettempdir(), f"longtail-duckdb-{uuid.uuid4().hex[:12]}")
    if out.storage.local:
        root = out.storage.local_path().resolve()
        if Path(folder).resolve().is_relative_to(root):
            return ""
    return folder


def damaged_file_line(out: OutputFolder, lineage: Lineage, err: Exception,
                      files: list[FileEntry] | None = None) -> str:
    """One line for DuckDB failing on OUT's files: the damaged file named when one of `files`
    (by default, the committed files the error names) is not what was written, else the
    error itself."""
    if files is None:
        named = set(re.findall(re.escape(COMMITTED_ROOT) + r"([^'\"\s\]]+)", str(err)))
        files = [f for r in lineage.records.values() for f in r.all_files() if f.path in named]
    damaged = out.verify_files(files)
    if damaged:
        return (f"{out.display()}: {damaged[0]}; run `longtail status --verify` to see every "
                "damaged file")
    return query_error(err)


def query_error(err: Exception) -> str:
    """DuckDB's error as one line; a stale table's view says why and what to run. (An error
    raised by a Python filesystem comes with its traceback: its last line says it.)"""
    lines = [line for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    line = lines[-1] if "Traceback (most recent call last)" in lines[0] else lines[0]
    prefix = "Invalid Input Error: "
    if line.startswith(prefix) and " is stale: " in line:
        return line.removeprefix(prefix)
    return f"query failed: {line}"
