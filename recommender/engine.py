"""The recommendation engine: the public calls over one loaded artifact (no HTTP).

A facade over the catalogue (per-row data, :mod:`.catalogue`), the vibes (:mod:`.vibes`),
query building (:mod:`.query`), ranking (:mod:`.ranking`) and explanations
(:mod:`.explain`). It checks the types and limits of its arguments and raises domain
errors (:mod:`.errors`); scores are the index's similarities, larger is better.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from vibemap.indexer.artifact import Artifact, open_artifact
from vibemap.indexer.checksums import Identity
from vibemap.indexer.errors import ArtifactError
from vibemap.recommender.catalogue import Catalogue
from vibemap.recommender.cone_scan import ConeScan, scope_lists
from vibemap.recommender.errors import InvalidQuery
from vibemap.recommender.explain import era_explanation, explanations
from vibemap.recommender.filtered_ranking import FilteredRanking
from vibemap.recommender.flat_scan import FlatScan
from vibemap.recommender.query import (
    COMBINATION_RULE,
    ERA_RULE,
    MAX_NEGATIVES,
    MAX_SEEDS,
    RowFilters,
    as_list,
    bool_param,
    build_query,
    finite_number,
    int_param,
    parse_feature_params,
    popularity_bounds,
    query_year,
    seed_lists,
    year_params,
)
from vibemap.recommender.ranking import Best, Caps, Scope, mmr, take_ranked, top_rows
from vibemap.recommender.text import genre_tokens
from vibemap.recommender.vibes import SAME_SCOPE, Vibes, is_any

__all__ = ["COMBINATION_RULE", "ERA_RULE", "MAX_LIMIT", "MAX_NEGATIVES", "MAX_OFFSET",
           "MAX_SEARCH_LIMIT", "MAX_SEEDS", "Engine", "set_search_threads"]

MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_SEARCH_LIMIT = 100
# MMR re-ranks a fixed-size pool so that pages of one diversified query agree
# (the pool only grows once offset + limit exceeds half of it).
MMR_POOL = 300


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


class Engine:
    """Similar tracks, recommendations and text search over one artifact.

    Build it once per artifact (``Engine(load_artifact(path))`` or ``Engine.load(path)``);
    it is immutable afterwards, so one instance can serve concurrent requests and a
    reload builds a new one.
    """

    def __init__(self, artifact: Artifact) -> None:
        self.features: tuple[str, ...] = tuple(artifact.features)
        self.metric = artifact.metric
        self.scaler = artifact.scaler
        self.n_tracks = artifact.n_rows
        self.catalogue = Catalogue(artifact)
        if artifact.vibe_facts is None:
            raise ValueError("the artifact carries no vibe facts (load it with load_artifact)")
        self._vibes = Vibes(artifact.vibe_facts, self.catalogue)
        # exact single-query search: FAISS's answers, faster on a flat index (flat_scan)
        self._index = FlatScan(artifact.index, self.catalogue.X)
        cones = artifact.cone_index()  # exact filtered ranking without scoring every row
        self._filtered = FilteredRanking(self.catalogue, None if cones is None else ConeScan(
            cones, self.catalogue.X, scope_lists(artifact.index.spec)), self.metric)
        # the era column (vibemap.indexer.era) and, with it, the nine-feature vectors that
        # audio_only ranks by (exact, brute force); None for a nine-feature artifact
        self.era = artifact.era
        self._audio = self.catalogue.audio if self.era is not None else None
        self.artifact = artifact  # every per-row value is a view of its mapped files

    @classmethod
    def load(cls, path: Path | str, verify: bool = True,
             trusted: Mapping[str, Identity] | None = None) -> Engine:
        """Load and verify the artifact at ``path`` and build an engine over it (while its
        checksums are computed; returned only once they match; ``trusted``: see
        :func:`open_artifact`); an artifact the engine cannot serve raises ArtifactError."""

        def serve(artifact: Artifact) -> Engine:
            try:
                return cls(artifact)
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                raise ArtifactError(f"{path}: cannot serve this artifact "
                                    f"({type(exc).__name__}: {exc})") from None

        return open_artifact(Path(path), serve, verify, trusted=trusted)

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
            "n_clusters": len(self._vibes.entries),
            "metric": self.metric,
            "index": (m.get("build") or {}).get("index", "flat"),
            "evaluated": bool((m.get("build") or {}).get("evaluated", False)),
            "scaler": {"features": list(self.features),
                       "mean": np.asarray(self.scaler.mean, dtype=np.float64).tolist(),
                       "scale": self.catalogue.scale.tolist()},
        }

    def validation(self) -> dict:
        """metrics.json as built (``{"evaluated": false}`` for a --no-eval build)."""
        return self.artifact.metrics

    def vibes(self) -> list[dict]:
        return self._vibes.entries

    def vibe(self, key: int | str) -> dict:
        return self._vibes.entry(self.resolve_vibe(key))

    def resolve_vibe(self, key: int | str) -> int:
        """A vibe id from an id (int or digits) or a name / slug (case-insensitive)."""
        return self._vibes.resolve(key)

    def row_of(self, track_id: str) -> int:
        return self.catalogue.row_of(track_id)

    def summary(self, row: int) -> dict:
        """Metadata of catalogue row ``row`` (the fields every result carries)."""
        return self.catalogue.summary(row)

    def feature_rows(self, rows: np.ndarray) -> np.ndarray:
        """float64 (len(rows), d): the features of catalogue rows, in original units."""
        return self.catalogue.F[np.asarray(rows, dtype=np.int64)]

    def track(self, track_id: str) -> dict:
        """One track: metadata, duration and the features in original units."""
        return self.catalogue.track(self.row_of(track_id))

    # ------------------------------------------------------------ ranking
    def _results(self, rows: list[int], scores: list[float], ref: np.ndarray,
                 first_rank: int, ref_year: float | None = None) -> list[dict]:
        """Result dicts: summary, score, rank from ``first_rank`` and the explanation (with
        the release years compared to ``ref_year`` when the artifact has an era column)."""
        if not rows:
            return []
        c = self.catalogue
        R = np.asarray(rows, dtype=np.int64)
        why = explanations(c.F[R], ref, c.scale, self.features)
        years = c.years[R].tolist() if self.era is not None else None
        out = c.summaries(R)
        for i, (item, s) in enumerate(zip(out, scores, strict=True)):
            item["score"] = round(float(s), 6)
            item["rank"] = first_rank + i
            item["explanation"] = why[i]
            if years is not None:
                why[i]["era"] = era_explanation(years[i], ref_year)
        return out

    def _caps(self, max_per_artist: int | None, dedupe_versions: bool,
              seed_rows: Sequence[int]) -> Caps:
        """The per-artist cap and, with ``dedupe_versions``, one result per song (its
        best-scoring version) and none of the seeds' songs."""
        c = self.catalogue
        if max_per_artist is not None:
            max_per_artist = int_param("max_per_artist", max_per_artist, 1)
        if not isinstance(dedupe_versions, bool | np.bool_):
            raise InvalidQuery(f"dedupe_versions must be true or false, got {dedupe_versions!r}")
        if not dedupe_versions:
            return Caps(c.artist_code, max_per_artist)
        return Caps(c.artist_code, max_per_artist, c.version_of,
                    frozenset(int(c.version_of[r]) for r in seed_rows))

    def _top(self, best: Best | None, X: np.ndarray, q: np.ndarray, scope: Scope,
             exclude: set[int], need: int, caps: Caps) -> tuple[list[int], list[float]]:
        """The first ``need`` rows of ``best``'s ranking passing ``caps``; without one (no
        filters), of the index's search of the scope."""
        if best is None:
            return top_rows(self._index, X, q, scope, None, exclude, need, caps)
        return take_ranked(best, need, caps)

    def _era_facts(self, audio_only: bool, ref_year: float | None) -> dict:
        """The response's ``era`` entry (only for an artifact with an era column)."""
        if self.era is None:
            return {}
        year = None if ref_year is None else int(round(ref_year))
        return {"era": {"weight": self.era.weight, "audio_only": audio_only,
                        "query_year": year}}

    def _space(self, audio_only: object) -> tuple[np.ndarray, bool]:
        """(vectors to rank by, brute force?): the index vectors, or with ``audio_only``
        on an era artifact the nine-feature vectors, scored exactly by numpy."""
        if bool_param("audio_only", audio_only) and self._audio is not None:
            return self._audio, True
        return self.catalogue.X, False

    def similar(self, track_id: str, limit: int = 10, scope: int | str | None = SAME_SCOPE,
                max_per_artist: int | None = None, offset: int = 0,
                dedupe_versions: bool = True, audio_only: bool = False) -> dict:
        """Tracks most similar to one track (the track itself excluded; with
        ``dedupe_versions``, its other versions too, and one version per song).

        scope : "same" (the track's own vibe, searched in that vibe's sub-index), "any"
            (every vibe), or a vibe id / name (case-insensitive).
        audio_only : rank by the nine audio features alone on an artifact with an era
            column (:data:`ERA_RULE`); the era column, when there is one, counts otherwise.
        Returns {"seed", "scope", "limit", "offset", "results"}; results are sorted by
        score desc and ranked from offset + 1.
        """
        limit = int_param("limit", limit, 1, MAX_LIMIT)
        offset = int_param("offset", offset, 0, MAX_OFFSET)
        c = self.catalogue
        row = c.row_of(track_id)
        caps = self._caps(max_per_artist, dedupe_versions, [row])
        sc = self._vibes.scope(scope, [row], SAME_SCOPE)
        X, brute = self._space(audio_only)
        rows, scores = top_rows(self._index, X, X[row], sc,
                                np.ones(sc.size, dtype=bool) if brute else None, {row},
                                offset + limit, caps)
        year = float(c.years[row])
        year = year if math.isfinite(year) else None
        return {
            "seed": c.summary(row),
            "scope": sc.to_dict(),
            "limit": limit,
            "offset": offset,
            "results": self._results(rows[offset:], scores[offset:], c.F[row], offset + 1,
                                     year),
            **self._era_facts(brute, year),
        }

    def recommend(self, seed_tracks: Sequence[str] | str = (),
                  negative_tracks: Sequence[str] | str = (), *,
                  vibe: int | str | None = None,
                  genres: Sequence[str] | str | None = None,
                  min_popularity: float | None = None, max_popularity: float | None = None,
                  exclude_artists: Sequence[str] | str | None = None,
                  max_per_artist: int | None = None, diversity: float = 0.0,
                  limit: int = 10, offset: int = 0, dedupe_versions: bool = True,
                  target_year: float | None = None, min_year: float | None = None,
                  max_year: float | None = None, audio_only: bool = False,
                  **feature_params: float | None) -> dict:
        """Next best tracks for up to 5 seeds and/or target feature values.

        The query follows :data:`COMBINATION_RULE` (Qdrant's average-vector rule); seeds
        and negatives are never returned.

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
        dedupe_versions : one result per song (its best-scoring version; versions share
            a :mod:`vibemap.indexer.versions` key) and no version of a seed or negative.
        target_year : the query's era, "like the seeds, from this year" (:data:`ERA_RULE`;
            refused on an artifact without an era column and with ``audio_only``);
            min_year, max_year : exact, inclusive year filters (unknown years fail them).
        audio_only : rank by the nine audio features alone (exact; :data:`ERA_RULE`).
        **feature_params : ``target_<f>`` (original units), ``min_<f>`` / ``max_<f>`` (exact,
            inclusive filters) for the artifact's features.

        Returns {"seeds", "negatives", "targets", "scope", "limit", "offset", "results"}.
        """
        limit = int_param("limit", limit, 1, MAX_LIMIT)
        offset = int_param("offset", offset, 0, MAX_OFFSET)
        diversity = finite_number("diversity", diversity)
        if not 0.0 <= diversity <= 1.0:
            raise InvalidQuery(f"diversity must be between 0 and 1, got {diversity:g}")
        min_pop, max_pop = popularity_bounds(min_popularity, max_popularity)
        targets, mins, maxs = parse_feature_params(feature_params, self.features)
        target_year, min_year, max_year = year_params(target_year, min_year, max_year)
        X, brute = self._space(audio_only)
        era = None if brute else self.era
        if target_year is not None and era is None:
            raise InvalidQuery("target_year needs an artifact built with an era column "
                               "(--era-weight > 0)" if self.era is None else
                               "target_year steers the era; audio_only=true ranks without it")
        seeds, negatives = seed_lists(seed_tracks, negative_tracks, bool(targets))
        c = self.catalogue
        seed_rows = [c.row_of(t) for t in seeds]
        negative_rows = [c.row_of(t) for t in negatives]
        caps = self._caps(max_per_artist, dedupe_versions, seed_rows + negative_rows)

        scope = self._vibes.scope(vibe, seed_rows, "any")
        q, ref = build_query(X, c.F, self.scaler, self.metric, self.features, seed_rows,
                             negative_rows, targets, era, c.years, target_year)
        ref_year = query_year(c.years, seed_rows, negative_rows, target_year, bool(targets),
                              None if self.era is None else self.era.mean)
        filters = RowFilters(mins, maxs, min_pop, max_pop, genre_tokens(as_list(genres)),
                             as_list(exclude_artists), min_year, max_year)
        exclude = set(seed_rows) | set(negative_rows)
        best = self._filtered.best(X, q, scope, filters, exclude, brute)
        need = offset + limit
        if diversity > 0:
            rows, scores = self._top(best, X, q, scope, exclude, max(MMR_POOL, 2 * need),
                                     replace(caps, per_artist=None))
            R = np.asarray(rows, dtype=np.int64)
            picked = mmr(X[R].astype(np.float64), np.asarray(scores, dtype=np.float64),
                         c.artist_code[R], need, diversity, self.metric, caps.per_artist)
            rows, scores = [rows[i] for i in picked], [scores[i] for i in picked]
        else:
            rows, scores = self._top(best, X, q, scope, exclude, need, caps)
        return {
            "seeds": c.summaries(seed_rows),
            "negatives": c.summaries(negative_rows),
            "targets": targets,
            "scope": scope.to_dict(),
            "limit": limit,
            "offset": offset,
            "results": self._results(rows[offset:], scores[offset:], ref, offset + 1,
                                     ref_year),
            **self._era_facts(brute, ref_year),
        }

    # ------------------------------------------------------------- browsing
    def browse_mask(self, vibe: int | str | None = None, genre: Sequence[str] | str | None = None,
                    year_min: int | None = None, year_max: int | None = None
                    ) -> np.ndarray | None:
        """bool (n,) mask of the rows passing the browse filters; None when there are none."""
        span = None if is_any(vibe) else self._vibes.span(self.resolve_vibe(vibe))
        return self.catalogue.browse_mask(span, genre_tokens(as_list(genre)), year_min, year_max)

    def matching_rows(self, q: str | None = None, vibe: int | str | None = None,
                      genre: Sequence[str] | str | None = None, year_min: int | None = None,
                      year_max: int | None = None) -> np.ndarray:
        """Every row matching the text query and filters, in search-rank order."""
        rows, _ = self.catalogue.search.search(
            q, self.browse_mask(vibe, genre, year_min, year_max), self.n_tracks, 0)
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
        limit = int_param("limit", limit, 1, MAX_SEARCH_LIMIT)
        offset = int_param("offset", offset, 0, MAX_OFFSET)
        allowed = self.browse_mask(vibe, genre, year_min, year_max)
        rows, total = self.catalogue.search.search(q, allowed, limit, offset)
        return {
            "q": q or "",
            "total": int(total),
            "limit": limit,
            "offset": offset,
            "results": self.catalogue.summaries(rows),
        }
