"""`longtail query` cannot change a byte of OUT, by any route listed here.

Every route is tried twice against a real output folder (the analysis fixture's tables, plus
entity_docs and entities as the index stage writes them):
  1. through `run_query`, as `longtail query` runs it: refused in one line (the read-only
     check, or DuckDB failing inside the session), or a SELECT that writes nothing;
  2. straight on a `connect()` session, skipping the check, as if the check had missed the
     statement: each statement fails inside DuckDB, or changes only the in-memory database.
After each, every file under OUT (and the folders beside it) hashes as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from longtail.analysis.relevant_sets import relevant_doc_pairs
from longtail.analysis.tables import read_table
from longtail.errors import UsageError
from longtail.indexes.postings import postings
from longtail.linking.annotation import entity_id
from longtail.output.folder import OutputFolder
from longtail.output.runner import commit_stage
from longtail.output.views import connect
from longtail.query.database import check_read_only, referenced_tables, run_query
from longtail.query.docs_view import question_reports
from longtail.schemas.tables import ENTITIES
from tests.servers.object_store import S3Server
from tests.unit.test_analysis_fixture import MENTIONS, R, build_out

# name -> statements, run in order; {out} is OUT, {file} a committed file (relative to OUT),
# {link} a symbolic link to OUT from elsewhere, {elsewhere} a folder outside OUT.
COPY_OUT = "COPY (SELECT 1 AS x) TO '{out}/manifest.json' (FORMAT csv)"
ROUTES: dict[str, list[str]] = {
    # COPY ... TO, every way of naming a file of OUT
    "copy over manifest.json": [COPY_OUT],
    "copy over a committed file": ["COPY (SELECT 1 AS x) TO '{out}/{file}' (FORMAT parquet)"],
    "copy over a committed file, no temporary file": [
        "COPY (SELECT 1 AS x) TO '{out}/{file}' (FORMAT csv, USE_TMP_FILE false)"],
    "copy over a committed file through longtail://": [
        "COPY (SELECT 1 AS x) TO 'longtail://{file}' (FORMAT csv, USE_TMP_FILE false)"],
    "copy a new file into a table's folder": [
        "COPY docs TO '{out}/docs/part-link-extra.parquet'"],
    "copy partitioned into OUT": [
        "COPY (SELECT 1 AS a, 2 AS b) TO '{out}/docs' "
        "(FORMAT parquet, PARTITION_BY (a), OVERWRITE_OR_IGNORE)"],
    "copy partitioned into longtail://": [
        "COPY (SELECT 1 AS a, 2 AS b) TO 'longtail://docs' "
        "(FORMAT parquet, PARTITION_BY (a), WRITE_PARTITION_COLUMNS, OVERWRITE)"],
    "copy to a relative path (working directory: OUT)": [
        "COPY (SELECT 1 AS x) TO 'manifest.json' (FORMAT csv)"],
    "copy to a path with ..": ["COPY (SELECT 1 AS x) TO '{out}/docs/../manifest.json'"],
    "copy to longtail:// with ..": ["COPY (SELECT 1 AS x) TO 'longtail://docs/../manifest.json'"],
    "copy to an absolute path under longtail://": [
        "COPY (SELECT 1 AS x) TO 'longtail://{out}/manifest.json'"],
    "copy through a symbolic link to OUT": ["COPY (SELECT 1 AS x) TO '{link}/manifest.json'"],
    "copy to a file outside OUT": ["COPY (SELECT 1 AS x) TO '{elsewhere}/x.csv'"],
    "copy to /dev/stdout": ["COPY (SELECT 1 AS x) TO '/dev/stdout'"],
    "copy to /dev/fd of an open file of OUT": ["COPY (SELECT 1 AS x) TO '/dev/fd/{fd}'",
                                               "COPY (SELECT 1 AS x) TO '/proc/self/fd/{fd}'"],
    "copy with a CTE inside": [
        "COPY (WITH y AS (SELECT 1 AS x) SELECT * FROM y) TO '{out}/manifest.json'"],
    "CTE wrapping COPY": ["WITH y AS (SELECT 1 AS x) COPY y TO '{out}/manifest.json'"],
    # whole databases
    "export database into OUT": ["EXPORT DATABASE '{out}'"],
    "export database into a folder of OUT": ["EXPORT DATABASE '{out}/export'"],
    "export database through longtail://": ["EXPORT DATABASE 'longtail://'"],
    "import database from OUT": ["IMPORT DATABASE '{out}'"],
    "attach longtail.duckdb and create a table": [
        "ATTACH '{out}/longtail.duckdb' AS db", "CREATE TABLE db.t AS SELECT 1 AS x"],
    "attach a new database in OUT": [
        "ATTACH '{out}/new.duckdb' AS n", "CREATE TABLE n.t AS SELECT 1 AS x"],
    "attach through longtail://": ["ATTACH 'longtail://new.duckdb' AS n"],
    "attach a committed file": ["ATTACH 'longtail://{file}' AS p"],
    "attach in memory, copy the database": [
        "ATTACH ':memory:' AS m", "COPY FROM DATABASE memory TO m", "USE m"],
    # tables and views of the session
    "create table as": ["CREATE TABLE t AS SELECT * FROM docs"],
    "insert into a view": ["INSERT INTO docs SELECT * FROM docs"],
    "update a view": ["UPDATE docs SET n_chars = 0"],
    "delete from a view": ["DELETE FROM docs"],
    "replace a view": ["CREATE OR REPLACE VIEW docs AS SELECT 1 AS doc_id"],
    "drop a view": ["DROP VIEW docs"],
    "prepare and execute a COPY": [
        "PREPARE p AS COPY (SELECT 1 AS x) TO '{out}/manifest.json'", "EXECUTE p"],
    # extensions, settings, secrets, maintenance
    "install an extension": ["INSTALL httpfs"],
    "force install an extension": ["FORCE INSTALL httpfs"],
    "load an extension": ["LOAD httpfs"],
    "load a file of OUT as an extension": ["LOAD '{out}/manifest.json'"],
    "set external access on": ["SET enable_external_access = true"],
    "set allowed directories": ["SET allowed_directories = ['/']"],
    "reset the lock": ["RESET lock_configuration"],
    "spill into OUT": ["SET temp_directory = '{out}'"],
    "profile into OUT": ["PRAGMA enable_profiling = 'json'",
                         "PRAGMA profiling_output = '{out}/manifest.json'", "SELECT 1"],
    "log into OUT": ["CALL enable_logging()", "SET logging_storage = 'file'"],
    "persistent secret": ["CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')"],
    "call a pragma": ["CALL pragma_version()"],
    "checkpoint": ["CHECKPOINT"],
    "vacuum and analyze": ["VACUUM", "ANALYZE"],
    "transaction": ["BEGIN", "CREATE TABLE t AS SELECT 1 AS x", "COMMIT"],
    # SELECTs that run other statements
    "query() running a COPY": [
        "SELECT * FROM query('COPY (SELECT 1 AS x) TO ''{out}/manifest.json''')"],
    "query() with two statements": [
        "SELECT * FROM query('SELECT 1; COPY (SELECT 1 AS x) TO ''{out}/manifest.json''')"],
    "query_table()": ["SELECT count(*) FROM query_table('docs')"],
    "a file of OUT that is not a table": ["SELECT * FROM read_text('{out}/manifest.json')"],
    "longtail.duckdb as text": ["SELECT * FROM read_blob('longtail://longtail.duckdb')"],
    "glob of longtail://": ["SELECT count(*) FROM glob('longtail://**')"],
    # comments and string tricks
    "a comment that says SELECT": ["/* SELECT */ " + COPY_OUT],
    "a line comment, then COPY": ["-- SELECT 1\n" + COPY_OUT],
    "a COPY in a comment after a SELECT": ["SELECT 1 AS x /* ; " + COPY_OUT + " */"],
    "a semicolon in a string, then COPY": ["SELECT ';' AS s; " + COPY_OUT],
    "a quoted quote and semicolon": ["SELECT 'it''s; " + COPY_OUT.replace("'", "''") + "'"],
    "a dollar-quoted semicolon, then COPY": ["SELECT $$;$$ AS s; " + COPY_OUT],
    "a COPY in a string": ["SELECT '" + COPY_OUT.replace("'", "''") + "' AS s"],
    "a PIVOT that creates a type": ["PIVOT docs ON status"],
}
# and every route that is not a SELECT, inside EXPLAIN, EXPLAIN ANALYZE and EXPLAIN (options)
EXPLAINED = ("EXPLAIN ", "EXPLAIN ANALYZE ", "EXPLAIN (FORMAT json) ", "/* x */ EXPLAIN\n")
for _name, _statements in list(ROUTES.items()):
    if not _statements[0].lstrip().upper().startswith(("SELECT", "/*", "--", "PIVOT")):
        for _prefix in EXPLAINED:
            ROUTES[f"{_prefix.strip()}: {_name}"] = [_prefix + s for s in _statements]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The fixture's OUT, with entity_docs and entities as the index stage writes them."""
    root = tmp_path_factory.mktemp("read_only")
    out = build_out(root).out
    doc_entities = read_table(out, "doc_entities")
    relevant_docs = read_table(out, "relevant_docs")
    docs_of: dict[int, int] = {}
    for row in doc_entities.to_pylist():
        docs_of[row["entity_id"]] = docs_of.get(row["entity_id"], 0) + 1
    uris = sorted(MENTIONS)
    entities = pa.table({
        "entity_id": [entity_id(u) for u in uris], "uri": uris, "support": [100] * len(uris),
        "types": [[]] * len(uris), "doc_count": [docs_of[entity_id(u)] for u in uris],
        "mention_count": [docs_of[entity_id(u)] for u in uris]}, schema=ENTITIES)
    commit_stage(out, "index", {"doc_entities": doc_entities,
                                "entity_docs": postings(doc_entities), "entities": entities},
                 reads=["docs"], row_groups={"entity_docs": 8})
    commit_stage(out, "count", {"relevant_docs": relevant_docs},
                 reads=["doc_entities", "qa_questions", "qa_entities"])
    (root / "elsewhere").mkdir()
    (root / "link").symlink_to(root / "out", target_is_directory=True)
    return root / "out"


@pytest.fixture(scope="module")
def pristine(folder) -> dict[str, str]:
    """The hashes of OUT's files as the fixture committed them: every test compares with
    these, so a route that wrote is caught even when a later one writes the same bytes."""
    return hashes(folder)


def hashes(*folders: Path) -> dict[str, str]:
    """Every file under the folders (following no link) by path: its SHA-256."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def fill(statement: str, out: Path, fd: int) -> str:
    committed = sorted(p.relative_to(out).as_posix() for p in out.glob("docs/*.parquet"))
    return statement.format(out=out, file=committed[0], link=out.parent / "link",
                            elsewhere=out.parent / "elsewhere", fd=fd)


@pytest.mark.parametrize("route", list(ROUTES))
def test_no_route_writes_into_out(route, folder, pristine, monkeypatch, capfd):
    monkeypatch.chdir(folder)  # relative paths name files of OUT
    fd = os.open(folder / "manifest.json", os.O_RDONLY)
    try:
        statements = [fill(s, folder, fd) for s in ROUTES[route]]
        # 1. as `longtail query` runs it: the whole text, then each statement alone
        for sql in ["; ".join(statements), *statements]:
            try:
                result = run_query(folder, sql)
            except UsageError as err:
                assert "\n" not in str(err) and str(err), (sql, str(err))
                assert "Traceback" not in str(err)
            else:
                assert check_read_only(sql), sql  # only a SELECT gets this far
                assert result.num_columns >= 1
        # 2. on the session itself, as if the check had missed every statement
        with connect(folder) as con:
            for sql in statements:
                with contextlib.suppress(duckdb.Error):
                    con.execute(sql)
    finally:
        os.close(fd)
    assert hashes(folder) == pristine
    assert not list(folder.parent.joinpath("elsewhere").iterdir())


def test_the_check_refuses_every_route_that_is_not_a_select(folder):
    """Decided by the parsed statement, in one line, before any session is opened."""
    for route, statements in ROUTES.items():
        sql = "; ".join(fill(s, folder, 9) for s in statements)
        kinds = [s.type.name for s in duckdb.extract_statements(sql)] if _parses(sql) else []
        if kinds == ["SELECT"]:
            continue
        with pytest.raises(UsageError) as err:
            check_read_only(sql)
        assert "\n" not in str(err.value), route


def _parses(sql: str) -> bool:
    try:
        [s.type for s in duckdb.extract_statements(sql)]
    except (duckdb.Error, ValueError):
        return False
    return True


@pytest.mark.parametrize("sql, refused", [
    ("EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO 'o/manifest.json' (FORMAT csv)",
     "EXPLAIN of a COPY statement is refused; export results with --output FILE"),
    ("EXPLAIN (FORMAT json) INSERT INTO docs SELECT * FROM docs",
     "EXPLAIN of an INSERT statement is refused; only SELECT runs"),
    ("explain analyze /* c */ install httpfs", "EXPLAIN of an INSTALL statement is refused"),
    ("RESET lock_configuration", "RESET statements are refused; only SELECT runs"),
    ("UPDATE EXTENSIONS", "UPDATE statements are refused"),
    ("PIVOT docs ON status", "PIVOT t ON c IN ('x', 'y')"),
    ("SELECT 1; SELECT 2", "one statement at a time, please (2 given)"),
    ("-- nothing", "no SQL statement given"),
])
def test_refusals_say_what_was_refused(sql, refused):
    with pytest.raises(UsageError) as err:
        check_read_only(sql)
    assert refused in str(err.value)


@pytest.mark.parametrize("sql", [
    "EXPLAIN SELECT 1", "EXPLAIN ANALYZE SELECT count(*) FROM docs",
    "EXPLAIN (FORMAT json) (SELECT 1)", "/* c */ EXPLAIN\n-- d\nANALYZE FROM docs",
    "SELECT 'a;b' AS s", "DESCRIBE docs", "SUMMARIZE entities", "SHOW TABLES",
    "PIVOT docs ON status IN ('linked')", "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
    "SELECT count(*) FROM pair_docs('Q3', 'A3')",
])
def test_reading_statements_run(sql, folder):
    assert run_query(folder, sql).num_rows >= 1


def test_explain_reads_the_tables_of_its_select():
    """The tables checked for staleness come from the parse tree of the SELECT inside an
    EXPLAIN (a word that names a table in a string is no table read)."""
    select = check_read_only("EXPLAIN ANALYZE SELECT 'docs' AS s FROM entities e "
                             "JOIN pair_docs('a', 'b') p ON p.doc_id = e.entity_id")
    assert referenced_tables(select) == {"entities", "entity_docs"}


def test_pair_docs_on_the_read_only_session(folder):
    """The macros answer through longtail:// as the fixture says (Q3 and A3: 12 documents)."""
    table = run_query(folder, "SELECT count(*) AS n FROM pair_docs('Q3', 'A3')")
    assert table.to_pylist() == [{"n": 12}]
    docs = run_query(folder, "SELECT count(*) AS n FROM entity_docs_of("
                             "'http://dbpedia.org/resource/Q3')")
    assert docs.to_pylist() == [{"n": 14}]


def test_the_session_spills_outside_out_and_prints_no_progress_bar(folder, monkeypatch):
    monkeypatch.chdir(folder)
    with connect(folder) as con:
        spill, progress = con.execute(
            "SELECT current_setting('temp_directory'), "
            "current_setting('enable_progress_bar')").fetchone()
    assert spill and not Path(spill).resolve().is_relative_to(folder.resolve())
    assert progress is False


def test_longtail_query_refuses_the_reported_route_in_one_line(folder, pristine):
    """The route that overwrote manifest.json, through the real command."""
    for sql in [f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{folder}/manifest.json' "
                "(FORMAT csv)",
                f"SELECT * FROM query('COPY (SELECT 1 AS x) TO ''{folder}/manifest.json''')"]:
        done = subprocess.run([sys.executable, "-m", "longtail.jobs.cli", "query", str(folder),
                               sql], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("longtail: error: ") and done.stderr.count("\n") == 1
        assert "Traceback" not in done.stderr and done.stdout == ""
    assert hashes(folder) == pristine


# ---- longtail docs and the analyses: user text reaches them as values, never as SQL --------

HOSTILE_IDS = [
    "q3'; " + COPY_OUT + "; --",
    "q3' UNION SELECT question_id FROM relevant_docs --",
    "$$; " + COPY_OUT + "; $$",
    "q3\n;EXPORT DATABASE '{out}'",
]


def test_docs_takes_a_question_id_as_a_value(folder, pristine):
    for hostile in HOSTILE_IDS:
        with pytest.raises(UsageError, match="no question"):
            question_reports(str(folder), hostile.format(out=folder))
    assert [r.relevant_docs for r in question_reports(str(folder), "q3")] == [12]
    assert hashes(folder) == pristine


def test_analyses_take_question_ids_as_values(folder, pristine):
    """Question ids come from a QA file anyone may write: the analyses hand them to DuckDB
    as an Arrow table, and get them back unchanged."""
    ids = [h.format(out=folder) for h in HOSTILE_IDS] + ["q3"]
    questions = pa.table({"question_id": ids, "q_uri": [R + "Q3"] * len(ids),
                          "a_uri": [R + "A3"] * len(ids)})
    pairs = relevant_doc_pairs(OutputFolder(folder), questions)
    assert sorted(set(pairs["question_id"].to_pylist())) == sorted(ids)
    assert pairs.num_rows == 12 * len(ids)
    assert hashes(folder) == pristine


# ---- an output folder in object storage --------------------------------------------------

def test_no_route_writes_into_out_in_object_storage(folder, monkeypatch):
    """The same session over s3:// (a real S3-compatible server): DuckDB reads the committed
    objects through longtail:// and can write none."""
    with S3Server() as s3:
        for name, value in s3.env().items():
            monkeypatch.setenv(name, value)
        s3.client().create_bucket(Bucket="data")
        out = s3.upload("data", "out", folder)

        def objects() -> dict[str, str]:
            client = s3.client()
            return {key: hashlib.sha256(client.get_object(Bucket="data", Key=key)["Body"]
                                        .read()).hexdigest() for key in s3.keys("data")}

        before = objects()
        assert run_query(out, "SELECT count(*) AS n FROM pair_docs('Q3', 'A3')"
                         ).to_pylist() == [{"n": 12}]
        committed = next(k for k in before if k.startswith("out/docs/"))[len("out/"):]
        routes = [f"COPY (SELECT 1 AS x) TO '{out}/manifest.json'",
                  f"COPY (SELECT 1 AS x) TO 'longtail://{committed}' (USE_TMP_FILE false)",
                  "COPY (SELECT 1 AS x) TO 'longtail://manifest.json'",
                  "EXPORT DATABASE 'longtail://'", f"ATTACH '{out}/new.duckdb' AS n",
                  "INSTALL httpfs", f"SELECT * FROM read_text('{out}/manifest.json')"]
        for sql in routes:
            with pytest.raises(UsageError):
                run_query(out, "EXPLAIN ANALYZE " + sql if sql.startswith("COPY") else sql)
        with connect(out) as con:
            for sql in routes:
                with pytest.raises(duckdb.Error):
                    con.execute(sql)
        assert objects() == before
