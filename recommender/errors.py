"""Domain errors of the online service. The API maps each to one HTTP status and code in
one place (``vibemap.recommender.api.errors.ERROR_MAP``); the CLI prints them as one line."""

from __future__ import annotations

from vibemap.indexer.errors import VibemapError


class TrackNotFound(VibemapError):
    """A track id that is not in the loaded artifact."""

    def __init__(self, track_id: str) -> None:
        super().__init__(f"unknown track id {track_id!r}")
        self.track_id = track_id


class VibeNotFound(VibemapError):
    """A vibe id or name that is not in the loaded artifact."""

    def __init__(self, vibe: object, known: list[str] | None = None) -> None:
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"unknown vibe {vibe!r}{hint}")
        self.vibe = vibe


class InvalidQuery(VibemapError):
    """Parameters that cannot make a query: out of range, contradictory, unknown feature..."""


class ArtifactNotLoaded(VibemapError):
    """The service has no artifact loaded (startup failed or is still running)."""


class Unauthorized(VibemapError):
    """An admin route called without the right bearer token."""


class AdminDisabled(VibemapError):
    """An admin route called while no admin token is configured."""


class SettingsError(VibemapError):
    """A service setting (flag or environment variable) has an unusable value."""


class Busy(VibemapError):
    """A one-at-a-time computation (the live K-loop) is already running."""
