"""The synthetic demo catalogue: tracks drawn from statistics of real audio features.

Nothing here is real data. ``data/demo_stats.json`` (made by
``data/derive_demo_stats.py``) holds only statistics of real Spotify audio features:
per-feature quantile tables, genre-level means and covariances of normal scores,
and metadata frequencies. This module draws a catalogue from them:

1. artists: a size (tracks per artist) from the real distribution, restricted to
   two or more tracks; one mixture component per artist from the genre weights;
   exactly one genre label per artist;
2. features: for each track, a latent normal vector
   ``mu_g + L_g (sqrt(s) e_artist + sqrt(1 - s) e_track)`` (``L_g L_g^T`` the
   genre covariance after the stats' small correlation calibration, ``s`` the
   artist share), so the genre's covariance is kept exactly and tracks of one
   artist sound alike; each coordinate is mapped through
   the mixture's own marginal CDF to a uniform, then through the real quantile
   table of that feature. Point masses (instrumentalness == 0) come out of the
   quantile table;
3. metadata: popularity, duration, key, mode, time signature, explicit flag,
   release date, followers, synthetic titles, artist names and base62 ids.

Everything is vectorised: no Python loop runs over tracks or artists.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vibemap.indexer.features import FEATURES, VALID_RANGES

logger = logging.getLogger(__name__)

DEMO_LABEL = "synthetic demo catalogue"
DEFAULT_STATS_PATH = Path(__file__).resolve().parents[2] / "data" / "demo_stats.json"

COLUMNS: tuple[str, ...] = (
    "id_songs", "name_song", "popularity_songs", "duration_ms", "explicit", "id_artists",
    "release_date", "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo", "time_signature",
    "followers", "genres", "name_artists", "popularity_artists",
)

MIN_TRACKS_PER_ARTIST = 2
YEAR_ARTIST_SHARE = 0.8  # how much of a track's release-year rank its artist decides
REQUIRED_KEYS = ("version", "note", "features", "probabilities", "quantiles", "genres",
                 "tail", "artist_share", "artists", "metadata")

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_ID_LENGTH = 22
_LATENT_GRID = np.linspace(-7.0, 7.0, 4001)  # uniform: lookups need no search

_ADJECTIVES = np.array((
    "Amber Ashen Azure Bitter Blazing Blue Bright Broken Brass Burning Candid Cedar Chrome "
    "Cinder Citrus Clever Cobalt Copper Coral Cosmic Crimson Gleaming Dapper Dawn Distant "
    "Dizzy Drifting Dusky Dusty Echoing Electric Emerald Empty Fading Feral Fickle Floral "
    "Fluent Foggy Frantic Frosted Gentle Gilded Hushed Gloomy Golden Granite Hazel Hollow "
    "Honest Humble Indigo Ivory Jade Jolly Juniper Kinetic Lacquer Lavender Languid Linen "
    "Little Lucid Lunar Magnetic Marble Mellow Merry Midnight Misty Molten Mossy Muted "
    "Nimble Noble Northern Oaken Opal Pale Paper Pastel Pepper Plaid Polar Quiet Rapid "
    "Restless Rosy Rusty Saffron Salty Scarlet Russet Silver Sleepy Slow Smoky Solar "
    "Sonic Sour Southern Static Stormy Sugar Sunny Swift Tangled Tender Thunder Tidal "
    "Velvet Violet Wandering Verdant Windy Wooden Woolly Zesty"
).split(), dtype=object)

_NOUNS = np.array((
    "Anchor Antler Arcade Arrow Atlas Badger Balloon Banner Beacon Heather Bison Blossom "
    "Bottle Breeze Bridge Bucket Cactus Canyon Caravan Castle Cloud Comet Compass Coyote "
    "Crane Current Cypress Delta Dune Ember Falcon Feather Fern Fjord Flame Forest Fountain "
    "Fox Garden Geyser Glacier Harbor Hawk Heron Horizon Island Jackal Kettle Kite Lagoon "
    "Lantern Ledger Lighthouse Lily Lotus Lynx Magpie Maple Meadow Mirror Moth Nebula "
    "Needle Marlin Orbit Orchard Otter Owl Paddle Parade Pebble Pelican Pilot Pine Planet "
    "Prairie Prism Pylon Quarry Raven Reef Ribbon Ridge River Rocket Saddle Satellite "
    "Signal Sparrow Spire Spring Statue Summit Swallow Tempest Thistle Tiger Tower "
    "Trellis Tulip Tundra Valley Vapor Voyage Walrus Willow Window Wolf Zephyr"
).split(), dtype=object)

_VERBS = np.array((
    "Chasing Holding Leaving Calling Dancing Falling Finding Keeping Losing Meeting "
    "Painting Racing Riding Running Saving Singing Turning Waiting Waking Walking"
).split(), dtype=object)



def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


_PLURALS = np.array([_plural(n) for n in _NOUNS], dtype=object)

# artist name = prefix + adjective + " " + noun (plural or not) + suffix
_ARTIST_PATTERNS: tuple[tuple[str, bool, str], ...] = (
    ("", False, ""), ("The ", True, ""), ("", False, " Club"), ("", False, " Collective"),
    ("", False, " Trio"), ("DJ ", False, ""),
)
# title patterns (see _title_vocabulary): "Adj Noun", "Noun of the Nouns",
# "Verb the Noun", "Adj Noun (Version)", "Noun"; with these probabilities
_TITLE_PATTERN_P = (0.4, 0.15, 0.2, 0.1, 0.15)
_VERSIONS = np.array((" (Radio Edit)", " (Live)", " (Acoustic)", " (Extended Mix)",
                      " (Remix)", " (Demo)"), dtype=object)


@dataclass(frozen=True)
class _Mixture:
    """The stats file's feature model as arrays (C components, 9 features)."""

    labels: list[str]  # genre label per component; "" for the tail
    weights: np.ndarray  # (C,)
    means: np.ndarray  # (C, 9)
    chols: np.ndarray  # (C, 9, 9), lower Cholesky factors of the covariances
    artist_share: np.ndarray  # (C,)
    feature_table: np.ndarray  # (9, len(_LATENT_GRID)): feature value at each latent score


# --------------------------------------------------------------------------- stats file


def load_demo_stats(path: Path | str | None = None) -> dict:
    """Read and check the demo statistics JSON.

    Raises
    ------
    ValueError
        When the file is missing, not JSON, or lacks a required part.
    """
    path = Path(path) if path is not None else DEFAULT_STATS_PATH
    if not path.is_file():
        raise ValueError(
            f"demo statistics not found at {path}; regenerate them with "
            "`python data/derive_demo_stats.py` (needs ../shared/data/tracks_real.csv)"
        )
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"demo statistics at {path} are not valid JSON: {exc}") from None
    validate_stats(stats, source=str(path))
    return stats


def validate_stats(stats: object, source: str = "<stats>") -> None:
    """Raise ValueError unless ``stats`` has the parts the generator reads."""
    if not isinstance(stats, dict):
        raise ValueError(f"{source}: demo statistics must be a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in stats]
    if missing:
        raise ValueError(f"{source}: demo statistics lack {', '.join(missing)}")
    if list(stats["features"]) != list(FEATURES):
        raise ValueError(
            f"{source}: features {list(stats['features'])} do not match {list(FEATURES)}"
        )
    m = len(stats["probabilities"])
    for name in FEATURES:
        table = stats["quantiles"].get(name)
        if table is None or len(table) != m:
            raise ValueError(f"{source}: quantile table for {name!r} missing or not {m} long")
    if not stats["genres"]:
        raise ValueError(f"{source}: demo statistics list no genres")


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz & Stegun 7.1.26, abs. error < 1e-7), same shape."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _nearest_correlation(R: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Clip a symmetric matrix's eigenvalues at ``floor`` and rescale to unit diagonal."""
    vals, vecs = np.linalg.eigh(0.5 * (R + R.T))
    fixed = (vecs * np.maximum(vals, floor)) @ vecs.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def _calibrated(covs: np.ndarray, stats: dict) -> np.ndarray:
    """Apply the stats file's correlation calibration to every component covariance.

    covs : float64 array of shape (C, 9, 9). The calibration (see
    ``data/derive_demo_stats.py``) is one symmetric matrix added to every
    component's within-genre correlation matrix, so that Pearson correlations of
    the drawn features match the real ones (a Gaussian copula alone matches rank
    correlations but not Pearson's on these skewed marginals).
    """
    delta = (stats.get("calibration") or {}).get("delta_correlation")
    if delta is None:
        return covs
    delta = np.asarray(delta, dtype=np.float64)
    out = np.empty_like(covs)
    for c, cov in enumerate(covs):
        sd = np.sqrt(np.diag(cov))
        R = _nearest_correlation(cov / np.outer(sd, sd) + delta)
        out[c] = R * np.outer(sd, sd)
    return out


def _mixture(stats: dict) -> _Mixture:
    comps = [*stats["genres"], stats["tail"]]
    weights = np.array([c["weight"] for c in comps], dtype=np.float64)
    means = np.array([c["mean"] for c in comps], dtype=np.float64)
    covs = _calibrated(np.array([c["cov"] for c in comps], dtype=np.float64), stats)
    ridge = 1e-6 * np.eye(len(FEATURES))
    chols = np.linalg.cholesky(0.5 * (covs + covs.transpose(0, 2, 1)) + ridge)
    share = np.full(len(comps), float(stats["artist_share"]))
    share[-1] = float(stats["tail"].get("artist_share", stats["artist_share"]))
    weights = weights / weights.sum()
    sds = np.sqrt(np.diagonal(covs, axis1=1, axis2=2))  # (C, 9)
    grid = _LATENT_GRID[None, :, None]  # (1, G, 1)
    cdf = (weights[:, None, None] * _norm_cdf((grid - means[:, None, :]) / sds[:, None, :]))
    # latent score -> mixture CDF (a uniform) -> real quantile: tabulated once per feature
    probabilities = np.asarray(stats["probabilities"], dtype=np.float64)
    table = np.array([np.interp(u, probabilities, stats["quantiles"][f])
                      for u, f in zip(cdf.sum(axis=0).T, FEATURES, strict=True)])
    return _Mixture(
        labels=[c.get("genre") or "" for c in comps],
        weights=weights,
        means=means,
        chols=chols,
        artist_share=np.clip(share, 0.0, 1.0),
        feature_table=table,
    )


@dataclass(frozen=True)
class _Layout:
    """Who is who: artists sorted by mixture component, tracks sorted by artist."""

    artist_comp: np.ndarray  # int64 (n_artists,), non-decreasing
    track_artist: np.ndarray  # int64 (n_tracks,), non-decreasing

    def component_bounds(self, n_components: int) -> np.ndarray:
        """Track slice [bounds[c], bounds[c + 1]) of each component, shape (C + 1,)."""
        track_comp = self.artist_comp[self.track_artist]
        return np.searchsorted(track_comp, np.arange(n_components + 1))


# --------------------------------------------------------------------------- artists


def _draw_layout(n_tracks: int, stats: dict, mix: _Mixture, rng: np.random.Generator
                 ) -> _Layout:
    sizes = _artist_sizes(n_tracks, stats, rng)
    artist_comp = np.sort(rng.choice(len(mix.weights), size=len(sizes), p=mix.weights))
    return _Layout(artist_comp, np.repeat(np.arange(len(sizes)), sizes))


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
    artist_comp: np.ndarray, mix: _Mixture, stats: dict, rng: np.random.Generator
) -> np.ndarray:
    """One genre per artist, int64 (n_artists,): an index into the top genres followed
    by the tail labels (tail artists draw a tail label by its weight)."""
    n_top = len(mix.labels) - 1
    codes = artist_comp.copy()
    tail = artist_comp == n_top
    tail_p = np.asarray(stats["tail"]["label_weights"], dtype=np.float64)
    codes[tail] = n_top + rng.choice(len(tail_p), size=int(tail.sum()), p=tail_p / tail_p.sum())
    return codes


def _artist_names(n_artists: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic, unique artist names, object array of shape (n_artists,).

    Names are drawn without replacement from adjective x noun x pattern; past that
    many artists a number is appended (" 2", " 3", ...).
    """
    n_adj, n_noun, n_pat = len(_ADJECTIVES), len(_NOUNS), len(_ARTIST_PATTERNS)
    space = n_adj * n_noun * n_pat
    codes = rng.choice(max(space, n_artists), size=n_artists, replace=False)
    base, repeat = codes % space, codes // space
    pattern, rest = base % n_pat, base // n_pat
    prefix = np.array([p for p, _, _ in _ARTIST_PATTERNS], dtype=object)[pattern]
    plural = np.array([q for _, q, _ in _ARTIST_PATTERNS])[pattern]
    suffix = np.array([s for _, _, s in _ARTIST_PATTERNS], dtype=object)[pattern]
    noun = np.where(plural, _PLURALS[rest // n_adj], _NOUNS[rest // n_adj])
    numbers = np.array(["", *(f" {i + 1}" for i in range(1, int(repeat.max()) + 1))],
                       dtype=object)
    return prefix + _ADJECTIVES[rest % n_adj] + " " + noun + suffix + numbers[repeat]


def _base62_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unique 22-character base62 ids, str array of shape (n,).

    Unique by construction: 11 characters encode a bijective scramble of the row
    number (an affine map and xorshift on uint64), 11 are random; the character
    positions are then shuffled once.
    """
    key = rng.integers(0, 2**63, size=2, dtype=np.uint64) | np.uint64(1)
    x = np.arange(n, dtype=np.uint64) * key[0] + key[1]
    x ^= x >> np.uint64(29)
    digits = np.empty((n, _ID_LENGTH), dtype=np.uint8)
    for i in range(11):
        digits[:, i] = (x % np.uint64(62)).astype(np.uint8)
        x //= np.uint64(62)
    digits[:, 11:] = rng.integers(0, 62, size=(n, _ID_LENGTH - 11), dtype=np.uint8)
    chars = _BASE62[digits[:, rng.permutation(_ID_LENGTH)]]
    return np.ascontiguousarray(chars).view(f"S{_ID_LENGTH}").ravel().astype(f"U{_ID_LENGTH}")


# --------------------------------------------------------------------------- features


def _latent_scores(layout: _Layout, mix: _Mixture, rng: np.random.Generator) -> np.ndarray:
    """Latent normal scores per track (layout order), float64 array (n_tracks, 9)."""
    d = len(FEATURES)
    artist_noise = rng.standard_normal((len(layout.artist_comp), d))
    Z = rng.standard_normal((len(layout.track_artist), d))
    bounds = layout.component_bounds(len(mix.labels))
    for c in range(len(mix.labels)):
        lo, hi = bounds[c], bounds[c + 1]
        if lo == hi:
            continue
        s = mix.artist_share[c]
        mixed = (math.sqrt(s) * artist_noise[layout.track_artist[lo:hi]]
                 + math.sqrt(1 - s) * Z[lo:hi])
        Z[lo:hi] = mix.means[c] + mixed @ mix.chols[c].T
    return Z


def _to_features(Z: np.ndarray, mix: _Mixture) -> np.ndarray:
    """Map latent scores to feature values, float64 (n_tracks, 9) in original units.

    Linear interpolation in ``mix.feature_table`` on the uniform latent grid
    (index arithmetic instead of a binary search per value).
    """
    lo, step = _LATENT_GRID[0], _LATENT_GRID[1] - _LATENT_GRID[0]
    top = len(_LATENT_GRID) - 1
    X = np.empty_like(Z)
    for j, name in enumerate(FEATURES):
        pos = np.clip((Z[:, j] - lo) / step, 0.0, float(top))
        i = np.minimum(pos.astype(np.int64), top - 1)
        table = mix.feature_table[j]
        x = table[i] + (pos - i) * (table[i + 1] - table[i])
        rng = VALID_RANGES[name]
        low = rng.low if rng.low_inclusive else np.nextafter(rng.low, np.inf)
        X[:, j] = np.clip(x, low, rng.high)
    return X


# --------------------------------------------------------------------------- metadata


def _from_quantiles(table: list, u: np.ndarray) -> np.ndarray:
    """Inverse CDF from an evenly spaced quantile table, float64 like ``u``."""
    values = np.asarray(table, dtype=np.float64)
    return np.interp(u, np.linspace(0.0, 1.0, len(values)), values)


def _categorical(spec: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    p = np.asarray(spec["probabilities"], dtype=np.float64)
    return np.asarray(spec["values"], dtype=np.int64)[rng.choice(len(p), size=n, p=p / p.sum())]


def _take(vocabulary: np.ndarray, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Strings ``vocabulary[codes]`` as a pandas string array, shape like ``codes``.

    Gathering from a small vocabulary inside pandas' string array is several times
    faster than building one Python string per row.
    """
    return pd.array(vocabulary, dtype="str").take(codes)


def _release_years(layout: _Layout, stats: dict, rng: np.random.Generator) -> np.ndarray:
    """Release year per track (sorted layout order), int64 array of shape (n_tracks,).

    The year's rank is mostly the artist's (an era), partly the track's; each
    genre has its own year distribution (the global one when the stats have none).
    """
    meta = stats["metadata"]
    comps = [*stats["genres"], stats["tail"]]
    n_artists = len(layout.artist_comp)
    latent = (math.sqrt(YEAR_ARTIST_SHARE) * rng.standard_normal(n_artists)[layout.track_artist]
              + math.sqrt(1 - YEAR_ARTIST_SHARE) * rng.standard_normal(len(layout.track_artist)))
    u = _norm_cdf(latent)
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
    return _take(vocabulary, codes)


def _title_vocabulary() -> tuple[np.ndarray, np.ndarray]:
    """All synthetic titles (object array) and each pattern's [start, stop) offsets."""
    a, n, v = _ADJECTIVES, _NOUNS, _VERBS
    parts = [
        np.add.outer(a + " ", n).ravel(),
        np.add.outer(n + " of the ", _PLURALS).ravel(),
        np.add.outer(v + " the ", n).ravel(),
        np.add.outer(np.add.outer(a + " ", n).ravel(), _VERSIONS).ravel(),
        n,
    ]
    sizes = np.array([len(p) for p in parts])
    return np.concatenate(parts), np.concatenate([[0], np.cumsum(sizes)])


def _titles(n: int, rng: np.random.Generator) -> pd.api.extensions.ExtensionArray:
    """Synthetic track titles from word lists, string array of shape (n,)."""
    vocabulary, offsets = _title_vocabulary()
    pattern = rng.choice(len(_TITLE_PATTERN_P), size=n, p=_TITLE_PATTERN_P)
    width = (offsets[1:] - offsets[:-1])[pattern]
    codes = offsets[pattern] + (rng.random(n) * width).astype(np.int64)
    return _take(vocabulary, codes)


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
    followers = _from_quantiles(art["followers_quantiles"], _norm_cdf(z1))
    popularity = _from_quantiles(art["popularity_quantiles"], _norm_cdf(z2))
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
) -> tuple[_Mixture, _Layout, np.ndarray, np.ndarray]:
    """Layout, features in layout order (n_tracks, 9) and the row order of the output."""
    mix = _mixture(stats)
    layout = _draw_layout(n_tracks, stats, mix, rng)
    X = _to_features(_latent_scores(layout, mix, rng), mix)
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
        "id_songs": pd.array(_base62_ids(n, rng), dtype="str"),
        "name_song": _titles(n, rng),
        "popularity_songs": np.rint(_from_quantiles(meta["popularity_quantiles"], rng.random(n))
                                    ).astype(np.int64),
        "duration_ms": np.rint(_from_quantiles(meta["duration_ms_quantiles"], rng.random(n))
                               ).astype(np.int64),
        "explicit": _explicit(layout.artist_comp[track_artist], stats, rng),
        "id_artists": _take(_base62_ids(n_artists, rng), track_artist),
        "release_date": _release_dates(years, meta["full_date_share"], rng),
        "key": _categorical(meta["key"], n, rng),
        "mode": _categorical(meta["mode"], n, rng),
        "time_signature": _categorical(meta["time_signature"], n, rng),
        "followers": followers[track_artist],
        "genres": _take(genre_vocabulary, genre_code[track_artist]),
        "name_artists": _take(_artist_names(n_artists, rng), track_artist),
        "popularity_artists": artist_pop[track_artist],
        **dict(zip(FEATURES, X[order].T, strict=True)),
    }
    frame = pd.DataFrame({name: columns[name] for name in COLUMNS})
    logger.info("generated %s: %d tracks, %d artists (seed %d)", DEMO_LABEL, n, n_artists, seed)
    return frame
