"""The explore tab: the filtered catalogue page by page, its PCA map and its CSV export;
plain functions of (client, inputs) -> outputs, like :mod:`vibemap.ui.handlers`."""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from vibemap.ui import charts
from vibemap.ui.client import ApiError
from vibemap.ui.shapes import Client, error_md, genres_text, info_md, num, year_text

logger = logging.getLogger(__name__)

MAX_SCATTER_POINTS = 2000  # the browser draws this many of the API's sample at most
TRACK_COLUMNS = ["title", "artist", "vibe", "genres", "year", "popularity"]
SCATTER_COLUMNS = ["pc1", "pc2", "vibe", "title", "artist", "genre", "year"]


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
        body = client.search_tracks(limit=size, offset=(page - 1) * size, **filters)
    except ApiError as err:
        return pd.DataFrame(columns=TRACK_COLUMNS), page, error_md(err)
    total = body["total"]
    pages = max(math.ceil(total / size), 1)
    if page > pages and total:
        return explore_tracks(client, q, vibe, genre, year_min, year_max, pages, size)
    rows = [{"title": t["name"], "artist": t["artist"], "vibe": t["vibe_name"],
             "genres": genres_text(t["genres"]), "year": year_text(t["release_year"]),
             "popularity": t["popularity"]} for t in body["results"]]
    frame = pd.DataFrame(rows, columns=TRACK_COLUMNS)
    return frame, page, f"{total:,} tracks match · page {page} of {pages:,}"


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
    except ApiError as err:
        return empty, error_md(err)
    if not body["evaluated"]:
        return empty, info_md("This artifact was built with `--no-eval`: it has no PCA map.")
    frame = _scatter_frame(body["points"])
    caption = (f"{len(frame):,} of {body['total']:,} matching tracks drawn, from a sample of "
               f"{body['sample_size']:,} stratified by vibe.")
    if body["readings"]:
        caption += " " + "; ".join(escape(str(r)) for r in body["readings"][:2]) + "."
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
    rows = [{"pc1": num(p["pc1"]), "pc2": num(p["pc2"]), "vibe": p["vibe_name"],
             "title": p["name"], "artist": p["artist"], "genre": genres_text(p["genres"]),
             "year": p["release_year"]} for p in points]
    return pd.DataFrame(rows, columns=SCATTER_COLUMNS)


def vibe_colors(client: Client) -> dict[str, str]:
    """{vibe name: colour} so every plot paints a vibe the same way."""
    try:
        return {v["name"]: charts.vibe_color(v["vibe_id"]) for v in client.vibes()["vibes"]}
    except ApiError:
        return {}


def export_csv(client: Client, q: str | None, vibe: str | None, genre: str | None,
               year_min: object, year_max: object) -> tuple[str | None, str]:
    """Write the filtered tracks (GET /v1/tracks.csv) to a temporary CSV; (path or None, status)."""
    try:
        filters = _filters(q, vibe, genre, year_min, year_max)
        data = client.tracks_csv(**filters)
    except ValueError as exc:
        return None, error_md(str(exc))
    except ApiError as err:
        return None, error_md(err)
    out = Path(tempfile.mkdtemp(prefix="vibemap-export-")) / "vibemap_tracks.csv"
    out.write_bytes(data)
    n = max(data.count(b"\n") - 1, 0)
    return str(out), f"{n:,} tracks exported."
