"""Corpus readers: every format, every kind of bad record, input resolution, filtered copies."""

from __future__ import annotations

import bz2
import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from longtail.corpus import (
    CorpusFile,
    Document,
    RecordFields,
    count_rows,
    make_doc_id,
    read_rows,
    resolve_inputs,
    split_doc_id,
    write_filtered,
)
from longtail.errors import UsageError
from longtail.output.failures import FailureRecord
from tests.conftest import shared_path

# --- fixture builders ---------------------------------------------------------------------


def jsonl_bytes(records: list[object]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def write_bytes(path: Path, data: bytes, compression: str | None = None) -> Path:
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def hf_arrow_file(path: Path, table: pa.Table, file_format: bool = False) -> Path:
    """An Arrow IPC file like `datasets` writes (stream format, `huggingface` schema metadata)."""
    features = {name: {"dtype": "string", "_type": "Value"} for name in table.column_names}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    table = table.replace_schema_metadata(meta)
    new_writer = pa.ipc.new_file if file_format else pa.ipc.new_stream
    with new_writer(str(path), table.schema) as writer:
        for batch in table.to_batches(max_chunksize=2):
            writer.write_batch(batch)
    return path


def hf_dataset_folder(folder: Path, parts: list[pa.Table]) -> Path:
    """A folder laid out like `Dataset.save_to_disk`: state.json, dataset_info.json, data files."""
    folder.mkdir(parents=True)
    names = [f"data-{i:05d}-of-{len(parts):05d}.arrow" for i in range(len(parts))]
    for name, part in zip(names, parts, strict=True):
        hf_arrow_file(folder / name, part)
    state = {
        "_data_files": [{"filename": name} for name in names],
        "_fingerprint": "0123456789abcdef",
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "dataset_info.json").write_text(json.dumps({"citation": "", "features": {}}))
    return folder


def read_all(*inputs: str | Path, format: str | None = None, **fields: str) -> list:
    items: list[Document | FailureRecord] = []
    for file in resolve_inputs(inputs, format):
        items.extend(read_rows(file, fields=RecordFields(**fields)))
    return items


def outline(items: list) -> list[tuple]:
    """(row, text) for documents and (row, reason) for failures."""
    return [(i.row, i.text if isinstance(i, Document) else i.reason) for i in items]


# --- JSON Lines ---------------------------------------------------------------------------

RECORDS = [{"text": "Alpha beta.", "id": 7}, {"text": "Gamma"}, {"text": "", "id": "x"}]


@pytest.mark.parametrize(
    ("name", "compression"),
    [("c.jsonl", None), ("c.jsonl.gz", "gzip"), ("c.json.zst", "zstd"), ("c.ndjson", None)],
)
def test_jsonl_plain_and_compressed(tmp_path, name, compression):
    path = write_bytes(tmp_path / name, jsonl_bytes(RECORDS), compression)
    items = read_all(path, id_field="id")
    assert outline(items) == [(0, "Alpha beta."), (1, "Gamma"), (2, "")]
    assert [i.external_id for i in items] == ["7", None, "x"]
    assert [i.doc_id for i in items] == [0, 1, 2]
    assert {i.source for i in items} == {str(path)}


def test_multi_member_gzip_and_multi_frame_zstd(tmp_path):
    head, tail = jsonl_bytes(RECORDS[:1]), jsonl_bytes(RECORDS[1:])
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(head) + gzip.compress(tail))
    zst = tmp_path / "b.jsonl.zst"
    cctx = zstandard.ZstdCompressor()
    zst.write_bytes(cctx.compress(head) + cctx.compress(tail))
    for path in (gz, zst):
        assert [i.text for i in read_all(path)] == ["Alpha beta.", "Gamma", ""]


def test_every_kind_of_bad_line_gets_its_reason_and_row(tmp_path):
    lines = [
        b'{"text": "fine"}',
        b'{"text": "a",}',
        b"",
        b"   \t",
        b"[1, 2]",
        b'"just a string"',
        b'{"body": "no text here"}',
        b'{"text": null}',
        b'{"text": 5}',
        b'{"text": ["a"]}',
        b'{"text": "caf\xe9"}',
        b'{"text": "\\ud800 lone"}',
        b"[" * 100_000,
        b'{"text": "crlf line"}\r',
        b'{"text": "last, no newline"}',
    ]
    path = write_bytes(tmp_path / "bad.jsonl", b"\n".join(lines))
    items = read_all(path)
    assert outline(items) == [
        (0, "fine"),
        (1, "invalid_json"),
        (2, "invalid_json"),
        (3, "invalid_json"),
        (4, "not_an_object"),
        (5, "not_an_object"),
        (6, "missing_text_field"),
        (7, "text_not_string"),
        (8, "text_not_string"),
        (9, "text_not_string"),
        (10, "not_utf8"),
        (11, "not_utf8"),
        (12, "invalid_json"),
        (13, "crlf line"),
        (14, "last, no newline"),
    ]
    failures = {i.row: i for i in items if isinstance(i, FailureRecord)}
    assert all(f.stage == "read" and f.source == str(path) for f in failures.values())
    assert [f.doc_id for f in failures.values()] == [make_doc_id(0, r) for r in failures]
    assert "Expecting property name" in failures[1].detail and '"a",' in failures[1].detail
    assert failures[2].detail == "empty line" and failures[3].detail == "empty line"
    assert "an array" in failures[4].detail
    assert "body" in failures[6].detail
    assert "null" in failures[7].detail and "a number" in failures[8].detail
    assert "byte 13 " in failures[10].detail and "e9" in failures[10].detail
    assert "\\ud800" in failures[11].detail
    assert "deeply" in failures[12].detail


def test_trailing_newline_makes_no_row_but_a_blank_middle_line_does(tmp_path):
    one = write_bytes(tmp_path / "one.jsonl", b'{"text": "a"}\n{"text": "b"}\n')
    two = write_bytes(tmp_path / "two.jsonl", b'{"text": "a"}\n{"text": "b"}')
    three = write_bytes(tmp_path / "three.jsonl", b'{"text": "a"}\n\n{"text": "b"}\n')
    assert outline(read_all(one)) == [(0, "a"), (1, "b")]
    assert outline(read_all(two)) == [(0, "a"), (1, "b")]
    assert outline(read_all(three)) == [(0, "a"), (1, "invalid_json"), (2, "b")]
    counts = {Path(f.path).name: count_rows(f) for f in resolve_inputs([one, two, three])}
    assert counts == {"one.jsonl": 2, "two.jsonl": 2, "three.jsonl": 3}
    empty = write_bytes(tmp_path / "empty.jsonl", b"")
    assert read_all(empty) == []


def test_byte_order_mark_at_file_start_is_ignored(tmp_path):
    path = write_bytes(tmp_path / "bom.jsonl", b'\xef\xbb\xbf{"text": "a"}\n{"text": "b"}\n')
    assert outline(read_all(path)) == [(0, "a"), (1, "b")]


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_ten_megabyte_document(tmp_path, compression):
    big = "word " * 2_000_000 + "end"
    data = jsonl_bytes([{"text": "before"}, {"text": big}, {"text": "after"}])
    path = write_bytes(tmp_path / "big.jsonl", data, compression)
    items = read_all(path)
    assert outline(items[::2]) == [(0, "before"), (2, "after")]
    assert len(items[1].text) == 10_000_003 and items[1].text.endswith("word end")
    assert list(read_rows(resolve_inputs([path])[0], 1, 2))[0].text == big


def test_truncated_gzip_keeps_the_head_then_one_failure(tmp_path):
    records = [{"text": f"document {i} " + "filler " * (i % 50)} for i in range(3000)]
    data = gzip.compress(jsonl_bytes(records))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    items = read_all(path)
    *docs, failure = items
    assert 0 < len(docs) < len(records)
    assert [d.text for d in docs] == [r["text"] for r in records[: len(docs)]]
    assert isinstance(failure, FailureRecord) and failure.reason == "unreadable_file"
    assert failure.row == len(docs) and failure.doc_id is None
    assert "EOFError" in failure.detail
    assert count_rows(resolve_inputs([path])[0]) == len(items)


def test_truncated_zstd_is_detected(tmp_path):
    records = [{"text": f"{i} " + os.urandom(40).hex()} for i in range(20_000)]
    data = zstandard.ZstdCompressor().compress(jsonl_bytes(records))
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[: len(data) // 2])
    *docs, failure = read_all(path)
    assert 0 < len(docs) < len(records)
    assert [d.text for d in docs] == [r["text"] for r in records[: len(docs)]]
    assert failure.reason == "unreadable_file" and failure.row == len(docs)
    assert "truncated" in failure.detail


def test_unsupported_compression_is_one_failure(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(bz2.compress(jsonl_bytes(RECORDS)))
    [failure] = read_all(path)
    assert (failure.reason, failure.row) == ("unreadable_file", 0)
    assert "bzip2" in failure.detail


def test_dotted_fields_and_json_string_objects(tmp_path):
    records = [
        {"body": {"text": "nested"}, "meta": {"url": "http://a"}},
        {"body": {"text": "meta as string"}, "meta": json.dumps({"url": "http://b"})},
        {"body": {"text": "no meta"}},
        {"body": {"text": "literal dotted key"}, "meta.url": "http://c"},
        {"body": {"text": "numeric id"}, "meta": {"url": 12}},
        {"body": "not an object"},
    ]
    path = write_bytes(tmp_path / "n.jsonl", jsonl_bytes(records))
    items = read_all(path, text_field="body.text", id_field="meta.url")
    assert [i.external_id for i in items[:5]] == ["http://a", "http://b", None, "http://c", "12"]
    assert items[5].reason == "missing_text_field"


def test_bad_field_name_is_a_usage_error():
    with pytest.raises(UsageError):
        RecordFields(text_field="meta.")
    with pytest.raises(UsageError):
        RecordFields(text_field="")


def test_real_c4_sample_with_url_ids():
    path = shared_path("c4", "c4-sample-449.jsonl")
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert any(isinstance(r["meta"], str) for r in raw)
    items = read_all(path, id_field="meta.url")
    assert len(items) == 449 and all(isinstance(i, Document) for i in items)
    urls = [json.loads(r["meta"])["url"] if isinstance(r["meta"], str) else r["meta"]["url"]
            for r in raw]
    assert [i.external_id for i in items] == urls
    assert items[448].text == raw[448]["text"] and items[448].doc_id == 448


# --- Parquet ------------------------------------------------------------------------------


def test_parquet_by_row_group_with_struct_ids(tmp_path):
    table = pa.table({
        "text": [f"row {i}" for i in range(10)] + [None],
        "meta": [{"url": f"http://x/{i}", "lang": "en"} for i in range(11)],
        "other": list(range(11)),
    })
    path = tmp_path / "c.parquet"
    pq.write_table(table, path, row_group_size=3)
    items = read_all(path, id_field="meta.url")
    assert outline(items[:10]) == [(i, f"row {i}") for i in range(10)]
    assert items[4].external_id == "http://x/4"
    assert (items[10].row, items[10].reason) == (10, "text_not_string")
    middle = list(read_rows(resolve_inputs([path])[0], 4, 8))
    assert outline(middle) == [(i, f"row {i}") for i in range(4, 8)]


def test_parquet_without_the_text_column_fails_each_row(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"content": ["a", "b"]}), path)
    items = read_all(path)
    assert outline(items) == [(0, "missing_text_field"), (1, "missing_text_field")]
    assert "content" in items[0].detail
    assert outline(read_all(path, text_field="content")) == [(0, "a"), (1, "b")]


def test_parquet_binary_text_that_is_not_utf8(tmp_path):
    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"text": pa.array([b"ok", b"\xff\xfe"], type=pa.binary())}), path)
    assert outline(read_all(path)) == [(0, "ok"), (1, "not_utf8")]


def test_parquet_with_a_corrupt_row_group_keeps_the_others(tmp_path):
    path = tmp_path / "c.parquet"
    texts = [f"document number {i}" for i in range(9)]
    pq.write_table(pa.table({"text": texts}), path, row_group_size=3, compression="none")
    column = pq.ParquetFile(path).metadata.row_group(1).column(0)
    data = bytearray(path.read_bytes())
    start = column.dictionary_page_offset or column.data_page_offset
    data[start:start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    path.write_bytes(bytes(data))
    items = read_all(path)
    assert outline(items) == [
        (0, texts[0]), (1, texts[1]), (2, texts[2]), (3, "unreadable_file"),
        (6, texts[6]), (7, texts[7]), (8, texts[8]),
    ]
    assert "rows 3 to 5" in items[3].detail


def test_unreadable_parquet_footer(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    file = resolve_inputs([path])[0]
    assert count_rows(file) == 1
    [failure] = read_rows(file)
    assert (failure.reason, failure.row, failure.doc_id) == ("unreadable_file", 0, None)


# --- plain text folders -------------------------------------------------------------------


def test_text_folder_sorted_recursively_one_document_per_file(tmp_path):
    folder = tmp_path / "texts"
    (folder / "b" / "deep").mkdir(parents=True)
    (folder / "b" / "deep" / "z.txt").write_text("deep file\n")
    (folder / "a.txt").write_text("first\nsecond line\n")
    (folder / "b" / "c.txt").write_bytes(b"bad \xc3\x28 byte")
    (folder / "b" / "empty.txt").write_text("")
    (folder / ".hidden.txt").write_text("skipped")
    files = resolve_inputs([folder])
    assert [(Path(f.path).relative_to(folder).as_posix(), f.format) for f in files] == [
        ("a.txt", "text"), ("b/c.txt", "text"), ("b/deep/z.txt", "text"), ("b/empty.txt", "text"),
    ]
    items = read_all(folder)
    assert [(split_doc_id(i.doc_id), i.row) for i in items] == [((n, 0), 0) for n in range(4)]
    assert items[0].text == "first\nsecond line\n" and items[0].source == files[0].path
    assert (items[1].reason, "byte 4 " in items[1].detail) == ("not_utf8", True)
    assert items[2].text == "deep file\n" and items[3].text == ""


def test_explicit_text_format_takes_files_without_extension(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "one").write_text("one")
    (folder / "two.md").write_text("two")
    (folder / "_SUCCESS").write_text("")
    assert [i.text for i in read_all(folder, format="text")] == ["one", "two"]


# --- Arrow (Hugging Face save_to_disk) ------------------------------------------------------


def test_hf_saved_dataset_folder(tmp_path):
    parts = [
        pa.table({"text": ["a0", "a1", "a2"], "url": ["u0", "u1", "u2"]}),
        pa.table({"text": ["b0", None], "url": ["u3", "u4"]}),
    ]
    folder = hf_dataset_folder(tmp_path / "ds", parts)
    files = resolve_inputs([folder])
    assert [(os.path.basename(f.path), f.format) for f in files] == [
        ("data-00000-of-00002.arrow", "arrow"), ("data-00001-of-00002.arrow", "arrow"),
    ]
    items = read_all(folder, id_field="url")
    assert outline(items) == [(0, "a0"), (1, "a1"), (2, "a2"), (0, "b0"), (1, "text_not_string")]
    assert [i.external_id for i in items[:4]] == ["u0", "u1", "u2", "u3"]
    assert items[3].doc_id == make_doc_id(1, 0)
    assert [count_rows(f) for f in files] == [3, 2]
    assert outline(read_rows(files[0], 1, 3)) == [(1, "a1"), (2, "a2")]
    missing = read_all(folder, text_field="body")
    assert [(i.row, i.reason) for i in missing] == [
        (0, "missing_text_field"), (1, "missing_text_field"), (2, "missing_text_field"),
        (0, "missing_text_field"), (1, "missing_text_field"),
    ]


def test_hf_dataset_dict_folder_and_single_arrow_files(tmp_path):
    root = tmp_path / "dd"
    hf_dataset_folder(root / "train", [pa.table({"text": ["t0", "t1"]})])
    hf_dataset_folder(root / "test", [pa.table({"text": ["s0"]})])
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    assert [i.text for i in read_all(root)] == ["s0", "t0", "t1"]
    stream = hf_arrow_file(tmp_path / "one.arrow", pa.table({"text": ["x", "y", "z"]}))
    ipc_file = hf_arrow_file(tmp_path / "two.arrow", pa.table({"text": ["p", "q"]}), True)
    assert [i.text for i in read_all(stream)] == ["x", "y", "z"]
    assert [i.text for i in read_all(ipc_file)] == ["p", "q"]


def test_truncated_arrow_stream(tmp_path):
    path = hf_arrow_file(tmp_path / "cut.arrow", pa.table({"text": [f"t{i}" for i in range(10)]}))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    file = resolve_inputs([path])[0]
    *docs, failure = read_rows(file)
    assert 0 < len(docs) < 10 and [d.text for d in docs] == [f"t{i}" for i in range(len(docs))]
    assert (failure.reason, failure.row) == ("unreadable_file", len(docs))
    assert count_rows(file) == len(docs) + 1


def test_saved_dataset_read_as_another_format_is_a_usage_error(tmp_path):
    folder = hf_dataset_folder(tmp_path / "ds", [pa.table({"text": ["a"]})])
    with pytest.raises(UsageError, match="save_to_disk"):
        resolve_inputs([folder], "jsonl")


# --- resolving inputs ---------------------------------------------------------------------


def test_folder_of_mixed_corpus_files_is_expanded_sorted(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    write_bytes(folder / "b.jsonl.zst", jsonl_bytes([{"text": "b"}]), "zstd")
    write_bytes(folder / "a.json.gz", jsonl_bytes([{"text": "a"}]), "gzip")
    pq.write_table(pa.table({"text": ["c"]}), folder / "sub" / "c.parquet")
    write_bytes(folder / "sub" / "d.jsonl", jsonl_bytes([{"text": "d"}]))
    (folder / "README.txt").write_text("not a document")
    (folder / "_SUCCESS").write_text("")
    (folder / ".d.jsonl.crc").write_text("x")
    files = resolve_inputs([folder])
    assert [(os.path.relpath(f.path, folder), f.file_index, f.format) for f in files] == [
        ("a.json.gz", 0, "jsonl"), ("b.jsonl.zst", 1, "jsonl"),
        ("sub/c.parquet", 2, "parquet"), ("sub/d.jsonl", 3, "jsonl"),
    ]
    items = read_all(folder)
    assert [(split_doc_id(i.doc_id), i.text) for i in items] == [
        ((0, 0), "a"), ((1, 0), "b"), ((2, 0), "c"), ((3, 0), "d"),
    ]


def test_globs_duplicates_and_explicit_format(tmp_path):
    for name in ("x2.jsonl", "x1.jsonl", "y.jsonl"):
        write_bytes(tmp_path / name, jsonl_bytes([{"text": name}]))
    files = resolve_inputs([str(tmp_path / "x*.jsonl"), tmp_path / "x1.jsonl"])
    assert [os.path.basename(f.path) for f in files] == ["x1.jsonl", "x2.jsonl"]
    assert [f.file_index for f in files] == [0, 1]
    odd = write_bytes(tmp_path / "records.txt", jsonl_bytes([{"text": "as jsonl"}]))
    assert [i.text for i in read_all(odd, format="jsonl")] == ["as jsonl"]
    assert [i.text for i in read_all(odd)] == ['{"text": "as jsonl"}\n']


def test_symbolic_links_to_folders_are_followed_once_without_looping(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_bytes(elsewhere / "far.jsonl", jsonl_bytes([{"text": "far"}]))
    folder = tmp_path / "corpus"
    (folder / "real").mkdir(parents=True)
    write_bytes(folder / "real" / "r.jsonl", jsonl_bytes([{"text": "r"}]))
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "again").symlink_to(folder / "real", target_is_directory=True)  # a second name
    (folder / "real" / "loop").symlink_to(folder, target_is_directory=True)  # an ancestor
    files = resolve_inputs([folder])
    assert [os.path.relpath(f.path, folder) for f in files] == ["linked/far.jsonl",
                                                               "real/r.jsonl"]
    assert [i.text for i in read_all(folder)] == ["far", "r"]


def test_a_dangling_symbolic_link_in_a_folder_is_one_line(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_bytes(folder / "a.jsonl", jsonl_bytes([{"text": "a"}]))
    (folder / "b.jsonl").symlink_to(tmp_path / "gone.jsonl")
    (folder / "notes.md").symlink_to(tmp_path / "gone.md")  # not a corpus file: ignored
    with pytest.raises(UsageError, match=r"b\.jsonl is a symbolic link to .*gone\.jsonl, "
                                         "which does not exist") as caught:
        resolve_inputs([folder])
    assert "\n" not in str(caught.value)
    (folder / "b.jsonl").unlink()
    assert [os.path.basename(f.path) for f in resolve_inputs([folder])] == ["a.jsonl"]


@pytest.mark.parametrize(
    ("inputs", "format", "message"),
    [
        (["missing.jsonl"], None, "input not found"),
        (["*.nothing"], None, "no file matches"),
        (["data.csv"], None, "cannot tell the format"),
        (["data.csv"], "xml", "unknown input format"),
        ([], None, "no input given"),
        (["emptydir"], None, "no corpus files in folder"),
    ],
)
def test_usage_errors_are_one_clear_line(tmp_path, monkeypatch, inputs, format, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a,b\n")
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "emptydir" / "notes.md").write_text("nothing to read")
    with pytest.raises(UsageError, match=message) as caught:
        resolve_inputs(inputs, format)
    assert "\n" not in str(caught.value)


# --- filtered copies ----------------------------------------------------------------------

JSONL_LINES = [
    b'{"text": "zero"}', b'{"text": "one"}\r', b"not json", b"", b'{"text":  "four" }',
    b'{"text": "five", "x": 1.50}', b'{"text": "six, no newline"}',
]


def keep_even_rows(doc_id: int) -> bool:
    return split_doc_id(doc_id)[1] % 2 == 0


@pytest.mark.parametrize(("name", "compression"), [
    ("k.jsonl", None), ("k.jsonl.gz", "gzip"), ("k.jsonl.zst", "zstd"),
])
def test_write_filtered_jsonl_copies_kept_lines_byte_for_byte(tmp_path, name, compression):
    source = write_bytes(tmp_path / name, b"\n".join(JSONL_LINES), compression)
    [file] = resolve_inputs([source])
    out = tmp_path / "out" / name
    result = write_filtered(file, out, keep_even_rows)
    assert (result.rows_read, result.rows_kept, result.unreadable_from) == (7, 4, None)
    raw = out.read_bytes()
    if compression == "gzip":
        raw = gzip.decompress(raw)
    elif compression == "zstd":
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    assert raw == b'{"text": "zero"}\nnot json\n{"text":  "four" }\n{"text": "six, no newline"}'
    assert not list(out.parent.glob("*.tmp-*"))
    assert outline(read_all(out)) == [
        (0, "zero"), (1, "invalid_json"), (2, "four"), (3, "six, no newline"),
    ]


def test_write_filtered_truncated_gzip_reports_where_reading_stopped(tmp_path):
    data = gzip.compress(jsonl_bytes([{"text": "x" * (i % 97)} for i in range(5000)]))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    [file] = resolve_inputs([path])
    result = write_filtered(file, tmp_path / "out.jsonl.gz", lambda _: True)
    assert result.unreadable_from == result.rows_read == result.rows_kept > 0
    assert len(read_all(tmp_path / "out.jsonl.gz")) == result.rows_kept


def test_write_filtered_parquet_keeps_schema_codec_and_order(tmp_path):
    table = pa.table({"text": [f"t{i}" for i in range(7)], "n": list(range(7))})
    table = table.replace_schema_metadata({b"origin": b"test"})
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, row_group_size=3, compression="zstd")
    [file] = resolve_inputs([path])
    result = write_filtered(file, tmp_path / "o.parquet", keep_even_rows)
    assert (result.rows_read, result.rows_kept) == (7, 4)
    out = pq.ParquetFile(tmp_path / "o.parquet")
    assert out.read().to_pydict() == {"text": ["t0", "t2", "t4", "t6"], "n": [0, 2, 4, 6]}
    assert out.schema_arrow.metadata[b"origin"] == b"test"
    assert out.metadata.row_group(0).column(0).compression == "ZSTD"


@pytest.mark.parametrize("file_format", [False, True])
def test_write_filtered_arrow_keeps_format_and_metadata(tmp_path, file_format):
    path = hf_arrow_file(tmp_path / "a.arrow", pa.table({"text": list("abcde")}), file_format)
    [file] = resolve_inputs([path])
    result = write_filtered(file, tmp_path / "o.arrow", keep_even_rows)
    assert (result.rows_read, result.rows_kept) == (5, 3)
    assert (tmp_path / "o.arrow").read_bytes().startswith(b"ARROW1") == file_format
    assert [i.text for i in read_all(tmp_path / "o.arrow")] == ["a", "c", "e"]
    with pa.memory_map(str(tmp_path / "o.arrow")) as source:
        reader = pa.ipc.open_file(source) if file_format else pa.ipc.open_stream(source)
        assert b"huggingface" in reader.schema.metadata


def test_write_filtered_text_files(tmp_path):
    kept_file = CorpusFile(str(write_bytes(tmp_path / "k.txt", b"kept\xc3\xa9\n")), 2, "text")
    dropped = CorpusFile(str(write_bytes(tmp_path / "d.txt", b"dropped")), 3, "text")
    stale = tmp_path / "out" / "d.txt"
    stale.parent.mkdir()
    stale.write_text("left from an earlier run")
    keep = {make_doc_id(2, 0)}.__contains__
    assert write_filtered(kept_file, tmp_path / "out" / "k.txt", keep).rows_kept == 1
    assert write_filtered(dropped, stale, keep).rows_kept == 0
    assert (tmp_path / "out" / "k.txt").read_bytes() == b"kept\xc3\xa9\n"
    assert not stale.exists()
