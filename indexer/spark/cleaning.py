"""The local build's cleaning (vibemap.indexer.catalogue), distributed: the same column
aliases, drop reasons in the same order, "first" meaning the earliest input row, and the
same CleaningReport. Only rows are dropped; no value is edited."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vibemap.indexer.catalogue import (
    DROP_REASONS,
    OPTIONAL_NUMERIC,
    REASON_TEXT,
    CleaningReport,
    alias_notes,
    resolve_columns,
)
from vibemap.indexer.degenerate import near_constant_from_moments
from vibemap.indexer.errors import CatalogueError
from vibemap.indexer.features import FEATURES, VALID_RANGES
from vibemap.indexer.readers import DECIMAL_COMMA
from vibemap.indexer.spark.reading import ROW, SparkInput

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

logger = logging.getLogger(__name__)

# what Arrow's / pandas' float parsers accept (Java's also takes "1d" or hex: refused here)
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
RAW_PREFIX = "__raw"  # input columns, kept for the labelled CSV export


@dataclass(frozen=True)
class SparkCatalogue:
    """The kept rows (canonical columns as in Catalogue.tracks, plus the input columns as
    ``__raw<i>``), the cleaning report, and the input column of each ``__raw<i>``."""

    tracks: DataFrame
    report: CleaningReport
    raw_columns: list[str]
    moments: tuple[np.ndarray, np.ndarray]  # kept features' mean and population std


def _strip(col: Column) -> Column:
    from pyspark.sql import functions as F

    return F.regexp_replace(col, r"(?U)^\s+|\s+$", "")  # str.strip(): Unicode whitespace


def _number(col: Column, numeric: bool) -> tuple[Column, Column]:
    """(value or null, empty) of a column as the local ``_numbers`` reads it."""
    from pyspark.sql import functions as F

    if numeric:
        return F.when(~F.isnan(col), col), col.isNull() | F.isnan(col)
    text = _strip(col)
    value = F.when(text.rlike(_NUMBER), text.cast("double"))
    return value, text == ""


def _finite(value: Column) -> Column:
    from pyspark.sql import functions as F

    return value.isNotNull() & ~F.isnan(value) & (F.abs(value) != float("inf"))


def _decimal_comma_columns(frame: DataFrame, columns: list[str]) -> list[str]:
    """Text feature columns where every non-empty value is a decimal-comma number (the
    local reader's rule, readers._decimal_commas)."""
    from pyspark.sql import functions as F

    if not columns:
        return []
    pattern = f"^(?:{DECIMAL_COMMA.pattern})$"
    aggs = []
    for i, c in enumerate(columns):
        col = F.col(f"`{c}`")
        aggs += [F.sum(col.contains(",").cast("long")).alias(f"comma{i}"),
                 F.sum((~col.rlike(pattern) & (_strip(col) != "")).cast("long")).alias(f"bad{i}")]
    row = frame.agg(*aggs).first()
    return [c for i, c in enumerate(columns) if (row[f"comma{i}"] or 0) and not row[f"bad{i}"]]


def clean_spark(data: SparkInput) -> SparkCatalogue:
    """Type and clean the input; see catalogue.DROP_REASONS. Raises CatalogueError."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    name = data.source["file"]
    mapping = resolve_columns(data.columns)
    frame = data.frame
    types = dict(frame.dtypes)
    numeric = {f: types[mapping[f]] in ("double", "float", "int", "bigint") for f in FEATURES}
    commas = _decimal_comma_columns(frame, [mapping[f] for f in FEATURES if not numeric[f]])
    notes = [f"decimal commas read as decimal points in: {', '.join(commas)}"] if commas else []
    notes += alias_notes(data.columns, mapping)

    raw_columns = list(data.columns)
    position = {c: i for i, c in enumerate(raw_columns)}
    frame = frame.select(ROW, *[F.col(f"`{c}`").alias(f"{RAW_PREFIX}{i}")
                                for i, c in enumerate(raw_columns)])

    def raw(field: str) -> Column:
        if field not in mapping:
            return F.lit("")
        col = F.col(f"{RAW_PREFIX}{position[mapping[field]]}")
        return F.regexp_replace(col, ",", ".") if mapping[field] in commas else col

    # three projections, so that each stripped text and parsed value is computed once
    nf = len(FEATURES)
    texts = frame.select(
        F.col(ROW).alias("source_row"),
        *[(raw(f) if numeric[f] else _strip(raw(f))).alias(f"__t{j}")
          for j, f in enumerate(FEATURES)],
        *[_strip(raw(c)).alias(c) for c in ("name", "artist", "track_id")],
        *[f"{RAW_PREFIX}{i}" for i in range(len(raw_columns))],
    )
    values = texts.select("*", *[
        _number(F.col(f"__t{j}"), numeric[f])[0].alias(f"__v{j}") for j, f in enumerate(FEATURES)
    ]).select("*", *[_finite(F.col(f"__v{j}")).alias(f"__f{j}") for j in range(nf)])
    empty = [(F.col(f"__t{j}").isNull() | F.isnan(F.col(f"__t{j}"))) if numeric[f]
             else F.col(f"__t{j}") == "" for j, f in enumerate(FEATURES)]
    outside = []
    for j, f in enumerate(FEATURES):
        value, rng = F.col(f"__v{j}"), VALID_RANGES[f]
        low_ok = value >= rng.low if rng.low_inclusive else value > rng.low
        outside.append(F.col(f"__f{j}") & ~(low_ok & (value <= rng.high)))
    names, artists, ids = F.col("name"), F.col("artist"), F.col("track_id")
    named = (names != "") & (artists != "")
    needs_id = ids == ""
    derived = F.concat(F.lit("gen:"), F.substring(
        F.sha1(F.concat(F.lower(names), F.lit("\x1f"), F.lower(artists)).cast("binary")), 1, 16))

    def any_of(conditions: list[Column]) -> Column:
        out = conditions[0]
        for c in conditions[1:]:
            out = out | c
        return out

    reason = (F.when(needs_id & ~named, "missing_id")
              .when(any_of([~e & ~F.col(f"__f{j}") for j, e in enumerate(empty)]),
                    "unparseable_number")
              .when(any_of(empty), "missing_feature")
              .when(any_of([F.col(f"__o{j}") for j in range(nf)]), "out_of_range"))
    typed = values.select(
        "*", *[c.alias(f"__o{j}") for j, c in enumerate(outside)],
        named.alias("__named"), (needs_id & named).alias("__derived"),
    ).select(
        "source_row",
        F.when(F.col("__derived"), derived).otherwise(ids).alias("track_id"),
        "name", "artist", "__named", "__derived",
        *[f"__v{j}" for j in range(nf)],
        *[F.col(f"__o{j}").cast("int").alias(f"__out{j}") for j in range(nf)],
        reason.alias("reason"),
        *[f"{RAW_PREFIX}{i}" for i in range(len(raw_columns))],
    )
    alive = F.col("reason").isNull()
    by_id = Window.partitionBy(alive, "track_id").orderBy("source_row")
    typed = typed.withColumn("reason", F.when(
        alive & (F.row_number().over(by_id) > 1), "duplicate_id").otherwise(F.col("reason")))
    key = [F.rint(F.col(f"__v{j}") * 1e6) / 1e6 for j in range(len(FEATURES))]
    key_cols = [k.alias(f"__k{j}") for j, k in enumerate(key)]
    typed = typed.select("*", *key_cols, F.lower("name").alias("__ln"),
                         F.lower("artist").alias("__la"))
    by_track = Window.partitionBy(F.col("reason").isNull(), *[f"__k{j}" for j in range(
        len(FEATURES))], "__ln", "__la").orderBy("source_row")
    typed = typed.withColumn("reason", F.when(
        F.col("reason").isNull() & (F.row_number().over(by_track) > 1) & F.col("__named"),
        "duplicate_track").otherwise(F.col("reason")))
    typed = typed.drop(*[f"__k{j}" for j in range(len(FEATURES))], "__ln", "__la")
    typed = typed.persist()

    counts = typed.groupBy("reason").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.col("__derived").cast("long")).alias("derived"),
        *[F.sum(f"__out{j}").alias(f"out{j}") for j in range(nf)]).collect()
    n = sum(int(r["n"]) for r in counts)
    if n == 0:
        typed.unpersist()
        raise CatalogueError(f"{name}: the input has a header but no rows")
    totals = {key: sum(int(r[key] or 0) for r in counts)
              for key in ("derived", *[f"out{j}" for j in range(nf)])}
    by_reason = {r["reason"]: int(r["n"]) for r in counts}
    dropped = {r: by_reason.get(r, 0) for r in DROP_REASONS}
    kept_n = by_reason.get(None, 0)
    if kept_n == 0:
        typed.unpersist()
        summary = ", ".join(f"{REASON_TEXT[r]}: {c}" for r, c in dropped.items() if c)
        raise CatalogueError(f"{name}: no valid rows left after cleaning ({summary})")

    kept = typed.where(F.col("reason").isNull())
    genres = _strip(raw("genres"))
    columns = [F.col("track_id"), F.col("name"), F.col("artist"), genres.alias("genres")]
    optional = []
    for field in OPTIONAL_NUMERIC:
        col = raw(field)
        is_num = field in mapping and types[mapping[field]] in ("double", "float", "int",
                                                                 "bigint")
        value, empty = _number(col, is_num)
        columns.append(F.when(_finite(value), value).alias(field))
        optional.append(F.sum((~_finite(value) & ~empty).cast("long")).alias(field))
    year_text = F.substring(raw("release_date").cast("string"), 1, 4)
    year = F.when(_strip(year_text).rlike(_NUMBER), _strip(year_text).cast("double"))
    columns.append(F.when((year >= 1800) & (year <= 2100), year).cast("int")
                   .alias("release_year"))
    columns += [F.col(f"__v{j}").alias(f) for j, f in enumerate(FEATURES)]
    columns.append(F.col("source_row").cast(T.LongType()))
    columns += [f"{RAW_PREFIX}{i}" for i in range(len(raw_columns))]
    tracks = kept.select(*columns)
    stats = tracks.agg(*optional, *[F.mean(f).alias(f"m{j}") for j, f in enumerate(FEATURES)],
                       *[F.stddev_pop(f).alias(f"s{j}") for j, f in enumerate(FEATURES)]).first()
    for field in OPTIONAL_NUMERIC:
        if stats[field]:
            notes.append(f"{stats[field]} unparseable {mapping[field]!r} value(s) kept as "
                         "missing")
    mean = np.array([stats[f"m{j}"] for j in range(len(FEATURES))], dtype=np.float64)
    std = np.array([stats[f"s{j}"] for j in range(len(FEATURES))], dtype=np.float64)
    constant = tuple(f for f, c in zip(FEATURES, near_constant_from_moments(mean, std),
                                       strict=True) if c)
    if constant and kept_n > 1:
        notes.append(
            "constant feature(s) " + ", ".join(constant) + ": every kept track has the same "
            "value (up to float noise), so they carry no weight in the vibes or similarity"
        )
    report = CleaningReport(
        rows_read=n, rows_kept=kept_n, dropped=dropped,
        out_of_range_by_feature={f: totals[f"out{j}"]
                                 for j, f in enumerate(FEATURES)},
        columns=dict(mapping), derived_ids=totals["derived"], notes=tuple(notes),
        constant_features=constant,
    )
    logger.info("cleaned %s on Spark: kept %d of %d rows", name, kept_n, n)
    return SparkCatalogue(tracks, report, raw_columns, (mean, std))
