"""Time the Gradio UI in headless chromium and print a markdown snippet.

    .venv/bin/python bench/bench_ui.py [--index DIR | --url http://127.0.0.1:8000]
        [--repeat 5] [--json out.json]

Without ``--url`` it starts API + UI in one process (Gradio mounted at /ui, as
``vibemap demo`` serves them) on a free port, over ``--index`` or a tiny 3,000-track
artifact built for the run, and reports how long start-up took. Each repetition opens a
fresh page and times, in the page's own clock (``performance.now()``):

* page usable: navigation start -> the artifact header and the scope choices are filled;
* every interaction (except the live K-loop): the user's click / Enter -> the DOM shows
  that interaction's result (polled every animation frame, so ~16 ms resolution).

Targets: page usable < 2 s, each interaction < 500 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    emit,
    free_port,
    machine_info,
    machine_line,
    md_row,
    serve,
    write_json,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update",
                 "--disable-sync"]
PAGE_TARGET_MS, ACTION_TARGET_MS = 2000.0, 500.0
SERVER = """
import sys
import uvicorn
from vibemap.recommender.api import create_app
from vibemap.recommender.settings import ServiceSettings
from vibemap.ui.app import mount_ui
index, port = sys.argv[1], int(sys.argv[2])
app = create_app(ServiceSettings(index_dir=index, port=port))
mount_ui(app, f"http://127.0.0.1:{port}")
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""

# Records when the user acted (capture phase, before Gradio sees the event) and lets a
# predicate stamp the moment the page shows the result.
ARM = """() => {
  window.__vm = {start: null, end: null};
  const mark = () => { if (window.__vm.start === null) window.__vm.start = performance.now(); };
  document.addEventListener('click', mark, {capture: true, once: true});
  document.addEventListener('keydown', e => { if (e.key === 'Enter') mark(); },
                            {capture: true, once: true});
}"""


@contextlib.contextmanager
def start_server(index: Path, log: Path) -> Iterator[tuple[str, float]]:
    """API + UI in a subprocess; yields (base URL, seconds until /health and /ui/ answer)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with serve([sys.executable, "-c", SERVER, str(index), str(port)],
               [f"{url}/health", f"{url}/ui/"], log, env=env) as server:
        yield url, server.ready_s


def timed(page, action: Callable[[], None], done_js: str, arg: object = None) -> float:
    """Milliseconds from the user's click/Enter in ``action`` until ``done_js(arg)`` holds."""
    page.evaluate(ARM)
    action()
    page.wait_for_function(
        "([cond, arg]) => { if (window.__vm.end === null && (new Function('arg', cond))(arg))"
        " window.__vm.end = performance.now(); return window.__vm.end !== null; }",
        arg=[done_js, arg], polling="raf", timeout=30_000)
    start, end = page.evaluate("[window.__vm.start, window.__vm.end]")
    if start is None:
        raise RuntimeError("the action produced no click or Enter")
    return end - start


def text_of(selector: str) -> str:
    return f"(document.querySelector('{selector}') || {{innerText: ''}}).innerText"


def search_queries(url: str) -> list[str]:
    """Words that find tracks in this catalogue: the first word of popular titles."""
    top = httpx.get(f"{url}/v1/tracks", params={"limit": 50}, timeout=10).json()["results"]
    words = [t["name"].split()[0] for t in top if t.get("name") and len(t["name"].split()[0]) > 2]
    return list(dict.fromkeys(words)) or ["a"]


def run_once(browser, url: str, samples: dict[str, list[float]], rep: int,
             queries: list[str]) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(f"{url}/ui/")
    page.wait_for_function(
        f"() => {text_of('#vm-header')}.includes('tracks') && "
        "document.querySelector('#vm-scope input') !== null", polling="raf")
    # performance.now() counts from navigation start
    samples["page usable (navigation -> header and choices)"].append(
        page.evaluate("performance.now()"))

    box = page.locator("#vm-search textarea, #vm-search input").first
    query = queries[rep % len(queries)]

    def search() -> None:
        box.fill(query)
        box.press("Enter")

    samples["search (Enter -> seed choices)"].append(timed(
        page, search, "const l = document.querySelector('#vm-picks label');"
                      "return !!l && l.innerText.toLowerCase().includes(arg.toLowerCase())",
        query))

    seed = page.locator("#vm-picks label").nth(rep % 3)
    seed_name = seed.inner_text().split(" — ")[0]
    samples["pick a seed -> recommendations"].append(timed(
        page, seed.click, f"return {text_of('#vm-status')}.includes('“' + arg + '”')",
        seed_name))

    page.locator("#vm-scope input").click()
    option = page.get_by_role("option").filter(has_text="Only").nth(rep % 2)
    vibe = option.inner_text().replace("Only", "").split("(#")[0].strip()
    option.click()
    samples["named-vibe scope -> recommendations"].append(timed(
        page, page.locator("#vm-go").click,
        f"return {text_of('#vm-status')}.includes('in vibe ' + arg)", vibe))

    page.get_by_text("describe the sound with targets").click()  # open the accordion
    page.locator("#vm-use-targets input").check()
    samples["targets -> recommendations"].append(timed(
        page, page.locator("#vm-go").click,
        f"return {text_of('#vm-status')}.includes('your targets')"))

    samples["open Explore (table + map)"].append(timed(
        page, lambda: page.get_by_role("tab", name="Explore").click(),
        f"return {text_of('#vm-ex-status')}.includes('tracks match') && "
        f"{text_of('#vm-scatter-caption')}.length > 0"))

    before = page.locator("#vm-ex-status").inner_text()
    page.locator("#vm-ex-vibe input").click()
    option = page.get_by_role("option").nth(1 + rep % 4)
    samples["Explore vibe filter -> table + map"].append(timed(
        page, option.click,
        f"const t = {text_of('#vm-ex-status')}; return t.includes('tracks match') && t !== arg",
        before))

    samples["Explore next page"].append(timed(
        page, page.locator("#vm-ex-next").click,
        f"return {text_of('#vm-ex-status')}.includes('page 2 of')"))

    for tab, done in (("Vibes", "document.querySelectorAll('#vm-vibe-cards .vm-card').length"
                                " > 0"),
                      ("Validation", f"/Chosen K|--no-eval/.test({text_of('#vm-val-summary')})"),
                      ("Genres", f"/NMI|--no-eval|no genre/i.test({text_of('#vm-genre-stats')})"),
                      ("Outliers & taxonomy",
                       f"/outliers|--no-eval/.test({text_of('#vm-outlier-summary')})")):
        samples[f"open {tab}"].append(timed(
            page, lambda tab=tab: page.get_by_role("tab", name=tab).click(),
            f"return {done}"))
    page.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="artifact directory to serve")
    parser.add_argument("--url", help="bench a running server instead (its /ui/ must exist)")
    parser.add_argument("--repeat", type=int, default=5, help="fresh pages to time (default 5)")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[float]] = defaultdict(list)
    startup_s = None
    with contextlib.ExitStack() as stack:
        if args.url:
            url = args.url.rstrip("/")
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            index = args.index
            if index is None:
                from tests.factories import build_tiny_artifact

                index = build_tiny_artifact(tmp, n=3000, n_clusters=4)
            url, startup_s = stack.enter_context(start_server(index, tmp / "server.log"))
        art = httpx.get(f"{url}/v1/artifact", timeout=10).json()
        queries = search_queries(url)
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        warm = browser.new_page()  # first load fills the browser cache, as a returning user's
        warm.goto(f"{url}/ui/")
        warm.wait_for_timeout(1500)
        warm.close()
        for rep in range(args.repeat):
            run_once(browser, url, samples, rep, queries)

    emit(f"### UI latency (headless chromium, {args.repeat} fresh pages)")
    emit()
    emit(f"Artifact `{art.get('name')}`: {art.get('rows'):,} tracks, K = {art.get('n_clusters')}; "
         f"{machine_line()}, Python {platform.python_version()}.")
    if startup_s is not None:
        emit(f"Server start-up (process launch -> /health and /ui/ answer): {startup_s:.1f} s.")
    emit()
    emit("| step | median ms | p90 ms | max ms | target | ok |")
    emit("| --- | ---: | ---: | ---: | ---: | :---: |")
    ok_all = True
    for name, values in samples.items():
        target = PAGE_TARGET_MS if name.startswith("page") else ACTION_TARGET_MS
        ok = percentile(values, 0.9) < target
        ok_all &= ok
        emit(md_row(name, f"{statistics.median(values):.0f}", f"{percentile(values, 0.9):.0f}",
                    f"{max(values):.0f}", f"< {target:.0f}", "yes" if ok else "NO"))
    write_json(args.json, {"machine": machine_info(), "artifact": art.get("name"),
                           "startup_s": startup_s, "samples_ms": dict(samples)})
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
