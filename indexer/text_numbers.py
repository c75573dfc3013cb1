"""Numbers in the text columns of a catalogue: parsed in Arrow from Arrow's own buffers
(never one Python string per row: GBs at 10M rows), the lenient pandas parser only for
a column with a bad value, so a failure is counted, never raised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def parse_floats(text: pd.Series) -> np.ndarray:
    """Stripped text -> float64, NaN where empty or not a number.

    Arrow's cast is much faster than pandas.to_numeric (bench/RESULTS.md) but
    all-or-nothing, so it is tried first and the lenient parser only runs on columns with a
    bad value.
    """
    arr = _arrow_text(text)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    try:
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )


def numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as float64 and its 'empty' mask: text is parsed, numbers taken as they are
    (a typed frame, like the demo catalogue's, skips a round trip through text)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return parsed, np.isnan(parsed)
    text = values.astype(str).str.strip()
    return parse_floats(text), (text == "").to_numpy()


def _in_arrow(text: pd.Series) -> bool:
    """Text pandas keeps in Arrow, without missing values (what the readers give)."""
    return (isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow"
            and not text.isna().any())


def _arrow_text(text: pd.Series) -> pa.Array:
    """The Arrow array of a text column: its own buffers where it is in Arrow already,
    else through Python strings (a frame made in code; ~0.7 GB a column at 10M rows)."""
    if _in_arrow(text):
        return pa.array(text.array)
    return pa.array(text.to_numpy(dtype=object), type=pa.string())


def release_year(text: pd.Series) -> pd.Series:
    """The year of a release date's first four characters, missing outside 1800..2100."""
    head = text.str.slice(0, 4)
    year = (pd.Series(parse_floats(head), index=text.index) if _in_arrow(head)
            else pd.to_numeric(head, errors="coerce"))
    return year.where((year >= 1800) & (year <= 2100)).astype("Int64")
