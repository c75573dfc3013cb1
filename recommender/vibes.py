"""The vibes of one artifact: their public entries (the build's per-vibe facts, with the
typical rows turned into track summaries), and the resolution of a vibe key or a query
scope ("any", "same", an id, a name)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from vibemap.indexer.folding import fold, slugify
from vibemap.recommender.catalogue import Catalogue
from vibemap.recommender.errors import InvalidQuery, VibeNotFound
from vibemap.recommender.ranking import Scope

ANY_SCOPES = ("any", "all")
SAME_SCOPE = "same"


def is_any(value: object) -> bool:
    """True for no vibe restriction: None, blank, "any" or "all"."""
    return value is None or (isinstance(value, str)
                             and value.strip().lower() in ("", *ANY_SCOPES))


class Vibes:
    """The vibes listed in an artifact, over its catalogue; immutable after construction.

    facts : the artifact's ``vibe_facts`` (computed at build time; see
    :mod:`vibemap.indexer.vibe_facts`): nothing here is recomputed.
    """

    def __init__(self, facts: list[dict], catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self._names = catalogue.vibe_names
        self._lookup: dict[str, int] = {}
        for v, name in self._names.items():
            self._lookup.setdefault(fold(name), v)
            self._lookup.setdefault(slugify(name), v)
        self.entries = [self._entry(f) for f in sorted(facts, key=lambda f: int(f["vibe_id"]))]
        self._position = {e["vibe_id"]: i for i, e in enumerate(self.entries)}

    def entry(self, vibe_id: int) -> dict:
        return self.entries[self._position[vibe_id]]

    def _entry(self, facts: dict) -> dict:
        entry = {k: v for k, v in facts.items() if k != "typical_rows"}
        entry["typical_tracks"] = [self._catalogue.summary(int(r))
                                   for r in facts.get("typical_rows", ())]
        return entry

    def resolve(self, key: int | str) -> int:
        """A vibe id from an id (int or digits) or a name / slug (case-insensitive)."""
        if isinstance(key, bool):
            raise VibeNotFound(key)
        if isinstance(key, int | np.integer):
            vibe_id = int(key)
        else:
            text = str(key).strip()
            if re.fullmatch(r"-?\d+", text):
                vibe_id = int(text)
            else:
                found = self._lookup.get(fold(text), self._lookup.get(slugify(text)))
                if found is None:
                    raise VibeNotFound(key, sorted(self._names.values()))
                vibe_id = found
        if vibe_id not in self._position:
            raise VibeNotFound(key, sorted(self._names.values()))
        return vibe_id

    def span(self, vibe_id: int) -> tuple[int, int]:
        """The vibe's catalogue rows [start, stop)."""
        return self._catalogue.partitions[vibe_id]

    def scope(self, value: int | str | None, seed_rows: Sequence[int], default: str) -> Scope:
        """The rows a query ranks: ``value`` "any"/"all", "same" (the seeds' one vibe), a
        vibe id or name; None or blank means ``default``."""
        if value is None or (isinstance(value, str) and not value.strip()):
            value = default
        if isinstance(value, str) and value.strip().lower() in ANY_SCOPES:
            return Scope(None, None, 0, self._catalogue.n_rows)
        if isinstance(value, str) and value.strip().lower() == SAME_SCOPE:
            if not seed_rows:
                raise InvalidQuery("scope 'same' needs at least one seed track")
            vibes = sorted({int(self._catalogue.vibe_of[r]) for r in seed_rows})
            if len(vibes) > 1:
                names = ", ".join(f"{v} ({self._names[v]})" for v in vibes)
                raise InvalidQuery(f"scope 'same' is ambiguous: the seeds are in vibes {names}; "
                                   "name one vibe or use 'any'")
            return self._vibe_scope(vibes[0])
        return self._vibe_scope(self.resolve(value))

    def _vibe_scope(self, vibe_id: int) -> Scope:
        return Scope(vibe_id, self._names[vibe_id], *self.span(vibe_id))
