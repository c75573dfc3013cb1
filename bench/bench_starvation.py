"""Starvation: can a few clients sending the most expensive valid requests stall the service?

N heavy clients (threads of one process) loop over the dearest requests the server accepts
(a deep diverse recommendation with 5 seeds, a full batch, the CSV export, the PCA sample)
while one probe, in its own process, times ``GET /health`` and ``GET /v1/tracks/{id}/similar``
in turn. Target (issue 15): probe p99 under 100 ms. ``--clients-nice N`` runs the heavy
clients N lower in CPU priority, to model clients on other machines (they share the server's
cores here); report the figure without it too.

The heavy requests adapt to the server: each kind is tried in its unbounded form first (what
the service accepted before the cost bounds: offset 10000 with diversity 1, a batch of 100
plain items at offset 10000); when that gets 422 the bounded form is used (offset + limit =
MAX_DIVERSE_DEPTH, a batch within MAX_BATCH_COST). So one command measures before and after.

    .venv/bin/python bench/bench_starvation.py --index /tmp/demo --clients 4 --duration 30
    .venv/bin/python bench/bench_starvation.py --vibemap /work/main/.venv/bin/vibemap ...
    .venv/bin/python bench/bench_starvation.py ... --server-env VIBEMAP_HEAVY_PROCESSES=0
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import HOST, emit, free_port, machine_info, serve, write_json  # noqa: E402


def heavy_requests(base: str, ids: list[str]) -> list[tuple[str, dict]]:
    """The dearest request of each kind this server accepts (unbounded, else bounded)."""
    seeds = ",".join(ids[:5])

    deep = {"seed_tracks": ids[:5], "limit": 100, "offset": 10_000}

    kinds = {
        "diverse": [("GET", "/v1/recommendations", {"params": {
            "seed_tracks": seeds, "diversity": 1, "limit": 100, "offset": off}})
            for off in (10_000, 400)],
        # 100 deep diverse items would take minutes before the bounds: deep plain ones
        "batch": [("POST", "/v1/recommendations/batch", {"json": {"requests": [deep] * n}})
                  for n in (100, 9)],
        "csv": [("GET", "/v1/tracks.csv", {})],
        "pca": [("GET", "/v1/validation/pca", {})],
    }
    chosen = []
    with httpx.Client(base_url=base, timeout=600) as client:
        for kind, forms in kinds.items():
            for method, path, kw in forms:
                r = client.request(method, path, **kw)
                if r.status_code == 200:
                    chosen.append((kind, {"method": method, "url": path, **kw}))
                    break
    return chosen


def heavy_client(base: str, requests: list[tuple[str, dict]], stop: float, counts: Counter,
                 lock: threading.Lock, offset: int) -> None:
    with httpx.Client(base_url=base, timeout=600) as client:
        i = offset
        while time.monotonic() < stop:
            kind, req = requests[i % len(requests)]
            i += 1
            try:
                status = client.request(**req).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            with lock:
                counts[f"{kind} {status}"] += 1


def heavy_clients(base: str, requests: list[tuple[str, dict]], n: int, duration: float,
                  nice: int, out: mp.Queue) -> None:
    """``n`` heavy client threads in their own process, ``nice`` lower in CPU priority (to
    model clients on other machines: here they share the server's cores)."""
    if nice:
        os.nice(nice)
    counts: Counter = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + duration
    threads = [threading.Thread(target=heavy_client, args=(base, requests, stop, counts, lock, k))
               for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(dict(counts))


def probe(base: str, track_id: str, duration: float, out: mp.Queue) -> None:
    """Time /health and /similar in turn (one request in flight), in its own process."""
    lat: dict[str, list[float]] = {"health": [], "similar": []}
    errors = Counter()
    urls = {"health": "/health", "similar": f"/v1/tracks/{track_id}/similar"}
    stop = time.monotonic() + duration
    with httpx.Client(base_url=base, timeout=30) as client:
        while time.monotonic() < stop:
            for name, url in urls.items():
                t = time.perf_counter()
                try:
                    ok = client.get(url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat[name].append(time.perf_counter() - t)
                if not ok:
                    errors[name] += 1
            time.sleep(0.01)
    out.put((lat, dict(errors)))


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def similar_throughput(base: str, ids: list[str], seconds: float, connections: int) -> float:
    """Requests per second of /similar alone, from ``connections`` threads."""
    done = Counter()
    stop = time.monotonic() + seconds

    def run(k: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            i = k
            while time.monotonic() < stop:
                client.get(f"/v1/tracks/{ids[i % len(ids)]}/similar")
                i += connections
                done[k] += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done.values()) / seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True, help="an evaluated artifact directory")
    p.add_argument("--vibemap", default=str(Path(__file__).resolve().parents[1]
                                             / ".venv" / "bin" / "vibemap"))
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--clients-nice", type=int, default=0,
                   help="run the heavy clients this much lower in CPU priority, to model "
                        "clients on other machines (default 0: they compete as equals)")
    p.add_argument("--json", type=Path)
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment for the server, e.g. VIBEMAP_HEAVY_THREADS=1")
    args = p.parse_args(argv)
    port = free_port()
    base = f"http://{HOST}:{port}"
    log = Path(f"/tmp/bench_starvation_{port}.log")
    server_env = dict(item.split("=", 1) for item in args.server_env)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIBEMAP_")} | server_env
    cmd = [args.vibemap, "serve", "--index", str(args.index), "--host", HOST, "--port", str(port)]
    with serve(cmd, [base + "/health"], log, env=env, timeout=120):
        tracks = httpx.get(base + "/v1/tracks", params={"limit": 100}).json()["results"]
        ids = [t["track_id"] for t in tracks]
        idle_rps = similar_throughput(base, ids, 10, 4)
        requests = heavy_requests(base, ids)
        out: mp.Queue = mp.Queue()
        heavy_out: mp.Queue = mp.Queue()
        prober = mp.Process(target=probe, args=(base, ids[50], args.duration, out))
        clients = mp.Process(target=heavy_clients, args=(
            base, requests, args.clients, args.duration, args.clients_nice, heavy_out))
        prober.start()
        clients.start()
        lat, errors = out.get(timeout=args.duration + 120)
        counts = heavy_out.get(timeout=600)
        prober.join()
        clients.join()
    result = {
        "vibemap": args.vibemap, "index": str(args.index), "clients": args.clients,
        "clients_nice": args.clients_nice,
        "server_env": server_env,
        "duration_s": args.duration, "machine": machine_info(),
        "similar_rps_idle_4conn": round(idle_rps, 1),
        "heavy_forms": {k: {kk: vv for kk, vv in r.items() if kk != "json"} | (
            {"batch_items": len(r["json"]["requests"]),
             "item": r["json"]["requests"][0]} if "json" in r else {})
            for k, r in requests},
        "heavy_counts": dict(counts), "probe_errors": errors,
    }
    for name, values in lat.items():
        result[name] = {"n": len(values), "p50_ms": round(pct(values, 0.5), 1),
                        "p99_ms": round(pct(values, 0.99), 1),
                        "max_ms": round(max(values) * 1000, 1),
                        "mean_ms": round(statistics.fmean(values) * 1000, 1)}
    emit(json.dumps(result, indent=2))
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
