"""The Spark build's plumbing that needs no JVM: the order check of the rows read back,
the scratch folder's name, Spark failures as one line, and the cluster-scratch rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vibemap.indexer.errors import BuildError
from vibemap.indexer.spark.collect import check_order, scratch_folder
from vibemap.indexer.spark.session import SparkSettings, first_line, spark_failures


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50)), min_size=2, max_size=40,
                unique=True))
def test_check_order_accepts_exactly_the_sorted_rows(pairs: list[tuple[int, int]]) -> None:
    vibes, rows = (np.array(column) for column in zip(*pairs, strict=True))
    if pairs == sorted(pairs):
        check_order(vibes, rows)
    else:
        with pytest.raises(BuildError, match="out of order"):
            check_order(vibes, rows)


def test_scratch_folder_is_new_and_inside_the_place_given(tmp_path: Path) -> None:
    beside = scratch_folder(None, tmp_path / "out")
    assert Path(beside).parent == tmp_path.resolve()
    assert Path(beside).name.startswith(".vibemap-spark-rows-")
    assert beside != scratch_folder(None, tmp_path / "out")
    assert scratch_folder("s3a://bucket/tmp/", tmp_path).startswith("s3a://bucket/tmp/.vibemap-")


class Py4JJavaError(Exception):
    """Stands in for py4j's error: spark_failures tells them apart by module."""


Py4JJavaError.__module__ = "py4j.protocol"


def test_spark_failures_are_one_line_and_vibemaps_own_errors_pass() -> None:
    java = Py4JJavaError("An error occurred while calling o97.parquet.\n"
                         ": java.lang.OutOfMemoryError: Java heap space\n\tat x.y(Z.java:1)")
    assert first_line(java) == "java.lang.OutOfMemoryError: Java heap space"
    with pytest.raises(BuildError, match="Java heap space.*spark.driver.memory") as caught:
        with spark_failures():
            raise java
    assert "\n" not in str(caught.value)
    with pytest.raises(BuildError, match="Connection refused"), spark_failures():
        raise ConnectionRefusedError("Connection refused")
    with pytest.raises(BuildError, match="mine"), spark_failures():
        raise BuildError("mine")
    with pytest.raises(KeyError), spark_failures():
        raise KeyError("not Spark's")


def test_a_cluster_master_needs_a_scratch_location() -> None:
    with pytest.raises(BuildError, match="--spark-scratch"):
        SparkSettings(master="spark://head:7077")
    assert SparkSettings(master="spark://head:7077", scratch="hdfs:///tmp").scratch
    assert SparkSettings(master="local[2]").scratch is None
