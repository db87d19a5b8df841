"""The one stage runner: plan, verify, skip, run what is left, sum the stats, commit.

Every stage runs through here, so lineage, verification and stats live in one place:

- **Sharded stages** (link, qa) cut their input into deterministic shards. A shard's task
  writes its table files under the stage's work folder and then its marker (`ShardWriter`).
  On a rerun, a shard is kept only if the files its marker (or the committed record) names
  pass the cheap check; a shard whose files are missing or damaged is done again, and the run
  says so. The stage refuses to resume when its parameters, inputs or model changed since the
  run started; `--overwrite` starts a new run that replaces the committed one only when it
  commits.
- **Whole stages** (index, count, the analyses, import) read fresh upstream tables and write
  their tables as one commit (`WholeStage`).

Both end in `finish`: the stage record (run id, parameters, inputs, upstream run ids, files
with their checksums, stats), committed by the folder's journal (`OutputFolder.commit`), then
the manifest and the DuckDB views. The distributed part is an `Executor`: a function that
applies a task function to a list of tasks somewhere (Spark in the jobs layer, a plain loop
here) and returns their results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from longtail.errors import UsageError
from longtail.output.folder import WORK, FileEntry, OutputFolder, final_path, new_commit_id
from longtail.output.lineage import Lineage, fingerprint, input_change, run_id
from longtail.output.records import InputFile, StageRecord, now_utc

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

    def table_dir(self, table: str) -> str:
        """Where this run writes `table`'s files until the stage is committed."""
        return f"{WORK}/{self.stage}/{table}"

    def write(self, table: str, data, row_group_rows: int | None = None) -> int:
        """Write (more of) the shard's rows of `table`, one file each time; returns how many."""
        earlier = sum(1 for f in self.files if f.table == table)
        name = self.file_name(f"-{earlier:05d}" if earlier else "")
        entry = self.out.write_table_file(table, f"{self.table_dir(table)}/{name}", data,
                                          row_group_rows)
        self.files.append(entry)
        return entry.rows

    def add(self, entries: Iterable[FileEntry]) -> None:
        """Files written for this commit elsewhere (by Spark tasks)."""
        self.files.extend(entries)

    def commit_marker(self, stats: dict) -> dict:
        """Write the marker that names the shard's files; returns it."""
        marker = {"shard": self.shard_id, "commit": self.commit, "stats": stats,
                  "files": [{**f.to_json(), "shard": self.shard_id} for f in self.files]}
        self.out.write_marker(self.stage, self.shard_id, marker)
        return marker


@dataclass
class StageSpec:
    """What a run of a stage is: its name, tables, parameters and what it reads from outside
    OUT: input files by name (locations as given), a model folder, and which inputs are small
    enough to keep a content checksum of."""

    stage: str
    tables: list[str]
    parameters: dict
    inputs: dict[str, list[str]] = field(default_factory=dict)
    model: str | None = None
    digest_inputs: tuple[str, ...] = ()
    retires: tuple[str, ...] = ()  # stages whose output this one's commit replaces

    def identity(self, out: OutputFolder) -> dict:
        """What a resumed or repeated run must share with the run it continues."""
        from longtail.linking.spec import model_id

        inputs = {name: [out.locations.record(p)[0] for p in paths]
                  for name, paths in self.inputs.items()}
        model = None
        if self.model:
            model = {"location": out.locations.record(self.model)[0],
                     "id": model_id(self.model)}
        return {"parameters": self.parameters, "inputs": inputs, "model": model}


def record_identity(record: StageRecord) -> dict:
    inputs = {name: [f.location for f in files] for name, files in record.inputs.items()}
    model = ({"location": record.model.location, "id": record.model.id}
             if record.model else None)
    return {"parameters": record.parameters, "inputs": inputs, "model": model}


def identity_changes(wanted: dict, recorded: dict) -> list[str]:
    """What differs between two identities, named for a user."""
    changed = [k for k in sorted(wanted["parameters"].keys() | recorded["parameters"].keys())
               if wanted["parameters"].get(k) != recorded["parameters"].get(k)]
    if wanted["inputs"] != recorded["inputs"]:
        changed.append("input files")
    if wanted["model"] != recorded["model"]:
        changed.append("model")
    return changed


def finish(out: OutputFolder, spec: StageSpec, markers: list[dict], stats: dict,
           upstream: dict[str, str], started: float, *, say: Say | None = None,
           inputs: dict[str, list[InputFile]] | None = None, lock=None,
           plan: list[dict] | None = None) -> StageRecord:
    """Commit the stage's run: its record, the move of its files into their tables, then the
    manifest and views. `inputs` are the fingerprints taken when the run started (by default,
    the spec's inputs now); `plan`, the shards as planned, is kept for reruns."""
    from longtail.linking.spec import model_id

    files: dict[str, list[FileEntry]] = {}
    staged: list[FileEntry] = []
    for marker in sorted(markers, key=lambda m: m["shard"]):
        for data in marker["files"]:
            entry = FileEntry.from_json(data)
            staged.append(entry)
            files.setdefault(entry.table, []).append(
                FileEntry(entry.table, final_path(entry.path), entry.rows, entry.bytes,
                          entry.sha256, entry.tail, entry.mtime_ns, marker["shard"]))
    if inputs is None:
        inputs = fingerprint_inputs(out, spec)
    model = out.locations.model(spec.model, model_id(spec.model)) if spec.model else None
    record = StageRecord(
        stage=spec.stage,
        run_id=run_id((m["shard"], m["commit"]) for m in markers),
        finished=now_utc(),
        seconds=round(time.perf_counter() - started, 3),
        parameters=spec.parameters, inputs=inputs, model=model, upstream=upstream,
        stats=stats, files=files,
        shards={m["shard"]: {"commit": m["commit"], "stats": m["stats"]} for m in markers},
        plan=plan or [])
    if lock is not None:
        lock.check()
    out.commit(record, staged, retire=spec.retires)
    from longtail.output.manifest import refresh  # the manifest and views follow every record

    refresh(out)
    if not out.storage.local and say:
        say(f"{spec.stage}: {out.display()} is in object storage, so no longtail.duckdb is "
            "written there (DuckDB would need its httpfs extension); ask with `longtail query`")
    return record


def fingerprint_inputs(out: OutputFolder, spec: StageSpec, skip: Iterable[str] = ()
                       ) -> dict[str, list[InputFile]]:
    """The spec's inputs as they are now (but those named in `skip`, fingerprinted already)."""
    return {name: [fingerprint(out.locations, p, name in spec.digest_inputs) for p in paths]
            for name, paths in spec.inputs.items() if name not in set(skip)}


def _record_markers(record: StageRecord) -> dict[str, dict]:
    """The committed run's shards as markers (to keep them in a rerun that repairs others)."""
    by_shard: dict[str, list[dict]] = {}
    for entry in record.all_files():
        by_shard.setdefault(entry.shard or "", []).append(entry.to_json())
    return {shard: {"shard": shard, "commit": done["commit"], "stats": done.get("stats", {}),
                    "files": by_shard.get(shard, [])}
            for shard, done in record.shards.items()}


class ShardedStage:
    """A stage cut into shards that resume: link and qa."""

    def __init__(self, out: OutputFolder, spec: StageSpec, *, say: Say = say_on_stderr,
                 lock=None):
        self.out = out
        self.spec = spec
        self.say = say
        self.lock = lock
        self.started = time.perf_counter()
        self.fingerprints: dict[str, list[InputFile]] | None = None
        self.base: StageRecord | None = None  # the committed run this one continues
        self.recorded_plan: list[dict] | None = None

    def prepare(self, overwrite: bool) -> None:
        """Start a new run (`--overwrite`: the committed run stays until this one commits), or
        check that a resumed or repeated run has the same parameters, inputs and model."""
        out, stage = self.out, self.spec.stage
        if overwrite:
            out.discard_work(stage)
        wanted = self.spec.identity(out)
        plan = out.plan(stage)
        record = out.record(stage)
        if plan is None:
            if record is not None and not overwrite:
                self._refuse_changes(wanted, record_identity(record), "holds")
            plan = {**wanted, "replaces_committed": bool(overwrite)}
            out.write_plan(stage, plan)
        else:
            self._refuse_changes(wanted, {k: plan.get(k) for k in wanted}, "holds an unfinished")
        if record is not None and not plan.get("replaces_committed"):
            self.base = record

    def _refuse_changes(self, wanted: dict, recorded: dict, holds: str) -> None:
        changed = identity_changes(wanted, {"parameters": recorded.get("parameters") or {},
                                            "inputs": recorded.get("inputs") or {},
                                            "model": recorded.get("model")})
        if changed:
            raise UsageError(
                f"{self.out.display()} {holds} '{self.spec.stage}' run with other "
                f"{', '.join(changed)}; pass --overwrite to redo it or choose another --out")

    def record_rows(self, rows: Mapping[str, int]) -> None:
        """Add each input file's row count (as the shard plan found it) to its fingerprint,
        so the stage's record says how many rows it read of each file."""
        for name, entries in (self.fingerprints or {}).items():
            paths = self.spec.inputs[name]
            self.fingerprints[name] = [replace(f, rows=rows.get(path, 0))
                                       for path, f in zip(paths, entries, strict=True)]

    def shard_plan(self, make: Callable[[], list[T]], to_json: Callable[[T], dict],
                   from_json: Callable[[dict], T]) -> list[T]:
        """The run's shards: the plan recorded by the run in progress, or by the committed run
        it continues, whatever the cluster's size is now (so that shard ids, and the shards
        already done, stay valid); otherwise made now and recorded."""
        plan = self.out.plan(self.spec.stage) or {}
        if plan.get("shards") is not None:
            recorded = plan["shards"]
        elif self.base is not None and self.base.plan:
            recorded = self.base.plan
        else:
            recorded = [to_json(s) for s in make()]
        self.out.write_plan(self.spec.stage, {**plan, "shards": recorded})
        self.recorded_plan = recorded
        return [from_json(s) for s in recorded]

    def fingerprint_inputs(self, paths: list[str]) -> None:
        """Fingerprint inputs read on the driver (QA files); a change after shards were
        committed stops the run with one line."""
        name = next(iter(self.spec.inputs))
        plan, current = self._fingerprints(name, paths)
        self.fingerprints = {name: current}
        self.out.write_plan(self.spec.stage, {**plan, "fingerprints": {
            name: [f.to_json() for f in current]}})

    def _fingerprints(self, name: str, paths: list[str]) -> tuple[dict, list[InputFile]]:
        out, stage = self.out, self.spec.stage
        plan = out.plan(stage) or {}
        current = [fingerprint(out.locations, p, name in self.spec.digest_inputs)
                   for p in paths]
        recorded = [InputFile.from_json(e) for e in plan.get("fingerprints", {}).get(name, [])]
        if recorded and out.has_markers(stage):
            self._check_unchanged(recorded, paths)
        elif self.base is not None:
            self._check_unchanged(self.base.inputs.get(name, []), paths)
        return plan, current

    def _check_unchanged(self, recorded: list[InputFile], paths: list[str]) -> None:
        """Stop when an input file changed after shards were made from it."""
        for entry, path in zip(recorded, paths, strict=False):
            change = input_change(entry, path)
            if change:
                raise UsageError(
                    f"{change} since this '{self.spec.stage}' run started; pass --overwrite "
                    "to redo the stage, or restore the file")

    def verified_markers(self, shard_ids: Iterable[str]) -> dict[str, dict]:
        """Shards whose files are all there as written, from the run in progress and the
        committed run it continues; the others are dropped (and said)."""
        out, stage = self.out, self.spec.stage
        wanted = set(shard_ids)
        candidates = _record_markers(self.base) if self.base is not None else {}
        candidates.update(out.markers(stage))
        listing = {**out.table_listing(self.spec.tables),
                   **out.table_listing(self.spec.tables, f"{WORK}/{stage}")}
        valid = {}
        for shard_id, marker in sorted(candidates.items()):
            if shard_id not in wanted:
                out.delete_marker(stage, shard_id)
                continue
            problem = out.check_files([FileEntry.from_json(f) for f in marker["files"]], listing)
            if problem:
                self.say(f"{stage}: shard {shard_id}: {problem}; doing it again")
                out.delete_marker(stage, shard_id)
                continue
            valid[shard_id] = marker
        return valid

    def run(self, shards: dict[str, Any], work: Callable[[tuple[str, Any]], dict],
            executor: Executor, upstream: dict[str, str] | None = None,
            extra_stats: dict | None = None) -> StageRecord:
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
        if not todo and self.base is not None and self.base.run_id == run_id(
                (m["shard"], m["commit"]) for m in done.values()):
            out.discard_work(stage)
            return self.base
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
        inputs = {**fingerprint_inputs(out, self.spec, skip=self.fingerprints or {}),
                  **(self.fingerprints or {})}
        return finish(out, self.spec, markers, stats, upstream or {}, self.started,
                      say=self.say, inputs=inputs, lock=self.lock, plan=self.recorded_plan)


class WholeStage:
    """A stage that rewrites its tables as one commit from fresh upstream tables.

        with WholeStage(out, spec, reads=["mentions"]) as run:
            run.write("doc_entities", table)
            run.stats["entities"] = ...
    """

    def __init__(self, out: OutputFolder, spec: StageSpec, reads: Iterable[str] = (),
                 *, say: Say = say_on_stderr, lineage: Lineage | None = None, lock=None):
        self.out = out
        self.spec = spec
        self.reads = list(reads)
        self.say = say
        self.lock = lock
        self.stats: dict = {}
        self.record: StageRecord | None = None
        self.started = time.perf_counter()
        self.lineage = lineage or Lineage(out)
        self.upstream = self.lineage.require(self.reads)
        self.writer = ShardWriter(out, spec.stage, "all")

    def __enter__(self) -> WholeStage:
        self.out.discard_work(self.spec.stage)
        # what is running, so that a run that stops part-way is seen as stopped, not absent
        self.out.write_plan(self.spec.stage, self.spec.identity(self.out))
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
        if kind is not None:  # a failed run leaves nothing behind: the committed run stays
            self.out.discard_work(self.spec.stage)
            return
        marker = self.writer.commit_marker(self.stats)
        self.record = finish(self.out, self.spec, [marker], dict(self.stats), self.upstream,
                             self.started, say=self.say, lock=self.lock)


def commit_stage(out: OutputFolder, stage: str, tables: dict[str, Any], *,
                 parameters: dict | None = None, inputs: dict | None = None,
                 reads: Iterable[str] = (), say: Say | None = None,
                 row_groups: dict[str, int] | None = None) -> StageRecord:
    """Commit whole tables as one finished run of `stage` (a table's value is an Arrow table
    or a list of them, one file each); returns the record. For importers, fixtures and
    benchmarks that make tables without running the stage itself."""
    spec = StageSpec(stage, list(tables), parameters or {}, inputs or {})
    with WholeStage(out, spec, reads, say=say or (lambda message: None)) as run:
        for table, data in tables.items():
            for part in data if isinstance(data, list) else [data]:
                run.write(table, part, (row_groups or {}).get(table))
    return run.record
