"""What the linking stages check and read before anything in OUT is touched.

`longtail link`, `qa` and `run` call these (as the stages' `prepare`, see `longtail.stages`)
before they take OUT's lock or start Spark: a wrong path, format or field, a QA file or corpus
whose records mostly fail, or a QA file that cannot be read stops the command with one line,
and changes nothing. The model is checked right after (`LinkerSpec`), and `check_linker` says
when the linker's settings leave nothing to link.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from longtail.corpus import CorpusFile, resolve_inputs
from longtail.corpus.preflight import check_corpus
from longtail.errors import UsageError
from longtail.output.storage import absolute_location, is_uri
from longtail.qa.preflight import QAPreflight, check_qa


def absolute(location: str) -> str:
    """A location as inputs are named everywhere (the `source` of documents and questions,
    the records): a local path made absolute, a URI or `@LIST` of URIs as given."""
    if location.startswith("@"):
        return "@" + absolute(location[1:])
    return location if is_uri(location) else absolute_location(location)


@dataclass
class CorpusInput:
    """The corpus files the link stage reads (in file_index order) and what their first
    records showed."""

    files: list[CorpusFile]
    warnings: list[str] = field(default_factory=list)


def prepare_corpus(config) -> CorpusInput:
    files = resolve_inputs([absolute(p) for p in config.corpus], config.corpus_format)
    sample = check_corpus(files, config.text_field, config.id_field,
                          max_failed_share=config.max_failed_share)
    warnings = []
    if sample.empty_files:
        shown = ", ".join(sample.empty_files[:3]) + (" ..." if len(sample.empty_files) > 3
                                                     else "")
        warnings.append(f"{len(sample.empty_files)} corpus files are empty: {shown}")
    return CorpusInput(files, warnings)


def prepare_qa(config) -> QAPreflight:
    """Every record of the QA files, read now (QA files are small)."""
    return check_qa([absolute(p) for p in config.qa], config.qa_format, config.question_field,
                    config.answers_field, config.dedupe_answers, config.max_failed_share)


def id_duplicates(qa: QAPreflight) -> dict:
    """How many question ids are shared by several records (each record is still its own
    question: questions are keyed by file and row)."""
    counts = Counter(p.question_id for p in qa.pairs)
    repeated = {qid: n for qid, n in counts.items() if n > 1}
    return {"duplicate_ids": len(repeated),
            "records_with_duplicate_ids": sum(repeated.values()),
            "duplicate_id_examples": sorted(repeated)[:5]}


def check_linker(linker) -> None:
    """Stop when the linker's settings leave no entity to link: `--support` at or above every
    entity's support in the model."""
    if linker is None or not linker.model or is_uri(linker.model):
        return  # a model in object storage is checked where it is copied to
    from longtail.linking.statistical.model import StatisticalModel

    support = StatisticalModel.load(linker.model).arrays.get("entity_support")
    largest = int(support.max()) if support is not None and len(support) else None
    if largest is not None and linker.support >= largest:
        raise UsageError(f"--support {linker.support} leaves no entity to link: the largest "
                         f"support in the model {linker.model} is {largest:,} (an entity is "
                         "kept when its support is greater than --support)")
