"""The stage registry: every stage of longtail, declared once.

A stage is a step that writes tables into an output folder and records itself there
(`OUT/_stages/<name>.json`). Its declaration says everything the rest of longtail derives:

- the command line (`longtail link`, `longtail analyze accuracy`, ...) and the spark-submit
  entry (`spark-submit jobs/submit.py link ...`): its command words, help, config dataclass
  (whose fields make the flags), whether it links, needs Spark, resumes;
- lineage: the tables it reads and writes, and the command that reruns it;
- `longtail status` (stages in this order), the query views (every declared table) and
  `longtail run` (the stages marked `in_run`, in the order their reads and writes give).

Entry points are named, not imported ("module:function"), so that this module, which the
pure-Python core reads, never imports the Spark layer: `entry(ctx, config)` runs the stage with
a `longtail.output.context.StageContext` and returns its record; `prepare(config)`, when
a stage has one, checks and reads its inputs before anything in OUT is touched, and what it
returns is handed to the entry (`ctx.prepared`).

Adding a stage is one module with its entry function (and config dataclass) and one `Stage(...)`
below (or `register(Stage(...))` from outside).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from longtail.analysis import commands_args as texts
from longtail.analysis.configs import (
    AccuracyConfig,
    CounterfactualConfig,
    DuplicatesConfig,
    ExportLongtailConfig,
    ExposureConfig,
    ImportPaperConfig,
)
from longtail.schemas import ALL_TABLES
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig


@dataclass(frozen=True)
class Stage:
    """One stage, declared once (see the module docstring)."""

    name: str
    command: tuple[str, ...]
    help: str
    config: type
    entry: str
    writes: tuple[str, ...]
    reads: tuple[str, ...] = ()
    prepare: str | None = None
    linker: bool = False
    spark: bool = False
    resumable: bool = False
    in_run: bool = False
    out_positional: bool = False  # `longtail analyze accuracy OUT` rather than `--out OUT`
    replaces: tuple[str, ...] = ()  # stages whose output a commit of this one retires
    schemas: Mapping[str, pa.Schema] = field(default_factory=dict)  # tables it introduces
    description: str | None = None
    needs: tuple[str, ...] = ()  # optional modules, imported before anything else happens

    @property
    def rerun(self) -> str:
        return "longtail " + " ".join(self.command)

    def entry_function(self) -> Callable[..., Any]:
        return _resolve(self.entry)

    def prepare_function(self) -> Callable[..., Any] | None:
        return _resolve(self.prepare) if self.prepare else None

    def check_needs(self) -> None:
        """Import the optional packages the stage needs, so that a missing extra is one line
        before any work (`longtail.jobs.errors` names the extra)."""
        for module in self.needs:
            importlib.import_module(module)


def _resolve(name: str) -> Callable[..., Any]:
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


PIPELINE = "longtail.jobs"  # the Spark stages' entry points live in the jobs layer

STAGES: dict[str, Stage] = {}


def register(stage: Stage) -> Stage:
    """Add a stage (and the tables it introduces) to the registry; returns it."""
    clash = set(stage.schemas) & set(ALL_TABLES)
    if clash and any(ALL_TABLES[t] != stage.schemas[t] for t in clash):
        raise ValueError(f"stage {stage.name} redeclares tables {sorted(clash)}")
    ALL_TABLES.update(stage.schemas)
    unknown = [t for t in (*stage.reads, *stage.writes) if t not in ALL_TABLES]
    if unknown:
        raise ValueError(f"stage {stage.name} names undeclared tables {unknown}")
    STAGES[stage.name] = stage
    return stage


def unregister(name: str) -> None:
    """Remove a stage and the tables it introduced (for tests that declare toy stages)."""
    stage = STAGES.pop(name)
    for table in stage.schemas:
        ALL_TABLES.pop(table, None)


for _stage in (
    Stage("link", ("link",), "entity-link a corpus: writes docs, mentions, entity_uris, failures",
          CorpusConfig, f"{PIPELINE}.link:run_link",
          writes=("docs", "mentions", "entity_uris", "failures"),
          prepare="longtail.preflight:prepare_corpus", linker=True, spark=True,
          resumable=True, in_run=True),
    Stage("qa", ("qa",), "entity-link a QA dataset: writes qa_questions, qa_entities",
          QAConfig, f"{PIPELINE}.qa:run_qa",
          writes=("qa_questions", "qa_entities", "entity_uris", "failures"),
          prepare="longtail.preflight:prepare_qa", linker=True, spark=True, resumable=True,
          in_run=True),
    Stage("index", ("index",), "build entities, doc_entities, entity_docs and cooccurrence "
          "from mentions", IndexConfig, f"{PIPELINE}.index:run_index",
          reads=("mentions",),
          writes=("entities", "doc_entities", "entity_docs", "cooccurrence"), spark=True,
          in_run=True),
    Stage("count", ("count",), "count relevant documents per question: writes relevant_docs",
          CountConfig, f"{PIPELINE}.count:run_count",
          reads=("doc_entities", "entities", "qa_questions", "qa_entities"),
          writes=("relevant_docs",), spark=True, in_run=True),
    Stage("import", ("import", "paper"), "read Kandpal et al.'s entity map and QA entity "
          "files into an output folder", ImportPaperConfig,
          "longtail.analysis.paper_import:run_import", description=texts.IMPORT_PAPER_DESCRIPTION,
          writes=("docs", "doc_entities", "entity_docs", "entity_uris", "entities", "failures",
                  "qa_questions", "qa_entities"),
          replaces=("link", "index", "qa", "count")),
    Stage("accuracy", ("analyze", "accuracy"), "QA accuracy by number of relevant documents "
          "(Kandpal et al., Figure 1)", AccuracyConfig,
          "longtail.analysis.commands:run_accuracy", description=texts.ACCURACY_DESCRIPTION,
          reads=("relevant_docs",),
          writes=("accuracy", "accuracy_summary", "accuracy_questions"), out_positional=True,
          needs=("scipy.stats",)),
    Stage("counterfactual", ("counterfactual",), "draw questions per bin and the documents a "
          "counterfactual corpus leaves out", CounterfactualConfig,
          "longtail.analysis.commands:run_counterfactual",
          description=texts.COUNTERFACTUAL_DESCRIPTION,
          reads=("relevant_docs", "doc_entities", "docs"),
          writes=("counterfactual_questions", "counterfactual_removed"), out_positional=True),
    Stage("duplicates", ("duplicates",), "exact and near duplicates in the corpus, and relevant "
          "documents counted once per duplicate cluster", DuplicatesConfig,
          "longtail.analysis.commands:run_duplicates", description=texts.DUPLICATES_DESCRIPTION,
          reads=("docs",), writes=("duplicates", "relevant_docs_unique"), out_positional=True,
          needs=("datasketch",)),
    Stage("exposure", ("exposure",), "when in the training stream each question's relevant "
          "documents appear", ExposureConfig, "longtail.analysis.commands:run_exposure",
          description=texts.EXPOSURE_DESCRIPTION,
          reads=("docs", "doc_entities", "relevant_docs"), writes=("exposure",),
          out_positional=True),
    Stage("export_longtail", ("export", "longtail"), "write the QA pairs with few relevant "
          "documents (and REMIX-style mixing data) for fine-tuning", ExportLongtailConfig,
          "longtail.analysis.commands:run_export_longtail", description=texts.LONGTAIL_DESCRIPTION,
          reads=("relevant_docs",), writes=("longtail_set",), out_positional=True),
):
    register(_stage)


# -- what the rest of longtail derives ----------------------------------------------------


def stage(name: str) -> Stage:
    return STAGES[name]


def writers_of(table: str) -> tuple[str, ...]:
    """The stages that write `table`, the usual one first ("run ... first" messages)."""
    return tuple(s.name for s in STAGES.values() if table in s.writes)


def rerun_command(name: str) -> str:
    found = STAGES.get(name)
    return found.rerun if found else f"longtail {name}"


def run_order(stages: list[Stage] | None = None) -> list[Stage]:
    """The stages of `longtail run` in an order where every stage runs after the stages that
    write what it reads (declaration order among equals)."""
    todo = [s for s in (stages if stages is not None else STAGES.values()) if s.in_run]
    ordered: list[Stage] = []
    while todo:
        pending = {t for s in todo for t in s.writes}
        for candidate in todo:
            if not (set(candidate.reads) & pending - set(candidate.writes)):
                ordered.append(candidate)
                todo.remove(candidate)
                break
        else:
            raise ValueError(f"stages read each other's tables: {[s.name for s in todo]}")
    return ordered


def status_order() -> list[str]:
    """Stages in the order `longtail status` lists them: `run`'s order, then the rest."""
    first = [s.name for s in run_order()]
    return first + [name for name in STAGES if name not in first]
