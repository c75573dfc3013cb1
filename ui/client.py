"""A small typed HTTP client of the vibemap API: the UI's only way to reach the data.

One method per route. Every failure (an error response, the API down, a timeout, a
body that is not JSON) becomes an :class:`ApiError` whose ``message`` is fit to show
to a listener; nothing here raises httpx errors to the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

# codes the client itself gives to failures that have no API error body
UNREACHABLE = "api_unreachable"
TIMEOUT = "api_timeout"
BAD_RESPONSE = "bad_response"


class ApiError(Exception):
    """An API error response, or a failure to get any response.

    status : HTTP status, 0 when no response came back (connection refused, timeout).
    code : the API's machine-readable ``code`` (or one of this module's constants).
    detail : the API's human-readable ``detail``, flattened to one string.
    """

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail

    @property
    def message(self) -> str:
        """One friendly sentence for the page."""
        if self.status == 0:
            return self.detail
        if self.status == 404:
            return f"Not found: {self.detail}"
        if self.status == 422:
            return f"Invalid request: {self.detail}"
        if self.status == 503:
            return f"The service is not ready: {self.detail}"
        if self.status == 429:
            return f"Busy: {self.detail}"
        if self.status >= 500:
            return f"The API failed ({self.status}): {self.detail}"
        return f"{self.detail} ({self.status})"


def _flatten_detail(detail: object) -> str:
    """FastAPI's 422 detail is a list of {loc, msg}; make any detail one line."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = [str(p) for p in item.get("loc", ()) if p not in ("query", "body", "path")]
                msg = str(item.get("msg", item))
                parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset values; lists stay lists (httpx repeats the key)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or value == "" or (isinstance(value, (list, tuple)) and not value):
            continue
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


class ApiClient:
    """Synchronous client of the vibemap HTTP API.

    Parameters
    ----------
    base_url : the API root, e.g. ``http://127.0.0.1:8000`` (routes are added below it).
    timeout : seconds for ordinary calls; the live K-loop gets ``slow_timeout``.
    cache_ttl : seconds that large, rarely changing documents (artifact, vibes,
        validation) are reused; 0 disables the cache.
    transport : an httpx transport (tests may pass ``httpx.MockTransport``).
    """

    def __init__(self, base_url: str, timeout: float = 10.0, *, cache_ttl: float = 30.0,
                 slow_timeout: float = 300.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.slow_timeout = slow_timeout
        self.cache_ttl = cache_ttl
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"accept": "application/json"})
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              json: object = None, timeout: float | None = None) -> httpx.Response:
        try:
            response = self._http.request(method, path, params=_clean_params(params or {}),
                                          json=json, timeout=timeout or self.timeout)
        except httpx.TimeoutException:
            raise ApiError(0, TIMEOUT, f"The vibemap API at {self.base_url} did not answer "
                           f"within {timeout or self.timeout:g} s. Try again in a moment."
                           ) from None
        except httpx.TransportError as exc:
            logger.warning("API %s unreachable: %s", self.base_url, exc)
            raise ApiError(0, UNREACHABLE, f"The vibemap API at {self.base_url} is not reachable. "
                           "Is it running (`vibemap serve` or `vibemap demo`)?") from None
        if response.status_code >= 400:
            raise self._error(response)
        return response

    @staticmethod
    def _error(response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping) and "detail" in body:
            code = body.get("code") or f"http_{response.status_code}"
            return ApiError(response.status_code, str(code), _flatten_detail(body["detail"]))
        text = response.text.strip()[:200] or response.reason_phrase
        return ApiError(response.status_code, f"http_{response.status_code}", text)

    def _json(self, method: str, path: str, **kwargs: Any) -> JSON:
        response = self._send(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise ApiError(response.status_code, BAD_RESPONSE,
                           f"{path} did not return JSON") from None
        if not isinstance(body, dict):
            raise ApiError(response.status_code, BAD_RESPONSE,
                           f"{path} returned {type(body).__name__}")
        return body

    def _cached(self, key: str, fetch: Any) -> JSON:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.cache_ttl:
            return hit[1]
        value = fetch()
        if self.cache_ttl > 0:
            with self._lock:
                self._cache[key] = (now, value)
        return value

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- routes ---------------------------------------------------------------------------
    def health(self) -> JSON:
        """GET /health."""
        return self._json("GET", "/health")

    def artifact(self) -> JSON:
        """GET /v1/artifact: name, source (synthetic flag, label), rows, features, K, metric."""
        return self._cached("artifact", lambda: self._json("GET", "/v1/artifact"))

    def search_tracks(self, q: str | None = None, *, vibe: str | int | None = None,
                      genre: str | None = None, year_min: int | None = None,
                      year_max: int | None = None, limit: int = 20, offset: int = 0) -> JSON:
        """GET /v1/tracks: ranked, accent- and case-insensitive search with filters."""
        params = {"q": q, "vibe": vibe, "genre": genre, "year_min": year_min,
                  "year_max": year_max, "limit": limit, "offset": offset}
        return self._json("GET", "/v1/tracks", params=params)

    def track(self, track_id: str) -> JSON:
        """GET /v1/tracks/{track_id}."""
        return self._json("GET", f"/v1/tracks/{_path(track_id)}")

    def similar(self, track_id: str, *, limit: int = 10, scope: str = "same",
                max_per_artist: int | None = None) -> JSON:
        """GET /v1/tracks/{track_id}/similar."""
        params = {"limit": limit, "scope": scope, "max_per_artist": max_per_artist}
        return self._json("GET", f"/v1/tracks/{_path(track_id)}/similar", params=params)

    def recommend(self, request: Mapping[str, Any]) -> JSON:
        """POST /v1/recommendations with a JSON body (seeds, targets, filters, diversity)."""
        body = {k: v for k, v in request.items() if v is not None and v != [] and v != ""}
        return self._json("POST", "/v1/recommendations", json=body)

    def vibes(self) -> JSON:
        """GET /v1/vibes."""
        return self._cached("vibes", lambda: self._json("GET", "/v1/vibes"))

    def validation(self) -> JSON:
        """GET /v1/validation: metrics.json of the artifact ({"evaluated": false} if none)."""
        return self._cached("validation", lambda: self._json("GET", "/v1/validation"))

    def pca_points(self, *, vibe: str | int | None = None, genre: str | None = None,
                   q: str | None = None, year_min: int | None = None,
                   year_max: int | None = None, limit: int | None = None) -> JSON:
        """GET /v1/validation/pca: the stratified PCA sample with track metadata, filtered."""
        params = {"vibe": vibe, "genre": genre, "q": q, "year_min": year_min,
                  "year_max": year_max, "limit": limit}
        return self._json("GET", "/v1/validation/pca", params=params)

    def outliers(self, *, limit: int = 20) -> JSON:
        """GET /v1/validation/outliers: DBSCAN summary and the most atypical tracks."""
        return self._json("GET", "/v1/validation/outliers", params={"limit": limit})

    def tracks_csv(self, q: str | None = None, *, vibe: str | int | None = None,
                   genre: str | None = None, year_min: int | None = None,
                   year_max: int | None = None) -> bytes:
        """GET /v1/tracks.csv: every track matching the filters, as CSV."""
        params = {"q": q, "vibe": vibe, "genre": genre, "year_min": year_min, "year_max": year_max}
        response = self._send("GET", "/v1/tracks.csv", params=params, timeout=self.slow_timeout)
        return response.content

    def kloop_live(self, *, sample_size: int = 5000, k_min: int = 2, k_max: int = 10,
                   seed: int = 0) -> JSON:
        """POST /v1/validation/kloop: K-Means + exact metrics for K = k_min..k_max on a
        seeded sample, run now; the answer names the elbow and each metric's best K."""
        body = {"sample_size": sample_size, "k_min": k_min, "k_max": k_max, "seed": seed}
        return self._json("POST", "/v1/validation/kloop", json=body, timeout=self.slow_timeout)


def _path(value: object) -> str:
    """One URL path segment: a track id may hold '/', '?' or spaces."""
    return quote(str(value), safe="")
