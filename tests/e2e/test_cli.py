"""The real `longtail` command on the bundled sample, run as a user runs it."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pytest

from tests.e2e.conftest import longtail


def test_demo_prints_outputs_and_a_query_that_works(demo):
    out, result = demo
    assert str(out.resolve()) in result.stdout
    match = re.search(r'longtail query \S+ "(SELECT[^"]+)"', result.stdout)
    assert match, result.stdout
    answer = longtail("query", str(out), match.group(1))
    assert answer.returncode == 0, answer.stderr
    assert "relevant_docs" in answer.stdout and "(5 rows)" in answer.stdout


def test_demo_manifest_counts_add_up(demo):
    out, _ = demo
    manifest = json.loads((out / "manifest.json").read_text())
    link = manifest["stages"]["link"]["stats"]
    assert link["documents_in"] == link["linked"] + link["empty"] + link["failed"]
    assert link["documents_in"] == 314 and link["failed"] == 1 and link["empty"] == 1
    assert link["failure_reasons"] == {"invalid_json": 1}
    qa = manifest["stages"]["qa"]["stats"]
    assert qa["records_in"] == qa["linked"] + qa["link_failed"] + qa["unreadable"]
    counted = manifest["stages"]["count"]["stats"]["status"]
    assert sum(counted.values()) == 66
    assert counted.get("counted", 0) >= 30
    for table, rows in manifest["tables"].items():
        with duckdb.connect() as con:
            got = con.execute(
                f"SELECT count(*) FROM read_parquet('{out / table}/*.parquet')").fetchone()[0]
        assert got == rows, table


def test_database_works_after_moving_the_folder(demo, tmp_path):
    out, _ = demo
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    result = longtail("query", str(moved), "SELECT count(*) AS n FROM relevant_docs",
                      "--output-format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0]) == {"n": 66}
    with duckdb.connect(str(moved / "longtail.duckdb"), read_only=True) as con:
        con.execute(f"SET file_search_path = '{moved}'")
        assert con.execute("SELECT count(*) FROM docs").fetchone()[0] == 313


def test_docs_shows_the_winning_pair_and_snippets(demo):
    out, _ = demo
    with duckdb.connect() as con:
        qid, q_uri, a_uri, n = con.execute(
            f"SELECT question_id, q_uri, a_uri, relevant_docs FROM "
            f"read_parquet('{out}/relevant_docs/*.parquet') WHERE status = 'counted' "
            f"ORDER BY relevant_docs DESC, question_id LIMIT 1").fetchone()
    result = longtail("docs", str(out), qid, "--limit", "3")
    assert result.returncode == 0, result.stderr
    assert q_uri in result.stdout and a_uri in result.stdout
    assert f"first 3 of {n}" in result.stdout
    assert result.stdout.count("[") >= 3  # mentions are bracketed in the snippets


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["link", "--corpus", "no/such/file.jsonl", "--model", "{model}", "--out", "{tmp}"],
         "not found"),
        (["link", "--corpus", "{corpus}", "--model", "no/such/model", "--out", "{tmp}"],
         "model folder not found"),
        (["link", "--corpus", "{corpus}", "--model", "{model}", "--out", "{tmp}"],
         "not a statistical linker model"),
        (["qa", "--qa", "no/such/qa.jsonl", "--qa-format", "nq-open", "--model", "{model}",
          "--out", "{tmp}"], "not found"),
        (["query", "no/such/out", "SELECT 1"], "output folder not found"),
        (["link", "--corpus", "{corpus}", "--model", "{model}", "--out", "{tmp}",
          "--confidence", "1.5"], "--confidence"),
    ],
)
def test_wrong_usage_stops_with_one_line(tmp_path, args, message):
    from longtail.sample import SAMPLE_CORPUS

    model = tmp_path / "model"
    model.mkdir()
    filled = [a.format(model=model, tmp=tmp_path / "out", corpus=SAMPLE_CORPUS) for a in args]
    result = longtail(*filled, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("longtail: error:") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_flag_is_argparse_usage_error():
    result = longtail("link", "--no-such-flag", timeout=60)
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr or "required" in result.stderr


def test_help_explains_every_command(capsys):
    from longtail.jobs.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    top = capsys.readouterr().out
    commands = ["annotate", "model import", "model build", "link", "index", "qa", "count",
                "run", "query", "docs", "demo", "pack", "analyze accuracy", "counterfactual",
                "duplicates", "exposure", "export longtail", "export paper", "import paper"]
    for command in commands:
        assert command.split()[0] in top
        with pytest.raises(SystemExit) as done:
            main([*command.split(), "--help"])
        assert done.value.code == 0, command
        text = capsys.readouterr().out
        assert text.startswith(f"usage: longtail {command}"), command
        assert len(text.splitlines()) > 5, command
