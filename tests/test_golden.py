"""Golden answers: a fixed set of ~200 API requests (every route, GET and POST, errors
included) replayed against a small artifact built in code, compared with the committed
``tests/golden/answers.json``: status codes and JSON bodies, floats to 1e-6 relative.

It pins behaviour across redesigns. Where an answer changes on purpose (a bug fixed), update
the file in its own commit that says why:

    VIBEMAP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

Fields that differ between two builds of the same input (times, the package version) are
masked before comparing; everything else must match.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import make_tracks
from vibemap.indexer.pipeline import build_index
from vibemap.indexer.settings import BuildSettings
from vibemap.recommender.api import create_app
from vibemap.recommender.settings import ServiceSettings

GOLDEN = Path(__file__).parent / "golden" / "answers.json"
TOKEN = "golden-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VOLATILE = {"created_at", "loaded_at", "vibemap_version"}  # and timings: *seconds, *_s
MASK = "<volatile>"


def golden_catalogue(path: Path) -> Path:
    """300 tracks in 3 clear blobs, with the awkward cells real catalogues have: accents,
    mixed genre separators, bare genre strings, missing years and popularity."""
    frame = make_tracks(300, seed=7, n_blobs=3)
    frame.loc[0:9, "name_song"] = ["Beyoncé Song", "Café del Mar", "Ñandú",
                                   "Song 3 - Remastered 2011", "Song 3", "Song 3 (Radio Edit)",
                                   "Mötley Tune", "Zoë", "Song 8 feat. Someone", "Über Alles"]
    frame.loc[10:14, "genres"] = ["rock, pop; jazz", "dance pop;pop edm;pop;edm", "indie folk",
                                  "['hard rock', 'rap']", ""]
    frame.loc[15:17, "release_date"] = ""
    frame.loc[18:19, "popularity_songs"] = float("nan")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def golden_client(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("golden")
    csv = golden_catalogue(root / "golden.csv")
    out = root / "indexes" / "golden"
    # era_weight=0: the nine-feature vectors the 204 answers were recorded with (so the
    # golden answers also prove that W = 0 gives the answers of before the era dimension)
    build_index(BuildSettings(csv=csv, out=out, n_clusters=3, seed=0, evaluate=True, n_init=3,
                              era_weight=0.0))
    app = create_app(ServiceSettings(index_dir=out, admin_token=TOKEN))
    with TestClient(app) as client:
        client.root = str(root)  # masked in answers: it differs per run
        yield client


def golden_requests(client: TestClient) -> list[dict[str, Any]]:
    """The fixed request list. Ids come from the artifact by position, so the list is the
    same for every build of the golden catalogue (and is checked against the file)."""
    first = client.get("/v1/tracks", params={"limit": 100}).json()["results"]
    ids = [t["track_id"] for t in first]
    artists = sorted({t["artist"] for t in first})
    vibes = client.get("/v1/vibes").json()["vibes"]
    reqs: list[dict[str, Any]] = []

    def get(path: str, params: dict | list | None = None, headers: dict | None = None) -> None:
        reqs.append({"method": "GET", "path": path, "params": params, "headers": headers})

    def post(path: str, body: Any = None, headers: dict | None = None, raw: str | None = None
             ) -> None:
        reqs.append({"method": "POST", "path": path, "json": body, "raw": raw,
                     "headers": headers})

    # service
    get("/health")
    get("/no/such/route")
    post("/health")
    # artifact and vibes
    get("/v1/artifact")
    get("/v1/vibes")
    for v in vibes:
        get(f"/v1/vibes/{v['vibe_id']}")
        get(f"/v1/vibes/{v['slug']}")
        get(f"/v1/vibes/{v['name'].upper()}")
    get("/v1/vibes/99")
    get("/v1/vibes/no-such-vibe")
    # search
    for q in ("song", "Song 3", "beyonce", "BEYONCÉ", "cafe", "artist 1", "zzz", "über", "3",
              "song 3 remastered", ""):
        get("/v1/tracks", {"q": q, "limit": 7})
    get("/v1/tracks", {"q": "song", "limit": 5, "offset": 5})
    get("/v1/tracks", {"vibe": str(vibes[1]["vibe_id"]), "limit": 5})
    get("/v1/tracks", {"vibe": vibes[0]["slug"], "q": "song", "limit": 5})
    for g in ("rock", "pop", "jazz", "dance pop", "hard rock", "edm", "indie folk", "ambient"):
        get("/v1/tracks", {"genre": g, "limit": 5})
    get("/v1/tracks", [("genre", "rap"), ("genre", "ambient"), ("limit", "5")])
    get("/v1/tracks", {"year_min": 1990, "year_max": 2000, "limit": 5})
    get("/v1/tracks", {"year_min": 2030, "limit": 5})
    get("/v1/tracks", {"limit": 0})
    get("/v1/tracks", {"limit": "many"})
    get("/v1/tracks", {"offset": -1})
    get("/v1/tracks", {"year_min": 99999})
    get("/v1/tracks", {"vibe": "no-such-vibe"})
    get("/v1/tracks", {"q": "x" * 500})
    # one track
    for tid in ids[:12]:
        get(f"/v1/tracks/{tid}")
    get("/v1/tracks/no-such-track")
    get("/v1/tracks/" + "x" * 300)
    # similar
    for tid in ids[:15]:
        get(f"/v1/tracks/{tid}/similar", {"limit": 5})
    for tid in ids[15:20]:
        get(f"/v1/tracks/{tid}/similar", {"limit": 5, "scope": "any"})
        get(f"/v1/tracks/{tid}/similar", {"limit": 3, "offset": 4})
        get(f"/v1/tracks/{tid}/similar", {"limit": 6, "max_per_artist": 1})
    for tid in ids[80:90]:
        get(f"/v1/tracks/{tid}/similar", {"limit": 4, "scope": "any", "max_per_artist": 2})
    for v in vibes:
        get(f"/v1/tracks/{ids[20]}/similar", {"limit": 4, "scope": v["slug"]})
    get(f"/v1/tracks/{ids[0]}/similar", {"limit": 0})
    get(f"/v1/tracks/{ids[0]}/similar", {"limit": 10_000})
    get(f"/v1/tracks/{ids[0]}/similar", {"scope": "nowhere"})
    get(f"/v1/tracks/{ids[0]}/similar", {"max_per_artist": 0})
    get(f"/v1/tracks/{ids[0]}/similar", {"offset": "x"})
    get("/v1/tracks/no-such-track/similar")
    # recommendations, GET
    rec = "/v1/recommendations"
    for i in range(0, 20, 2):
        get(rec, {"seed_tracks": ids[i], "limit": 5})
    get(rec, {"seed_tracks": ",".join(ids[20:23]), "limit": 5})
    get(rec, [("seed_tracks", ids[23]), ("seed_tracks", ids[24]), ("limit", "5")])
    get(rec, {"seed_tracks": ids[25], "negative_tracks": ids[26], "limit": 5})
    get(rec, {"seed_tracks": ids[27], "vibe": "same", "limit": 5})
    get(rec, {"seed_tracks": ids[28], "vibe": vibes[2]["slug"], "limit": 5})
    get(rec, {"seed_tracks": ids[29], "genres": "rap", "limit": 5})
    get(rec, {"seed_tracks": ids[30], "genres": "rap,ambient", "limit": 5})
    get(rec, {"seed_tracks": ids[31], "min_popularity": 50, "limit": 5})
    get(rec, {"seed_tracks": ids[32], "max_popularity": 30, "limit": 5})
    get(rec, {"seed_tracks": ids[33], "exclude_artists": artists[0], "limit": 5})
    get(rec, {"seed_tracks": ids[34], "max_per_artist": 1, "limit": 8})
    for d in (0.3, 0.7, 1.0):
        get(rec, {"seed_tracks": ids[35], "diversity": d, "limit": 6})
    get(rec, {"seed_tracks": ids[36], "limit": 4, "offset": 8})
    get(rec, {"seed_tracks": ids[37], "min_energy": 0.5, "limit": 5})
    get(rec, {"seed_tracks": ids[38], "max_tempo": 120, "min_valence": 0.3, "limit": 5})
    get(rec, {"target_energy": 0.8, "target_danceability": 0.7, "limit": 5})
    get(rec, {"target_tempo": 128, "vibe": vibes[0]["slug"], "limit": 5})
    get(rec, {"seed_tracks": ids[39], "target_acousticness": 0.9, "limit": 5})
    get(rec, {"limit": 5})
    get(rec, {"seed_tracks": ",".join(ids[40:46])})
    get(rec, {"seed_tracks": "no-such-track"})
    get(rec, {"seed_tracks": ids[0], "negative_tracks": "no-such-track"})
    get(rec, {"seed_tracks": ids[0], "unknown_param": 1})
    get(rec, [("seed_tracks", ids[0]), ("min_energy", "0.1"), ("min_energy", "0.2")])
    get(rec, {"seed_tracks": ids[0], "min_energy": "high"})
    get(rec, {"seed_tracks": ids[0], "target_nonfeature": 1})
    get(rec, {"seed_tracks": ids[0], "diversity": 2})
    get(rec, {"seed_tracks": ids[0], "vibe": "nowhere"})
    get(rec, {"seed_tracks": ids[0], "min_popularity": "nan"})
    get(rec, {"seed_tracks": ids[0], "min_energy": 0.9, "max_energy": 0.1})
    get(rec, {"seed_tracks": ",".join(ids[:3]), "vibe": "same"})
    # recommendations, POST
    for i in range(46, 56):
        post(rec, {"seed_tracks": [ids[i]], "limit": 5})
    post(rec, {"seed_tracks": ids[56:59], "negative_tracks": [ids[59]], "limit": 5})
    post(rec, {"seed_tracks": [ids[60]], "targets": {"energy": 0.2}, "limit": 5})
    post(rec, {"seed_tracks": [ids[61]], "min": {"tempo": 100}, "max": {"loudness": -5},
               "limit": 5})
    post(rec, {"seed_tracks": [ids[62]], "genres": ["hard rock"], "diversity": 0.5, "limit": 5})
    post(rec, {"seed_tracks": [ids[63]], "exclude_artists": artists[:3], "max_per_artist": 2,
               "limit": 7})
    post(rec, {"seed_tracks": [ids[64]], "vibe": vibes[1]["vibe_id"], "limit": 5})
    post(rec, {"targets": {"valence": 0.9, "energy": 0.9}, "limit": 5})
    post(rec, {"seed_tracks": ["no-such-track"]})
    post(rec, {"seed_tracks": ids[:6]})
    post(rec, {"seed_tracks": [ids[0]], "limit": 0})
    post(rec, {"seed_tracks": [ids[0]], "targets": {"nonfeature": 1}})
    post(rec, {"seed_tracks": [ids[0]], "unknown": 1})
    post(rec, {"seed_tracks": "not-a-list"})
    post(rec, None, raw="{not json")
    post(rec, None, raw="[]")
    post(rec, None, raw="")
    # batch
    post(f"{rec}/batch", {"requests": [{"seed_tracks": [ids[i]], "limit": 3}
                                       for i in range(65, 70)]})
    post(f"{rec}/batch", {"requests": [{"seed_tracks": [ids[70]], "limit": 3},
                                       {"seed_tracks": ["no-such-track"]},
                                       {"seed_tracks": [ids[71]], "limit": 0},
                                       {"targets": {"tempo": 90}, "limit": 2},
                                       "not an object"]})
    post(f"{rec}/batch", {"requests": []})
    post(f"{rec}/batch", {"requests": [{"limit": 1}] * 101})
    post(f"{rec}/batch", {"nothing": 1})
    # validation
    get("/v1/validation")
    get("/v1/validation/pca", {"limit": 20})
    get("/v1/validation/pca", {"limit": 20, "vibe": vibes[0]["slug"]})
    get("/v1/validation/pca", {"limit": 20, "genre": "rap"})
    get("/v1/validation/pca", {"limit": 10, "q": "song 1"})
    get("/v1/validation/pca", {"limit": 0})
    get("/v1/validation/outliers", {"limit": 5})
    get("/v1/validation/outliers", {"limit": 500})
    post("/v1/validation/kloop", {"sample_size": 150, "k_min": 2, "k_max": 4, "seed": 1})
    post("/v1/validation/kloop", {"sample_size": 10})
    post("/v1/validation/kloop", {"sample_size": 200, "k_min": 5, "k_max": 3})
    # export
    get("/v1/tracks.csv", {"vibe": vibes[2]["slug"]})
    get("/v1/tracks.csv", {"q": "song 2", "genre": "rap"})
    get("/v1/tracks.csv", {"year_min": 2030})
    # admin
    post("/admin/reload")
    post("/admin/reload", {}, headers={"Authorization": "Bearer wrong"})
    post("/admin/reload", {"name": "../etc"}, headers=AUTH)
    post("/admin/reload", {"name": "missing"}, headers=AUTH)
    post("/admin/reload", {}, headers=AUTH)
    get("/health")
    return reqs


def _send(client: TestClient, req: dict[str, Any]):
    headers = req.get("headers") or {}
    if req["method"] == "GET":
        return client.get(req["path"], params=req.get("params"), headers=headers)
    if req.get("raw") is not None:
        return client.post(req["path"], content=req["raw"],
                           headers={**headers, "Content-Type": "application/json"})
    if req.get("json") is None:
        return client.post(req["path"], headers=headers)
    return client.post(req["path"], json=req["json"], headers=headers)


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if k in VOLATILE or k.endswith(("seconds", "_s")) else _mask(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def answer(response, root: str) -> dict[str, Any]:
    kind = response.headers.get("content-type", "").split(";")[0]
    text = response.text.replace(root, "<tmp>")
    body: Any = _mask(json.loads(text)) if kind == "application/json" else text
    return {"status": response.status_code, "type": kind, "body": body}


def _diff(expected: Any, actual: Any, where: str = "") -> str | None:
    """Where two JSON values differ (None if equal); floats to 1e-6 relative."""
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(expected, int | float) and isinstance(actual, int | float) and (
                math.isclose(expected, actual, rel_tol=1e-6, abs_tol=1e-9)):
            return None
        return f"{where}: {expected!r} != {actual!r}"
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return f"{where}: keys {sorted(expected)} != {sorted(actual)}"
        for k in expected:
            d = _diff(expected[k], actual[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{where}: {len(expected)} items != {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            d = _diff(e, a, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if expected == actual else f"{where}: {expected!r} != {actual!r}"


def test_golden_answers(golden_client: TestClient) -> None:
    requests = golden_requests(golden_client)
    assert len(requests) >= 200
    answers = [answer(_send(golden_client, r), golden_client.root) for r in requests]
    if os.environ.get("VIBEMAP_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        lines = [json.dumps({"request": r, "answer": a}, ensure_ascii=False)
                 for r, a in zip(requests, answers, strict=True)]
        GOLDEN.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
        pytest.skip("golden answers rewritten")
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert [r["request"] for r in recorded] == json.loads(json.dumps(requests)), (
        "the request list changed: regenerate the golden file in its own commit")
    failures = []
    for i, (rec, got) in enumerate(zip(recorded, answers, strict=True)):
        d = _diff(rec["answer"], got)
        if d:
            req = rec["request"]
            failures.append(f"#{i} {req['method']} {req['path']} {req.get('params') or ''}: {d}")
    assert not failures, f"{len(failures)} of {len(answers)} answers differ:\n" + "\n".join(
        failures[:20])
