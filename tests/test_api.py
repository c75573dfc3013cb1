"""The HTTP API through FastAPI's TestClient: every route, every error code."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import build_tiny_artifact
from vibemap.recommender.api import create_app, get_engine
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("api")
    first = build_tiny_artifact(root, n=240, n_clusters=3, seed=0, name="tiny")
    second = build_tiny_artifact(root, n=120, n_clusters=2, seed=1, name="tiny2")
    return first, second


@pytest.fixture(scope="module")
def client(artifacts: tuple[Path, Path]):
    app = create_app(ServiceSettings(index_dir=artifacts[0], admin_token=TOKEN))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def seed(client: TestClient) -> dict:
    return client.get("/v1/tracks", params={"limit": 1}).json()["results"][0]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == code and body["detail"]
    return body


# ---------------------------------------------------------------- service
def test_health_and_metrics(client: TestClient, seed: dict) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["artifact"] == "tiny" and health["rows"] == 240
    assert health["loaded_at"]
    client.get(f"/v1/tracks/{seed['track_id']}/similar")
    text = client.get("/metrics")
    assert text.headers["content-type"].startswith("text/plain")
    assert ('vibemap_http_requests_total{method="GET",route="/v1/tracks/{track_id}/similar",'
            'status="200"}') in text.text
    assert "vibemap_http_request_duration_seconds_bucket" in text.text
    assert "vibemap_artifact_rows 240.0" in text.text


def test_metrics_registries_are_per_app(artifacts: tuple[Path, Path]) -> None:
    engine = Engine.load(artifacts[1])
    one, two = (create_app(ServiceSettings(), engine=engine) for _ in range(2))
    TestClient(one).get("/health")
    assert 'route="/health"' not in TestClient(two).get("/metrics").text


def test_openapi_documents_the_rule(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    text = spec["paths"]["/v1/recommendations"]["get"]["description"]
    assert "2 * mean(positives) - mean(negatives)" in text
    assert spec["paths"]["/v1/tracks"]["get"]["summary"]


# ----------------------------------------------------------------- tracks
def test_search_and_track(client: TestClient, seed: dict) -> None:
    found = client.get("/v1/tracks", params={"q": seed["name"].upper()}).json()
    assert found["results"][0]["track_id"] == seed["track_id"]
    assert found["total"] >= 1
    vibe = client.get("/v1/tracks", params={"vibe": 1, "limit": 100}).json()
    assert {r["vibe_id"] for r in vibe["results"]} == {1}
    genre = client.get("/v1/tracks", params={"genre": "RAP,ambient", "limit": 100}).json()
    assert all({"rap", "ambient"} & set(r["genres"]) for r in genre["results"])
    detail = client.get(f"/v1/tracks/{seed['track_id']}").json()
    assert set(detail["features"]) == {"energy", "danceability", "loudness", "speechiness",
                                       "acousticness", "instrumentalness", "liveness", "valence",
                                       "tempo"}
    assert_error(client.get("/v1/tracks/nope"), 404, "track_not_found")
    assert_error(client.get("/v1/tracks", params={"vibe": "nowhere"}), 404, "vibe_not_found")
    assert_error(client.get("/v1/tracks", params={"limit": 0}), 422, "invalid_query")


def test_similar(client: TestClient, seed: dict) -> None:
    body = client.get(f"/v1/tracks/{seed['track_id']}/similar", params={"limit": 7}).json()
    assert len(body["results"]) == 7
    assert body["scope"]["vibe_id"] == seed["vibe_id"]
    assert all(r["vibe_id"] == seed["vibe_id"] for r in body["results"])
    first = body["results"][0]
    assert first["rank"] == 1 and first["score"] <= 1.0 + 1e-6
    assert {"closest", "furthest"} <= set(first["explanation"])
    anywhere = client.get(f"/v1/tracks/{seed['track_id']}/similar",
                          params={"scope": "any", "max_per_artist": 1, "limit": 20}).json()
    artists = [r["artist"] for r in anywhere["results"]]
    assert len(artists) == len(set(artists))
    assert_error(client.get("/v1/tracks/nope/similar"), 404, "track_not_found")
    for limit in (0, 101):
        assert_error(client.get(f"/v1/tracks/{seed['track_id']}/similar",
                                params={"limit": limit}), 422, "invalid_query")
    assert_error(client.get(f"/v1/tracks/{seed['track_id']}/similar",
                            params={"scope": "nowhere"}), 404, "vibe_not_found")



def test_similar_query_string_is_parsed_like_fastapi_and_documented(client: TestClient,
                                                                    seed: dict) -> None:
    """/similar validates its query string in one pydantic pass (``parse_query``): the
    same 422s naming each bad parameter, last of a repeated key wins, unknown keys are
    ignored, and OpenAPI still lists every parameter with its bounds."""
    path = f"/v1/tracks/{seed['track_id']}/similar"
    detail = assert_error(client.get(path, params={"limit": "ten", "offset": -1}), 422,
                          "invalid_query")["detail"]
    assert detail.startswith(("limit:", "offset:")) and "offset" in detail and "limit" in detail
    got = client.get(path, params=[("limit", 5), ("limit", 2), ("colour", "blue")])
    assert got.status_code == 200, got.text
    assert len(got.json()["results"]) == 2
    ops = client.get("/openapi.json").json()["paths"]["/v1/tracks/{track_id}/similar"]["get"]
    params = {p["name"]: p for p in ops["parameters"]}
    assert set(params) == {"track_id", "limit", "offset", "scope", "max_per_artist",
                           "dedupe_versions", "audio_only"}
    assert params["limit"]["in"] == "query" and params["limit"]["schema"]["maximum"] == 100
    assert params["track_id"]["in"] == "path" and params["track_id"]["required"]

# -------------------------------------------------------- recommendations
def test_get_and_post_agree(client: TestClient, seed: dict) -> None:
    params = {"seed_tracks": seed["track_id"], "target_energy": 0.8, "min_tempo": 90,
              "genres": "rap,ambient", "limit": 5}
    got = client.get("/v1/recommendations", params=params)
    assert got.status_code == 200, got.text
    posted = client.post("/v1/recommendations", json={**params, "seed_tracks": [seed["track_id"]],
                                                       "genres": ["rap", "ambient"]})
    assert posted.status_code == 200, posted.text
    assert got.json() == posted.json()
    body = got.json()
    assert body["targets"] == {"energy": 0.8}
    assert body["seeds"][0]["track_id"] == seed["track_id"]
    assert seed["track_id"] not in {r["track_id"] for r in body["results"]}


def test_target_only_and_vibe_scope(client: TestClient) -> None:
    body = client.get("/v1/recommendations", params={"target_acousticness": 0.9,
                                                     "target_energy": 0.1, "vibe": "0"}).json()
    assert body["scope"]["vibe_id"] == 0 and len(body["results"]) == 10
    assert {r["vibe_id"] for r in body["results"]} == {0}


@pytest.mark.parametrize("params, status, code", [
    ({"target_colour": 1}, 422, "invalid_query"),
    ({"min_energy": 0.9, "max_energy": 0.1}, 422, "invalid_query"),
    ({"target_energy": "nan"}, 422, "invalid_query"),
    ({"target_energy": "inf"}, 422, "invalid_query"),
    ({"limit": 0}, 422, "invalid_query"),
    ({"limit": 101}, 422, "invalid_query"),
    ({"limit": "ten"}, 422, "invalid_query"),
    ({"diversity": 2}, 422, "invalid_query"),
    ({"seed_track": "x"}, 422, "invalid_query"),
    ({"vibe": "nowhere"}, 404, "vibe_not_found"),
])
def test_recommend_get_errors(client: TestClient, seed: dict, params: dict, status: int,
                              code: str) -> None:
    response = client.get("/v1/recommendations",
                          params={"seed_tracks": seed["track_id"], **params})
    assert_error(response, status, code)


def test_recommend_input_errors(client: TestClient, seed: dict) -> None:
    ids = [r["track_id"] for r in client.get("/v1/tracks", params={"limit": 6}).json()["results"]]
    assert_error(client.get("/v1/recommendations", params={"seed_tracks": ",".join(ids)}),
                 422, "invalid_query")
    assert_error(client.post("/v1/recommendations", json={"seed_tracks": ids}),
                 422, "invalid_query")
    assert_error(client.get("/v1/recommendations"), 422, "invalid_query")
    assert_error(client.get("/v1/recommendations", params={"seed_tracks": "nope"}),
                 404, "track_not_found")
    nan_body = '{"seed_tracks": ["' + seed["track_id"] + '"], "target_energy": NaN}'
    assert_error(client.post("/v1/recommendations", content=nan_body,
                             headers={"content-type": "application/json"}), 422, "invalid_query")
    assert_error(client.post("/v1/recommendations", content="{not json",
                             headers={"content-type": "application/json"}), 422, "invalid_query")
    assert_error(client.post("/v1/recommendations", json={"seed_tracks": [seed["track_id"]],
                                                          "min_popularity": "NaN"}),
                 422, "invalid_query")


def test_batch_reports_errors_per_item(client: TestClient, seed: dict) -> None:
    body = {"requests": [
        {"seed_tracks": [seed["track_id"]], "limit": 3},
        {"seed_tracks": ["nope"]},
        {"seed_tracks": [seed["track_id"]], "limit": 0},
        {"target_energy": 0.5, "target_bogus": 1},
        "not an object",
    ]}
    response = client.post("/v1/recommendations/batch", json=body)
    assert response.status_code == 200, response.text
    items = response.json()["results"]
    assert [i["status"] for i in items] == [200, 404, 422, 422, 422]
    assert len(items[0]["result"]["results"]) == 3
    assert items[1]["error"]["code"] == "track_not_found"
    assert all(i["error"]["code"] == "invalid_query" for i in items[2:])
    too_many = {"requests": [{"target_energy": 0.5}] * 101}
    assert_error(client.post("/v1/recommendations/batch", json=too_many), 422, "invalid_query")


# ------------------------------------------------------- vibes, artifact
def test_vibes(client: TestClient) -> None:
    body = client.get("/v1/vibes").json()
    assert body["features"][0] == "energy" and len(body["vibes"]) == 3
    v = body["vibes"][1]
    assert set(v["centroid"]) == set(body["features"]) and v["profile"]["tempo"]["median"] > 0
    assert sum(x["size"] for x in body["vibes"]) == 240
    for key in (str(v["vibe_id"]), v["name"].upper(), v["slug"]):
        assert client.get(f"/v1/vibes/{key}").json()["vibe_id"] == v["vibe_id"]
    assert_error(client.get("/v1/vibes/99"), 404, "vibe_not_found")
    assert_error(client.get("/v1/vibes/nowhere"), 404, "vibe_not_found")


def test_artifact_and_validation(client: TestClient) -> None:
    art = client.get("/v1/artifact").json()
    assert art["name"] == "tiny" and art["rows"] == 240 and art["n_clusters"] == 3
    assert art["synthetic"] is False and art["label"] == "tiny.csv"
    assert art["metric"] == "cosine" and art["created_at"]
    assert client.get("/v1/validation").json() == {"evaluated": False}


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    assert_error(client.delete("/v1/vibes"), 405, "method_not_allowed")


# -------------------------------------------------- 503, reload, overrides
def test_503_while_no_artifact(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(index_dir=tmp_path / "missing"))
    with TestClient(app) as c:
        health = c.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        for path in ("/v1/tracks", "/v1/vibes", "/v1/artifact", "/v1/tracks/x/similar"):
            assert_error(c.get(path), 503, "artifact_not_loaded")
        assert_error(c.post("/v1/recommendations", json={"target_energy": 0.5}),
                     503, "artifact_not_loaded")


def test_reload_requires_a_configured_token(artifacts: tuple[Path, Path]) -> None:
    app = create_app(ServiceSettings(index_dir=artifacts[0]), engine=Engine.load(artifacts[0]))
    c = TestClient(app)
    assert_error(c.post("/admin/reload", headers=AUTH), 403, "admin_disabled")


def test_reload_swaps_the_artifact(artifacts: tuple[Path, Path], tmp_path: Path) -> None:
    first, second = artifacts
    app = create_app(ServiceSettings(index_dir=first, admin_token=TOKEN))
    with TestClient(app) as c:
        response = c.post("/admin/reload")
        body = assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer" and TOKEN not in body["detail"]
        assert_error(c.post("/admin/reload", headers={"Authorization": "Bearer wrong-token"}),
                     401, "unauthorized")
        assert_error(c.post("/admin/reload", headers={"Authorization": TOKEN}),
                     401, "unauthorized")
        old_engine = app.state.service.current.engine
        swapped = c.post("/admin/reload", headers=AUTH, json={"name": "tiny2"})
        assert swapped.status_code == 200, swapped.text
        assert swapped.json()["artifact"] == "tiny2" and swapped.json()["previous"] == "tiny"
        assert c.get("/v1/artifact").json()["name"] == "tiny2"
        assert c.get("/health").json()["rows"] == 120
        # a request that took the old engine before the swap still completes on it
        assert old_engine.similar(old_engine.catalogue.ids[0], limit=3)["results"]
        # a bad artifact is refused and the served one stays
        assert_error(c.post("/admin/reload", headers=AUTH, json={"name": "x"}),
                     422, "artifact_error")
        assert c.get("/v1/artifact").json()["name"] == "tiny2"
        # without a body: reload what is served
        again = c.post("/admin/reload", headers=AUTH)
        assert again.status_code == 200 and again.json()["artifact"] == "tiny2"


def test_reload_recovers_from_a_failed_start(artifacts: tuple[Path, Path], tmp_path: Path
                                             ) -> None:
    app = create_app(ServiceSettings(index_dir=tmp_path / "missing", admin_token=TOKEN,
                                     indexes_root=artifacts[0].parent))
    with TestClient(app) as c:
        assert c.get("/health").status_code == 503
        ok = c.post("/admin/reload", headers=AUTH, json={"name": "tiny"})
        assert ok.status_code == 200 and ok.json()["previous"] is None
        assert c.get("/health").json()["status"] == "ok"


def test_dependency_override_swaps_the_engine(artifacts: tuple[Path, Path]) -> None:
    app = create_app(ServiceSettings(index_dir=artifacts[0]), engine=Engine.load(artifacts[0]))
    other = Engine.load(artifacts[1])
    app.dependency_overrides[get_engine] = lambda: other
    assert TestClient(app).get("/v1/artifact").json()["name"] == "tiny2"


def test_cors_is_closed_by_default(artifacts: tuple[Path, Path]) -> None:
    engine = Engine.load(artifacts[1])
    closed = TestClient(create_app(ServiceSettings(), engine=engine))
    headers = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in closed.options("/v1/vibes", headers=headers).headers
    open_ = TestClient(create_app(ServiceSettings(cors_origins=("https://app.example",)),
                                  engine=engine))
    assert open_.options("/v1/vibes", headers=headers).headers[
        "access-control-allow-origin"] == "https://app.example"


def test_settings_from_env() -> None:
    s = ServiceSettings.from_env({"VIBEMAP_INDEX": "indexes/x", "VIBEMAP_PORT": "9000",
                                  "VIBEMAP_ADMIN_TOKEN": TOKEN,
                                  "VIBEMAP_CORS_ORIGINS": "https://a, https://b"}, port=9100)
    assert s.index_dir == Path("indexes/x") and s.port == 9100 and s.admin_token == TOKEN
    assert s.cors_origins == ("https://a", "https://b")
    assert ServiceSettings.from_env({}).admin_token is None


# ------------------------------------------------------ never a 500
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(
    st.sampled_from(["seed_tracks", "negative_tracks", "target_energy", "min_tempo", "max_tempo",
                     "limit", "offset", "vibe", "genres", "diversity", "max_per_artist",
                     "min_popularity", "target_x", "exclude_artists"]),
    st.one_of(st.text(max_size=8), st.floats(allow_nan=True), st.integers(-5, 200)),
    max_size=5))
def test_client_input_never_gives_a_500(client: TestClient, params: dict) -> None:
    params = {k: (str(v) if not (isinstance(v, float) and math.isnan(v)) else "nan")
              for k, v in params.items()}
    response = client.get("/v1/recommendations", params=params)
    assert response.status_code in (200, 404, 422), response.text
    assert set(response.json()) >= ({"results"} if response.status_code == 200
                                    else {"detail", "code"})
