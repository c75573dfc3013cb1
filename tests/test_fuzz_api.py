"""Schemathesis over the app's own OpenAPI, in process (ASGI): every route, valid and invalid
input, never a 5xx, and every response conforms to its documented schema and media type.

A tiny *evaluated* artifact backs it, so the analysis routes have data. Generated track ids
are mostly unknown (404); a share of them is swapped for real ids so the 200 shapes are
checked too. /admin/reload is fuzzed with the right token (its name field only ever
resolves under the test's own indexes root). The live K-loop refits models: few examples.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from factories import write_tracks_csv
from vibemap.cli import main
from vibemap.recommender.api import create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

TOKEN = "fuzz-admin-token"
KLOOP = "/v1/validation/kloop"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance,
          status_code_conformance]
SUPPRESS = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture]


# The OpenAPI document does not depend on the artifact, so the schema is loaded at import
# from an app whose artifact directory is only filled (and swapped in) by the fixture below:
# schemathesis' lazy fixture loader does not work with this pytest.
# (search_threads = the core count: create_app sets the process's FAISS / BLAS threads, and
# at collection time that must not slow the maths tests that run before this module)
FUZZ_ROOT = Path(tempfile.gettempdir()) / f"vibemap-fuzz-{os.getpid()}"
APP = create_app(ServiceSettings(index_dir=FUZZ_ROOT / "indexes" / "fuzz", admin_token=TOKEN,
                                 search_threads=os.cpu_count() or 1))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def fuzz_app():
    shutil.rmtree(FUZZ_ROOT, ignore_errors=True)
    FUZZ_ROOT.mkdir(parents=True)
    try:
        csv = write_tracks_csv(FUZZ_ROOT / "fuzz.csv", n=300, seed=3, n_blobs=3)
        out = FUZZ_ROOT / "indexes" / "fuzz"
        assert main(["index", str(csv), "--out", str(out), "--k", "3", "--n-init", "2"]) == 0
        engine = Engine.load(out)
        APP.state.service.swap(engine, out)
        APP.state.fuzz_ids = [engine.summary(row)["track_id"] for row in range(0, 300, 7)]
        yield APP
    finally:
        shutil.rmtree(FUZZ_ROOT, ignore_errors=True)


def _real_ids(case, ids: list[str]) -> None:
    """Swap about half of the generated track ids for real ones (chosen from the generated
    value, so a failing example replays the same)."""

    def pick(value: object) -> object:
        if not isinstance(value, str):
            return value
        h = zlib.crc32(value.encode("utf-8", "surrogatepass"))
        return ids[h % len(ids)] if h % 2 == 0 else value

    params = case.path_parameters or {}
    if "track_id" in params:
        params["track_id"] = pick(params["track_id"])
    body = case.body
    if isinstance(body, dict):
        for key in ("seed_tracks", "negative_tracks"):
            if isinstance(body.get(key), list):
                body[key] = [pick(v) for v in body[key]]
    query = case.query or {}
    seeds = query.get("seed_tracks")
    if isinstance(seeds, str):
        query["seed_tracks"] = pick(seeds)
    elif isinstance(seeds, list):
        query["seed_tracks"] = [pick(v) for v in seeds]


def _call(case, app) -> None:
    _real_ids(case, app.state.fuzz_ids)
    headers = {"Authorization": f"Bearer {TOKEN}"} if case.path == "/admin/reload" else None
    case.call_and_validate(headers=headers, checks=CHECKS)


@schema.exclude(path=KLOOP).parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=SUPPRESS)
def test_every_route_conforms_and_never_5xx(case, fuzz_app) -> None:
    _call(case, fuzz_app)


@schema.include(path=KLOOP).parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=SUPPRESS)
def test_live_k_loop_conforms_and_never_5xx(case, fuzz_app) -> None:
    if isinstance(case.body, dict) and isinstance(case.body.get("sample_size"), int):
        case.body["sample_size"] = min(case.body["sample_size"], 300)  # keep the refit short
    _call(case, fuzz_app)


@pytest.mark.bench
@schema.parametrize()
@settings(max_examples=300, deadline=None, suppress_health_check=SUPPRESS)
def test_every_route_long_fuzz(case, fuzz_app) -> None:
    if case.path == KLOOP and isinstance(case.body, dict) \
            and isinstance(case.body.get("sample_size"), int):
        case.body["sample_size"] = min(case.body["sample_size"], 300)
    _call(case, fuzz_app)


def test_the_fuzzed_schema_covers_every_route() -> None:
    """Every route of the app is an operation of the schema the fuzzer walks."""
    ops = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    routes = {(m, getattr(r, "path_format", r.path)) for r in APP.routes
              for m in getattr(r, "methods", ()) or () if m != "HEAD"}
    documented = {(m, p) for m, p in routes
                  if not p.startswith(("/docs", "/redoc", "/openapi"))}
    assert documented <= ops, documented - ops
    assert ("GET", "/v1/recommendations") in ops and ("POST", "/v1/recommendations") in ops

