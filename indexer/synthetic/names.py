"""Synthetic names and ids for the generated catalogue: artist names, track titles and
base62 ids, drawn from small word lists (nothing here is a real name)."""

from __future__ import annotations

import numpy as np
import pandas as pd

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_ID_LENGTH = 22

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


def artist_names(n_artists: int, rng: np.random.Generator) -> np.ndarray:
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


def base62_ids(n: int, rng: np.random.Generator) -> np.ndarray:
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


def take(vocabulary: np.ndarray, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Strings ``vocabulary[codes]`` as a pandas string array, shape like ``codes``.

    Gathering from a small vocabulary inside pandas' string array is several times
    faster than building one Python string per row.
    """
    return pd.array(vocabulary, dtype="str").take(codes)


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


def titles(n: int, rng: np.random.Generator) -> pd.api.extensions.ExtensionArray:
    """Synthetic track titles from word lists, string array of shape (n,)."""
    vocabulary, offsets = _title_vocabulary()
    pattern = rng.choice(len(_TITLE_PATTERN_P), size=n, p=_TITLE_PATTERN_P)
    width = (offsets[1:] - offsets[:-1])[pattern]
    codes = offsets[pattern] + (rng.random(n) * width).astype(np.int64)
    return take(vocabulary, codes)
