"""A damaged artifact is refused with one clear error naming the file, by POST /admin/reload
(422, the served artifact stays) and by `vibemap serve` (exit 2, one line); and nothing in
the shipped code can unpickle (no pickle / joblib; every np.load has allow_pickle=False)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from factories import build_tiny_artifact
from vibemap import cli
from vibemap.indexer.arrow_tables import write_table
from vibemap.indexer.files import sha256_file
from vibemap.recommender.api import create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[1]
TOKEN = "safety-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _append_byte(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"x")


def _set_version(path: Path) -> None:
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest))


def _artifact_of(path: Path) -> Path:
    return next(p for p in path.parents if (p / "manifest.json").is_file())


def _restamp(path: Path) -> None:
    """Record ``path``'s new checksum in the manifest, so only structure checks can catch it."""
    art = _artifact_of(path)
    manifest = json.loads((art / "manifest.json").read_text())
    rel = path.relative_to(art).as_posix()
    manifest["files"][rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    (art / "manifest.json").write_text(json.dumps(manifest))


def _absurd_npy_header(path: Path) -> None:
    data = np.load(path, allow_pickle=False)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": data.dtype.str, "fortran_order": False, "shape": (10**12, 9)})
        fh.write(data.tobytes())
    _restamp(path)


def _npy_of_wrong_width(path: Path) -> None:
    np.save(path, np.load(path, allow_pickle=False)[:, :8].copy(), allow_pickle=False)
    _restamp(path)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _restamp(path)


def _faiss_of_wrong_dimension(path: Path) -> None:
    index = faiss.read_index(str(path))
    other = faiss.IndexFlatIP(index.d - 1)
    other.add(np.zeros((index.ntotal, index.d - 1), dtype=np.float32))
    faiss.write_index(other, str(path))
    _restamp(path)


def _arrow_short_of_rows(path: Path) -> None:
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    write_table(path.with_suffix(".tmp"), table.slice(0, table.num_rows - 3))
    path.with_suffix(".tmp").replace(path)
    _restamp(path)


def _not_arrow(path: Path) -> None:
    path.write_bytes(b"ARROW1\x00\x00garbage" * 10)
    _restamp(path)


def _first_entry_out_of_range(path: Path) -> None:
    values = np.load(path, allow_pickle=False)
    values[0] = 10**6
    np.save(path, values, allow_pickle=False)
    _restamp(path)


def _genre_codes_outside_vocabulary(path: Path) -> None:
    codes = np.load(path, allow_pickle=False)
    codes[0] = 10**6
    np.save(path, codes, allow_pickle=False)
    _restamp(path)


def _typical_rows_of_another_vibe(path: Path) -> None:
    doc = json.loads(path.read_text())
    doc["vibes"][0]["typical_rows"] = [doc["vibes"][1]["typical_rows"][0]]
    path.write_text(json.dumps(doc))
    _restamp(path)


def _more_rows_in_manifest(path: Path) -> None:
    manifest = json.loads(path.read_text())
    manifest["rows"]["kept"] += 1
    path.write_text(json.dumps(manifest))


# name -> (damage, file that must be named in the error, words of the reason)
DAMAGE: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "tampered_vectors": ("vectors.npy", _flip_byte, "checksum mismatch"),
    "tampered_tracks": ("tracks.arrow", _flip_byte, "checksum mismatch"),
    "tampered_search": ("search/name_rows.npy", _flip_byte, "checksum mismatch"),
    "tampered_faiss": ("faiss/all.faiss", _flip_byte, "checksum mismatch"),
    # the labelled CSV is not hashed by serving (vibemap.indexer.checksums), but sized
    "resized_labelled_csv": ("tracks_labelled.csv", _append_byte, "the manifest records"),
    "wrong_version": ("manifest.json", _set_version, "format version 99"),
    "missing_faiss": ("faiss/all.faiss", lambda p: p.unlink(), "missing"),
    "missing_scaler": ("scaler.json", lambda p: p.unlink(), "missing"),
    "missing_manifest": ("manifest.json", lambda p: p.unlink(), "missing"),
    # structure: checksums match (restamped), the content does not fit the manifest
    "absurd_npy_header": ("vectors.npy", _absurd_npy_header, "header promises shape"),
    # 10 columns: the nine features and the era (default era weight > 0)
    "vectors_of_wrong_width": ("vectors.npy", _npy_of_wrong_width, "expected (90, 10)"),
    "truncated_faiss": ("faiss/all.faiss", _truncate, "expected"),
    "truncated_vibe_faiss": ("faiss/vibe_1.faiss", _truncate, "truncated"),
    "faiss_of_wrong_dimension": ("faiss/all.faiss", _faiss_of_wrong_dimension, "bytes"),
    "tracks_short_of_rows": ("tracks.arrow", _arrow_short_of_rows, "rows, the manifest 90"),
    "tracks_not_arrow": ("tracks.arrow", _not_arrow, "not a readable Arrow IPC file"),
    "id_hash_rows_outside": ("columns/id_hash_rows.npy", _first_entry_out_of_range, "outside"),
    "id_hash_offsets_disordered": ("columns/id_hash_offsets.npy", _first_entry_out_of_range,
                                   "do not index"),
    "name_codes_outside": ("search/name_of.npy", _first_entry_out_of_range, "outside"),
    "genre_rows_outside": ("genres/label_rows.npy", _first_entry_out_of_range, "out of range"),
    "features_of_wrong_shape": ("columns/features.npy", _npy_of_wrong_width, "expected (90, 9)"),
    "genre_codes_outside": ("genres/codes.npy", _genre_codes_outside_vocabulary, "vocabulary"),
    "typical_rows_elsewhere": ("vibes.json", _typical_rows_of_another_vibe, "outside"),
    "rows_in_manifest": ("manifest.json", _more_rows_in_manifest, "rows.kept says 91"),
}


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("safety")
    good = build_tiny_artifact(root, n=90, n_clusters=2, name="good")
    for name, (rel, damage, _) in DAMAGE.items():
        copy = good.parent / name
        shutil.copytree(good, copy)
        damage(copy / rel)
    return good.parent


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_reload_refuses_a_damaged_artifact_and_keeps_serving(indexes: Path, name: str) -> None:
    rel, _, reason = DAMAGE[name]
    app = create_app(ServiceSettings(index_dir=indexes / "good", admin_token=TOKEN),
                     engine=Engine.load(indexes / "good"))
    with TestClient(app) as c:
        before = c.get("/v1/artifact")
        r = c.post("/admin/reload", headers=AUTH, json={"name": name})
        assert r.status_code == 422, r.text
        body = r.json()
        assert set(body) == {"detail", "code"} and body["code"] == "artifact_error"
        assert rel in body["detail"] and reason in body["detail"], body["detail"]
        assert "\n" not in body["detail"]
        after = c.get("/v1/artifact")
        assert after.json() == before.json() and after.json()["name"] == "good"
        assert after.headers["x-vibemap-artifact"] == before.headers["x-vibemap-artifact"]
        track = c.get("/v1/tracks", params={"limit": 1}).json()["results"][0]["track_id"]
        assert c.get(f"/v1/tracks/{track}/similar").status_code == 200
        assert 'vibemap_artifact_reloads_total{outcome="failed"} 1.0' in c.get("/metrics").text


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    for key in ("VIBEMAP_INDEX", "VIBEMAP_ADMIN_TOKEN", "VIBEMAP_INDEXES"):
        monkeypatch.delenv(key, raising=False)
    return lambda path: cli.main(["serve", "--index", str(path), "--port", "0"])


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_serve_refuses_a_damaged_artifact_with_one_line(indexes: Path, name: str, serve,
                                                        capsys: pytest.CaptureFixture) -> None:
    rel, _, reason = DAMAGE[name]
    assert serve(indexes / name) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("vibemap: error:") and rel in err and reason in err, err


def test_serve_console_script_exits_2_on_a_tampered_artifact(indexes: Path) -> None:
    """The real process, as `docker compose` or a shell would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIBEMAP_")}
    proc = subprocess.run(
        [sys.executable, "-m", "vibemap.cli", "serve", "--index",
         str(indexes / "tampered_vectors"), "--port", "0"],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "vectors.npy" in lines[0] and "checksum mismatch" in lines[0]


# --------------------------------------------------------------- no pickle
SHIPPED = ("indexer", "recommender", "ui", "vibemap", "data")
EVERYWHERE = (*SHIPPED, "bench", "tests")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "joblib", "cloudpickle", "dill", "shelve",
                  "marshal"}
UNSAFE_CALLS = {"read_pickle", "to_pickle"}


def _python_files(dirs: tuple[str, ...]) -> list[Path]:
    files = [p for d in dirs for p in (REPO / d).rglob("*.py")]
    assert files
    return sorted(files)


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_no_pickle_or_joblib_imports_anywhere() -> None:
    found = []
    for path in _python_files(EVERYWHERE):
        for node in ast.walk(_tree(path)):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "__import__" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
            elif isinstance(node, ast.Attribute) and node.attr in UNSAFE_CALLS:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} .{node.attr}")
            for name in names:
                if name.split(".")[0] in UNSAFE_MODULES:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} imports {name}")
    assert not found, found


def _is_np_load(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "load"
            and isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy"))


def _allow_pickle_false(call: ast.Call) -> bool:
    return any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant)
               and k.value.value is False for k in call.keywords)


def test_every_np_load_in_shipped_code_refuses_pickles() -> None:
    """np.load / numpy.load in the packages that read artifacts pass allow_pickle=False
    literally (numpy's default is False too, but a default can change; the code says it)."""
    loads, bad = 0, []
    for path in _python_files(EVERYWHERE):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and _is_np_load(node.func):
                loads += 1
                if not _allow_pickle_false(node):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno}")
            # np.load handed to a wrapper as a function (e.g. stages.run(np.load, ...))
            if isinstance(node, ast.Call) and any(_is_np_load(a) for a in node.args) \
                    and not _allow_pickle_false(node):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} (passes np.load)")
    assert loads >= 2 and not bad, bad
    from_import = [f"{p.relative_to(REPO)}" for p in _python_files(SHIPPED)
                   for n in ast.walk(_tree(p)) if isinstance(n, ast.ImportFrom)
                   and n.module == "numpy" and any(a.name == "load" for a in n.names)]
    assert not from_import, f"`from numpy import load` hides loads from this check: {from_import}"


def test_the_artifact_reader_loads_a_pickled_npy_never(indexes: Path, tmp_path: Path) -> None:
    """An object array in vectors.npy (a pickle inside .npy) is refused, even with matching
    checksums, and never unpickled."""
    import numpy as np

    from vibemap.indexer.artifact import finalize_manifest
    from vibemap.indexer.errors import ArtifactError

    art = tmp_path / "pickled"
    shutil.copytree(indexes / "good", art)
    # an object-dtype .npy header: loading it would need unpickling; no pickle is written here
    with open(art / "vectors.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|O", "fortran_order": False, "shape": (2,)})
        fh.write(b"\x80\x04N.")  # the bytes a pickle stream would start with
    manifest = json.loads((art / "manifest.json").read_text())
    manifest.pop("files")
    finalize_manifest(art, manifest)  # checksums now match the object array
    with pytest.raises(ArtifactError, match="vectors.npy|pickle"):
        Engine.load(art)
