"""`longtail status OUT`: each stage's parameters, row counts, when it ran, fresh or stale;
`--verify` checks every checksum, `--relocate OLD=NEW` points the records at moved inputs."""

from __future__ import annotations

import json

from longtail.console import console
from longtail.errors import UsageError
from longtail.output.context import writing
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.storage import absolute_location
from longtail.stages import status_order

EXIT_DAMAGED = 1


def stage_rows(out: OutputFolder, lineage: Lineage | None = None) -> list[dict]:
    """One dict per stage that ran or started in OUT: name, state, why, when, rows, params."""
    lineage = lineage or Lineage(out)
    order = status_order()
    names = sorted(set(lineage.records) | out.started_stages(),
                   key=lambda s: (order.index(s) if s in order else len(order), s))
    rows = []
    for stage in names:
        record = lineage.records.get(stage)
        state = lineage.freshness(stage)
        rows.append({
            "stage": stage,
            "state": "fresh" if state.fresh else ("incomplete" if record is None else "stale"),
            "why": "" if state.fresh else f"{state.reason}; run `{state.rerun}`",
            "unfinished": record is not None and out.has_work(stage),
            "finished": record.finished if record else "",
            "seconds": record.seconds if record else None,
            "rows": record.rows() if record else {},
            "parameters": record.parameters if record else {},
        })
    return rows


def verify(out: OutputFolder, lineage: Lineage) -> list[str]:
    """Every committed file's sha256 and every model file a stage used: one line each that
    does not match."""
    problems = []
    for stage, record in sorted(lineage.records.items()):
        problems += [f"{line} (written by `{stage}`)"
                     for line in out.verify_files(record.all_files())]
    models = {out.locations.resolve(r.model.location, r.model.inside_out)
              for r in lineage.records.values() if r.model is not None}
    for folder in sorted(models):
        from longtail.linking.statistical.checksums import verify_model

        problems += [f"model {folder}: {line}" for line in verify_model(folder)]
    return problems


def relocate(out: OutputFolder, pairs: list[str], say) -> None:
    """Apply `--relocate OLD=NEW` pairs under the lock."""
    parsed = []
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"--relocate takes OLD=NEW, got {pair!r}")
        parsed.append((old, new))
    with writing(out, say):
        lineage = Lineage(out)
        for old, new in parsed:
            moved = lineage.relocate(absolute_location(old), absolute_location(new))
            say(f"relocated {moved} input{'s' if moved != 1 else ''} from {old} to {new}")


def coverage_lines(out: OutputFolder) -> list[str]:
    """How well the corpus and the QA set were linked, from the fresh tables."""
    from longtail.report.coverage import coverage

    try:
        found = coverage(out)
    except UsageError as err:  # a damaged file: the stages above, and --verify, say which
        return ["\nlinking coverage", f"  unavailable: {err}"]
    lines = []
    docs = found.get("documents")
    if docs:
        share = docs["with_entity_share"]
        per_doc = docs["mentions_per_document"]
        lines.append(
            f"  documents: {docs['documents_in']:,} in, {docs['documents_read']:,} read, "
            f"{docs['failed']:,} failed; {docs['with_entity']:,} with at least one entity"
            + (f" ({100 * share:.1f}%)" if share is not None else "")
            + (f", {per_doc:.2f} mentions per document" if per_doc is not None else ""))
    qa = found.get("qa")
    if qa and "questions" in qa:
        text = (f"  questions: {qa['questions']:,} read, {qa['linked']:,} linked, "
                f"{qa['link_failed'] + qa['unreadable']:,} failed")
        if "with_count" in qa:
            share = qa["with_count_share"]
            why = ", ".join(f"{reason} {n:,}" for reason, n in qa["without_count"].items())
            text += (f"; {qa['with_count']:,} with a count"
                     + (f" ({100 * share:.1f}%)" if share is not None else "")
                     + (f", without: {why}" if why else ""))
        lines.append(text)
    return ["\nlinking coverage", *lines] if lines else []


def print_status(out_root: str, verify_checksums: bool = False,
                 relocations: list[str] | None = None) -> int:
    out = OutputFolder(out_root)
    out.check_exists()
    terminal = console()
    if relocations:
        relocate(out, relocations, lambda line: terminal.print(line, markup=False))
    lineage = Lineage(out)
    rows = stage_rows(out, lineage)
    if not rows:
        terminal.print(f"{out.display()}: no stage has run here yet", markup=False)
        return 0
    terminal.print(f"{out.display()}", markup=False)
    for commit in out.interrupted_commits():
        terminal.print(f"  the commit of `{commit}` was interrupted; the next longtail command "
                       "that writes here completes it", markup=False)
    for row in rows:
        mark = {"fresh": "fresh", "stale": "STALE", "incomplete": "INCOMPLETE"}[row["state"]]
        when = f"finished {row['finished']} in {row['seconds']:.1f} s" if row["finished"] \
            else "not finished"
        terminal.print(f"\n{row['stage']:<16} {mark:<11} {when}", markup=False)
        if row["why"]:
            terminal.print(f"  why: {row['why']}", markup=False)
        if row["unfinished"]:
            terminal.print("  a newer run started and did not finish (run the same command "
                           "to resume it; the run above stays until one commits)", markup=False)
        if row["rows"]:
            terminal.print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in row["rows"].items()),
                           markup=False)
        if row["parameters"]:
            shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in row["parameters"].items()
                              if v not in (None, [], ""))
            terminal.print(f"  parameters: {shown}", markup=False, soft_wrap=True)
    stale = [r["stage"] for r in rows if r["state"] != "fresh"]
    for line in coverage_lines(out):
        terminal.print(line, markup=False, soft_wrap=True)
    terminal.print("\n" + (f"not fresh: {', '.join(stale)}" if stale else "every stage is fresh"),
                   markup=False)
    if verify_checksums:
        problems = verify(out, lineage)
        for line in problems:
            terminal.print(f"damaged: {line}", markup=False, soft_wrap=True)
        checked = sum(len(r.all_files()) for r in lineage.records.values())
        if problems:
            terminal.print(f"verify: {len(problems)} damaged of {checked:,} files checked",
                           markup=False)
            return EXIT_DAMAGED
        terminal.print(f"verify: all {checked:,} committed files match their checksums",
                       markup=False)
    return 0
