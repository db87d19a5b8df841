"""Declarations of every table longtail writes (see `longtail.schemas.tables`)."""

from longtail.schemas.tables import ANNOTATION, FAILURES, TABLES

__all__ = ["ANNOTATION", "FAILURES", "TABLES"]
