"""Declarations of every table longtail writes (see `longtail.schemas.tables`)."""

from longtail.schemas.analysis import ANALYSIS_TABLES
from longtail.schemas.tables import ANNOTATION, FAILURES, TABLES

# Pipeline tables and analysis tables: every table an output folder can hold.
ALL_TABLES = {**TABLES, **ANALYSIS_TABLES}

__all__ = ["ALL_TABLES", "ANALYSIS_TABLES", "ANNOTATION", "FAILURES", "TABLES"]
