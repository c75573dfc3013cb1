"""Load with artifact reloads: requests never fail and every answer comes from one complete
artifact, old or new, never a mix.

    .venv/bin/python bench/bench_load.py [--duration 60] [--concurrency 64]
                                         [--reload-every 3] [--driver wrk|httpx]
                                         [--tracks-a 20000] [--tracks-b 12000] [--json OUT]

In one run, on loopback only (127.0.0.1, a free port), bounded by ``--duration``:

1. Two artifacts are built into a temporary indexes root: ``alpha`` and ``beta``, of
   different sizes. Both hold the same ``SEEDS`` seed tracks (``seed-000``...); every other
   track id is prefixed by its artifact (``a-...`` / ``b-...``), so an answer that mixed
   the two would show a foreign id.
2. ``vibemap serve --index <root>/alpha`` runs as a subprocess with VIBEMAP_ADMIN_TOKEN set.
3. Clients rotate over GET /v1/tracks/{seed}/similar, GET /v1/recommendations and POST
   /v1/recommendations for every seed, while POST /admin/reload swaps beta, alpha, beta...
   in every ``--reload-every`` seconds.
4. Every response is checked: status 200; its ``X-Vibemap-Artifact`` header names alpha or
   beta; every track id in the body belongs to that artifact (httpx driver: each id is
   looked up; wrk driver: a Lua check that no id of the other artifact appears); and (httpx)
   the same query answered by the same artifact always gives the same body.

Drivers: ``httpx`` (an asyncio client in this process; what the test suite runs for ~10 s)
and ``wrk`` (/usr/bin/wrk, one thread, the C client: the throughput figure to quote).
Reported: requests/s, p50/p99 latency, failed requests, artifact mismatches, reloads done
(and failed), plus a markdown snippet with the machine and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import harness  # noqa: E402
from bench.harness import HOST, command_line, emit, free_port, md_row, write_json  # noqa: E402
from vibemap.recommender.api.server import KEEP_ALIVE_S  # noqa: E402

SEEDS = 24
TOKEN_ENV = "VIBEMAP_ADMIN_TOKEN"
NAMES = ("alpha", "beta")
PREFIX = {"alpha": "a-", "beta": "b-"}


# ------------------------------------------------------------- artifacts
def write_catalogue(path: Path, name: str, n: int, seed: int) -> Path:
    """A tiny-style CSV (tests/factories layout) whose ids are seed-### then <prefix>###."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from factories import make_tracks
    finally:
        sys.path.remove(str(REPO / "tests"))
    frame = make_tracks(n=n, seed=seed, n_blobs=4)
    frame["id_songs"] = [f"seed-{i:03d}" if i < SEEDS else f"{PREFIX[name]}{i:06d}"
                         for i in range(n)]
    frame.to_csv(path, index=False)
    return path


def build_pair(root: Path, n_a: int, n_b: int) -> dict[str, Path]:
    """Build alpha (n_a tracks) and beta (n_b tracks) under ``root/indexes``."""
    from vibemap.cli import main

    out = {}
    for name, n, seed in (("alpha", n_a, 1), ("beta", n_b, 2)):
        csv = write_catalogue(root / f"{name}.csv", name, n, seed)
        target = root / "indexes" / name
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            code = main(["index", str(csv), "--out", str(target), "--k", "4", "--n-init", "2",
                         "--no-eval"])
        if code != 0:
            raise RuntimeError(f"building {name} failed with exit code {code}")
        out[name] = target
    return out


@dataclass(frozen=True)
class Expected:
    """What a response tagged by one artifact may contain."""

    name: str
    tag: str
    rows: int
    ids: frozenset[str]


def expected_of(paths: dict[str, Path]) -> dict[str, Expected]:
    """tag -> Expected, with the tag made by the service's own function."""
    from vibemap.recommender.api import artifact_tag
    from vibemap.recommender.engine import Engine

    out = {}
    for name, path in paths.items():
        engine = Engine.load(path)
        tag = artifact_tag(engine).decode("ascii")
        ids = frozenset(engine.summary(row)["track_id"] for row in range(engine.n_tracks))
        out[tag] = Expected(name, tag, engine.n_tracks, ids)
    return out


def queries() -> list[tuple[str, str, dict | None]]:
    """(method, path-with-query, json body) over every seed, three kinds of request."""
    out: list[tuple[str, str, dict | None]] = []
    for i in range(SEEDS):
        seed = f"seed-{i:03d}"
        out.append(("GET", f"/v1/tracks/{seed}/similar?limit=10&scope=any", None))
        out.append(("GET", f"/v1/recommendations?seed_tracks={seed}&limit=10", None))
        out.append(("POST", "/v1/recommendations",
                    {"seed_tracks": [seed], "target_energy": 0.7, "limit": 10}))
    return out


def body_ids(body: dict) -> list[str]:
    ids = [t["track_id"] for key in ("seeds", "negatives", "results") for t in body.get(key, ())]
    if "seed" in body:
        ids.append(body["seed"]["track_id"])
    return ids


# ---------------------------------------------------------------- server
@contextlib.contextmanager
def serve(index: Path, token: str, log: Path, port: int | None = None,
          timeout: float = 90.0, args: Sequence[str] = (),
          env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``vibemap serve`` on 127.0.0.1:<free port> with the admin token (plus ``args``, e.g.
    ``--workers 2``, and ``env``); yields its base URL."""
    port = port or free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VIBEMAP_")}
    environ.update({TOKEN_ENV: token, "PYTHONUNBUFFERED": "1", **(env or {})})
    cmd = [sys.executable, "-m", "vibemap.cli", "serve", "--index", str(index),
           "--host", HOST, "--port", str(port), *args]
    base = f"http://{HOST}:{port}"
    with harness.serve(cmd, [base + "/health"], log, env=environ, timeout=timeout):
        yield base


def post_reload(base: str, token: str, name: str, timeout: float = 30.0) -> tuple[int, str]:
    req = urllib.request.Request(
        base + "/admin/reload", data=json.dumps({"name": name}).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)


class Reloader(threading.Thread):
    """POST /admin/reload every ``every`` seconds, alternating beta, alpha, ..."""

    def __init__(self, base: str, token: str, every: float, stop_at: float) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.every, self.stop_at = base, token, every, stop_at
        self.done: list[tuple[float, str, int]] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self._halt.wait(self.every) and time.monotonic() + 0.2 < self.stop_at:
            name = NAMES[(i + 1) % 2]
            status, text = post_reload(self.base, self.token, name)
            self.done.append((time.monotonic(), name, status))
            if status != 200:
                self.errors.append(f"reload {name}: {status} {text[:200]}")
            i += 1

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=60)


# ----------------------------------------------------------- httpx driver
@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    by_tag: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def fail(self, text: str) -> None:
        self.failed += 1
        if len(self.failures) < 20:
            self.failures.append(text)


async def _httpx_load(base: str, duration: float, concurrency: int,
                      expected: dict[str, Expected]) -> LoadResult:
    import httpx

    result = LoadResult()
    work = queries()
    digests: dict[tuple[int, str], str] = {}
    stop_at = time.monotonic() + duration
    # a pooled connection is retired well before the server's keep-alive timeout closes it:
    # at equal timeouts (httpx's default 5 s) a request sent as the server closes fails
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency,
                          keepalive_expiry=KEEP_ALIVE_S / 5)

    async def worker(w: int, client: httpx.AsyncClient) -> None:
        i = w * 7
        while time.monotonic() < stop_at:
            q = i % len(work)
            method, path, body = work[q]
            i += 1
            t0 = time.perf_counter()
            try:
                r = await client.request(method, path, json=body)
            except httpx.HTTPError as exc:
                result.fail(f"{method} {path}: {type(exc).__name__}: {exc}")
                continue
            result.latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                result.fail(f"{method} {path}: {r.status_code} {r.text[:200]}")
                continue
            tag = r.headers.get("x-vibemap-artifact", "")
            exp = expected.get(tag)
            if exp is None:
                result.mismatches.append(f"{method} {path}: unknown artifact tag {tag!r}")
                continue
            payload = r.json()
            foreign = [t for t in body_ids(payload) if t not in exp.ids]
            if foreign:
                result.mismatches.append(f"{method} {path} [{exp.name}]: ids not in it: "
                                         f"{foreign[:3]}")
                continue
            digest = hashlib.sha256(r.content).hexdigest()
            if digests.setdefault((q, tag), digest) != digest:
                result.mismatches.append(f"{method} {path} [{exp.name}]: a different body "
                                         "for the same query and artifact")
                continue
            result.ok += 1
            result.by_tag[exp.name] = result.by_tag.get(exp.name, 0) + 1

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(worker(w, client) for w in range(concurrency)))
    result.elapsed = time.perf_counter() - t0
    return result


def run_httpx(base: str, token: str, duration: float, concurrency: int, reload_every: float,
              expected: dict[str, Expected]) -> dict:
    reloader = Reloader(base, token, reload_every, time.monotonic() + duration)
    reloader.start()
    try:
        result = asyncio.run(_httpx_load(base, duration, concurrency, expected))
    finally:
        reloader.stop()
    lat = np.asarray(result.latencies) * 1000.0
    return {
        "driver": "httpx", "requests": result.ok + result.failed + len(result.mismatches),
        "ok": result.ok, "failed": result.failed, "mismatches": len(result.mismatches),
        "rps": (result.ok + result.failed + len(result.mismatches)) / result.elapsed,
        "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
        "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
        "by_artifact": result.by_tag, "reloads": len(reloader.done),
        "reloads_failed": len(reloader.errors), "reload_errors": reloader.errors,
        "failure_samples": result.failures, "mismatch_samples": result.mismatches[:20],
        "elapsed_s": result.elapsed,
    }


# ------------------------------------------------------------- wrk driver
WRK_LUA = r"""
-- generated by bench/bench_load.py: rotate over the queries; check each answer's artifact
local reqs = %(requests)s
local foreign = %(foreign)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) i = math.random(#reqs); mismatch = 0; unknown = 0; bad = 0 end
function request()
  i = i %% #reqs + 1
  local r = reqs[i]
  if r[3] then
    return wrk.format(r[1], r[2], {["Content-Type"] = "application/json"}, r[3])
  end
  return wrk.format(r[1], r[2])
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 return end
  local tag = headers["x-vibemap-artifact"] or headers["X-Vibemap-Artifact"]
  local other = tag and foreign[tag]
  if other == nil then unknown = unknown + 1
  elseif string.find(body, other, 1, true) then mismatch = mismatch + 1 end
end
function done(summary, latency, requests)
  local m, u, b = 0, 0, 0
  for _, t in ipairs(threads) do
    m = m + t:get("mismatch"); u = u + t:get("unknown"); b = b + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"mismatch": %%d, "unknown": %%d, "bad": %%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), m, u, b))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def wrk_script(expected: dict[str, Expected]) -> str:
    items = []
    for method, path, body in queries():
        parts = [_lua_string(method), _lua_string(path)]
        if body is not None:
            parts.append(_lua_string(json.dumps(body)))
        items.append("{" + ", ".join(parts) + "}")
    foreign = {tag: f'"track_id":"{PREFIX["beta" if e.name == "alpha" else "alpha"]}'
               for tag, e in expected.items()}
    lua_foreign = "{" + ", ".join(f"[{_lua_string(t)}] = {_lua_string(f)}"
                                  for t, f in foreign.items()) + "}"
    return WRK_LUA % {"requests": "{" + ",\n  ".join(items) + "}", "foreign": lua_foreign}


def run_wrk(base: str, token: str, duration: float, concurrency: int, reload_every: float,
            expected: dict[str, Expected], workdir: Path, wrk: str = "/usr/bin/wrk") -> dict:
    script = workdir / "load.lua"
    script.write_text(wrk_script(expected), encoding="utf-8")
    cmd = [wrk, "-t1", f"-c{concurrency}", f"-d{int(duration)}s", "--timeout", "10s",
           "-s", str(script), base]
    reloader = Reloader(base, token, reload_every, time.monotonic() + duration)
    reloader.start()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    finally:
        reloader.stop()
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    w = json.loads(line[len("WRKJSON "):])
    socket_errors = w["connect"] + w["read"] + w["write"] + w["timeout"]
    failed = socket_errors + w["status"]
    return {
        "driver": "wrk", "requests": w["requests"], "ok": w["requests"] - failed
        - w["mismatch"] - w["unknown"], "failed": failed,
        "mismatches": w["mismatch"] + w["unknown"],
        "rps": w["requests"] / (w["duration_us"] / 1e6), "p50_ms": w["p50_us"] / 1000.0,
        "p99_ms": w["p99_us"] / 1000.0, "socket_errors": socket_errors,
        "reloads": len(reloader.done), "reloads_failed": len(reloader.errors),
        "reload_errors": reloader.errors, "elapsed_s": w["duration_us"] / 1e6,
        "wrk_command": shlex.join(cmd),
    }


# ------------------------------------------------------------------ report
def markdown(r: dict, argv: list[str], sizes: dict[str, int]) -> str:
    machine = (f"{harness.machine_line()}, Python "
               f"{platform.python_version()}, {platform.system()} {platform.release()}")
    return "\n".join([
        f"### Load with reloads ({r['driver']}, {r['elapsed_s']:.0f} s)",
        "",
        f"Machine: {machine}; client and server share it (loopback).  ",
        f"Command: `{command_line('bench_load.py', argv)}`  ",
        f"Artifacts: alpha {sizes['alpha']:,} tracks, beta {sizes['beta']:,} tracks; "
        f"similar + GET/POST recommendations over {SEEDS} seeds.",
        "",
        "| requests | req/s | p50 | p99 | failed | mixed/unknown artifact | reloads (failed) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        md_row(f"{r['requests']:,}", f"{r['rps']:,.0f}", f"{r['p50_ms']:.1f} ms",
               f"{r['p99_ms']:.1f} ms", r["failed"], r["mismatches"],
               f"{r['reloads']} ({r['reloads_failed']})"),
    ])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    p.add_argument("--concurrency", type=int, default=64, help="connections (default 64)")
    p.add_argument("--reload-every", type=float, default=3.0,
                   help="seconds between reloads (default 3)")
    p.add_argument("--driver", choices=("wrk", "httpx"),
                   default="wrk" if shutil.which("wrk") else "httpx")
    p.add_argument("--tracks-a", type=int, default=20_000, help="tracks in alpha")
    p.add_argument("--tracks-b", type=int, default=12_000, help="tracks in beta")
    p.add_argument("--json", type=Path, help="write the figures here too")
    args = p.parse_args(argv)
    if args.duration > 600 or args.concurrency > 512:
        p.error("keep it bounded: --duration <= 600 and --concurrency <= 512")
    token = "bench-" + os.urandom(12).hex()
    with tempfile.TemporaryDirectory(prefix="vibemap-load-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        paths = build_pair(root, args.tracks_a, args.tracks_b)
        expected = expected_of(paths)
        sizes = {e.name: e.rows for e in expected.values()}
        emit(f"built alpha ({sizes['alpha']:,}) and beta ({sizes['beta']:,}) in "
             f"{time.perf_counter() - t0:.1f} s; {args.driver}, {args.concurrency} "
             f"connections, {args.duration:.0f} s, reload every {args.reload_every} s")
        with serve(paths["alpha"], token, root / "server.log") as base:
            if args.driver == "wrk":
                r = run_wrk(base, token, args.duration, args.concurrency, args.reload_every,
                            expected, root, shutil.which("wrk") or "/usr/bin/wrk")
            else:
                r = run_httpx(base, token, args.duration, args.concurrency,
                              args.reload_every, expected)
    r["argv"] = argv
    emit(json.dumps({k: v for k, v in r.items() if k != "argv"}, indent=2))
    emit()
    emit(markdown(r, argv, sizes))
    write_json(args.json, {"machine": harness.machine_info(), **r, "sizes": sizes})
    return 0 if r["failed"] == 0 and r["mismatches"] == 0 and r["reloads_failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
