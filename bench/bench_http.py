"""HTTP throughput of GET /v1/tracks/{id}/similar against a bare FastAPI ceiling, with wrk.

    .venv/bin/python bench/bench_http.py [--index DIR] [--duration 20] [--connections 32]
                                         [--wrk-threads 1] [--ids 2000] [--seed 0]
                                         [--json OUT]

In one run, on loopback only (127.0.0.1, free ports):

1. ``vibemap serve --index DIR`` as a subprocess (one process, as shipped). Without
   ``--index`` the 96k-track demo artifact is built first into a temporary directory
   with ``vibemap index --no-eval``.
2. The ceiling: a bare FastAPI app on one uvicorn worker (same uvicorn defaults and log
   level as ``vibemap serve``) whose one route returns a constant JSON list: the
   ``results`` of a real ``similar`` response, encoded once at startup (so no
   serialisation per request, and about the same bytes as ``similar`` sends).
3. wrk (``/usr/bin/wrk``, a separate process, bounded by ``--duration``) drives each
   after a short warm-up, with ``--connections`` keep-alive connections; a Lua script
   rotates over ``--ids`` track ids drawn at random (seeded) from the artifact, and
   reports exact latency percentiles and error counts from wrk's own histogram. Each
   endpoint gets ``--rounds`` runs of ``--duration / --rounds`` seconds in the order
   similar, bare, bare, similar, ... so that drift in the machine's load hits both alike.

Reported: requests/s (all rounds) and p50/p99 latency (median over rounds) of each
endpoint, and the ratio of requests/s similar / bare (target >= 0.75). wrk and the
servers share this machine's cores, so the ratio, measured in the same run, is the
figure to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from machine import cpu_model  # noqa: E402  (bench/machine.py)

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TARGET_RATIO = 0.75
WARMUP_S = 3

BARE_APP = '''
"""The HTTP ceiling: FastAPI + uvicorn returning a constant JSON list, encoded once."""
from pathlib import Path

from fastapi import FastAPI, Response

PAYLOAD = Path(__file__).with_name("payload.json").read_bytes()
app = FastAPI()


@app.get("/bare/{track_id:path}/similar")
async def bare(track_id: str) -> Response:
    return Response(content=PAYLOAD, media_type="application/json")
'''

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


def _emit(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            if _get(url, timeout=2.0)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


@contextmanager
def _server(cmd: list[str], ready_url: str, log: Path, env: dict | None = None,
            timeout: float = 180.0):
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_ready(ready_url, proc, timeout)
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)


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
    subprocess.run([str(REPO / ".venv" / "bin" / "vibemap"), "index", "--no-eval", "--out",
                    str(out)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _track_ids(index: Path, n: int, seed: int) -> list[str]:
    import pyarrow.parquet as pq

    ids = pq.read_table(index / "tracks.parquet", columns=["track_id"]).column(0).to_pylist()
    rng = np.random.default_rng(seed)
    picked = [ids[i] for i in rng.choice(len(ids), min(n, len(ids)), replace=False)]
    safe = [t for t in picked if t and all(c.isalnum() or c in "-_." for c in t)]
    if not safe:
        raise RuntimeError(f"{index}: no URL-safe track ids to query")
    return safe


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="artifact directory (default: build the demo)")
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
            _emit(f"built the demo artifact in {build_s:.1f} s")
        ids = _track_ids(index, args.ids, args.seed)
        rows = json.loads((index / "manifest.json").read_text(encoding="utf-8"))["rows"]["kept"]

        env = {**os.environ, "VIBEMAP_SEARCH_THREADS": "1"}
        port = _free_port()
        base = f"http://{HOST}:{port}"
        stack.enter_context(_server(
            [str(REPO / ".venv" / "bin" / "vibemap"), "serve", "--index", str(index),
             "--host", HOST, "--port", str(port)], f"{base}/health", tmp / "serve.log", env))
        status, body = _get(f"{base}/v1/tracks/{ids[0]}/similar")
        if status != 200:
            raise RuntimeError(f"similar answered {status}: {body[:200]!r}")
        (tmp / "payload.json").write_text(json.dumps(json.loads(body)["results"]))
        (tmp / "bare_app.py").write_text(BARE_APP)
        bare_port = _free_port()
        bare_base = f"http://{HOST}:{bare_port}"
        stack.enter_context(_server(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(tmp), "--host",
             HOST, "--port", str(bare_port), "--workers", "1", "--log-level", "warning"],
            f"{bare_base}/bare/x/similar", tmp / "bare.log", env))

        quoted = ", ".join(json.dumps(t) for t in ids)
        targets = {"similar": (base, "/v1/tracks/"), "bare": (bare_base, "/bare/")}
        scripts = {}
        for name, (url, prefix) in targets.items():
            scripts[name] = tmp / f"{name}.lua"
            scripts[name].write_text(LUA % {"ids": quoted, "prefix": prefix})
            _wrk(wrk, url, scripts[name], WARMUP_S, args.connections, args.wrk_threads)
        runs: dict[str, list[dict]] = {name: [] for name in targets}
        seconds = max(1, args.duration // args.rounds)
        for i in range(args.rounds):
            for name in (("similar", "bare") if i % 2 == 0 else ("bare", "similar")):
                r = _wrk(wrk, targets[name][0], scripts[name], seconds, args.connections,
                         args.wrk_threads)
                runs[name].append(r)
                _emit(f"round {i + 1} {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms,"
                      f" p99 {r['p99_ms']:.2f} ms, {r['errors']} errors")
        results = {name: _combine(rs) for name, rs in runs.items()}

    ratio = results["similar"]["rps"] / results["bare"]["rps"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    _emit()
    _emit("### HTTP: GET /v1/tracks/{id}/similar vs a bare FastAPI endpoint (wrk, loopback)")
    _emit()
    _emit(f"`{shlex.join(['.venv/bin/python', 'bench/bench_http.py', *argv])}` on "
          f"{cpu_model()}, nproc {os.cpu_count()}, load average {load:.2f} at the end (a "
          f"shared machine; wrk, {args.wrk_threads} thread(s), {args.connections} connections, "
          f"{args.duration} s per endpoint in {args.rounds} interleaved round(s) after a "
          f"{WARMUP_S} s warm-up, shares the cores). "
          f"Artifact: {'the 96k demo, built for the run' if args.index is None else index}"
          f"{f' ({rows:,} tracks)' if rows else ''}; {len(ids):,} track ids rotated; "
          "similar = default limit 10, scope same, one search thread; bare = one uvicorn "
          "worker returning the same results list, JSON-encoded once. req/s over all rounds; "
          "latency: median of the rounds' percentiles.")
    _emit()
    _emit("| endpoint | req/s | req/s per round | p50 ms | p90 ms | p99 ms | max ms | errors | "
          "bytes/resp |")
    _emit("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        label = "/v1/tracks/{id}/similar" if name == "similar" else "bare constant list"
        per_round = ", ".join(f"{x:,.0f}" for x in r["rounds_rps"])
        _emit(f"| {label} | {r['rps']:,.0f} | {per_round} | {r['p50_ms']:.2f} | "
              f"{r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['errors']} | "
              f"{r['bytes_per_response']:,.0f} |")
    _emit()
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    _emit(f"similar / bare = {ratio:.2f} ({verdict} the >= {TARGET_RATIO} target).")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": {"cpu": cpu_model(), "nproc": os.cpu_count(), "load_average": load},
            "argv": argv, "build_s": build_s, "rows": rows, "results": results,
            "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
