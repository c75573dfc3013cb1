"""Read a track catalogue from the file(s) it lives in, saying what each file is.

Accepted: a CSV (comma, semicolon, tab or pipe delimited, sniffed from the header;
UTF-8, or UTF-16 by its byte-order mark; plain or gzip, by magic bytes), a Parquet
file (magic ``PAR1``), or a directory / glob of such files (all CSV or all Parquet,
one schema). Every error is one line naming the file. CSV cells stay text (numbers
are parsed by the cleaning, so failures are counted); Parquet columns keep their
types, and only the columns the alias table knows are read.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vibemap.indexer.errors import CatalogueError
from vibemap.indexer.features import FEATURES
from vibemap.indexer.files import sha256_file

# limits on what a track CSV can look like, so hostile files fail fast with a message
MAX_HEADER_BYTES = 64 * 1024
MAX_COLUMNS = 1_000
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DATA_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".parq", ".pq")
DECIMAL_COMMA = re.compile(r"\s*[+-]?\d*,\d+\s*|\s*[+-]?\d+\s*")


PartHook = Callable[[pd.DataFrame | pa.Table, Path], pd.DataFrame | pa.Table]


@dataclass(frozen=True)
class RawInput:
    """The input's rows (every column as read), facts for the manifest, notes for the report."""

    frame: pd.DataFrame
    source: dict
    notes: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None  # every column read, where ``frame`` holds fewer


def file_kind(path: Path, head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return "csv"


def file_head(path: Path) -> bytes:
    if path.is_dir():
        raise CatalogueError(f"{path}: is a directory with no CSV or Parquet files")
    if not path.exists():
        raise CatalogueError(f"{path}: file not found")
    if not path.is_file():
        raise CatalogueError(f"{path}: not a file")
    with open(path, "rb") as fh:
        return fh.read(4096)


def check_unique_columns(name: str, columns: list[str]) -> None:
    """Refuse names equal up to case and surrounding spaces (pandas would rename them)."""
    seen: dict[str, list[str]] = {}
    for column in columns:
        key = str(column).strip().lower()
        if key:
            seen.setdefault(key, []).append(str(column))
    clashes = [group for group in seen.values() if len(group) > 1]
    if clashes:
        shown = "; ".join(" / ".join(repr(c) for c in group) for group in clashes)
        raise CatalogueError(
            f"{name}: ambiguous column names ({shown}): names may not repeat, ignoring case "
            "and surrounding spaces; rename or drop the extra column(s)"
        )


def _encoding(path: Path, head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if b"\x00" in head:
        if head[1::2].count(b"\x00") > len(head) // 4 or head[0::2].count(b"\x00") > len(head) // 4:
            raise CatalogueError(
                f"{path}: looks like UTF-16 text without a byte-order mark; re-save it as UTF-8"
            )
        raise CatalogueError(f"{path}: looks like a binary file, not a CSV or Parquet file")
    return "utf-8"


def sniff_csv(path: Path, compression: str | None) -> tuple[str, str]:
    """(encoding, delimiter), refusing files that are obviously not a CSV before pandas
    guesses at them."""
    opener = gzip.open if compression == "gzip" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4096)
        encoding = _encoding(path, head)
        text_head = head.decode(encoding, errors="ignore").lstrip("\ufeff")
        if not text_head.strip():
            raise CatalogueError(f"{path}: the file is empty")
        start = text_head.lstrip().lower()
        if start.startswith(("<!doctype", "<html", "<?xml")):
            raise CatalogueError(f"{path}: looks like HTML/XML, not a CSV")
        if start[:1] in ("{", "["):
            raise CatalogueError(f"{path}: looks like JSON, not a CSV")
        with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
            header = fh.readline(MAX_HEADER_BYTES + 1)
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
        raise CatalogueError(f"{path}: unreadable {compression or 'CSV'} file ({exc})") from None
    if len(header) > MAX_HEADER_BYTES:
        raise CatalogueError(
            f"{path}: header line longer than {MAX_HEADER_BYTES // 1024} KiB; not a track CSV"
        )
    unquoted = re.sub(r'"[^"]*"', "", header)
    delimiter = max(DELIMITERS, key=lambda d: (unquoted.count(d), d == ","))
    if unquoted.count(delimiter) + 1 > MAX_COLUMNS:
        raise CatalogueError(
            f"{path}: {unquoted.count(delimiter) + 1} columns in the header (at most "
            f"{MAX_COLUMNS}); not a track CSV"
        )
    return encoding, delimiter


def read_csv(path: Path, compression: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Every column of a CSV as text, and how it was read (encoding, delimiter)."""
    path = Path(path)
    encoding, delimiter = sniff_csv(path, compression)
    options = dict(sep=delimiter, dtype=str, keep_default_na=False, na_filter=False,
                   encoding=encoding, encoding_errors="strict", compression=compression)
    try:
        header = pd.read_csv(path, header=None, nrows=1, **options)
        check_unique_columns(path.name, [str(c) for c in header.iloc[0]] if len(header) else [])
        frame = pd.read_csv(path, **options)
    except UnicodeDecodeError as exc:
        raise CatalogueError(
            f"{path}: not valid {encoding.upper()} at byte {exc.start} "
            f"({exc.object[exc.start : exc.start + 1]!r}); re-save the file as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise CatalogueError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CatalogueError(f"{path}: not a well-formed CSV ({first})") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CatalogueError(f"{path}: unreadable {compression or 'CSV'} file ({exc})") from None
    how = {"format": "csv", "encoding": encoding.replace("-sig", ""),
           "delimiter": DELIMITER_NAMES[delimiter], "compression": compression or "none"}
    return frame, how


def _text_column(column: pa.ChunkedArray, name: str, path: Path) -> pa.ChunkedArray:
    """A non-numeric Parquet column as text, nulls as empty strings."""
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        column = pc.binary_join(pc.cast(column, pa.list_(pa.string())), ", ")
    try:
        return pc.fill_null(pc.cast(column, pa.string()), "")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise CatalogueError(
            f"{path}: column {name!r} has type {column.type}, which cannot be read as text"
        ) from None


def read_parquet(path: Path, wanted: frozenset[str] | None = None) -> pd.DataFrame:
    """A Parquet file's known columns: numbers as numbers, everything else as text."""
    return _to_pandas(_parquet_table(path, wanted))


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """A frame of ``table``, which it consumes: text stays in its Arrow buffers, each
    number column's buffers are freed once converted (no second copy of the input)."""
    if not table.num_columns:
        return pd.DataFrame()
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _parquet_table(path: Path, wanted: frozenset[str] | None) -> pa.Table:
    """``read_parquet``'s columns as an Arrow table (several files concatenate in Arrow,
    without a copy of their columns)."""
    path = Path(path)
    try:
        schema = pq.read_schema(path)
        check_unique_columns(path.name, schema.names)
        columns = [c for c in schema.names if wanted is None or c.strip().lower() in wanted]
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CatalogueError(f"{path}: not a readable Parquet file ({first})") from None
    out = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        # features stay numbers (the cleaning takes them as they are); other columns
        # become text like a CSV's, so a null id is "" and not "nan"
        typed = pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or (
            pa.types.is_decimal(column.type))
        if typed and name.strip().lower() in FEATURES:
            out[name] = pc.cast(column, pa.float64())
        else:
            out[name] = _text_column(column, name, path)
    return pa.table(out) if out else pa.table({})


def _decimal_commas(frame: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Feature columns written with decimal commas ("0,5") read as decimal points: only
    where every non-empty value is such a number (the nine features' ranges rule out
    thousands separators)."""
    converted = []
    for column in frame.columns:
        if str(column).strip().lower() not in FEATURES or not pd.api.types.is_string_dtype(
                frame[column]):
            continue
        if not frame[column].str.contains(",", regex=False).any():
            continue  # the usual case: one cheap pass per feature column
        values = frame[column][frame[column].str.strip() != ""]
        if values.str.fullmatch(DECIMAL_COMMA).all():
            frame[column] = frame[column].str.replace(",", ".", regex=False)
            converted.append(str(column))
    if not converted:
        return frame, ()
    return frame, (f"decimal commas read as decimal points in: {', '.join(converted)}",)


def _read_one(path: Path, wanted: frozenset[str] | None
              ) -> tuple[pd.DataFrame | pa.Table, dict]:
    """A CSV file's frame, or a Parquet file's Arrow table, and how it was read."""
    kind = file_kind(path, file_head(path))
    if kind == "parquet":
        return _parquet_table(path, wanted), {"format": "parquet"}
    head = file_head(path)
    if not head.strip():
        raise CatalogueError(f"{path}: the file is empty")
    return read_csv(path, compression="gzip" if kind == "gzip" else None)


def files_of(spec: str) -> tuple[list[Path], dict]:
    """The data files a path, directory or glob names, and how the source is described."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES)
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        if not files:
            raise CatalogueError(
                f"{path}: directory holds no CSV or Parquet files ({', '.join(DATA_SUFFIXES)})"
            )
        return files, {"directory": path.name, "root": path}
    if not path.exists() and any(ch in spec for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
        if not files:
            raise CatalogueError(f"{spec}: no files match this pattern")
        return files, {"pattern": path.name, "root": path.parent}
    return [path], {}


def read_input(spec: str | Path, wanted: frozenset[str] | None = None,
               on_part: PartHook | None = None) -> RawInput:
    """Read a CSV / Parquet file, or a directory or glob of them, into one frame.

    ``wanted`` : lower-case column names worth reading from Parquet (None: all).
    ``on_part`` : called with each file's rows as read (a Parquet file's Arrow table, a
    CSV's frame) and its path; what it returns is kept instead (e.g. fewer columns, the
    rest spilled to disk).
    """
    files, where = files_of(str(spec))
    hook = on_part or (lambda part, path: part)
    if not where:
        path = files[0]
        part, how = _read_one(path, wanted)
        columns = tuple(str(c) for c in _types(part).columns)
        frame, notes = _decimal_commas(_frame(hook(part, path)))
        source = {"file": path.name, "kind": how["format"], "synthetic": False,
                  "sha256": sha256_file(path), "bytes": path.stat().st_size}
        if how != {"format": "csv", "encoding": "utf-8", "delimiter": "comma",
                   "compression": "none"}:
            source["read_as"] = how
        return RawInput(frame, source, notes, columns)
    frames, listed, formats = [], [], set()
    digest = hashlib.sha256()
    first = pd.DataFrame()  # the first file's columns and types
    for path in files:
        frame, how = _read_one(path, wanted)
        formats.add(how["format"])
        if len(formats) > 1:
            raise CatalogueError(f"{path}: mixes {' and '.join(sorted(formats))} files; "
                                 "point at files of one kind")
        if not frames:
            first = _types(frame)
        elif _schema(_types(frame)) != _schema(first):
            raise CatalogueError(
                f"{path}: columns {_describe(_types(frame))} do not match {files[0].name}'s "
                f"{_describe(first)}; every file must have the same columns and types"
            )
        frames.append(hook(frame, path))
        rel = path.relative_to(where["root"]).as_posix() if path.is_relative_to(
            where["root"]) else path.name
        sha = sha256_file(path)
        digest.update(f"{rel}\0{sha}\n".encode())
        listed.append({"name": rel, "sha256": sha, "bytes": path.stat().st_size})
    frame = _concat(frames)
    del frames
    frame, notes = _decimal_commas(frame)
    label = where.get("directory") or where.get("pattern")
    source = {"file": label, "kind": f"{formats.pop()}-files", "synthetic": False,
              ("directory" if "directory" in where else "pattern"): label,
              "sha256": digest.hexdigest(), "bytes": sum(f["bytes"] for f in listed),
              "n_files": len(listed), "files": listed[:1000]}
    return RawInput(frame, source, notes, tuple(str(c) for c in first.columns))


def _frame(part: pd.DataFrame | pa.Table) -> pd.DataFrame:
    return part if isinstance(part, pd.DataFrame) else _to_pandas(part)


def _types(part: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """A frame with ``part``'s columns and pandas types (no rows needed for a table)."""
    return part if isinstance(part, pd.DataFrame) else _frame(part.schema.empty_table())


def _concat(parts: list[pd.DataFrame | pa.Table]) -> pd.DataFrame:
    """The files' rows as one frame. Arrow tables of one exact schema (the usual
    directory of Parquet files) are joined in Arrow and converted once; anything else
    goes through pandas, which matches columns by name."""
    first = parts[0]
    if len(parts) == 1:
        return _frame(first)
    if all(isinstance(p, pa.Table) and p.schema.equals(first.schema) for p in parts):
        table = pa.concat_tables(parts)
        parts.clear()  # the caller's list: the table's columns are freed as they convert
        return _to_pandas(table)
    return pd.concat([_frame(p) for p in parts], ignore_index=True)


def _schema(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted((str(c).strip().lower(), str(t)) for c, t in frame.dtypes.items())


def _describe(frame: pd.DataFrame) -> str:
    text = ", ".join(f"{c}:{t}" for c, t in frame.dtypes.items())
    return "(" + (text if len(text) < 200 else text[:200] + "…") + ")"
