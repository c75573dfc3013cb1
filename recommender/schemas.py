"""Pydantic models of the HTTP API: request bodies and the shapes routes return.

Feature-dependent fields (``target_<feature>``, ``min_<feature>``, ``max_<feature>``) are
not declared one by one: the feature list comes from the loaded artifact's manifest,
so requests carry them as extra fields and the engine checks them against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from vibemap.recommender.engine import (
    COMBINATION_RULE,
    ERA_RULE,
    MAX_LIMIT,
    MAX_NEGATIVES,
    MAX_OFFSET,
    MAX_SEARCH_LIMIT,
    MAX_SEEDS,
)
from vibemap.recommender.explanation_schemas import EraFacts, EraOptional, Explanation
from vibemap.recommender.insights import MAX_PCA_POINTS

MAX_BATCH = 100
MAX_TEXT = 200  # longest track id, vibe, genre or artist name a request may carry
MAX_LIST_ITEMS = 100  # most genres / excluded artists in one request
# an artifact name for POST /admin/reload: one path component, never '.', '..' or hidden
ARTIFACT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

# The cost of one request is bounded at the edge (figures: bench/RESULTS.md, starvation).
# MMR re-ranks a pool of max(300, 2 * (offset + limit)) candidates in offset + limit steps,
# so its cost grows with the square of the depth (bench/RESULTS.md, "Measured design choices").
MAX_DIVERSE_DEPTH = 500
# A batch's cost: per item, ITEM_BASE_COST + (offset + limit), times DIVERSITY_COST_FACTOR
# when diversity > 0, roughly proportional to CPU time. 100 items of limit 100 cost 20_000.
ITEM_BASE_COST = 100
DIVERSITY_COST_FACTOR = 20
MAX_BATCH_COST = 100_000

ShortText = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
DedupeVersions = Annotated[bool, Field(description="one result per song (its best-scoring "
                                       "version) and no version of a seed; false: every version")]


def request_cost(offset: int, limit: int, diversity: float) -> int:
    """The cost units of one recommendation request (see MAX_BATCH_COST)."""
    depth = ITEM_BASE_COST + offset + limit
    return depth * DIVERSITY_COST_FACTOR if diversity > 0 else depth


def check_depth(offset: int, limit: int, diversity: float) -> None:
    """MMR's bound: with diversity > 0, offset + limit <= MAX_DIVERSE_DEPTH."""
    if diversity > 0 and offset + limit > MAX_DIVERSE_DEPTH:
        raise ValueError(f"offset + limit must be at most {MAX_DIVERSE_DEPTH} when diversity "
                         f"> 0 (MAX_DIVERSE_DEPTH), got {offset + limit}")


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ErrorBody(BaseModel):
    detail: str = Field(description="what went wrong, in one line")
    code: str = Field(description="stable machine-readable error code, e.g. track_not_found")


class TrackSummary(BaseModel):
    track_id: str
    name: str
    artist: str
    genres: list[str]
    popularity: int | float | None
    release_year: int | None
    vibe_id: int
    vibe_name: str


class TrackDetail(TrackSummary):
    duration_ms: int | None
    features: dict[str, float] = Field(description="audio features in original units")


class Recommendation(TrackSummary):
    score: float = Field(description="similarity to the query; larger is better")
    rank: int = Field(description="1-based position in the full ranking (offset + i + 1)")
    explanation: Explanation


class Scope(BaseModel):
    vibe_id: int | None = Field(description="the vibe searched; null for every vibe")
    vibe_name: str | None


class SimilarQuery(BaseModel):
    """Query string of GET /v1/tracks/{track_id}/similar (validated in one pass by
    ``vibemap.recommender.api.deps.parse_query``; unknown parameters are ignored)."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(10, ge=1, le=MAX_LIMIT, description="results per page")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="results to skip (paging)")
    scope: ShortText = Field("same", description="'same' (the track's vibe), 'any', or a vibe "
                                                 "id / name")
    max_per_artist: int | None = Field(None, ge=1, description="at most this many results "
                                                               "per artist")
    dedupe_versions: DedupeVersions = True
    audio_only: bool = Field(False, description="rank by the nine audio features alone "
                                                "(artifacts with an era column; exact)")


class BrowseQuery(BaseModel):
    """The browse filters of /v1/tracks, /v1/tracks.csv and /v1/validation/pca."""

    model_config = ConfigDict(extra="ignore")

    q: ShortText | None = Field(None, description="name or artist text")
    vibe: ShortText | None = Field(None, description="vibe id, name or slug")
    genre: list[str] | None = Field(None, description="genre label(s), comma-separated")
    year_min: int | None = Field(None, ge=0, le=3000, description="earliest release year")
    year_max: int | None = Field(None, ge=0, le=3000, description="latest release year")


class TrackSearchQuery(BrowseQuery):
    """Query string of GET /v1/tracks."""

    limit: int = Field(20, ge=1, le=MAX_SEARCH_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class PcaQuery(BrowseQuery):
    """Query string of GET /v1/validation/pca."""

    limit: int | None = Field(None, ge=1, le=MAX_PCA_POINTS)


class OutliersQuery(BaseModel):
    """Query string of GET /v1/validation/outliers."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(20, ge=1, le=100)


class RankingKnobs(BaseModel):
    """Paging, versions and era: the fields the GET and POST recommendation forms share."""

    limit: int = Field(10, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    dedupe_versions: DedupeVersions = True
    target_year: float | None = Field(None, description="the target vector's release year")
    min_year: float | None = Field(None, description="inclusive; unknown years fail it")
    max_year: float | None = Field(None, description="inclusive; unknown years fail it")
    audio_only: bool = Field(False, description="rank by the nine audio features alone")


class RecommendQuery(RankingKnobs):
    """Query string of GET /v1/recommendations, besides the feature parameters
    (target_<feature>, min_<feature>, max_<feature>), which the route reads as extras."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    seed_tracks: list[str] | None = Field(None, description="up to 5 track ids, comma-separated")
    negative_tracks: list[str] | None = Field(None, description="up to 5 track ids to steer "
                                                                "away from")
    vibe: ShortText | None = Field(None, description="'any' (default), 'same', or a vibe")
    genres: list[str] | None = Field(None, description="genre labels, comma-separated")
    min_popularity: float | None = None
    max_popularity: float | None = None
    exclude_artists: list[str] | None = Field(
        None, description="an artist name; repeat the parameter for several (names may hold "
                          "commas, so they are not split)")
    max_per_artist: int | None = Field(None, ge=1)
    diversity: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _bounded_cost(self) -> RecommendQuery:
        check_depth(self.offset, self.limit, self.diversity)
        return self


class SimilarResponse(EraOptional):
    seed: TrackSummary
    scope: Scope
    limit: int
    offset: int
    results: list[Recommendation]
    era: EraFacts | None = Field(None, description="only for an artifact with an era column")


class RecommendResponse(EraOptional):
    seeds: list[TrackSummary]
    negatives: list[TrackSummary]
    targets: dict[str, float] = Field(description="target_<feature> values given, by feature")
    scope: Scope
    limit: int
    offset: int
    results: list[Recommendation]
    era: EraFacts | None = Field(None, description="only for an artifact with an era column")


class SearchResponse(BaseModel):
    q: str
    total: int = Field(description="number of matching tracks over all pages")
    limit: int
    offset: int
    results: list[TrackSummary]


class FeatureProfile(BaseModel):
    p10: float
    p25: float
    median: float
    p75: float
    p90: float


class GenreCount(BaseModel):
    genre: str
    count: int


class Vibe(BaseModel):
    vibe_id: int
    name: str
    slug: str = Field(description="URL-friendly name, accepted wherever a vibe is")
    size: int
    share: float
    signature: str = Field(description="strongest centroid deviations in z-scores")
    centroid: dict[str, float] = Field(description="centroid in original units")
    centroid_z: dict[str, float] = Field(description="centroid in z-scores")
    profile: dict[str, FeatureProfile] = Field(description="per-feature quantiles, original units")
    top_genres: list[GenreCount]
    typical_tracks: list[TrackSummary] = Field(
        default_factory=list, description="the tracks nearest the centroid, nearest first")


class VibesResponse(BaseModel):
    features: list[str]
    vibes: list[Vibe]


class Scaler(BaseModel):
    features: list[str]
    mean: list[float]
    scale: list[float]


class ArtifactSummary(BaseModel):
    name: str
    created_at: str | None
    vibemap_version: str | None
    format_version: int | None
    source: dict[str, Any] = Field(description="manifest source: file or demo generator")
    synthetic: bool = Field(description="true for the synthetic demo catalogue")
    label: str | None = Field(description="what to call the source when showing it")
    rows: int
    row_counts: dict[str, Any]
    features: list[str]
    n_clusters: int
    metric: str
    index: str
    evaluated: bool
    scaler: Scaler = Field(description="the StandardScaler in manifest feature order, "
                                       "original units: z = (value - mean) / scale")


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable while no artifact is loaded")
    artifact: str | None
    rows: int | None
    loaded_at: datetime | None
    detail: str | None = None
    code: str | None = None
    workers: int | None = Field(None, description="with `vibemap serve --workers N`: how many "
                                "serve this artifact generation (N once all have it)")


class RecommendRequest(RankingKnobs):
    """Next-best-track query. Also accepts target_<feature>, min_<feature> and max_<feature>
    (original units) for every feature the artifact lists (GET /v1/artifact)."""

    model_config = ConfigDict(
        extra="allow",
        allow_inf_nan=False,
        json_schema_extra={
            "description": COMBINATION_RULE + " " + ERA_RULE,
            "examples": [
                {"seed_tracks": ["<track_id>"], "target_energy": 0.8, "min_tempo": 110,
                 "limit": 10},
                {"target_acousticness": 0.9, "target_energy": 0.2, "genres": ["indie folk"],
                 "diversity": 0.3},
            ],
        },
    )

    seed_tracks: list[ShortText] = Field(default_factory=list, max_length=MAX_SEEDS,
                                         description="up to 5 track ids (list or "
                                                     "comma-separated)")
    negative_tracks: list[ShortText] = Field(default_factory=list, max_length=MAX_NEGATIVES,
                                             description="up to 5 track ids to steer away from")
    vibe: int | ShortText | None = Field(None, description="'any' (default), 'same' (the "
                                                           "seeds' vibe), or a vibe id / name "
                                                           "/ slug")
    genres: list[ShortText] = Field(default_factory=list, max_length=MAX_LIST_ITEMS,
                                    description="genre labels; a track passes if it has any")
    min_popularity: float | None = None
    max_popularity: float | None = None
    exclude_artists: list[ShortText] = Field(default_factory=list, max_length=MAX_LIST_ITEMS,
                                             description="artist names never returned")
    max_per_artist: int | None = Field(None, ge=1)
    diversity: float = Field(0.0, ge=0.0, le=1.0,
                             description="0 = pure similarity .. 1; > 0 re-ranks by MMR")

    _split = field_validator("seed_tracks", "negative_tracks", "genres", mode="before")(
        _split_commas)

    @field_validator("exclude_artists", mode="before")
    @classmethod
    def _one_artist(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _bounded_cost(self) -> RecommendRequest:
        check_depth(self.offset, self.limit, self.diversity)
        return self

    def cost(self) -> int:
        """Cost units of this request within a batch (see MAX_BATCH_COST)."""
        return request_cost(self.offset, self.limit, self.diversity)

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`Engine.recommend` (extras = feature parameters)."""
        kwargs = {name: getattr(self, name) for name in type(self).model_fields}
        kwargs.update(self.model_extra or {})
        return kwargs


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[Any] = Field(min_length=1, max_length=MAX_BATCH,
                                description="up to 100 RecommendRequest objects; each is "
                                            "validated and answered on its own; their "
                                            f"total cost is at most {MAX_BATCH_COST} units "
                                            f"({ITEM_BASE_COST} + offset + limit each, times "
                                            f"{DIVERSITY_COST_FACTOR} with diversity > 0)")


class BatchItem(BaseModel):
    index: int
    status: int = Field(description="the HTTP status this request would have had alone")
    result: RecommendResponse | None = None
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    results: list[BatchItem]


class ReloadRequest(BaseModel):
    """Body of POST /admin/reload: which artifact to load, by name (never a path)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, pattern=ARTIFACT_NAME_PATTERN,
        description="artifact name: a directory directly under the indexes root "
                    "(VIBEMAP_INDEXES, default the served artifact's parent directory); "
                    "default: reload the artifact served now")


class ReloadResponse(BaseModel):
    status: str
    artifact: str
    rows: int
    loaded_at: datetime
    previous: str | None


class LiveKLoopRequest(BaseModel):
    """Body of POST /v1/validation/kloop."""

    model_config = ConfigDict(extra="forbid")

    sample_size: int = Field(5000, ge=100, le=20_000, description="tracks drawn at random")
    k_min: int = Field(2, ge=2, le=10)
    k_max: int = Field(10, ge=2, le=10)
    seed: int = Field(0, ge=0, le=2**31 - 1)
