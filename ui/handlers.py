"""What the page header, the choice lists and the "next best track" tab do: plain functions
of (client, inputs) -> outputs (the explore tab is :mod:`vibemap.ui.explore`, the analysis
tabs :mod:`vibemap.ui.views` and :mod:`vibemap.ui.validation`).

Outputs are pandas frames (tables, drawn by ``vibemap.ui.app`` as plain HTML tables), HTML/SVG and
markdown strings, and (label, value) choice lists; ``vibemap.ui.app`` wires them to components.
No Gradio import here, and no model code: every number shown comes from the API through
:class:`vibemap.ui.client.ApiClient`.
Every handler catches :class:`ApiError` and returns a friendly message in place of its
outputs, so a page never shows a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import pandas as pd

from vibemap.ui import charts
from vibemap.ui.client import ApiError
from vibemap.ui.shapes import (
    Client,
    error_md,
    feature,
    fmt_unit,
    genres_text,
    info_md,
    num,
    track_label,
    year_text,
)

logger = logging.getLogger(__name__)

SCOPE_SAME = "same"
SCOPE_ANY = "any"
TARGET_FEATURES = ("energy", "valence", "danceability", "tempo")
ERA_WITH = "era"  # rank by sound and release year (artifacts built with an era column)
ERA_AUDIO_ONLY = "audio"  # rank by the nine audio features alone


# -- header ------------------------------------------------------------------------------
def header(client: Client) -> str:
    """The artifact line shown on every page, under a banner that says what the tracks are:
    real songs (with their source and licence) or the synthetic generator's made-up ones."""
    try:
        art = client.artifact()
    except ApiError as err:
        return error_md(err)
    built = str(art["created_at"] or "?").replace("T", " ").replace("+00:00", " UTC")
    line = " · ".join((f"**Artifact `{escape(art['name'])}`**", f"{art['rows']:,} tracks",
                       f"K = {art['n_clusters']} vibes", f"{art['metric']} similarity",
                       f"built {built}"))
    source = art.get("source") or {}
    if art["synthetic"]:
        label = art["label"] or "synthetic demo catalogue"
        return (f'<div class="vm-banner">⚠ {escape(label).upper()} — the tracks, titles and '
                f"artists are generated from statistics of real audio features; none is a real "
                f"song.</div>\n\n{line}")
    if source.get("catalogue") == "real":
        return f"{real_catalogue_banner(source, art['label'])}\n\n{line}"
    return line + (f" · source `{escape(art['label'])}`" if art["label"] else "")


def real_catalogue_banner(source: Mapping[str, Any], label: str | None) -> str:
    """The real demo's line: its label (what the data is), licence, sample and origins."""
    text = label or "real tracks"
    licence = source.get("licence")
    if licence and licence not in text:
        text += f", {licence}"
    sample = source.get("sample")
    if sample:
        text += (f" (a seeded sample of {int(sample):,} of its "
                 f"{int(source.get('rows_in_file') or 0):,} tracks)")
    links = " ".join(f'<a href="{escape(o, quote=True)}" target="_blank" rel="noopener">'
                     f"source {i}</a>" for i, o in enumerate(source.get("origin") or [], 1)
                     if isinstance(o, str) and o.startswith("https://"))
    return (f'<div class="vm-source">♪ {escape(text[:1].upper() + text[1:])}'
            f'{" · " + links if links else ""}</div>')


# -- choices --------------------------------------------------------------------------------
def vibe_choices(client: Client) -> list[tuple[str, str]]:
    """(label, value) pairs for every vibe; empty when the API is down."""
    try:
        vibes = client.vibes()["vibes"]
    except ApiError:
        return []
    return [(f"{v['name']} (#{v['vibe_id']})", str(v["vibe_id"])) for v in vibes]


def scope_choices(client: Client) -> list[tuple[str, str]]:
    return [("Same vibe as the seed", SCOPE_SAME), ("Any vibe", SCOPE_ANY),
            *[(f"Only {label}", value) for label, value in vibe_choices(client)]]


def genre_choices(client: Client, limit: int = 40) -> list[str]:
    """The most common genres: the validation's genre x vibe map (most tracks first), or the
    vibes' top genres for an artifact built without evaluation."""
    try:
        genres = (client.validation().get("genres") or {}).get("genres") or []
        if not genres:
            genres = [g["genre"] for v in client.vibes()["vibes"] for g in v["top_genres"]]
    except ApiError:
        return []
    return list(dict.fromkeys(genres))[:limit]


# -- tab 1: next best track -------------------------------------------------------------------
def search_choices(client: Client, text: str, limit: int = 10) -> tuple[list[tuple[str, str]], str]:
    """Autocomplete: (label, track_id) pairs for a song or artist query, and a status line."""
    text = (text or "").strip()
    if len(text) < 2:
        return [], info_md("Type at least two letters of a song or an artist.")
    try:
        body = client.search_tracks(text, limit=limit)
    except ApiError as err:
        return [], error_md(err)
    tracks = body["results"]
    if not tracks:
        return [], info_md(f"No track or artist matches “{escape(text)}”.")
    total = body["total"]
    choices = [(track_label(t), str(t["track_id"])) for t in tracks]
    more = f" (showing {len(choices)} of {total:,})" if total > len(choices) else ""
    plural = "es" if len(choices) != 1 else ""
    return choices, f"{len(choices)} match{plural}{more}: pick one below."


RESULT_COLUMNS = ["#", "title", "artist", "vibe", "genres", "year", "similarity", "why"]


def explanation_text(expl: Mapping[str, Any]) -> str:
    """One short line from the API's explanation: the features that agree (names only) and
    those that differ most (this track's value vs the query's, original units)."""
    close = [str(it["feature"]) for it in expl["closest"]]
    far = [_feature_diff(it) for it in expl["furthest"]]
    parts = []
    if close:
        parts.append("close on " + ", ".join(close))
    if far:
        parts.append("differs on " + ", ".join(far))
    if expl.get("era"):  # artifacts with an era column: "same era: 1975 vs 1977"
        parts.append(str(expl["era"]["text"]))
    return "; ".join(parts)


def era_request(era_mode: str | None, target_year: float | None) -> dict[str, Any]:
    """The request's era fields: ``audio_only`` for "sound only", else ``target_year`` when
    set (0 or empty: none); nothing for the defaults, so the API's own defaults apply."""
    out: dict[str, Any] = {}
    if era_mode == ERA_AUDIO_ONLY:  # a year target has nothing to steer then
        out["audio_only"] = True
    elif target_year:
        out["target_year"] = float(target_year)
    return out


def era_status(body: Mapping[str, Any]) -> str:
    """How the answer was ranked, from its ``era`` entry (absent: sound only)."""
    era = body.get("era")
    if not era:
        return " Ranked by sound (this artifact has no era column)."
    if era["audio_only"]:
        return " Ranked by sound only."
    year = f", around {era['query_year']}" if era.get("query_year") is not None else ""
    return f" Ranked by sound and era (weight {num(era['weight']):g}{year})."


def _with_year(name: str, year: Any) -> str:
    return f"{name} ({year})" if year is not None else name


def _feature_diff(item: Mapping[str, Any]) -> str:
    """'tempo 128 vs 96 BPM': the result's value vs the query's."""
    name = str(item["feature"])
    unit = {"tempo": " BPM", "loudness": " dB"}.get(name, "")
    plain = "{:.0f}" if name == "tempo" else ("{:.1f}" if name == "loudness" else "{:.2f}")
    return f"{name} {plain.format(num(item['track']))} vs {plain.format(num(item['query']))}{unit}"


def recommend(client: Client, seed_id: str | None, use_targets: bool, targets: Mapping[str, float],
              scope: str, limit: int, max_per_artist: int | None, diversity: float,
              era_mode: str | None = ERA_WITH, target_year: float | None = None
              ) -> tuple[pd.DataFrame, str, str]:
    """Next best tracks for a seed (or for target features).

    era_mode : ERA_WITH (sound and release year, where the artifact has an era column) or
    ERA_AUDIO_ONLY; target_year : the year to steer towards (None / 0: the seed's).
    Returns the results table, the profile comparison chart (HTML) and a status line.
    """
    empty = pd.DataFrame(columns=RESULT_COLUMNS)
    scope = scope or SCOPE_SAME
    request: dict[str, Any] = {"limit": int(limit), "diversity": float(diversity or 0.0),
                               "max_per_artist": int(max_per_artist) if max_per_artist else None,
                               **era_request(era_mode, target_year)}
    seed: dict | None = None
    try:
        features = client.artifact()["features"]
        if use_targets:
            if not targets:
                return empty, "", error_md("Set at least one target.")
            for name, value in targets.items():
                request[f"target_{name}"] = float(value)
            if scope not in (SCOPE_SAME, SCOPE_ANY):
                request["vibe"] = scope
            reference = {k: float(v) for k, v in targets.items()}
            ref_name = "targets"
        else:
            if not seed_id:
                return empty, "", info_md("Search a song or an artist and pick a seed track first.")
            seed = client.track(seed_id)
            request["seed_tracks"] = [seed_id]
            if scope == SCOPE_SAME:
                request["vibe"] = str(seed.get("vibe_id"))
            elif scope != SCOPE_ANY:
                request["vibe"] = scope
            reference = {f: v for f in features if (v := feature(seed, f)) is not None}
            ref_name = "seed"
        body = client.recommend(request)
    except ApiError as err:
        return empty, "", error_md(err)
    results = body["results"]
    if not results:
        return empty, "", info_md("No track passes these filters; widen the scope or relax "
                                  "the limits.")
    rows = []
    for i, t in enumerate(results, start=1):
        rows.append({"#": i, "title": t["name"], "artist": t["artist"], "vibe": t["vibe_name"],
                     "genres": genres_text(t["genres"]), "year": year_text(t["release_year"]),
                     "similarity": round(num(t["score"]), 3),
                     "why": explanation_text(t["explanation"])})
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    chart = profile_chart(client, reference, results, ref_name)
    where = {SCOPE_SAME: f"in the seed's vibe ({seed.get('vibe_name')})" if seed else "in any vibe",
             SCOPE_ANY: "in any vibe"}.get(scope, f"in vibe {_vibe_name_of(results, scope)}")
    about = (_with_year(f"“{seed.get('name')}” by {seed.get('artist')}", seed.get("release_year"))
             if seed else "your targets")
    return frame, chart, (f"{len(results)} tracks closest to {escape(about)} {escape(where)}."
                          + escape(era_status(body)))


def _vibe_name_of(results: Sequence[Mapping[str, Any]], scope: str) -> str:
    for r in results:
        if str(r.get("vibe_id")) == str(scope):
            return str(r.get("vibe_name"))
    return scope


PROFILE_MAX_FETCH = 25  # results whose features are fetched (a recommendation carries none)


def profile_frame(client: Client, reference: Mapping[str, float],
                  results: Sequence[Mapping[str, Any]], ref_name: str) -> pd.DataFrame:
    """Long frame (feature, series, value, z) of the reference and the results' mean; z is
    in units of the catalogue's spread (the artifact's scaler, from GET /v1/artifact)."""
    scaler = client.artifact()["scaler"]
    spread = {f: (float(mu), float(sd)) for f, mu, sd
              in zip(scaler["features"], scaler["mean"], scaler["scale"], strict=True)}
    feats = [f for f in scaler["features"] if f in reference]
    detailed = [client.track(str(r["track_id"])) for r in results[:PROFILE_MAX_FETCH]]
    rows = []
    for f in feats:
        vals = [v for r in detailed if (v := feature(r, f)) is not None]
        mean = sum(vals) / len(vals) if vals else float("nan")
        mu, sd = spread[f]
        for series, value in ((ref_name, float(reference[f])), ("results (mean)", mean)):
            rows.append({"feature": f, "series": series, "value": value, "z": (value - mu) / sd})
    return pd.DataFrame(rows, columns=["feature", "series", "value", "z"])


def profile_chart(client: Client, reference: Mapping[str, float],
                  results: Sequence[Mapping[str, Any]], ref_name: str) -> str:
    """Grouped bars of the reference and the results' mean, in z-scores of the catalogue."""
    frame = profile_frame(client, reference, results, ref_name)
    if frame.empty:
        return ""
    feats = list(dict.fromkeys(frame["feature"]))
    series = []
    hover = []
    for name, color in ((ref_name, "#6b6b6b"), ("results (mean)", "#f28e2b")):
        part = frame[frame["series"] == name].set_index("feature")
        series.append((name, color, [float(part["z"].get(f, float("nan"))) for f in feats]))
        hover.append([f"{name} · {f}: {fmt_unit(f, part['value'].get(f), '')}" for f in feats])
    return charts.grouped_bars_svg(
        feats, series, y_label="audio profile, z-score vs the whole catalogue (0 = average track)",
        symmetric=True, hover=hover)
