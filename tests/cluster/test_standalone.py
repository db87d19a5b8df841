"""`jobs/submit.py run` on a real standalone cluster (a master and two one-core workers on
127.0.0.1), with longtail shipped to the executors as the README says: the archive from
`longtail pack` through `--archives ...#environment` and `PYSPARK_PYTHON=./environment/bin/python`.

The executors' environment has no pyspark and no editable install: they can only run what the
archive holds. The cluster's tables must equal those of the same job run by the same
spark-submit line in local mode, over the same sample and the same Spotlight server. The
archive is also unpacked elsewhere and checked on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from longtail.output.folder import OutputFolder
from longtail.packaging import wheel_requirements
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA, SAMPLE_QA_DESIGN
from longtail.schemas.tables import STATUS_COUNTED, TABLES
from tests.cluster.conftest import require_java
from tests.cluster.standalone import (
    StandaloneCluster,
    log_tail,
    requires_dist_text,
    run_in_group,
    spark_env,
    spark_home,
)
from tests.servers.fake_spotlight import (
    DICTIONARY,
    RESOURCE,
    DictionaryAnnotator,
    Entity,
    FakeSpotlight,
)
from tests.servers.object_store import S3Server

pytestmark = [pytest.mark.cluster, pytest.mark.slow]



PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_JOB = PROJECT_ROOT / "jobs" / "submit.py"
# Small shards, so that both executors get several tasks of each sharded stage.
ROWS_PER_SHARD = 40
QA_ROWS_PER_SHARD = 12
JOB_TIMEOUT = 600.0
# Timing and where things were written differ between two runs by nature.
RUN_SPECIFIC = {"seconds", "inputs", "run_id", "finished", "upstream"}
BUCKET = "cluster-out"


def sample_dictionary() -> dict[str, Entity]:
    """The test server's names plus every entity the sample QA pairs were designed around
    (surface form: the title without its parenthesis), so that questions get counts."""
    names = dict(DICTIONARY)
    for line in SAMPLE_QA_DESIGN.read_text(encoding="utf-8").splitlines():
        design = json.loads(line)
        for title in design["question_entities"] + design["answer_entities"]:
            surface = title.split(" (")[0]
            names.setdefault(surface, Entity(RESOURCE + title.replace(" ", "_"), 1000, ""))
    return names


@pytest.fixture(scope="module")
def spotlight():
    with FakeSpotlight(annotator=DictionaryAnnotator(sample_dictionary())) as server:
        yield server


def run_arguments(spotlight_url: str, out: Path) -> list[str]:
    return ["--corpus", str(SAMPLE_CORPUS), "--qa", str(SAMPLE_QA), "--qa-format", "nq-open",
            "--spotlight", spotlight_url, "--rows-per-shard", str(ROWS_PER_SHARD),
            "--qa-rows-per-shard", str(QA_ROWS_PER_SHARD), "--out", str(out)]


def table_rows(out: Path | str, table: str) -> list[str]:
    """Every committed row of a table as canonical JSON, sorted: equal lists mean equal
    contents, whatever the part files are called or how rows are spread over them."""
    folder = OutputFolder(str(out))
    rows = folder.read_table(table, folder.committed_files(table)).to_pylist()
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in rows)


def manifest_facts(out: Path | str) -> dict:
    manifest = OutputFolder(str(out)).manifest()
    return {
        "tables": manifest["tables"],
        "stages": {name: {k: ({s: n for s, n in v.items() if not s.endswith("seconds")}
                              if k == "stats" else v)
                          for k, v in record.items() if k not in RUN_SPECIFIC}
                   for name, record in manifest["stages"].items()},
    }


@pytest.fixture(scope="module")
def object_store():
    """The cluster writes its output to a real S3-compatible server; the master, workers,
    driver and executors all get its endpoint and credentials from their environment."""
    with S3Server() as server:
        server.client().create_bucket(Bucket=BUCKET)
        saved = {k: os.environ.get(k) for k in server.env()}
        os.environ.update(server.env())
        yield server
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def spark_submit(master: str, *options: str) -> list[str]:
    """The same spark-submit line for both runs but for the master and how code is shipped."""
    return [str(spark_home() / "bin" / "spark-submit"), "--master", master, *options,
            "--driver-memory", "1g", "--conf", "spark.executor.memory=512m",
            "--conf", "spark.sql.shuffle.partitions=4", "--conf", "spark.ui.enabled=false",
            "--conf", "spark.driver.host=127.0.0.1", str(RUN_JOB), "run"]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, spotlight, packing) -> Path:
    """The reference: the same job in local mode, run while the archive is being packed."""
    require_java()
    folder = tmp_path_factory.mktemp("local")
    log = folder / "run.log"
    code = run_in_group(
        [*spark_submit("local[2]"), *run_arguments(spotlight.url, folder / "out")],
        env=spark_env({"PYSPARK_PYTHON": sys.executable}), cwd=folder, log=log,
        timeout=JOB_TIMEOUT)
    assert code == 0, f"local run failed ({code}):\n{log_tail(log)}"
    return folder / "out"


def test_run_on_standalone_cluster_equals_local_run(tmp_path, spotlight, packing, local_run,
                                                    object_store):
    report = packing.result()
    out = f"s3://{BUCKET}/run/out"
    log = tmp_path / "submit.log"
    cluster = StandaloneCluster(tmp_path / "cluster", workers=2, cores=1, memory="1g")
    with cluster:
        command = [*spark_submit(cluster.master_url, "--archives", f"{report.archive}#environment"),
                   *run_arguments(spotlight.url, out)]
        # The driver runs here with this interpreter; executors with the archive's.
        env = spark_env({"PYSPARK_DRIVER_PYTHON": sys.executable,
                         "PYSPARK_PYTHON": "./environment/bin/python"})
        code = run_in_group(command, env=env, cwd=tmp_path, log=log, timeout=JOB_TIMEOUT)
        state = cluster.state()
        assert code == 0, f"spark-submit failed ({code}):\n{log_tail(log)}\n{cluster.logs()}"
    assert cluster.alive_pids() == [], "cluster processes outlived stop()"

    apps = state["completedapps"]
    assert [(a["name"], a["state"], a["cores"]) for a in apps] == [("longtail run", "FINISHED", 2)]
    for i in range(cluster.workers):  # each worker ran an executor from the unpacked archive
        unpacked = list(cluster.worker_dir(i).glob("app-*/*/environment/bin/python"))
        assert unpacked, f"worker {i} has no unpacked environment"

    assert manifest_facts(out) == manifest_facts(local_run)
    for table in TABLES:
        assert table_rows(out, table) == table_rows(local_run, table), table
    relevant = [json.loads(r) for r in table_rows(out, "relevant_docs")]
    assert sum(r["status"] == STATUS_COUNTED for r in relevant) > 0, "nothing was counted"


def test_the_archive_holds_a_working_environment_without_pyspark(packing, tmp_path):
    report = packing.result()
    assert report.archive.is_file() and report.archive_bytes == report.archive.stat().st_size
    assert report.requirements == wheel_requirements(requires_dist_text(), [])
    with tarfile.open(report.archive) as archive:
        names = archive.getnames()
        site = next(n for n in names if n.endswith("/site-packages/longtail/__init__.py"))
        site = site.removesuffix("longtail/__init__.py")
        assert archive.getmember("bin/python").issym()
        assert f"{site}longtail/jobs/submit.py" in names
        assert f"{site}longtail/schemas/tables.py" in names
        assert f"{site}longtail/sample/corpus/sample-corpus.jsonl" in names
        for other in ("pipeline", "jobs", "schemas"):
            assert not [n for n in names if n.startswith(f"{site}{other}/")], other
        assert not [n for n in names if n.startswith(f"{site}pyspark/")]
        assert not [n for n in names if "__editable__" in n]
        archive.extractall(tmp_path / "environment", filter="tar")
    # Unpacked somewhere else, as on an executor: it imports its own copy of longtail.
    python = tmp_path / "environment" / "bin" / "python"
    found = subprocess.run(
        [str(python), "-c", "import pandas, pyarrow, longtail.linking.shard, "
                            "longtail.schemas.tables; print(longtail.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, check=False)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(tmp_path / "environment")
