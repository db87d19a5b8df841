"""`longtail status OUT`: each stage's parameters, row counts, when it ran, fresh or stale."""

from __future__ import annotations

import json

from longtail.console import console
from longtail.output.folder import MARKERS, OutputFolder
from longtail.output.lineage import Lineage

# The order stages run in; others (analyses) follow in name order.
ORDER = ["link", "qa", "import", "index", "count"]


def stage_rows(out: OutputFolder) -> list[dict]:
    """One dict per stage that ran or started in OUT: name, state, why, when, rows, params."""
    lineage = Lineage(out)
    started = {path.split("/")[1] for path in out.storage.list(MARKERS, recursive=True)}
    stages = sorted(set(lineage.records) | started,
                    key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))
    rows = []
    for stage in stages:
        record = lineage.records.get(stage)
        state = lineage.freshness(stage)
        rows.append({
            "stage": stage,
            "state": "fresh" if state.fresh else ("incomplete" if record is None else "stale"),
            "why": "" if state.fresh else f"{state.reason}; run `{state.rerun}`",
            "finished": record.get("finished", "") if record else "",
            "seconds": record.get("seconds") if record else None,
            "rows": {t: sum(f["rows"] for f in files)
                     for t, files in (record or {}).get("files", {}).items()},
            "parameters": (record or {}).get("parameters", {}),
        })
    return rows


def print_status(out_root: str) -> int:
    out = OutputFolder(out_root)
    out.check_exists()
    rows = stage_rows(out)
    terminal = console()
    if not rows:
        terminal.print(f"{out.display()}: no stage has run here yet", markup=False)
        return 0
    terminal.print(f"{out.display()}", markup=False)
    for row in rows:
        mark = {"fresh": "fresh", "stale": "STALE", "incomplete": "INCOMPLETE"}[row["state"]]
        when = f"finished {row['finished']} in {row['seconds']:.1f} s" if row["finished"] \
            else "not finished"
        terminal.print(f"\n{row['stage']:<16} {mark:<11} {when}", markup=False)
        if row["why"]:
            terminal.print(f"  why: {row['why']}", markup=False)
        if row["rows"]:
            terminal.print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in row["rows"].items()),
                           markup=False)
        if row["parameters"]:
            shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in row["parameters"].items()
                              if v not in (None, [], ""))
            terminal.print(f"  parameters: {shown}", markup=False, soft_wrap=True)
    stale = [r["stage"] for r in rows if r["state"] != "fresh"]
    terminal.print("\n" + (f"not fresh: {', '.join(stale)}" if stale else "every stage is fresh"),
                   markup=False)
    return 0
