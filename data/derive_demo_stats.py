"""Derive the statistics the synthetic demo catalogue is drawn from.

Reads the real merged track file (``../shared/data/tracks_real.csv``) and writes
``data/demo_stats.json``: STATISTICS ONLY (quantile tables, correlation and
covariance matrices of normal scores, genre-level means, frequencies). No real
row, track title, artist name or id is written.

Run by hand from the repository root::

    .venv/bin/python data/derive_demo_stats.py \
        [--data ../shared/data/tracks_real.csv] [--out data/demo_stats.json]

Method (recorded in the JSON's ``note``):

1. keep the rows whose nine features lie in ``vibemap.indexer.features.VALID_RANGES``;
2. per feature, a quantile table (the marginal distribution);
3. per feature, tie-aware normal scores (the expected standard-normal value of
   each value's rank interval, so point masses such as instrumentalness == 0 get
   one score), and their correlation matrix (a Gaussian copula);
4. each track gets one primary genre: of its genre labels that are among the
   most common Spotify-style labels, the least common one (the most specific).
   For each of the top ``--genres`` primary genres: weight, mean vector and
   covariance matrix of the normal scores, release-year quantiles and explicit
   share. Labelled tracks with none of them form one pooled "tail" component,
   named after the labels its tracks carry most often. Tracks with no
   Spotify-style label at all (about 40%: sources without genres or with coarse
   class labels) still count: the components are a Gaussian mixture fitted by
   EM with labelled tracks fixed to their genre and unlabelled ones assigned
   softly, so the mixture describes all tracks;
5. the share of within-genre variance that is shared by tracks of one artist
   (one-way ANOVA intraclass correlation on the first-named artist);
6. a calibration: a Gaussian copula keeps rank correlations but, on these skewed
   marginals, not Pearson's. One symmetric matrix is added to every genre's
   within-genre correlation (the generator applies it) and updated by fixed-point
   iteration until the Pearson correlations of a large synthetic draw match the
   real ones;
7. metadata marginals: popularity, duration, release year, explicit share,
   key / mode / time-signature frequencies, tracks per artist, artist followers
   and popularity (with their normal-score correlation).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from vibemap.indexer.features import FEATURES, VALID_RANGES  # noqa: E402
from vibemap.indexer.files import sha256_file  # noqa: E402
from vibemap.indexer.synthetic.generator import sample_features  # noqa: E402

STATS_VERSION = 1
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "tracks_real.csv"
DEFAULT_OUT = REPO_ROOT / "data" / "demo_stats.json"

# sources whose `genres` are Spotify artist genres or Spotify playlist (sub)genres;
# the other sources use coarse class labels (see ../shared/data/README.md).
SPOTIFY_GENRE_SOURCES = ("tidytuesday_2020", "musicoset", "top_hits_pl", "hottest50", "top_hits")
N_CANDIDATE_LABELS = 80
N_TAIL_LABELS = 40
MIN_YEAR, MAX_YEAR = 1900, 2025
CALIBRATION_TRACKS = 300_000
CALIBRATION_SEED = 12345
CALIBRATION_TOLERANCE = 0.004


# ----------------------------------------------------------------------------- helpers


def rounded(values: np.ndarray | list, digits: int = 6) -> list:
    """Plain nested lists of floats rounded to ``digits`` significant digits (NaN -> None)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim > 1:
        return [rounded(row, digits) for row in arr]
    return [float(f"{v:.{digits}g}") if np.isfinite(v) else None for v in arr.ravel()]


def probability_grid(n_uniform: int) -> np.ndarray:
    """Uniform grid on [0, 1] plus extra points in both tails, shape (m,)."""
    tails = np.array([1e-5, 1e-4, 5e-4, 1e-3, 2e-3, 3.5e-3])
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, n_uniform), tails, 1.0 - tails]))


def normal_scores(x: np.ndarray) -> np.ndarray:
    """Tie-aware normal scores of a sample.

    Parameters
    ----------
    x : float array of shape (n,)

    Returns
    -------
    float64 array of shape (n,)
        For a value whose ranks span the probability interval (a, b], the mean of a
        standard normal restricted to (ppf(a), ppf(b)]: singletons get about
        ``ppf((rank - 0.5) / n)``, a point mass gets one score of the right size.
    """
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts) / len(x)
    lower = upper - counts / len(x)
    pdf_low = np.exp(-0.5 * special.ndtri(lower) ** 2) / np.sqrt(2 * np.pi)
    pdf_high = np.exp(-0.5 * special.ndtri(upper) ** 2) / np.sqrt(2 * np.pi)
    pdf_low[lower <= 0] = 0.0
    pdf_high[upper >= 1] = 0.0
    score = (pdf_low - pdf_high) / (upper - lower)
    del values
    return score[inverse]


def first_artist(names: pd.Series) -> pd.Series:
    """The first-named artist, lower-cased ("" when none), same index as ``names``."""
    return names.fillna("").astype(str).str.split(", ").str[0].str.strip().str.lower()


def valid_mask(frame: pd.DataFrame) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for name in FEATURES:
        rng = VALID_RANGES[name]
        x = frame[name].to_numpy(dtype=np.float64)
        low_ok = x >= rng.low if rng.low_inclusive else x > rng.low
        keep &= np.isfinite(x) & low_ok & (x <= rng.high)
    return keep


# ----------------------------------------------------------------------------- genres


def genre_labels(frame: pd.DataFrame) -> pd.Series:
    """Each row's genre labels as a list of lower-cased strings (empty list when none)."""
    text = frame["genres"].fillna("").str.lower()
    return text.map(lambda s: [g.strip() for g in s.split(";") if g.strip()])


def label_frequencies(labels: pd.Series, sources: pd.Series) -> pd.Series:
    """How many rows carry each label, for labels seen in a Spotify-genre source."""
    exploded = labels.explode().dropna()
    vocabulary = set(labels[sources.isin(SPOTIFY_GENRE_SOURCES)].explode().dropna())
    counts = exploded.value_counts()
    return counts[counts.index.isin(vocabulary)]


def assign_primary(labels: pd.Series, rank: dict[str, int]) -> np.ndarray:
    """The least common of a row's labels that has a rank ("" when none), shape (n,)."""

    def pick(row: list[str]) -> str:
        known = [g for g in row if g in rank]
        return max(known, key=rank.__getitem__) if known else ""

    return labels.map(pick).to_numpy(dtype=object)


def choose_genres(
    labels: pd.Series, freq: pd.Series, n_genres: int
) -> tuple[list[str], np.ndarray]:
    """Pick the top primary genres and each row's primary genre among them."""
    candidates = list(freq.index[:N_CANDIDATE_LABELS])
    chosen = candidates
    for _ in range(4):
        rank = {g: i for i, g in enumerate(chosen)}
        primary = assign_primary(labels, rank)
        counts = pd.Series(primary[primary != ""]).value_counts()
        new = [g for g in freq.index if g in set(counts.index[:n_genres])]
        if new == chosen:
            break
        chosen = new
    rank = {g: i for i, g in enumerate(chosen)}
    return chosen, assign_primary(labels, rank)


# ----------------------------------------------------------------------------- blocks


def feature_block(frame: pd.DataFrame, n_quantiles: int) -> tuple[dict, np.ndarray]:
    """Quantile tables and the normal-score correlation; also returns Z, shape (n, 9)."""
    grid = probability_grid(n_quantiles)
    quantiles = {}
    Z = np.empty((len(frame), len(FEATURES)))
    for j, name in enumerate(FEATURES):
        x = frame[name].to_numpy(dtype=np.float64)
        digits = 7 if name == "instrumentalness" else 6
        quantiles[name] = rounded(np.quantile(x, grid), digits)
        Z[:, j] = normal_scores(x)
    block = {
        "probabilities": rounded(grid, 8),
        "quantiles": quantiles,
        "normal_score_correlation": rounded(np.corrcoef(Z, rowvar=False), 4),
        "pearson_correlation": rounded(np.corrcoef(frame[list(FEATURES)].to_numpy(),
                                                   rowvar=False), 4),
    }
    return block, Z


def release_years(frame: pd.DataFrame) -> pd.Series:
    year = pd.to_numeric(frame["release_date"].astype("string").str.slice(0, 4), errors="coerce")
    return year.where((year >= MIN_YEAR) & (year <= MAX_YEAR))


def gaussian_log_density(Z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(z | mean, cov) per row, Z : (n, d) -> (n,)."""
    L = np.linalg.cholesky(cov)
    W = np.linalg.solve(L, (Z - mean).T)
    return -0.5 * (W**2).sum(axis=0) - np.log(np.diag(L)).sum() - 0.5 * Z.shape[1] * np.log(
        2 * np.pi)


def semi_supervised_mixture(
    Z: np.ndarray, component_of: np.ndarray, n_components: int, iterations: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian mixture over normal scores with the labelled rows fixed to their genre.

    Parameters
    ----------
    Z : float array of shape (n, 9)
        Normal scores of every track.
    component_of : int array of shape (n,)
        A row's component, or -1 for a track without a genre label; those are
        assigned softly by EM (E-step over them only, M-step over all rows).

    Returns
    -------
    weights (C,), means (C, 9), covs (C, 9, 9)
    """
    n, d = Z.shape
    R = np.zeros((n, n_components))
    known = component_of >= 0
    R[np.flatnonzero(known), component_of[known]] = 1.0
    unknown = ~known
    ridge = 1e-4 * np.eye(d)
    last = -np.inf
    for _ in range(iterations):
        mass = R.sum(axis=0)
        weights = mass / n
        means = (R.T @ Z) / mass[:, None]
        covs = np.stack([((R[:, c, None] * (Z - means[c])).T @ (Z - means[c])) / mass[c] + ridge
                         for c in range(n_components)])
        if not unknown.any():
            break
        logp = np.stack([np.log(weights[c]) + gaussian_log_density(Z[unknown], means[c], covs[c])
                         for c in range(n_components)], axis=1)
        top = logp.max(axis=1, keepdims=True)
        resp = np.exp(logp - top)
        total = resp.sum(axis=1, keepdims=True)
        R[unknown] = resp / total
        loglik = float((top[:, 0] + np.log(total[:, 0])).sum())
        if loglik - last < 1e-3 * unknown.sum():
            break
        last = loglik
    return weights, means, covs


def component(weight: float, mean: np.ndarray, cov: np.ndarray, n_labelled: int,
              years: pd.Series, explicit: pd.Series) -> dict:
    """Statistics of one mixture component (a genre or the tail)."""
    known_years = years.dropna().to_numpy()
    known_explicit = explicit.dropna().to_numpy()
    return {
        "n_labelled_tracks": n_labelled,
        "weight": round(float(weight), 6),
        "mean": rounded(mean, 4),
        "cov": rounded(cov, 4),
        "year_quantiles": rounded(np.quantile(known_years, np.linspace(0, 1, 21)), 5)
        if len(known_years) >= 50 else None,
        "explicit_share": round(float(known_explicit.mean()), 4)
        if len(known_explicit) >= 100 else None,
        "explicit_known": int(len(known_explicit)),
    }


def artist_share(Z: np.ndarray, primary: np.ndarray, artists: pd.Series) -> float:
    """Mean over features of the intraclass correlation of artists within genres.

    Residuals from each track's genre mean are split by first-named artist (only
    artists with >= 2 tracks in the given rows); the one-way ANOVA estimator is
    averaged over features. Z : float array of shape (n, 9); primary, artists : (n,).
    """
    residual = Z.copy()
    for g in np.unique(primary):
        rows = primary == g
        residual[rows] -= residual[rows].mean(axis=0)
    key = first_artist(artists.reset_index(drop=True)).to_numpy(dtype=object)
    sizes = pd.Series(key).map(pd.Series(key).value_counts()).to_numpy()
    rows = (key != "") & (sizes >= 2)
    codes, groups = pd.factorize(key[rows])
    R = residual[rows]
    n, a = len(R), len(groups)
    counts = np.bincount(codes, minlength=a)
    sums = np.stack([np.bincount(codes, weights=R[:, j], minlength=a) for j in range(R.shape[1])],
                    axis=1)
    means = sums / counts[:, None]
    grand = R.mean(axis=0)
    ssb = (counts[:, None] * (means - grand) ** 2).sum(axis=0)
    ssw = ((R - means[codes]) ** 2).sum(axis=0)
    msb, msw = ssb / (a - 1), ssw / (n - a)
    k0 = (n - (counts**2).sum() / n) / (a - 1)
    icc = (msb - msw) / (msb + (k0 - 1) * msw)
    return float(np.clip(icc.mean(), 0.0, 0.9))


def calibrate(stats: dict, target: np.ndarray, max_iterations: int = 15) -> dict:
    """Fit the correlation calibration the generator applies (see the module docstring).

    Parameters
    ----------
    stats : dict
        The statistics without "calibration".
    target : float array of shape (9, 9)
        Real Pearson correlations of the features.

    Returns
    -------
    dict
        "delta_correlation" (9 x 9) and how the fit went.
    """
    delta = np.zeros_like(target)
    history = []
    for _ in range(max_iterations):
        trial = {**stats, "calibration": {"delta_correlation": delta.tolist()}}
        X = sample_features(CALIBRATION_TRACKS, seed=CALIBRATION_SEED, stats=trial)
        diff = np.corrcoef(X, rowvar=False) - target
        history.append(float(np.abs(diff).max()))
        if history[-1] < CALIBRATION_TOLERANCE:
            break
        delta -= diff
        np.fill_diagonal(delta, 0.0)
    return {
        "delta_correlation": rounded(delta, 4),
        "method": "delta added to every genre's within-genre correlation of normal scores "
                  "(then clipped to the nearest valid correlation matrix), fixed-point "
                  "iteration delta -= pearson(draw) - pearson(real)",
        "sample_tracks": CALIBRATION_TRACKS,
        "seed": CALIBRATION_SEED,
        "max_abs_pearson_diff_per_iteration": rounded(history, 3),
    }


def categorical(series: pd.Series, drop: tuple = ()) -> dict:
    counts = series.dropna().astype(int)
    counts = counts[~counts.isin(drop)].value_counts().sort_index()
    return {
        "values": [int(v) for v in counts.index],
        "probabilities": rounded(counts.to_numpy() / counts.sum(), 5),
    }


def quantile_table(series: pd.Series, n_points: int, digits: int = 6) -> list:
    values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=np.float64)
    return rounded(np.quantile(values, np.linspace(0.0, 1.0, n_points)), digits)


def artists_block(frame: pd.DataFrame) -> dict:
    """Tracks per artist, and artist followers / popularity (one row per first artist)."""
    key = first_artist(frame["name_artists"])
    sizes = key[key != ""].value_counts().clip(upper=200).value_counts().sort_index()
    per_artist = frame.assign(_key=key)[key != ""].drop_duplicates("_key")
    both = per_artist[["followers", "popularity_artists"]].dropna()
    rho = np.corrcoef(normal_scores(np.log1p(both["followers"].to_numpy())),
                      normal_scores(both["popularity_artists"].to_numpy()))[0, 1]
    return {
        "tracks_per_artist": {
            "sizes": [int(s) for s in sizes.index],
            "counts": [int(c) for c in sizes.to_numpy()],
            "note": "first-named artist per track; sizes above 200 counted as 200",
        },
        "followers_quantiles": quantile_table(per_artist["followers"], 101),
        "popularity_quantiles": quantile_table(per_artist["popularity_artists"], 101),
        "followers_popularity_normal_corr": round(float(rho), 4),
        "n_artists_with_followers": int(len(both)),
    }


def metadata_block(frame: pd.DataFrame, years: pd.Series) -> dict:
    dates = frame["release_date"].dropna().astype(str)
    return {
        "popularity_quantiles": quantile_table(frame["popularity_songs"], 101),
        "duration_ms_quantiles": quantile_table(frame["duration_ms"], 201),
        "year_quantiles": quantile_table(years, 101),
        "full_date_share": round(float((dates.str.len() >= 10).mean()), 4),
        "explicit_share": round(float(frame["explicit"].dropna().mean()), 4),
        "key": categorical(frame["key"]),
        "mode": categorical(frame["mode"]),
        "time_signature": categorical(frame["time_signature"], drop=(0,)),
    }


# ----------------------------------------------------------------------------- main


def derive(data: Path, n_genres: int, n_quantiles: int) -> dict:
    raw = pd.read_csv(data, low_memory=False)
    keep = valid_mask(raw)
    frame = raw[keep].reset_index(drop=True)
    features, Z = feature_block(frame, n_quantiles)
    years = release_years(frame)
    labels = genre_labels(frame)
    freq = label_frequencies(labels, frame["source"])
    genres, primary = choose_genres(labels, freq, n_genres)
    vocabulary = set(freq.index)
    labelled = labels.map(lambda row: any(g in vocabulary for g in row)).to_numpy()
    tail_rows = labelled & (primary == "")
    component_of = np.full(len(frame), -1)
    for c, g in enumerate(genres):
        component_of[primary == g] = c
    component_of[tail_rows] = len(genres)
    weights, means, covs = semi_supervised_mixture(Z, component_of, len(genres) + 1)
    components = []
    for c, g in enumerate([*genres, ""]):
        rows = component_of == c
        comp = component(weights[c], means[c], covs[c], int(rows.sum()), years[rows],
                         frame["explicit"][rows])
        components.append({"genre": g, **comp})
    tail = components.pop()
    del tail["genre"]
    # name the tail after the labels its own tracks carry most often
    tail_freq = labels[tail_rows].explode().dropna().value_counts()
    tail_freq = tail_freq[tail_freq.index.isin(vocabulary)].head(N_TAIL_LABELS)
    tail["labels"] = list(tail_freq.index)
    tail["label_weights"] = rounded(tail_freq.to_numpy() / tail_freq.sum(), 4)
    in_genre = primary != ""
    share = artist_share(Z[in_genre], primary[in_genre], frame["name_artists"][in_genre])
    tail["artist_share"] = round(
        artist_share(Z[tail_rows], primary[tail_rows], frame["name_artists"][tail_rows]), 4
    )
    note = {
        "what": "statistics only (no rows, titles, artist names or ids) of real Spotify audio "
                "features, used to draw vibemap's SYNTHETIC demo catalogue",
        "source_file": data.name,
        "source_sha256": sha256_file(data),
        "rows_read": int(len(raw)),
        "rows_used": len(frame),
        "rows_with_spotify_style_genre": int(labelled.sum()),
        "rows_dropped_out_of_range": int((~keep).sum()),
        "created": dt.date.today().isoformat(),
        "script": "data/derive_demo_stats.py",
        "method": (
            "per-feature quantile tables; tie-aware normal scores and their correlation "
            "(Gaussian copula); one primary genre per track = its least common label among the "
            "most common Spotify-style labels; per top genre: weight, mean and covariance of "
            "normal scores (a Gaussian mixture fitted by EM with labelled tracks fixed to their "
            "genre and tracks without a Spotify-style label assigned softly), release-year "
            "quantiles and explicit share (labelled tracks); labelled tracks without a top genre "
            "pooled into one tail component; artist share of within-genre variance by one-way "
            "ANOVA ICC on first-named artist (genre rows; tail rows separately); a common "
            "within-genre correlation shift calibrated so synthetic Pearson correlations match "
            "the real ones; metadata marginals and frequencies"
        ),
    }
    stats = {
        "version": STATS_VERSION,
        "note": note,
        "features": list(FEATURES),
        **features,
        "genres": components,
        "tail": tail,
        "artist_share": round(share, 4),
        "artists": artists_block(frame),
        "metadata": metadata_block(frame, years),
    }
    target = np.corrcoef(frame[list(FEATURES)].to_numpy(), rowvar=False)
    stats["calibration"] = calibrate(stats, target)
    return stats


def to_json(stats: dict) -> str:
    """Indented JSON with every list of numbers kept on one line."""
    text = json.dumps(stats, indent=1, allow_nan=False)
    return re.sub(
        r"\[\s+([^\[\]{}\"]*?)\s+\]",
        lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]",
        text,
    ) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="real tracks CSV")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="statistics JSON to write")
    parser.add_argument("--genres", type=int, default=40, help="genre components to keep")
    parser.add_argument("--quantiles", type=int, default=401,
                        help="uniform points in each feature's quantile table")
    return parser.parse_args(argv)


def say(line: str) -> None:
    """CLI output (this script is run by hand)."""
    print(line)  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_file():
        say(f"error: {args.data} not found (see ../shared/data/README.md)")
        return 2
    stats = derive(args.data, args.genres, args.quantiles)
    text = to_json(stats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    say(f"wrote {args.out} ({len(text) / 1024:.0f} KiB) from {stats['note']['rows_used']} rows")
    say("genres: " + ", ".join(c["genre"] for c in stats["genres"]))
    say("calibration, max |pearson diff| per iteration: "
        f"{stats['calibration']['max_abs_pearson_diff_per_iteration']}")
    say(f"tail weight {stats['tail']['weight']:.3f}, artist share {stats['artist_share']:.3f}"
        f" (tail {stats['tail']['artist_share']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
