"""`longtail link` killed with SIGKILL and run again ends with an uninterrupted run's tables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from longtail.analysis.tables import read_table
from longtail.output.folder import OutputFolder
from longtail.sample import SAMPLE_CORPUS
from tests.processes import kill_process_tree
from tests.servers.fake_spotlight import Faults, SpotlightProcess

pytestmark = pytest.mark.slow

if shutil.which("java") is None:
    pytest.skip("linking runs on Spark, which needs Java 17", allow_module_level=True)

ROWS_PER_SHARD = "10"  # 32 shards of the 314-line sample


def link_command(url: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "longtail.jobs.cli", "link", "--corpus", str(SAMPLE_CORPUS),
            "--spotlight", url, "--out", str(out), "--rows-per-shard", ROWS_PER_SHARD,
            "--master", "local[2]", "--max-in-flight", "2"]


def table_rows(out: Path, table: str) -> list[tuple]:
    data = read_table(OutputFolder(str(out)), table).to_pylist()
    return sorted(tuple(sorted(row.items())) for row in data)


@pytest.fixture(scope="module")
def spotlight():
    # Every request takes 0.05 s so that a kill lands in the middle of linking.
    with SpotlightProcess(Faults(delay_seconds=0.05)) as server:
        yield server.url


@pytest.fixture(scope="module")
def clean(spotlight, tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "clean"
    subprocess.run(link_command(spotlight, out), check=True, capture_output=True, timeout=600)
    return out


def test_sigkill_in_the_middle_then_rerun_equals_an_uninterrupted_run(spotlight, clean, tmp_path):
    killed = tmp_path / "killed"
    markers = killed / "_work" / "link" / "markers"
    proc = subprocess.Popen(link_command(spotlight, killed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        done = len(list(markers.glob("*.done"))) if markers.is_dir() else 0
        if done >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    kill_process_tree(proc.pid)  # the driver, its JVM and every Python worker
    proc.wait(timeout=60)
    finished_before = {p.name for p in markers.glob("*.done")}
    assert 4 <= len(finished_before) < 32

    rerun = subprocess.run(link_command(spotlight, killed), capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"32 shards, {len(finished_before)} already done" in rerun.stderr
    for table in ("docs", "mentions", "entity_uris", "failures"):
        assert table_rows(killed, table) == table_rows(clean, table), table
        assert not list((killed / table).glob(".tmp-*")), table
    stats = json.loads((killed / "manifest.json").read_text())["stages"]["link"]["stats"]
    assert stats["shards_skipped"] == len(finished_before)
    assert stats["documents_in"] == 314 == stats["linked"] + stats["empty"] + stats["failed"]


def test_rerun_of_a_finished_stage_skips_everything_and_overwrite_redoes_it(
    spotlight, clean, tmp_path
):
    out = tmp_path / "out"
    shutil.copytree(clean, out)
    before = table_rows(out, "mentions")
    again = subprocess.run(link_command(spotlight, out), capture_output=True, text=True,
                           timeout=600)
    assert "32 shards, 32 already done, 0 to do" in again.stderr
    redo = subprocess.run([*link_command(spotlight, out), "--overwrite"], capture_output=True,
                          text=True, timeout=600)
    assert redo.returncode == 0 and "0 already done, 32 to do" in redo.stderr
    assert table_rows(out, "mentions") == before


def test_resuming_with_other_parameters_is_refused(spotlight, clean):
    changed = [*link_command(spotlight, clean), "--confidence", "0.9"]
    result = subprocess.run(changed, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert "other confidence" in result.stderr and "--overwrite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
