"""Text of requests: genre filter values as folded tokens (a pure function on strings)."""

from __future__ import annotations

from collections.abc import Iterable

from vibemap.indexer.folding import fold
from vibemap.indexer.genre_labels import split_genres

__all__ = ["genre_tokens"]


def genre_tokens(values: Iterable[str]) -> list[str]:
    """Folded genre tokens of request values; each value may itself hold ``,``/``;`` lists
    (parsed by the one genre parser, :func:`vibemap.indexer.genre_labels.split_genres`)."""
    tokens: list[str] = []
    for value in values:
        for label in split_genres(value):
            token = fold(label)
            if token and token not in tokens:
                tokens.append(token)
    return tokens
