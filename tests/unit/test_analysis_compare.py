"""`longtail compare` on two folders of the bundled sample, linked at confidence 0.4 and 0.1.

The expected correlations are computed here from the Parquet files themselves (pyarrow, then
scipy), not through the code under test.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from scipy import stats

from longtail.analysis import compare
from longtail.errors import UsageError
from longtail.jobs.cli import build_parser
from longtail.output.folder import OutputFolder
from longtail.sample import SAMPLE_QA
from tests.sample_outputs import build_sample_out, sample_outputs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(argv: list[str]) -> int:
    """A `longtail` command, in this process."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


def parquet_rows(out: OutputFolder, table: str) -> list[dict]:
    """Every row of OUT/<table>/*.parquet, read straight from the files."""
    files = sorted(glob.glob(os.path.join(out.location, table, "*.parquet")))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def expected_pair(a: OutputFolder, b: OutputFolder) -> dict:
    """What compare must find, from the files: both folders read the same QA content, so a
    question is its row."""
    counts_a = {r["row"]: r["relevant_docs"] for r in parquet_rows(a, "relevant_docs")}
    counts_b = {r["row"]: r["relevant_docs"] for r in parquet_rows(b, "relevant_docs")}
    common = sorted(counts_a.keys() & counts_b.keys())
    both = [r for r in common if counts_a[r] is not None and counts_b[r] is not None]
    x = np.log1p([counts_a[r] for r in both])
    y = np.log1p([counts_b[r] for r in both])
    return {
        "common": len(common), "both": len(both),
        "rho": stats.spearmanr(x, y).statistic, "r": stats.pearsonr(x, y).statistic,
        "zero_a": sum(1 for r in both if counts_a[r] == 0 and counts_b[r] > 0),
        "zero_b": sum(1 for r in both if counts_b[r] == 0 and counts_a[r] > 0),
        "only_a": sum(1 for r in common if counts_a[r] is not None and counts_b[r] is None),
        "only_b": sum(1 for r in common if counts_a[r] is None and counts_b[r] is not None),
        "counts_a": counts_a, "counts_b": counts_b,
    }


@pytest.fixture(scope="module")
def outs():
    return sample_outputs()


def test_correlations_equal_an_independent_computation(outs, capsys):
    expected = expected_pair(outs.strict, outs.loose)
    assert expected["common"] == 66 and expected["both"] >= 50  # the sample's 66 questions
    assert expected["counts_a"] != expected["counts_b"]  # 0.1 links more than 0.4
    assert run(["compare", outs.strict.location, outs.loose.location,
                "--names", "strict", "loose"]) == 0
    printed = capsys.readouterr().out
    corpora = compare.load_all([outs.strict.location, outs.loose.location],
                               ["strict", "loose"], "qa-content")
    [pair] = compare.compare_all(corpora)
    assert pair.common == expected["common"]  # the QA copy at another path still matches
    assert pair.both_counted == expected["both"]
    assert pair.rho == pytest.approx(expected["rho"], abs=1e-12)
    assert pair.r == pytest.approx(expected["r"], abs=1e-12)
    assert (pair.zero_only_in_a, pair.zero_only_in_b) == (expected["zero_a"],
                                                          expected["zero_b"])
    assert (pair.counted_only_in_a, pair.counted_only_in_b) == (expected["only_a"],
                                                                expected["only_b"])
    assert f"{expected['rho']:.3f}" in printed and f"{expected['r']:.3f}" in printed
    assert "questions matched by QA file content" in printed
    # the largest disagreement is the question whose log counts differ most
    a, b = expected["counts_a"], expected["counts_b"]
    gaps = {row: abs(np.log1p(a[row]) - np.log1p(b[row])) for row in a
            if a[row] is not None and b[row] is not None}
    worst = max(gaps, key=lambda row: (gaps[row], -row))
    question = next(r["question"] for r in parquet_rows(outs.strict, "relevant_docs")
                    if r["row"] == worst)
    assert pair.disagreements[0] == (question, a[worst], b[worst])
    assert "largest disagreements, strict vs loose" in printed and question in printed


def test_spearman_handles_ties_like_scipy():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, 200).astype(float)
    y = x + rng.integers(0, 3, 200)
    assert compare.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert compare.pearson(np.ones(5), np.arange(5.0)) is None


def test_output_tables_hold_one_column_per_corpus(outs, tmp_path):
    parquet_file, csv_file = tmp_path / "counts.parquet", tmp_path / "counts.csv"
    assert run(["compare", outs.strict.location, outs.loose.location, "--names", "c4", "pile",
                "--output", str(parquet_file)]) == 0
    assert run(["compare", outs.strict.location, outs.loose.location, "--names", "c4", "pile",
                "--output", str(csv_file)]) == 0
    table = pq.read_table(parquet_file)
    assert table.column_names == ["qa_sha256", "row", "question", "c4", "c4_per_million",
                                  "c4_status", "pile", "pile_per_million", "pile_status"]
    expected = expected_pair(outs.strict, outs.loose)
    documents = len(parquet_rows(outs.strict, "docs"))
    digest = compare.file_sha256(str(SAMPLE_QA))
    rows = table.to_pylist()
    assert len(rows) == 66 and {r["qa_sha256"] for r in rows} == {digest}
    for r in rows:
        assert r["c4"] == expected["counts_a"][r["row"]]
        assert r["pile"] == expected["counts_b"][r["row"]]
        if r["c4"] is not None:
            assert r["c4_per_million"] == pytest.approx(r["c4"] * 1e6 / documents)
    statuses = {r["row"]: r["status"] for r in parquet_rows(outs.loose, "relevant_docs")}
    assert all(r["pile_status"] == statuses[r["row"]] for r in rows)
    from_csv = pacsv.read_csv(csv_file)
    assert from_csv.column_names == table.column_names
    assert from_csv["c4"].to_pylist() == table["c4"].to_pylist()


def test_plot_is_a_png_scatter_matrix(outs, tmp_path):
    plot = tmp_path / "plots" / "compare.png"
    assert run(["compare", outs.strict.location, outs.loose.location, "--plot",
                str(plot)]) == 0
    data = plot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 30_000


def test_different_qa_inputs_are_refused_unless_matched_on_text(outs, tmp_path, capsys):
    lines = SAMPLE_QA.read_text(encoding="utf-8").splitlines(keepends=True)
    other_qa = tmp_path / "first-half.jsonl"
    other_qa.write_text("".join(lines[:30]), encoding="utf-8")
    other = build_sample_out(tmp_path / "other", outs.model, 0.4, qa_files=[str(other_qa)])
    with pytest.raises(UsageError, match=r"^the QA inputs differ: .*first-half.jsonl.*"
                                         r"--match-on question-text"):
        run(["compare", outs.loose.location, other.location])
    assert run(["compare", outs.loose.location, other.location, "--match-on",
                "question-text"]) == 0
    corpora = compare.load_all([outs.loose.location, other.location], None, "question-text")
    [pair] = compare.compare_all(corpora)
    assert pair.common == 30
    assert "questions matched by question text" in capsys.readouterr().out


def test_recorded_digest_is_preferred_to_hashing_the_file(outs, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(outs.strict.location, copy)
    out = OutputFolder(str(copy))
    record = out.record("qa")
    [entry] = record.inputs["qa"]
    assert entry.sha256 == compare.file_sha256(entry.location)  # recorded by the qa stage
    record.inputs["qa"] = [dataclasses.replace(entry, sha256="ab" * 32)]
    out.write_record(record)  # what the record says wins over the file
    assert compare.qa_file_digests(out) == {entry.location: "ab" * 32}


def test_wrong_usage_is_one_line(outs, tmp_path):
    with pytest.raises(UsageError, match="at least two output folders"):
        run(["compare", outs.strict.location])
    with pytest.raises(UsageError, match="1 names for 2 output folders"):
        run(["compare", outs.strict.location, outs.loose.location, "--names", "x"])
    with pytest.raises(UsageError, match="--output must end in"):
        run(["compare", outs.strict.location, outs.loose.location, "--output", "x.txt"])
    with pytest.raises(UsageError, match="cannot use 'question' as a corpus name"):
        run(["compare", outs.strict.location, outs.loose.location, "--names", "question", "b"])
    with pytest.raises(UsageError, match="output folder not found"):
        run(["compare", outs.strict.location, str(tmp_path / "nowhere")])


@pytest.mark.slow
def test_folders_in_object_storage(outs, tmp_path):
    from tests.servers.object_store import S3Server

    with S3Server() as s3:
        s3.client().create_bucket(Bucket="outputs")
        a = s3.upload("outputs", "runs/strict", outs.strict.storage.local_path())
        b = s3.upload("outputs", "runs/loose", outs.loose.storage.local_path())
        table = tmp_path / "remote.parquet"
        result = subprocess.run(
            [sys.executable, "-m", "longtail.jobs.cli", "compare", a, b, "--names", "strict",
             "loose", "--output", str(table)], capture_output=True, text=True, timeout=300,
            env={**os.environ, **s3.env()})
    assert result.returncode == 0, result.stderr[-2000:]
    expected = expected_pair(outs.strict, outs.loose)
    assert f"{expected['rho']:.3f}" in result.stdout
    rows = pq.read_table(table).to_pylist()
    assert {r["row"]: r["loose"] for r in rows} == expected["counts_b"]
    assert a in result.stdout and b in result.stdout
