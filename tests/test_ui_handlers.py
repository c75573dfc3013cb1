"""UI handlers against a fake API client (canned answers in the API's shapes, checked by
tests/test_ui_contract.py), error paths included, plus the HTTP client's error mapping over
httpx.MockTransport.

No server, no Gradio event loop: handlers are plain functions of (client, inputs).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from ui_fakes import NOT_EVALUATED, TRACKS, FakeClient

from vibemap.indexer.real_demo import real_demo_catalogue
from vibemap.ui import charts, explore, handlers, validation, views
from vibemap.ui.client import ApiClient, ApiError
from vibemap.ui.shapes import year_text


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


def test_header_shows_the_real_demo_catalogue_with_its_source_and_licence():
    # the source facts exactly as `vibemap index` writes them for the real demo (a sample)
    _, source = real_demo_catalogue(sample=30, seed=1)
    text = handlers.header(FakeClient(source=source))
    assert "SYNTHETIC" not in text and "none is a real song" not in text
    assert 'class="vm-source"' in text and "vm-banner" not in text
    assert "Real tracks: TidyTuesday 2020 Spotify songs + Billboard" in text
    assert "MIT" in text and "a seeded sample of 30 of its 31,956 tracks" in text
    assert 'href="https://github.com/rfordatascience/tidytuesday' in text
    assert "`demo`" in text and "6 tracks" in text  # the artifact line stays under it


def test_real_banner_adds_a_licence_missing_from_the_label_and_escapes_it():
    source = {"catalogue": "real", "synthetic": False, "licence": "MIT",
              "origin": ["javascript:alert(1)", "https://example.org/a"]}
    text = handlers.real_catalogue_banner(source, "real <b>tracks</b>")
    assert text.startswith('<div class="vm-source">♪ Real &lt;b&gt;tracks&lt;/b&gt;, MIT')
    assert "javascript:" not in text and 'href="https://example.org/a"' in text
    assert "sample" not in text


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


@pytest.mark.parametrize("value, shown", [(2019, "2019"), (2019.0, "2019"), (None, ""),
                                          (float("nan"), ""), ("1999", "1999"), ("?", "")])
def test_years_show_as_plain_years_and_unknown_ones_as_blank(value, shown):
    assert year_text(value) == shown


def test_a_results_table_with_an_unknown_year_shows_no_float_year(monkeypatch):
    client = FakeClient()
    real = client.recommend

    def one_year_unknown(request):
        body = real(request)
        return {**body, "results": [{**body["results"][0], "release_year": None},
                                    *body["results"][1:]]}
    monkeypatch.setattr(client, "recommend", one_year_unknown)
    frame, _, _ = handlers.recommend(client, "t0", False, {}, "any", 5, 0, 0.0)
    html = charts.table_html(frame)
    assert frame["year"].iloc[0] == "" and ".0<" not in html and "2,0" not in html


def test_recommend_shows_the_era_and_sends_the_era_control():
    client = FakeClient(era=True)
    frame, _, status = handlers.recommend(client, "t3", False, {}, "same", 5, 0, 0.0,
                                          handlers.ERA_WITH, 1975)
    first = [arg for name, arg in client.calls if name == "recommend"][0]
    assert first["target_year"] == 1975.0 and "audio_only" not in first
    assert frame["why"].iloc[0].endswith("same era: 1975 vs " + str(frame["year"].iloc[0]))
    assert "Holocene" in status and "(2005)" in status  # the seed's release year
    assert "sound and era" in status and "around 1975" in status
    _, _, status = handlers.recommend(client, "t3", False, {}, "same", 5, 0, 0.0,
                                      handlers.ERA_AUDIO_ONLY, None)
    second = [arg for name, arg in client.calls if name == "recommend"][1]
    assert second["audio_only"] is True and "target_year" not in second
    assert "sound only" in status


def test_recommend_without_an_era_column_says_so():
    _, _, status = handlers.recommend(FakeClient(), "t3", False, {}, "same", 5, 0, 0.0)
    assert "no era column" in status


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


def test_profile_z_scores_use_the_published_scaler():
    client = FakeClient()
    frame = handlers.profile_frame(client, {"energy": 0.8, "tempo": 125.0},
                                   [{"track_id": "t3"}], "seed")
    z = frame.set_index(["feature", "series"])["z"]
    # the scaler of GET /v1/artifact: energy mean 0.5, scale 0.3; tempo mean 110, scale 15
    assert z[("energy", "seed")] == pytest.approx(1.0)
    assert z[("energy", "results (mean)")] == pytest.approx(-1.0)  # t3's energy is 0.2
    assert z[("tempo", "seed")] == pytest.approx(1.0)
    assert z[("tempo", "results (mean)")] == pytest.approx((123.0 - 110.0) / 15.0)
    assert ("track", "t3") in client.calls  # a recommendation carries no features


# -- tab 2 ------------------------------------------------------------------------------------
def test_explore_pages_through_the_filtered_catalogue():
    client = FakeClient()
    frame, page, status = explore.explore_tracks(client, "", "0", "", "", "", 2, 2)
    assert page == 2 and list(frame["title"]) == ["Café del Mar"]
    assert "3 tracks match" in status and "page 2 of 2" in status
    last = [arg for name, arg in client.calls if name == "search_tracks"][-1]
    assert last["vibe"] == "0" and last["offset"] == 2 and last["limit"] == 2


def test_explore_clamps_a_page_past_the_end_and_passes_years():
    client = FakeClient()
    frame, page, _ = explore.explore_tracks(client, None, None, None, "2000", "2020", 9, 25)
    assert page == 1 and set(frame["year"]) == {"2000", "2005", "2010", "2015"}
    sent = [arg for name, arg in client.calls if name == "search_tracks"][0]
    assert (sent["year_min"], sent["year_max"]) == (2000, 2020)


@pytest.mark.parametrize("y0, y1, expected", [("soon", "", "is not a year"),
                                              ("2020", "2000", "is empty")])
def test_explore_rejects_bad_years_with_a_message(y0, y1, expected):
    frame, _, status = explore.explore_tracks(FakeClient(), None, None, None, y0, y1, 1, 25)
    assert frame.empty and expected in status


def test_scatter_with_the_points_route_is_coloured_by_vibe_and_hovers_titles():
    client = FakeClient()
    frame, caption = explore.explore_scatter(client, "bon", None, "", None, None)
    assert list(frame.columns) == explore.SCATTER_COLUMNS
    assert set(frame["vibe"]) == {"Chill Acoustic"} and "Holocene" in set(frame["title"])
    assert "3 of 3" in caption and "PC1 (50% of variance)" in caption


def test_map_is_a_static_svg_with_hover_text_per_track():
    svg, caption = explore.explore_map(FakeClient(), None, None, None, None, None)
    assert _well_formed_svgs(svg) == 1 and svg.count("<circle") == len(TRACKS) + 2  # + legend
    assert "<title>Holocene — Bon Iver · Chill Acoustic · indie folk · 2005</title>" in svg
    assert "6 of 6" in caption


def test_scatter_of_an_unevaluated_artifact_says_so():
    frame, caption = explore.explore_scatter(FakeClient(metrics=NOT_EVALUATED), None, None, None,
                                             None, None)
    assert frame.empty and "no PCA map" in caption


def test_scatter_shows_an_api_error_as_a_message():
    client = FakeClient(fail={"pca_points": ApiError(422, "invalid_query", "limit too big")})
    frame, caption = explore.explore_scatter(client, None, None, None, None, None)
    assert frame.empty and "Invalid request: limit too big" in caption


def test_export_writes_the_csv_route_answer():
    path, status = explore.export_csv(FakeClient(), "abba", "", "", "", "")
    assert Path(path).read_text().splitlines() == ["track_id,name", "t0,Dancing Queen",
                                                  "t1,Waterloo"]
    assert "2 tracks exported" in status


def test_export_errors_are_messages_and_write_nothing():
    client = FakeClient(fail={"tracks_csv": ApiError(503, "not_ready", "no artifact loaded")})
    path, status = explore.export_csv(client, None, None, None, None, None)
    assert path is None and "The service is not ready" in status
    path, status = explore.export_csv(FakeClient(), None, None, None, "soon", None)
    assert path is None and "is not a year" in status


# -- tabs 3-6 ---------------------------------------------------------------------------------
def test_vibe_cards_and_profile_heatmap_come_from_one_vibes_call():
    client = FakeClient()
    cards, heat, status = views.vibes_view(client)
    assert "Party" in cards and "Chill Acoustic" in cards and "50.0% of the catalogue" in cards
    assert "dance pop (67%)" in cards  # 2 of 3 tracks
    assert "Holocene — Bon Iver" in cards and "Waterloo — ABBA" in cards  # typical_tracks
    assert [name for name, _ in client.calls] == ["vibes"]  # no per-vibe extra calls
    assert heat.count("<tr>") == 3 and "instrumentalness" in heat and "+1.00" in heat
    assert "2 musical personalities" in status


def test_validation_marks_chosen_elbow_and_best_k():
    summary, kloop, silhouette, table = validation.validation_view(FakeClient())
    assert "Chosen K = 4" in summary and "All four criteria agree" in summary
    assert _well_formed_svgs(kloop) == 4
    assert "chosen K = 4" in kloop and "elbow K = 4" in kloop and "best K = 3" in kloop
    assert list(table["K"]) == list(range(2, 11))
    assert _well_formed_svgs(silhouette) == 1 and "Chill Acoustic (0.52)" in silhouette
    assert "Chill Acoustic 10.0%" in silhouette  # negative share called out


def test_validation_of_an_unevaluated_artifact_says_so():
    summary, kloop, silhouette, table = validation.validation_view(
        FakeClient(metrics=NOT_EVALUATED))
    assert "--no-eval" in summary and kloop == "" and table.empty


def test_rerun_live_is_one_call_and_reads_the_elbow_from_the_answer():
    client = FakeClient()
    seen: list[float] = []
    summary, kloop, table = validation.rerun_live(client, 2000, lambda f, desc: seen.append(f))
    assert [arg for name, arg in client.calls if name == "kloop_live"] == [
        {"sample_size": 2000, "k_min": 2, "k_max": 10}]
    assert seen == [0.0, 1.0] and len(table) == 9
    # the live answer's elbow (5), not the artifact's (4)
    assert "2,000" in summary and "elbow of the inertia prefers K = 5" in summary
    assert "elbow K = 5" in kloop and "best K = 3" in kloop


def test_rerun_live_shows_a_busy_api_as_a_message():
    busy = ApiError(429, "busy", "a live K-loop is already running")
    summary, kloop, table = validation.rerun_live(FakeClient(fail={"kloop_live": busy}), 2000)
    assert "Busy: a live K-loop is already running" in summary and kloop == "" and table.empty


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


@pytest.mark.parametrize("view", [views.genres_view, views.outliers_view,
                                  validation.validation_view])
def test_analysis_views_of_an_unevaluated_artifact_say_so(view):
    out = view(FakeClient(metrics=NOT_EVALUATED))
    assert any(isinstance(o, str) and "--no-eval" in o for o in out)


def test_genre_view_without_genre_labels():
    heat, stats = views.genres_view(FakeClient(metrics={**FakeClient().metrics, "genres": None}))
    assert heat == "" and "No genre labels" in stats


@pytest.mark.parametrize("view", [views.genres_view, views.outliers_view, views.vibes_view,
                                  validation.validation_view])
def test_analysis_views_survive_the_api_being_down(view):
    out = view(FakeClient(down=True))
    assert any(isinstance(o, str) and "not reachable" in o for o in out)


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
        assert err.value.message == "Not found: unknown track id 'x/y'"
        with pytest.raises(ApiError) as err:
            client.search_tracks("a", limit=1000)
        assert err.value.message == "Invalid request: limit: too big"


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
