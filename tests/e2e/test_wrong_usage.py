"""Every wrong usage we can think of, through the real command: exit status 2, one line on
stderr that starts `longtail...: error:`, nothing on stdout, never a traceback. None of these
starts Spark: each is caught before any work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from longtail.jobs.cli import main
from longtail.linking.statistical import import_wikistats
from longtail.output.folder import OutputFolder
from longtail.output.runner import commit_stage
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA
from tests.e2e.conftest import LONGTAIL, longtail

DBR = "http://dbpedia.org/resource/"


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, Path]:
    """A tiny real model, an output folder with finished stages, a folder that is no model."""
    root = tmp_path_factory.mktemp("usage")
    stats = root / "wikistats"
    stats.mkdir()
    (stats / "sfAndTotalCounts").write_text("Paris\t10\t20\nFrance\t10\t20\n", encoding="utf-8")
    (stats / "pairCounts").write_text(f"Paris\t{DBR}Paris\t10\nFrance\t{DBR}France\t10\n",
                                      encoding="utf-8")
    (stats / "uriCounts").write_text(f"{DBR}Paris\t50\n{DBR}France\t50\n", encoding="utf-8")
    import_wikistats(stats, root / "model")
    out = OutputFolder(str(root / "out"))
    docs = pa.table({"doc_id": list(range(5000)), "source": ["c.jsonl"] * 5000,
                     "row": list(range(5000)), "external_id": [None] * 5000,
                     "n_chars": [10] * 5000, "n_mentions": [0] * 5000,
                     "status": ["linked"] * 5000})
    commit_stage(out, "link", {"docs": docs})
    not_a_model = root / "random-dir"
    not_a_model.mkdir()
    (not_a_model / "notes.txt").write_text("hello", encoding="utf-8")
    a_file = root / "a-file"
    a_file.write_text("x", encoding="utf-8")
    popqa_json = root / "popqa.jsonl"
    popqa_json.write_text('{"question": "q?", "possible_answers": "[\\"a\\"]"}\n' * 2,
                          encoding="utf-8")
    csv_as_json = root / "qa.jsonl"
    csv_as_json.write_text("question,answer\nWho?,Me\n", encoding="utf-8")
    popqa_csv = root / "popqa.csv"
    popqa_csv.write_text("id,subj,prop,obj,question,possible_answers\n" + "".join(
        f'{i},Paris,capital of,France,What is Paris the capital of?,"[""France""]"\n'
        for i in range(20)), encoding="utf-8")
    empty_qa = root / "empty.jsonl"
    empty_qa.write_text("", encoding="utf-8")
    no_text = root / "no-text.jsonl"
    no_text.write_text("".join(f'{{"content": "Paris {i}", "url": "u{i}"}}\n'
                               for i in range(20)), encoding="utf-8")
    damaged = root / "damaged-out"
    shutil.copytree(root / "out", damaged)
    record = damaged / "_stages" / "link.json"
    record.write_bytes(record.read_bytes()[:40])  # cut short, as a full disk can leave it
    return {"root": root, "model": root / "model", "out": root / "out",
            "not_a_model": not_a_model, "file": a_file, "popqa_json": popqa_json,
            "csv": csv_as_json, "popqa_csv": popqa_csv, "empty_qa": empty_qa,
            "no_text": no_text, "damaged": damaged}


CORPUS = str(SAMPLE_CORPUS)
QA = str(SAMPLE_QA)


def cases(p: dict[str, Path]) -> dict[str, list[str]]:
    model, out = str(p["model"]), str(p["out"])
    new_out = str(p["root"] / "new-out")
    return {
        "model folder is not a model": ["link", "--corpus", CORPUS, "--model",
                                        str(p["not_a_model"]), "--out", new_out],
        "model folder missing": ["link", "--corpus", CORPUS, "--model", "nowhere",
                                 "--out", new_out],
        "corpus missing": ["link", "--corpus", "missing.jsonl", "--model", model,
                           "--out", new_out],
        "corpus glob matches nothing": ["link", "--corpus", "nothing-*.jsonl", "--model", model,
                                        "--out", new_out],
        "unknown corpus format": ["link", "--corpus", CORPUS, "--corpus-format", "xml",
                                  "--model", model, "--out", new_out],
        "rows per shard zero": ["link", "--corpus", CORPUS, "--rows-per-shard", "0",
                                "--model", model, "--out", new_out],
        "confidence over 1": ["link", "--corpus", CORPUS, "--confidence", "2", "--model", model,
                              "--out", new_out],
        "negative support": ["link", "--corpus", CORPUS, "--support", "-1", "--model", model,
                             "--out", new_out],
        "both linkers": ["link", "--corpus", CORPUS, "--model", model, "--spotlight",
                         "http://127.0.0.1:1/rest", "--out", new_out],
        "no linker": ["link", "--corpus", CORPUS, "--out", new_out],
        "not a number": ["link", "--corpus", CORPUS, "--model", model, "--rows-per-shard",
                         "many", "--out", new_out],
        "unknown flag": ["link", "--corpus", CORPUS, "--model", model, "--out", new_out,
                         "--fast"],
        "out is under a file": ["link", "--corpus", CORPUS, "--model", model, "--out",
                                str(p["file"] / "out")],
        "qa format unknown": ["qa", "--qa", QA, "--qa-format", "squad", "--model", model,
                              "--out", new_out],
        "qa file missing": ["qa", "--qa", "missing.jsonl", "--qa-format", "nq-open",
                            "--model", model, "--out", new_out],
        "popqa given JSON Lines": ["qa", "--qa", str(p["popqa_json"]), "--qa-format", "popqa",
                                   "--model", model, "--out", new_out],
        "JSON format given CSV": ["qa", "--qa", str(p["csv"]), "--qa-format", "nq-open",
                                  "--model", model, "--out", new_out],
        "qa rows per shard zero": ["qa", "--qa", QA, "--qa-format", "nq-open",
                                   "--qa-rows-per-shard", "0", "--model", model,
                                   "--out", new_out],
        "index before link": ["index", "--out", new_out],
        "count before index": ["count", "--out", out],
        "min cooccurrence zero": ["index", "--out", out, "--min-cooccurrence", "0"],
        "run with a bad qa format": ["run", "--corpus", CORPUS, "--qa", QA, "--qa-format", "x",
                                     "--model", model, "--out", new_out],
        "query missing folder": ["query", str(p["root"] / "nowhere"), "SELECT 1"],
        "query empty": ["query", out, "   "],
        "query comment only": ["query", out, "-- just a comment"],
        "query syntax": ["query", out, "SELEC 1"],
        "query copy into OUT": ["query", out,
                                f"COPY (SELECT * FROM docs) TO '{out}/docs/x.parquet'"],
        "query overwrite": ["query", out, f"COPY (SELECT 1) TO '{out}/mentions' (OVERWRITE)"],
        "query attach": ["query", out, f"ATTACH '{p['root']}/x.db'"],
        "query install": ["query", out, "INSTALL httpfs"],
        "query load": ["query", out, "LOAD httpfs"],
        "query create": ["query", out, "CREATE TABLE t AS SELECT 1"],
        "query set": ["query", out, "SET enable_external_access = true"],
        "query two statements": ["query", out, "SELECT 1; SELECT 2"],
        "query reads outside OUT": ["query", out, "SELECT * FROM read_csv('/etc/passwd')"],
        "query missing table": ["query", out, "SELECT * FROM relevant_docs"],
        "query output inside OUT": ["query", out, "SELECT 1", "--output", f"{out}/r.csv"],
        "query output format": ["query", out, "SELECT 1", "--output",
                                str(p["root"] / "r.xlsx")],
        "docs before count": ["docs", out, "q1"],
        "status missing folder": ["status", str(p["root"] / "nowhere")],
        "annotate both linkers": ["annotate", "--model", model, "--spotlight",
                                  "http://127.0.0.1:1/rest", "Paris"],
        "model import missing": ["model", "import", "--wikistats", str(p["root"] / "none"),
                                 "--out", str(p["root"] / "m2")],
        "model written to object storage": ["model", "import", "--wikistats",
                                            str(p["root"] / "wikistats"), "--out",
                                            "s3://bucket/models/en"],
        "no command": [],
        "unknown command": ["frobnicate"],
        # inputs that look right but are not what they say: refused before any work
        "popqa csv given as nq-open": ["qa", "--qa", str(p["popqa_csv"]), "--qa-format",
                                       "nq-open", "--model", model, "--out", new_out],
        "empty qa file": ["qa", "--qa", str(p["empty_qa"]), "--qa-format", "nq-open",
                          "--model", model, "--out", new_out],
        "corpus without its text field": ["link", "--corpus", str(p["no_text"]), "--model",
                                          model, "--out", new_out],
        "support leaves no entity": ["link", "--corpus", CORPUS, "--model", model,
                                     "--support", "50", "--out", new_out],
        "max failed share over 1": ["link", "--corpus", CORPUS, "--model", model,
                                    "--max-failed-share", "2", "--out", new_out],
        "run reads the qa file before linking": [
            "run", "--corpus", CORPUS, "--qa", str(p["popqa_csv"]), "--qa-format", "nq-open",
            "--model", model, "--out", new_out],
        "overwrite refused keeps the stage": [
            "qa", "--qa", str(p["csv"]), "--qa-format", "nq-open", "--model", model, "--out",
            out, "--overwrite"],
        "status of a damaged record": ["status", str(p["damaged"])],
        "query of a damaged record": ["query", str(p["damaged"]), "SELECT count(*) FROM docs"],
        "query explain analyze copy": [
            "query", out, f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{out}/manifest.json' "
                          "(FORMAT csv)"],
    }


CASE_NAMES = sorted(cases({k: Path("/x") for k in (
    "root", "model", "out", "not_a_model", "file", "popqa_json", "csv", "popqa_csv",
    "empty_qa", "no_text", "damaged")}))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (the lock file aside: a writer's note of who held it)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "_lock"}


def invoke(args: list[str], capsys) -> tuple[int, str, str]:
    """The `longtail` command's entry point in this process (what the console script calls):
    its exit status, stdout and stderr."""
    try:
        code = main(args)
    except SystemExit as done:  # argparse's own exits
        code = done.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", CASE_NAMES)
def test_wrong_usage_is_one_line_and_status_2(places, name, capsys, monkeypatch):
    monkeypatch.chdir(places["root"])
    before = {folder: snapshot(places[folder]) for folder in ("out", "damaged")}
    code, out, err = invoke(cases(places)[name], capsys)
    lines = err.strip().splitlines()
    assert code == 2, (name, err[-3000:])
    assert len(lines) == 1, (name, lines)
    assert lines[0].startswith("longtail") and ": error: " in lines[0], lines
    assert "Traceback" not in err
    assert out == "", out
    new_out = places["root"] / "new-out"
    assert not (new_out / "_stages").exists() and not (new_out / "_work").exists()
    assert {folder: snapshot(places[folder]) for folder in before} == before  # no byte changed
    assert not list(places["root"].rglob(".tmp-*"))  # no temporary left on any path


def test_the_console_script_says_the_same_one_line(places):
    """Two cases through a real process, as a shell runs it."""
    for name in ("model folder is not a model", "query copy into OUT"):
        result = longtail(*cases(places)[name], cwd=places["root"], timeout=120)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (name, result.stderr[-3000:])
        assert "Traceback" not in result.stderr


def test_nothing_a_query_says_changes_the_outputs(places, capsys, monkeypatch):
    monkeypatch.chdir(places["root"])
    before = {p: p.stat().st_size for p in places["out"].rglob("*") if p.is_file()}
    for name in [n for n in CASE_NAMES if n.startswith("query")]:
        invoke(cases(places)[name], capsys)
    after = {p: p.stat().st_size for p in places["out"].rglob("*") if p.is_file()}
    assert after == before
    assert not (places["root"] / "x.db").exists()


def test_a_closed_pipe_ends_quietly(places):
    """`longtail query ... | head -1`: the reader goes away, the command says nothing.

    The result (docs x docs, about 100,000 rows) is far larger than a pipe's buffer, so the
    writer is still writing when the reader leaves, however fast it is."""
    proc = subprocess.Popen([*LONGTAIL, "query", str(places["out"]),
                             "SELECT a.doc_id FROM docs a, docs b", "--output-format", "csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=places["root"])
    first = proc.stdout.readline()
    proc.stdout.close()  # like `head -1` exiting
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.strip() == b"doc_id"
    assert stderr == "" and proc.returncode == 141


def test_annotate_into_a_closed_pipe_ends_quietly(places):
    read, write = os.pipe()
    os.close(read)
    result = subprocess.run([*LONGTAIL, "annotate", "--model", str(places["model"]),
                             "Paris is in France. " * 2000], stdout=write,
                            stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write)
    assert "Traceback" not in result.stderr and result.stderr == ""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to run the command as another user")
def test_an_output_folder_that_cannot_be_written_is_one_line(places, tmp_path_factory):
    """As a user who may not write OUT (root ignores file modes, so the command runs as
    nobody): one line before any work, for a stage and for `query --output`."""
    shared = tmp_path_factory.mktemp("read-only")
    shared.chmod(0o755)
    for parent in shared.parents:
        if str(parent).startswith("/tmp/"):
            parent.chmod(0o755)
    out = shared / "out"
    shutil.copytree(places["out"], out)
    env = {**os.environ, "HOME": str(shared)}
    command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
               sys.executable, "-m", "longtail.jobs.cli"]
    for args in (["link", "--corpus", CORPUS, "--model", str(places["model"]), "--out",
                  str(out), "--overwrite"],
                 ["query", str(out), "SELECT 1", "--output", str(shared / "r.csv")]):
        result = subprocess.run([*command, *args], capture_output=True, text=True, env=env,
                                cwd="/", timeout=120)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr[-3000:]
        assert "permission denied" in lines[0].lower() and "Traceback" not in result.stderr


EXPECTED = {  # what the line names, for the cases where the reason matters most
    "popqa csv given as nq-open": "this looks like PopQA CSV, not nq-open",
    "empty qa file": "empty",
    "corpus without its text field": "pass --text-field content",
    "support leaves no entity": "--support 50 leaves no entity to link",
    "run reads the qa file before linking": "this looks like PopQA CSV",
    "overwrite refused keeps the stage": "nq-open",
    "status of a damaged record": "_stages/link.json is damaged",
    "query of a damaged record": "_stages/link.json is damaged",
    "query explain analyze copy": "COPY",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_line_names_the_problem(places, name, capsys, monkeypatch):
    monkeypatch.chdir(places["root"])
    code, _, err = invoke(cases(places)[name], capsys)
    assert code == 2 and EXPECTED[name] in err, (name, err)


def test_annotate_refuses_standard_input_that_is_not_utf8(places):
    result = subprocess.run([*LONGTAIL, "annotate", "--model", str(places["model"])],
                            input=b"Paris \xff\xfe France", capture_output=True, timeout=120)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert "standard input is not UTF-8 text (byte 6" in lines[0]
