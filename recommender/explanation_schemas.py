"""Pydantic models of a result's explanation and of the era facts of an answer (the era
entries exist only for an artifact with an era column: vibemap.indexer.era)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

__all__ = ["EraComparison", "EraFacts", "EraOptional", "Explanation", "FeatureComparison"]


class FeatureComparison(BaseModel):
    feature: str
    track: float = Field(description="the result's value, original units")
    query: float = Field(description="the seed's / combined query's value, original units")


class EraOptional(BaseModel):
    """A model whose ``era`` entry exists only for an artifact with an era column: absent
    (not null) otherwise, as the engine returns it."""

    @model_serializer(mode="wrap")
    def _drop_missing_era(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if isinstance(data, dict) and data.get("era", 0) is None:
            del data["era"]
        return data


class EraComparison(BaseModel):
    track: int | None = Field(description="the result's release year")
    query: int | None = Field(description="the year the query stands for (the seed's, the "
                                          "seeds' mean or target_year); null if none")
    difference: int | None = Field(description="track minus query, in years")
    text: str = Field(description="e.g. 'same era: 1975 vs 1977', '12 years later (1975 vs "
                                  "1987)'")


class Explanation(EraOptional):
    closest: list[FeatureComparison] = Field(description="features that agree most")
    furthest: list[FeatureComparison] = Field(description="features that differ most")
    era: EraComparison | None = Field(None, description="release years compared; only for "
                                                        "an artifact with an era column")


class EraFacts(BaseModel):
    weight: float = Field(description="the artifact's era weight W (--era-weight)")
    audio_only: bool = Field(description="true when this answer ranked by the nine audio "
                                         "features alone")
    query_year: int | None = Field(description="the year the query stands for")
