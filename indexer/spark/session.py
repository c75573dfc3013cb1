"""The Spark session of a build: what it needs installed, and how it is configured."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vibemap.indexer.errors import BuildError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

INSTALL_HINT = "install it with: pip install 'vibemap[spark]' (pyspark) and Java 17+"
KMEANS_MODES = ("sample", "mllib")
# rows collected to the driver for the sample fit: the sample's centroids are within
# ~scale/sqrt(rows per vibe) of the full data's (bench/RESULTS.md, "Spark engine")
DEFAULT_FIT_SAMPLE = 500_000


@dataclass(frozen=True)
class SparkSettings:
    """How the Spark build runs: master URL, pass-through settings, K-Means mode."""

    master: str = "local[*]"
    conf: Mapping[str, str] = field(default_factory=dict)
    kmeans: str = "sample"
    fit_sample: int = DEFAULT_FIT_SAMPLE
    # where the executors write the sorted rows for the driver (collect.py); None: beside
    # the artifact, which only a local master's executors reach
    scratch: str | None = None

    def __post_init__(self) -> None:
        if self.kmeans not in KMEANS_MODES:
            raise BuildError(f"Spark K-Means mode must be one of {', '.join(KMEANS_MODES)}, "
                             f"got {self.kmeans!r}")
        if self.scratch is None and not self.master.startswith("local"):
            raise BuildError(f"--spark-master {self.master}: a cluster's executors cannot "
                             "write beside the artifact on this machine; give --spark-scratch "
                             "URI, a location they and this machine both reach "
                             "(hdfs://..., s3a://..., a shared mount)")
        if self.fit_sample < 1:
            raise BuildError(f"the Spark K-Means fit sample must be >= 1 rows, "
                             f"got {self.fit_sample}")


def parse_conf(pairs: list[str] | None) -> dict[str, str]:
    """``--spark-conf KEY=VALUE`` flags as a dict; a malformed one is a BuildError."""
    conf: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BuildError(f"--spark-conf takes KEY=VALUE, got {pair!r}")
        conf[key.strip()] = value
    return conf


def check_requirements() -> None:
    """Raise BuildError (one line, saying what to install) when pyspark or java is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise BuildError(f"--engine spark needs pyspark, which is not installed: "
                         f"{INSTALL_HINT}") from None
    if shutil.which("java") is None and not _java_home_java():
        raise BuildError(f"--engine spark needs Java (17 or later), and no `java` was found "
                         f"on PATH or in JAVA_HOME: {INSTALL_HINT}")


def _java_home_java() -> bool:
    import os
    from pathlib import Path

    home = os.environ.get("JAVA_HOME")
    return bool(home) and (Path(home) / "bin" / "java").is_file()


def session_conf(settings: SparkSettings) -> dict[str, str]:
    """The session's settings: vibemap's defaults, then the user's, which win."""
    return {
        "spark.app.name": "vibemap-index",
        # Python workers (the sampled fits never need them; a user's UDF setting might)
        # run the driver's interpreter, where vibemap and its dependencies are installed
        "spark.pyspark.python": sys.executable,
        "spark.ui.showConsoleProgress": "false",
        # Arrow moves columns between the JVM and pandas without per-row objects
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # the driver collects every cleaned row to assemble the artifact (module docstring
        # of build.py): Spark's default cap of 1 GiB on collected results stops a 10M-row
        # build after clustering; the driver's memory is the real limit
        "spark.driver.maxResultSize": "0",
        # the cleaning's casts count bad values instead of failing the job (ANSI mode
        # would raise on the first unparseable number)
        "spark.sql.ansi.enabled": "false",
        # a JVM out of heap exits (the build then fails with a clear error) rather than
        # hang with a dead task-result thread, as a 10M collect once did
        "spark.driver.extraJavaOptions": "-XX:+ExitOnOutOfMemoryError",
        "spark.executor.extraJavaOptions": "-XX:+ExitOnOutOfMemoryError",
        **dict(settings.conf),
    }


@contextmanager
def spark_session(settings: SparkSettings) -> Iterator[SparkSession]:
    """A session for one build, stopped afterwards (unless it was already running: tests
    share one session, and getOrCreate hands it back)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    builder = SparkSession.builder.master(settings.master)
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if active is None:
        spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        if active is None:
            try:
                spark.stop()
            except Exception as exc:  # the JVM already gone (spark_failures says why)
                logger.warning("stopping Spark: %s", first_line(exc))


def first_line(exc: BaseException) -> str:
    """The line of a Spark error that says what went wrong (py4j's first line only names
    the Java call, "An error occurred while calling o123.parquet.")."""
    lines = [line.strip(" :\t") for line in str(exc).splitlines() if line.strip(" :\t")]
    told = [line for line in lines if not line.startswith("An error occurred while calling")]
    return (told or lines or [type(exc).__name__])[0][:300]


def _from_spark(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("py4j", "pyspark")) or isinstance(exc, ConnectionError)


@contextmanager
def spark_failures() -> Iterator[None]:
    """A failure inside Spark (a task, the JVM out of memory and gone, a lost connection)
    as one BuildError line instead of a Java stack trace; vibemap's own errors pass."""
    try:
        yield
    except Exception as exc:
        if not _from_spark(exc):
            raise
        raise BuildError(f"the Spark job failed ({first_line(exc)}); if the driver or an "
                         "executor ran out of memory, raise spark.driver.memory / "
                         "spark.executor.memory with --spark-conf") from None
