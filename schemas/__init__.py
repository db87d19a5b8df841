"""Declarations of every table longtail writes (see `schemas.tables`)."""

from schemas.tables import ANNOTATION, FAILURES, TABLES

__all__ = ["ANNOTATION", "FAILURES", "TABLES"]
