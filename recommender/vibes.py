"""The vibes of one artifact: their public entries (profile, top genres, typical tracks),
and the resolution of a vibe key or a query scope ("any", "same", an id, a name)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from vibemap.recommender.catalogue import Catalogue
from vibemap.recommender.errors import InvalidQuery, VibeNotFound
from vibemap.recommender.ranking import Scope
from vibemap.recommender.text import fold

ANY_SCOPES = ("any", "all")
SAME_SCOPE = "same"
QUANTILES = (("p10", 10), ("p25", 25), ("median", 50), ("p75", 75), ("p90", 90))
N_TOP_GENRES = 5
N_TYPICAL = 5


def slugify(name: str) -> str:
    """'Vocal / Live' -> 'vocal-live' (a vibe name usable in a URL path)."""
    return re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")


def is_any(value: object) -> bool:
    """True for no vibe restriction: None, blank, "any" or "all"."""
    return value is None or (isinstance(value, str)
                             and value.strip().lower() in ("", *ANY_SCOPES))


def typical_rows(Z: np.ndarray, centroid_z: Sequence[float], n: int = N_TYPICAL) -> list[int]:
    """Positions of the ``n`` rows of ``Z`` (z-scores, float (m, d)) nearest the centroid,
    nearest first (ties: lower row)."""
    d = ((Z - np.asarray(centroid_z)) ** 2).sum(axis=1)
    return np.argsort(d, kind="stable")[:n].tolist()


class Vibes:
    """The vibes listed in an artifact, over its catalogue; immutable after construction."""

    def __init__(self, vibes: list[dict], catalogue: Catalogue, scaler_mean: Sequence[float]
                 ) -> None:
        self._catalogue = catalogue
        self._meta = {int(v["vibe_id"]): v for v in vibes}
        self._names = catalogue.vibe_names
        self._lookup: dict[str, int] = {}
        for v, name in self._names.items():
            self._lookup.setdefault(fold(name), v)
            self._lookup.setdefault(slugify(name), v)
        self._mean = np.asarray(scaler_mean)
        self.entries = [self._entry(v) for v in sorted(self._meta)]
        self._position = {e["vibe_id"]: i for i, e in enumerate(self.entries)}

    def entry(self, vibe_id: int) -> dict:
        return self.entries[self._position[vibe_id]]

    def _entry(self, v: int) -> dict:
        c = self._catalogue
        d = self._meta[v]
        start, stop = c.partitions.get(v, (0, 0))
        F = c.F[start:stop]
        profile: dict[str, dict[str, float]] = {}
        if len(F):
            q = np.percentile(F, [p for _, p in QUANTILES], axis=0)
            for j, f in enumerate(c.features):
                profile[f] = {k: round(float(q[i, j]), 6) for i, (k, _) in enumerate(QUANTILES)}
        # labels counted per distinct genre cell, cells in order of first row (as a row-by-row
        # count would meet them: most_common breaks ties by that order)
        cells = c.genre_cell[start:stop]
        sizes = np.bincount(cells, minlength=len(c.genre_labels))
        genres: Counter[str] = Counter()
        for cell in pd.unique(cells).tolist():
            for label in c.genre_labels[cell]:
                genres[label] += int(sizes[cell])
        centroid = d.get("centroid") or {}
        centroid_z = list(d.get("centroid_z") or [])
        typical = []
        if stop > start and len(centroid_z) == len(c.features):
            typical = typical_rows((F - self._mean) / c.scale, centroid_z)
        return {
            "vibe_id": v,
            "name": self._names[v],
            "slug": slugify(self._names[v]),
            "size": int(d.get("size", stop - start)),
            "share": float(d.get("share", 0.0)),
            "signature": str(d.get("signature", "")),
            "centroid": {f: float(centroid[f]) for f in c.features if f in centroid},
            "centroid_z": {f: float(z) for f, z in zip(c.features, centroid_z, strict=False)},
            "profile": profile,
            "top_genres": [{"genre": g, "count": n} for g, n in genres.most_common(N_TOP_GENRES)],
            "typical_tracks": [c.summary(start + i) for i in typical],
        }

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
        if vibe_id not in self._meta:
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
