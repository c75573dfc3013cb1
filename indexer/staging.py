"""Where builds land: a build writes into a temporary sibling directory and swaps it into
place atomically, and it only ever replaces a directory that is missing, empty or a vibemap
artifact holding only its own files, so a user's files are never deleted."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from vibemap.indexer.errors import ArtifactError

MANIFEST = "manifest.json"


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directory entries (Linux renameat2 RENAME_EXCHANGE)."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def _artifact_entries(root: Path, manifest: object) -> str | None:
    """None when ``root`` holds only what ``manifest`` lists (plus manifest.json and the
    folders of listed files); else the first other entry, relative to ``root``."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or "format_version" not in manifest:
        return MANIFEST  # not a manifest vibemap wrote
    listed = {MANIFEST, *map(str, files)}
    folders = {parent.as_posix() for rel in listed for parent in Path(rel).parents}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath).relative_to(root)
        for name in sorted(dirnames):
            rel = (base / name).as_posix()
            if rel not in folders or (Path(dirpath) / name).is_symlink():
                return rel + "/"
        for name in sorted(filenames):
            rel = (base / name).as_posix()
            if rel not in listed or (Path(dirpath) / name).is_symlink():
                return rel
    return None


def check_replaceable(target: Path) -> None:
    """Refuse to build over anything but a missing path, an empty directory or a vibemap
    artifact holding only its own files: a build replaces ``target`` wholesale, so
    anything else in it (the input CSV, a home directory) would be deleted.

    Symlinks are followed: the directory they point at must pass the same test.
    """
    shown = Path(target)
    real = shown.resolve()
    if not real.exists():
        if shown.is_symlink():
            raise ArtifactError(f"{shown}: is a broken symbolic link; choose another --out")
        return
    if not real.is_dir():
        raise ArtifactError(
            f"{shown}: exists and is not a directory; refusing to replace it (choose another --out)"
        )
    if not any(real.iterdir()):
        return
    manifest_path = real / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    extra = _artifact_entries(real, manifest)
    if extra == MANIFEST:
        raise ArtifactError(
            f"{shown}: is not empty and is not a vibemap artifact (no valid {MANIFEST}); "
            "refusing to replace it: choose a new or empty --out directory"
        )
    if extra is not None:
        raise ArtifactError(
            f"{shown}: holds {extra!r}, which is not part of its vibemap artifact; refusing "
            "to replace it: move that file out or choose another --out directory"
        )


def _swap_into_place(staging: Path, target: Path) -> None:
    """Make ``staging`` become ``target``; the previous ``target`` is never left half-replaced.

    ``target`` has passed :func:`check_replaceable`, so what is removed is an old artifact.
    """
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous artifact
        return
    # Fallback without renameat2: two renames. The previous artifact survives as .old
    # if a crash falls between them.
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _staging_name(target: Path) -> str:
    return f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _remove_stale_staging(target: Path) -> None:
    """Delete leftovers of builds that died before their swap (their pid is gone). Only
    directories named exactly as :func:`_staging_name` names them are candidates."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.tmp-(\d+)-[0-9a-f]{{8}}")
    for path in target.parent.glob(f".{target.name}.tmp-*"):
        match = pattern.fullmatch(path.name)
        if not match or path.is_symlink() or not path.is_dir():
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or not _pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def staged_artifact(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success swap it into ``target``.

    ``target`` must pass :func:`check_replaceable` (checked before staging and again just
    before the swap); a symlink is followed and the directory it names is replaced.
    On any exception the staging directory is removed and ``target`` is untouched.
    The caller must have written ``manifest.json`` (see :func:`finalize_manifest`).
    """
    check_replaceable(target)
    real = Path(target).resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(real)
    staging = real.with_name(_staging_name(real))
    staging.mkdir()
    try:
        yield staging
        if not (staging / MANIFEST).is_file():
            raise ArtifactError("internal: artifact staged without a manifest")
        _fsync_tree(staging)
        check_replaceable(target)  # the build can take minutes; look again
        _swap_into_place(staging, real)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
