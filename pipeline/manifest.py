"""The run manifest: what went in, with which parameters and versions, what came out."""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata

from longtail import __version__
from longtail.output import OutputFolder, write_json_atomic
from longtail.query.database import build_database
from longtail.schemas.tables import TABLES

_VERSIONED = ("pyarrow", "pyspark", "duckdb", "spacy", "requests", "pyahocorasick")


def versions() -> dict[str, str]:
    found = {"longtail": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def load_manifest(out: OutputFolder) -> dict:
    if out.manifest_path.exists():
        return json.loads(out.manifest_path.read_text(encoding="utf-8"))
    return {"stages": {}}


def record_stage(
    out: OutputFolder,
    stage: str,
    *,
    inputs: dict,
    parameters: dict,
    stats: dict,
    seconds: float,
) -> dict:
    """Merge one stage's record into OUT/manifest.json, refresh row counts and DuckDB views."""
    manifest = load_manifest(out)
    manifest["versions"] = versions()
    manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest.setdefault("stages", {})[stage] = {
        "inputs": inputs,
        "parameters": parameters,
        "stats": stats,
        "seconds": round(seconds, 3),
    }
    manifest["tables"] = {t: out.row_count(t) for t in TABLES if out.has_table(t)}
    write_json_atomic(out.manifest_path, manifest)
    build_database(out.root)
    return manifest
