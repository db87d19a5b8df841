"""Which stage wrote which table, from what, and whether that is still true (fresh or stale).

Every finished stage leaves a record (`OUT/_stages/<stage>.json`, `longtail.output.records`).
A stage is **fresh** when

- it finished (a record exists),
- every stage it read from still has the run id it read, and is itself fresh,
- the corpus, QA files and model it read are unchanged where they are recorded (absolute
  locations, or relative to OUT for inputs inside it: a moved or copied folder stays fresh),
- the files it committed pass the cheap check (there, the size they were written with, and the
  content checksum of their tail when their modification time changed).

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
from longtail.output.checksums import file_sha256
from longtail.output.folder import FileEntry, OutputFolder
from longtail.output.records import InputFile, Locations, StageRecord
from longtail.output.storage import FileStat, Storage


def writers_of(table: str) -> tuple[str, ...]:
    from longtail.stages import writers_of as registered

    return registered(table)


def rerun_command(stage: str) -> str:
    from longtail.stages import rerun_command as registered

    return registered(stage)


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


def stat_location(location: str) -> FileStat | None:
    storage, name = Storage.for_file(location)
    try:
        return storage.stat(name)
    except OSError as err:
        raise storage.error(err, "cannot read") from None


def fingerprint(locations: Locations, location: str, content: bool = False) -> InputFile:
    """An input file as it is now, recorded the way `locations` records it; `content` adds
    its sha256 (for small inputs; always for inputs inside OUT, which a copy of the folder
    copies with new modification times)."""
    stat = stat_location(location)
    facts = {"size": stat.size if stat else None, "mtime_ns": stat.mtime_ns if stat else None,
             "etag": getattr(stat, "etag", None) if stat else None}
    if (content or locations.record(location)[1]) and stat is not None:
        facts["sha256"] = file_sha256(location)
    return locations.input_file(location, **facts)


def input_change(then: InputFile, now_location: str) -> str | None:
    """How an input differs from its record, described; None when it does not."""
    stat = stat_location(now_location)
    if stat is None:
        return f"input {now_location} is gone"
    etag = getattr(stat, "etag", None)
    if then.etag and etag:
        return None if etag == then.etag else f"input {now_location} changed (another version)"
    if (stat.size, stat.mtime_ns) == (then.size, then.mtime_ns):
        return None
    if stat.size != then.size:
        return (f"input {now_location} changed ({then.size:,} bytes then, {stat.size:,} now)"
                if then.size is not None else f"input {now_location} changed")
    if then.sha256 and file_sha256(now_location) == then.sha256:
        return None  # the same content, copied or touched
    return f"input {now_location} changed"



class Lineage:
    """Freshness of every stage of one output folder, computed once per command."""

    def __init__(self, out: OutputFolder, records: dict[str, StageRecord] | None = None):
        self.out = out
        self.records = out.records() if records is None else records
        self._memo: dict[str, Freshness] = {}
        self._listing: dict[str, FileStat] | None = None

    def refreshed(self) -> Lineage:
        """The lineage after stages have finished since this one was read."""
        return Lineage(self.out)

    def committed_files(self, table: str, stages: Iterable[str] | None = None) -> list[FileEntry]:
        wanted = set(self.records if stages is None else stages)
        return self.out.committed_files(
            table, {s: r for s, r in self.records.items() if s in wanted})

    def writers(self, table: str) -> list[str]:
        """The finished stages whose records hold files of `table`."""
        return [s for s, r in sorted(self.records.items()) if table in r.files]

    def resolve(self, entry: InputFile) -> str:
        return self.out.locations.resolve(entry.location, entry.inside_out)

    def freshness(self, stage: str) -> Freshness:
        if stage not in self._memo:
            self._memo[stage] = self._check(stage)
        return self._memo[stage]

    def _check(self, stage: str) -> Freshness:
        record = self.records.get(stage)
        rerun = rerun_command(stage)
        if record is None:
            if self.out.has_work(stage):
                return Freshness(stage, False, f"`{stage}` stopped before it finished", rerun)
            return Freshness(stage, False, f"`{stage}` has not run in {self.out.display()}",
                             rerun)
        for upstream, seen in sorted(record.upstream.items()):
            up = self.records.get(upstream)
            if up is None:
                return Freshness(stage, False, f"`{upstream}` was redone after `{stage}` ran "
                                 "and has not finished", rerun_command(upstream))
            if up.run_id != seen:
                return Freshness(stage, False, f"`{upstream}` ran again after `{stage}` did",
                                 rerun)
            upstream_state = self.freshness(upstream)
            if not upstream_state.fresh:
                return Freshness(stage, False, upstream_state.reason, upstream_state.rerun)
        for entry in record.input_files():
            where = self.resolve(entry)
            change = input_change(entry, where)
            if change and change.endswith(" is gone"):
                return Freshness(stage, False, f"{change} since `{stage}` ran (moved? point "
                                 f"OUT at its new place with `longtail status "
                                 f"{self.out.display()} --relocate OLD=NEW`)",
                                 f"{rerun} --overwrite")
            if change:
                return Freshness(stage, False, f"{change} since `{stage}` ran",
                                 f"{rerun} --overwrite")
        if record.model is not None and record.model.id:
            from longtail.linking.spec import model_id

            where = self.out.locations.resolve(record.model.location, record.model.inside_out)
            now = model_id(where)
            if now != record.model.id:
                what = "is gone" if now is None else "changed"
                return Freshness(stage, False, f"model {where} {what} since `{stage}` ran",
                                 f"{rerun} --overwrite")
        problem = self.out.check_files(record.all_files(), self.listing())
        if problem:
            return Freshness(stage, False, f"{problem} (written by `{stage}`)", rerun)
        return Freshness(stage, True)

    def listing(self) -> dict[str, FileStat]:
        if self._listing is None:
            tables = {t for r in self.records.values() for t in r.files}
            self._listing = self.out.table_listing(sorted(tables))
        return self._listing

    def table_state(self, table: str) -> Freshness:
        """Fresh when every stage holding files of `table` is fresh."""
        writers = self.writers(table)
        if not writers:
            candidates = writers_of(table) or (table,)
            for stage in candidates:
                # a writer that finished without rows of it (an empty table), or that started
                # and stopped part-way
                if stage in self.records or self.out.has_work(stage):
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
                upstream[stage] = self.records[stage].run_id
        return upstream

    def relocate(self, old: str, new: str) -> int:
        """Point every record's inputs under `old` at `new` (see `--relocate`); how many
        inputs moved. Only while holding the lock."""
        from longtail.output.records import relocate_record

        moved = 0
        for stage, record in sorted(self.records.items()):
            updated, n = relocate_record(record, old, new)
            if n:
                self.out.write_record(updated)
                self.records[stage] = updated
                moved += n
        self._memo.clear()
        return moved

