"""Corpus readers (JSON Lines plain/gzip/zstd, Parquet, plain-text folders, Hugging Face Arrow),
document ids and deterministic shards."""

from pipeline.corpus.filtered import FilteredFile
from pipeline.corpus.formats import count_rows, read_rows, write_filtered
from pipeline.corpus.ids import make_doc_id, split_doc_id
from pipeline.corpus.inputs import FORMATS, CorpusFile, resolve_inputs
from pipeline.corpus.records import Document, RecordFields
from pipeline.corpus.shards import Shard, file_shards, plan_shards, read_shard

__all__ = [
    "FORMATS",
    "CorpusFile",
    "Document",
    "FilteredFile",
    "RecordFields",
    "Shard",
    "count_rows",
    "file_shards",
    "make_doc_id",
    "plan_shards",
    "read_rows",
    "read_shard",
    "resolve_inputs",
    "split_doc_id",
    "write_filtered",
]
