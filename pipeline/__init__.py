"""longtail: count the pretraining documents that support the fact behind a question."""

__version__ = "0.1.0"
