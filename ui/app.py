"""The Gradio Blocks app: layout and wiring only, over the handler modules.

``build_app(client)`` lays out six tabs and connects each control to a handler with
``.click(fn, inputs, outputs)``; ``mount_ui`` puts the app at ``/ui`` of a FastAPI app (one
process, one port, as ``vibemap demo`` does) and ``run_ui`` serves it on its own against a
remote API. Every number comes from the HTTP API through :class:`vibemap.ui.client.ApiClient`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

# Gradio phones home on import unless told not to; the demo must work offline.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from vibemap.ui import explore, validation, views  # noqa: E402
from vibemap.ui import handlers as h  # noqa: E402
from vibemap.ui.charts import table_html  # noqa: E402
from vibemap.ui.client import ApiClient  # noqa: E402
from vibemap.ui.style import CSS  # noqa: E402

logger = logging.getLogger(__name__)

UI_PATH = "/ui"
THEME = gr.themes.Soft(primary_hue="orange", neutral_hue="slate")
TARGET_RANGES = {"energy": (0.0, 1.0, 0.7, 0.01), "valence": (0.0, 1.0, 0.6, 0.01),
                 "danceability": (0.0, 1.0, 0.7, 0.01), "tempo": (40.0, 220.0, 120.0, 1.0)}
PAGE_SIZES = [10, 25, 50, 100]


def build_app(client: h.Client) -> gr.Blocks:
    """Lay out the six tabs and wire every control to its handler."""
    with gr.Blocks(title="vibemap — next best track", analytics_enabled=False) as app:
        header = gr.Markdown("Connecting to the vibemap API…", elem_id="vm-header")

        with gr.Tabs():
            with gr.Tab("Next best track", id="next"):
                nb = _next_best_tab()
            with gr.Tab("Explore", id="explore") as explore_tab:
                ex = _explore_tab()
            with gr.Tab("Vibes", id="vibes") as vibes_tab:
                vb_status = gr.Markdown()
                vb_cards = gr.HTML(elem_id="vm-vibe-cards")
                gr.Markdown("### Audio profile of each vibe")
                vb_heat = gr.HTML(elem_id="vm-vibe-heatmap")
            with gr.Tab("Validation", id="validation") as validation_tab:
                va = _validation_tab()
            with gr.Tab("Genres", id="genres") as genres_tab:
                gn_stats = gr.Markdown(elem_id="vm-genre-stats")
                gn_heat = gr.HTML(elem_id="vm-genre-heatmap")
            with gr.Tab("Outliers & taxonomy", id="outliers") as outliers_tab:
                ol_summary = gr.Markdown(elem_id="vm-outlier-summary")
                gr.Markdown("### Most atypical tracks (largest distance to their DBSCAN "
                            "neighbourhood)")
                ol_table = gr.HTML(elem_id="vm-outliers")
                gr.Markdown("### Ward taxonomy")
                ol_tree = gr.HTML(elem_id="vm-dendrogram")

        # -- page load: header and the choices every tab needs --------------------------------
        @_guard
        def on_load() -> tuple[Any, ...]:
            scopes = h.scope_choices(client)
            vibes = [("All vibes", "")] + h.vibe_choices(client)
            genres = [("All genres", "")] + [(g, g) for g in h.genre_choices(client)]
            return (h.header(client),
                    gr.Dropdown(choices=scopes, value=h.SCOPE_SAME),
                    gr.Dropdown(choices=vibes, value=""),
                    gr.Dropdown(choices=genres, value=""))

        app.load(on_load, None, [header, nb["scope"], ex["vibe"], ex["genre"]])

        # -- tab 1 ---------------------------------------------------------------------------
        @_guard
        def on_search(text: str) -> tuple[Any, str]:
            choices, status = h.search_choices(client, text)
            return gr.Radio(choices=choices, value=None), status

        search_io = ([nb["query"]], [nb["picks"], nb["status"]])
        nb["query"].submit(on_search, *search_io)
        nb["query"].input(on_search, *search_io, trigger_mode="always_last", show_progress="hidden")
        nb["search"].click(on_search, *search_io)

        @_guard
        def on_recommend(seed: str | None, use_targets: bool, scope: str, limit: float,
                         max_per_artist: float, diversity: float, era_mode: str,
                         target_year: float | None, *targets: float) -> tuple[Any, str, str]:
            target_map = dict(zip(h.TARGET_FEATURES, targets, strict=True))
            table, chart, status = h.recommend(client, seed, use_targets, target_map, scope,
                                               int(limit), int(max_per_artist) or None, diversity,
                                               era_mode, target_year)
            return table_html(table), chart, status

        rec_inputs = [nb["picks"], nb["use_targets"], nb["scope"], nb["limit"],
                      nb["max_per_artist"], nb["diversity"], nb["era_mode"], nb["target_year"],
                      *nb["targets"]]
        rec_outputs = [nb["results"], nb["profile"], nb["status"]]
        nb["go"].click(on_recommend, rec_inputs, rec_outputs)
        nb["picks"].select(on_recommend, rec_inputs, rec_outputs)

        # -- tab 2 ---------------------------------------------------------------------------
        filters = [ex["q"], ex["vibe"], ex["genre"], ex["year_min"], ex["year_max"]]

        @_guard
        def on_filter(q: str, vibe: str, genre: str, y0: str, y1: str, size: float
                      ) -> tuple[Any, ...]:
            table, page, status = explore.explore_tracks(client, q, vibe, genre, y0, y1, 1,
                                                         int(size))
            svg, caption = explore.explore_map(client, q, vibe, genre, y0, y1)
            return table_html(table), page, status, svg, caption

        @_guard
        def on_page(q: str, vibe: str, genre: str, y0: str, y1: str, page: float, size: float
                    ) -> tuple[Any, ...]:
            table, page, status = explore.explore_tracks(client, q, vibe, genre, y0, y1,
                                                         int(page or 1), int(size))
            return table_html(table), page, status

        filter_out = [ex["table"], ex["page"], ex["status"], ex["scatter"], ex["caption"]]
        page_out = [ex["table"], ex["page"], ex["status"]]
        ex["apply"].click(on_filter, [*filters, ex["page_size"]], filter_out)
        for box in (ex["q"], ex["year_min"], ex["year_max"]):
            box.submit(on_filter, [*filters, ex["page_size"]], filter_out)
        for control in (ex["vibe"], ex["genre"]):
            control.input(on_filter, [*filters, ex["page_size"]], filter_out)
        loaded = gr.State(False)

        @_guard
        def on_open(*args: Any) -> tuple[Any, ...]:
            if args[-1]:  # opened before: keep the page as the listener left it
                return (*[gr.skip()] * len(filter_out), True)
            return (*on_filter(*args[:-1]), True)

        explore_tab.select(on_open, [*filters, ex["page_size"], loaded], [*filter_out, loaded])

        @_guard
        def on_prev(*args: Any) -> tuple[Any, ...]:
            return on_page(*args[:5], (args[5] or 1) - 1, args[6])

        @_guard
        def on_next(*args: Any) -> tuple[Any, ...]:
            return on_page(*args[:5], (args[5] or 1) + 1, args[6])

        ex["prev"].click(on_prev, [*filters, ex["page"], ex["page_size"]], page_out)
        ex["next"].click(on_next, [*filters, ex["page"], ex["page_size"]], page_out,
                         show_progress="minimal")
        ex["page"].submit(on_page, [*filters, ex["page"], ex["page_size"]], page_out)
        ex["page_size"].input(on_page, [*filters, ex["page"], ex["page_size"]], page_out)

        @_guard
        def on_export(*args: Any) -> tuple[Any, str]:
            path, status = explore.export_csv(client, *args)
            return gr.File(value=path, visible=path is not None), status

        ex["export"].click(on_export, filters, [ex["file"], ex["export_status"]])

        # -- tabs 3-6: read-only views, fetched when the tab opens ----------------------------
        vibes_tab.select(_guard(lambda: views.vibes_view(client)), None,
                         [vb_cards, vb_heat, vb_status])

        @_guard
        def on_rerun(sample_size: float, progress: gr.Progress = gr.Progress()  # noqa: B008
                     ) -> tuple[Any, ...]:
            summary, kloop, table = validation.rerun_live(client, int(sample_size or 5000),
                                                     lambda f, d: progress(f, desc=d))
            return summary, kloop, table_html(table)

        @_guard
        def on_validation() -> tuple[Any, ...]:
            summary, kloop, silhouette, table = validation.validation_view(client)
            return summary, kloop, silhouette, table_html(table)

        @_guard
        def on_outliers() -> tuple[Any, ...]:
            summary, table, tree = views.outliers_view(client)
            return summary, table_html(table), tree

        validation_tab.select(on_validation, None, va["outputs"])
        summary, kloop, _, table = va["outputs"]
        va["rerun"].click(on_rerun, [va["sample"]], [summary, kloop, table])
        genres_tab.select(_guard(lambda: views.genres_view(client)), None, [gn_heat, gn_stats])
        outliers_tab.select(on_outliers, None, [ol_summary, ol_table, ol_tree])
    return app


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Handlers turn API errors into messages themselves; anything else (a bug, an API
    answer of an unexpected shape) is logged and shown as a short notice, never a trace."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception:
            logger.exception("UI handler %s failed", getattr(fn, "__name__", fn))
            raise gr.Error("Something went wrong on this page (the details are in the server "
                           "log). Try again, or reload the page.", print_exception=False) from None

    return wrapper


def _next_best_tab() -> dict[str, Any]:
    c: dict[str, Any] = {}
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                c["query"] = gr.Textbox(label="Search a song or an artist", scale=4,
                                        placeholder="e.g. a title or an artist name",
                                        elem_id="vm-search")
                c["search"] = gr.Button("Search", scale=1, min_width=90)
            c["picks"] = gr.Radio(label="Pick the seed track", choices=[], elem_id="vm-picks")
        with gr.Column(scale=2):
            c["scope"] = gr.Dropdown(label="Recommend from", choices=[("Same vibe as the seed",
                                                                       h.SCOPE_SAME)],
                                     value=h.SCOPE_SAME, elem_id="vm-scope")
            with gr.Row():
                c["limit"] = gr.Slider(1, 50, value=10, step=1, label="How many")
                c["max_per_artist"] = gr.Slider(0, 10, value=2, step=1,
                                                label="Max per artist (0 = no limit)")
            c["diversity"] = gr.Slider(0.0, 1.0, value=0.0, step=0.05,
                                       label="Diversity (0 = most similar, 1 = most varied)")
            with gr.Row():
                c["era_mode"] = gr.Radio(label="Similar by", value=h.ERA_WITH,
                                         choices=[("Sound and era", h.ERA_WITH),
                                                  ("Sound only", h.ERA_AUDIO_ONLY)],
                                         elem_id="vm-era-mode")
                c["target_year"] = gr.Number(label="Target year (empty = the seed's)",
                                             value=None, precision=0, minimum=0, maximum=3000,
                                             elem_id="vm-target-year")
    with gr.Accordion("…or describe the sound with targets", open=False):
        c["use_targets"] = gr.Checkbox(label="Use these targets instead of a seed", value=False,
                                       elem_id="vm-use-targets")
        with gr.Row():
            c["targets"] = [gr.Slider(lo, hi, value=v, step=step, label=name.capitalize()
                                      + (" (BPM)" if name == "tempo" else ""))
                            for name, (lo, hi, v, step) in TARGET_RANGES.items()]
    c["go"] = gr.Button("Get the next best tracks", variant="primary", elem_id="vm-go")
    c["status"] = gr.Markdown(elem_id="vm-status")
    c["results"] = gr.HTML(elem_id="vm-results")
    c["profile"] = gr.HTML(elem_id="vm-profile")
    return c


def _explore_tab() -> dict[str, Any]:
    c: dict[str, Any] = {}
    with gr.Row():
        c["q"] = gr.Textbox(label="Title or artist contains", scale=2, elem_id="vm-ex-q")
        c["vibe"] = gr.Dropdown(label="Vibe", choices=[("All vibes", "")], value="",
                                elem_id="vm-ex-vibe")
        c["genre"] = gr.Dropdown(label="Genre", choices=[("All genres", "")], value="",
                                 allow_custom_value=True, elem_id="vm-ex-genre")
        c["year_min"] = gr.Textbox(label="From year", placeholder="any", max_lines=1,
                                   min_width=90, elem_id="vm-ex-y0")
        c["year_max"] = gr.Textbox(label="To year", placeholder="any", max_lines=1,
                                   min_width=90, elem_id="vm-ex-y1")
        c["apply"] = gr.Button("Apply", variant="primary", min_width=80, elem_id="vm-ex-apply")
    gr.Markdown("#### Tracks on the first two principal components (hover a dot)")
    c["scatter"] = gr.HTML(elem_id="vm-scatter")
    c["caption"] = gr.Markdown(elem_id="vm-scatter-caption")
    c["status"] = gr.Markdown(elem_id="vm-ex-status")
    c["table"] = gr.HTML(elem_id="vm-ex-table")
    with gr.Row():
        c["prev"] = gr.Button("◀ Previous", min_width=100, elem_id="vm-ex-prev")
        c["page"] = gr.Number(label="Page", value=1, precision=0, minimum=1, min_width=100)
        c["next"] = gr.Button("Next ▶", min_width=100, elem_id="vm-ex-next")
        c["page_size"] = gr.Dropdown(label="Rows per page", choices=PAGE_SIZES, value=25,
                                     min_width=100)
        c["export"] = gr.Button("Download the filtered tracks as CSV", min_width=200,
                                elem_id="vm-ex-export")
    c["export_status"] = gr.Markdown(elem_id="vm-ex-export-status")
    c["file"] = gr.File(label="CSV", visible=False, elem_id="vm-ex-file")
    return c


def _validation_tab() -> dict[str, Any]:
    c: dict[str, Any] = {}
    summary = gr.Markdown(elem_id="vm-val-summary")
    kloop = gr.HTML(elem_id="vm-val-kloop")
    silhouette = gr.HTML(elem_id="vm-val-silhouette")
    gr.Markdown("#### The K-loop in numbers")
    table = gr.HTML(elem_id="vm-val-table")
    with gr.Row():
        c["sample"] = gr.Number(label="Sample size for the live run", value=5000, precision=0,
                                minimum=100, maximum=20_000)
        c["rerun"] = gr.Button("Re-run the K-loop live on a sample", elem_id="vm-val-rerun")
    c["outputs"] = [summary, kloop, silhouette, table]
    return c


def mount_ui(fastapi_app: Any, api_base_url: str, path: str = UI_PATH, timeout: float = 10.0
             ) -> Any:
    """Mount the UI at ``path`` of ``fastapi_app``; it talks to the API at ``api_base_url``
    (in one process, the server's own address, e.g. ``http://127.0.0.1:8000``)."""
    client = ApiClient(api_base_url, timeout=timeout)
    blocks = build_app(client)
    return gr.mount_gradio_app(fastapi_app, blocks, path=path, css=CSS, theme=THEME,
                               ssr_mode=False, footer_links=[])


def run_ui(api_url: str, host: str = "127.0.0.1", port: int = 7860, timeout: float = 10.0) -> None:
    """Serve the UI alone (blocking) against the API at ``api_url``."""
    client = ApiClient(api_url, timeout=timeout)
    build_app(client).launch(server_name=host, server_port=port, css=CSS, theme=THEME,
                             ssr_mode=False, footer_links=[], show_error=False, quiet=True)
