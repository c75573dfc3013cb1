"""The recommendation engine: plain Python over a loaded artifact (no HTTP).

Everything per request works on numpy arrays and lists precomputed at load; pandas
is only touched once, in ``Engine.__init__``. Scores are the index's similarities
(larger is better): inner product of unit z-score vectors for a cosine artifact,
negative squared L2 distance of z-scores for a euclidean one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from vibemap.indexer.artifact import Artifact, load_artifact
from vibemap.indexer.errors import ArtifactError
from vibemap.indexer.vector_index import to_index_space
from vibemap.recommender.errors import InvalidQuery, TrackNotFound, VibeNotFound
from vibemap.recommender.search import TrackSearch
from vibemap.recommender.text import fold, genre_tokens, split_genres

MAX_SEEDS = 5
MAX_NEGATIVES = 5
MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_SEARCH_LIMIT = 100
# MMR re-ranks a fixed-size pool so that pages of one diversified query agree
# (the pool only grows once offset + limit exceeds half of it).
MMR_POOL = 300
EXPLAIN_FEATURES = 3
ANY_SCOPES = ("any", "all")
SAME_SCOPE = "same"

COMBINATION_RULE = (
    "Seeds, negatives and targets combine by Qdrant's average-vector rule. The positives are "
    "the index vectors of the seed tracks plus, when any target_<feature> is given, ONE target "
    "vector: the targets in original units (features not given are taken from the seeds' mean, "
    "or from the catalogue mean for a target-only query) put through the artifact's scaler and "
    "into index space. The query is mean(positives) without negatives, else "
    "2 * mean(positives) - mean(negatives); under the cosine metric it is re-normalised to unit "
    "length. Seeds and negatives never appear in the results. min_/max_<feature>, popularity, "
    "genre, vibe and artist filters are exact: ranking runs over every row that passes them."
)


def set_search_threads(n_threads: int) -> None:
    """Threads for one query's maths: FAISS's OpenMP threads (for the calling thread, as
    OpenMP settings are per thread) and the BLAS pool numpy uses (process-wide, through
    threadpoolctl when it is installed). One suits a service of single-vector queries:
    parallelism comes from concurrent requests, and idle worker threads cost milliseconds
    of tail latency on small machines. Only the edges call it (app factory, CLI, bench)."""
    import faiss

    faiss.omp_set_num_threads(int(n_threads))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - sklearn brings it
        return
    threadpool_limits(limits=int(n_threads), user_api="blas")


@dataclass(frozen=True)
class Scope:
    """The rows a query ranks: one vibe's contiguous range, or every row (vibe_id None)."""

    vibe_id: int | None
    vibe_name: str | None
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return {"vibe_id": self.vibe_id, "vibe_name": self.vibe_name}


def slugify(name: str) -> str:
    """'Vocal / Live' -> 'vocal-live' (a vibe name usable in a URL path)."""
    return re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")


def _finite(key: str, value: object) -> float:
    if isinstance(value, bool) or value is None:
        raise InvalidQuery(f"{key} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidQuery(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidQuery(f"{key} must be a finite number, got {value!r}")
    return number


def _int_param(key: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidQuery(f"{key} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidQuery(f"{key} must be {bounds}, got {value}")
    return value


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _int_or_none(value: float) -> int | None:
    return int(value) if math.isfinite(value) else None


def _number_or_none(value: float) -> int | float | None:
    if value is None or not math.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


class Engine:
    """Similar tracks, recommendations and text search over one artifact.

    Build it once per artifact (``Engine(load_artifact(path))`` or ``Engine.load(path)``);
    it is immutable afterwards, so one instance can serve concurrent requests and a
    reload builds a new one.
    """

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact
        self.features: tuple[str, ...] = tuple(artifact.features)
        self.metric = artifact.metric
        self.scaler = artifact.scaler
        self._feature_col = {f: j for j, f in enumerate(self.features)}
        tracks = artifact.tracks
        n = len(tracks)
        self.n_tracks = n
        self._index = artifact.index
        self._X = np.ascontiguousarray(artifact.vectors, dtype=np.float32)
        self._F = tracks[list(self.features)].to_numpy(dtype=np.float64)
        self._scale = np.asarray(self.scaler.scale, dtype=np.float64)

        def text_column(name: str) -> list[str]:
            if name not in tracks:
                return [""] * n
            return ["" if v is None or v != v else str(v) for v in tracks[name].tolist()]

        def text_codes(name: str) -> tuple[np.ndarray, list[str]]:
            """(code per row, distinct values) of a text column whose values repeat
            (artists, genre cells): no Python string per row."""
            if name not in tracks:
                return np.zeros(n, dtype=np.int64), [""]
            codes, uniques = pd.factorize(tracks[name])  # uniques in order of first row
            values = ["" if v is None or v != v else str(v) for v in uniques.tolist()]
            return np.where(codes < 0, len(values), codes).astype(np.int64), [*values, ""]

        self._ids = text_column("track_id")
        self._row_of = {tid: row for row, tid in enumerate(self._ids)}
        self._names = text_column("name")
        self._artist_of, self._artist_values = text_codes("artist")
        self._genre_cell, cells = text_codes("genres")
        self._genre_labels = [split_genres(cell) for cell in cells]
        # per-row numbers stay in arrays (NaN = unknown); summary() converts the few it returns
        self._popularity = self._optional_numbers(tracks, "popularity")
        self._year_arr = self._optional_numbers(tracks, "release_year")
        self._durations = self._optional_numbers(tracks, "duration_ms")
        self._vibe_of = tracks["vibe_id"].to_numpy(dtype=np.int64)

        self._vibes = {int(v["vibe_id"]): v for v in artifact.vibes}
        self._vibe_names = {v: str(d["name"]) for v, d in self._vibes.items()}
        self._vibe_lookup: dict[str, int] = {}
        for v, name in self._vibe_names.items():
            self._vibe_lookup.setdefault(fold(name), v)
            self._vibe_lookup.setdefault(slugify(name), v)
        self._partitions = {v: (p.start, p.stop) for v, p in self._index.partitions.items()}

        folded_names = [fold(s) for s in self._names]
        folded_artists = [fold(a) for a in self._artist_values]
        codes: dict[str, int] = {}  # one code per folded artist (for max_per_artist, exclusion)
        fold_code = np.asarray([codes.setdefault(a, len(codes)) for a in folded_artists],
                               dtype=np.int64)
        self._artist_code = fold_code[self._artist_of]
        self._artist_codes = codes

        # rows per folded genre label, from the rows of each distinct genre cell
        by_cell = np.argsort(self._genre_cell, kind="stable")
        bounds = np.searchsorted(self._genre_cell[by_cell], np.arange(len(cells) + 1))
        genre_parts: dict[str, list[np.ndarray]] = {}
        for cell, labels in enumerate(self._genre_labels):
            for label in labels:
                genre_parts.setdefault(fold(label), []).append(
                    by_cell[bounds[cell]:bounds[cell + 1]])
        self._genre_rows = {g: np.unique(np.concatenate(parts))
                            for g, parts in genre_parts.items()}

        self._search = TrackSearch(folded_names, [folded_artists[c] for c in
                                                  self._artist_of.tolist()], self._popularity)
        self._vibe_table = [self._vibe_entry(v) for v in sorted(self._vibes)]
        # every per-row value now lives in the lists and arrays above: release the frame's
        # own copy of them (GBs at 10M rows), keeping its columns for reference
        self.artifact = replace(artifact, tracks=tracks.head(0).copy())

    @staticmethod
    def _optional_numbers(tracks, name: str) -> np.ndarray:
        """float64 (n,) of a numeric column, NaN where unknown or absent."""
        if name not in tracks:
            return np.full(len(tracks), np.nan)
        return tracks[name].to_numpy(dtype=np.float64, na_value=np.nan)

    @classmethod
    def load(cls, path: Path | str, verify: bool = True) -> Engine:
        """Load and verify the artifact at ``path`` and build an engine over it; an artifact
        the engine cannot serve raises ArtifactError (never a bare KeyError)."""
        artifact = load_artifact(Path(path), verify=verify)
        try:
            return cls(artifact)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ArtifactError(f"{path}: cannot serve this artifact "
                                f"({type(exc).__name__}: {exc})") from None

    # ----------------------------------------------------------------- facts
    @property
    def name(self) -> str:
        return self.artifact.name

    def artifact_summary(self) -> dict:
        """Manifest facts a client shows: which artifact, from what source, how built."""
        m = self.artifact.manifest
        source = dict(m.get("source") or {})
        return {
            "name": str(m.get("name") or self.artifact.name),
            "created_at": m.get("created_at"),
            "vibemap_version": m.get("vibemap_version"),
            "format_version": m.get("format_version"),
            "source": source,
            "synthetic": bool(source.get("synthetic", False)),
            "label": source.get("label") or source.get("file"),
            "rows": self.n_tracks,
            "row_counts": dict(m.get("rows") or {}),
            "features": list(self.features),
            "n_clusters": len(self._vibes),
            "metric": self.metric,
            "index": (m.get("build") or {}).get("index", "flat"),
            "evaluated": bool((m.get("build") or {}).get("evaluated", False)),
            "scaler": {"features": list(self.features), "scale": self._scale.tolist(),
                       "mean": np.asarray(self.scaler.mean, dtype=np.float64).tolist()},
        }

    def validation(self) -> dict:
        """metrics.json as built (``{"evaluated": false}`` for a --no-eval build)."""
        return self.artifact.metrics

    def vibes(self) -> list[dict]:
        return self._vibe_table

    def vibe(self, key: int | str) -> dict:
        return self._vibe_table[self._vibe_position(self.resolve_vibe(key))]

    def _vibe_position(self, vibe_id: int) -> int:
        return sorted(self._vibes).index(vibe_id)

    def _vibe_entry(self, v: int) -> dict:
        d = self._vibes[v]
        start, stop = self._partitions.get(v, (0, 0))
        F = self._F[start:stop]
        profile: dict[str, dict[str, float]] = {}
        if len(F):
            q = np.percentile(F, [10, 25, 50, 75, 90], axis=0)
            for j, f in enumerate(self.features):
                profile[f] = {k: round(float(q[i, j]), 6)
                              for i, k in enumerate(("p10", "p25", "median", "p75", "p90"))}
        # labels counted per distinct genre cell, cells in order of first row (as a row-by-row
        # count would meet them: most_common breaks ties by that order)
        cells = self._genre_cell[start:stop]
        sizes = np.bincount(cells, minlength=len(self._genre_labels))
        genres: Counter[str] = Counter()
        for cell in pd.unique(cells).tolist():
            for label in self._genre_labels[cell]:
                genres[label] += int(sizes[cell])
        centroid = d.get("centroid") or {}
        centroid_z = list(d.get("centroid_z") or [])
        return {
            "vibe_id": v,
            "name": self._vibe_names[v],
            "slug": slugify(self._vibe_names[v]),
            "size": int(d.get("size", stop - start)),
            "share": float(d.get("share", 0.0)),
            "signature": str(d.get("signature", "")),
            "centroid": {f: float(centroid[f]) for f in self.features if f in centroid},
            "centroid_z": {f: float(z) for f, z in zip(self.features, centroid_z, strict=False)},
            "profile": profile,
            "top_genres": [{"genre": g, "count": c} for g, c in genres.most_common(5)],
            "typical_tracks": [self.summary(r)
                               for r in self._typical_rows(start, stop, centroid_z)],
        }

    def _typical_rows(self, start: int, stop: int, centroid_z: list[float], n: int = 5
                      ) -> list[int]:
        """The ``n`` rows of a vibe nearest its centroid in z-space, nearest first."""
        if stop <= start or len(centroid_z) != len(self.features):
            return []
        Z = (self._F[start:stop] - np.asarray(self.scaler.mean)) / self._scale
        d = ((Z - np.asarray(centroid_z)) ** 2).sum(axis=1)
        top = np.argsort(d, kind="stable")[:n]
        return [start + int(i) for i in top]

    def resolve_vibe(self, key: int | str) -> int:
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
                found = self._vibe_lookup.get(fold(text), self._vibe_lookup.get(slugify(text)))
                if found is None:
                    raise VibeNotFound(key, sorted(self._vibe_names.values()))
                vibe_id = found
        if vibe_id not in self._vibes:
            raise VibeNotFound(key, sorted(self._vibe_names.values()))
        return vibe_id

    def row_of(self, track_id: str) -> int:
        row = self._row_of.get(str(track_id))
        if row is None:
            raise TrackNotFound(str(track_id))
        return row

    def summary(self, row: int) -> dict:
        """Metadata of catalogue row ``row`` (the fields every result carries)."""
        v = int(self._vibe_of[row])
        return {
            "track_id": self._ids[row],
            "name": self._names[row],
            "artist": self._artist_values[self._artist_of[row]],
            "genres": list(self._genre_labels[self._genre_cell[row]]),
            "popularity": _number_or_none(float(self._popularity[row])),
            "release_year": _int_or_none(float(self._year_arr[row])),
            "vibe_id": v,
            "vibe_name": self._vibe_names[v],
        }

    def feature_rows(self, rows: np.ndarray) -> np.ndarray:
        """float64 (len(rows), d): the features of catalogue rows, in original units."""
        return self._F[np.asarray(rows, dtype=np.int64)]

    def track(self, track_id: str) -> dict:
        """One track: metadata, duration and the features in original units."""
        row = self.row_of(track_id)
        out = self.summary(row)
        out["duration_ms"] = _int_or_none(float(self._durations[row]))
        out["features"] = dict(zip(self.features, self._F[row].tolist(), strict=True))
        return out

    # ----------------------------------------------------------------- scope
    def _full_scope(self) -> Scope:
        return Scope(None, None, 0, self.n_tracks)

    def _vibe_scope(self, vibe_id: int) -> Scope:
        start, stop = self._partitions[vibe_id]
        return Scope(vibe_id, self._vibe_names[vibe_id], start, stop)

    def _scope(self, value: int | str | None, seed_rows: Sequence[int], default: str) -> Scope:
        if value is None or (isinstance(value, str) and not value.strip()):
            value = default
        if isinstance(value, str) and value.strip().lower() in ANY_SCOPES:
            return self._full_scope()
        if isinstance(value, str) and value.strip().lower() == SAME_SCOPE:
            if not seed_rows:
                raise InvalidQuery("scope 'same' needs at least one seed track")
            vibes = sorted({int(self._vibe_of[r]) for r in seed_rows})
            if len(vibes) > 1:
                names = ", ".join(f"{v} ({self._vibe_names[v]})" for v in vibes)
                raise InvalidQuery(f"scope 'same' is ambiguous: the seeds are in vibes {names}; "
                                   "name one vibe or use 'any'")
            return self._vibe_scope(vibes[0])
        return self._vibe_scope(self.resolve_vibe(value))

    # --------------------------------------------------------------- ranking
    def _scores(self, q: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Exact similarity of query ``q`` (index space) to rows [start, stop)."""
        X = self._X[start:stop]
        if self.metric == "cosine":
            return X @ q
        diff = X - q
        return -np.einsum("ij,ij->i", diff, diff)

    def _take(self, rows: Iterable[int], scores: Iterable[float], exclude: set[int],
              need: int, max_per_artist: int | None) -> tuple[list[int], list[float]]:
        out_rows: list[int] = []
        out_scores: list[float] = []
        counts: dict[int, int] = {}
        codes = self._artist_code
        for r, s in zip(rows, scores, strict=True):
            if r < 0 or r in exclude:
                continue
            if max_per_artist is not None:
                a = int(codes[r])
                c = counts.get(a, 0)
                if c >= max_per_artist:
                    continue
                counts[a] = c + 1
            out_rows.append(r)
            out_scores.append(s)
            if len(out_rows) >= need:
                break
        return out_rows, out_scores

    def _ranked(self, q: np.ndarray, scope: Scope, mask: np.ndarray | None, exclude: set[int],
                need: int, max_per_artist: int | None) -> tuple[list[int], list[float]]:
        """The best ``need`` rows of ``scope`` by score desc (ties: lower row first) that pass
        ``mask`` (bool over the scope's rows), are not in ``exclude`` and keep at most
        ``max_per_artist`` per artist. Exact: the candidate pool widens until ``need`` rows
        pass or the scope is exhausted."""
        size = scope.size
        if size == 0 or need <= 0:
            return [], []
        if mask is None:
            # no row filter: FAISS over the scope's (sub-)index, doubling k as exclusions bite
            k = min(size, need + len(exclude) + (need if max_per_artist is not None else 0))
            while True:
                D, rows_ = self._index.search(q[None, :], k, scope.vibe_id)
                scores, rows = D[0], rows_[0]
                order = np.lexsort((rows, -scores))
                picked = self._take(rows[order].tolist(), scores[order].tolist(), exclude,
                                    need, max_per_artist)
                if len(picked[0]) >= need or k >= size:
                    return picked
                k = min(size, 2 * k)
        local = np.flatnonzero(mask)
        if exclude:
            local = local[~np.isin(local + scope.start, np.fromiter(exclude, dtype=np.int64))]
        s = self._scores(q, scope.start, scope.stop)[local]
        m = len(local)
        k = min(m, need)
        while True:
            part = np.argpartition(-s, k - 1)[:k] if 0 < k < m else np.arange(m)
            part = part[np.lexsort((local[part], -s[part]))]
            picked = self._take((local[part] + scope.start).tolist(), s[part].tolist(), set(),
                                need, max_per_artist)
            if len(picked[0]) >= need or k >= m:
                return picked
            k = min(m, 2 * k)

    def _mmr(self, rows: list[int], scores: list[float], need: int, diversity: float,
             max_per_artist: int | None) -> tuple[list[int], list[float]]:
        """Maximal marginal relevance over a candidate pool (sorted by score desc):
        pick argmax of (1 - diversity) * sim(query) - diversity * max sim to picked."""
        if not rows:
            return [], []
        R = np.asarray(rows, dtype=np.int64)
        S = np.asarray(scores, dtype=np.float64)
        V = self._X[R].astype(np.float64)
        codes = self._artist_code[R]
        available = np.ones(len(R), dtype=bool)
        max_sim = np.full(len(R), -np.inf)
        counts: dict[int, int] = {}
        chosen: list[int] = []
        for _ in range(min(need, len(R))):
            value = (1.0 - diversity) * S - diversity * max_sim if chosen else S.copy()
            value[~available] = -np.inf
            i = int(np.argmax(value))
            if not available[i]:
                break
            available[i] = False
            chosen.append(i)
            if max_per_artist is not None:
                a = int(codes[i])
                counts[a] = counts.get(a, 0) + 1
                if counts[a] >= max_per_artist:
                    available[codes == a] = False
            if self.metric == "cosine":
                sim = V @ V[i]
            else:
                diff = V - V[i]
                sim = -np.einsum("ij,ij->i", diff, diff)
            np.maximum(max_sim, sim, out=max_sim)
        return [rows[i] for i in chosen], [scores[i] for i in chosen]

    # ----------------------------------------------------------- explanation
    def _results(self, rows: list[int], scores: list[float], ref: np.ndarray,
                 first_rank: int) -> list[dict]:
        """Result dicts with rank, score and the features closest to / furthest from ``ref``
        (original units; distance measured in scaler units so features compare)."""
        if not rows:
            return []
        idx = np.asarray(rows, dtype=np.int64)
        F = self._F[idx]
        dz = np.abs(F - ref) / self._scale
        order = np.argsort(dz, axis=1, kind="stable")
        d = len(self.features)
        e = max(1, min(EXPLAIN_FEATURES, d // 2))
        closest = order[:, :e].tolist()
        furthest = order[:, ::-1][:, :e].tolist()
        Fl = np.round(F, 6).tolist()
        ref_l = np.round(ref, 6).tolist()
        feats = self.features
        out = []
        for i, (r, s) in enumerate(zip(rows, scores, strict=True)):
            item = self.summary(r)
            item["score"] = round(float(s), 6)
            item["rank"] = first_rank + i
            fr = Fl[i]
            item["explanation"] = {
                "closest": [{"feature": feats[j], "track": fr[j], "query": ref_l[j]}
                            for j in closest[i]],
                "furthest": [{"feature": feats[j], "track": fr[j], "query": ref_l[j]}
                             for j in furthest[i]],
            }
            out.append(item)
        return out

    # ------------------------------------------------------------ public API
    def similar(self, track_id: str, limit: int = 10, scope: int | str | None = SAME_SCOPE,
                max_per_artist: int | None = None, offset: int = 0) -> dict:
        """Tracks most similar to one track (the track itself excluded).

        scope : "same" (the track's own vibe, searched in that vibe's sub-index), "any"
            (every vibe), or a vibe id / name (case-insensitive).
        Returns {"seed", "scope", "limit", "offset", "results"}; results are sorted by
        score desc and ranked from offset + 1.
        """
        limit = _int_param("limit", limit, 1, MAX_LIMIT)
        offset = _int_param("offset", offset, 0, MAX_OFFSET)
        if max_per_artist is not None:
            max_per_artist = _int_param("max_per_artist", max_per_artist, 1)
        row = self.row_of(track_id)
        sc = self._scope(scope, [row], SAME_SCOPE)
        rows, scores = self._ranked(self._X[row], sc, None, {row}, offset + limit, max_per_artist)
        rows, scores = rows[offset:], scores[offset:]
        return {
            "seed": self.summary(row),
            "scope": sc.to_dict(),
            "limit": limit,
            "offset": offset,
            "results": self._results(rows, scores, self._F[row], offset + 1),
        }

    def parse_feature_params(self, params: Mapping[str, object]
                             ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        """Split ``target_<f>`` / ``min_<f>`` / ``max_<f>`` keys into three dicts keyed by
        feature (values finite floats, None values skipped); unknown keys or features raise
        InvalidQuery, and so does min_<f> > max_<f>."""
        targets: dict[str, float] = {}
        mins: dict[str, float] = {}
        maxs: dict[str, float] = {}
        buckets = {"target_": targets, "min_": mins, "max_": maxs}
        for key, value in params.items():
            prefix = next((p for p in buckets if key.startswith(p)), None)
            if prefix is None:
                raise InvalidQuery(f"unknown parameter {key!r}")
            bucket, feature = buckets[prefix], key[len(prefix):]
            if feature not in self._feature_col:
                raise InvalidQuery(f"unknown feature {feature!r} in {key!r}; "
                                   f"features are {', '.join(self.features)}")
            if value is None:
                continue
            bucket[feature] = _finite(key, value)
        for f in sorted(mins.keys() & maxs.keys()):
            if mins[f] > maxs[f]:
                raise InvalidQuery(f"min_{f}={mins[f]:g} is greater than max_{f}={maxs[f]:g}")
        return targets, mins, maxs

    def _query(self, seed_rows: list[int], negative_rows: list[int], targets: dict[str, float]
               ) -> tuple[np.ndarray, np.ndarray]:
        """(query in index space, the same combination in original units for explanations)."""
        positives = [self._X[r].astype(np.float64) for r in seed_rows]
        points = [self._F[r] for r in seed_rows]
        if targets:
            base = (self._F[seed_rows].mean(axis=0) if seed_rows
                    else np.asarray(self.scaler.mean, dtype=np.float64).copy())
            for f, v in targets.items():
                base[self._feature_col[f]] = v
            with np.errstate(over="ignore"):
                t_z = self.scaler.transform(base[None, :])
            # beyond a million standard deviations a target means nothing and overflows L2
            if not np.all(np.abs(t_z) < 1e6):
                raise InvalidQuery("target values are too far outside the catalogue's range")
            t_index = to_index_space(t_z, self.metric)[0]
            positives.append(t_index.astype(np.float64))
            points.append(base)
        q = np.mean(positives, axis=0)
        ref = np.mean(points, axis=0)
        if negative_rows:
            q = 2.0 * q - self._X[negative_rows].astype(np.float64).mean(axis=0)
            ref = 2.0 * ref - self._F[negative_rows].mean(axis=0)
        if self.metric == "cosine":
            norm = float(np.linalg.norm(q))
            if norm < 1e-9:
                raise InvalidQuery(
                    "the combined query vector is zero (targets at the catalogue mean, or "
                    "negatives cancelling the seeds); there is no direction to rank by")
            q = q / norm
        return np.ascontiguousarray(q, dtype=np.float32), ref

    def _filter_mask(self, scope: Scope, mins: dict[str, float], maxs: dict[str, float],
                     min_popularity: float | None, max_popularity: float | None,
                     genres: list[str], exclude_artists: list[str]) -> np.ndarray | None:
        if not (mins or maxs or genres or exclude_artists) and \
                min_popularity is None and max_popularity is None:
            return None
        sl = slice(scope.start, scope.stop)
        mask = np.ones(scope.size, dtype=bool)
        for f, v in mins.items():
            mask &= self._F[sl, self._feature_col[f]] >= v
        for f, v in maxs.items():
            mask &= self._F[sl, self._feature_col[f]] <= v
        pop = self._popularity[sl]
        if min_popularity is not None:
            mask &= pop >= min_popularity
        if max_popularity is not None:
            mask &= pop <= max_popularity
        if genres:
            mask &= self._genre_mask(genres)[sl]
        if exclude_artists:
            codes = [self._artist_codes[a] for a in {fold(x) for x in exclude_artists}
                     if a in self._artist_codes]
            if codes:
                mask &= ~np.isin(self._artist_code[sl], codes)
        return mask

    def _genre_mask(self, tokens: list[str]) -> np.ndarray:
        mask = np.zeros(self.n_tracks, dtype=bool)
        for token in tokens:
            rows = self._genre_rows.get(token)
            if rows is not None:
                mask[rows] = True
        return mask

    def recommend(self, seed_tracks: Sequence[str] | str = (),
                  negative_tracks: Sequence[str] | str = (), *,
                  vibe: int | str | None = None,
                  genres: Sequence[str] | str | None = None,
                  min_popularity: float | None = None, max_popularity: float | None = None,
                  exclude_artists: Sequence[str] | str | None = None,
                  max_per_artist: int | None = None, diversity: float = 0.0,
                  limit: int = 10, offset: int = 0,
                  **feature_params: float | None) -> dict:
        """Next best tracks for up to 5 seeds and/or target feature values.

        Query: Qdrant's average-vector rule. positives = index vectors of the seeds plus
        ONE target vector when any ``target_<feature>`` is given (features not given are
        taken from the seeds' mean, or from the catalogue mean for a target-only query;
        original units -> scaler -> index space). query = mean(positives) without
        negatives, else 2 * mean(positives) - mean(negatives); re-normalised under
        cosine. Seeds and negatives are never returned.

        Parameters
        ----------
        seed_tracks, negative_tracks : up to 5 track ids each (duplicates ignored).
        vibe : scope: "any" (default), "same" (the seeds' one vibe), or a vibe id / name.
        genres : genre labels; a track passes if it has any of them (case-insensitive).
        min_popularity, max_popularity : inclusive; tracks of unknown popularity fail them.
        exclude_artists : artist names (case- and accent-insensitive) never returned.
        max_per_artist : at most this many results per artist (over offset + limit).
        diversity : 0 (pure similarity) .. 1; > 0 re-ranks a pool of max(300, 2 * (offset
            + limit)) candidates by MMR; ``score`` stays the similarity to the query.
        limit : 1..100; offset : 0..10000 (paging over the same ranking).
        **feature_params : ``target_<f>`` (original units), ``min_<f>`` / ``max_<f>`` (exact,
            inclusive filters) for the artifact's features.

        Returns {"seeds", "negatives", "targets", "scope", "limit", "offset", "results"}.
        """
        limit = _int_param("limit", limit, 1, MAX_LIMIT)
        offset = _int_param("offset", offset, 0, MAX_OFFSET)
        if max_per_artist is not None:
            max_per_artist = _int_param("max_per_artist", max_per_artist, 1)
        diversity = _finite("diversity", diversity)
        if not 0.0 <= diversity <= 1.0:
            raise InvalidQuery(f"diversity must be between 0 and 1, got {diversity:g}")
        min_pop = None if min_popularity is None else _finite("min_popularity", min_popularity)
        max_pop = None if max_popularity is None else _finite("max_popularity", max_popularity)
        if min_pop is not None and max_pop is not None and min_pop > max_pop:
            raise InvalidQuery(f"min_popularity={min_pop:g} is greater than "
                               f"max_popularity={max_pop:g}")
        targets, mins, maxs = self.parse_feature_params(feature_params)

        seeds = list(dict.fromkeys(t.strip() for t in _as_list(seed_tracks) if t.strip()))
        negatives = list(dict.fromkeys(t.strip() for t in _as_list(negative_tracks) if t.strip()))
        if len(seeds) > MAX_SEEDS:
            raise InvalidQuery(f"at most {MAX_SEEDS} seed_tracks, got {len(seeds)}")
        if len(negatives) > MAX_NEGATIVES:
            raise InvalidQuery(f"at most {MAX_NEGATIVES} negative_tracks, got {len(negatives)}")
        both = set(seeds) & set(negatives)
        if both:
            raise InvalidQuery(f"track(s) both seed and negative: {', '.join(sorted(both))}")
        if not seeds and not targets:
            raise InvalidQuery("give at least one seed track or one target_<feature>")
        seed_rows = [self.row_of(t) for t in seeds]
        negative_rows = [self.row_of(t) for t in negatives]

        scope = self._scope(vibe, seed_rows, "any")
        q, ref = self._query(seed_rows, negative_rows, targets)
        mask = self._filter_mask(scope, mins, maxs, min_pop, max_pop,
                                 genre_tokens(_as_list(genres)), _as_list(exclude_artists))
        exclude = set(seed_rows) | set(negative_rows)
        need = offset + limit
        if diversity > 0:
            pool = self._ranked(q, scope, mask, exclude, max(MMR_POOL, 2 * need), None)
            rows, scores = self._mmr(*pool, need, diversity, max_per_artist)
        else:
            rows, scores = self._ranked(q, scope, mask, exclude, need, max_per_artist)
        rows, scores = rows[offset:], scores[offset:]
        return {
            "seeds": [self.summary(r) for r in seed_rows],
            "negatives": [self.summary(r) for r in negative_rows],
            "targets": targets,
            "scope": scope.to_dict(),
            "limit": limit,
            "offset": offset,
            "results": self._results(rows, scores, ref, offset + 1),
        }

    def filter_mask(self, vibe: int | str | None = None, genre: Sequence[str] | str | None = None,
                    year_min: int | None = None, year_max: int | None = None
                    ) -> np.ndarray | None:
        """bool (n,) mask of the rows passing the browse filters; None when there are none."""
        allowed = None
        if vibe is not None and not (isinstance(vibe, str)
                                     and vibe.strip().lower() in ("", *ANY_SCOPES)):
            start, stop = self._partitions[self.resolve_vibe(vibe)]
            allowed = np.zeros(self.n_tracks, dtype=bool)
            allowed[start:stop] = True
        tokens = genre_tokens(_as_list(genre))
        if tokens:
            gm = self._genre_mask(tokens)
            allowed = gm if allowed is None else allowed & gm
        if year_min is not None or year_max is not None:
            lo = -np.inf if year_min is None else _finite("year_min", year_min)
            hi = np.inf if year_max is None else _finite("year_max", year_max)
            if lo > hi:
                raise InvalidQuery(f"year_min={lo:g} is greater than year_max={hi:g}")
            ym = (self._year_arr >= lo) & (self._year_arr <= hi)
            allowed = ym if allowed is None else allowed & ym
        return allowed

    def matching_rows(self, q: str | None = None, vibe: int | str | None = None,
                      genre: Sequence[str] | str | None = None, year_min: int | None = None,
                      year_max: int | None = None) -> np.ndarray:
        """Every row matching the text query and filters, in search-rank order."""
        rows, _ = self._search.search(q, self.filter_mask(vibe, genre, year_min, year_max),
                                      self.n_tracks, 0)
        return rows

    def search_tracks(self, q: str | None = None, vibe: int | str | None = None,
                      genre: Sequence[str] | str | None = None, limit: int = 20,
                      offset: int = 0, year_min: int | None = None,
                      year_max: int | None = None) -> dict:
        """Tracks whose name or artist matches ``q`` (case- and accent-insensitive), ranked
        exact > prefix > substring, then by popularity; without ``q``, the most popular.

        vibe : restrict to one vibe (id or name); genre : genre label(s), any matches;
        year_min, year_max : inclusive release-year bounds (unknown years fail them).
        Returns {"q", "total", "limit", "offset", "results"}.
        """
        limit = _int_param("limit", limit, 1, MAX_SEARCH_LIMIT)
        offset = _int_param("offset", offset, 0, MAX_OFFSET)
        allowed = self.filter_mask(vibe, genre, year_min, year_max)
        rows, total = self._search.search(q, allowed, limit, offset)
        return {
            "q": q or "",
            "total": int(total),
            "limit": limit,
            "offset": offset,
            "results": [self.summary(int(r)) for r in rows],
        }
