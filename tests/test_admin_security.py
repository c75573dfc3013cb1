"""POST /admin/reload: a bearer token from the environment, compared in constant time;
disabled without one; artifact names only (no paths); and CORS closed unless configured."""

from __future__ import annotations

import hmac
import inspect
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import build_tiny_artifact
from vibemap.recommender.api import create_app
from vibemap.recommender.api import deps as api
from vibemap.recommender.engine import Engine
from vibemap.recommender.errors import SettingsError
from vibemap.recommender.settings import ServiceSettings

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("admin")
    build_tiny_artifact(root, n=90, n_clusters=2, seed=0, name="first")
    build_tiny_artifact(root, n=60, n_clusters=2, seed=1, name="second")
    return root / "indexes"


def make_client(indexes: Path, **settings) -> TestClient:
    s = ServiceSettings(index_dir=indexes / "first", **settings)
    return TestClient(create_app(s, engine=Engine.load(indexes / "first")))


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == code and body["detail"]
    return body


# ------------------------------------------------------------------ token
def test_disabled_without_a_configured_token(indexes: Path) -> None:
    c = make_client(indexes)
    for headers in ({}, AUTH, {"Authorization": "Bearer "}):
        body = assert_error(c.post("/admin/reload", headers=headers), 403, "admin_disabled")
        assert "VIBEMAP_ADMIN_TOKEN" in body["detail"]
    assert c.get("/v1/artifact").json()["name"] == "first"


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}",
    f"Bearer {TOKEN}x", f"Bearer {TOKEN.upper()}", "Bearer wrong-token-entirely",
    f"Token {TOKEN}",
])
def test_wrong_or_missing_token_is_401(indexes: Path, authorization: str | None) -> None:
    c = make_client(indexes, admin_token=TOKEN)
    headers = {} if authorization is None else {"Authorization": authorization}
    r = c.post("/admin/reload", headers=headers, json={"name": "second"})
    body = assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in body["detail"] and TOKEN[:6] not in r.text
    assert c.get("/v1/artifact").json()["name"] == "first"


def test_the_token_is_checked_before_the_body(indexes: Path) -> None:
    """An anonymous caller learns nothing about the body schema or the indexes root."""
    c = make_client(indexes, admin_token=TOKEN)
    assert_error(c.post("/admin/reload", json={"name": "../etc"}), 401, "unauthorized")
    assert_error(c.post("/admin/reload", json={"bogus": 1}), 401, "unauthorized")
    assert_error(c.post("/admin/reload", json={"name": "second"},
                        headers={"Authorization": "Bearer nope-nope"}), 401, "unauthorized")


def test_bearer_scheme_is_case_insensitive_and_token_is_exact(indexes: Path) -> None:
    c = make_client(indexes, admin_token=TOKEN)
    ok = c.post("/admin/reload", headers={"Authorization": f"bearer {TOKEN}"},
                json={"name": "second"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["artifact"] == "second" and ok.json()["previous"] == "first"


def test_token_compared_with_hmac_compare_digest(indexes: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api.hmac, "compare_digest", spy)
    c = make_client(indexes, admin_token=TOKEN)
    assert c.post("/admin/reload", headers={"Authorization": "Bearer guess-guess"}
                  ).status_code == 401
    assert c.post("/admin/reload", headers=AUTH).status_code == 200
    assert calls == [(b"guess-guess", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]
    source = inspect.getsource(api.check_admin)
    assert "compare_digest" in source and "==" not in source


def test_token_comes_from_the_environment_and_must_be_long_enough() -> None:
    assert ServiceSettings.from_env({"VIBEMAP_ADMIN_TOKEN": TOKEN}).admin_token == TOKEN
    assert ServiceSettings.from_env({"VIBEMAP_ADMIN_TOKEN": ""}).admin_token is None
    assert ServiceSettings.from_env({}).admin_token is None
    with pytest.raises(SettingsError, match="at least 8"):
        ServiceSettings.from_env({"VIBEMAP_ADMIN_TOKEN": "short"})


# ------------------------------------------------------------ names only
@pytest.mark.parametrize("name", [
    "../second", "..", ".", "/etc", "/tmp/x", "first/../second", "a/b", ".hidden",
    ".first.tmp-1-abc", "-rf", "_x", "x\\y", "x\ny", "x\n", "x\x00y", "~", "~root",
    "%2e%2e", "a" * 65, "ünïcode", "x y", "",
])
def test_reload_refuses_anything_but_a_plain_name(indexes: Path, name: str) -> None:
    c = make_client(indexes, admin_token=TOKEN)
    before = c.get("/v1/artifact").json()
    body = assert_error(c.post("/admin/reload", headers=AUTH, json={"name": name}),
                        422, "invalid_query")
    assert body["detail"].startswith("name:"), body
    assert c.get("/v1/artifact").json() == before


def test_reload_refuses_the_old_path_field(indexes: Path) -> None:
    c = make_client(indexes, admin_token=TOKEN)
    for body in ({"index": str(indexes / "second")}, {"index": "second"},
                 {"name": "second", "path": "/"}):
        assert_error(c.post("/admin/reload", headers=AUTH, json=body), 422, "invalid_query")
    assert c.get("/v1/artifact").json()["name"] == "first"


def test_names_resolve_under_the_indexes_root(indexes: Path, tmp_path: Path) -> None:
    c = make_client(indexes, admin_token=TOKEN)  # root: the parent of index_dir
    r = c.post("/admin/reload", headers=AUTH, json={"name": "second"})
    assert r.status_code == 200 and r.json()["artifact"] == "second"
    assert c.get("/health").json()["rows"] == 60
    missing = assert_error(c.post("/admin/reload", headers=AUTH, json={"name": "nope"}),
                           422, "artifact_error")
    assert missing["detail"].startswith("nope: no artifact directory here")
    assert str(indexes) not in missing["detail"]  # never an absolute server path
    # an explicit root (VIBEMAP_INDEXES) wins over the parent of index_dir
    other = make_client(indexes, admin_token=TOKEN, indexes_root=tmp_path)
    body = assert_error(other.post("/admin/reload", headers=AUTH, json={"name": "second"}),
                        422, "artifact_error")
    assert body["detail"].startswith("second: no artifact directory here")
    assert str(tmp_path) not in body["detail"]
    # no name: reload the served artifact (its own path, wherever it is)
    again = other.post("/admin/reload", headers=AUTH)
    assert again.status_code == 200 and again.json()["artifact"] == "first"


def test_indexes_root_from_the_environment() -> None:
    s = ServiceSettings.from_env({"VIBEMAP_INDEXES": "/srv/indexes", "VIBEMAP_INDEX": "x/y"})
    assert s.indexes_root == Path("/srv/indexes") and s.artifacts_root == Path("/srv/indexes")
    assert ServiceSettings.from_env({"VIBEMAP_INDEX": "x/y"}).artifacts_root == Path("x")
    assert ServiceSettings().artifacts_root == Path("indexes")


# ------------------------------------------------------------------ CORS
PREFLIGHT = {"Access-Control-Request-Method": "GET"}


def test_cors_closed_by_default(indexes: Path) -> None:
    c = make_client(indexes)
    for origin in ("https://evil.example", "null", "http://127.0.0.1:7860"):
        headers = {"Origin": origin}
        got = c.get("/v1/vibes", headers=headers)
        assert got.status_code == 200
        assert "access-control-allow-origin" not in got.headers
        pre = c.options("/v1/vibes", headers={**headers, **PREFLIGHT})
        assert "access-control-allow-origin" not in pre.headers
        post = c.post("/admin/reload", headers=headers)
        assert "access-control-allow-origin" not in post.headers


def test_cors_allows_only_the_configured_origins(indexes: Path) -> None:
    c = make_client(indexes, cors_origins=("https://app.example",))
    ok = c.get("/v1/vibes", headers={"Origin": "https://app.example"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-credentials" not in ok.headers
    pre = c.options("/v1/recommendations", headers={"Origin": "https://app.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    for origin in ("https://evil.example", "https://app.example.evil.example",
                   "http://app.example"):
        assert "access-control-allow-origin" not in c.get(
            "/v1/vibes", headers={"Origin": origin}).headers
        bad = c.options("/v1/vibes", headers={"Origin": origin, **PREFLIGHT})
        assert "access-control-allow-origin" not in bad.headers


def test_cors_origins_from_the_environment() -> None:
    s = ServiceSettings.from_env({"VIBEMAP_CORS_ORIGINS": " https://a.example ,https://b"})
    assert s.cors_origins == ("https://a.example", "https://b")
    assert ServiceSettings.from_env({}).cors_origins == ()
    with pytest.raises(SettingsError):
        ServiceSettings.from_env({"VIBEMAP_CORS_ORIGINS": "*,https://a"})
