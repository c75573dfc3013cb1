"""Readers of the API's JSON (the shapes of ``vibemap.recommender.schemas``), and page messages.

Pure functions on dicts, shared by the handler modules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any, Protocol

from vibemap.ui.client import ApiError


class Client(Protocol):
    """The methods of :class:`vibemap.ui.client.ApiClient` the handlers use (fakes too)."""

    def artifact(self) -> dict: ...
    def search_tracks(self, q: str | None = None, **kw: Any) -> dict: ...
    def track(self, track_id: str) -> dict: ...
    def recommend(self, request: Mapping[str, Any]) -> dict: ...
    def vibes(self) -> dict: ...
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


# -- readers of the API's shapes ------------------------------------------------------------
def feature(track: Mapping[str, Any], name: str) -> float | None:
    """A track's feature value (TrackDetail ``features``, original units); None if absent."""
    value = (track.get("features") or {}).get(name)
    return None if value is None else float(value)


def genres_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def num(value: object, default: float = float("nan")) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def track_label(track: Mapping[str, Any]) -> str:
    """'name — artist  (vibe · year)' for a TrackSummary."""
    extra = " · ".join(str(p) for p in (track.get("vibe_name"), track.get("release_year")) if p)
    return f"{track['name']} — {track['artist']}" + (f"  ({extra})" if extra else "")


def year_text(value: object) -> str:
    """A release year as a table shows it ("2019"; "" when unknown): never "2,019.0", which a
    float column with a missing year would otherwise give."""
    year = num(value)
    return str(int(year)) if math.isfinite(year) else ""


def fmt_unit(name: str, value: object, unit: str) -> str:
    v = num(value)
    if not math.isfinite(v):
        return str(value)
    if unit or name in ("tempo", "loudness"):
        unit = unit or ("BPM" if name == "tempo" else "dB")
        return f"{v:.0f} {unit}" if name == "tempo" else f"{v:.1f} {unit}"
    return f"{v:.2f}"


def basis_of(metrics: Mapping[str, Any], figure: str) -> Mapping[str, Any]:
    """How a figure of metrics.json was computed (``basis.figures``; empty for artifacts
    from before the validation budget, whose figures were all exact)."""
    return ((metrics.get("basis") or {}).get("figures") or {}).get(figure) or {}


def basis_text(metrics: Mapping[str, Any], figure: str) -> str:
    """"exact on n tracks" / "sampled m of N tracks, 95% CI ±x", as the build wrote it."""
    label = basis_of(metrics, figure).get("label")
    if label:
        return str(label)
    return f"exact on {int(metrics['n_tracks']):,} tracks" if "n_tracks" in metrics else ""
