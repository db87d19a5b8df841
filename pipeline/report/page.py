"""`longtail report OUT --html report.html`: one page that opens offline from a file.

Everything is inside the file: the styles and the script (package files in
`longtail/report/assets/`, no library), the plots as PNG data URIs, and the explorer's data
as compressed JSON (see `longtail.report.explorer`). A Content-Security-Policy forbids the
page any request at all. Sections: the run (stages, inputs, parameters, times, rows,
freshness), linking coverage, failures by reason, relevant documents per question on log
bins, accuracy by count bins (with predictions), the most frequent entities and the
question explorer. A section whose tables are missing or stale says so instead.
"""

from __future__ import annotations

import base64
import html
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from longtail.analysis.bins import UNCOUNTED, count_bin
from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.storage import atomic_path
from longtail.output.views import connect
from longtail.report.coverage import coverage
from longtail.report.explorer import DOC_QUESTIONS, DOCS_PER_QUESTION, encode, explorer_data

TOP_ENTITIES = 25
SHOWN_FAILURES = 20
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; connect-src 'none'; form-action 'none'; base-uri 'none'")


@dataclass
class WrittenReport:
    path: Path
    bytes: int
    questions: int
    doc_questions: int
    explorer_bytes: int


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _number(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def table(columns: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()
          ) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td class=\"num\">{esc(_number(v))}</td>" if i in numeric
                         else f"<td>{esc(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(anchor: str, title: str, body: str) -> str:
    return f"<section id=\"{anchor}\"><h2>{esc(title)}</h2>{body}</section>"


def unavailable(reason: str) -> str:
    return f"<p class=\"note\">Not available: {esc(reason)}.</p>"


def png(data: bytes, alt: str) -> str:
    return (f"<img alt=\"{esc(alt)}\" src=\"data:image/png;base64,"
            f"{base64.b64encode(data).decode('ascii')}\">")


def _asset(name: str) -> str:
    return resources.files("longtail.report").joinpath("assets", name).read_text("utf-8")


# -- sections ---------------------------------------------------------------------------


def run_section(out: OutputFolder) -> str:
    from longtail.query.status import stage_rows

    rows = stage_rows(out)
    if not rows:
        return section("run", "The run", unavailable("no stage has run in this folder"))
    stages = table(["stage", "state", "finished", "seconds", "rows", "parameters"], [
        (r["stage"], r["state"] + (f": {r['why']}" if r["why"] else ""), r["finished"],
         r["seconds"], ", ".join(f"{t} {n:,}" for t, n in r["rows"].items()),
         ", ".join(f"{k}={json.dumps(v)}" for k, v in r["parameters"].items()
                   if v not in (None, [], "")))
        for r in rows], numeric=(3,))
    inputs = []
    for stage, record in sorted(out.records().items()):
        for name, entries in record.inputs.items():
            for entry in entries:
                detail = ", ".join(f"{k} {_number(v)}" for k, v in (
                    ("size", entry.size), ("rows", entry.rows), ("sha256", entry.sha256))
                    if v is not None)
                inputs.append((stage, name, out.locations.resolve(entry.location,
                                                                  entry.inside_out), detail))
        if record.model is not None:
            inputs.append((stage, "model", out.locations.resolve(
                record.model.location, record.model.inside_out), f"id {record.model.id}"))
    versions = out.manifest().get("versions", {})
    body = stages + "<h3>Inputs</h3>" + (table(["stage", "input", "location", "detail"],
                                               inputs) if inputs else "<p>none recorded</p>")
    body += "<p class=\"note\">" + esc(", ".join(f"{k} {v}" for k, v in versions.items())) \
        + "</p>"
    return section("run", "The run", body)


def coverage_section(cov: dict) -> str:
    parts = []
    docs = cov.get("documents")
    if docs:
        parts.append("<h3>Documents</h3>" + table(["", "value"], [
            ("documents in the corpus", docs["documents_in"]),
            ("read (linked or empty)", docs["documents_read"]),
            ("failed (unreadable or not linked)", docs["failed"]),
            ("with at least one entity", f"{docs['with_entity']:,} "
                                         f"({_percent(docs['with_entity_share'])} of read)"),
            ("mentions", docs["mentions"]),
            ("mentions per document read", docs["mentions_per_document"]),
            ("mentions per document with an entity", docs["mentions_per_document_with_entity"]),
            ("distinct entities", docs.get("entities")),
        ], numeric=(1,)))
    qa = cov.get("qa")
    if qa:
        rows = [("questions read", qa.get("questions")), ("linked", qa.get("linked")),
                ("linking failed", qa.get("link_failed")),
                ("unreadable records", qa.get("unreadable"))]
        if "status" in qa:
            rows.append(("with a count (zero included)",
                         f"{qa['with_count']:,} ({_percent(qa['with_count_share'])})"))
            rows += [(f"no count: {why}", n) for why, n in qa["without_count"].items()]
            rows += [(f"status {s}", n) for s, n in qa["status"].items()]
        parts.append("<h3>QA questions</h3>" + table(["", "value"], rows, numeric=(1,)))
    for name, reason in cov.get("unavailable", {}).items():
        parts.append(f"<p class=\"note\">{esc(name)}: {esc(reason)}</p>")
    return section("coverage", "Linking coverage", "".join(parts) or unavailable("no tables"))


def failures_section(con, fresh: bool) -> str:
    if not fresh:
        return section("failures", "Failures by reason", unavailable("no fresh failures table"))
    rows = con.execute(
        "SELECT stage, reason, count(*) AS n, any_value(source || ':' || coalesce(row, -1)), "
        "left(any_value(detail), 160) FROM failures GROUP BY stage, reason "
        "ORDER BY n DESC, stage, reason LIMIT ?", [SHOWN_FAILURES]).fetchall()
    body = table(["stage", "reason", "count", "example (file:row)", "detail"], rows,
                 numeric=(2,)) if rows else "<p>No failures: every input was read and linked.</p>"
    return section("failures", "Failures by reason", body)


def counts_section(con) -> str:
    from longtail.analysis.figures import new_figure, png_bytes

    counts = [n for (n,) in con.execute("SELECT relevant_docs FROM relevant_docs").fetchall()]
    bins: dict[str, list] = {}
    for n in counts:
        b = count_bin(n)
        bins.setdefault(b.label, [b.order, 0])[1] += 1
    ordered = sorted(bins.items(), key=lambda item: item[1][0])
    fig, ax = new_figure(8, 3.6)
    labels = [label for label, _ in ordered]
    values = [n for _, (_, n) in ordered]
    colors = ["#999999" if label == UNCOUNTED else "#3b75af" for label in labels]
    ax.bar(labels, values, color=colors)
    for x, v in enumerate(values):
        ax.annotate(f"{v:,}", (x, v), ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("relevant documents per question (log bins; uncounted: no question or "
                  "answer entity, or linking failed)")
    ax.set_ylabel("questions")
    ax.set_title(f"Relevant documents per question ({len(counts):,} questions)")
    body = png(png_bytes(fig), "histogram of relevant-document counts") + table(
        ["bin", "questions", "share"],
        [(label, n, _percent(n / len(counts))) for label, (_, n) in ordered], numeric=(1,))
    return section("counts", "Relevant documents per question", body)


def accuracy_section(out: OutputFolder, predictions: Sequence[str], labels, formats,
                     metric: str) -> str:
    from longtail.analysis.accuracy import accuracy_figure, score_predictions
    from longtail.analysis.figures import png_bytes

    result = score_predictions(out, list(predictions), labels=labels, formats=formats,
                               metric=metric)
    bins = table(["predictions", "bin", "n", "correct", "accuracy", "95% CI"], [
        (r["predictions"], r["bin"], r["questions"], r["correct"], _percent(r["accuracy"]),
         f"{_percent(r['ci_low'])} to {_percent(r['ci_high'])}")
        for r in result.bins.to_pylist()], numeric=(2, 3))
    matched = table(["predictions", "format", "lines", "matched", "unmatched", "ambiguous ids",
                     "unreadable", "no prediction"], [
        (s["predictions"], s["format"], s["lines"], s["scored"], s["unmatched"],
         s["ambiguous"], s["bad_lines"], s["missing"]) for s in result.summary.to_pylist()],
        numeric=(2, 3, 4, 5, 6, 7))
    return section("accuracy", "Accuracy by relevant documents",
                   png(png_bytes(accuracy_figure(result)), "accuracy by count bin")
                   + bins + "<h3>Matching</h3>" + matched)


def entities_section(con, fresh: bool) -> str:
    if not fresh:
        return section("entities", "Most frequent entities", unavailable("no fresh entities"))
    rows = con.execute("SELECT uri, doc_count, mention_count FROM entities "
                       "ORDER BY doc_count DESC, uri LIMIT ?", [TOP_ENTITIES]).fetchall()
    return section("entities", "Most frequent entities", table(
        ["entity", "documents", "mentions"], rows, numeric=(1, 2)))


def explorer_section(encoded: str, questions: int) -> str:
    return section("explorer", "Question explorer", (
        "<p>Type part of a question (or an answer, or an id) to see its linked entities, the "
        "winning pair and its count, and some of its relevant documents with the question "
        "entity <mark class=\"q\">marked</mark> and the answer entity "
        "<mark class=\"a\">marked</mark>.</p>"
        "<input id=\"search\" type=\"search\" placeholder=\"search "
        f"{questions:,} questions\" autocomplete=\"off\" disabled>"
        "<p id=\"explorer-status\" class=\"note\">loading the questions...</p>"
        "<div id=\"results\"></div>"
        f"<script type=\"application/octet-stream\" id=\"explorer-data\">{encoded}</script>"))


# -- the page ---------------------------------------------------------------------------


def build_page(out: OutputFolder, predictions: Sequence[str] = (), *,
               labels: list[str] | None = None, formats: list[str] | str | None = None,
               metric: str = "exact_match", doc_questions: int = DOC_QUESTIONS,
               docs_per_question: int = DOCS_PER_QUESTION) -> tuple[str, dict]:
    """The page's HTML and facts about it (questions, embedded sizes)."""
    out.check_exists()
    lineage = Lineage(out)
    if not lineage.records:
        raise UsageError(f"{out.display()} holds no finished stage: run a longtail stage into "
                         "it first")
    lineage.require(["relevant_docs"])

    def fresh(table_name: str) -> bool:
        return lineage.table_state(table_name).fresh

    cov = coverage(out)
    with connect(out) as con:
        data = explorer_data(out, con, doc_questions, docs_per_question)
        sections = [run_section(out), coverage_section(cov),
                    failures_section(con, fresh("failures")), counts_section(con)]
        if predictions:
            sections.append(accuracy_section(out, predictions, labels, formats, metric))
        sections.append(entities_section(con, fresh("entities")))
    encoded = encode(data)
    questions = len(data.columns["q"])
    sections.append(explorer_section(encoded, questions))
    nav = "".join(f"<a href=\"#{a}\">{esc(t)}</a>" for a, t in (
        ("run", "Run"), ("coverage", "Coverage"), ("failures", "Failures"),
        ("counts", "Counts"), *([("accuracy", "Accuracy")] if predictions else []),
        ("entities", "Entities"), ("explorer", "Explorer")))
    title = f"longtail report: {out.display()}"
    page = (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{_asset('report.css')}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p class=\"note\">written "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {questions:,} questions</p>"
        f"<nav>{nav}</nav></header><main>{''.join(sections)}</main>"
        f"<script>{_asset('report.js')}</script></body></html>")
    return page, {"questions": questions, "doc_questions": data.doc_questions,
                  "explorer_bytes": len(encoded)}


def write_report(out_root: str | OutputFolder, html_path: str | Path,
                 predictions: Sequence[str] = (), **options) -> WrittenReport:
    if not str(html_path).lower().endswith((".html", ".htm")):
        raise UsageError(f"the report file must end in .html: {html_path}")
    out = out_root if isinstance(out_root, OutputFolder) else OutputFolder(str(out_root))
    page, facts = build_page(out, predictions, **options)
    final = Path(html_path)
    payload = page.encode("utf-8")
    with atomic_path(final) as tmp:
        tmp.write_bytes(payload)
    return WrittenReport(final, len(payload), facts["questions"], facts["doc_questions"],
                         facts["explorer_bytes"])
