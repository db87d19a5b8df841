"""`longtail report`: one self-contained HTML page about an output folder, and `coverage(out)`,
how well its corpus and QA set were linked."""

from longtail.report.coverage import coverage

__all__ = ["coverage"]
