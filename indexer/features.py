"""The nine audio features: the one definition of their names, order and valid ranges.

Every other module takes the order from here (build time) or from an artifact's
manifest (serve time); nothing else spells the list out.
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURES: tuple[str, ...] = (
    "energy",
    "danceability",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
)


@dataclass(frozen=True)
class ValidRange:
    """Closed-or-open interval a raw feature value must fall in to be kept."""

    low: float
    high: float
    low_inclusive: bool = True
    unit: str = ""


VALID_RANGES: dict[str, ValidRange] = {
    **{
        name: ValidRange(0.0, 1.0)
        for name in FEATURES
        if name not in ("loudness", "tempo")
    },
    "loudness": ValidRange(-60.0, 5.0, unit="dB"),
    "tempo": ValidRange(0.0, 260.0, low_inclusive=False, unit="BPM"),
}
