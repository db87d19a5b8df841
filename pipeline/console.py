"""Printing tables of rows on the terminal, or as CSV / JSON Lines into a pipe or file."""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import pyarrow as pa


def print_rows(columns: list[str], rows: list[tuple], output_format: str = "table") -> None:
    """Rows as a table on the terminal (headers as given), or as CSV or JSON Lines, where
    columns of the same name get names of their own (`unique_names`)."""
    if output_format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(unique_names(columns))
        writer.writerows(rows)
    elif output_format == "json":
        names = unique_names(columns)
        for row in rows:
            print(json.dumps(dict(zip(names, row, strict=True)), default=str,
                             ensure_ascii=False))
    else:
        table = Table(show_lines=False)
        for name in columns:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell(v)) for v in row))
        console().print(table)
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def table_rows(table: pa.Table) -> list[tuple]:
    """An Arrow table's rows as tuples, columns by position (`to_pylist` makes dicts, which
    keep one of two columns of the same name)."""
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def unique_names(columns: list[str]) -> list[str]:
    """Column names made distinct as DuckDB's COPY makes them: a name already used (in any
    case) gets _1, _2... (`a, a, a_1` -> `a, a_1, a_1_1`)."""
    used: set[str] = set()
    names = []
    for name in columns:
        candidate, n = name, 0
        while candidate.lower() in used:
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate.lower())
        names.append(candidate)
    return names


def console() -> Console:
    """The terminal's width on a terminal; unlimited (no folding) into a file or a pipe."""
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 100_000)


def cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < 10**12 else str(value)
    return str(value)
