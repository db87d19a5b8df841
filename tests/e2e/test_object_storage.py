"""longtail with its corpus, QA files, model and output on s3://, against a real S3-compatible
server on 127.0.0.1 (moto's standalone server, a separate process), through the real command.

Spark reads and writes through the storage layer inside its tasks: no Hadoop S3 connector is
installed, so nothing here could work through Spark's own s3a:// readers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pyarrow as pa
import pytest

from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.runner import ShardedStage, ShardWriter, StageSpec, local_executor
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA
from longtail.schemas.tables import DOCS
from tests.e2e.conftest import LONGTAIL
from tests.processes import kill_process_tree
from tests.servers.fake_spotlight import Faults, SpotlightProcess
from tests.servers.object_store import S3Server

pytestmark = pytest.mark.slow

if shutil.which("java") is None:
    pytest.skip("the stages run on Spark, which needs Java 17", allow_module_level=True)

BUCKET = "longtail-data"
TABLES = ["docs", "mentions", "entity_uris", "failures", "entities", "doc_entities",
          "cooccurrence", "qa_questions", "qa_entities", "relevant_docs"]


def run(*args: str, env: dict[str, str] | None = None, timeout: int = 600):
    return subprocess.run([*LONGTAIL, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def run_args(corpus: str, qa: str, model: str, out: str, *extra: str) -> list[str]:
    return ["run", "--corpus", corpus, "--qa", qa, "--qa-format", "nq-open", "--model", model,
            "--confidence", "0.4", "--out", out, "--rows-per-shard", "100",
            "--qa-rows-per-shard", "20", "--min-cooccurrence", "1", "--master", "local[2]",
            *extra]


def rows(out: str, table: str) -> list[tuple]:
    """A table's committed rows, sources reduced to file names, in a stable order."""
    folder = OutputFolder(out)
    data = folder.read_table(table, folder.committed_files(table))
    if "source" in data.column_names:
        names = [None if s is None else s.rstrip("/").rsplit("/", 1)[-1]
                 for s in data["source"].to_pylist()]
        data = data.set_column(data.column_names.index("source"), "source",
                               pa.array(names, pa.string()))
    return sorted((tuple(sorted(r.items())) for r in data.to_pylist()), key=repr)


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="module")
def s3_env(s3):
    old = {k: os.environ.get(k) for k in s3.env()}
    os.environ.update(s3.env())  # this process reads the store too
    yield s3.env()
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def inputs(s3, s3_env, demo):
    model = demo[0] / "model"
    return {"corpus": s3.upload(BUCKET, "corpus/sample-corpus.jsonl", SAMPLE_CORPUS),
            "qa": s3.upload(BUCKET, "qa/sample-qa.jsonl", SAMPLE_QA),
            "model": s3.upload(BUCKET, "models/sample", model),
            "local_model": str(model)}


@pytest.fixture(scope="module")
def local_run(demo):
    """The demo's output: the same corpus, QA file, model and settings as `run_args`."""
    return str(demo[0])


@pytest.fixture(scope="module")
def s3_run(inputs, s3_env, tmp_path_factory):
    out = f"s3://{BUCKET}/runs/out"
    cache = tmp_path_factory.mktemp("model-cache")
    result = run(*run_args(inputs["corpus"], inputs["qa"], inputs["model"], out),
                 env={**s3_env, "LONGTAIL_MODEL_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result, cache


def test_a_run_entirely_on_s3_equals_the_local_run(s3, s3_run, local_run):
    out, result, cache = s3_run
    assert "no longtail.duckdb is written there" in result.stderr
    for table in TABLES:
        assert rows(out, table) == rows(local_run, table), table
    assert Lineage(OutputFolder(out)).freshness("count").fresh
    # the model was copied once to local disk, complete
    copies = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(copies) == 1 and (copies[0] / ".complete.json").is_file()
    assert not [k for k in s3.keys(BUCKET, "runs/out/") if "/.tmp-" in k]


def test_query_docs_and_status_answer_on_s3_as_on_local(s3_run, local_run, s3_env):
    out = s3_run[0]
    sql = ("SELECT question_id, status, relevant_docs, q_uri, a_uri FROM relevant_docs "
           "ORDER BY question_id")
    remote = run("query", out, sql, "--output-format", "csv", env=s3_env)
    local = run("query", local_run, sql, "--output-format", "csv")
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout and remote.stdout.count("\n") == 67
    docs_remote = run("docs", out, "sample-qa:0", env=s3_env).stdout
    docs_local = run("docs", local_run, "sample-qa:0").stdout
    strip = re.compile(r"\S*sample-(corpus|qa)\.jsonl")
    head = [strip.sub("FILE", line) for line in docs_remote.splitlines()[:4]]
    assert head == [strip.sub("FILE", line) for line in docs_local.splitlines()[:4]]
    snippets = re.compile(r"│ (\d+)\s+│.*│ (\d+)\s+│ (.*\S)\s+│")
    assert snippets.findall(docs_remote) == snippets.findall(docs_local)
    assert "[Seine]" in docs_remote and len(snippets.findall(docs_remote)) == 10
    status = run("status", out, env=s3_env)
    assert status.returncode == 0 and "every stage is fresh" in status.stdout


def link_command(corpus: str, url: str, out: str) -> list[str]:
    return [*LONGTAIL, "link", "--corpus", corpus, "--spotlight", url, "--out", out,
            "--rows-per-shard", "10", "--master", "local[2]", "--max-in-flight", "2"]


def test_a_run_killed_mid_upload_leaves_nothing_visible_and_the_rerun_completes(
        s3, inputs, s3_env, tmp_path):
    """The driver, its JVM and its Python workers are killed while shards are being uploaded;
    whatever reached the store without its marker is never read, the rerun finishes the
    stage and deletes it, and the tables equal an uninterrupted run's."""
    out = f"s3://{BUCKET}/killed/out"
    env = {**os.environ, **s3_env}
    with SpotlightProcess(Faults(delay_seconds=0.05)) as spotlight:
        clean = str(tmp_path / "clean")
        done = subprocess.run(link_command(str(SAMPLE_CORPUS), spotlight.url, clean),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        proc = subprocess.Popen(link_command(inputs["corpus"], spotlight.url, out), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            markers = [k for k in s3.keys(BUCKET, "killed/out/_work/link/markers/")
                       if k.endswith(".done")]
            if len(markers) >= 4:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be killed"
        kill_process_tree(proc.pid)
        proc.wait(timeout=60)
        finished_before = len([k for k in s3.keys(BUCKET, "killed/out/_work/link/markers/")
                               if k.endswith(".done")])
        assert 4 <= finished_before < 32
        with pytest.raises(Exception, match="stopped before it finished"):
            Lineage(OutputFolder(out)).require(["docs"])
        rerun = subprocess.run(link_command(inputs["corpus"], spotlight.url, out), env=env,
                               capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"32 shards, {finished_before} already done" in rerun.stderr
    for table in ("docs", "mentions", "entity_uris", "failures"):
        assert rows(out, table) == rows(clean, table), table
    folder = OutputFolder(out)
    committed = {f.path for t in ("docs", "mentions", "entity_uris", "failures")
                 for f in folder.committed_files(t)}
    stored = {k.removeprefix("killed/out/") for k in s3.keys(BUCKET, "killed/out/")
              if k.endswith(".parquet")}
    assert stored == committed
    stats = folder.record("link").stats
    assert stats["documents_in"] == 314 == stats["linked"] + stats["empty"] + stats["failed"]
    assert folder.row_count("docs") + stats["failed"] == 314


def test_a_duplicated_task_is_committed_once(s3, s3_env, tmp_path):
    """Two attempts of one shard both write files and a marker (a speculative duplicate); the
    stage keeps the attempt it got back, and the other attempt's files are deleted."""
    out = OutputFolder(f"s3://{BUCKET}/duplicated/out")
    lines = ["first", "second", "third"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    def write(shard_id: str) -> dict:
        writer = ShardWriter(out, "link", shard_id)
        writer.write("docs", pa.table({
            "doc_id": [0, 1, 2], "source": [str(source)] * 3, "row": [0, 1, 2],
            "external_id": lines, "n_chars": [5, 6, 5], "n_mentions": [0, 0, 0],
            "status": ["linked"] * 3}, schema=DOCS))
        return writer.commit_marker({"documents_in": 3})

    def twice(item):
        kept = write(item[0])
        write(item[0])  # the duplicate finishes later and overwrites the marker
        return kept

    stage = ShardedStage(out, StageSpec("link", ["docs"], {}, {"corpus": [str(source)]}),
                         say=lambda m: None)
    stage.prepare(False)
    record = stage.run({"s0": None}, twice, local_executor)
    assert out.read_table("docs", out.committed_files("docs")).num_rows == 3
    assert record.shards["s0"]["commit"] == record.files["docs"][0].path.split(
        "-")[-1].removesuffix(".parquet")
    assert [k for k in s3.keys(BUCKET, "duplicated/out/docs/") if not k.endswith("/")] == [
        "duplicated/out/" + record.files["docs"][0].path]
    assert not [k for k in s3.keys(BUCKET, "duplicated/out/_work/") if not k.endswith("/")]


def test_wrong_credentials_a_missing_bucket_and_an_unreachable_endpoint(tmp_path):
    with S3Server(authenticated=True) as secured:
        secured.client().create_bucket(Bucket="secured")
        secured.upload("secured", "corpus/sample-corpus.jsonl", SAMPLE_CORPUS)
        wrong = {**secured.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret-9f3c"}
        unreachable = {**secured.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
        cases = [
            (["status", "s3://secured/out"], wrong),
            (["query", "s3://secured/out", "SELECT 1"], wrong),
            (["link", "--corpus", "s3://secured/corpus/sample-corpus.jsonl", "--model",
              str(tmp_path), "--out", str(tmp_path / "o")], wrong),
            (["link", "--corpus", str(SAMPLE_CORPUS), "--model", str(tmp_path), "--out",
              "s3://no-such-bucket/out"], secured.env()),
            (["query", "s3://secured/out", "SELECT 1"], unreachable),
            (["status", "s3://secured/out", "--s3-endpoint", "http://127.0.0.1:9"],
             secured.env()),
        ]
        for args, env in cases:
            result = run(*args, env=env, timeout=180)
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 2, (args, result.stderr[-2000:])
            assert len(lines) == 1 and lines[0].startswith("longtail"), (args, lines)
            assert "Traceback" not in result.stderr
            for secret in (secured.secret, "not-the-secret-9f3c"):
                assert secret not in result.stderr + result.stdout
        # the right key works
        ok = run("status", "s3://secured/out", env=secured.env())
        assert "output folder not found" in ok.stderr  # nothing there yet, but reachable


def test_a_model_in_object_storage_is_checked_before_any_work(s3, s3_env, tmp_path):
    s3.upload(BUCKET, "not-a-model/notes.txt", SAMPLE_QA)
    result = run("link", "--corpus", str(SAMPLE_CORPUS), "--model",
                 f"s3://{BUCKET}/not-a-model", "--out", str(tmp_path / "o"), env=s3_env)
    assert result.returncode == 2 and "not a statistical linker model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_endpoint_flag_stands_for_the_environment_variable(s3, s3_run):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}
    env.update({k: v for k, v in s3.env().items() if k != "AWS_ENDPOINT_URL"})
    result = subprocess.run([*LONGTAIL, "status", s3_run[0], "--s3-endpoint", s3.endpoint],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "every stage is fresh" in result.stdout
