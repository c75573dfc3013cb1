"""What each UI interaction does: plain functions of (client, inputs) -> outputs.

Outputs are pandas frames (tables, drawn by ``vibemap.ui.app`` as plain HTML tables), HTML/SVG and
markdown strings, and (label, value) choice lists; ``vibemap.ui.app`` wires them to components.
No Gradio import here, and no model code: every number shown comes from the API through
:class:`vibemap.ui.client.ApiClient`.
Every handler catches :class:`ApiError` and returns a friendly message in place of its
outputs, so a page never shows a stack trace.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from vibemap.ui import charts
from vibemap.ui.client import ApiError
from vibemap.ui.shapes import (
    Client,
    as_track,
    error_md,
    feature,
    features_of,
    fmt_unit,
    genres_text,
    info_md,
    items,
    num,
    rows_kept,
    section,
    track_label,
    vibe_list,
    year_of,
)

logger = logging.getLogger(__name__)

SCOPE_SAME = "same"
SCOPE_ANY = "any"
TARGET_FEATURES = ("energy", "valence", "danceability", "tempo")
MAX_SCATTER_POINTS = 2000  # the browser draws this many of the API's sample at most
CSV_PAGE = 100  # rows per request when the API has no CSV route (its search limit)
CSV_MAX_ROWS = 10_000  # the search route's largest offset

ProgressFn = Callable[[float, str], None]


# -- header ------------------------------------------------------------------------------
def header(client: Client) -> str:
    """The artifact line shown on every page, with the synthetic banner when it applies."""
    try:
        art = client.artifact()
    except ApiError as err:
        return error_md(err)
    source = art.get("source") or {}
    name = art.get("name", "?")
    rows = rows_kept(art)
    k = art.get("n_clusters", art.get("K", art.get("k")))
    built = str(art.get("created_at", "?")).replace("T", " ").replace("+00:00", " UTC")
    bits = [f"**Artifact `{escape(str(name))}`**",
            f"{rows:,} tracks" if rows is not None else None,
            f"K = {k} vibes" if k is not None else None,
            f"{art.get('metric')} similarity" if art.get("metric") else None,
            f"built {built}"]
    line = " · ".join(b for b in bits if b)
    if source.get("synthetic"):
        label = source.get("label") or "synthetic demo catalogue"
        return (f'<div class="vm-banner">⚠ {escape(str(label)).upper()} — the tracks, titles and '
                f"artists are generated from statistics of real audio features; none is a real "
                f"song.</div>\n\n{line}")
    src = source.get("file") or source.get("label")
    return line + (f" · source `{escape(str(src))}`" if src else "")


# -- choices --------------------------------------------------------------------------------
def vibe_choices(client: Client) -> list[tuple[str, str]]:
    """(label, value) pairs for every vibe; empty when the API is down."""
    try:
        vibes = vibe_list(client.vibes())
    except ApiError:
        return []
    return [(f"{v.get('name', v.get('vibe_name', '?'))} (#{v.get('vibe_id')})",
             str(v.get("vibe_id"))) for v in vibes]


def scope_choices(client: Client) -> list[tuple[str, str]]:
    return [("Same vibe as the seed", SCOPE_SAME), ("Any vibe", SCOPE_ANY),
            *[(f"Only {label}", value) for label, value in vibe_choices(client)]]


def genre_choices(client: Client, limit: int = 40) -> list[str]:
    """The most common genres (from the validation's genre x vibe map, else vibe top genres)."""
    try:
        metrics = client.validation()
    except ApiError:
        metrics = {}
    gmap = (metrics or {}).get("genre_map") or (metrics or {}).get("genres") or {}
    genres = [g.get("genre") if isinstance(g, Mapping) else str(g) for g in gmap.get("genres", [])]
    if not genres:
        try:
            for v in vibe_list(client.vibes()):
                for g in v.get("top_genres") or []:
                    label = g.get("genre") if isinstance(g, Mapping) else str(g)
                    if label and label not in genres:
                        genres.append(label)
        except ApiError:
            pass
    return [g for g in genres if g][:limit]


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
    tracks = items(body)
    if not tracks:
        return [], info_md(f"No track or artist matches “{escape(text)}”.")
    total = body.get("total", len(tracks))
    choices = [(track_label(t), str(t["track_id"])) for t in tracks if "track_id" in t]
    more = (f" (showing {len(choices)} of {total:,})"
            if isinstance(total, int) and total > len(choices) else "")
    plural = "es" if len(choices) != 1 else ""
    return choices, f"{len(choices)} match{plural}{more}: pick one below."


RESULT_COLUMNS = ["#", "title", "artist", "vibe", "genres", "year", "similarity", "why"]


def explanation_text(expl: object) -> str:
    """One short line from the API's explanation: the features that agree (names only) and
    those that differ most (this track's value vs the query's, original units)."""
    if expl is None:
        return ""
    if isinstance(expl, str):
        return expl
    if not isinstance(expl, Mapping):
        return str(expl)
    if isinstance(expl.get("text"), str):
        return expl["text"]
    close = [str(it.get("feature")) if isinstance(it, Mapping) else str(it)
             for it in expl.get("closest") or []]
    far = [d for d in (_feature_diff(it) for it in expl.get("furthest") or []) if d]
    parts = []
    if close:
        parts.append("close on " + ", ".join(close))
    if far:
        parts.append("differs on " + ", ".join(far))
    return "; ".join(parts)


def _feature_diff(item: object) -> str:
    """'tempo 128 vs 96 BPM': the result's value vs the query's."""
    if not isinstance(item, Mapping):
        return str(item or "")
    name = str(item.get("feature", "?"))
    value = item.get("track", item.get("value"))
    ref = next((item[k] for k in ("query", "seed", "target") if k in item), None)
    if value is None:
        return name
    if ref is None:
        return f"{name} {fmt_unit(name, value, '')}"
    unit = {"tempo": " BPM", "loudness": " dB"}.get(name, "")
    plain = "{:.0f}" if name == "tempo" else ("{:.1f}" if name == "loudness" else "{:.2f}")
    return f"{name} {plain.format(num(value))} vs {plain.format(num(ref))}{unit}"


def recommend(client: Client, seed_id: str | None, use_targets: bool, targets: Mapping[str, float],
              scope: str, limit: int, max_per_artist: int | None, diversity: float
              ) -> tuple[pd.DataFrame, str, str]:
    """Next best tracks for a seed (or for target features).

    Returns the results table, the profile comparison chart (HTML) and a status line.
    """
    empty = pd.DataFrame(columns=RESULT_COLUMNS)
    scope = scope or SCOPE_SAME
    request: dict[str, Any] = {"limit": int(limit), "diversity": float(diversity or 0.0),
                               "max_per_artist": int(max_per_artist) if max_per_artist else None}
    seed: dict | None = None
    try:
        art = client.artifact()
        features = features_of(art)
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
            seed = as_track(client.track(seed_id))
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
    results = [as_track(r) for r in items(body)]
    if not results:
        return empty, "", info_md("No track passes these filters; widen the scope or relax "
                                  "the limits.")
    rows = []
    for i, t in enumerate(results, start=1):
        rows.append({"#": i, "title": t.get("name") or t.get("title"), "artist": t.get("artist"),
                     "vibe": t.get("vibe_name"), "genres": genres_text(t.get("genres")),
                     "year": year_of(t), "similarity": round(num(t.get("score")), 3),
                     "why": explanation_text(t.get("explanation"))})
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    chart = profile_chart(client, reference, results, ref_name)
    where = {SCOPE_SAME: f"in the seed's vibe ({seed.get('vibe_name')})" if seed else "in any vibe",
             SCOPE_ANY: "in any vibe"}.get(scope, f"in vibe {_vibe_name_of(results, scope)}")
    about = f"“{seed.get('name')}” by {seed.get('artist')}" if seed else "your targets"
    return frame, chart, f"{len(results)} tracks closest to {escape(about)} {escape(where)}."


def _vibe_name_of(results: Sequence[Mapping[str, Any]], scope: str) -> str:
    for r in results:
        if str(r.get("vibe_id")) == str(scope):
            return str(r.get("vibe_name"))
    return scope


PROFILE_MAX_FETCH = 25  # results whose features are fetched one by one when not included


def _with_features(client: Client, results: Sequence[Mapping[str, Any]], probe: str
                   ) -> list[Mapping[str, Any]]:
    """Results carrying their features; fetches /v1/tracks/{id} for those that do not."""
    out = []
    for r in results[:PROFILE_MAX_FETCH]:
        if feature(r, probe) is None and r.get("track_id") is not None:
            r = as_track(client.track(str(r["track_id"])))
        out.append(r)
    return out


def profile_frame(client: Client, reference: Mapping[str, float],
                  results: Sequence[Mapping[str, Any]], ref_name: str) -> pd.DataFrame:
    """Long frame (feature, series, value, z) of the reference and the results' mean; z is
    in units of the catalogue's spread (the artifact's scaler), NaN when it is unknown."""
    art = client.artifact()
    scaler = _scaler(client)
    feats = [f for f in features_of(art) if f in reference] or list(reference)
    if feats:
        results = _with_features(client, results, feats[0])
    rows = []
    for f in feats:
        vals = [v for r in results if (v := feature(r, f)) is not None]
        mean = sum(vals) / len(vals) if vals else float("nan")
        for series, value in ((ref_name, reference.get(f)), ("results (mean)", mean)):
            if value is None:
                continue
            mu, sd = scaler.get(f, (float("nan"), float("nan")))
            rows.append({"feature": f, "series": series, "value": float(value),
                         "z": (float(value) - mu) / sd})
    return pd.DataFrame(rows, columns=["feature", "series", "value", "z"])


def _scaler(client: Client) -> dict[str, tuple[float, float]]:
    """{feature: (mean, scale)} of the artifact's z-scores.

    From /v1/artifact's ``scaler`` when the API publishes it; otherwise solved from the
    published vibe centroids, which come both in original units (c) and z-scores (z) of
    the same scaler: scale = (c_a - c_b) / (z_a - z_b) and mean = c_a - z_a * scale.
    Empty when neither is available (the chart then falls back to original units)."""
    art = client.artifact()
    out: dict[str, tuple[float, float]] = {}
    scaler = art.get("scaler")
    if isinstance(scaler, Mapping) and "mean" in scaler:
        names = scaler.get("features") or features_of(art)
        scales = scaler.get("scale") or scaler.get("std") or []
        for name, mu, sd in zip(names, scaler["mean"], scales, strict=False):
            out[str(name)] = (float(mu), float(sd))
        return out
    try:
        vibes = vibe_list(client.vibes())
    except ApiError:
        return out
    for f in features_of(art):
        pts = []
        for v in vibes:
            c, z = v.get("centroid"), v.get("centroid_z")
            if isinstance(c, Mapping) and isinstance(z, Mapping) and f in c and f in z:
                pts.append((num(z[f]), num(c[f])))
        pts = [p for p in pts if math.isfinite(p[0]) and math.isfinite(p[1])]
        if len(pts) < 2:
            continue
        (za, ca), (zb, cb) = min(pts), max(pts)
        if zb - za > 1e-6:
            scale = (cb - ca) / (zb - za)
            if scale > 0:
                out[f] = (ca - za * scale, scale)
    return out


def profile_chart(client: Client, reference: Mapping[str, float],
                  results: Sequence[Mapping[str, Any]], ref_name: str) -> str:
    frame = profile_frame(client, reference, results, ref_name)
    if frame.empty:
        return ""
    scaled = bool(frame["z"].notna().all())
    feats = list(dict.fromkeys(frame["feature"]))
    series = []
    hover = []
    for name, color in ((ref_name, "#6b6b6b"), ("results (mean)", "#f28e2b")):
        part = frame[frame["series"] == name].set_index("feature")
        col = "z" if scaled else "value"
        series.append((name, color, [float(part[col].get(f, float("nan"))) for f in feats]))
        hover.append([f"{name} · {f}: {fmt_unit(f, part['value'].get(f), '')}" for f in feats])
    label = ("audio profile, z-score vs the whole catalogue (0 = average track)" if scaled
             else "audio profile (original units)")
    return charts.grouped_bars_svg(feats, series, y_label=label, symmetric=scaled, hover=hover)


# -- tab 2: explore ---------------------------------------------------------------------------
TRACK_COLUMNS = ["title", "artist", "vibe", "genres", "year", "popularity"]


def parse_year(value: object) -> int | None:
    """A year bound from a text box or number: empty (or 0) means no bound."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or text == "0":
        return None
    try:
        year = int(float(text))
    except ValueError:
        raise ValueError(f"“{text}” is not a year") from None
    if not 1000 <= year <= 2999:
        raise ValueError(f"{year} is not a plausible release year")
    return year


def _filters(q: str | None, vibe: str | None, genre: str | None, year_min: object,
             year_max: object) -> dict[str, Any]:
    """Request filters; ValueError for a year that is not one."""
    lo, hi = parse_year(year_min), parse_year(year_max)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"the year range {lo}–{hi} is empty")
    return {"q": (q or "").strip() or None, "vibe": vibe or None, "genre": genre or None,
            "year_min": lo, "year_max": hi}


def explore_tracks(client: Client, q: str | None, vibe: str | None, genre: str | None,
                   year_min: object, year_max: object, page: int, page_size: int
                   ) -> tuple[pd.DataFrame, int, str]:
    """One page of the filtered catalogue, the (clamped) page number and a status line."""
    page = max(int(page or 1), 1)
    size = int(page_size or 25)
    try:
        filters = _filters(q, vibe, genre, year_min, year_max)
    except ValueError as exc:
        return pd.DataFrame(columns=TRACK_COLUMNS), page, error_md(str(exc))
    try:
        features = features_of(client.artifact())
        body = client.search_tracks(limit=size, offset=(page - 1) * size, **filters)
    except ApiError as err:
        return pd.DataFrame(columns=TRACK_COLUMNS), page, error_md(err)
    total = int(body.get("total", 0) or 0)
    pages = max(math.ceil(total / size), 1)
    if page > pages and total:
        return explore_tracks(client, q, vibe, genre, year_min, year_max, pages, size)
    rows = []
    for t in map(as_track, items(body)):
        row = {"title": t.get("name"), "artist": t.get("artist"), "vibe": t.get("vibe_name"),
               "genres": genres_text(t.get("genres")), "year": year_of(t),
               "popularity": t.get("popularity")}
        for f in features:
            value = feature(t, f)
            row[f] = None if value is None else round(value, 3)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=TRACK_COLUMNS + features)
    frame = frame.drop(columns=[f for f in features if frame[f].isna().all()])  # not served
    note = ""
    if filters["year_min"] is not None or filters["year_max"] is not None:
        years = frame["year"].dropna()
        lo, hi = filters["year_min"], filters["year_max"]
        outside = (lo is not None and years.min() < lo) or (hi is not None and years.max() > hi)
        if len(years) and outside:
            note = " (this API ignores the year filter)"
    status = f"{total:,} tracks match · page {page} of {pages:,}{note}"
    return frame, page, status


SCATTER_COLUMNS = ["pc1", "pc2", "vibe", "title", "artist", "genre", "year"]


def explore_scatter(client: Client, q: str | None, vibe: str | None, genre: str | None,
                    year_min: object, year_max: object) -> tuple[pd.DataFrame, str]:
    """The PCA map: the API's stratified sample, filtered, coloured by vibe."""
    empty = pd.DataFrame(columns=SCATTER_COLUMNS)
    try:
        filters = _filters(q, vibe, genre, year_min, year_max)
    except ValueError as exc:
        return empty, error_md(str(exc))
    try:
        body = client.pca_points(limit=MAX_SCATTER_POINTS, **filters)
        points = items(body, "points")
        total = int(body.get("total", len(points)))
        sample = int(body.get("sample_size", total))
        readings = body.get("readings") or section(client.validation(), "pca").get("readings")
    except ApiError as err:
        if not err.route_missing:
            return empty, error_md(err)
        return _scatter_unavailable(client)
    if body.get("evaluated") is False:
        return empty, info_md("This artifact was built with `--no-eval`: it has no PCA map.")
    frame = _scatter_frame(points)
    caption = (f"{len(frame):,} of {total:,} matching tracks drawn, from a sample of "
               f"{sample:,} stratified by vibe.")
    if readings:
        caption += " " + "; ".join(escape(str(r)) for r in readings[:2]) + "."
    return frame, caption


def explore_map(client: Client, q: str | None, vibe: str | None, genre: str | None,
                year_min: object, year_max: object) -> tuple[str, str]:
    """The PCA map as a static SVG (hover: title, artist, vibe, genre, year) and its caption."""
    frame, caption = explore_scatter(client, q, vibe, genre, year_min, year_max)
    if frame.empty:
        return "", caption
    years = [f" · {int(y)}" if pd.notna(y) else "" for y in frame["year"]]
    tips = [f"{t} — {a} · {v}" + (f" · {g}" if g else "") + y
            for t, a, v, g, y in zip(frame["title"], frame["artist"], frame["vibe"],
                                     frame["genre"], years, strict=True)]
    svg = charts.scatter_svg(frame["pc1"].tolist(), frame["pc2"].tolist(),
                             frame["vibe"].tolist(), tips, vibe_colors(client),
                             x_label="PC 1", y_label="PC 2")
    return svg, caption


def _scatter_frame(points: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for p in points:
        xy = p.get("xy") or p.get("pc") or (p.get("pc1", p.get("x")), p.get("pc2", p.get("y")))
        rows.append({"pc1": num(xy[0]), "pc2": num(xy[1]),
                     "vibe": p.get("vibe_name") or f"vibe {p.get('vibe_id')}",
                     "title": p.get("name") or p.get("title") or f"row {p.get('row')}",
                     "artist": p.get("artist") or "",
                     "genre": genres_text(p.get("genres", p.get("genre"))),
                     "year": year_of(p)})
    return pd.DataFrame(rows, columns=SCATTER_COLUMNS)


def _scatter_unavailable(client: Client) -> tuple[pd.DataFrame, str]:
    """Without the points route: say so, and still give the PCA reading from metrics.json."""
    msg = ("The PCA map needs the API's GET /v1/validation/pca route (the sampled points with "
           "their tracks), which this server does not offer yet.")
    try:
        pca = section(client.validation(), "pca")
    except ApiError:
        pca = {}
    readings = pca.get("readings") or []
    if readings:
        msg += " Components: " + "; ".join(escape(str(r)) for r in readings[:2]) + "."
    return pd.DataFrame(columns=SCATTER_COLUMNS), info_md(msg)


def vibe_colors(client: Client) -> dict[str, str]:
    """{vibe name: colour} so every plot paints a vibe the same way."""
    try:
        return {str(v.get("name")): charts.vibe_color(int(v.get("vibe_id", 0)))
                for v in vibe_list(client.vibes())}
    except ApiError:
        return {}


def export_csv(client: Client, q: str | None, vibe: str | None, genre: str | None,
               year_min: object, year_max: object) -> tuple[str | None, str]:
    """Write the filtered tracks to a temporary CSV; returns (path or None, status)."""
    try:
        filters = _filters(q, vibe, genre, year_min, year_max)
    except ValueError as exc:
        return None, error_md(str(exc))
    out = Path(tempfile.mkdtemp(prefix="vibemap-export-")) / "vibemap_tracks.csv"
    try:
        data = client.tracks_csv(**filters)
        out.write_bytes(data)
        n = max(data.count(b"\n") - 1, 0)
        return str(out), f"{n:,} tracks exported."
    except ApiError as err:
        if not err.route_missing:
            return None, error_md(err)
    # fallback: page through /v1/tracks (capped) and write the JSON rows as CSV
    frames, offset, total = [], 0, None
    try:
        features = features_of(client.artifact())
        while offset < CSV_MAX_ROWS and (total is None or offset < total):
            body = client.search_tracks(limit=CSV_PAGE, offset=offset, **filters)
            total = int(body.get("total", 0) or 0)
            page = [as_track(t) for t in items(body)]
            if not page:
                break
            frames.append(pd.DataFrame([_csv_row(t, features) for t in page]))
            offset += len(page)
    except ApiError as err:
        return None, error_md(err)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame.to_csv(out, index=False)
    capped = f" (first {len(frame):,} of {total:,})" if total and total > len(frame) else ""
    return str(out), f"{len(frame):,} tracks exported{capped}."


def _csv_row(t: Mapping[str, Any], features: Sequence[str]) -> dict:
    keys = ("track_id", "name", "artist", "popularity", "vibe_id", "vibe_name")
    row = {k: t.get(k) for k in keys}
    row["genres"] = genres_text(t.get("genres"))
    row["release_year"] = year_of(t)
    row.update({f: feature(t, f) for f in features})
    return row
