"""The service's one settings object, read once at the edge (CLI flags / environment)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from recommender.errors import SettingsError


def _split_origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


@dataclass(frozen=True)
class ServiceSettings:
    """Everything ``vibemap serve`` needs; validated on creation.

    index_dir : the artifact directory to load at startup (env VIBEMAP_INDEX).
    admin_token : bearer token for POST /admin/reload (env VIBEMAP_ADMIN_TOKEN); None
        disables the admin routes (they answer 403 ``admin_disabled``).
    cors_origins : browser origins allowed by CORS (env VIBEMAP_CORS_ORIGINS, comma
        separated); empty (the default) adds no CORS headers at all.
    search_threads : threads one query may use in FAISS / BLAS (env VIBEMAP_SEARCH_THREADS);
        1 suits a service of single-vector queries (see ``set_search_threads``).
    """

    index_dir: Path = field(default_factory=lambda: Path("indexes/demo"))
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    search_threads: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, got {self.port}")
        if self.search_threads < 1:
            raise SettingsError(f"search_threads must be >= 1, got {self.search_threads}")
        if self.admin_token is not None and len(self.admin_token) < 8:
            raise SettingsError("VIBEMAP_ADMIN_TOKEN must be at least 8 characters")
        if "*" in self.cors_origins and len(self.cors_origins) > 1:
            raise SettingsError("VIBEMAP_CORS_ORIGINS: '*' cannot be combined with other origins")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object
                 ) -> ServiceSettings:
        """Settings from VIBEMAP_* environment variables; ``overrides`` (e.g. CLI flags)
        win over the environment; a None override is ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("VIBEMAP_INDEX"):
            values["index_dir"] = Path(env["VIBEMAP_INDEX"])
        if env.get("VIBEMAP_HOST"):
            values["host"] = env["VIBEMAP_HOST"]
        for key, name in (("port", "VIBEMAP_PORT"), ("search_threads", "VIBEMAP_SEARCH_THREADS")):
            if env.get(name):
                try:
                    values[key] = int(env[name])
                except ValueError:
                    raise SettingsError(f"{name} must be an integer, got {env[name]!r}") from None
        if env.get("VIBEMAP_ADMIN_TOKEN"):
            values["admin_token"] = env["VIBEMAP_ADMIN_TOKEN"]
        if env.get("VIBEMAP_CORS_ORIGINS"):
            values["cors_origins"] = _split_origins(env["VIBEMAP_CORS_ORIGINS"])
        settings = cls(**values)  # type: ignore[arg-type]
        given = {k: v for k, v in overrides.items() if v is not None}
        if "index_dir" in given:
            given["index_dir"] = Path(given["index_dir"])  # type: ignore[arg-type]
        return replace(settings, **given) if given else settings
