"""What the linking stages check and read before anything in OUT is touched.

`longtail link`, `qa` and `run` call these (as the stages' `prepare`, see `longtail.stages`)
before they take OUT's lock or start Spark: a wrong path, format or field, an unusable model
or a QA file that cannot be read stops the command with one line, and changes nothing.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from longtail.corpus import CorpusFile, resolve_inputs
from longtail.output.failures import FailureRecord
from longtail.output.storage import is_uri
from longtail.qa.readers import QAPair, read_qa, resolve_qa_paths


def absolute(location: str) -> str:
    """A location as inputs are named everywhere (the `source` of documents and questions,
    the records): a local path made absolute, a URI or `@LIST` of URIs as given."""
    if location.startswith("@"):
        return "@" + absolute(location[1:])
    return location if is_uri(location) else os.path.abspath(location)


def prepare_corpus(config) -> list[CorpusFile]:
    """The corpus files the link stage will read, in file_index order."""
    return resolve_inputs([absolute(p) for p in config.corpus], config.corpus_format)


@dataclass
class QAInput:
    """A QA dataset read whole (QA files are small): its files, pairs and unreadable records."""

    paths: list[str]
    pairs: list[QAPair] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)

    def id_duplicates(self) -> dict:
        """How many question ids are shared by several records (each record is still its own
        question: questions are keyed by file and row)."""
        counts = Counter(p.question_id for p in self.pairs)
        repeated = {qid: n for qid, n in counts.items() if n > 1}
        return {"duplicate_ids": len(repeated),
                "records_with_duplicate_ids": sum(repeated.values()),
                "duplicate_id_examples": sorted(repeated)[:5]}


def prepare_qa(config) -> QAInput:
    """Every record of the QA files, read now."""
    found = QAInput(resolve_qa_paths([absolute(p) for p in config.qa]))
    for record in read_qa(found.paths, config.qa_format, config.question_field,
                          config.answers_field, config.dedupe_answers):
        (found.failures if isinstance(record, FailureRecord) else found.pairs).append(record)
    return found
