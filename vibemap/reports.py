"""Rich tables for the CLI: what `vibemap evaluate` prints from an artifact's metrics."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def basis_label(metrics: dict, figure: str) -> str:
    """"exact on n tracks" / "sampled m of N, 95% CI ±x" for a figure of metrics.json
    (artifacts from before the budget carry no basis: their figures were all exact)."""
    entry = ((metrics.get("basis") or {}).get("figures") or {}).get(figure)
    if entry:
        return entry["label"]
    return f"exact on {metrics['n_tracks']:,} tracks" if "n_tracks" in metrics else ""


def _with_basis(text: str, metrics: dict, figure: str) -> str:
    label = basis_label(metrics, figure)
    return f"{text} [dim]({label})[/dim]" if label else text


def k_loop_table(k_loop: dict, chosen_k: int | None, metrics: dict | None = None) -> Table:
    """One row per K; the best value of each criterion is marked with *; a sampled
    silhouette shows its 95% interval."""
    metrics = metrics or {}
    sil_basis = ((metrics.get("basis") or {}).get("figures") or {}).get("k_loop.silhouette") or {}
    ci = {row["n_clusters"]: row["ci95"] for row in sil_basis.get("per_k", [])}
    best = {
        "silhouette": k_loop["best_silhouette_k"],
        "davies_bouldin": k_loop["best_davies_bouldin_k"],
        "calinski_harabasz": k_loop["best_calinski_harabasz_k"],
    }
    sil = basis_label(metrics, "k_loop.silhouette") or "exact"
    fits = basis_label(metrics, "k_loop.inertia") or "on all tracks"
    table = Table(title=f"K-loop on {k_loop['n_samples']:,} tracks (K-Means and indices "
                        f"{fits}; silhouette {sil})")
    for col in ("K", "inertia", "silhouette ↑", "Davies-Bouldin ↓", "Calinski-Harabasz ↑", ""):
        table.add_column(col, justify="right" if col else "left")
    for m in k_loop["metrics"]:
        k = m["n_clusters"]

        def mark(key: str, text: str, k: int = k) -> str:
            return f"[bold green]{text} *[/bold green]" if best[key] == k else text

        notes = []
        if k == k_loop.get("elbow_k"):
            notes.append("elbow")
        if k == chosen_k:
            notes.append("[bold]chosen[/bold]")
        table.add_row(
            str(k),
            _fmt(m["inertia"], 0),
            mark("silhouette", _fmt(m["silhouette"], 4)
                 + (f" ±{ci[k]:.4f}" if ci.get(k) is not None else "")),
            mark("davies_bouldin", _fmt(m["davies_bouldin"], 4)),
            mark("calinski_harabasz", _fmt(m["calinski_harabasz"], 0)),
            ", ".join(notes),
        )
    return table


def profiles_table(profiles: dict, features: list[str]) -> Table:
    """Features down, vibes across: mean in original units with the z-score signature."""
    table = Table(title="Vibe profiles: mean (z-score)")
    table.add_column("")
    vibes = profiles["vibes"]
    for v in vibes:
        table.add_column(f"{v['vibe_id']} {v.get('name', '')}".strip(), justify="right")
    table.add_row("tracks", *[f"{v['size']:,} ({v['share']:.0%})" for v in vibes])
    for f in features:
        digits = 1 if f in ("tempo", "loudness") else 3
        cells = [f"{_fmt(v['mean'][f], digits)} ({v['signature'][f]:+.1f})" for v in vibes]
        table.add_row(f, *cells)
    return table


def print_metrics(console: Console, manifest: dict, metrics: dict) -> None:
    """Everything an analyst needs from metrics.json, as tables and short lines."""
    name = manifest["name"]
    source = manifest["source"]
    label = source.get("label") or source.get("file")
    console.print(f"[bold]{name}[/bold] — {label}, {manifest['rows']['kept']:,} tracks, "
                  f"K={manifest['n_clusters']}")
    chosen = metrics.get("chosen_k") or {}
    if "k_loop" in metrics:
        console.print(k_loop_table(metrics["k_loop"], chosen.get("k"), metrics))
        console.print(f"[dim]{metrics['k_loop']['elbow_method']}[/dim]")
        separation = (((metrics.get("basis") or {}).get("figures") or {})
                      .get("k_loop.silhouette") or {}).get("separation")
        if separation:
            console.print(f"silhouette on a sample: {separation}")
    if chosen.get("reason"):
        console.print(chosen["reason"])
    if metrics.get("silhouette"):
        per_vibe = metrics["silhouette"]["per_vibe"]
        per = ", ".join(f"{v['vibe_id']}: {v['mean']:+.3f}" for v in per_vibe if v["size"])
        console.print(_with_basis(f"silhouette per vibe (chosen K): {per}", metrics,
                                  "silhouette"))
    names = {v["vibe_id"]: v["name"] for v in manifest["vibes"]}
    if metrics.get("profiles"):
        profiles = metrics["profiles"]
        for v in profiles["vibes"]:
            v.setdefault("name", names.get(v["vibe_id"], ""))
        console.print(profiles_table(profiles, manifest["features"]))
    if metrics.get("outliers"):
        o = metrics["outliers"]
        console.print(_with_basis(f"DBSCAN outliers: {o['n_outliers']:,} "
                                  f"({o['outlier_share']:.2%}), eps={o['eps']}, "
                                  f"min_samples={o['min_samples']}", metrics, "outliers"))
    if metrics.get("taxonomy"):
        t = metrics["taxonomy"]
        console.print(_with_basis(f"Ward taxonomy: ARI vs K-Means {t['ari_vs_kmeans']:.3f}, "
                                  f"cophenetic correlation {t['cophenetic_correlation']:.3f} "
                                  f"(on {t['cophenetic_sample_size']:,} of them)", metrics,
                                  "taxonomy"))
    if metrics.get("pca"):
        for reading in metrics["pca"]["readings"][:2]:
            console.print(_with_basis(f"PCA: {reading}", metrics, "pca"))
    if metrics.get("genres"):
        g = metrics["genres"]["primary_genre_vs_vibe"]
        console.print(_with_basis(f"primary genre vs vibe: NMI {g['nmi']:.3f}, ARI "
                                  f"{g['ari']:.3f} ({g['n_primary_genres']:,} genres)",
                                  metrics, "genres"))
    for key, space in (("genre_agreement", "nine features"),
                       ("genre_agreement_served", "served vectors, with era")):
        a = metrics.get(key)
        if not a:
            continue
        if "era_weight" in a:
            space = f"{space} W={a['era_weight']:g}"
        for metric in ("cosine", "euclidean"):
            if metric in a:
                s = a[metric]
                lift = "-" if s["lift"] is None else f"{s['lift']:.2f}x"
                console.print(_with_basis(
                    f"neighbour genre agreement@{a['n_neighbours']} ({metric}, {space}): "
                    f"{s['agreement']:.3f} vs random pairs {s['baseline']:.3f} (lift {lift})",
                    metrics, "genre_agreement"))
