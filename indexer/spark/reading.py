"""Read a catalogue into a Spark DataFrame: a CSV or Parquet file, a directory or glob of
them, or any URI Spark reads (s3a://, gs://, abfss://, hdfs://).

Local inputs go through the local reader's checks first (the same one-line messages for
an empty file, HTML, JSON, a binary file, mixed formats), and their source entry in the
manifest is the local build's (names, sizes, sha256). Every row gets ``__row``, its
position in the input as the local build numbers it (files in name order, rows in file
order), so that "the first of duplicates" and the order within a vibe are the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from vibemap.indexer.catalogue import KNOWN_COLUMNS
from vibemap.indexer.errors import CatalogueError
from vibemap.indexer.features import FEATURES
from vibemap.indexer.files import sha256_file
from vibemap.indexer.readers import check_unique_columns, file_head, file_kind, files_of, sniff_csv
from vibemap.indexer.spark.session import first_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ROW = "__row"
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")


@dataclass(frozen=True)
class SparkInput:
    """The input rows (every column as read, plus ``__row``), what was read, for the
    manifest, and the input's column names in order."""

    frame: DataFrame
    source: dict
    columns: list[str]


def _is_uri(spec: str) -> bool:
    return "://" in spec and not spec.startswith("file://")


def _local_plan(spec: str) -> tuple[list[Path], str, dict, dict]:
    """Files, format, Spark reader options and the manifest's source entry of a local
    input, checked as the local build checks it."""
    files, where = files_of(spec)
    kinds, options = set(), {}
    for path in files:
        kind = file_kind(path, file_head(path))
        kinds.add("parquet" if kind == "parquet" else "csv")
        if len(kinds) > 1:
            raise CatalogueError(f"{path}: mixes csv and parquet files; point at files of "
                                 "one kind")
        if kind != "parquet" and not options:
            encoding, delimiter = sniff_csv(path, "gzip" if kind == "gzip" else None)
            options = {"encoding": encoding.replace("-sig", ""), "sep": delimiter}
        elif kind != "parquet" and not file_head(path).strip():
            raise CatalogueError(f"{path}: the file is empty")
    fmt = kinds.pop()
    if not where:
        path = files[0]
        source = {"file": path.name, "kind": fmt, "synthetic": False,
                  "sha256": sha256_file(path), "bytes": path.stat().st_size}
        return files, fmt, options, source
    digest, listed = hashlib.sha256(), []
    for path in files:
        rel = path.relative_to(where["root"]).as_posix() if path.is_relative_to(
            where["root"]) else path.name
        sha = sha256_file(path)
        digest.update(f"{rel}\0{sha}\n".encode())
        listed.append({"name": rel, "sha256": sha, "bytes": path.stat().st_size})
    label = where.get("directory") or where.get("pattern")
    source = {"file": label, "kind": f"{fmt}-files", "synthetic": False,
              ("directory" if "directory" in where else "pattern"): label,
              "sha256": digest.hexdigest(), "bytes": sum(f["bytes"] for f in listed),
              "n_files": len(listed), "files": listed[:1000]}
    return files, fmt, options, source


def _remote_plan(spec: str) -> tuple[list[str], str, dict, dict]:
    """A URI is read as Spark finds it: Parquet unless its name says CSV. Its files are
    not hashed (that would read them twice over the network): the manifest says so."""
    name = spec.rstrip("/").rsplit("/", 1)[-1] or spec
    lowered = name.lower().removesuffix(".gz")
    fmt = "csv" if lowered.endswith((".csv", ".tsv")) else "parquet"
    options = {"sep": "\t"} if lowered.endswith(".tsv") else {}
    source = {"file": name, "kind": fmt, "synthetic": False, "uri": spec,
              "sha256": None, "note": "remote input: files not hashed"}
    return [spec], fmt, options, source


def _with_row_numbers(spark: SparkSession, frame: DataFrame, files: list[str]) -> DataFrame:
    """Add ``__row``: files in the given order, rows in file order. Spark reads a file's
    splits as partitions in offset order, so (file, partition, position) numbers the rows
    as one sequential read would; the offsets of each (file, partition) come from one
    count per partition."""
    from pyspark.sql import functions as F

    # kept, so that the input is read once: every later pass runs on this copy
    frame = (frame.withColumn("__file", F.input_file_name())
             .withColumn("__part", F.spark_partition_id())
             .withColumn("__mid", F.monotonically_increasing_id())).persist()
    counts = (frame.groupBy("__file", "__part")
              .agg(F.count(F.lit(1)).alias("n"), F.min("__mid").alias("first"))
              .collect())
    rank = {name: i for i, name in enumerate(files)}

    def file_rank(uri: str) -> tuple[int, str]:
        path = unquote(uri.removeprefix("file://").removeprefix("file:"))
        return rank.get(path, rank.get(uri, len(rank))), uri

    base, rows = 0, []
    for r in sorted(counts, key=lambda r: (file_rank(r["__file"]), r["first"])):
        rows.append((r["__file"], r["__part"], base - r["first"]))
        base += r["n"]
    offsets = spark.createDataFrame(rows, "__file string, __part int, __shift long")
    return (frame.join(F.broadcast(offsets), ["__file", "__part"])
            .withColumn(ROW, F.col("__mid") + F.col("__shift"))
            .drop("__file", "__part", "__mid", "__shift"))


def _typed_columns(frame: DataFrame) -> DataFrame:
    """Parquet columns as the local reader types them: features that are numbers stay
    numbers, everything else becomes text (lists joined with ", "), nulls as ""."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    out = []
    for field in frame.schema.fields:
        name, kind = field.name, field.dataType
        numeric = isinstance(kind, T.NumericType)
        if numeric and name.strip().lower() in FEATURES:
            out.append(F.col(f"`{name}`").cast("double").alias(name))
            continue
        col = F.col(f"`{name}`")
        if isinstance(kind, T.ArrayType):
            col = F.array_join(col.cast("array<string>"), ", ")
        out.append(F.coalesce(col.cast("string"), F.lit("")).alias(name))
    return frame.select(out)


def read_spark_input(spark: SparkSession, spec: str) -> SparkInput:
    """The input named by ``spec`` as a DataFrame with ``__row``; CatalogueError (one line,
    naming the input) when it cannot be read."""
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    if _is_uri(spec):
        files, fmt, options, source = _remote_plan(spec)
    else:
        local, fmt, options, source = _local_plan(spec.removeprefix("file://"))
        files = [str(p.resolve()) for p in local]
    try:
        if fmt == "parquet":
            frame = spark.read.parquet(*files)
            check_unique_columns(source["file"], frame.columns)
            frame = _typed_columns(frame.select(
                [f"`{c}`" for c in frame.columns if c.strip().lower() in KNOWN_COLUMNS]))
        else:
            reader = (spark.read.option("header", True).option("inferSchema", False)
                      .option("multiLine", True).option("escape", '"')
                      .option("mode", "PERMISSIVE"))
            for key, value in options.items():
                reader = reader.option(key, value)
            frame = reader.csv(files)
            check_unique_columns(source["file"], frame.columns)
            frame = frame.select([F.coalesce(F.col(f"`{c}`"), F.lit("")).alias(c)
                                  for c in frame.columns])
        columns = list(frame.columns)
        frame = _with_row_numbers(spark, frame, files)
        parallel = spark.sparkContext.defaultParallelism
        if frame.rdd.getNumPartitions() < parallel:  # one big CSV is one task otherwise
            frame = frame.repartition(parallel)
    except PySparkException as exc:
        raise CatalogueError(f"{spec}: not a readable {fmt} input ({first_line(exc)})"
                             ) from None
    except Exception as exc:  # py4j errors from the JVM (a corrupt file, no such bucket)
        if type(exc).__module__.startswith("py4j"):
            raise CatalogueError(f"{spec}: not a readable {fmt} input ({first_line(exc)})"
                                 ) from None
        raise
    return SparkInput(frame, source, columns)
