"""The one place a Spark session is opened, for job scripts and the `longtail` CLI alike."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from longtail.output.remote import ENDPOINT_VARIABLES


def spark_session(app_name: str, master: str | None = None, **conf: str) -> SparkSession:
    """A session for `app_name`; `master` None keeps spark-submit's choice (local[*] otherwise).

    Executors use the driver's Python unless PYSPARK_PYTHON says otherwise.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if (master or "local").startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif "SPARK_HOME" not in os.environ and not os.environ.get("PYSPARK_SUBMIT_ARGS"):
        builder = builder.master("local[*]")
    log_config = Path(__file__).with_name("log4j2.properties").as_uri()
    defaults = {
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={log_config}",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # longtail draws its own one-line progress (longtail.jobs.executor), which the stage
        # summaries clear; Spark's bars would interleave with them
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
    }
    # executors reach the same object store and hub (their endpoints, never a secret)
    for variable in (*ENDPOINT_VARIABLES, "LONGTAIL_MODEL_CACHE", "HF_ENDPOINT"):
        if os.environ.get(variable):
            defaults[f"spark.executorEnv.{variable}"] = os.environ[variable]
    if verbose():
        defaults.pop("spark.driver.extraJavaOptions")
    for key, value in {**defaults, **conf}.items():
        builder = builder.config(key, value)
    quiet_submitted_driver()
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("INFO" if verbose() else "WARN")
    return session


QUIET_LOGGERS = ("org.apache.spark.executor.Executor",
                 "org.apache.spark.scheduler.TaskSetManager")


def verbose() -> bool:
    """`--verbose`: Spark's own INFO logging back on the console."""
    return os.environ.get("LONGTAIL_VERBOSE") == "1"


def quiet_submitted_driver() -> None:
    """Under spark-submit the driver's JVM is already running, with Spark's default INFO
    logging: turn it down to warnings before the session starts (the dozens of INFO lines a
    SparkContext logs while it starts), unless `--verbose`."""
    if verbose() or not os.environ.get("PYSPARK_GATEWAY_PORT"):
        return
    from pyspark import SparkContext

    SparkContext._ensure_initialized()
    jvm = SparkContext._jvm
    configurator = jvm.org.apache.logging.log4j.core.config.Configurator
    levels = jvm.org.apache.logging.log4j.Level
    configurator.setRootLevel(levels.WARN)
    for name in QUIET_LOGGERS:  # as jobs/log4j2.properties says for local runs
        configurator.setLevel(name, levels.OFF)


class LazySession:
    """A SparkSession started on first use, so wrong usage and finished work cost no JVM."""

    def __init__(self, app_name: str, master: str | None = None, **conf: str):
        self._args = (app_name, master)
        self._conf = conf
        self._session: SparkSession | None = None

    def __getattr__(self, name: str):
        if self._session is None:
            self._session = spark_session(*self._args, **self._conf)
        return getattr(self._session, name)
