"""UI handlers against a fake API client (canned dicts in the API's shapes), error paths
included, plus the HTTP client's error mapping over httpx.MockTransport.

No server, no Gradio event loop: handlers are plain functions of (client, inputs).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pandas as pd
import pytest

from vibemap.ui import charts, handlers, views
from vibemap.ui.client import ROUTE_MISSING, ApiClient, ApiError

FEATURES = ["energy", "danceability", "loudness", "speechiness", "acousticness",
            "instrumentalness", "liveness", "valence", "tempo"]


def _features(base: float, tempo: float) -> dict[str, float]:
    return {"energy": base, "danceability": base, "loudness": -30 + 20 * base,
            "speechiness": 0.1, "acousticness": 1 - base, "instrumentalness": 0.2,
            "liveness": 0.15, "valence": base, "tempo": tempo}


VIBES = [
    {"vibe_id": 0, "name": "Party", "slug": "party", "size": 3, "share": 0.5,
     "signature": "danceability +1.2σ, energy +1.0σ",
     "centroid": _features(0.8, 125.0),
     "centroid_z": {f: (1.0 if f != "acousticness" else -1.0) for f in FEATURES},
     "profile": {}, "top_genres": [{"genre": "dance pop", "count": 2}]},
    {"vibe_id": 1, "name": "Chill Acoustic", "slug": "chill-acoustic", "size": 3, "share": 0.5,
     "signature": "acousticness +1.4σ, energy -1.1σ",
     "centroid": _features(0.2, 95.0),
     "centroid_z": {f: (-1.0 if f != "acousticness" else 1.0) for f in FEATURES},
     "profile": {}, "top_genres": [{"genre": "indie folk", "count": 3}]},
]

TRACKS = [
    {"track_id": f"t{i}", "name": name, "artist": artist, "genres": [genre], "popularity": 50 + i,
     "release_year": 1990 + 5 * i, "vibe_id": vibe, "vibe_name": VIBES[vibe]["name"],
     "duration_ms": 200_000, "features": _features(0.8 if vibe == 0 else 0.2, 120.0 + i)}
    for i, (name, artist, genre, vibe) in enumerate([
        ("Dancing Queen", "ABBA", "dance pop", 0), ("Waterloo", "ABBA", "dance pop", 0),
        ("Café del Mar", "Energy 52", "trance", 0), ("Holocene", "Bon Iver", "indie folk", 1),
        ("Skinny Love", "Bon Iver", "indie folk", 1), ("Re: Stacks", "Bon Iver", "indie folk", 1),
    ])
]

KLOOP = {
    "n_samples": 6, "k_values": list(range(2, 11)), "elbow_k": 4, "best_silhouette_k": 4,
    "best_davies_bouldin_k": 4, "best_calinski_harabasz_k": 3,
    "metrics": [{"n_clusters": k, "inertia": 1000.0 / (k - 1) if k <= 4 else 330.0 - 10 * k,
                 "silhouette": 0.8 - abs(k - 4) * 0.05, "davies_bouldin": 0.3 + abs(k - 4) * 0.1,
                 "calinski_harabasz": 2000.0 - abs(k - 3) * 100} for k in range(2, 11)],
}

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
}


def _missing(path: str) -> ApiError:
    return ApiError(404, ROUTE_MISSING, f"GET {path}")


class FakeClient:
    """In-memory stand-in for ApiClient: the same methods, canned dicts, calls recorded."""

    def __init__(self, *, synthetic: bool = True, metrics: dict | None = None,
                 down: bool = False, pca_route: bool = False, csv_route: bool = False,
                 kloop_route: bool = True, outliers_route: bool = True,
                 year_filter: bool = True) -> None:
        self.synthetic = synthetic
        self.metrics = METRICS if metrics is None else metrics
        self.down = down
        self.pca_route, self.csv_route, self.kloop_route = pca_route, csv_route, kloop_route
        self.outliers_route = outliers_route
        self.year_filter = year_filter
        self.calls: list[tuple[str, object]] = []

    def _check(self, name: str, arg: object = None) -> None:
        self.calls.append((name, arg))
        if self.down:
            raise ApiError(0, "api_unreachable", "The vibemap API at http://x is not reachable.")

    def artifact(self) -> dict:
        self._check("artifact")
        source = ({"kind": "demo", "synthetic": True, "label": "synthetic demo catalogue"}
                  if self.synthetic else {"kind": "csv", "synthetic": False, "file": "mine.csv"})
        return {"name": "demo", "created_at": "2025-01-02T03:04:05+00:00", "source": source,
                "synthetic": self.synthetic, "label": source.get("label") or source.get("file"),
                "rows": len(TRACKS), "row_counts": {}, "features": FEATURES, "n_clusters": 2,
                "metric": "cosine", "index": "flat", "evaluated": True}

    def _matching(self, q=None, vibe=None, genre=None, year_min=None, year_max=None) -> list:
        out = []
        for t in TRACKS:
            if q and q.lower() not in f"{t['name']} {t['artist']}".lower():
                continue
            if vibe not in (None, "") and str(t["vibe_id"]) != str(vibe):
                continue
            if genre and genre not in t["genres"]:
                continue
            if self.year_filter and year_min and t["release_year"] < year_min:
                continue
            if self.year_filter and year_max and t["release_year"] > year_max:
                continue
            out.append({k: v for k, v in t.items() if k not in ("features", "duration_ms")})
        return out

    def search_tracks(self, q=None, *, vibe=None, genre=None, year_min=None, year_max=None,
                      limit=20, offset=0) -> dict:
        self._check("search_tracks", {"q": q, "vibe": vibe, "genre": genre, "year_min": year_min,
                                      "year_max": year_max, "limit": limit, "offset": offset})
        rows = self._matching(q, vibe, genre, year_min, year_max)
        return {"q": q or "", "total": len(rows), "limit": limit, "offset": offset,
                "results": rows[offset:offset + limit]}

    def track(self, track_id: str) -> dict:
        self._check("track", track_id)
        for t in TRACKS:
            if t["track_id"] == track_id:
                return dict(t)
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
        return {"seeds": [], "negatives": [], "targets": {}, "scope": {}, "limit": 10,
                "offset": 0, "results": results}

    def vibes(self) -> dict:
        self._check("vibes")
        return {"features": FEATURES, "vibes": VIBES}

    def vibe(self, vibe) -> dict:
        self._check("vibe", vibe)
        return VIBES[int(vibe)]

    def validation(self) -> dict:
        self._check("validation")
        return self.metrics

    def pca_points(self, **filters) -> dict:
        self._check("pca_points", filters)
        if not self.pca_route:
            raise _missing("/v1/validation/pca")
        pts = [{**t, "row": i, "pc1": float(i), "pc2": float(-i)}
               for i, t in enumerate(self._matching(filters.get("q"), filters.get("vibe"),
                                                    filters.get("genre")))]
        return {"total": len(pts), "sample_size": len(TRACKS), "points": pts}

    def outliers(self, *, limit=20) -> dict:
        self._check("outliers", limit)
        if not self.outliers_route:
            raise _missing("/v1/validation/outliers")
        summary = {k: v for k, v in self.metrics["outliers"].items() if k != "most_atypical"}
        tracks = [{**self._matching()[m["row"]], "k_distance": m["k_distance"]}
                  for m in self.metrics["outliers"]["most_atypical"]]
        return {"evaluated": True, **summary, "tracks": tracks}

    def tracks_csv(self, q=None, **filters) -> bytes:
        self._check("tracks_csv", {"q": q, **filters})
        if not self.csv_route:
            raise _missing("/v1/tracks.csv")
        rows = self._matching(q, filters.get("vibe"), filters.get("genre"))
        return ("track_id,name\n" + "".join(f"{t['track_id']},{t['name']}\n" for t in rows)
                ).encode()

    def kloop_live(self, *, sample_size=5000, k_values=(), seed=0) -> dict:
        self._check("kloop_live", list(k_values))
        if not self.kloop_route:
            raise _missing("/v1/validation/kloop")
        rows = [m for m in KLOOP["metrics"] if m["n_clusters"] in k_values]
        return {"k_loop": {"metrics": rows, "n_samples": sample_size}}


def _well_formed_svgs(html: str) -> int:
    """Every <svg> in ``html`` parses as XML; returns how many there are."""
    n = 0
    start = html.find("<svg")
    while start != -1:
        end = html.index("</svg>", start) + len("</svg>")
        ET.fromstring(html[start:end])
        n += 1
        start = html.find("<svg", end)
    return n


# -- header & choices -------------------------------------------------------------------------
def test_header_names_the_artifact_and_flags_the_synthetic_catalogue():
    text = handlers.header(FakeClient(synthetic=True))
    assert "SYNTHETIC DEMO CATALOGUE" in text and "`demo`" in text and "6 tracks" in text
    plain = handlers.header(FakeClient(synthetic=False))
    assert "SYNTHETIC" not in plain and "mine.csv" in plain


def test_header_when_api_is_down_is_a_friendly_message():
    text = handlers.header(FakeClient(down=True))
    assert "not reachable" in text and "Traceback" not in text


def test_scope_choices_list_same_any_and_every_vibe():
    values = [v for _, v in handlers.scope_choices(FakeClient())]
    assert values == ["same", "any", "0", "1"]
    assert [v for _, v in handlers.scope_choices(FakeClient(down=True))] == ["same", "any"]


def test_genre_choices_come_from_the_genre_map():
    assert handlers.genre_choices(FakeClient())[:2] == ["indie folk", "dance pop"]


# -- tab 1 ------------------------------------------------------------------------------------
def test_search_offers_tracks_by_name_or_artist():
    choices, status = handlers.search_choices(FakeClient(), "bon iver")
    assert [v for _, v in choices] == ["t3", "t4", "t5"]
    assert "Holocene — Bon Iver" in choices[0][0] and "3 matches" in status


@pytest.mark.parametrize("text, expected", [("a", "at least two letters"),
                                            ("zzz", "No track or artist matches")])
def test_search_explains_short_or_empty_queries(text, expected):
    choices, status = handlers.search_choices(FakeClient(), text)
    assert choices == [] and expected in status


def test_recommend_same_vibe_sends_the_seed_vibe_and_fills_the_table():
    client = FakeClient()
    frame, chart, status = handlers.recommend(client, "t3", False, {}, "same", 5, 2, 0.3)
    request = [arg for name, arg in client.calls if name == "recommend"][0]
    assert request["seed_tracks"] == ["t3"] and request["vibe"] == "1"
    assert request["max_per_artist"] == 2 and request["diversity"] == 0.3
    assert list(frame.columns) == handlers.RESULT_COLUMNS
    assert set(frame["vibe"]) == {"Chill Acoustic"} and len(frame) == 2
    assert frame["why"].iloc[0] == "close on energy; differs on tempo 128 vs 96 BPM"
    assert "Holocene" in status and "Chill Acoustic" in status
    assert _well_formed_svgs(chart) == 1 and "results (mean)" in chart and "seed" in chart


def test_recommend_any_scope_sends_no_vibe_and_a_named_vibe_is_passed_through():
    client = FakeClient()
    handlers.recommend(client, "t0", False, {}, "any", 5, 0, 0.0)
    handlers.recommend(client, "t0", False, {}, "1", 5, 0, 0.0)
    first, second = [arg for name, arg in client.calls if name == "recommend"]
    assert "vibe" not in first and first["max_per_artist"] is None
    assert second["vibe"] == "1"


def test_recommend_with_targets_sends_target_features_not_a_seed():
    client = FakeClient()
    targets = {"energy": 0.9, "valence": 0.8, "danceability": 0.7, "tempo": 128.0}
    frame, chart, status = handlers.recommend(client, "t3", True, targets, "0", 3, 0, 0.0)
    request = [arg for name, arg in client.calls if name == "recommend"][0]
    assert "seed_tracks" not in request and request["target_tempo"] == 128.0
    assert request["vibe"] == "0" and len(frame) == 3 and "targets" in chart
    assert "your targets" in status


def test_recommend_unknown_seed_is_a_friendly_not_found():
    frame, chart, status = handlers.recommend(FakeClient(), "nope", False, {}, "same", 5, 0, 0)
    assert frame.empty and chart == "" and "Not found" in status and "nope" in status


def test_recommend_without_seed_asks_for_one():
    frame, _, status = handlers.recommend(FakeClient(), None, False, {}, "same", 5, 0, 0)
    assert frame.empty and "pick a seed" in status


def test_recommend_when_api_is_down():
    frame, _, status = handlers.recommend(FakeClient(down=True), "t0", False, {}, "same", 5, 0, 0)
    assert frame.empty and "not reachable" in status


def test_profile_uses_z_scores_solved_from_the_published_centroids():
    frame = handlers.profile_frame(FakeClient(), {"energy": 0.8, "tempo": 125.0},
                                   [{"features": {"energy": 0.2, "tempo": 95.0}}], "seed")
    z = frame.set_index(["feature", "series"])["z"]
    # centroids 0.8 (z +1) and 0.2 (z -1): mean 0.5, scale 0.3
    assert z[("energy", "seed")] == pytest.approx(1.0)
    assert z[("energy", "results (mean)")] == pytest.approx(-1.0)
    assert z[("tempo", "seed")] == pytest.approx(1.0)


# -- tab 2 ------------------------------------------------------------------------------------
def test_explore_pages_through_the_filtered_catalogue():
    client = FakeClient()
    frame, page, status = handlers.explore_tracks(client, "", "0", "", "", "", 2, 2)
    assert page == 2 and list(frame["title"]) == ["Café del Mar"]
    assert "3 tracks match" in status and "page 2 of 2" in status
    last = [arg for name, arg in client.calls if name == "search_tracks"][-1]
    assert last["vibe"] == "0" and last["offset"] == 2 and last["limit"] == 2


def test_explore_clamps_a_page_past_the_end_and_passes_years():
    client = FakeClient()
    frame, page, _ = handlers.explore_tracks(client, None, None, None, "2000", "2020", 9, 25)
    assert page == 1 and set(frame["year"]) == {2000, 2005, 2010, 2015}
    sent = [arg for name, arg in client.calls if name == "search_tracks"][0]
    assert (sent["year_min"], sent["year_max"]) == (2000, 2020)


def test_explore_says_when_the_api_ignores_the_year_filter():
    _, _, status = handlers.explore_tracks(FakeClient(year_filter=False), None, None, None,
                                           "2010", None, 1, 25)
    assert "ignores the year filter" in status


@pytest.mark.parametrize("y0, y1, expected", [("soon", "", "is not a year"),
                                              ("2020", "2000", "is empty")])
def test_explore_rejects_bad_years_with_a_message(y0, y1, expected):
    frame, _, status = handlers.explore_tracks(FakeClient(), None, None, None, y0, y1, 1, 25)
    assert frame.empty and expected in status


def test_scatter_with_the_points_route_is_coloured_by_vibe_and_hovers_titles():
    client = FakeClient(pca_route=True)
    frame, caption = handlers.explore_scatter(client, "bon", None, "", None, None)
    assert list(frame.columns) == handlers.SCATTER_COLUMNS
    assert set(frame["vibe"]) == {"Chill Acoustic"} and "Holocene" in set(frame["title"])
    assert "3 of 3" in caption and "PC1 (50% of variance)" in caption


def test_map_is_a_static_svg_with_hover_text_per_track():
    svg, caption = handlers.explore_map(FakeClient(pca_route=True), None, None, None, None, None)
    assert _well_formed_svgs(svg) == 1 and svg.count("<circle") == len(TRACKS) + 2  # + legend
    assert "<title>Holocene — Bon Iver · Chill Acoustic · indie folk · 2005</title>" in svg
    assert "6 of 6" in caption


def test_scatter_without_the_points_route_degrades_to_a_message():
    frame, caption = handlers.explore_scatter(FakeClient(), None, None, None, None, None)
    assert frame.empty and "GET /v1/validation/pca" in caption
    assert "energy vs acousticness" in caption


def test_scatter_of_an_unevaluated_artifact_says_so():
    class NoEval(FakeClient):
        def pca_points(self, **filters) -> dict:
            return {"evaluated": False, "sample_size": 0, "total": 0, "points": []}

    frame, caption = handlers.explore_scatter(NoEval(), None, None, None, None, None)
    assert frame.empty and "no PCA map" in caption


def test_export_uses_the_csv_route_when_there_is_one(tmp_path):
    path, status = handlers.export_csv(FakeClient(csv_route=True), "abba", "", "", "", "")
    assert Path(path).read_text().splitlines() == ["track_id,name", "t0,Dancing Queen",
                                                  "t1,Waterloo"]
    assert "2 tracks exported" in status


def test_export_falls_back_to_paging_the_search_route():
    path, status = handlers.export_csv(FakeClient(), None, "1", None, None, None)
    frame = pd.read_csv(path)
    assert list(frame["track_id"]) == ["t3", "t4", "t5"] and "energy" in frame.columns
    assert "3 tracks exported" in status


# -- tabs 3-6 ---------------------------------------------------------------------------------
def test_vibe_cards_and_profile_heatmap():
    client = FakeClient()
    cards, heat, status = views.vibes_view(client)
    assert "Party" in cards and "Chill Acoustic" in cards and "50.0% of the catalogue" in cards
    assert "dance pop (67%)" in cards  # 2 of 3 tracks
    # typical tracks: a recommendation targeting the centroid, restricted to the vibe
    typical = [arg for name, arg in client.calls if name == "recommend"]
    assert {r["vibe"] for r in typical} == {"0", "1"} and "target_tempo" in typical[0]
    assert "Holocene — Bon Iver" in cards
    assert heat.count("<tr>") == 3 and "instrumentalness" in heat and "+1.00" in heat
    assert "2 musical personalities" in status


def test_validation_marks_chosen_elbow_and_best_k():
    summary, kloop, silhouette, table = views.validation_view(FakeClient())
    assert "Chosen K = 4" in summary and "All four criteria agree" in summary
    assert _well_formed_svgs(kloop) == 4
    assert "chosen K = 4" in kloop and "elbow K = 4" in kloop and "best K = 3" in kloop
    assert list(table["K"]) == list(range(2, 11))
    assert _well_formed_svgs(silhouette) == 1 and "Chill Acoustic (0.52)" in silhouette
    assert "Chill Acoustic 10.0%" in silhouette  # negative share called out


def test_validation_of_an_unevaluated_artifact_says_so():
    summary, kloop, silhouette, table = views.validation_view(
        FakeClient(metrics={"evaluated": False}))
    assert "--no-eval" in summary and kloop == "" and table.empty


def test_rerun_live_asks_one_k_at_a_time_and_reports_progress():
    client = FakeClient()
    seen: list[float] = []
    summary, kloop, table = views.rerun_live(client, 2000, lambda f, desc: seen.append(f))
    assert [arg for name, arg in client.calls if name == "kloop_live"] == [[k] for k in
                                                                           range(2, 11)]
    assert seen[0] == 0 and seen[-1] == 1.0 and len(table) == 9
    assert "2,000" in summary and "elbow K = 4" in kloop


def test_rerun_live_without_the_route_is_a_message():
    summary, kloop, table = views.rerun_live(FakeClient(kloop_route=False), 2000)
    assert "POST /v1/validation/kloop" in summary and table.empty


def test_genre_map_purity_and_nmi():
    heat, stats = views.genres_view(FakeClient())
    assert heat.index("indie folk") < heat.index("dance pop") and "100%" in heat
    assert "NMI(primary genre, vibe) = 0.820" in stats and "purity = 100.0%" in stats


def test_outliers_and_dendrogram():
    summary, frame, tree = views.outliers_view(FakeClient())
    assert "1 outliers — 16.67% of 6 tracks" in summary
    assert frame.to_dict("records") == [{"title": "Café del Mar", "artist": "Energy 52",
                                         "vibe": "Party", "genres": "trance",
                                         "k-distance": 0.9}]
    assert _well_formed_svgs(tree) == 1 and "cut into 2 clusters" in tree
    assert "Adjusted Rand index" in tree and "0.950" in tree


def test_outliers_without_the_tracks_route_list_rows():
    summary, frame, _ = views.outliers_view(FakeClient(outliers_route=False))
    assert list(frame["track"]) == ["row 2"] and "Catalogue rows only" in summary


@pytest.mark.parametrize("view", [views.genres_view, views.outliers_view, views.vibes_view,
                                  views.validation_view])
def test_analysis_views_survive_the_api_being_down(view):
    out = view(FakeClient(down=True))
    assert any(isinstance(o, str) and "not reachable" in o for o in out)


def test_elbow_matches_the_documented_method():
    ks = list(range(2, 11))
    assert views.elbow_k(ks, [100, 40, 20, 18, 16, 15, 14, 13, 12]) == 4
    assert views.elbow_k(ks, [10] * 9) is None
    assert views.elbow_k([2, 3], [5, 4]) is None


def test_chart_svgs_are_well_formed_with_awkward_text():
    html = charts.grouped_bars_svg(["a<b", "c&d"], [("x \"y\"", "#000", [1.0, float("nan")])])
    assert _well_formed_svgs(html) == 1
    html = charts.heatmap_html(["r<1>"], ["c&"], [[0.5]], cell_titles=[["t\"q"]])
    ET.fromstring(html)


# -- the HTTP client --------------------------------------------------------------------------
def _client(handler) -> ApiClient:
    return ApiClient("http://api.test", transport=httpx.MockTransport(handler), cache_ttl=0)


def test_client_maps_api_errors():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.raw_path == b"/v1/tracks/x%2Fy":
            return httpx.Response(404, json={"detail": "unknown track id 'x/y'",
                                             "code": "track_not_found"})
        if request.url.path == "/v1/tracks":
            return httpx.Response(422, json={"detail": [{"loc": ["query", "limit"],
                                                         "msg": "too big"}]})
        return httpx.Response(404, json={"detail": "Not Found", "code": "not_found"})

    with _client(handler) as client:
        with pytest.raises(ApiError) as err:
            client.track("x/y")
        assert (err.value.status, err.value.code) == (404, "track_not_found")
        assert not err.value.route_missing and "unknown track" in err.value.message
        with pytest.raises(ApiError) as err:
            client.search_tracks("a", limit=1000)
        assert err.value.message == "Invalid request: limit: too big"
        with pytest.raises(ApiError) as err:
            client.pca_points(vibe="0")
        assert err.value.route_missing


def test_client_turns_a_refused_connection_into_a_friendly_error():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with _client(handler) as client, pytest.raises(ApiError) as err:
        client.artifact()
    assert err.value.status == 0 and "not reachable" in err.value.message


def test_client_sends_filters_and_drops_empty_ones():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"total": 0, "results": []})

    with _client(handler) as client:
        client.search_tracks("abba", vibe="1", genre="", year_min=1990, limit=5)
        client.recommend({"seed_tracks": ["t1"], "vibe": None, "genres": [], "limit": 3})
    params = dict(seen[0].url.params)
    assert params == {"q": "abba", "vibe": "1", "year_min": "1990", "limit": "5", "offset": "0"}
    assert seen[1].method == "POST" and seen[1].read() == b'{"seed_tracks":["t1"],"limit":3}'


def test_client_caches_large_documents_briefly():
    count = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        count["n"] += 1
        return httpx.Response(200, json={"evaluated": False})

    client = ApiClient("http://api.test", transport=httpx.MockTransport(handler), cache_ttl=60)
    client.validation()
    client.validation()
    assert count["n"] == 1
    client.clear_cache()
    client.validation()
    assert count["n"] == 2
