"""Cells that are safe to open in a spreadsheet (OWASP "CSV Injection").

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula. OWASP's advice: prefix such a cell with a single quote, which the
spreadsheet shows as text. One exception keeps numbers unchanged: a cell that is a plain
decimal number (``-5``, ``+0.25``, ``-1e-3``) cannot run anything and is left as it is,
so a CSV's loudness column (read as text) round-trips exactly. Fullwidth ``＝＋－＠``
are treated like their ASCII forms (some spreadsheets accept them as formula starts).

``safe_cell`` is the one rule; ``safe_column`` applies it to a pandas column quickly
(the labelled CSV of a 10M-track artifact) and is tested to agree with it.
"""

from __future__ import annotations

import math
import numbers
import re

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
# one number pattern for Python's re and RE2 (pyarrow); ASCII digits only
_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PLAIN_NUMBER = re.compile(_NUMBER)
_NUMBER_RE2 = f"^{_NUMBER}$"


def _needs_quote(text: str) -> bool:
    return text[:1] in FORMULA_STARTS and _PLAIN_NUMBER.fullmatch(text) is None


def safe_cell(value: object) -> str:
    """The text to write for one CSV cell: numbers as they are, None/NaN as empty,
    text that a spreadsheet would execute prefixed with ``'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if _needs_quote(text) else text


def safe_column(values: pd.Series) -> pd.Series:
    """``values.map(safe_cell)`` for a text column, vectorised in pyarrow (a column of
    negative loudness values as text is all "suspect" and all numbers: no Python loop).
    Numeric columns come back as they are."""
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        return values
    text = values.astype(str).where(values.notna(), "")
    arr = pa.array(text.to_numpy(dtype=object) if text.dtype == object else text,
                   type=pa.large_string())
    first = pc.utf8_slice_codeunits(arr, 0, 1)
    suspect = pc.is_in(first, value_set=pa.array(sorted(FORMULA_STARTS), type=arr.type))
    if not pc.any(suspect).as_py():
        return text
    quote = pc.and_(suspect, pc.invert(pc.match_substring_regex(arr, _NUMBER_RE2)))
    if not pc.any(quote).as_py():
        return text
    quoted = pc.if_else(quote, pc.binary_join_element_wise(pa.scalar("'", arr.type), arr,
                                                           pa.scalar("", arr.type)), arr)
    return pd.Series(quoted.to_pylist(), index=values.index, dtype=text.dtype)
