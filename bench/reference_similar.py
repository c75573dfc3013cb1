"""The yardstick of bench_http.py: GET /v1/tracks/{id}/similar as a plain FastAPI service
would write it, with one faiss IndexFlatIP and pydantic response models.

    VIBEMAP_REFERENCE_DATA=DIR .venv/bin/python -m uvicorn reference_similar:app --app-dir bench

DIR holds what bench_http.py exports from the artifact being measured: ``vectors.npy``
(index space, rows sorted by vibe), ``tracks.json`` (one object per row: track_id, name,
artist, genres, popularity, release_year, vibe_id, vibe_name, features) and
``features.json`` (names and scaler scale). It answers the service's default question,
the 10 nearest tracks in the seed's vibe (the seed excluded), each with its metadata,
score, rank and the three closest and furthest features; it does not merge versions of
a song, has no era facts, metrics, limits or artifact header: less work than the service.
Deliberately straightforward: FastAPI's own parameter validation and response-model
serialisation, one IDSelectorRange search. Two apps, the same answer:

- ``app``: an ``async`` endpoint (no thread hop): the stronger one, the target's yardstick;
- ``app_def``: a plain ``def`` endpoint, which FastAPI runs in its thread pool (the other
  way FastAPI offers to write it), e.g. ``uvicorn reference_similar:app_def``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import faiss
import numpy as np
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel

DATA = Path(os.environ.get("VIBEMAP_REFERENCE_DATA", "."))
VECTORS = np.load(DATA / "vectors.npy", allow_pickle=False)
TRACKS: list[dict] = json.loads((DATA / "tracks.json").read_text(encoding="utf-8"))
META = json.loads((DATA / "features.json").read_text(encoding="utf-8"))
FEATURES: list[str] = META["features"]
SCALE = np.asarray(META["scale"], dtype=np.float64)
F = np.asarray([[t["features"][f] for f in FEATURES] for t in TRACKS], dtype=np.float64)
ROW_OF = {t["track_id"]: i for i, t in enumerate(TRACKS)}
SPANS: dict[int, tuple[int, int]] = {}
for i, t in enumerate(TRACKS):
    start, _ = SPANS.get(t["vibe_id"], (i, i))
    SPANS[t["vibe_id"]] = (start, i + 1)
faiss.omp_set_num_threads(1)
INDEX = faiss.IndexFlatIP(VECTORS.shape[1])
INDEX.add(VECTORS)

app = FastAPI(title="reference similar")
app_def = FastAPI(title="reference similar, def endpoint")


class Track(BaseModel):
    track_id: str
    name: str
    artist: str
    genres: list[str]
    popularity: float | None
    release_year: int | None
    vibe_id: int
    vibe_name: str


class FeatureComparison(BaseModel):
    feature: str
    track: float
    query: float


class Explanation(BaseModel):
    closest: list[FeatureComparison]
    furthest: list[FeatureComparison]


class SimilarTrack(Track):
    score: float
    rank: int
    explanation: Explanation


class SimilarResponse(BaseModel):
    seed: Track
    limit: int
    results: list[SimilarTrack]


def track(row: int) -> Track:
    t = TRACKS[row]
    return Track(track_id=t["track_id"], name=t["name"], artist=t["artist"],
                 genres=t["genres"], popularity=t["popularity"],
                 release_year=t["release_year"], vibe_id=t["vibe_id"], vibe_name=t["vibe_name"])


def explanation(row: int, seed: int) -> Explanation:
    order = np.argsort(np.abs(F[row] - F[seed]) / SCALE, kind="stable")

    def compare(j: int) -> FeatureComparison:
        return FeatureComparison(feature=FEATURES[j], track=round(float(F[row, j]), 6),
                                 query=round(float(F[seed, j]), 6))

    return Explanation(closest=[compare(j) for j in order[:3]],
                       furthest=[compare(j) for j in order[::-1][:3]])


def answer(track_id: str, limit: int) -> SimilarResponse:
    seed = ROW_OF.get(track_id)
    if seed is None:
        raise HTTPException(404, "unknown track")
    start, stop = SPANS[TRACKS[seed]["vibe_id"]]
    params = faiss.SearchParameters(sel=faiss.IDSelectorRange(start, stop))
    D, I = INDEX.search(VECTORS[seed:seed + 1], limit + 1, params=params)
    results = []
    for score, row in zip(D[0].tolist(), I[0].tolist(), strict=True):
        if row < 0 or row == seed or len(results) == limit:
            continue
        results.append(SimilarTrack(**track(row).model_dump(), score=round(score, 6),
                                    rank=len(results) + 1, explanation=explanation(row, seed)))
    return SimilarResponse(seed=track(seed), limit=limit, results=results)


@app.get("/v1/tracks/{track_id}/similar", response_model=SimilarResponse)
async def similar(track_id: str, limit: int = Query(10, ge=1, le=100)) -> SimilarResponse:
    return answer(track_id, limit)


@app_def.get("/v1/tracks/{track_id}/similar", response_model=SimilarResponse)
def similar_def(track_id: str, limit: int = Query(10, ge=1, le=100)) -> SimilarResponse:
    return answer(track_id, limit)
