"""Corpus readers (JSON Lines plain/gzip/zstd, Parquet, plain-text folders, Hugging Face Arrow),
document ids and deterministic shards."""

from longtail.corpus.filtered import FilteredFile
from longtail.corpus.formats import count_rows, read_rows, write_filtered
from longtail.corpus.ids import make_doc_id, split_doc_id
from longtail.corpus.inputs import FORMATS, CorpusFile, resolve_inputs
from longtail.corpus.records import Document, RecordFields
from longtail.corpus.shards import Piece, Shard, plan_shards, read_shard, rows_per_file

__all__ = [
    "FORMATS",
    "CorpusFile",
    "Document",
    "FilteredFile",
    "Piece",
    "RecordFields",
    "Shard",
    "count_rows",
    "make_doc_id",
    "plan_shards",
    "read_rows",
    "read_shard",
    "resolve_inputs",
    "rows_per_file",
    "split_doc_id",
    "write_filtered",
]
