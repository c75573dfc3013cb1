"""What loading verifies (vibemap.indexer.checksums): the checksum of every file the service
reads, Arrow and FAISS files before they are opened; the labelled CSV, which the service
never reads, by size at load and by checksum in `vibemap verify` and `load_artifact`."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import faiss
import pytest
from fastapi.testclient import TestClient

from factories import build_tiny_artifact
from vibemap import cli
from vibemap.indexer import arrow_tables, checksums
from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.errors import ArtifactError
from vibemap.recommender.api import create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings

CSV = "tracks_labelled.csv"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("checksums"), n=90, n_clusters=2)


@pytest.fixture
def art(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "art"))


def _flip_byte(path: Path) -> bytes:
    data = path.read_bytes()
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    return data


def _files(path: Path) -> list[str]:
    return sorted(json.loads((path / "manifest.json").read_text())["files"])


def test_every_file_the_service_reads_is_verified(art: Path) -> None:
    served = [rel for rel in _files(art) if rel not in checksums.UNREAD]
    assert {"tracks.arrow", "faiss/all.faiss", "vectors.npy", "vibes.json"} <= set(served)
    for rel in served:
        before = _flip_byte(art / rel)
        with pytest.raises(ArtifactError, match=rf"{rel}: checksum mismatch"):
            Engine.load(art)
        (art / rel).write_bytes(before)
    assert Engine.load(art).n_tracks == 90


def test_native_files_are_verified_before_they_are_opened(art: Path, monkeypatch) -> None:
    native = {rel for rel in _files(art) if rel.endswith(checksums.NATIVE)}
    hashed: set[str] = set()
    opened: list[str] = []
    sha256_file, read_table, read_index = (checksums.sha256_file, arrow_tables.read_table,
                                           faiss.read_index)

    def hashing(path: Path) -> str:
        digest, rel = sha256_file(path), Path(path).relative_to(art).as_posix()
        if rel in native:
            time.sleep(0.3)  # slow disk: the load must wait for it, not race it
        hashed.add(rel)
        return digest

    def opening(real):
        def wrapper(path, *args):
            assert native <= hashed, f"{path} opened before {sorted(native - hashed)} hashed"
            opened.append(str(path))
            return real(path, *args)
        return wrapper

    monkeypatch.setattr(checksums, "sha256_file", hashing)
    monkeypatch.setattr(arrow_tables, "read_table", opening(read_table))
    monkeypatch.setattr(faiss, "read_index", opening(read_index))
    Engine.load(art)
    assert any(p.endswith(".arrow") for p in opened) and any(p.endswith(".faiss")
                                                             for p in opened)


def test_a_damaged_labelled_csv_is_served_around_and_refused_by_verify(
        art: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["verify", "--index", str(art)]) == 0
    assert "match their manifest checksums" in capsys.readouterr().out
    _flip_byte(art / CSV)  # same size: only its checksum tells
    app = create_app(ServiceSettings(index_dir=art), engine=Engine.load(art))
    with TestClient(app) as c:
        export = c.get("/v1/tracks.csv")  # written from the mapped, verified columns
        assert export.status_code == 200 and len(export.text.strip().splitlines()) == 91
        track = c.get("/v1/tracks", params={"limit": 1}).json()["results"][0]["track_id"]
        assert c.get(f"/v1/tracks/{track}/similar").status_code == 200
    assert cli.main(["verify", "--index", str(art)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{CSV}: checksum mismatch" in err, err
    # what rewrites the artifact (evaluate copies every file) loads it whole: refused
    with pytest.raises(ArtifactError, match=rf"{CSV}: checksum mismatch"):
        load_artifact(art)


def test_a_mismatch_is_reported_before_the_structure_error_it_causes(art: Path) -> None:
    (art / "vectors.npy").write_bytes(b"\x93NUMPY garbage" * 8)  # unreadable, resized
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["files"]["vectors.npy"]["bytes"] = (art / "vectors.npy").stat().st_size
    (art / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"vectors\.npy: checksum mismatch"):
        Engine.load(art)


def test_a_load_trusts_an_earlier_verification_of_unchanged_files_only(
        art: Path, monkeypatch) -> None:
    assert Engine.load(art).artifact.verified == {}  # just copied: too recent to trust
    monkeypatch.setattr(checksums, "RACY_S", 0.0)
    first = Engine.load(art)
    assert set(first.artifact.verified) == set(_files(art)) - set(checksums.UNREAD)
    hashed: list[str] = []
    sha256_file = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file",
                        lambda path: hashed.append(Path(path).name) or sha256_file(path))
    assert Engine.load(art, trusted=first.artifact.verified).n_tracks == 90
    assert hashed == []
    _flip_byte(art / "vectors.npy")  # written: a new mtime and ctime
    with pytest.raises(ArtifactError, match=r"vectors\.npy: checksum mismatch"):
        Engine.load(art, trusted=first.artifact.verified)
    assert hashed == ["vectors.npy"]


def test_an_early_check_is_trusted_for_the_files_that_matched_only(
        art: Path, monkeypatch) -> None:
    """`vibemap serve` hashes while it imports (EarlyCheck); its load then hashes only what
    the early check could not vouch for, and still refuses a damaged file."""
    served = set(_files(art)) - set(checksums.UNREAD)
    assert checksums.EarlyCheck(art).trusted() == {}  # just copied: too recent to trust
    monkeypatch.setattr(checksums, "RACY_S", 0.0)
    assert set(checksums.EarlyCheck(art).trusted()) == served
    _flip_byte(art / "vibes.json")  # damaged before the check: not vouched for
    early = checksums.EarlyCheck(art)
    _flip_byte(art / "vectors.npy")  # changed after it was hashed: its identity moved on
    assert set(early.trusted()) == served - {"vibes.json", "vectors.npy"}
    hashed: list[str] = []
    sha256_file = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file",
                        lambda path: hashed.append(Path(path).name) or sha256_file(path))
    trusted = checksums.EarlyCheck(art).trusted()
    hashed.clear()
    with pytest.raises(ArtifactError, match=r"checksum mismatch"):
        Engine.load(art, trusted=trusted)
    assert sorted(hashed) == ["vectors.npy", "vibes.json"]
    assert checksums.EarlyCheck(art / "missing").trusted() == {}


def test_workers_trust_what_the_generation_pointer_says_was_verified(
        art: Path, tmp_path: Path, monkeypatch) -> None:
    from vibemap.recommender.api import generation

    monkeypatch.setattr(checksums, "RACY_S", 0.0)
    verified = Engine.load(art).artifact.verified
    pointer = tmp_path / "run" / "current.json"
    pointer.parent.mkdir()
    generation.init_pointer(pointer, art, verified)
    assert generation.read_pointer(pointer).verified == verified
    hashed: list[str] = []
    sha256_file = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file",
                        lambda path: hashed.append(Path(path).name) or sha256_file(path))
    app = create_app(ServiceSettings(index_dir=art, generation_file=pointer))
    with TestClient(app) as c:  # a worker starting: it loads what the pointer names
        assert c.get("/v1/artifact").status_code == 200
    assert hashed == []
    assert generation.advance(pointer, art, {}).generation == 1
    assert generation.read_pointer(pointer).verified == {}


def test_a_heavy_child_trusts_the_checksums_its_calls_carry(art: Path, monkeypatch) -> None:
    import multiprocessing as mp
    import signal
    import threading

    from vibemap.recommender.api import offload

    monkeypatch.setattr(checksums, "RACY_S", 0.0)
    engine = Engine.load(art)
    key, verified = offload.engine_key(engine), engine.artifact.verified
    hashed: list[str] = []
    sha256_file = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file",
                        lambda path: hashed.append(Path(path).name) or sha256_file(path))
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # the child's body, in a thread
    ours, theirs = mp.Pipe()
    child = threading.Thread(target=offload._child_main, args=(theirs, 0, 1, key, verified))
    child.start()
    try:
        assert ours.recv() == ("ready",)
        track = engine.summary(0)["track_id"]
        ours.send((key, verified, "similar", (track,), {}, False))
        assert ours.recv()[0] == "ok"
    finally:
        ours.close()
        child.join(timeout=30)
    assert hashed == [] and not child.is_alive()
