"""`longtail query` prints and writes every column, also when two share a name.

Printed as a table the headers are the query's own; in CSV, JSON and the files they are made
distinct as DuckDB's COPY makes them (a, a_1), so that no column hides another.
"""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from longtail.console import unique_names
from longtail.jobs.cli import main
from tests.unit.test_analysis_fixture import build_out

SQL = "SELECT 1 AS a, 2 AS a, 'x' AS A, NULL AS a_1"
NAMES = ["a", "a_1", "A_2", "a_1_1"]  # what DuckDB's COPY names these columns


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("query_output")
    build_out(root)
    return str(root / "out")


def query(out: str, capsys, *extra: str) -> str:
    assert main(["query", out, SQL, *extra]) == 0
    return capsys.readouterr().out


def test_table_shows_each_column_under_its_own_header(out, capsys):
    lines = query(out, capsys).splitlines()
    cells = [[c.strip() for c in line.split("│" if "│" in line else "┃")[1:-1]]
             for line in lines if "│" in line or "┃" in line]
    assert cells == [["a", "a", "A", "a_1"], ["1", "2", "x", "NULL"]]


def test_csv_and_json_keep_every_column(out, capsys):
    assert list(csv.reader(query(out, capsys, "--output-format", "csv").splitlines())) == [
        NAMES, ["1", "2", "x", ""]]
    rows = [json.loads(line) for line in query(out, capsys, "--output-format", "json")
            .splitlines()]
    assert rows == [dict(zip(NAMES, [1, 2, "x", None], strict=True))]


def test_files_keep_every_column(out, capsys, tmp_path):
    for suffix in (".csv", ".jsonl", ".parquet"):
        query(out, capsys, "--output", str(tmp_path / f"result{suffix}"))
    with (tmp_path / "result.csv").open(newline="") as fh:
        assert list(csv.reader(fh)) == [NAMES, ["1", "2", "x", ""]]
    assert [json.loads(line) for line in (tmp_path / "result.jsonl").read_text().splitlines()
            ] == [dict(zip(NAMES, [1, 2, "x", None], strict=True))]
    table = pq.read_table(tmp_path / "result.parquet")
    assert table.column_names == NAMES
    assert [table[n].to_pylist() for n in NAMES] == [[1], [2], ["x"], [None]]


@pytest.mark.parametrize("names, expected", [
    (["a", "b"], ["a", "b"]),
    (["a", "a", "a"], ["a", "a_1", "a_2"]),
    (["a_1", "a", "a"], ["a_1", "a", "a_2"]),
    (["a", "A"], ["a", "A_1"]),
    (["a", "a", "A", "a_1"], NAMES),
])
def test_unique_names_follow_duckdb(names, expected, tmp_path):
    """The names DuckDB's own COPY writes for the same columns."""
    import duckdb

    select = ", ".join(f'{i} AS "{n}"' for i, n in enumerate(names))
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT {select}) TO '{tmp_path / 'x.csv'}'")
    assert (tmp_path / "x.csv").read_text().splitlines()[0].split(",") == expected
    assert unique_names(names) == expected
