"""The linked corpus behind an output folder: its files, its text field, its document order.

The link stage records the corpus files (in file_index order) and the fields it read in
OUT/manifest.json; the analyses that need texts read them back with the same readers.
A document's position in the corpus is its index in reading order: the rows of earlier files,
then its row. Unreadable rows keep their place, as a training run reading the files would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
from longtail.analysis.tables import parquet_glob, require
from longtail.corpus import CorpusFile, Document, RecordFields, read_rows
from longtail.corpus.ids import ROW_BITS, split_doc_id
from longtail.corpus.inputs import HF_STATE_FILE, format_from_name
from longtail.errors import UsageError
from longtail.output import OutputFolder

_ROW_MASK = (1 << ROW_BITS) - 1


@dataclass(frozen=True)
class LinkedCorpus:
    files: list[CorpusFile]
    text_field: str
    id_field: str | None

    @classmethod
    def from_manifest(cls, out: OutputFolder) -> LinkedCorpus:
        """The corpus the link stage read into `out`; a usage error if it is not on disk."""
        try:
            manifest = json.loads(out.manifest_path.read_text(encoding="utf-8"))
            link = manifest["stages"]["link"]
            paths = list(link["inputs"]["corpus"])
            params = link["parameters"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{out.manifest_path} records no corpus (no link stage): this analysis needs "
                "the corpus texts"
            ) from exc
        fmt = params.get("corpus_format")
        files = []
        for index, path in enumerate(paths):
            if not os.path.isfile(path):
                raise UsageError(f"corpus file {path} (listed in {out.manifest_path}) not found; "
                                 "run from the folder the link stage ran in")
            file_format = fmt or format_from_name(os.path.basename(path))
            if file_format is None:
                raise UsageError(f"cannot tell the format of corpus file {path}")
            files.append(CorpusFile(path, index, file_format))
        return cls(files, params.get("text_field") or "text", params.get("id_field"))

    def documents(self, doc_ids: Collection[int] | None = None) -> Iterator[Document]:
        """Every readable document in corpus order, or only those in `doc_ids`."""
        fields = RecordFields(self.text_field, self.id_field)
        wanted_files = None
        if doc_ids is not None:
            wanted_files = {split_doc_id(d)[0] for d in doc_ids}
        for file in self.files:
            if wanted_files is not None and file.file_index not in wanted_files:
                continue
            for item in read_rows(file, fields=fields):
                if isinstance(item, Document) and (doc_ids is None or item.doc_id in doc_ids):
                    yield item

    def text(self, doc_id: int) -> str | None:
        """One document's text, reading only its row; None if the row does not read."""
        file_index, row = split_doc_id(doc_id)
        files = [f for f in self.files if f.file_index == file_index]
        if not files:
            return None
        fields = RecordFields(self.text_field, self.id_field)
        for item in read_rows(files[0], row, row + 1, fields):
            if isinstance(item, Document):
                return item.text
        return None

    def hf_dataset_folders(self) -> list[str]:
        """Folders of Hugging Face `save_to_disk` datasets among the corpus files."""
        folders = {os.path.dirname(f.path) for f in self.files}
        return sorted(d for d in folders if os.path.isfile(os.path.join(d, HF_STATE_FILE)))


class CorpusOrder:
    """Maps doc ids to positions in corpus order (see the module docstring)."""

    def __init__(self, rows_per_file: dict[int, int]):
        n_files = max(rows_per_file, default=-1) + 1
        counts = np.array([rows_per_file.get(i, 0) for i in range(n_files)], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.total = int(self.offsets[-1])

    @classmethod
    def load(cls, out: OutputFolder) -> CorpusOrder:
        """Rows per file from docs and failures (the last row seen in each file, plus one)."""
        require(out, "docs")
        queries = [f"SELECT doc_id >> {ROW_BITS} AS f, max(doc_id & {_ROW_MASK}) AS r "
                   f"FROM read_parquet({parquet_glob(out, 'docs')}) GROUP BY 1"]
        if out.has_table("failures"):
            failures = f"read_parquet({parquet_glob(out, 'failures')}, union_by_name = true)"
            queries.append(f"SELECT doc_id >> {ROW_BITS} AS f, max(row) AS r FROM {failures} "
                           "WHERE doc_id IS NOT NULL GROUP BY 1")
            # an unreadable rest of a file has no doc id: find its file by its source
            queries.append(
                f"SELECT d.f, max(x.row) AS r FROM {failures} x JOIN (SELECT DISTINCT source, "
                f"doc_id >> {ROW_BITS} AS f FROM read_parquet({parquet_glob(out, 'docs')})) d "
                "ON d.source = x.source WHERE x.doc_id IS NULL AND x.row IS NOT NULL GROUP BY 1")
        sql = " UNION ALL ".join(queries)
        rows: dict[int, int] = {}
        with duckdb.connect() as con:
            for f, r in con.execute(sql).fetchall():
                rows[int(f)] = max(rows.get(int(f), 0), int(r) + 1)
        return cls(rows)

    def positions(self, doc_ids: np.ndarray) -> np.ndarray:
        doc_ids = np.asarray(doc_ids, dtype=np.int64)
        files = doc_ids >> ROW_BITS
        return self.offsets[files] + (doc_ids & _ROW_MASK)
