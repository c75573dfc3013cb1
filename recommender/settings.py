"""The service's one settings object, read once at the edge (CLI flags / environment)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from vibemap.addresses import port_problem
from vibemap.recommender.errors import SettingsError

SERVE_HEAVY_PROCESSES = 1  # vibemap serve's heavy children (bench/RESULTS.md, "Starvation")
MAX_BODY_BYTES = 1 << 20  # 1 MiB: a 100-item batch of recommendation queries is ~20 KiB


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
    indexes_root : the directory whose artifacts POST /admin/reload may load by name (env
        VIBEMAP_INDEXES, as for ``vibemap index``); None means the parent of ``index_dir``.
    max_body_bytes : the largest request body accepted (env VIBEMAP_MAX_BODY_BYTES); a larger
        one gets 413 ``payload_too_large`` before it is read.
    light_threads, heavy_threads : worker threads for the sync engine calls of light routes
        (track lookups, /similar, search) and heavy ones (recommendations, batches, exports,
        PCA); the event loop itself never computes (env VIBEMAP_LIGHT_THREADS /
        VIBEMAP_HEAVY_THREADS).
    heavy_processes : child processes for the heavy routes instead of heavy_threads (env
        VIBEMAP_HEAVY_PROCESSES); 0 keeps them on threads of the server process (the default
        for an app built in code, e.g. tests); ``vibemap serve`` uses 1 (SERVE_HEAVY_PROCESSES).
    heavy_nice : how much lower the heavy children's CPU priority is (env VIBEMAP_HEAVY_NICE,
        0-19): the kernel then runs the event loop first (bench/RESULTS.md, "Starvation").
    workers : server processes (``vibemap serve --workers``, env VIBEMAP_WORKERS).
    generation_file : the JSON pointer {"path", "generation"} to the artifact every worker
        serves (env VIBEMAP_GENERATION_FILE); /admin/reload rewrites it and each worker
        follows it. None (one worker) keeps reloads within the process.
    queue_limit : requests that may wait for each pool's threads (env VIBEMAP_QUEUE_LIMIT);
        one more gets 429 ``busy`` at once.
    max_exports : concurrent CSV / PCA exports (env VIBEMAP_MAX_EXPORTS); one more gets 429.
    """

    index_dir: Path = field(default_factory=lambda: Path("indexes/demo"))
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    search_threads: int = 1
    indexes_root: Path | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    light_threads: int = 4
    heavy_threads: int = 1  # GIL-bound work: one thread kept /health p99 lowest (RESULTS)
    heavy_processes: int = 0
    heavy_nice: int = 10
    workers: int = 1
    generation_file: Path | None = None
    queue_limit: int = 64
    max_exports: int = 2

    @property
    def artifacts_root(self) -> Path:
        """Where /admin/reload resolves an artifact name: indexes_root, else index_dir's parent."""
        return Path(self.indexes_root) if self.indexes_root is not None else self.index_dir.parent

    def __post_init__(self) -> None:
        if problem := port_problem(self.port):
            raise SettingsError(f"port {problem}")
        if self.search_threads < 1:
            raise SettingsError(f"search_threads must be >= 1, got {self.search_threads}")
        if self.admin_token is not None and len(self.admin_token) < 8:
            raise SettingsError("VIBEMAP_ADMIN_TOKEN must be at least 8 characters")
        for name in ("light_threads", "heavy_threads", "queue_limit", "max_exports", "workers"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.heavy_processes <= 64:
            raise SettingsError(f"heavy_processes must be 0-64, got {self.heavy_processes}")
        if not 0 <= self.heavy_nice <= 19:
            raise SettingsError(f"heavy_nice must be 0-19, got {self.heavy_nice}")
        if self.max_body_bytes < 1024:
            raise SettingsError(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")
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
        if env.get("VIBEMAP_GENERATION_FILE"):
            values["generation_file"] = Path(env["VIBEMAP_GENERATION_FILE"])
        if env.get("VIBEMAP_INDEXES"):
            values["indexes_root"] = Path(env["VIBEMAP_INDEXES"])
        for key, name in (("port", "VIBEMAP_PORT"), ("search_threads", "VIBEMAP_SEARCH_THREADS"),
                          ("max_body_bytes", "VIBEMAP_MAX_BODY_BYTES"),
                          ("light_threads", "VIBEMAP_LIGHT_THREADS"),
                          ("heavy_threads", "VIBEMAP_HEAVY_THREADS"),
                          ("queue_limit", "VIBEMAP_QUEUE_LIMIT"),
                          ("heavy_processes", "VIBEMAP_HEAVY_PROCESSES"),
                          ("heavy_nice", "VIBEMAP_HEAVY_NICE"),
                          ("workers", "VIBEMAP_WORKERS"),
                          ("max_exports", "VIBEMAP_MAX_EXPORTS")):
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
        for key in ("index_dir", "indexes_root", "generation_file"):
            if key in given:
                given[key] = Path(given[key])  # type: ignore[arg-type]
        return replace(settings, **given) if given else settings
