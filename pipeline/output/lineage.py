"""Which stage wrote which table, from what, and whether that is still true (fresh or stale).

Every finished stage leaves a record (`OUT/_stages/<stage>.json`): its run id (a digest of the
commits it is made of), its parameters, fingerprints of the files it read from outside OUT,
the run ids of the stages it read from, and the files it committed. A stage is **fresh** when

- it finished (a record exists),
- every stage it read from still has the run id it read, and is itself fresh,
- the corpus, QA files and model it read are unchanged (size and modification time),
- the files it committed are all there with the sizes they were written with.

Otherwise it is **stale**, with one reason and the command that makes it fresh again. Readers
of a table (the next stage, `longtail query`, `longtail docs`, the analyses) refuse a stale or
missing table with that line instead of answering from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from longtail.errors import UsageError
from longtail.linking.spec import model_id
from longtail.output.folder import FileEntry, OutputFolder
from longtail.output.storage import FileStat, Storage

# The stages that write each pipeline table, the usual one first ("run ... first" messages).
WRITERS: dict[str, tuple[str, ...]] = {
    "docs": ("link", "import"), "mentions": ("link",), "entity_uris": ("link", "qa", "import"),
    "failures": ("link", "qa", "import"), "entities": ("index", "import"),
    "doc_entities": ("index", "import"), "entity_docs": ("index", "import"),
    "cooccurrence": ("index",),
    "qa_questions": ("qa", "import"), "qa_entities": ("qa", "import"),
    "relevant_docs": ("count",),
    "accuracy": ("accuracy",), "accuracy_summary": ("accuracy",),
    "accuracy_questions": ("accuracy",), "counterfactual_questions": ("counterfactual",),
    "counterfactual_removed": ("counterfactual",), "duplicates": ("duplicates",),
    "relevant_docs_unique": ("duplicates",), "exposure": ("exposure",),
    "longtail_set": ("export_longtail",),
}
# How to make each stage fresh again.
RERUN = {"import": "longtail import paper ... --overwrite",
         "export_longtail": "longtail export longtail",
         "accuracy": "longtail analyze accuracy"}


def rerun_command(stage: str) -> str:
    return RERUN.get(stage, f"longtail {stage}")


@dataclass(frozen=True)
class Freshness:
    stage: str
    fresh: bool
    reason: str = ""
    rerun: str = ""

    def line(self, what: str | None = None) -> str:
        """One line for a user: what is stale, why, and what to run."""
        subject = what or f"the {self.stage} stage's output"
        return f"{subject} is stale: {self.reason}; run `{self.rerun}` first"


def run_id(commits: Iterable[tuple[str, str]]) -> str:
    """The identity of a stage's output: a digest of its (shard, commit) pairs."""
    digest = hashlib.sha256(json.dumps(sorted(commits)).encode("utf-8")).hexdigest()
    return digest[:16]


def input_fingerprints(paths: Iterable[str]) -> list[dict]:
    """Size and modification time of input files (paths or URIs) outside OUT."""
    found = []
    for path in paths:
        storage, name = Storage.for_file(path)
        stat = storage.stat(name)
        found.append({"path": path, "size": stat.size if stat else None,
                      "mtime_ns": stat.mtime_ns if stat else None})
    return found


def input_change(then: dict, now: dict) -> str | None:
    """How an input file differs from its recorded fingerprint, described; None if it does
    not."""
    if now["size"] is None:
        return f"input {then['path']} is gone"
    if (now["size"], now["mtime_ns"]) == (then.get("size"), then.get("mtime_ns")):
        return None
    size = ("" if now["size"] == then.get("size")
            else f" ({then.get('size'):,} bytes then, {now['size']:,} now)")
    return f"input {then['path']} changed{size}"


def changed_input(recorded: Iterable[dict]) -> str | None:
    """The first input file that is not as it was recorded, described; None if all are."""
    recorded = list(recorded)
    changes = map(input_change, recorded, input_fingerprints(e["path"] for e in recorded))
    return next(filter(None, changes), None)


class Lineage:
    """Freshness of every stage of one output folder, computed once per command."""

    def __init__(self, out: OutputFolder):
        self.out = out
        self.records = out.records()
        self._memo: dict[str, Freshness] = {}
        self._listing: dict[str, FileStat] | None = None

    def committed_files(self, table: str, stages: Iterable[str] | None = None) -> list[FileEntry]:
        wanted = set(self.records if stages is None else stages)
        return self.out.committed_files(
            table, {s: r for s, r in self.records.items() if s in wanted})

    def writers(self, table: str) -> list[str]:
        """The finished stages whose records hold files of `table`."""
        return [s for s, r in sorted(self.records.items()) if table in r.get("files", {})]

    def freshness(self, stage: str) -> Freshness:
        if stage not in self._memo:
            self._memo[stage] = self._check(stage)
        return self._memo[stage]

    def _check(self, stage: str) -> Freshness:
        record = self.records.get(stage)
        rerun = rerun_command(stage)
        if record is None:
            if self.out.has_run(stage):
                return Freshness(stage, False, f"`{stage}` stopped before it finished", rerun)
            return Freshness(stage, False, f"`{stage}` has not run in {self.out.display()}",
                             rerun)
        for upstream, seen in sorted(record.get("upstream", {}).items()):
            up = self.records.get(upstream)
            if up is None:
                return Freshness(stage, False, f"`{upstream}` was redone after `{stage}` ran "
                                 "and has not finished", rerun_command(upstream))
            if up.get("run_id") != seen:
                return Freshness(stage, False, f"`{upstream}` ran again after `{stage}` did",
                                 rerun)
            upstream_state = self.freshness(upstream)
            if not upstream_state.fresh:
                return Freshness(stage, False, upstream_state.reason, upstream_state.rerun)
        for files in record.get("inputs", {}).values():
            if isinstance(files, list) and files and isinstance(files[0], dict) \
                    and "mtime_ns" in files[0]:
                change = changed_input(files)
                if change:
                    return Freshness(stage, False, f"{change} since `{stage}` ran",
                                     f"{rerun} --overwrite")
        model = record.get("inputs", {}).get("model")
        if isinstance(model, dict) and model.get("id"):
            now = model_id(model["path"])
            if now != model["id"]:
                return Freshness(stage, False, f"model {model['path']} changed since `{stage}` "
                                 "ran", f"{rerun} --overwrite")
        problem = self.out.missing_or_changed(
            [FileEntry.from_json(f) for files in record.get("files", {}).values()
             for f in files], self.listing())
        if problem:
            return Freshness(stage, False, f"{problem} (written by `{stage}`)", rerun)
        return Freshness(stage, True)

    def listing(self) -> dict[str, FileStat]:
        if self._listing is None:
            tables = {t for r in self.records.values() for t in r.get("files", {})}
            self._listing = self.out.table_listing(sorted(tables))
        return self._listing

    def table_state(self, table: str) -> Freshness:
        """Fresh when every stage holding files of `table` is fresh."""
        writers = self.writers(table)
        if not writers:
            candidates = WRITERS.get(table, (table,))
            for stage in candidates:
                if self.out.has_run(stage):  # it started and stopped part-way
                    return self.freshness(stage)
            return Freshness(candidates[0], False, f"no {table} in {self.out.display()}",
                             rerun_command(candidates[0]))
        for stage in writers:
            state = self.freshness(stage)
            if not state.fresh:
                return state
        return Freshness(writers[0], True)

    def require(self, tables: Iterable[str]) -> dict[str, str]:
        """Check that every table is there and fresh; returns {stage: run id} of their writers,
        what a stage reading them records as its upstream. Raises a one-line UsageError."""
        upstream: dict[str, str] = {}
        for table in tables:
            state = self.table_state(table)
            if not state.fresh:
                if state.reason.startswith("no "):
                    raise UsageError(f"{state.reason}: run `{state.rerun}` first")
                raise UsageError(state.line(table))
            for stage in self.writers(table):
                upstream[stage] = self.records[stage]["run_id"]
        return upstream
