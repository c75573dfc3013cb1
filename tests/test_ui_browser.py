"""The UI in a real browser: headless Debian chromium driven by Playwright against a live
API + UI server (one process, Gradio mounted at /ui) started as a subprocess by the
benchmarks' harness (``bench.harness.serve``: start, wait until it answers, stop).

The server builds a seeded 3,000-track sample of the real demo catalogue (real songs, so a
person can judge the screenshots); the seed track is a well-known song of that sample, one
with another version in it, so "no version of the seed" is a check with teeth. Screenshots of
every tab land in test-output/screenshots/ (git-ignored). Skipped when /usr/bin/chromium or
Playwright is missing. Set VIBEMAP_UI_TEST_INDEX to an artifact directory to drive another
(e.g. the full real demo, evaluated) instead of the sample built here.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from bench.harness import free_port, serve
from tests.conftest import REPO_ROOT
from vibemap.indexer.features import FEATURES
from vibemap.indexer.real_demo import CATALOGUE_PATH, real_demo_catalogue
from vibemap.indexer.versions import version_key

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
TIMEOUT_MS = 15_000
SERVER_ENV = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
DEMO_SAMPLE = 3000  # evaluated build ~11 s on the 2-core dev box; the full 32k demo ~60-120 s
# seeds to prefer when the served catalogue holds them (the full demo does; the sample not)
WELL_KNOWN = (("Blinding Lights", "The Weeknd"), ("Bohemian Rhapsody - 2011 Mix", "Queen"))
TWIN_DISTANCE = 0.05  # z-score distance under which two versions are one recording


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory) -> Path:
    """$VIBEMAP_UI_TEST_INDEX, or a path where `vibemap demo` builds a small evaluated demo."""
    given = os.environ.get("VIBEMAP_UI_TEST_INDEX")
    if given:
        return Path(given)
    return tmp_path_factory.mktemp("ui") / "indexes" / "demo"


@pytest.fixture(scope="module")
def live_server(artifact_dir, tmp_path_factory) -> Iterator[str]:
    """`vibemap demo` itself: builds the evaluated demo (a seeded sample of the real
    catalogue) if missing, then serves API + UI on one port."""
    port = free_port()
    log = tmp_path_factory.mktemp("ui-log") / "server.log"
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "vibemap.cli", "demo", "--index", str(artifact_dir), "--port",
           str(port), "--demo-sample", str(DEMO_SAMPLE)]
    # /ui/ answers before the lifespan has loaded the artifact: wait for /health too
    with serve(cmd, [f"{base}/ui/", f"{base}/health"], log, env=SERVER_ENV, timeout=240):
        yield base


def served_catalogue(source: dict) -> pd.DataFrame:
    """The served rows (the build's own read and cleaning of the vendored file) with each
    row's version key and ``twin``: the z-score distance of its audio features to the
    nearest other version of the same song (inf where it has none)."""
    catalogue, _ = real_demo_catalogue(sample=source.get("sample"),
                                       seed=source.get("sample_seed") or 0)
    served = catalogue.tracks.rename(columns={"track_id": "id"})
    served["key"] = [version_key(t, a) for t, a in zip(served["name"], served["artist"],
                                                        strict=True)]
    z = served[list(FEATURES)].to_numpy(float)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    twin = np.full(len(served), np.inf)
    for rows in served.groupby("key").indices.values():
        if len(rows) > 1:
            d = np.linalg.norm(z[rows, None] - z[None, rows], axis=2) + np.diag(
                np.full(len(rows), np.inf))
            twin[rows] = d.min(axis=1)
    return served.assign(twin=twin)


def seed_of(base: str, served: pd.DataFrame, row: pd.Series) -> dict:
    detail = httpx.get(f"{base}/v1/tracks/{row['id']}", timeout=10)
    assert detail.status_code == 200, detail.text  # the build kept it
    return {**detail.json(), "key": row["key"], "twin": float(row["twin"]),
            "keys": dict(zip(served["id"], served["key"], strict=True))}


@pytest.fixture(scope="module")
def seeds(live_server) -> dict[str, dict]:
    """Seeds from the served real catalogue: ``known``, a well-known song (Blinding Lights
    where present, else the most popular track), and ``twin``, the most popular track with a
    re-release of near-identical audio (a Bohemian Rhapsody mix where present): without the
    version dedupe that re-release would be among its next best tracks."""
    source = httpx.get(f"{live_server}/v1/artifact", timeout=10).json()["source"]
    if source.get("catalogue") != "real":
        pytest.skip("the artifact is not the real demo catalogue")
    served = served_catalogue(source).sort_values("popularity", ascending=False, kind="stable")
    pairs = list(zip(served["name"], served["artist"], strict=True))
    known = [served.iloc[pairs.index(p)] for p in WELL_KNOWN if p in pairs]
    twins = served[served["twin"] < TWIN_DISTANCE]
    assert len(twins), "the served sample holds no re-release: pick another DEMO_SAMPLE"
    preferred = twins[twins["artist"] == "Queen"]
    return {"known": seed_of(live_server, served, known[0] if known else served.iloc[0]),
            "twin": seed_of(live_server, served, (preferred if len(preferred) else twins).iloc[0])}


@pytest.fixture(scope="module")
def catalogue_ids() -> set[str]:
    """Every track id of the vendored real catalogue: a result outside it is not real."""
    return set(pd.read_parquet(CATALOGUE_PATH, columns=["id_songs"])["id_songs"])


def pick_seed(page, seed: dict) -> None:
    """Search the seed's title in the UI and pick it: the pick runs the recommendation."""
    page.locator("#vm-search textarea, #vm-search input").first.fill(seed["name"])
    page.keyboard.press("Enter")
    pick = page.locator("#vm-picks label").filter(has_text=f"{seed['name']} — {seed['artist']}")
    pick.first.click()
    wait_text(page, "#vm-status", "tracks closest")


def api_next_best(base: str, seed: dict, limit: int = 10) -> list[dict]:
    """The answer the UI's same-vibe request gets (handlers.recommend builds the same)."""
    body = {"seed_tracks": [seed["track_id"]], "vibe": str(seed["vibe_id"]), "limit": limit,
            "diversity": 0.0}
    resp = httpx.post(f"{base}/v1/recommendations", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["results"]


def table_rows(page, elem_id: str) -> list[list[str]]:
    """Cell texts of the body rows of the HTML table in ``elem_id``."""
    return page.evaluate(
        """id => Array.from(document.querySelectorAll(`#${id} tbody tr`)).map(
               tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))""",
        elem_id)


def table_header(page, elem_id: str) -> list[str]:
    return [t.strip() for t in page.locator(f"#{elem_id} thead th").all_inner_texts()]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"ui_{name}.png"), full_page=True)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def wait_text(page, selector: str, text: str) -> None:
    """Wait until ``selector`` shows ``text`` (case-sensitive)."""
    page.locator(selector).filter(has_text=re.compile(re.escape(text))).first.wait_for(
        timeout=TIMEOUT_MS)


def column(rows: list[list[str]], header: list[str], name: str) -> list[str]:
    j = header.index(name)
    return [r[j] for r in rows]


def test_every_tab_and_the_main_interactions(browser, live_server, seeds, catalogue_ids):
    seed_track = seeds["known"]
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    art = httpx.get(f"{live_server}/v1/artifact", timeout=10).json()
    n_vibes, n_rows = art["n_clusters"], art["rows"]
    page.goto(f"{live_server}/ui/")
    wait_text(page, "#vm-header", "Artifact")
    header_text = page.locator("#vm-header").inner_text()
    assert f"{n_rows:,} tracks" in header_text
    assert "Real tracks: TidyTuesday 2020 Spotify songs" in header_text and "MIT" in header_text
    assert "SYNTHETIC" not in header_text

    # -- next best track: search a well-known song, pick it, same-vibe results ------------------
    pick_seed(page, seed_track)
    seed_vibe = seed_track["vibe_name"]
    header = table_header(page, "vm-results")
    rows = table_rows(page, "vm-results")
    assert len(rows) == 10, rows
    assert set(column(rows, header, "vibe")) == {seed_vibe}
    # the table is the API's answer, and every track in it is a real one of the vendored file
    answer = api_next_best(live_server, seed_track)
    assert [(r["name"], r["artist"]) for r in answer] == list(
        zip(column(rows, header, "title"), column(rows, header, "artist"), strict=True))
    assert all(r["track_id"] in catalogue_ids for r in answer)
    assert all(r["track_id"] != seed_track["track_id"] for r in answer)
    assert all(0 < float(s) <= 1 for s in column(rows, header, "similarity"))
    assert page.locator("#vm-profile svg rect").count() >= 18  # 9 features x 2 series
    shot(page, "1_next_best_track")

    # a named vibe as the scope
    page.locator("#vm-scope input").click()
    option = page.get_by_role("option").filter(has_text="Only").filter(
        has_not_text=seed_vibe).first
    target_vibe = option.inner_text().replace("Only", "").split("(#")[0].strip()
    option.click()
    page.locator("#vm-go").click()
    wait_text(page, "#vm-status", f"in vibe {target_vibe}")
    rows = table_rows(page, "vm-results")
    assert rows and set(column(rows, header, "vibe")) == {target_vibe}

    # an unknown artist: a message, not an error
    page.locator("#vm-search textarea, #vm-search input").first.fill("zzqx no such artist")
    page.keyboard.press("Enter")
    wait_text(page, "#vm-status", "No track or artist matches")

    # -- explore: table, scatter (or its message), a filter that changes both ------------------
    open_tab(page, "Explore")
    wait_text(page, "#vm-ex-status", "tracks match")
    assert f"{n_rows:,} tracks match" in page.locator("#vm-ex-status").inner_text()
    assert len(table_rows(page, "vm-ex-table")) == 25
    before = page.locator("#vm-scatter-caption").inner_text()
    page.locator("#vm-ex-vibe input").click()
    page.get_by_role("option", name=target_vibe, exact=False).first.click()
    page.wait_for_function(
        "n => !document.querySelector('#vm-ex-status').innerText.includes(n + ' tracks')",
        arg=f"{n_rows:,}")
    ex_header = table_header(page, "vm-ex-table")
    assert set(column(table_rows(page, "vm-ex-table"), ex_header, "vibe")) == {target_vibe}
    after = page.locator("#vm-scatter-caption").inner_text()
    if "no PCA map" in after:  # a --no-eval artifact: a clear message instead of the map
        assert page.locator("#vm-scatter svg").count() == 0
    else:  # the map now holds only the chosen vibe's tracks
        assert after != before and page.locator("#vm-scatter svg").count() == 1
        tips = page.locator("#vm-scatter circle title").all_text_contents()
        assert tips and all(f" · {target_vibe}" in t for t in tips)
    page.locator("#vm-ex-export").click()
    page.get_by_text(re.compile(r"[\d,]+ tracks exported")).wait_for()
    link = page.locator("#vm-ex-file a").first
    link.wait_for()
    csv = httpx.get(link.get_attribute("href"), timeout=10).text.splitlines()
    n_filtered = int(re.search(r"([\d,]+) tracks match",
                               page.locator("#vm-ex-status").inner_text())[1].replace(",", ""))
    assert "track_id" in csv[0] and len(csv) == n_filtered + 1
    shot(page, "2_explore")

    # -- the analysis tabs ----------------------------------------------------------------------
    open_tab(page, "Vibes")
    page.locator("#vm-vibe-cards .vm-card").nth(n_vibes - 1).wait_for()
    assert page.locator("#vm-vibe-cards .vm-card").count() == n_vibes
    assert page.locator("#vm-vibe-heatmap td").count() == n_vibes * len(art["features"])
    shot(page, "3_vibes")

    open_tab(page, "Validation")
    page.wait_for_function("() => /Chosen K|--no-eval/.test("
                           "document.querySelector('#vm-val-summary').innerText)")
    if "Chosen K" in page.locator("#vm-val-summary").inner_text():
        assert page.locator("#vm-val-kloop svg").count() == 4
    shot(page, "4_validation")
    page.locator("#vm-val-rerun").click()  # one call: the API fits K = 2..10 on a sample
    page.locator("#vm-val-summary").filter(has_text="Live K-loop").wait_for(timeout=120_000)
    assert page.locator("#vm-val-kloop svg").count() == 4
    assert len(table_rows(page, "vm-val-table")) == 9
    shot(page, "4b_validation_live")

    open_tab(page, "Genres")
    page.wait_for_function("() => /NMI|--no-eval|no genre/i.test("
                           "document.querySelector('#vm-genre-stats').innerText)")
    shot(page, "5_genres")

    open_tab(page, "Outliers & taxonomy")
    page.wait_for_function("() => /outliers|--no-eval/.test("
                           "document.querySelector('#vm-outlier-summary').innerText)")
    shot(page, "6_outliers_taxonomy")

    assert page.locator("text=Traceback").count() == 0
    assert not errors, errors
    page.close()


def test_next_best_tracks_hold_no_version_of_the_seed(browser, live_server, seeds, catalogue_ids):
    """Issue 11 item 2: versions of the same song are one song. The engine-side dedupe
    lands from another branch; until then this fails with the message below."""
    seed_track = seeds["twin"]
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server}/ui/")
    wait_text(page, "#vm-header", "Artifact")
    pick_seed(page, seed_track)
    answer = api_next_best(live_server, seed_track)
    rows, header = table_rows(page, "vm-results"), table_header(page, "vm-results")
    assert column(rows, header, "title") == [r["name"] for r in answer]
    assert set(column(rows, header, "vibe")) == {seed_track["vibe_name"]}
    assert all(r["track_id"] in catalogue_ids for r in answer)
    shot(page, "1b_next_best_track_versions")
    versions = [f"{r['name']} — {r['artist']} ({r['track_id']})" for r in answer
                if seed_track["keys"].get(r["track_id"]) == seed_track["key"]]
    page.close()
    assert not versions, (
        f"ENGINE VERSION DEDUPE MISSING (issue 11 item 2): the next best tracks after "
        f"{seed_track['name']} — {seed_track['artist']} hold versions of it: {versions}")


def test_api_down_shows_friendly_messages(browser, tmp_path):
    port, dead = free_port(), free_port()
    cmd = [sys.executable, "-m", "vibemap.cli", "ui", "--api", f"http://127.0.0.1:{dead}",
           "--port", str(port), "--timeout", "2"]
    with serve(cmd, [f"http://127.0.0.1:{port}/"], tmp_path / "ui.log", env=SERVER_ENV):
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{port}/")
        wait_text(page, "#vm-header", "not reachable")
        page.locator("#vm-search textarea, #vm-search input").first.fill("anything")
        page.keyboard.press("Enter")
        wait_text(page, "#vm-status", "not reachable")
        open_tab(page, "Vibes")
        page.get_by_text("not reachable").nth(2).wait_for()
        shot(page, "0_api_down")
        assert page.locator("text=Traceback").count() == 0
        page.close()
