"""The synthetic demo catalogue: tracks drawn from statistics of real audio features.

Nothing here is real data. ``data/demo_stats.json`` (made by
``data/derive_demo_stats.py``) holds only statistics of real Spotify audio features:
per-feature quantile tables, genre-level means and covariances of normal scores,
and metadata frequencies. This module draws a catalogue from them (the file is read by
``stats``, the feature model is ``copula``, names and ids come from ``names``):

1. artists: a size (tracks per artist) from the real distribution, restricted to
   two or more tracks; one mixture component per artist from the genre weights;
   exactly one genre label per artist;
2. features: a Gaussian mixture copula over the real marginals (see ``copula``), with
   tracks of one artist sounding alike;
3. metadata: popularity, duration, key, mode, time signature, explicit flag,
   release date, followers, synthetic titles, artist names and base62 ids.

Everything is vectorised: no Python loop runs over tracks or artists.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from vibemap.indexer.features import FEATURES
from vibemap.indexer.synthetic.copula import (
    Layout,
    Mixture,
    latent_scores,
    mixture,
    norm_cdf,
    to_features,
)
from vibemap.indexer.synthetic.names import artist_names, base62_ids, take, titles
from vibemap.indexer.synthetic.stats import load_demo_stats, validate_stats

logger = logging.getLogger(__name__)

DEMO_LABEL = "synthetic demo catalogue"

COLUMNS: tuple[str, ...] = (
    "id_songs", "name_song", "popularity_songs", "duration_ms", "explicit", "id_artists",
    "release_date", "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo", "time_signature",
    "followers", "genres", "name_artists", "popularity_artists",
)

MIN_TRACKS_PER_ARTIST = 2
YEAR_ARTIST_SHARE = 0.8  # how much of a track's release-year rank its artist decides


# --------------------------------------------------------------------------- artists


def _draw_layout(n_tracks: int, stats: dict, mix: Mixture, rng: np.random.Generator
                 ) -> Layout:
    sizes = _artist_sizes(n_tracks, stats, rng)
    artist_comp = np.sort(rng.choice(len(mix.weights), size=len(sizes), p=mix.weights))
    return Layout(artist_comp, np.repeat(np.arange(len(sizes)), sizes))


def _artist_sizes(n_tracks: int, stats: dict, rng: np.random.Generator) -> np.ndarray:
    """Tracks per artist, summing to exactly n_tracks, int64 array of shape (n_artists,)."""
    table = stats["artists"]["tracks_per_artist"]
    sizes = np.asarray(table["sizes"], dtype=np.int64)
    counts = np.asarray(table["counts"], dtype=np.float64)
    keep = sizes >= MIN_TRACKS_PER_ARTIST
    if keep.any():
        sizes, counts = sizes[keep], counts[keep]
    p = counts / counts.sum()
    drawn = np.empty(0, dtype=np.int64)
    while drawn.sum() < n_tracks:
        batch = int(n_tracks / float(p @ sizes) * 1.2) + 8
        drawn = np.concatenate([drawn, rng.choice(sizes, size=batch, p=p)])
    total = np.cumsum(drawn)
    last = int(np.searchsorted(total, n_tracks))
    out = drawn[: last + 1].copy()
    out[-1] -= total[last] - n_tracks
    return out


def _artist_genre_codes(
    artist_comp: np.ndarray, mix: Mixture, stats: dict, rng: np.random.Generator
) -> np.ndarray:
    """One genre per artist, int64 (n_artists,): an index into the top genres followed
    by the tail labels (tail artists draw a tail label by its weight)."""
    n_top = len(mix.labels) - 1
    codes = artist_comp.copy()
    tail = artist_comp == n_top
    tail_p = np.asarray(stats["tail"]["label_weights"], dtype=np.float64)
    codes[tail] = n_top + rng.choice(len(tail_p), size=int(tail.sum()), p=tail_p / tail_p.sum())
    return codes


# --------------------------------------------------------------------------- metadata


def _from_quantiles(table: list, u: np.ndarray) -> np.ndarray:
    """Inverse CDF from an evenly spaced quantile table, float64 like ``u``."""
    values = np.asarray(table, dtype=np.float64)
    return np.interp(u, np.linspace(0.0, 1.0, len(values)), values)


def _categorical(spec: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    p = np.asarray(spec["probabilities"], dtype=np.float64)
    return np.asarray(spec["values"], dtype=np.int64)[rng.choice(len(p), size=n, p=p / p.sum())]


def _release_years(layout: Layout, stats: dict, rng: np.random.Generator) -> np.ndarray:
    """Release year per track (sorted layout order), int64 array of shape (n_tracks,).

    The year's rank is mostly the artist's (an era), partly the track's; each
    genre has its own year distribution (the global one when the stats have none).
    """
    meta = stats["metadata"]
    comps = [*stats["genres"], stats["tail"]]
    n_artists = len(layout.artist_comp)
    latent = (math.sqrt(YEAR_ARTIST_SHARE) * rng.standard_normal(n_artists)[layout.track_artist]
              + math.sqrt(1 - YEAR_ARTIST_SHARE) * rng.standard_normal(len(layout.track_artist)))
    u = norm_cdf(latent)
    years = np.empty(len(u), dtype=np.int64)
    bounds = layout.component_bounds(len(comps))
    for c, comp in enumerate(comps):
        lo, hi = bounds[c], bounds[c + 1]
        table = comp.get("year_quantiles") or meta["year_quantiles"]
        years[lo:hi] = np.rint(_from_quantiles(table, u[lo:hi]))
    return years


def _release_dates(
    years: np.ndarray, full_share: float, rng: np.random.Generator
) -> pd.api.extensions.ExtensionArray:
    """'YYYY-MM-DD' (share ``full_share``) or 'YYYY' strings, shape like ``years``."""
    first = int(years.min())
    n_years = int(years.max()) - first + 1
    year_text = np.array([str(first + i) for i in range(n_years)], dtype=object)
    month_day = np.array([f"-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)],
                         dtype=object)
    vocabulary = np.concatenate([year_text, np.add.outer(year_text, month_day).ravel()])
    full = rng.random(len(years)) < full_share
    day = rng.integers(0, len(month_day), len(years))
    codes = np.where(full, n_years + (years - first) * len(month_day) + day, years - first)
    return take(vocabulary, codes)


def _explicit(track_comp: np.ndarray, stats: dict, rng: np.random.Generator) -> np.ndarray:
    """0/1 per track from its genre's explicit share (global share when unknown)."""
    default = stats["metadata"]["explicit_share"]
    comps = [*stats["genres"], stats["tail"]]
    share = np.array([default if c.get("explicit_share") is None else c["explicit_share"]
                      for c in comps])
    return (rng.random(len(track_comp)) < share[track_comp]).astype(np.int64)


def _artist_popularity(n_artists: int, stats: dict, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Followers and popularity per artist (Gaussian copula), two int64 arrays (n_artists,)."""
    art = stats["artists"]
    rho = float(art["followers_popularity_normal_corr"])
    z1 = rng.standard_normal(n_artists)
    z2 = rho * z1 + math.sqrt(1 - rho**2) * rng.standard_normal(n_artists)
    followers = _from_quantiles(art["followers_quantiles"], norm_cdf(z1))
    popularity = _from_quantiles(art["popularity_quantiles"], norm_cdf(z2))
    return np.rint(followers).astype(np.int64), np.rint(popularity).astype(np.int64)


# --------------------------------------------------------------------------- public


def _check_arguments(n_tracks: int, stats: dict | None) -> dict:
    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int | np.integer) or n_tracks < 1:
        raise ValueError(f"n_tracks must be a positive integer, got {n_tracks!r}")
    if stats is None:
        return load_demo_stats()
    validate_stats(stats)
    return stats


def _draw_features(
    n_tracks: int, stats: dict, rng: np.random.Generator
) -> tuple[Mixture, Layout, np.ndarray, np.ndarray]:
    """Layout, features in layout order (n_tracks, 9) and the row order of the output."""
    mix = mixture(stats)
    layout = _draw_layout(n_tracks, stats, mix, rng)
    X = to_features(latent_scores(layout, mix, rng), mix)
    order = rng.permutation(n_tracks)
    return mix, layout, X, order


def sample_features(n_tracks: int = 96_000, seed: int = 0, stats: dict | None = None
                    ) -> np.ndarray:
    """Only the nine features of ``generate_catalogue(n_tracks, seed, stats)``.

    Returns
    -------
    float64 array of shape (n_tracks, 9)
        Columns in ``FEATURES`` order; rows equal the catalogue's rows.
    """
    stats = _check_arguments(n_tracks, stats)
    _, _, X, order = _draw_features(int(n_tracks), stats, np.random.default_rng(seed))
    return X[order]


def generate_catalogue(
    n_tracks: int = 96_000, seed: int = 0, stats: dict | None = None
) -> pd.DataFrame:
    """Draw a synthetic track catalogue in the ``single_genre_artists.csv`` schema.

    Parameters
    ----------
    n_tracks : int
        Number of rows, >= 1.
    seed : int
        Seed of the numpy Generator; equal seeds give equal frames.
    stats : dict, optional
        Parsed statistics (see ``load_demo_stats``); read from DEFAULT_STATS_PATH
        when omitted.

    Returns
    -------
    DataFrame of shape (n_tracks, 23)
        Columns in COLUMNS order. The nine features are float64 inside
        ``VALID_RANGES``; every artist has one genre and (but for a last,
        truncated one) two or more tracks. All names and ids are synthetic.
    """
    stats = _check_arguments(n_tracks, stats)
    n = int(n_tracks)
    rng = np.random.default_rng(seed)
    mix, layout, X, order = _draw_features(n, stats, rng)
    n_artists = len(layout.artist_comp)
    years = _release_years(layout, stats, rng)[order]
    track_artist = layout.track_artist[order]
    meta = stats["metadata"]
    followers, artist_pop = _artist_popularity(n_artists, stats, rng)
    genre_text = np.array([str([g]) for g in mix.labels[:-1]] + [""], dtype=object)
    genre_code = _artist_genre_codes(layout.artist_comp, mix, stats, rng)
    tail_text = np.array([str([g]) for g in stats["tail"]["labels"]], dtype=object)
    genre_vocabulary = np.concatenate([genre_text[:-1], tail_text])
    columns = {
        "id_songs": pd.array(base62_ids(n, rng), dtype="str"),
        "name_song": titles(n, rng),
        "popularity_songs": np.rint(_from_quantiles(meta["popularity_quantiles"], rng.random(n))
                                    ).astype(np.int64),
        "duration_ms": np.rint(_from_quantiles(meta["duration_ms_quantiles"], rng.random(n))
                               ).astype(np.int64),
        "explicit": _explicit(layout.artist_comp[track_artist], stats, rng),
        "id_artists": take(base62_ids(n_artists, rng), track_artist),
        "release_date": _release_dates(years, meta["full_date_share"], rng),
        "key": _categorical(meta["key"], n, rng),
        "mode": _categorical(meta["mode"], n, rng),
        "time_signature": _categorical(meta["time_signature"], n, rng),
        "followers": followers[track_artist],
        "genres": take(genre_vocabulary, genre_code[track_artist]),
        "name_artists": take(artist_names(n_artists, rng), track_artist),
        "popularity_artists": artist_pop[track_artist],
        **dict(zip(FEATURES, X[order].T, strict=True)),
    }
    frame = pd.DataFrame({name: columns[name] for name in COLUMNS})
    logger.info("generated %s: %d tracks, %d artists (seed %d)", DEMO_LABEL, n, n_artists, seed)
    return frame
