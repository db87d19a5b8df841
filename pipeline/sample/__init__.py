"""The bundled sample: a small wiki export, a web-like corpus and QA pairs about the same entities.

`longtail demo` imports the linking model's statistics for SAMPLE_WIKI (SAMPLE_WIKISTATS, what
`longtail model build` computes from it; `--build-model` builds them again), links
SAMPLE_CORPUS and SAMPLE_QA with it and counts relevant documents. README.md beside this
file describes every file and its counts.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from longtail.errors import UsageError

# Sample name -> path relative to this package.
SAMPLE_FILES: dict[str, str] = {
    "wiki": "wiki/sample-wiki.xml",
    "corpus": "corpus/sample-corpus.jsonl",
    "qa": "qa/sample-qa.jsonl",
    "qa-design": "qa/sample-qa-design.jsonl",
    "wikistats": "wikistats",
}


def sample_path(name: str) -> Path:
    """Path of one bundled sample file by name ("wiki", "corpus", "qa", "qa-design",
    "wikistats")."""
    try:
        relative = SAMPLE_FILES[name]
    except KeyError:
        known = ", ".join(sorted(SAMPLE_FILES))
        raise UsageError(f"unknown sample {name!r}; known samples: {known}") from None
    # The package ships as plain files (setuptools package data), so the resource is a real path.
    return Path(str(files("longtail") / "sample" / relative))


SAMPLE_WIKI = sample_path("wiki")
SAMPLE_CORPUS = sample_path("corpus")
SAMPLE_QA = sample_path("qa")
# Intended entities, status and co-occurrence bucket of every QA pair (see README.md).
SAMPLE_QA_DESIGN = sample_path("qa-design")
# The four wikistats files `longtail model build` writes for SAMPLE_WIKI (a test rebuilds them).
SAMPLE_WIKISTATS = sample_path("wikistats")

__all__ = [
    "SAMPLE_CORPUS",
    "SAMPLE_FILES",
    "SAMPLE_QA",
    "SAMPLE_QA_DESIGN",
    "SAMPLE_WIKI",
    "SAMPLE_WIKISTATS",
    "sample_path",
]
