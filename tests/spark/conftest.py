"""One local[2] Spark session for every Spark test of the run."""

from __future__ import annotations

import shutil

import pytest

if shutil.which("java") is None:
    pytest.skip("Spark tests need Java 17 on PATH", allow_module_level=True)


@pytest.fixture(scope="session")
def spark():
    from longtail.jobs.session import spark_session

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


@pytest.fixture(scope="session")
def sample_model(spark, tmp_path_factory) -> str:
    """The bundled sample's model, built from its Wikipedia XML as the demo builds it."""
    from longtail.jobs.build_model import build_model
    from longtail.jobs.demo import DEMO_BUILD
    from longtail.sample import SAMPLE_WIKI

    model = tmp_path_factory.mktemp("model") / "sample-model"
    build_model(spark, [str(SAMPLE_WIKI)], str(model), DEMO_BUILD)
    return str(model)
