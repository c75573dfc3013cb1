"""Where one `/similar` answer's CPU time goes, in process: the fast lane's whole answer and
each part of `Engine.similar`, in thread CPU microseconds per call.

    .venv/bin/python bench/bench_similar_parts.py --index DIR [--seeds 2000] [--passes 5]
        [--json OUT]

Every part runs over the same ``--seeds`` random track ids (seeded) ``--passes`` times; the
best pass counts (the least disturbed by other jobs). One search thread, as the service
runs. The parts are timed alone, so they add up only roughly to the whole: each runs with
the caches the previous calls left. No HTTP: ``bench_http.py`` measures the route served.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    command_line,
    emit,
    machine_info,
    machine_line,
    md_row,
    write_json,
)


def best_us(fn: Callable[[object], object], args: list, passes: int) -> float:
    """The least thread CPU time per call over ``passes`` passes of ``fn`` over ``args``."""
    best = float("inf")
    for _ in range(passes):
        start = time.thread_time()
        for a in args:
            fn(a)
        best = min(best, (time.thread_time() - start) / len(args) * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from vibemap.recommender.api.fast_lane import SimilarFastLane
    from vibemap.recommender.api.responses import render_json
    from vibemap.recommender.engine import SAME_SCOPE, Engine, set_search_threads
    from vibemap.recommender.explain import era_explanation, explanations

    set_search_threads(1)
    engine = Engine.load(args.index)
    c = engine.catalogue
    rng = random.Random(0)
    rows = [rng.randrange(c.n_rows) for _ in range(args.seeds)]
    ids = [c.ids[r] for r in rows]
    answers = {r: engine.similar(t) for r, t in zip(rows, ids, strict=True)}
    result_rows = {r: [c.row_of(x["track_id"]) for x in answers[r]["results"]] for r in rows}
    # the fast lane reads the app's state and the ASGI scope only
    app = SimpleNamespace(dependency_overrides={}, state=SimpleNamespace(
        service=SimpleNamespace(current=SimpleNamespace(engine=engine, tag=b"bench"))))
    scopes = [{"type": "http", "method": "GET", "path": f"/v1/tracks/{t}/similar",
               "query_string": b"", "headers": [(b"host", b"localhost")], "app": app}
              for t in ids]

    def search(r: int) -> object:
        scope = engine._vibes.scope(SAME_SCOPE, [r], SAME_SCOPE)
        return engine._index.search(c.X[r][None, :], 21, scope.vibe_id)

    def results(r: int) -> object:
        R = result_rows[r]
        return engine._results(R, [0.5] * len(R), c.F[r], 1, float(c.years[r]))

    parts: dict[str, tuple[Callable[[object], object], list]] = {
        "fast lane: the whole answer (parse, similar, render)": (SimilarFastLane._answer, scopes),
        "Engine.similar": (engine.similar, ids),
        "render (orjson)": (lambda r: render_json(answers[r]), rows),
        "scan of the seed's vibe (k = 21)": (search, rows),
        "result building (10 rows)": (results, rows),
        "summaries (10 rows)": (lambda r: c.summaries(result_rows[r]), rows),
        "explanations (10 rows)": (lambda r: explanations(
            c.F[result_rows[r]], c.F[r], c.scale, engine.features), rows),
        "era sentences (10)": (lambda r: [era_explanation(1990.0, float(c.years[r]))
                                          for _ in range(10)], rows),
        "seed summary": (c.summary, rows),
        "id -> row": (c.row_of, ids),
    }
    figures = {name: best_us(fn, xs, args.passes) for name, (fn, xs) in parts.items()}
    emit(f"`{command_line('bench_similar_parts.py', sys.argv[1:] if argv is None else argv)}`"
         f" — {machine_line()}; {args.seeds} seeds, best of {args.passes} passes")
    emit()
    emit(md_row("part", "thread CPU us per call"))
    emit(md_row("---", "---:"))
    for name, us in figures.items():
        emit(md_row(name, f"{us:.1f}"))
    write_json(args.json, {"machine": machine_info(), "index": str(args.index),
                           "us_per_call": figures})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
