"""Reading committed tables into Spark and writing Spark results as commits, through the
storage layer inside tasks.

Spark's own Parquet reader and writer go through Hadoop's filesystems (`s3a://` needs
hadoop-aws), and its writer commits by renaming. Here tasks read and write the files with
pyarrow through `longtail.output.storage`, so any filesystem the storage layer reaches works on any
Spark, and a file becomes part of a table only when the driver commits it (a task attempt that
is killed, or a speculative duplicate, writes files no marker names).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark import TaskContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StructType

from longtail.output.checksums import HashingWriter
from longtail.output.folder import FileEntry, OutputFolder
from longtail.output.runner import ShardWriter
from longtail.schemas import ALL_TABLES

READ_BATCH_ROWS = 65_536


def spark_schema(table: str) -> StructType:
    return from_arrow_schema(ALL_TABLES[table])


def read_files(spark: SparkSession, out: OutputFolder, table: str,
               files: list[FileEntry]) -> DataFrame:
    """The rows of the given committed files of `table`, one task per file."""
    schema = ALL_TABLES[table]
    if not files:
        return spark.createDataFrame([], spark_schema(table))
    storage = out.storage
    paths = spark.sparkContext.parallelize([(f.path,) for f in files], len(files))

    def read(batches):
        for batch in batches:
            for path in batch.column("path").to_pylist():
                with storage.open_input(path) as handle:
                    for part in pq.ParquetFile(handle).iter_batches(READ_BATCH_ROWS):
                        yield from pa.Table.from_batches([part]).cast(schema).to_batches()

    return spark.createDataFrame(paths, "path string").mapInArrow(read, spark_schema(table))


def conform(df: DataFrame, table: str) -> DataFrame:
    """Columns of `df` in the declared order and types of `table`."""
    schema = spark_schema(table)
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def write_commit(df: DataFrame, writer: ShardWriter, table: str,
                 row_group_rows: int | None = None) -> list[FileEntry]:
    """Write `df` as files of `table`, one per non-empty partition, named for `writer`'s commit
    (plus partition and attempt); returns them, added to the writer. Nothing is visible until
    the writer's marker is written."""
    schema = ALL_TABLES[table]
    out = writer.out
    folder = writer.table_dir(table)
    stem = writer.file_name().removesuffix(".parquet")

    def write(batches):
        context = TaskContext.get()
        path = f"{folder}/{stem}-p{context.partitionId():05d}-a{context.attemptNumber()}.parquet"
        parquet = stream = None
        rows = 0
        try:
            for batch in batches:
                if not batch.num_rows:
                    continue
                if parquet is None:
                    stream = HashingWriter(out.storage.open_output(path))
                    parquet = pq.ParquetWriter(pa.PythonFile(stream, mode="w"), schema,
                                               compression="zstd", write_page_checksum=True)
                parquet.write_table(pa.Table.from_batches([batch]).cast(schema),
                                    row_group_size=row_group_rows)
                rows += batch.num_rows
        finally:
            if parquet is not None:
                parquet.close()
                stream.close()
        if rows:
            stat = out.storage.stat(path)
            yield pa.RecordBatch.from_pydict(
                {"path": [path], "rows": [rows], "bytes": [stream.size],
                 "sha256": [stream.sha256], "tail": [stream.tail],
                 "mtime_ns": [stat.mtime_ns if stat else None]})

    result = conform(df, table).mapInArrow(
        write, "path string, rows long, bytes long, sha256 string, tail string, mtime_ns long")
    entries = [FileEntry(table, r["path"], r["rows"], r["bytes"], r["sha256"], r["tail"],
                         r["mtime_ns"])
               for r in result.collect()]
    writer.add(entries)
    return entries
