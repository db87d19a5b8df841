"""OUT/manifest.json: every finished stage's record (without its file lists) and row counts.

The stage records under OUT/_stages/ are the source of truth (see `longtail.output.lineage`); the
manifest gathers them in one file for people and scripts, and is rewritten with the DuckDB
views whenever a stage finishes.
"""

from __future__ import annotations

import platform
import time
from importlib import metadata

from longtail import __version__
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.records import StageRecord
from longtail.schemas import ALL_TABLES

_VERSIONED = ("pyarrow", "pyspark", "duckdb", "spacy", "requests", "pyahocorasick")


def versions() -> dict[str, str]:
    found = {"longtail": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def manifest_from_records(records: dict[str, StageRecord]) -> dict:
    stages = {}
    tables: dict[str, int] = {}
    for stage, record in sorted(records.items()):
        stages[stage] = record.summary()
        for table, rows in record.rows().items():
            tables[table] = tables.get(table, 0) + rows
    return {
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        "stages": stages,
        "tables": {t: tables[t] for t in ALL_TABLES if t in tables},
    }


def refresh(out: OutputFolder) -> dict:
    """Rewrite OUT/manifest.json and OUT/longtail.duckdb from the stage records."""
    from longtail.output.views import build_database

    lineage = Lineage(out)
    manifest = manifest_from_records(lineage.records)
    out.write_manifest(manifest)
    build_database(out, lineage)
    return manifest
