"""Printing question reports (`longtail docs`) on the terminal."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from longtail.console import cell, console
from longtail.query.docs_view import QuestionReport


def print_question_reports(reports: list[QuestionReport]) -> None:
    """Every question with the id, one after the other."""
    for number, report in enumerate(reports):
        if number:
            print()
        print_question_report(report)
    if len(reports) > 1:
        print(f"\n{len(reports)} questions have this id (each is its own question, keyed by "
              "file and row)")


def print_question_report(report: QuestionReport) -> None:
    terminal = console()
    terminal.print(f"[bold]{escape(report.question_id)}[/bold]  ({escape(report.source)}, row "
                  f"{report.row})  {escape(report.question)}")
    terminal.print(f"answers: {escape(' | '.join(report.answers))}")
    terminal.print(f"status: {report.status}   relevant_docs: {cell(report.relevant_docs)}   "
                  f"q_docs: {cell(report.q_docs)}   a_docs: {cell(report.a_docs)}")
    if report.q_uri and report.a_uri:
        terminal.print(f"pair: {escape(report.q_uri)}  +  {escape(report.a_uri)}")
    if not report.documents:
        return
    shown = len(report.documents)
    terminal.print(f"\nrelevant documents (first {shown} of {cell(report.relevant_docs)}):")
    table = Table("doc_id", "source", "row", "snippet", show_lines=True)
    table.columns[3].overflow = "fold"
    for d in report.documents:
        table.add_row(str(d.doc_id), escape(d.source), str(d.row), escape(d.snippet))
    terminal.print(table)
