"""The HTTP API, in the FastAPI full-stack template's shape: ``app`` (factory, lifespan,
middleware), ``deps`` (service state, engine, query models), ``errors`` (the one error
map), ``middleware``, and one router per resource under ``routes``."""

from vibemap.recommender.api.app import create_app
from vibemap.recommender.api.deps import artifact_tag, get_engine
from vibemap.recommender.api.errors import ERROR_MAP
from vibemap.recommender.api.middleware import ARTIFACT_HEADER

__all__ = ["ARTIFACT_HEADER", "ERROR_MAP", "artifact_tag", "create_app", "get_engine"]
