"""Input limits: every oversized or over-long input gets a 4xx {"detail", "code"}, never a 500;
and bad catalogue files get one clear line from `vibemap index`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import build_tiny_artifact
from vibemap.cli import main
from vibemap.recommender.api import create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import MAX_BODY_BYTES, ServiceSettings

TOKEN = "limits-admin-token"
LONG = "x" * 201


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("limits"), n=120, n_clusters=2)


@pytest.fixture(scope="module")
def client(artifact: Path):
    app = create_app(ServiceSettings(index_dir=artifact, admin_token=TOKEN),
                     engine=Engine.load(artifact))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def ids(client: TestClient) -> list[str]:
    return [r["track_id"] for r in client.get("/v1/tracks", params={"limit": 6}).json()["results"]]


def assert_4xx(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"detail", "code"} and body["detail"], body
    if code:
        assert body["code"] == code, body
    return body


# ------------------------------------------------------------- body size
@pytest.mark.parametrize("path", ["/v1/recommendations", "/v1/recommendations/batch",
                                  "/v1/validation/kloop", "/admin/reload"])
def test_body_over_1_mib_is_413_before_anything_else(client: TestClient, path: str) -> None:
    payload = json.dumps({"seed_tracks": ["a"], "pad": "x" * MAX_BODY_BYTES}).encode()
    body = assert_4xx(client.post(path, content=payload,
                                  headers={"content-type": "application/json"}),
                      413, "payload_too_large")
    assert str(MAX_BODY_BYTES) in body["detail"]


def test_body_just_under_the_limit_is_read(client: TestClient, ids: list[str]) -> None:
    payload = json.dumps({"seed_tracks": [ids[0]], "limit": 1})
    payload = payload[:-1] + " " * (MAX_BODY_BYTES - len(payload)) + "}"  # JSON whitespace
    assert len(payload) == MAX_BODY_BYTES
    r = client.post("/v1/recommendations", content=payload,
                    headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text[:300]


def test_streamed_body_without_length_is_cut_at_the_limit(artifact: Path) -> None:
    app = create_app(ServiceSettings(index_dir=artifact, max_body_bytes=4096),
                     engine=Engine.load(artifact))

    def chunks():  # no Content-Length: httpx sends it chunked
        yield b'{"target_energy": 0.5, "pad": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    with TestClient(app) as c:
        r = c.post("/v1/recommendations", content=chunks(),
                   headers={"content-type": "application/json"})
        assert "content-length" not in r.request.headers
        assert_4xx(r, 413, "payload_too_large")
        assert 'status="413"' in c.get("/metrics").text
        small = c.post("/v1/recommendations", json={"target_energy": 0.5, "limit": 2})
        assert small.status_code == 200


def test_body_limit_setting_from_env() -> None:
    s = ServiceSettings.from_env({"VIBEMAP_MAX_BODY_BYTES": "65536"})
    assert s.max_body_bytes == 65536
    assert ServiceSettings.from_env({}).max_body_bytes == MAX_BODY_BYTES == 1 << 20


# -------------------------------------------------------- counts and lengths
def test_limit_over_100_is_422_everywhere(client: TestClient, ids: list[str]) -> None:
    assert_4xx(client.get(f"/v1/tracks/{ids[0]}/similar", params={"limit": 101}), 422,
               "invalid_query")
    assert_4xx(client.get("/v1/tracks", params={"limit": 101}), 422, "invalid_query")
    assert_4xx(client.get("/v1/recommendations", params={"seed_tracks": ids[0], "limit": 101}),
               422, "invalid_query")
    assert_4xx(client.post("/v1/recommendations", json={"seed_tracks": [ids[0]], "limit": 101}),
               422, "invalid_query")
    assert_4xx(client.get("/v1/validation/outliers", params={"limit": 101}), 422,
               "invalid_query")
    batch = client.post("/v1/recommendations/batch",
                        json={"requests": [{"seed_tracks": [ids[0]], "limit": 101}]})
    assert batch.status_code == 200 and batch.json()["results"][0]["status"] == 422


def test_at_most_5_seeds_and_5_negatives(client: TestClient, ids: list[str]) -> None:
    six = ids[:6]
    assert len(six) == 6
    assert_4xx(client.get("/v1/recommendations", params={"seed_tracks": ",".join(six)}),
               422, "invalid_query")
    assert_4xx(client.get("/v1/recommendations", params=[("seed_tracks", i) for i in six]),
               422, "invalid_query")
    assert_4xx(client.post("/v1/recommendations", json={"seed_tracks": six}), 422,
               "invalid_query")
    assert_4xx(client.post("/v1/recommendations",
                           json={"seed_tracks": ids[:1], "negative_tracks": six}),
               422, "invalid_query")
    ok = client.post("/v1/recommendations", json={"seed_tracks": ids[:5], "limit": 2})
    assert ok.status_code == 200, ok.text


def test_at_most_100_batch_items(client: TestClient) -> None:
    assert_4xx(client.post("/v1/recommendations/batch",
                           json={"requests": [{"target_energy": 0.5}] * 101}),
               422, "invalid_query")
    ok = client.post("/v1/recommendations/batch",
                     json={"requests": [{"target_energy": 0.5, "limit": 1}] * 100})
    assert ok.status_code == 200 and len(ok.json()["results"]) == 100


@pytest.mark.parametrize("method, path, kwargs", [
    ("get", "/v1/tracks", {"params": {"q": LONG}}),
    ("get", "/v1/tracks", {"params": {"vibe": LONG}}),
    ("get", "/v1/tracks", {"params": {"genre": LONG}}),
    ("get", f"/v1/tracks/{LONG}", {}),
    ("get", f"/v1/tracks/{LONG}/similar", {}),
    ("get", f"/v1/vibes/{LONG}", {}),
    ("get", "/v1/tracks.csv", {"params": {"q": LONG}}),
    ("get", "/v1/tracks.csv", {"params": {"genre": LONG}}),
    ("get", "/v1/validation/pca", {"params": {"vibe": LONG}}),
    ("get", "/v1/recommendations", {"params": {"seed_tracks": LONG}}),
    ("get", "/v1/recommendations", {"params": {"target_energy": 0.5, "negative_tracks": LONG}}),
    ("get", "/v1/recommendations", {"params": {"target_energy": 0.5, "vibe": LONG}}),
    ("get", "/v1/recommendations", {"params": {"target_energy": 0.5, "genres": LONG}}),
    ("get", "/v1/recommendations", {"params": {"target_energy": 0.5, "exclude_artists": LONG}}),
    ("get", "/v1/recommendations", {"params": {"target_energy": 0.5,
                                               "genres": ",".join(["g"] * 101)}}),
    ("post", "/v1/recommendations", {"json": {"seed_tracks": [LONG]}}),
    ("post", "/v1/recommendations", {"json": {"seed_tracks": LONG}}),
    ("post", "/v1/recommendations", {"json": {"target_energy": 0.5, "negative_tracks": [LONG]}}),
    ("post", "/v1/recommendations", {"json": {"target_energy": 0.5, "vibe": LONG}}),
    ("post", "/v1/recommendations", {"json": {"target_energy": 0.5, "genres": [LONG]}}),
    ("post", "/v1/recommendations", {"json": {"target_energy": 0.5, "genres": ["g"] * 101}}),
    ("post", "/v1/recommendations", {"json": {"target_energy": 0.5, "exclude_artists": LONG}}),
    ("post", "/v1/recommendations", {"json": {"target_energy": 0.5,
                                              "exclude_artists": ["a"] * 101}}),
])
def test_over_long_text_and_lists_are_422(client: TestClient, method: str, path: str,
                                          kwargs: dict) -> None:
    body = assert_4xx(getattr(client, method)(path, **kwargs), 422, "invalid_query")
    assert "200" in body["detail"] or "100" in body["detail"], body


def test_exactly_200_characters_is_accepted(client: TestClient) -> None:
    assert client.get("/v1/tracks", params={"q": "x" * 200}).status_code == 200
    assert_4xx(client.get(f"/v1/tracks/{'x' * 200}"), 404, "track_not_found")


def test_non_utf8_or_non_json_bodies_are_422_not_400_or_500(client: TestClient) -> None:
    for content in (b"\xff\xfe{", b"{not json", b"", b"[1, 2", b"\x00" * 10):
        r = client.post("/v1/recommendations", content=content,
                        headers={"content-type": "application/json"})
        assert_4xx(r, 422, "invalid_query")


def test_huge_numbers_are_4xx(client: TestClient, ids: list[str]) -> None:
    big = "9" * 400
    for params in ({"year_min": big}, {"year_max": "-" + big}, {"limit": big},
                   {"offset": big}):
        assert_4xx(client.get("/v1/tracks", params=params), 422, "invalid_query")
    for params in ({"min_popularity": big}, {"max_popularity": "-inf"},
                   {"target_energy": "1e999"}):
        r = client.get("/v1/recommendations", params={"seed_tracks": ids[0], **params})
        assert_4xx(r, 422, "invalid_query")
    r = client.get("/v1/recommendations", params={"seed_tracks": ids[0], "max_per_artist": big})
    assert r.status_code < 500, r.text
    body = '{"seed_tracks": ["' + ids[0] + '"], "limit": ' + big + "}"
    r = client.post("/v1/recommendations", content=body,
                    headers={"content-type": "application/json"})
    assert_4xx(r, 422, "invalid_query")


# ----------------------------------------------------------- catalogue files
@pytest.mark.parametrize("name, content, words", [
    ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    ("page.csv", b"<!DOCTYPE html><html><body>tracks</body></html>\n", "HTML"),
    ("data.csv", b'[{"energy": 0.5, "tempo": 120}]\n', "JSON"),
    ("object.json", b'{"tracks": []}\n', "JSON"),
    ("empty.csv", b"", "empty"),
    ("latin1.csv", "id_songs,name_song\nx,Caf\xe9\n".encode("latin-1"), "UTF-8"),
])
def test_not_a_csv_gets_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                       name: str, content: bytes, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "indexes" / "x"
    assert main(["index", str(path), "--out", str(out), "--no-eval"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("vibemap: error:") and name in err and words in err, err
    assert not out.exists() and not any((tmp_path / "indexes").glob(".*"))
