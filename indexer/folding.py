"""Case- and accent-insensitive text keys, shared by the build (vibe slugs) and the service
(search, filters): pure functions on strings."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded,
    whitespace (incl. control separators) collapsed to one space and stripped."""
    if text.isascii():  # fast path: most catalogue strings
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # NFKC recomposes what is left (e.g. Hangul syllables), for readable keys
    return " ".join(unicodedata.normalize("NFKC", stripped).split())


def slugify(name: str) -> str:
    """'Vocal / Live' -> 'vocal-live' (a vibe name usable in a URL path)."""
    return re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")
