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

FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


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
    """``values.map(safe_cell)`` for a text column, vectorised: only cells whose first
    character starts a formula are looked at twice. Numeric columns come back as is."""
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        return values
    text = values.astype(str).where(values.notna(), "")
    suspect = text.str[:1].isin(FORMULA_STARTS).to_numpy()
    if not suspect.any():
        return text
    quoted = text.copy()
    idx = suspect.nonzero()[0]
    quoted.iloc[idx] = [("'" + t if _needs_quote(t) else t) for t in text.iloc[idx]]
    return quoted
