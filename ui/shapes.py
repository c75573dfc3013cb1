"""Readers of the API's JSON that tolerate small shape differences, and page messages.

Pure functions on dicts; shared by :mod:`vibemap.ui.handlers` and :mod:`vibemap.ui.views`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any, Protocol

from vibemap.ui.client import ApiError


class Client(Protocol):
    """The methods of :class:`vibemap.ui.client.ApiClient` the handlers use (fakes implement these)."""

    def artifact(self) -> dict: ...
    def search_tracks(self, q: str | None = None, **kw: Any) -> dict: ...
    def track(self, track_id: str) -> dict: ...
    def recommend(self, request: Mapping[str, Any]) -> dict: ...
    def vibes(self) -> dict: ...
    def vibe(self, vibe: str | int) -> dict: ...
    def validation(self) -> dict: ...
    def pca_points(self, **kw: Any) -> dict: ...
    def outliers(self, **kw: Any) -> dict: ...
    def tracks_csv(self, q: str | None = None, **kw: Any) -> bytes: ...
    def kloop_live(self, **kw: Any) -> dict: ...


# -- messages -----------------------------------------------------------------------------
def error_md(err: ApiError | str) -> str:
    text = err.message if isinstance(err, ApiError) else err
    return f'<div class="vm-error">⚠️ {escape(text)}</div>'


def info_md(text: str) -> str:
    return f"ℹ️ {text}"


# -- shape helpers (tolerant of small differences between API versions) ----------------------
def items(body: Mapping[str, Any], *keys: str) -> list[dict]:
    for key in (*keys, "results", "items", "tracks", "data"):
        value = body.get(key)
        if isinstance(value, list):
            return value
    return []


def as_track(item: Mapping[str, Any]) -> dict:
    """A result item flattened: {"track": {...}, "score": ...} -> one dict."""
    inner = item.get("track")
    if not isinstance(inner, Mapping):
        return dict(item)
    return {**inner, **{k: v for k, v in item.items() if k != "track"}}


def feature(track: Mapping[str, Any], name: str) -> float | None:
    feats = track.get("features")
    value = feats.get(name) if isinstance(feats, Mapping) else track.get(name)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def genres_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def year_of(track: Mapping[str, Any]) -> int | None:
    for key in ("release_year", "year"):
        value = track.get(key)
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def num(value: object, default: float = float("nan")) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def features_of(artifact: Mapping[str, Any]) -> list[str]:
    feats = artifact.get("features") or []
    return [f["name"] if isinstance(f, Mapping) else str(f) for f in feats]


def rows_kept(artifact: Mapping[str, Any]) -> int | None:
    rows = artifact.get("rows")
    if isinstance(rows, Mapping):
        rows = rows.get("kept", rows.get("total"))
    return int(rows) if isinstance(rows, (int, float)) else None


def vibe_list(body: Mapping[str, Any]) -> list[dict]:
    return items(body, "vibes")


def track_label(track: Mapping[str, Any]) -> str:
    name, artist = track.get("name") or track.get("title") or "?", track.get("artist") or "?"
    vibe = track.get("vibe_name")
    year = year_of(track)
    extra = " · ".join(str(p) for p in (vibe, year) if p)
    return f"{name} — {artist}" + (f"  ({extra})" if extra else "")


def section(metrics: Mapping[str, Any], *names: str) -> dict:
    """The first of ``names`` that metrics.json holds as an object ({} if none)."""
    for name in names:
        value = metrics.get(name)
        if isinstance(value, Mapping):
            return dict(value)
    return {}


def fmt_unit(name: str, value: object, unit: str) -> str:
    v = num(value)
    if not math.isfinite(v):
        return str(value)
    if unit or name in ("tempo", "loudness"):
        unit = unit or ("BPM" if name == "tempo" else "dB")
        return f"{v:.0f} {unit}" if name == "tempo" else f"{v:.1f} {unit}"
    return f"{v:.2f}"
