"""One command's hold on an output folder: the lock, the one lineage, the storage handle.

A writing command runs its stages through `run_stages`:

1. every stage's `prepare` checks and reads its inputs (QA files whole, a sample of the corpus,
   the model) before anything in OUT is touched, so a refused command changes nothing;
2. the command takes OUT's lock (`longtail.output.lock`), completes any commit a killed command
   left half-way and removes table files no record names;
3. each stage runs with a `StageContext`, which builds its `StageSpec` from the registry and
   its config, and hands it the lineage, the lock (checked before every commit) and Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.lock import FolderLock
from longtail.output.records import StageRecord
from longtail.output.runner import ShardedStage, StageSpec, WholeStage, say_on_stderr
from longtail.preflight import check_linker
from longtail.schemas import ALL_TABLES
from longtail.stage_config import input_files, parameters

Say = Callable[[str], None]


@dataclass
class StageContext:
    """What a stage's entry function gets besides its config."""

    stage: Any  # longtail.stages.Stage
    out: OutputFolder
    say: Say = say_on_stderr
    lock: FolderLock | None = None
    spark: Any = None
    linker: Any = None  # a LinkerSpec for stages that link
    overwrite: bool = False
    prepared: Any = None
    _lineage: Lineage | None = field(default=None, repr=False)

    @property
    def lineage(self) -> Lineage:
        if self._lineage is None:
            self._lineage = Lineage(self.out)
        return self._lineage

    def warn(self, message: str) -> None:
        """One line that something looks wrong, though the stage did its work."""
        self.say(f"longtail: warning: {message}")

    def refresh(self) -> None:
        """Read the records again (after a stage committed)."""
        self._lineage = None

    def spec(self, config, inputs: dict[str, list[str]] | None = None,
             digest: tuple[str, ...] = ()) -> StageSpec:
        """The stage's spec: the config's parameters (and the linker's), its inputs (the
        config's input fields unless resolved `inputs` are given) and the model."""
        params = parameters(config)
        model = None
        if self.linker is not None:
            params.update(self.linker.parameters())
            model = self.linker.model
        return StageSpec(self.stage.name, list(self.stage.writes), params,
                         input_files(config) if inputs is None else inputs, model, digest,
                         retires=tuple(self.stage.replaces))

    def sharded(self, config, inputs: dict[str, list[str]],
                digest: tuple[str, ...] = ()) -> ShardedStage:
        return ShardedStage(self.out, self.spec(config, inputs, digest), say=self.say,
                            lock=self.lock)

    def whole(self, config, reads: Sequence[str] | None = None,
              inputs: dict[str, list[str]] | None = None) -> WholeStage:
        reads = self.stage.reads if reads is None else reads
        return WholeStage(self.out, self.spec(config, inputs), reads, say=self.say,
                          lineage=self.lineage, lock=self.lock)

    def up_to_date(self, config) -> StageRecord | None:
        """The stage's record when it is fresh and ran with this config; else None."""
        record = self.lineage.records.get(self.stage.name)
        if record is None or record.parameters != self.spec(config).parameters:
            return None
        return record if self.lineage.freshness(self.stage.name).fresh else None


@contextmanager
def writing(out: OutputFolder, say: Say = say_on_stderr,
            command: str | None = None) -> Iterator[FolderLock]:
    """Hold OUT's lock for a writing command, after making sure OUT can be written; complete
    interrupted commits and remove stray files first."""
    if out.storage.local:
        try:
            out.storage.local_path().mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise out.storage.error(err, "cannot write to") from None
    out.storage.check_writable()
    lock = FolderLock(out.storage, command, say=say)
    lock.acquire()
    try:
        for done in out.recover(ALL_TABLES):
            say(f"{out.display()}: {done}")
        yield lock
    finally:
        lock.release()


@dataclass
class Planned:
    """One stage of a command, with its config and, for stages that link, the linker: a
    LinkerSpec, or a function that makes one (checked after the stage's inputs, so that a
    missing input is said before a model problem)."""

    stage: Any
    config: Any
    linker: Any = None

    def resolve_linker(self) -> None:
        if callable(self.linker):
            self.linker = self.linker()


def run_stages(planned: Sequence[Planned], out: OutputFolder, *, spark: Any = None,
               overwrite: bool = False, skip_up_to_date: bool = False,
               require_reads: bool = False, say: Say = say_on_stderr
               ) -> dict[str, StageRecord]:
    """Prepare every stage, take the lock, run them in order; their records by stage.
    With `skip_up_to_date` (`longtail run`), a stage that does not resume is skipped when it is
    fresh and ran with the same parameters; with `require_reads` (a single stage's command),
    the tables the stages read must be there and fresh before anything starts."""
    for item in planned:
        item.stage.check_needs()
    if require_reads and any(item.stage.reads for item in planned):
        out.check_exists()
        reader = Lineage(out)
        for item in planned:
            reader.require(item.stage.reads)
    prepared = {}
    for item in planned:
        prepare = item.stage.prepare_function()
        prepared[item.stage.name] = prepare(item.config) if prepare else None
    for item in planned:
        item.resolve_linker()
        check_linker(item.linker)
    records: dict[str, StageRecord] = {}
    with writing(out, say) as lock:
        for item in planned:
            ctx = StageContext(item.stage, out, say, lock, spark, item.linker, overwrite,
                               prepared[item.stage.name])
            if skip_up_to_date and not item.stage.resumable:
                record = ctx.up_to_date(item.config)
                if record is not None:
                    say(f"[longtail] {item.stage.name:<8} up to date (nothing it reads "
                        "changed since it ran)")
                    records[item.stage.name] = record
                    continue
            records[item.stage.name] = item.stage.entry_function()(ctx, item.config)
    return records


def run_stage(name: str, config, out: OutputFolder | str, *, spark: Any = None,
              linker: Any = None, overwrite: bool = False,
              say: Say = say_on_stderr) -> StageRecord:
    """Run one registered stage outside the command line (benchmarks, scripts, tests)."""
    from longtail.stages import stage

    out = out if isinstance(out, OutputFolder) else OutputFolder(out)
    return run_stages([Planned(stage(name), config, linker)], out, spark=spark,
                      overwrite=overwrite, say=say)[name]
