"""Printing tables of rows on the terminal, or as CSV / JSON Lines into a pipe or file."""

from __future__ import annotations

import csv
import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def print_rows(columns: list[str], rows: list[tuple], output_format: str = "table") -> None:
    if output_format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif output_format == "json":
        for row in rows:
            print(json.dumps(dict(zip(columns, row, strict=True)), default=str,
                             ensure_ascii=False))
    else:
        table = Table(show_lines=False)
        for name in columns:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell(v)) for v in row))
        console().print(table)
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


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
