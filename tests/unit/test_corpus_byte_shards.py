"""The plan by bytes: every row read exactly once, the same doc ids as the plan by rows, large
files split (JSON Lines at line starts, Parquet between row groups), small files packed."""

from __future__ import annotations

import gzip
import json
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from longtail.corpus import (
    RecordFields,
    Shard,
    plan_shards,
    read_rows,
    read_shard,
    resolve_inputs,
    rows_per_file,
)
from longtail.corpus.shards import MIN_SHARD_BYTES, parse_byte_size, shard_step
from longtail.errors import UsageError
from tests.unit.test_corpus_shards import build_corpus


def full_read(files, id_field: str | None = "id") -> list:
    fields = RecordFields("text", id_field)
    return [item for file in files for item in read_rows(file, fields=fields)]


def byte_read(shards) -> list:
    # through JSON, as a recorded plan is read back on resume
    return [item for s in shards
            for item in read_shard(Shard.from_json(json.loads(json.dumps(s.to_json()))),
                                   id_field="id")]


def random_jsonl(rnd: random.Random) -> bytes:
    """Records, blank lines, broken JSON, CRLF endings, a BOM, long lines, maybe no final
    newline."""
    rows = []
    for i in range(rnd.randint(0, 25)):
        kind = rnd.random()
        if kind < 0.08:
            rows.append(b"")
        elif kind < 0.12:
            rows.append(b"{broken")
        else:
            text = "x" * rnd.choice([0, 1, 5, 40, 120])
            rows.append(json.dumps({"text": f"{i}{text}", "id": i}).encode()
                        + (b"\r" if kind > 0.9 else b""))
    data = b"\n".join(rows)
    if rows and rnd.random() < 0.6:
        data += b"\n"
    if rnd.random() < 0.1:
        data = b"\xef\xbb\xbf" + data
    return data


def test_any_cut_of_random_files_reads_every_row_once_with_the_same_ids(tmp_path):
    rnd = random.Random(20261207)
    for case in range(8):
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        for i in range(rnd.randint(1, 4)):
            (folder / f"part-{i}.jsonl").write_bytes(random_jsonl(rnd))
        files = resolve_inputs([folder])
        full = full_read(files)
        by_rows = byte_read(plan_shards(files))
        assert by_rows == full
        sizes = [Path(f.path).stat().st_size for f in files]
        for target in sorted({2, 7, 19, 64, 200, *(rnd.randint(1, 900) for _ in range(2)),
                              sum(sizes) + 1}):
            for parallelism in (1, 2, 3):
                for cap in (None, 1, 3):
                    shards = plan_shards(files, cap, target_bytes=target,
                                         parallelism=parallelism)
                    assert byte_read(shards) == full, (case, target, parallelism, cap)
                    ids = [s.shard_id for s in shards]
                    assert sorted(set(ids)) == ids
                    assert all(s.n_rows > 0 for s in shards)
                    assert cap is None or all(s.n_rows <= cap for s in shards)


def test_every_format_and_broken_file_cut_by_bytes(tmp_path):
    files = resolve_inputs(build_corpus(tmp_path))
    full = full_read(files, id_field=None)
    expected_rows = rows_per_file(plan_shards(files))
    for target in (1, 50, 300, 4096, 1 << 30):
        for parallelism in (1, 2, 5):
            shards = plan_shards(files, target_bytes=target, parallelism=parallelism)
            assert [i for s in shards for i in read_shard(s)] == full, (target, parallelism)
            assert rows_per_file(shards) == expected_rows


def test_a_large_jsonl_file_gives_every_core_a_shard_cut_at_line_starts(tmp_path):
    path = tmp_path / "big.jsonl"
    records = [json.dumps({"text": f"doc {i} " + "word " * (i % 97), "id": i})
               for i in range(20_000)]
    path.write_text("\n".join(records) + "\n")
    size = path.stat().st_size
    assert size > 3 * MIN_SHARD_BYTES
    files = resolve_inputs([path])
    full = full_read(files)
    data = path.read_bytes()
    for parallelism in (2, 3, 4):
        shards = plan_shards(files, target_bytes=64 << 20, parallelism=parallelism)
        assert len(shards) == parallelism
        assert byte_read(shards) == full
        for shard in shards:
            [piece] = shard.pieces
            assert piece.seek_byte == 0 or data[piece.seek_byte - 1:piece.seek_byte] == b"\n"
            assert piece.seek_row == piece.start_row
        sizes = [len(b"".join(r.encode() + b"\n" for r in records[s.pieces[0].start_row:
                                                                  s.pieces[0].stop_row]))
                 for s in shards]
        assert max(sizes) - min(sizes) < 0.01 * size


def test_a_thousand_tiny_files_pack_into_few_shards(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1000):
        (folder / f"part-{i:04d}.jsonl").write_text(
            "".join(json.dumps({"text": f"file {i} row {r}", "id": f"{i}/{r}"}) + "\n"
                    for r in range(i % 4)))  # every fourth file is empty
    files = resolve_inputs([folder])
    shards = plan_shards(files, target_bytes=64 << 20, parallelism=2)
    assert len(shards) == 1
    assert len(shards[0].pieces) == 750
    assert byte_read(shards) == full_read(files)
    assert rows_per_file(shards) == {f.path: int(Path(f.path).name[5:9]) % 4 for f in files
                                     if int(Path(f.path).name[5:9]) % 4}


def test_small_files_pack_evenly_over_the_cores(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    row = json.dumps({"text": "y" * 990}) + "\n"
    for i in range(1000):
        (folder / f"part-{i:04d}.jsonl").write_text(row * 4)  # 4 KB a file, 4 MB in all
    files = resolve_inputs([folder])
    shards = plan_shards(files, target_bytes=64 << 20, parallelism=2)
    assert [s.n_rows for s in shards] == [2000, 2000]
    shards = plan_shards(files, target_bytes=1 << 20, parallelism=2)
    assert len(shards) == 4 and {s.n_rows for s in shards} == {1000}


def test_parquet_is_split_between_row_groups(tmp_path):
    path = tmp_path / "d.parquet"
    texts = [f"text {i} " + "z" * (i % 50) for i in range(5000)]
    pq.write_table(pa.table({"text": texts, "id": [str(i) for i in range(5000)]}), path,
                   row_group_size=500)
    files = resolve_inputs([path])
    target = path.stat().st_size // 4 + 1
    shards = plan_shards(files, target_bytes=target, parallelism=1)
    assert len(shards) >= 3
    bounds = [(p.start_row, p.stop_row) for s in shards for p in s.pieces]
    assert all(start % 500 == 0 for start, _ in bounds)
    assert bounds[0][0] == 0 and bounds[-1][1] == 5000
    items = byte_read(shards)
    assert [i.text for i in items] == texts
    assert [i.external_id for i in items] == [str(i) for i in range(5000)]


def test_a_compressed_file_is_not_split(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(
        json.dumps({"text": f"{i} " + "q" * 200}).encode() + b"\n" for i in range(3000))))
    files = resolve_inputs([path])
    [shard] = plan_shards(files, target_bytes=1000, parallelism=4)
    [piece] = shard.pieces
    assert (piece.start_row, piece.stop_row, piece.seek_byte) == (0, 3000, 0)
    assert plan_shards(files, 1000, target_bytes=1000, parallelism=4)[2].pieces[0].start_row \
        == 2000


def test_counting_runs_through_the_executor_in_batches(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(40):
        (folder / f"p{i:02d}.jsonl").write_text(json.dumps({"text": "t" * 100}) + "\n")
    files = resolve_inputs([folder])
    seen = []

    with ProcessPoolExecutor(2) as pool:
        def executor(function, items):
            seen.append(len(items))
            return list(pool.map(function, items))

        shards = plan_shards(files, target_bytes=500, parallelism=2, executor=executor)
    assert seen == [8]  # 4 batches per core
    assert byte_read(shards) == full_read(files)


def test_shard_json_round_trip():
    files = resolve_inputs([Path(__file__).parents[2] / "pipeline" / "sample" / "corpus"])
    shards = plan_shards(files, 7, target_bytes=5000, parallelism=2)
    data = json.loads(json.dumps([s.to_json() for s in shards]))
    assert [Shard.from_json(d) for d in data] == shards


@pytest.mark.parametrize(("text", "value"), [
    ("64MB", 64_000_000), ("64MiB", 64 << 20), ("1.5g", 1_500_000_000), ("100", 100),
    ("2 KiB", 2048)])
def test_parse_byte_size(text, value):
    assert parse_byte_size(text) == value


@pytest.mark.parametrize("text", ["", "MB", "12 parsecs", "0", "-5MB"])
def test_bad_byte_sizes_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_byte_size(text)


def test_shard_step():
    assert shard_step(200 << 20, 64 << 20, 2) == 50 << 20  # 4 shards, 2 per core
    assert shard_step(3 << 20, 64 << 20, 2) == 3 << 19  # a few MB: one per core
    assert shard_step(1000, 64 << 20, 2) == 1000  # tiny: one shard
    assert shard_step(MIN_SHARD_BYTES + 2, 64 << 20, 4) == MIN_SHARD_BYTES // 2 + 1
    assert shard_step(1000, 10, 1) == 10
    with pytest.raises(UsageError):
        shard_step(1000, 0, 1)
