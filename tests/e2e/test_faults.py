"""Faults in the middle of a run, through the real command: a disk that fills up inside a
Spark task, an object store that stops answering. One line, a non-zero exit, no traceback,
nothing half-written left visible, and the committed stages as they were."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from longtail.linking.statistical import import_wikistats
from longtail.sample import SAMPLE_CORPUS
from tests.e2e.conftest import LONGTAIL
from tests.servers.object_store import S3Server

pytestmark = [pytest.mark.spark, pytest.mark.slow]
DBR = "http://dbpedia.org/resource/"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    stats = tmp_path_factory.mktemp("wikistats")
    (stats / "sfAndTotalCounts").write_text("Paris\t10\t20\nFrance\t10\t20\n", encoding="utf-8")
    (stats / "pairCounts").write_text(f"Paris\t{DBR}Paris\t10\nFrance\t{DBR}France\t10\n",
                                      encoding="utf-8")
    (stats / "uriCounts").write_text(f"{DBR}Paris\t50\n{DBR}France\t50\n", encoding="utf-8")
    model = tmp_path_factory.mktemp("model") / "model"
    import_wikistats(stats, model)
    return model


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("longtail: error:")]
    assert result.returncode != 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(errors) == 1, lines
    return errors[0]


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB file system (tmpfs): room for the folder's lock and plan, not for the
    tables of the sample corpus."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here ({done.stderr.strip()}): the "
                    "full-disk case needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_disk_that_fills_up_inside_a_task_is_one_line(model, small_disk, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(SAMPLE_CORPUS.read_text(encoding="utf-8") * 200, encoding="utf-8")
    out = small_disk / "out"
    result = subprocess.run([*LONGTAIL, "link", "--corpus", str(corpus), "--model", str(model),
                             "--rows-per-shard", "2000", "--out", str(out)],
                            capture_output=True, text=True, timeout=900)
    line = one_line(result)
    assert "no space left on device" in line and "run the same command again" in line
    assert not (out / "_stages").exists()  # nothing committed: no table file is visible
    assert not [p for p in out.glob("*/*.parquet")], list(out.glob("*/*.parquet"))
    assert not list(small_disk.rglob("*.wal")) and not list(small_disk.rglob(".tmp-*"))


def test_an_object_store_that_stops_answering_is_one_line(model, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(SAMPLE_CORPUS.read_text(encoding="utf-8") * 20, encoding="utf-8")
    server = S3Server()
    try:
        server.client().create_bucket(Bucket="runs")
        env = {**os.environ, **server.env()}
        proc = subprocess.Popen(
            [*LONGTAIL, "link", "--corpus", str(corpus), "--model", str(model),
             "--rows-per-shard", "100", "--out", "s3://runs/out"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            keys = server.keys("runs", "out/_work/link/markers/")
            if len([k for k in keys if k.endswith(".done")]) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before the store could be stopped"
        server.stop()
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        server.stop()
    line = one_line(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    assert "run the same command again" in line, line
