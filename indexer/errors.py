"""Domain errors. The CLI turns them into one-line messages and exit code 2;
the API maps them to HTTP codes in one place."""

from __future__ import annotations


class VibemapError(Exception):
    """Base class: an error caused by input or state the user can fix."""


class CatalogueError(VibemapError):
    """The track CSV cannot be read or has no usable rows."""


class BuildError(VibemapError):
    """Build parameters do not fit the data (e.g. more clusters than tracks)."""


class ArtifactError(VibemapError):
    """An artifact directory is missing, incomplete, tampered with or of another format."""
