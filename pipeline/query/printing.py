"""Printing query results and question reports on the terminal."""

from __future__ import annotations

import csv
import json
import sys

from longtail.query.docs_view import QuestionReport
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
            table.add_row(*(escape(_cell(v)) for v in row))
        _console().print(table)
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def _console() -> Console:
    """The terminal's width on a terminal; unlimited (no folding) into a file or a pipe."""
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 100_000)


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < 10**12 else str(value)
    return str(value)


def print_question_report(report: QuestionReport) -> None:
    console = _console()
    console.print(f"[bold]{escape(report.question_id)}[/bold]  {escape(report.question)}")
    console.print(f"answers: {escape(' | '.join(report.answers))}")
    console.print(f"status: {report.status}   relevant_docs: {_cell(report.relevant_docs)}   "
                  f"q_docs: {_cell(report.q_docs)}   a_docs: {_cell(report.a_docs)}")
    if report.q_uri and report.a_uri:
        console.print(f"pair: {escape(report.q_uri)}  +  {escape(report.a_uri)}")
    if not report.documents:
        return
    shown = len(report.documents)
    console.print(f"\nrelevant documents (first {shown} of {_cell(report.relevant_docs)}):")
    table = Table("doc_id", "source", "row", "snippet", show_lines=True)
    table.columns[3].overflow = "fold"
    for d in report.documents:
        table.add_row(str(d.doc_id), escape(d.source), str(d.row), escape(d.snippet))
    console.print(table)
