"""Text normalisation shared by search and filters: pure functions on strings."""

from __future__ import annotations

import re
from collections.abc import Iterable

from vibemap.indexer.folding import fold

__all__ = ["fold", "genre_tokens", "split_genres"]

_LIST_STRING = re.compile(r"^\s*\[(.*)\]\s*$", re.S)


def split_genres(raw: object) -> list[str]:
    """Genre labels of a raw genres cell, as written (stripped, de-duplicated, in order).

    Accepts a Python/JSON list-string (``"['dance pop', 'pop']"``), a ``;``-joined or a
    ``,``-joined string, or an empty / missing value (no genres).
    """
    if raw is None or not isinstance(raw, str):
        return []
    text = raw.strip()
    match = _LIST_STRING.match(text)
    if match:
        text = match.group(1)
    sep = ";" if ";" in text else ","
    labels: list[str] = []
    seen: set[str] = set()
    for part in text.split(sep):
        label = part.strip().strip("'\"").strip()
        if label and label not in seen:
            seen.add(label)
            labels.append(label)
    return labels


def genre_tokens(values: Iterable[str]) -> list[str]:
    """Folded genre tokens of request values; each value may itself hold ``,``/``;`` lists."""
    tokens: list[str] = []
    for value in values:
        for label in split_genres(value):
            token = fold(label)
            if token and token not in tokens:
                tokens.append(token)
    return tokens
