"""A fake vibemap API client for the UI handler tests: canned answers in the API's own
shapes (tests/test_ui_contract.py checks them against the API's response schemas and
against a real app in process), every call and every answer recorded."""

from __future__ import annotations

from typing import Any

from vibemap.ui.client import ApiError

FEATURES = ["energy", "danceability", "loudness", "speechiness", "acousticness",
            "instrumentalness", "liveness", "valence", "tempo"]
# the catalogue's StandardScaler, as GET /v1/artifact publishes it
SCALER = {"features": FEATURES,
          "mean": [0.5, 0.5, -20.0, 0.1, 0.5, 0.2, 0.15, 0.5, 110.0],
          "scale": [0.3, 0.3, 6.0, 0.05, 0.3, 0.1, 0.05, 0.3, 15.0]}


def _features(base: float, tempo: float) -> dict[str, float]:
    return {"energy": base, "danceability": base, "loudness": -30 + 20 * base,
            "speechiness": 0.1, "acousticness": 1 - base, "instrumentalness": 0.2,
            "liveness": 0.15, "valence": base, "tempo": tempo}


VIBE_NAMES = ["Party", "Chill Acoustic"]
TRACKS = [
    {"track_id": f"t{i}", "name": name, "artist": artist, "genres": [genre], "popularity": 50 + i,
     "release_year": 1990 + 5 * i, "vibe_id": vibe, "vibe_name": VIBE_NAMES[vibe],
     "duration_ms": 200_000, "features": _features(0.8 if vibe == 0 else 0.2, 120.0 + i)}
    for i, (name, artist, genre, vibe) in enumerate([
        ("Dancing Queen", "ABBA", "dance pop", 0), ("Waterloo", "ABBA", "dance pop", 0),
        ("Café del Mar", "Energy 52", "trance", 0), ("Holocene", "Bon Iver", "indie folk", 1),
        ("Skinny Love", "Bon Iver", "indie folk", 1), ("Re: Stacks", "Bon Iver", "indie folk", 1),
    ])
]


def summary(track: dict) -> dict:
    """A TrackDetail cut to the TrackSummary the list routes return."""
    return {k: v for k, v in track.items() if k not in ("features", "duration_ms")}


def _profile(base: float) -> dict:
    return {f: {"p10": v - 0.1, "p25": v - 0.05, "median": v, "p75": v + 0.05, "p90": v + 0.1}
            for f, v in _features(base, 110.0).items()}


VIBES = [
    {"vibe_id": 0, "name": "Party", "slug": "party", "size": 3, "share": 0.5,
     "signature": "danceability +1.2σ, energy +1.0σ",
     "centroid": _features(0.8, 125.0),
     "centroid_z": {f: (1.0 if f != "acousticness" else -1.0) for f in FEATURES},
     "profile": _profile(0.8), "top_genres": [{"genre": "dance pop", "count": 2}],
     "typical_tracks": [summary(TRACKS[1]), summary(TRACKS[0])]},
    {"vibe_id": 1, "name": "Chill Acoustic", "slug": "chill-acoustic", "size": 3, "share": 0.5,
     "signature": "acousticness +1.4σ, energy -1.1σ",
     "centroid": _features(0.2, 95.0),
     "centroid_z": {f: (-1.0 if f != "acousticness" else 1.0) for f in FEATURES},
     "profile": _profile(0.2), "top_genres": [{"genre": "indie folk", "count": 3}],
     "typical_tracks": [summary(TRACKS[3])]},
]


def _kloop(n_samples: int, elbow: int) -> dict:
    return {
        "n_samples": n_samples, "k_values": list(range(2, 11)), "elbow_k": elbow,
        "best_silhouette_k": 4, "best_davies_bouldin_k": 4, "best_calinski_harabasz_k": 3,
        "metrics": [{"n_clusters": k, "inertia": 1000.0 / (k - 1) if k <= 4 else 330.0 - 10 * k,
                     "silhouette": 0.8 - abs(k - 4) * 0.05,
                     "davies_bouldin": 0.3 + abs(k - 4) * 0.1,
                     "calinski_harabasz": 2000.0 - abs(k - 3) * 100} for k in range(2, 11)],
    }


KLOOP = _kloop(6, elbow=4)

METRICS = {
    "evaluated": True, "n_tracks": 6, "n_clusters": 2, "features": FEATURES,
    "k_loop": KLOOP,
    "chosen_k": {"k": 4, "reason": "Using K=4 as requested. All four criteria agree."},
    "silhouette": {"mean": 0.61, "per_vibe": [
        {"vibe_id": 0, "size": 3, "mean": 0.7, "negative_share": 0.0,
         "quantiles": [0.9, 0.8, 0.6, 0.5]},
        {"vibe_id": 1, "size": 3, "mean": 0.52, "negative_share": 0.1,
         "quantiles": [0.8, 0.6, 0.3, -0.05]}]},
    "outliers": {"eps": 0.55, "min_samples": 18, "rule": "knee of the k-distances",
                 "n_tracks": 6, "n_outliers": 1, "outlier_share": 0.16667, "n_clusters": 2,
                 "cluster_sizes": [3, 2],
                 "most_atypical": [{"row": 2, "k_distance": 0.9}]},
    "taxonomy": {"n_clusters": 2, "ari_vs_kmeans": 0.95, "cophenetic_correlation": 0.9,
                 "cophenetic_sample_size": 6, "vibe_ids": [0, 1],
                 "dendrogram": {"icoord": [[5, 5, 15, 15], [25, 25, 35, 35], [10, 10, 30, 30]],
                                "dcoord": [[0, 1, 1, 0], [0, 1.5, 1.5, 0], [1, 6, 6, 1.5]],
                                "ivl": ["(2)", "(1)", "(2)", "(1)"], "leaves": [7, 2, 8, 5],
                                "leaf_sizes": [2, 1, 2, 1], "leaf_vibe": [0, 0, 1, 1],
                                "leaf_vibe_share": [1.0, 1.0, 1.0, 0.8]}},
    "pca": {"explained_variance_ratio": [0.5, 0.2], "sample_size": 6,
            "readings": ["PC1 (50% of variance) = energy vs acousticness",
                         "PC2 (20% of variance) = speechiness"]},
    "genres": {"min_tracks": 1, "n_tracks": 6, "n_tracks_with_genre": 6, "vibe_ids": [0, 1],
               "genres": ["indie folk", "dance pop", "trance"],
               "counts": [[0, 3], [2, 0], [1, 0]],
               "per_genre": [{"genre": "indie folk", "tracks": 3, "dominant_vibe": 1,
                              "purity": 1.0},
                             {"genre": "dance pop", "tracks": 2, "dominant_vibe": 0,
                              "purity": 1.0},
                             {"genre": "trance", "tracks": 1, "dominant_vibe": 0,
                              "purity": 1.0}],
               "primary_genre_vs_vibe": {"nmi": 0.82, "ari": 0.7, "n_primary_genres": 3}},
    "basis": {"exact_max_tracks": 200_000, "sampled": False, "figures": {
        figure: {"method": "exact", "n": 6, "of": 6, "ci95": None, "label": "exact on 6 tracks"}
        for figure in ("k_loop.inertia", "k_loop.silhouette", "silhouette", "outliers",
                       "taxonomy", "pca")}},
}
NOT_EVALUATED = {"evaluated": False}


class FakeClient:
    """In-memory stand-in for ApiClient: the same methods, canned answers; ``calls`` records
    (method, argument) and ``answers`` (method, answer) for the contract test."""

    def __init__(self, *, synthetic: bool = True, metrics: dict | None = None,
                 down: bool = False, fail: dict[str, ApiError] | None = None,
                 source: dict | None = None, era: bool = False) -> None:
        self.synthetic = synthetic if source is None else bool(source.get("synthetic"))
        self.source = source  # a manifest source to answer with (e.g. the real demo's)
        self.era = era  # answer like an artifact built with an era column (weight 1)
        self.metrics = METRICS if metrics is None else metrics
        self.down = down
        self.fail = fail or {}  # method name -> the API error it raises
        self.calls: list[tuple[str, object]] = []
        self.answers: list[tuple[str, Any]] = []

    def _check(self, name: str, arg: object = None) -> None:
        self.calls.append((name, arg))
        if self.down:
            raise ApiError(0, "api_unreachable", "The vibemap API at http://x is not reachable.")
        if name in self.fail:
            raise self.fail[name]

    def _answer(self, name: str, body: Any) -> Any:
        self.answers.append((name, body))
        return body

    def artifact(self) -> dict:
        self._check("artifact")
        source = self.source or (
            {"kind": "demo", "synthetic": True, "label": "synthetic demo catalogue"}
            if self.synthetic else {"kind": "csv", "synthetic": False, "file": "mine.csv"})
        return self._answer("artifact", {
            "name": "demo", "created_at": "2025-01-02T03:04:05+00:00", "vibemap_version": "0.1",
            "format_version": 2, "source": source, "synthetic": self.synthetic,
            "label": source.get("label") or source.get("file"), "rows": len(TRACKS),
            "row_counts": {"read": len(TRACKS), "kept": len(TRACKS), "dropped": 0},
            "features": FEATURES, "n_clusters": 2, "metric": "cosine", "index": "flat",
            "evaluated": self.metrics.get("evaluated", False), "scaler": SCALER})

    @staticmethod
    def _matching(q=None, vibe=None, genre=None, year_min=None, year_max=None) -> list:
        out = []
        for t in TRACKS:
            if q and q.lower() not in f"{t['name']} {t['artist']}".lower():
                continue
            if vibe not in (None, "") and str(t["vibe_id"]) != str(vibe):
                continue
            if genre and genre not in t["genres"]:
                continue
            if year_min and t["release_year"] < year_min:
                continue
            if year_max and t["release_year"] > year_max:
                continue
            out.append(summary(t))
        return out

    def search_tracks(self, q=None, *, vibe=None, genre=None, year_min=None, year_max=None,
                      limit=20, offset=0) -> dict:
        self._check("search_tracks", {"q": q, "vibe": vibe, "genre": genre, "year_min": year_min,
                                      "year_max": year_max, "limit": limit, "offset": offset})
        rows = self._matching(q, vibe, genre, year_min, year_max)
        return self._answer("search_tracks", {"q": q or "", "total": len(rows), "limit": limit,
                                              "offset": offset,
                                              "results": rows[offset:offset + limit]})

    def track(self, track_id: str) -> dict:
        self._check("track", track_id)
        for t in TRACKS:
            if t["track_id"] == track_id:
                return self._answer("track", dict(t))
        raise ApiError(404, "track_not_found", f"unknown track id {track_id!r}")

    def recommend(self, request: dict) -> dict:
        self._check("recommend", dict(request))
        vibe = request.get("vibe")
        seeds = request.get("seed_tracks") or []
        rows = [t for t in self._matching(vibe=None if vibe in (None, "any") else vibe)
                if t["track_id"] not in seeds]
        results = [{**t, "score": 0.99 - 0.01 * i, "rank": i + 1,
                    "explanation": {"closest": [{"feature": "energy", "track": 0.8, "query": 0.8}],
                                    "furthest": [{"feature": "tempo", "track": 128.0,
                                                  "query": 96.0}]}}
                   for i, t in enumerate(rows[: request.get("limit", 10)])]
        scope = ({"vibe_id": int(vibe), "vibe_name": VIBE_NAMES[int(vibe)]}
                 if vibe not in (None, "any") else {"vibe_id": None, "vibe_name": None})
        targets = {k.removeprefix("target_"): v for k, v in request.items()
                   if k.startswith("target_") and k != "target_year"}
        extra = {}
        if self.era:
            year = int(request.get("target_year", 2007))
            for r in results:
                r["explanation"]["era"] = {"track": r["release_year"], "query": year,
                                           "difference": None, "text": f"same era: {year} vs "
                                                                       f"{r['release_year']}"}
            extra["era"] = {"weight": 1.0, "audio_only": bool(request.get("audio_only")),
                            "query_year": year}
        return self._answer("recommend", {
            "seeds": [summary(t) for t in TRACKS if t["track_id"] in seeds], "negatives": [],
            "targets": targets, "scope": scope, "limit": request.get("limit", 10), "offset": 0,
            "results": results, **extra})

    def vibes(self) -> dict:
        self._check("vibes")
        return self._answer("vibes", {"features": FEATURES, "vibes": VIBES})

    def validation(self) -> dict:
        self._check("validation")
        return self._answer("validation", self.metrics)

    def pca_points(self, **filters) -> dict:
        self._check("pca_points", filters)
        if not self.metrics.get("evaluated"):
            return self._answer("pca_points", {"evaluated": False, "sample_size": 0, "total": 0,
                                               "points": [], "readings": []})
        pts = [{**t, "row": i, "pc1": float(i), "pc2": float(-i)}
               for i, t in enumerate(self._matching(filters.get("q"), filters.get("vibe"),
                                                    filters.get("genre")))]
        return self._answer("pca_points", {"evaluated": True, "total": len(pts),
                                           "sample_size": len(TRACKS),
                                           "readings": self.metrics["pca"]["readings"],
                                           "points": pts})

    def outliers(self, *, limit=20) -> dict:
        self._check("outliers", limit)
        summary_ = {k: v for k, v in self.metrics["outliers"].items() if k != "most_atypical"}
        tracks = [{**self._matching()[m["row"]], "k_distance": m["k_distance"]}
                  for m in self.metrics["outliers"]["most_atypical"]]
        return self._answer("outliers", {"evaluated": True, **summary_, "tracks": tracks})

    def tracks_csv(self, q=None, **filters) -> bytes:
        self._check("tracks_csv", {"q": q, **filters})
        rows = self._matching(q, filters.get("vibe"), filters.get("genre"))
        return ("track_id,name\n" + "".join(f"{t['track_id']},{t['name']}\n" for t in rows)
                ).encode()

    def kloop_live(self, *, sample_size=5000, k_min=2, k_max=10, seed=0) -> dict:
        self._check("kloop_live", {"sample_size": sample_size, "k_min": k_min, "k_max": k_max})
        loop = _kloop(sample_size, elbow=5)  # not the artifact's elbow: read from the answer
        loop["metrics"] = [m for m in loop["metrics"] if k_min <= m["n_clusters"] <= k_max]
        return self._answer("kloop_live", {"sample_size": sample_size, "seed": seed,
                                           "n_init": 3, "k_loop": loop})
