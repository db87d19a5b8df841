"""Reading and writing the declared tables with Spark."""

from __future__ import annotations

import os
import shutil
import uuid

from longtail.output import TMP_PREFIX, OutputFolder
from longtail.schemas.tables import TABLES
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StructType


def spark_schema(table: str) -> StructType:
    return from_arrow_schema(TABLES[table])


def read_table(spark: SparkSession, out: OutputFolder, table: str) -> DataFrame:
    """A declared table as a DataFrame; an absent table reads as empty with its schema."""
    if not out.has_table(table):
        return spark.createDataFrame([], spark_schema(table))
    return spark.read.schema(spark_schema(table)).parquet(str(out.table_dir(table)))


def conform(df: DataFrame, table: str) -> DataFrame:
    """Columns of `df` in the declared order and types of `table`."""
    schema = spark_schema(table)
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def write_table(
    df: DataFrame, out: OutputFolder, table: str, partitions: int | None = None
) -> None:
    """Replace OUT/<table>/ with `df`, written to a temporary folder and renamed into place."""
    df = conform(df, table)
    if partitions:
        df = df.coalesce(partitions)
    final = out.table_dir(table)
    tmp = final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{table}")
    df.write.mode("overwrite").option("compression", "zstd").parquet(str(tmp))
    for name in os.listdir(tmp):
        if not name.endswith(".parquet"):
            os.remove(tmp / name)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
