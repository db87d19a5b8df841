"""The corpus behind an output folder, read back: its files, its text field, its documents.

The link stage records the corpus files (in file_index order) and the fields it read; whatever
needs the texts again (`longtail docs`, the analyses) reads them with the same readers.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from longtail.corpus.formats import read_rows
from longtail.corpus.ids import split_doc_id
from longtail.corpus.inputs import HF_STATE_FILE, CorpusFile, format_from_name
from longtail.corpus.records import Document, RecordFields
from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.output.storage import location_kind


@dataclass(frozen=True)
class LinkedCorpus:
    files: list[CorpusFile]
    text_field: str
    id_field: str | None

    @classmethod
    def from_record(cls, out: OutputFolder) -> LinkedCorpus:
        """The corpus the link stage read into `out`; a usage error if it is not on disk."""
        record = out.record("link")
        if record is None or "corpus" not in record.inputs:
            raise UsageError(
                f"{out.display()} records no corpus (no finished link stage): this needs the "
                "corpus texts")
        paths = [out.locations.resolve(e.location, e.inside_out)
                 for e in record.inputs["corpus"]]
        params = record.parameters
        fmt = params.get("corpus_format")
        files = []
        for index, path in enumerate(paths):
            if location_kind(path) != "file":
                raise UsageError(f"corpus file {path} (read by the link stage) not found; if "
                                 f"it moved, `longtail status {out.display()} --relocate "
                                 "OLD=NEW` points the output folder at its new place")
            file_format = fmt or format_from_name(posixpath.basename(path))
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
        folders = {f.path.rpartition("/")[0] for f in self.files}
        return sorted(d for d in folders if location_kind(f"{d}/{HF_STATE_FILE}") == "file")
