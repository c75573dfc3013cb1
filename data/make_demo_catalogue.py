"""Make the real demo catalogue, ``data/demo_catalogue.parquet``, from two MIT data sets.

Sources (both MIT-licensed; notices in ``data/README.md``), as copied to
``../shared/data`` (see that folder's README for their commits and blob ids):

- ``tidytuesday_2020.csv``: TidyTuesday 2020-01-21 "Song Genres" (``spotify_songs.csv``,
  rfordatascience/tidytuesday), one row per Spotify track id, with the playlist
  subgenres and genres of every playlist the track is in, joined with ";";
- ``billboard_rpkg.csv``: ``spotify_track_data`` of the R package ``billboard``
  (Billboard year-end Hot 100, chart years 1960-2015); no genres, popularity or
  release date.

What it does: keep the columns vibemap reads (the single_genre_artists.csv names, which
the loader's alias table maps), merge any repeated TidyTuesday track id into one row
(genre tokens joined in order), add the Billboard tracks that TidyTuesday does not
already hold (same Spotify id, or the same song by :func:`version_key`), tag each row
with its ``dataset``, and write Parquet (zstd) plus ``demo_catalogue.json``: the file's
sha256, row counts and provenance, which the build copies into the manifest.

Run from the repository root::

    .venv/bin/python data/make_demo_catalogue.py [--data ../shared/data] [--out data]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vibemap.indexer.features import FEATURES
from vibemap.indexer.versions import version_keys

HERE = Path(__file__).resolve().parent
TEXT = ("id_songs", "name_song", "name_artists", "release_date", "genres")
INTEGERS = {"popularity_songs": "Int16", "duration_ms": "Int32", "explicit": "Int8",
            "key": "Int8", "mode": "Int8", "time_signature": "Int8"}
COLUMNS = ("id_songs", "name_song", "name_artists", "popularity_songs", "release_date",
           "duration_ms", "explicit", *FEATURES, "key", "mode", "time_signature", "genres",
           "dataset")

LABEL = ("real tracks: TidyTuesday 2020 Spotify songs + Billboard year-end Hot 100 "
         "1960-2015 (R package billboard), MIT")
SOURCES = {
    "tidytuesday_2020": {
        "file": "tidytuesday_2020.csv",
        "title": "TidyTuesday 2020-01-21 'Song Genres' (spotify_songs.csv)",
        "origin": "https://github.com/rfordatascience/tidytuesday/tree/master/data/2020/2020-01-21",
        "licence": "MIT",
        "copyright": "Copyright (c) 2018 R for Data Science online learning community",
    },
    "billboard_rpkg": {
        "file": "billboard_rpkg.csv",
        "title": "R package billboard 0.1.0, spotify_track_data",
        "origin": "https://github.com/mikkelkrogsholm/billboard",
        "licence": "MIT",
        "copyright": "Copyright (c) 2017 Mikkel Freltoft Krogsholm",
    },
}


def read_source(path: Path) -> pd.DataFrame:
    """One shared CSV, typed: text columns as strings ('' -> missing), numbers parsed."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = pd.DataFrame({c: frame[c].str.strip().replace("", None) for c in TEXT})
    for column, dtype in INTEGERS.items():
        out[column] = pd.to_numeric(frame[column].replace("", None)).astype(dtype)
    for column in FEATURES:
        out[column] = pd.to_numeric(frame[column].replace("", None)).astype("float64")
    return out


def merge_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per track id: the first row's values, the genre tokens of all its rows
    (TidyTuesday lists a track once per playlist it is in)."""
    genres = (frame.assign(genres=frame["genres"].fillna(""))
              .groupby("id_songs", sort=False)["genres"]
              .agg(lambda cells: ";".join(dict.fromkeys(
                  t.strip() for cell in cells for t in cell.split(";") if t.strip()))))
    first = frame.drop_duplicates("id_songs", keep="first").set_index("id_songs")
    first["genres"] = genres.reindex(first.index).replace("", None)
    return first.reset_index()


def build(data: Path) -> tuple[pd.DataFrame, dict]:
    """The demo catalogue and its counts per source."""
    tidy = merge_repeats(read_source(data / SOURCES["tidytuesday_2020"]["file"]))
    billboard = read_source(data / SOURCES["billboard_rpkg"]["file"])
    billboard = billboard.drop_duplicates("id_songs", keep="first")
    tidy_keys = set(version_keys(tidy["name_song"].fillna(""), tidy["name_artists"].fillna("")))
    bb_keys = version_keys(billboard["name_song"].fillna(""), billboard["name_artists"].fillna(""))
    same_id = billboard["id_songs"].isin(set(tidy["id_songs"])).to_numpy()
    same_song = pd.Series(bb_keys).isin(tidy_keys).to_numpy() & ~same_id
    added = billboard[~same_id & ~same_song]
    frame = pd.concat([tidy.assign(dataset="tidytuesday_2020"),
                       added.assign(dataset="billboard_rpkg")], ignore_index=True)
    counts = {
        "tidytuesday_2020": {"rows": len(tidy)},
        "billboard_rpkg": {"rows_read": len(billboard),
                           "same_id_as_tidytuesday": int(same_id.sum()),
                           "same_song_as_tidytuesday": int(same_song.sum()),
                           "rows": len(added)},
    }
    return frame[list(COLUMNS)], counts


def release_years(frame: pd.DataFrame) -> dict[str, int]:
    """Tracks per decade of the album release year ("unknown" where there is none)."""
    year = pd.to_numeric(frame["release_date"].str.slice(0, 4), errors="coerce")
    decade = (year // 10 * 10).map(lambda y: "unknown" if pd.isna(y) else f"{int(y)}s")
    return {str(k): int(v) for k, v in decade.value_counts().sort_index().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    frame, counts = build(args.data)
    out = args.out / "demo_catalogue.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), out, compression="zstd",
                   compression_level=19)
    meta = {
        "file": out.name,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "bytes": out.stat().st_size,
        "rows": len(frame),
        "label": LABEL,
        "licence": "MIT",
        "sources": {name: {**SOURCES[name], **counts[name]} for name in SOURCES},
        "release_decades": release_years(frame),
        "made_by": "data/make_demo_catalogue.py",
        "made_at": datetime.now(UTC).date().isoformat(),
    }
    (args.out / "demo_catalogue.json").write_text(json.dumps(meta, indent=2) + "\n",
                                                  encoding="utf-8")
    print(json.dumps({k: meta[k] for k in ("file", "sha256", "bytes", "rows")}, indent=2))


if __name__ == "__main__":
    main()
