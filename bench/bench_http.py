"""HTTP throughput of GET /v1/tracks/{id}/similar against a reference implementation and
bare FastAPI ceilings, with wrk.

    .venv/bin/python bench/bench_http.py [--index DIR] [--baseline REPO [--baseline-index DIR]]
                                         [--duration 20]
                                         [--connections 32] [--rounds 2] [--wrk-threads 1]
                                         [--ids 2000] [--seed 0] [--json OUT]

In one run, on loopback only (127.0.0.1, free ports), each server one uvicorn worker:

- ``similar``: ``vibemap serve --index DIR`` as a subprocess, as shipped. Without
  ``--index`` the 96k-track demo artifact is built first into a temporary directory
  with ``vibemap index --no-eval``.
- ``similar_web``: the same app (``create_app``, every middleware) over an engine whose
  ``similar`` returns one fixed answer: the web layer's own cost for this route
  (routing, parameters, metrics, artifact header, encoding the same bytes), no search.
- ``reference``: the same route as a plain FastAPI service would write it
  (``bench/reference_similar.py``: one faiss IndexFlatIP, pydantic response models,
  uvicorn's defaults) over the same tracks and vectors, with an ``async`` endpoint: the
  yardstick of the target (``similar`` >= 3x its req/s).
- ``reference_def``: the same with a plain ``def`` endpoint (run in FastAPI's thread
  pool): the weaker yardstick, reported beside it.
- with ``--baseline REPO``, ``similar`` and ``similar_web`` again from another checkout
  (its ``.venv``, e.g. the main branch) over the same artifact: before / after in one run;
  ``--baseline-index DIR``: over an artifact it built from the same catalogue instead (a
  checkout that reads another artifact format).
- three bare FastAPI apps whose one route returns a constant JSON list, the ``results``
  of a real ``similar`` response (the same bytes): ``bare_bytes`` encoded once at
  start-up (no work per request), ``bare_orjson`` encoded per request with orjson, and
  ``bare_default`` returned as a Python list, so FastAPI's defaults encode it per
  request (``jsonable_encoder`` + ``json.dumps``).

wrk (``/usr/bin/wrk``, a separate process, bounded by ``--duration``) drives each after a
short warm-up, with ``--connections`` keep-alive connections; a Lua script rotates over
``--ids`` track ids drawn at random (seeded) from the artifact, and reports exact latency
percentiles and error counts from wrk's own histogram. Each endpoint gets ``--rounds`` runs
of ``--duration / --rounds`` seconds; the order of the endpoints rotates every round, so
drift in the machine's load hits all alike.

Reported: requests/s (all rounds), CPU us per request (1e6 / req/s: one server core's time,
wrk beside it) and p50/p99 latency (median over rounds) of each endpoint; similar /
reference (target >= 3) and similar's CPU us per request (target <= 150). wrk and the
servers share this machine's cores, so ratios measured in the same run are the figures to
compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    HOST,
    command_line,
    emit,
    free_port,
    http_get,
    machine_info,
    machine_line,
    md_row,
    serve,
    write_json,
)
from vibemap.indexer.arrow_tables import read_table  # noqa: E402
from vibemap.indexer.artifact import TRACKS  # noqa: E402

TARGET_RATIO = 3.0  # similar / reference req/s (issue 12)
TARGET_CPU_US = 150  # similar's server CPU us per request at 96k (issue 12)
WARMUP_S = 3

BARE_APP = '''
\"\"\"HTTP ceilings: FastAPI + uvicorn returning a constant JSON list (the similar results).\"\"\"
from pathlib import Path

import orjson
from fastapi import FastAPI, Response

PAYLOAD_BYTES = Path(__file__).with_name("payload.json").read_bytes()
PAYLOAD = orjson.loads(PAYLOAD_BYTES)

bytes_app = FastAPI()  # encoded once: no work per request


@bytes_app.get("/bare/{track_id:path}/similar")
async def bare_bytes(track_id: str) -> Response:
    return Response(content=PAYLOAD_BYTES, media_type="application/json")


orjson_app = FastAPI()  # encoded per request, as the service's routes encode


@orjson_app.get("/bare/{track_id:path}/similar")
async def bare_orjson(track_id: str) -> Response:
    return Response(content=orjson.dumps(PAYLOAD), media_type="application/json")


default_app = FastAPI()  # FastAPI's defaults: jsonable_encoder + json.dumps per request


@default_app.get("/bare/{track_id:path}/similar")
async def bare_default(track_id: str):
    return PAYLOAD
'''

# The service's own app and uvicorn settings, with an engine that does no search.
WEB_ONLY_APP = '''
import sys

import uvicorn

from vibemap.recommender.api import create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings

index, seed, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = ServiceSettings.from_env(index_dir=index, host="127.0.0.1", port=port)
engine = Engine.load(index)
answer = engine.similar(seed)
engine.similar = lambda *args, **kwargs: answer  # the one change: no search per request
uvicorn.run(create_app(settings, engine=engine), host=settings.host, port=settings.port,
            log_level="warning")
'''

# name -> (label in the report, what it is)
ENDPOINTS = {
    "similar": ("/v1/tracks/{id}/similar", "the service, as shipped"),
    "similar_web": ("same route, fixed answer", "the service's web layer, no search"),
    "reference": ("reference implementation", "FastAPI + faiss IndexFlatIP + pydantic models"),
    "reference_def": ("reference, `def` endpoint", "the same, run in FastAPI's thread pool"),
    "bare_bytes": ("bare, encoded once", "constant list, pre-encoded bytes"),
    "bare_orjson": ("bare, orjson per request", "constant list, orjson.dumps per request"),
    "bare_default": ("bare, FastAPI defaults", "constant list, jsonable_encoder + json.dumps"),
}
BASELINE = {
    "similar_base": ("/v1/tracks/{id}/similar, baseline", "the service, --baseline checkout"),
    "similar_web_base": ("same route, fixed answer, baseline",
                         "the web layer, --baseline checkout"),
}
YARDSTICK = "reference"  # the target's denominator


LUA = '''
-- rotate over track ids; each wrk thread starts at its own offset
local ids = {%(ids)s}
local counter = 0
local path_prefix = "%(prefix)s"

function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

local i = 0
function request()
  i = i + 1
  local id = ids[((i + (offset or 0)) %% #ids) + 1]
  return wrk.format("GET", path_prefix .. id .. "/similar")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "p50_us": %%d, '
    .. '"p90_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%.1f, "connect": %%d, '
    .. '"read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
'''


def _wrk(wrk: str, url: str, script: Path, duration: int, connections: int, threads: int
         ) -> dict:
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
           "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            r = json.loads(line[len("WRKJSON "):])
            seconds = r["duration_us"] / 1e6
            errors = sum(r[k] for k in ("connect", "read", "write", "status", "timeout"))
            return {"requests": r["requests"], "rps": round(r["requests"] / seconds, 1),
                    "p50_ms": r["p50_us"] / 1000, "p90_ms": r["p90_us"] / 1000,
                    "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000,
                    "mean_ms": round(r["mean_us"] / 1000, 3), "errors": errors,
                    "non_2xx": r["status"], "bytes_per_response":
                        round(r["bytes"] / max(1, r["requests"]), 1), "seconds": seconds}
    raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")


def _combine(runs: list[dict]) -> dict:
    """Requests/s over all runs; latency percentiles as the median of the runs'."""
    total = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    out = {"requests": total, "seconds": round(seconds, 2), "rps": round(total / seconds, 1),
           "errors": sum(r["errors"] for r in runs), "non_2xx": sum(r["non_2xx"] for r in runs),
           "bytes_per_response": runs[0]["bytes_per_response"],
           "rounds_rps": [r["rps"] for r in runs]}
    for key in ("p50_ms", "p90_ms", "p99_ms", "mean_ms"):
        out[key] = round(float(np.median([r[key] for r in runs])), 3)
    out["max_ms"] = max(r["max_ms"] for r in runs)
    return out


def _build_demo(out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(REPO / ".venv" / "bin" / "vibemap"), "index", "--no-eval", "--synthetic",
                    "96000", "--out", str(out)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _track_ids(index: Path, n: int, seed: int) -> list[str]:
    ids = read_table(index / TRACKS).column("track_id").to_pylist()
    rng = np.random.default_rng(seed)
    picked = [ids[i] for i in rng.choice(len(ids), min(n, len(ids)), replace=False)]
    safe = [t for t in picked if t and all(c.isalnum() or c in "-_." for c in t)]
    if not safe:
        raise RuntimeError(f"{index}: no URL-safe track ids to query")
    return safe


def _reference_data(index: Path, out: Path) -> None:
    """What reference_similar.py serves, exported from the artifact: its vectors, one JSON
    object per track (genres parsed by the service's own parser) and the feature scales."""
    from vibemap.indexer.genre_labels import split_genres

    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    features = list(manifest["features"])
    scaler = json.loads((index / "scaler.json").read_text(encoding="utf-8"))
    columns = ["track_id", "name", "artist", "genres", "popularity", "release_year",
               "vibe_id", "vibe_name", *features]
    rows = read_table(index / TRACKS).select(columns).to_pylist()
    tracks = [{**{k: r[k] for k in columns[:8]}, "genres": split_genres(r["genres"]),
               "features": {f: r[f] for f in features}} for r in rows]
    out.mkdir()
    np.save(out / "vectors.npy", np.load(index / "vectors.npy", allow_pickle=False))
    (out / "tracks.json").write_bytes(orjson.dumps(tracks))
    (out / "features.json").write_bytes(orjson.dumps({"features": features,
                                                      "scale": scaler["scale"]}))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="artifact directory (default: build the demo)")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout (with its .venv) to serve similar and "
                             "similar_web from as well, e.g. the main branch: before/after")
    parser.add_argument("--baseline-index", type=Path,
                        help="the artifact the --baseline checkout serves (default --index): "
                             "one it built from the same catalogue when it reads another "
                             "format (the track ids must be the same)")
    parser.add_argument("--duration", type=int, default=20, help="seconds per measured wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs per endpoint, interleaved (each --duration / --rounds s)")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads (it shares the cores with the server)")
    parser.add_argument("--ids", type=int, default=2000, help="track ids to rotate over")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 600:
        parser.error("--duration must be between 1 and 600 seconds")
    if not 1 <= args.rounds <= args.duration:
        parser.error("--rounds must be between 1 and --duration")
    if args.baseline is not None and not (args.baseline / ".venv" / "bin" / "vibemap").is_file():
        parser.error(f"--baseline {args.baseline}: no .venv/bin/vibemap there")
    if args.baseline_index is not None and args.baseline is None:
        parser.error("--baseline-index needs --baseline")
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    if not Path(wrk).is_file():
        parser.error("wrk is not installed (apt-get install -y wrk)")

    with tempfile.TemporaryDirectory(prefix="vibemap-http-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        build_s = None
        index = args.index
        if index is None:
            index = tmp / "demo"
            build_s = _build_demo(index)
            emit(f"built the demo artifact in {build_s:.1f} s")
        ids = _track_ids(index, args.ids, args.seed)
        rows = json.loads((index / "manifest.json").read_text(encoding="utf-8"))["rows"]["kept"]

        env = {**os.environ, "VIBEMAP_SEARCH_THREADS": "1"}
        endpoints = {**ENDPOINTS, **(BASELINE if args.baseline is not None else {})}
        bases = {name: f"http://{HOST}:{free_port()}" for name in endpoints}
        ports = {name: base.rsplit(":", 1)[1] for name, base in bases.items()}
        (tmp / "web_only.py").write_text(WEB_ONLY_APP)
        checkouts = {"": REPO, "_base": args.baseline}
        for suffix, repo in checkouts.items():
            if repo is None:
                continue
            venv = repo / ".venv" / "bin"
            served = args.baseline_index if suffix and args.baseline_index else index
            name = f"similar{suffix}"
            stack.enter_context(serve(
                [str(venv / "vibemap"), "serve", "--index", str(served), "--host", HOST,
                 "--port", ports[name]], [f"{bases[name]}/health"], tmp / f"{name}.log",
                env=env))
            name = f"similar_web{suffix}"
            stack.enter_context(serve(
                [str(venv / "python"), str(tmp / "web_only.py"), str(served), ids[0],
                 ports[name]], [f"{bases[name]}/health"], tmp / f"{name}.log", env=env))
        status, body = http_get(f"{bases['similar']}/v1/tracks/{ids[0]}/similar")
        if status != 200:
            raise RuntimeError(f"similar answered {status}: {body[:200]!r}")
        # compact, as the service's orjson responses are: the same bytes on every server
        (tmp / "payload.json").write_bytes(orjson.dumps(orjson.loads(body)["results"]))
        (tmp / "bare_app.py").write_text(BARE_APP)
        for name in ("bare_bytes", "bare_orjson", "bare_default"):
            app = name.removeprefix("bare_") + "_app"
            stack.enter_context(serve(
                [sys.executable, "-m", "uvicorn", f"bare_app:{app}", "--app-dir", str(tmp),
                 "--host", HOST, "--port", ports[name], "--workers", "1", "--log-level",
                 "warning"], [f"{bases[name]}/bare/x/similar"], tmp / f"{name}.log", env=env))
        _reference_data(index, tmp / "reference")
        for name, app in (("reference", "app"), ("reference_def", "app_def")):
            stack.enter_context(serve(
                [sys.executable, "-m", "uvicorn", f"reference_similar:{app}", "--app-dir",
                 str(REPO / "bench"), "--host", HOST, "--port", ports[name], "--workers",
                 "1", "--log-level", "warning"],
                [f"{bases[name]}/v1/tracks/{ids[0]}/similar"], tmp / f"{name}.log",
                env={**env, "VIBEMAP_REFERENCE_DATA": str(tmp / "reference")}))

        quoted = ", ".join(json.dumps(t) for t in ids)
        scripts = {}
        for name, base in bases.items():
            prefix = "/bare/" if name.startswith("bare") else "/v1/tracks/"
            scripts[name] = tmp / f"{name}.lua"
            scripts[name].write_text(LUA % {"ids": quoted, "prefix": prefix})
            _wrk(wrk, base, scripts[name], WARMUP_S, args.connections, args.wrk_threads)
        runs: dict[str, list[dict]] = {name: [] for name in endpoints}
        seconds = max(1, args.duration // args.rounds)
        names = list(endpoints)
        for i in range(args.rounds):
            for name in names[i % len(names):] + names[:i % len(names)]:
                r = _wrk(wrk, bases[name], scripts[name], seconds, args.connections,
                         args.wrk_threads)
                runs[name].append(r)
                emit(f"round {i + 1} {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms,"
                     f" p99 {r['p99_ms']:.2f} ms, {r['errors']} errors")
        results = {name: _combine(rs) for name, rs in runs.items()}

    ratios = {name: round(results["similar"]["rps"] / r["rps"], 3)
              for name, r in results.items() if name != "similar"}
    ratio = ratios[YARDSTICK]
    cpu_us = {name: round(1e6 / r["rps"], 1) for name, r in results.items()}
    emit()
    emit("### HTTP: GET /v1/tracks/{id}/similar vs a reference implementation and bare "
         "FastAPI endpoints (wrk, loopback)")
    emit()
    emit(f"`{command_line('bench_http.py', argv)}` on {machine_line()} at the end (a "
         f"shared machine; wrk, {args.wrk_threads} thread(s), {args.connections} connections, "
         f"{args.duration} s per endpoint in {args.rounds} rotated round(s) after a "
         f"{WARMUP_S} s warm-up, shares the cores). "
         f"Artifact: {'the 96k demo, built for the run' if args.index is None else index}"
         f"{f' ({rows:,} tracks)' if rows else ''}; {len(ids):,} track ids rotated; "
         "similar = default limit 10, scope same, one search thread; every server is one "
         "uvicorn worker (vibemap serve: httptools with its head guards; the others: "
         "uvicorn's defaults); the bare ones return the same results list. req/s over all "
         "rounds; latency: median of the rounds' percentiles."
         + (f" Baseline: {args.baseline}" + (f" serving {args.baseline_index}"
                                              if args.baseline_index else "") + "."
            if args.baseline is not None else ""))
    emit()
    emit("| endpoint | what | req/s | req/s per round | CPU us/req | p50 ms | p99 ms | "
         "errors | bytes/resp | similar / this |")
    emit("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        label, what = endpoints[name]
        per_round = ", ".join(f"{x:,.0f}" for x in r["rounds_rps"])
        share = f"{ratios[name]:.2f}" if name in ratios else ""
        emit(md_row(label, what, f"{r['rps']:,.0f}", per_round, f"{cpu_us[name]:,.0f}",
                    f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", r["errors"],
                    f"{r['bytes_per_response']:,.0f}", share))
    emit()
    emit(f"similar / {YARDSTICK} = {ratio:.2f} "
         f"({'meets' if ratio >= TARGET_RATIO else 'MISSES'} the >= {TARGET_RATIO:g} target); "
         f"similar {cpu_us['similar']:,.0f} CPU us/req "
         f"({'meets' if cpu_us['similar'] <= TARGET_CPU_US else 'MISSES'} the <= "
         f"{TARGET_CPU_US} target), its web layer alone {cpu_us['similar_web']:,.0f}; "
         f"similar / reference_def (a `def` endpoint) = {ratios['reference_def']:.2f}."
         + (f" Baseline: similar {cpu_us['similar_base']:,.0f}, web layer "
            f"{cpu_us['similar_web_base']:,.0f} CPU us/req; similar / baseline = "
            f"{ratios['similar_base']:.2f}x." if args.baseline is not None else "")
         + " CPU us/req = 1e6 / req/s: one server core's time per request (wrk runs beside "
         "it).")
    write_json(args.json, {"machine": machine_info(), "argv": argv, "build_s": build_s,
                           "rows": rows, "results": results, "ratio": ratio, "ratios": ratios,
                           "cpu_us": cpu_us, "yardstick": YARDSTICK,
                           "baseline": str(args.baseline) if args.baseline else None,
                           "baseline_index": str(args.baseline_index or "") or None})
    return 0


if __name__ == "__main__":
    sys.exit(main())
