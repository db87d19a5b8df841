"""How well an output folder's corpus and QA set were linked: `coverage(out)`.

Documents (from `docs` and `failures`): how many were read, linked, empty or failed, the
share of documents read with at least one entity mention, and mentions per document. QA
questions (from `qa_questions`, `relevant_docs` and `failures`): how many were read and
linked, and why the others have no count (no question entity, no answer entity, linking
failed, unreadable record). Only fresh tables are read; a section whose tables are missing
or stale is left out and named in "unavailable" with the reason.
"""

from __future__ import annotations

from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.views import connect

DOCUMENT_FAILURE_STAGES = ("read", "link")
QA_FAILURE_STAGES = ("qa_read", "qa")


def coverage(out: OutputFolder | str) -> dict:
    """{"documents": {...}, "qa": {...}, "unavailable": {table: reason}}; the numbers are
    plain ints and floats (shares in 0..1, None when there is nothing to divide by)."""
    out = out if isinstance(out, OutputFolder) else OutputFolder(out)
    out.check_exists()
    lineage = Lineage(out)
    fresh, unavailable = set(), {}
    for table in ("docs", "failures", "entities", "qa_questions", "relevant_docs"):
        state = lineage.table_state(table)
        if state.fresh:
            fresh.add(table)
        else:
            unavailable[table] = state.reason
    result: dict = {"unavailable": unavailable}
    if not lineage.records:
        return result
    with connect(out) as con:
        failed = _failures(con) if "failures" in fresh else {}
        if "docs" in fresh:
            result["documents"] = _documents(con, failed)
            if "entities" in fresh:
                result["documents"]["entities"] = con.execute(
                    "SELECT count(*) FROM entities").fetchall()[0][0]
        if "qa_questions" in fresh or "relevant_docs" in fresh:
            result["qa"] = _qa(con, fresh, failed)
    return result


def _failures(con) -> dict[str, int]:
    return dict(con.execute("SELECT stage, count(*) FROM failures GROUP BY stage").fetchall())


def _share(part: int | float, whole: int | float) -> float | None:
    return part / whole if whole else None


def _documents(con, failed: dict[str, int]) -> dict:
    read, linked, empty, with_entity, mentions = con.execute(
        "SELECT count(*), count(*) FILTER (status = 'linked'), count(*) FILTER "
        "(status = 'empty'), count(*) FILTER (n_mentions > 0), coalesce(sum(n_mentions), 0) "
        "FROM docs").fetchall()[0]
    failures = sum(failed.get(stage, 0) for stage in DOCUMENT_FAILURE_STAGES)
    return {
        "documents_in": read + failures, "documents_read": read, "linked": linked,
        "empty": empty, "failed": failures,
        "with_entity": with_entity, "with_entity_share": _share(with_entity, read),
        "mentions": int(mentions), "mentions_per_document": _share(int(mentions), read),
        "mentions_per_document_with_entity": _share(int(mentions), with_entity),
    }


def _qa(con, fresh: set[str], failed: dict[str, int]) -> dict:
    qa: dict = {"unreadable": failed.get("qa_read", 0)}
    if "qa_questions" in fresh:
        questions, linked = con.execute(
            "SELECT count(*), count(*) FILTER (linked) FROM qa_questions").fetchall()[0]
        qa.update({"questions": questions, "linked": linked, "link_failed": questions - linked})
    if "relevant_docs" in fresh:
        status = dict(con.execute(
            "SELECT status, count(*) FROM relevant_docs GROUP BY status ORDER BY status"
        ).fetchall())
        total = sum(status.values())
        with_count = status.get("counted", 0) + status.get("zero", 0)
        qa.update({
            "in_relevant_docs": total, "status": status, "with_count": with_count,
            "with_count_share": _share(with_count, total),
            "without_count": {k: v for k, v in status.items() if k not in ("counted", "zero")},
        })
    return qa
