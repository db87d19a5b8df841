"""One local[2] Spark session for every Spark test of the run."""

from __future__ import annotations

import shutil

import pytest

if shutil.which("java") is None:
    pytest.skip("Spark tests need Java 17 on PATH", allow_module_level=True)


@pytest.fixture(scope="session")
def spark():
    from jobs.session import spark_session

    session = spark_session(
        "longtail tests",
        "local[2]",
        **{
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "4",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": "2g",
        },
    )
    yield session
    session.stop()
