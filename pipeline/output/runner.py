"""The one stage runner: plan, verify, skip, run what is left, sum the stats, record.

Every stage runs through here, so lineage, verification and stats live in one place:

- **Sharded stages** (link, qa) cut their input into deterministic shards. A shard's task
  writes its table files and then its commit marker (`ShardWriter`). On a rerun, a marker is
  trusted only if the files it names are all there with their sizes; a shard whose files are
  missing or changed is redone, and the run says so. The stage refuses to resume when its
  parameters or its input files changed since the run started.
- **Whole stages** (index, count, the analyses, import) read fresh upstream tables, write their
  tables as one commit and replace what they wrote before (`WholeStage`).

Both end in `finish`: the stage record (run id, parameters, inputs, upstream run ids, files,
stats), then the manifest and the DuckDB views. The distributed part is an `Executor`: a
function that applies a task function to a list of tasks somewhere (Spark in the jobs layer,
a plain loop here) and returns their results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from longtail.errors import UsageError
from longtail.output.folder import FileEntry, OutputFolder, new_commit_id
from longtail.output.lineage import Lineage, input_change, input_fingerprints, run_id

T = TypeVar("T")
R = TypeVar("R")
Executor = Callable[[Callable[[T], R], list[T]], list[R]]
Say = Callable[[str], None]


def local_executor(function: Callable[[T], R], tasks: list[T]) -> list[R]:
    """Run every task here, one after the other."""
    return [function(task) for task in tasks]


def say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_stats(total: dict, part: Mapping[str, Any]) -> dict:
    """Add one task's stats into `total`: numbers add up, dicts merge and add, the rest is
    dropped (per-shard details such as a source path do not add)."""
    for key, value in part.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, Mapping):
            total[key] = add_stats(dict(total.get(key, {})), value)
    return total


def sum_stats(parts: Iterable[Mapping[str, Any]]) -> dict:
    total: dict = {}
    for part in parts:
        add_stats(total, part)
    return total


class ShardWriter:
    """Inside a task: one shard's table files under a fresh commit id, then its marker."""

    def __init__(self, out: OutputFolder, stage: str, shard_id: str):
        self.out = out
        self.stage = stage
        self.shard_id = shard_id
        self.commit = new_commit_id()
        self.files: list[FileEntry] = []

    def file_name(self, suffix: str = "") -> str:
        return f"part-{self.stage}-{self.shard_id}-{self.commit}{suffix}.parquet"

    def write(self, table: str, data, row_group_rows: int | None = None) -> int:
        """Write (more of) the shard's rows of `table`, one file each time; returns how many."""
        earlier = sum(1 for f in self.files if f.table == table)
        name = self.file_name(f"-{earlier:05d}" if earlier else "")
        entry = self.out.write_table_file(table, name, data, row_group_rows)
        self.files.append(entry)
        return entry.rows

    def add(self, entries: Iterable[FileEntry]) -> None:
        """Files written for this commit elsewhere (by Spark tasks)."""
        self.files.extend(entries)

    def commit_marker(self, stats: dict) -> dict:
        """Write the marker that makes the files visible; returns it."""
        marker = {"shard": self.shard_id, "commit": self.commit, "stats": stats,
                  "files": [f.to_json() for f in self.files]}
        self.out.write_marker(self.stage, self.shard_id, marker)
        return marker


@dataclass
class StageSpec:
    """What a run of a stage is: its name, tables, parameters and inputs from outside OUT."""

    stage: str
    tables: list[str]
    parameters: dict
    inputs: dict = field(default_factory=dict)  # name -> list of paths, or a dict (the model)


def finish(out: OutputFolder, spec: StageSpec, markers: list[dict], stats: dict,
           upstream: dict[str, str], started: float, say: Say | None = None,
           inputs: dict | None = None, replaced: Collection[str] = ()) -> dict:
    """Write the stage's record, delete files no marker names, refresh manifest and views.

    `inputs` are the recorded inputs (fingerprinted when the run started); by default the
    spec's inputs, fingerprinted now. `replaced`: the files of the run this one replaces,
    deleted without a word (the others no marker names are from stopped tasks)."""
    files: dict[str, list[dict]] = {}
    for marker in sorted(markers, key=lambda m: m["shard"]):
        for entry in marker["files"]:
            files.setdefault(entry["table"], []).append(entry)
    record = {
        "stage": spec.stage,
        "run_id": run_id((m["shard"], m["commit"]) for m in markers),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - started, 3),
        "parameters": spec.parameters,
        "inputs": inputs if inputs is not None else fingerprinted_inputs(spec.inputs),
        "upstream": upstream,
        "stats": stats,
        "files": files,
    }
    out.write_record(spec.stage, record)
    committed = [FileEntry.from_json(e) for entries in files.values() for e in entries]
    replaced = set(replaced)
    stray = [p for p in out.remove_uncommitted(spec.stage, spec.tables, committed)
             if p not in replaced]
    if stray and say:
        say(f"{spec.stage}: removed {len(stray)} files no commit names (from stopped tasks)")
    from longtail.output.manifest import refresh  # the manifest and views follow every record

    refresh(out)
    if not out.storage.local and say:
        say(f"{spec.stage}: {out.display()} is in object storage, so no longtail.duckdb is "
            "written there (DuckDB would need its httpfs extension); ask with `longtail query`")
    return record


def changed_keys(wanted: dict, recorded: dict) -> list[str]:
    """The keys whose values differ between two dicts, sorted."""
    return sorted(k for k in wanted.keys() | recorded.keys() if wanted.get(k) != recorded.get(k))


def fingerprinted_inputs(inputs: dict) -> dict:
    """Inputs as recorded: lists of files with their sizes and times; other values as given."""
    recorded = {}
    for name, value in inputs.items():
        if isinstance(value, list) and value and isinstance(value[0], str):
            recorded[name] = input_fingerprints(value)
        else:
            recorded[name] = value
    return recorded


class ShardedStage:
    """A stage cut into shards that resume: link and qa."""

    def __init__(self, out: OutputFolder, spec: StageSpec, *, say: Say = say_on_stderr):
        self.out = out
        self.spec = spec
        self.say = say
        self.started = time.perf_counter()
        self.fingerprints: list[dict] | None = None

    def prepare(self, overwrite: bool) -> None:
        """Start over (--overwrite) or check that a resumed run has the same plan."""
        out, stage = self.out, self.spec.stage
        out.storage.check_writable()
        if overwrite:
            out.clear_stage(stage, self.spec.tables)
        plan = out.plan(stage)
        if plan is None:
            out.write_plan(stage, {"parameters": self.spec.parameters,
                                   "inputs": self.spec.inputs})
            return
        for what, key in (("different", "parameters"), ("other", "inputs")):
            changed = changed_keys(getattr(self.spec, key), plan.get(key) or {})
            if changed:
                raise UsageError(
                    f"{out.display()} holds a '{stage}' run with {what} {', '.join(changed)}; "
                    "pass --overwrite to redo it or choose another --out")

    def input_rows(self, paths: list[str], count_rows: Callable[[str], int],
                   executor: Executor) -> dict[str, int]:
        """Rows of each input file: cached in the plan while the files are unchanged, counted
        (through `executor`) otherwise. An input that changed after shards were committed
        from it stops the run with one line."""
        plan, current = self._fingerprints(paths)
        cached = plan.get("fingerprints")
        if cached and [{k: e[k] for k in ("path", "size", "mtime_ns")} for e in cached] == current:
            self.fingerprints = cached
            return {e["path"]: e["rows"] for e in cached}
        rows = executor(count_rows, list(paths)) if paths else []
        self.fingerprints = [{**fp, "rows": n} for fp, n in zip(current, rows, strict=True)]
        self.out.write_plan(self.spec.stage, {**plan, "fingerprints": self.fingerprints})
        return dict(zip(paths, rows, strict=True))

    def fingerprint_inputs(self, paths: list[str]) -> None:
        """Fingerprint inputs read on the driver (QA files); a change after shards were
        committed stops the run with one line."""
        plan, self.fingerprints = self._fingerprints(paths)
        self.out.write_plan(self.spec.stage, {**plan, "fingerprints": self.fingerprints})

    def _fingerprints(self, paths: list[str]) -> tuple[dict, list[dict]]:
        """The stage's plan and the inputs' fingerprints now, after checking that no input
        changed since shards were committed from it."""
        out, stage = self.out, self.spec.stage
        plan = out.plan(stage) or {"parameters": self.spec.parameters,
                                   "inputs": self.spec.inputs}
        current = input_fingerprints(paths)
        if plan.get("fingerprints") and out.has_markers(stage):
            self.check_inputs_unchanged(plan["fingerprints"], current)
        return plan, current

    def check_inputs_unchanged(self, recorded: list[dict], current: list[dict]) -> None:
        """Stop when an input file changed after shards were made from it."""
        before = {e["path"]: e for e in recorded}
        for now in current:
            change = now["path"] in before and input_change(before[now["path"]], now)
            if change:
                raise UsageError(
                    f"{change} since this '{self.spec.stage}' run started; pass --overwrite "
                    "to redo the stage, or restore the file")

    def verified_markers(self, shard_ids: Iterable[str]) -> dict[str, dict]:
        """Markers whose files are all there as written; the others are dropped (and said)."""
        out, stage = self.out, self.spec.stage
        wanted = set(shard_ids)
        listing = out.table_listing(self.spec.tables)
        valid = {}
        for shard_id, marker in out.markers(stage).items():
            if shard_id not in wanted:
                out.delete_marker(stage, shard_id)
                continue
            problem = out.missing_or_changed(
                [FileEntry.from_json(f) for f in marker["files"]], listing)
            if problem:
                self.say(f"{stage}: shard {shard_id}: {problem}; doing it again")
                out.delete_marker(stage, shard_id)
                continue
            valid[shard_id] = marker
        return valid

    def run(self, shards: dict[str, Any], work: Callable[[tuple[str, Any]], dict],
            executor: Executor, upstream: dict[str, str] | None = None,
            extra_stats: dict | None = None) -> dict:
        """Run the shards without a valid marker through `executor`; returns the record.

        `work((shard_id, payload))` runs in a task, writes the shard with a `ShardWriter`
        and returns its marker. `extra_stats` (facts about the whole input, not sums over
        shards) join the summed stats."""
        out, stage = self.out, self.spec.stage
        done = self.verified_markers(shards)
        todo = [(shard_id, payload) for shard_id, payload in shards.items()
                if shard_id not in done]
        self.say(f"{stage}: {len(shards)} shards, {len(done)} already done, "
                 f"{len(todo)} to do")
        record = out.record(stage)
        if not todo and record is not None and record.get("run_id") == run_id(
                (m["shard"], m["commit"]) for m in done.values()):
            return record
        out.delete_record(stage)  # nothing may read the stage while it changes
        out.remove_uncommitted(stage, self.spec.tables,
                               [FileEntry.from_json(f) for m in done.values()
                                for f in m["files"]])
        for marker in executor(work, todo) if todo else []:
            done[marker["shard"]] = marker
            stored = out.storage.read_json(out.marker_path(stage, marker["shard"])) or {}
            if stored.get("commit") != marker["commit"]:
                # a duplicate attempt of the task (speculation, a retry that raced) wrote its
                # marker last: the attempt Spark returned is the one that counts
                out.write_marker(stage, marker["shard"], marker)
        markers = [done[shard_id] for shard_id in shards]
        stats = sum_stats(m["stats"] for m in markers)
        stats["shards"] = len(shards)
        stats["shards_skipped"] = len(shards) - len(todo)
        stats.update(extra_stats or {})
        inputs = fingerprinted_inputs(self.spec.inputs)
        if self.fingerprints is not None:
            name = next(k for k, v in self.spec.inputs.items() if isinstance(v, list))
            inputs[name] = self.fingerprints
        return finish(out, self.spec, markers, stats, upstream or {}, self.started, self.say,
                      inputs)


class WholeStage:
    """A stage that rewrites its tables as one commit from fresh upstream tables.

        with WholeStage(out, spec, reads=["mentions"]) as run:
            run.write("doc_entities", table)
            run.stats["entities"] = ...
    """

    def __init__(self, out: OutputFolder, spec: StageSpec, reads: Iterable[str] = (),
                 *, say: Say = say_on_stderr):
        self.out = out
        self.spec = spec
        self.reads = list(reads)
        self.say = say
        self.stats: dict = {}
        self.record: dict | None = None
        self.replaced: list[str] = []  # files of the run this one replaces
        self.started = time.perf_counter()
        self.lineage = Lineage(out)
        self.upstream = self.lineage.require(self.reads)
        self.writer = ShardWriter(out, spec.stage, "all")

    def __enter__(self) -> WholeStage:
        self.out.storage.check_writable()
        previous = self.out.record(self.spec.stage) or {}
        self.replaced = [f["path"] for files in previous.get("files", {}).values()
                         for f in files]
        self.out.delete_record(self.spec.stage)
        self.out.delete_marker(self.spec.stage, "all")
        # what is running, so that a run that stops part-way is seen as stopped, not absent
        self.out.write_plan(self.spec.stage, {"parameters": self.spec.parameters,
                                              "inputs": self.spec.inputs})
        return self

    def write(self, table: str, data, row_group_rows: int | None = None) -> int:
        return self.writer.write(table, data, row_group_rows)

    def add(self, entries: Iterable[FileEntry]) -> None:
        self.writer.add(entries)

    def committed_files(self, table: str, stages: Iterable[str] | None = None
                        ) -> list[FileEntry]:
        """The upstream files of `table` this stage reads (checked fresh on entry)."""
        return self.lineage.committed_files(table, stages)

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:  # a failed run leaves nothing behind that it wrote itself
            for entry in self.writer.files:
                self.out.storage.delete(entry.path)
            return
        marker = self.writer.commit_marker(self.stats)
        self.record = finish(self.out, self.spec, [marker], dict(self.stats), self.upstream,
                             self.started, self.say, replaced=self.replaced)


def commit_stage(out: OutputFolder, stage: str, tables: dict[str, Any], *,
                 parameters: dict | None = None, inputs: dict | None = None,
                 reads: Iterable[str] = (), say: Say | None = None,
                 row_groups: dict[str, int] | None = None) -> dict:
    """Commit whole tables as one finished run of `stage` (a table's value is an Arrow table
    or a list of them, one file each); returns the record. For importers, fixtures and
    benchmarks that make tables without running the stage itself."""
    spec = StageSpec(stage, list(tables), parameters or {}, inputs or {})
    with WholeStage(out, spec, reads, say=say or (lambda message: None)) as run:
        for table, data in tables.items():
            for part in data if isinstance(data, list) else [data]:
                run.write(table, part, (row_groups or {}).get(table))
    return run.record
