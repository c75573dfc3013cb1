"""How the K-loop's figures are put into words: the K each criterion prefers and whether it
agrees with the K the product uses (the K itself is a product decision, never changed here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vibemap.indexer.validation.kloop import KLoopResult


def choose_k(result: KLoopResult, requested_k: int = 4) -> tuple[int, str]:
    """Keep the requested K and say, in plain words, what each criterion prefers.

    The K is never changed here: the product's K is a product decision (default 4). The
    reason states which K each criterion prefers and whether it agrees with the requested
    K, so nobody reads the metrics as supporting a K they do not support.

    Returns
    -------
    (int, str)
        ``requested_k`` and the explanation.
    """
    if requested_k < 2:
        raise ValueError(f"requested_k must be >= 2, got {requested_k}")
    prefs = [
        ("the elbow of the inertia curve", result.elbow_k),
        ("the silhouette (higher is better)", result.best_silhouette_k),
        ("Davies-Bouldin (lower is better)", result.best_davies_bouldin_k),
        ("Calinski-Harabasz (higher is better)", result.best_calinski_harabasz_k),
    ]
    ks = result.k_values
    span = f"K={ks[0]}..{ks[-1]}" if len(ks) > 1 else f"K={ks[0]}"
    said = []
    for name, k in prefs:
        said.append(f"{name} shows no clear elbow" if k is None else f"{name} prefers K={k}")
    parts = [f"Using K={requested_k} as requested.", f"Over {span}: " + "; ".join(said) + "."]
    if requested_k not in ks:
        parts.append(f"K={requested_k} itself was not evaluated, so no metric speaks for it.")
        return requested_k, " ".join(parts)

    agree = [name.split(" (")[0] for name, k in prefs if k == requested_k]
    if not agree:
        parts.append(f"None of the four criteria prefers K={requested_k}.")
    elif len(agree) == len(prefs):
        parts.append(f"All four criteria agree with K={requested_k}.")
    else:
        parts.append(
            f"Agreeing with K={requested_k}: {', '.join(agree)}; "
            f"the other {len(prefs) - len(agree)} prefer a different K."
        )
    m = result.for_k(requested_k)
    parts.append(
        f"At K={requested_k}: silhouette {m.silhouette:.3f}, Davies-Bouldin "
        f"{m.davies_bouldin:.3f}, Calinski-Harabasz {m.calinski_harabasz:.0f}."
    )
    return requested_k, " ".join(parts)
