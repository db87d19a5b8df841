"""Doc ids and deterministic shards: every row read exactly once, whatever the shard size."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from longtail.corpus import (
    Document,
    count_rows,
    make_doc_id,
    plan_shards,
    read_rows,
    read_shard,
    resolve_inputs,
    split_doc_id,
)
from longtail.corpus import compression as corpus_compression
from longtail.corpus.ids import MAX_FILES, MAX_ROWS_PER_FILE
from longtail.errors import UsageError
from longtail.output.failures import FailureRecord
from tests.conftest import PROJECT_ROOT, shared_path


def lines(*records: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def build_corpus(root: Path) -> tuple[Path, Path]:
    """A folder with every format and every awkward case, and a folder of text files."""
    corpus = root / "corpus"
    corpus.mkdir()
    a = lines(*({"text": f"a{i}", "id": i} for i in range(20)))
    a += b"{broken\n\n[1]\n" + b'{"text": "a-last", "id": "z"}'  # no newline at the end
    (corpus / "a.jsonl").write_bytes(a)
    big = "long " * 300_000  # 1.5 MB: spans decompressed chunks
    b = lines(*({"text": big if i == 7 else f"b{i}", "id": f"b/{i}"} for i in range(40)))
    (corpus / "b.jsonl.gz").write_bytes(gzip.compress(b))
    c = lines(*({"text": f"c{i}"} for i in range(17)))
    (corpus / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(c))
    table = pa.table({"text": [f"d{i}" for i in range(25)], "id": [f"d/{i}" for i in range(25)]})
    pq.write_table(table, corpus / "d.parquet", row_group_size=4)
    arrow_table = pa.table({"text": [f"e{i}" for i in range(11)]})
    with pa.ipc.new_stream(str(corpus / "e.arrow"), arrow_table.schema) as writer:
        for batch in arrow_table.to_batches(max_chunksize=2):
            writer.write_batch(batch)
    (corpus / "empty.jsonl").write_bytes(b"")
    cut = gzip.compress(lines(*({"text": f"f{i} " + "x" * (i % 300)} for i in range(1500))))
    (corpus / "f.jsonl.gz").write_bytes(cut[: len(cut) // 2])
    texts = root / "texts"
    texts.mkdir()
    for name, content in (("t1.txt", "one\n"), ("t2.txt", ""), ("t3.txt", "three")):
        (texts / name).write_text(content)
    return corpus, texts


@pytest.fixture(scope="module")
def corpus_inputs(tmp_path_factory) -> list[Path]:
    return list(build_corpus(tmp_path_factory.mktemp("shards")))


def full_read(files) -> list:
    return [item for file in files for item in read_rows(file)]


def sharded_read(files, rows_per_shard: int, **fields) -> list:
    return [item for s in plan_shards(files, rows_per_shard) for item in read_shard(s, **fields)]


# --- doc ids ------------------------------------------------------------------------------


def test_doc_ids_pack_file_index_and_row():
    assert make_doc_id(0, 0) == 0
    assert make_doc_id(2, 5) == 2_199_023_255_557
    assert split_doc_id(2_199_023_255_557) == (2, 5)
    last = make_doc_id(MAX_FILES - 1, MAX_ROWS_PER_FILE - 1)
    assert last == 2**63 - 1 and split_doc_id(last) == (MAX_FILES - 1, MAX_ROWS_PER_FILE - 1)
    for bad in ((-1, 0), (0, -1), (MAX_FILES, 0), (0, MAX_ROWS_PER_FILE)):
        with pytest.raises(ValueError):
            make_doc_id(*bad)


# --- planning -----------------------------------------------------------------------------


def test_shards_cover_every_row_once_with_safe_sorted_ids(corpus_inputs):
    files = resolve_inputs(corpus_inputs)
    counts = {f.path: count_rows(f) for f in files}
    assert counts[str(corpus_inputs[0] / "empty.jsonl")] == 0
    assert counts[str(corpus_inputs[0] / "d.parquet")] == 25
    for size in (1, 3, 10, 10_000):
        shards = plan_shards(files, size)
        ids = [s.shard_id for s in shards]
        assert len(set(ids)) == len(ids) and sorted(ids) == ids
        assert all(re.fullmatch(r"f\d{5}-r\d{12}", i) for i in ids)
        for file in files:
            rows = [r for s in shards for p in s.pieces if p.file == file
                    for r in range(p.start_row, p.stop_row)]
            assert rows == list(range(counts[file.path]))
        assert all(0 < s.n_rows <= size and len(s.pieces) == 1 for s in shards)


def test_shard_ids_name_file_and_first_row(corpus_inputs):
    files = resolve_inputs(corpus_inputs)
    d = next(f for f in files if f.path.endswith("d.parquet"))
    shards = plan_shards([d], 10)
    assert [(s.shard_id, s.pieces[0].start_row, s.pieces[0].stop_row) for s in shards] == [
        ("f00003-r000000000000", 0, 10),
        ("f00003-r000000000010", 10, 20),
        ("f00003-r000000000020", 20, 25),
    ]


def test_given_row_counts_are_used(corpus_inputs):
    files = resolve_inputs(corpus_inputs)
    counted = plan_shards(files, 7)
    given = plan_shards(files, 7, row_counts={f.path: count_rows(f) for f in files})
    assert given == counted
    assert plan_shards(files[:1], 7, row_counts={files[0].path: 3})[0].n_rows == 3


def test_rows_per_shard_below_one_is_a_usage_error(corpus_inputs):
    files = resolve_inputs(corpus_inputs)
    with pytest.raises(UsageError, match="at least 1"):
        plan_shards(files, 0)


# --- reading shards -----------------------------------------------------------------------


@pytest.mark.parametrize("rows_per_shard", [1, 2, 3, 5, 8, 13, 40, 1000])
def test_union_of_shards_equals_a_full_read(corpus_inputs, rows_per_shard):
    files = resolve_inputs(corpus_inputs)
    full = full_read(files)
    assert sharded_read(files, rows_per_shard) == full
    docs = [i for i in full if isinstance(i, Document)]
    failures = [i for i in full if isinstance(i, FailureRecord)]
    assert len(docs) + len(failures) == sum(count_rows(f) for f in files)
    assert len({i.doc_id for i in docs}) == len(docs)


def test_full_read_holds_what_the_files_hold(corpus_inputs):
    files = resolve_inputs(corpus_inputs)
    full = full_read(files)
    reasons = [(Path(i.source).name, i.row, i.reason) for i in full if isinstance(i, FailureRecord)]
    assert reasons[:3] == [
        ("a.jsonl", 20, "invalid_json"), ("a.jsonl", 21, "invalid_json"),
        ("a.jsonl", 22, "not_an_object"),
    ]
    [(name, cut_row, reason)] = reasons[3:]
    assert (name, reason) == ("f.jsonl.gz", "unreadable_file")
    f_docs = [i for i in full if isinstance(i, Document) and i.source.endswith("f.jsonl.gz")]
    assert len(f_docs) == cut_row > 0
    by_source = {}
    for item in full:
        if isinstance(item, Document):
            by_source.setdefault(Path(item.source).name, []).append(item.text)
    assert by_source["a.jsonl"][-1] == "a-last"
    assert len(by_source["b.jsonl.gz"][7]) == 1_500_000
    assert by_source["e.arrow"] == [f"e{i}" for i in range(11)]
    assert by_source["t1.txt"] + by_source["t2.txt"] + by_source["t3.txt"] == ["one\n", "", "three"]


@pytest.mark.parametrize("chunk_bytes", [1, 7, 4096])
def test_lines_split_across_any_chunk_boundary(corpus_inputs, monkeypatch, chunk_bytes):
    files = [f for f in resolve_inputs(corpus_inputs) if f.path.endswith(("a.jsonl", ".zst"))]
    expected = full_read(files)
    monkeypatch.setattr(corpus_compression, "CHUNK_BYTES", chunk_bytes)
    assert full_read(files) == expected
    assert sharded_read(files, 4) == expected
    assert [count_rows(f) for f in files] == [24, 17]


def test_read_shard_passes_the_field_names(corpus_inputs):
    files = [f for f in resolve_inputs(corpus_inputs) if f.path.endswith(("b.jsonl.gz", "parquet"))]
    items = sharded_read(files, 6, id_field="id")
    assert [i.external_id for i in items[8:10]] == ["b/8", "b/9"]
    assert items[40].external_id == "d/0" and items[40].doc_id == make_doc_id(3, 0)
    missing = sharded_read(files, 6, text_field="body")
    assert {i.reason for i in missing} == {"missing_text_field"}


def test_shard_starting_after_a_long_line(corpus_inputs):
    [b] = [f for f in resolve_inputs(corpus_inputs) if f.path.endswith("b.jsonl.gz")]
    [shard] = [s for s in plan_shards([b], 8) if s.pieces[0].start_row == 8]
    assert [i.text for i in read_shard(shard)] == [f"b{i}" for i in range(8, 16)]


# --- determinism --------------------------------------------------------------------------


_PLAN_SCRIPT = """
import json, sys
from longtail.corpus import plan_shards, read_shard, resolve_inputs
files = resolve_inputs(sys.argv[1:])
out = [(s.to_json(), [i.doc_id for i in read_shard(s)])
       for s in plan_shards(files, 9) + plan_shards(files, target_bytes=50, parallelism=2)]
print(json.dumps(out))
"""


def test_same_input_gives_same_shards_and_ids_in_another_process(corpus_inputs):
    files = resolve_inputs(corpus_inputs)
    here = [
        [s.to_json(), [i.doc_id for i in read_shard(s)]]
        for s in plan_shards(files, 9) + plan_shards(files, target_bytes=50, parallelism=2)
    ]
    run = subprocess.run(
        [sys.executable, "-c", _PLAN_SCRIPT, *map(str, reversed(corpus_inputs))],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    )
    assert json.loads(run.stdout) == here
    assert resolve_inputs(list(reversed(corpus_inputs))) == files


def test_real_c4_shards_match_a_full_read():
    files = resolve_inputs([shared_path("c4", "c4-sample-449.jsonl")])
    full = list(read_rows(files[0]))
    assert len(full) == 449 == count_rows(files[0])
    assert sharded_read(files, 50, id_field="meta.url") == [
        Document(d.doc_id, d.source, d.row, d.text, json.loads(
            json.loads(line)["meta"])["url"])
        for d, line in zip(full, Path(files[0].path).read_text("utf-8").splitlines(), strict=True)
    ]
