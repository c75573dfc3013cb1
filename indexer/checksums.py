"""What is checked of an artifact's files before the service answers from it, and how.

Every file the service reads is verified against the sha256 the manifest records, in
parallel threads (hashlib releases the GIL, and from a cold page cache the disk serves
several reads at once), while the structure is read and checked, and a load returns only
once both passed. Files parsed by native code that trusts its input (``NATIVE``: Arrow IPC,
FAISS) are hashed first and matched before any of them is opened; the others are read by
checked Python code (.npy headers, JSON) while they hash. A checksum mismatch is reported
before any error the damaged file caused in the structure checks, naming the real fault.

``UNREAD`` files are never read by the service: ``tracks_labelled.csv`` is the build's
deliverable to the user (every input column plus the vibe), and the service's own CSV
export is written from the mapped, verified columns. At load such a file is checked for
presence and size only (a third of a 10M artifact's bytes: hashing it made the service
start 1.4x slower, bench/RESULTS.md); ``vibemap verify`` checks every checksum.

A load may trust an earlier verification in this service (``trusted``: each file's
:func:`identity` when its checksum matched, as the server hands it to its heavy children):
a file whose device, inode, size, mtime and ctime are unchanged is not hashed again. Any
write through the filesystem changes mtime and ctime, any replacement the inode; what this
trusts beyond that (the disk changing under the filesystem) the verifying process trusts
too, as it serves its mapped pages for as long as it runs without hashing them again.
File times are coarse (a tick of milliseconds): a file changed less than ``RACY_S`` before
it was checked is not offered for trust (it could change again within the same tick).

:class:`EarlyCheck` applies the same rule inside one process: ``vibemap serve`` starts the
hashing as soon as it knows the artifact's path, before it imports the web stack and the
engine (~1-2 s on one core, while the other cores hash and a cold disk reads), and its load
then trusts the files that matched.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from vibemap.indexer.errors import ArtifactError
from vibemap.indexer.files import sha256_file
from vibemap.indexer.staging import MANIFEST

T = TypeVar("T")
Identity = tuple[int, int, int, int, int]
RACY_S = 2.0
UNREAD = ("tracks_labelled.csv",)
NATIVE = (".arrow", ".faiss")


def hash_threads() -> int:
    """Files hashed at once: more than the cores, as cold reads wait on the disk."""
    return min(8, max(4, 2 * (os.cpu_count() or 1)))


def identity(path: Path) -> Identity:
    """What changes when a file is written or replaced: device, inode, size, mtime, ctime."""
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def check_listing(path: Path, manifest: dict, required: Sequence[str]) -> dict:
    """The manifest's ``files``, once every required file is listed and every listed file
    is present with the size recorded (cheap: no file is read)."""
    files = manifest.get("files") or {}
    for rel in required:
        if rel not in files:
            raise ArtifactError(f"{path}: manifest lists no {rel}; incomplete artifact")
    for rel, meta in files.items():
        file = path / rel
        if not file.is_file():
            raise ArtifactError(f"{file}: missing (listed in {MANIFEST})")
        recorded, size = (meta or {}).get("bytes"), file.stat().st_size
        if recorded is not None and recorded != size:
            raise ArtifactError(f"{file}: {size:,} bytes, the manifest records {recorded:,};"
                                " the artifact was modified or corrupted")
    return files


def hash_order(seen: Mapping[str, Identity]) -> list[str]:
    """The files of ``seen`` (file: identity) in the order they are hashed: ``NATIVE`` files
    first (they gate the load), the biggest first within each."""
    return sorted(seen, key=lambda rel: (not rel.endswith(NATIVE), -seen[rel][2]))


def settled_only(seen: Mapping[str, Identity], now: int) -> dict[str, Identity]:
    """The identities of the files not changed (ctime) in the ``RACY_S`` before ``now``:
    those a check may offer for trust."""
    return {rel: i for rel, i in seen.items() if now - i[4] > RACY_S * 1e9}


def start_hashing(path: Path, rels: Sequence[str]
                  ) -> tuple[ThreadPoolExecutor, dict[str, Future[str]]]:
    """The sha256 of each of ``rels`` (in that order), computed in a pool of
    :func:`hash_threads` threads; the caller shuts the pool down."""
    pool = ThreadPoolExecutor(max_workers=hash_threads(), thread_name_prefix="sha256")
    return pool, {rel: pool.submit(sha256_file, path / rel) for rel in rels}


def verified(path: Path, manifest: dict, required: Sequence[str],
             load: Callable[[Callable[[], None], dict[str, Identity]], T], every: bool = False,
             trusted: Mapping[str, Identity] | None = None) -> T:
    """``load(gate, identities)``'s result, computed while the checksums of the files the
    service reads (all of them with ``every``; not those ``trusted`` as they are) are
    verified; ``load`` calls ``gate()`` before it opens a ``NATIVE`` file, and gets each
    checked file's identity (taken before it is hashed; not of a file changed just then).
    ArtifactError on a missing, resized or modified file, raised before any error ``load``
    raised."""
    files = check_listing(path, manifest, required)
    now = time.time_ns()
    seen = {rel: identity(path / rel) for rel in files if every or rel not in UNREAD}
    order = hash_order(seen)
    settled = settled_only(seen, now)
    pool, digests = start_hashing(path, [rel for rel in order
                                         if (trusted or {}).get(rel) != seen[rel]])
    try:

        def check(rels: Iterable[str]) -> None:
            for rel in filter(digests.__contains__, rels):
                expected, actual = str((files[rel] or {}).get("sha256")), digests[rel].result()
                if actual != expected:
                    raise ArtifactError(
                        f"{path / rel}: checksum mismatch (manifest sha256 {expected[:12]}…, "
                        f"file sha256 {actual[:12]}…); the artifact was modified or corrupted")

        try:
            result, error = load(lambda: check(r for r in order if r.endswith(NATIVE)),
                                 settled), None
        except Exception as exc:  # re-raised below, unless a checksum explains it first
            result, error = None, exc
        check(order)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error
    return result


class EarlyCheck:
    """The checksums of an artifact's served files, computed in background threads from the
    moment a command knows its path; :meth:`trusted` waits for them and gives the identity
    of every file that matched its manifest, for the load to trust (the rule above). It only
    saves work: anything amiss (no manifest, an unreadable, changed or damaged file) is left
    for the load, which hashes that file itself and reports it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._jobs: dict[str, Future[str]] = {}
        self._pool: ThreadPoolExecutor | None = None
        try:
            files = _listed(self.path)
            seen = {rel: identity(self.path / rel) for rel in files if rel not in UNREAD}
        except (OSError, ValueError):
            return
        # a file changed just now is never offered, so it is not hashed here either
        self._offered = settled_only(seen, time.time_ns())
        self._expected = {rel: files[rel] for rel in self._offered}
        self._pool, self._jobs = start_hashing(self.path, hash_order(self._offered))

    def trusted(self) -> dict[str, Identity]:
        """{file: identity} of the files whose sha256 matched the manifest (as it reads now)
        and which are unchanged since they were hashed and were not changed in the
        ``RACY_S`` before; {} when nothing could be checked."""
        if self._pool is None:
            return {}
        out: dict[str, Identity] = {}
        try:
            files = _listed(self.path)
            for rel, job in self._jobs.items():
                current = identity(self.path / rel)
                if (job.result() == self._expected[rel] == files.get(rel)
                        and current == self._offered[rel]):
                    out[rel] = current
        except (OSError, ValueError):
            return {}
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        return out


def _listed(path: Path) -> dict[str, str]:
    """{file: sha256} as the manifest at ``path`` lists them (ValueError if it is not one)."""
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ValueError("no file list")
    return {str(rel): str(meta.get("sha256")) if isinstance(meta, dict) else ""
            for rel, meta in files.items()}
