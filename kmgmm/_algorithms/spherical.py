"""Spherical k-means (Dhillon & Modha, 2001): Lloyd's iteration on rows and
centres of unit norm, for every engine that runs Lloyd passes.

For unit rows x and unit centres c, ||x - c||^2 = 2 (1 - cos(x, c)): the
nearest centre of the Lloyd pass is the one of largest cosine, and its
inertia is twice the cosine objective.  The pass's per-cluster weighted sums
point in the direction that maximises a cluster's summed cosine, so the
centre step is the sums renormalised: no kernel of its own.
"""
import numpy as np

from .steps import relocate_empty_clusters, squared_shift, stop_reason

# Squared norms in this range are exact enough to normalise by directly.
SQ_SAFE = (1e-250, 1e250)


def unit_centers(sums, previous, dtype):
    """The per-cluster sums scaled to unit norm, in ``dtype``.

    A cluster whose sum is zero (empty, or rows that cancel exactly) keeps
    its previous centre.  The norm is taken about the largest coordinate, so
    neither tiny nor huge sums lose it.
    """
    sq = np.einsum("ij,ij->i", sums, sums)
    plain = (sq > SQ_SAFE[0]) & (sq < SQ_SAFE[1])
    centers = sums / np.sqrt(np.where(plain, sq, 1.0))[:, None]
    for c in np.flatnonzero(~plain):
        # Squares that may have vanished or overflowed: the norm about the
        # largest coordinate.
        top = np.max(np.abs(sums[c]))
        if top > 0:
            scaled = sums[c] / top
            centers[c] = scaled / np.sqrt(scaled @ scaled)
        else:
            centers[c] = previous[c]
    return centers.astype(dtype, copy=False)


def spherical_lloyd(engine, centers, *, max_iter, tol, verbose=0, callback=None):
    """Spherical k-means on ``engine`` (whose rows have unit norm) from unit
    ``centers``.

    Each iteration runs one Lloyd pass (labels: the largest cosine; the
    per-cluster weighted sums), relocates empty clusters as ``KMeans`` does
    (onto the rows of least cosine to their centres, ``_relocation``) and
    renormalises the sums.  It stops when a pass leaves every label
    unchanged (and relocated no cluster) or the squared centre shift is at most ``tol`` (absolute).
    ``callback(n_iter, objective, shift)`` is called after each iteration
    (``objective``: the weighted sum of 1 - cos of the pass).

    Returns (inertia, centers, n_iter), ``inertia`` the weighted sum of the
    squared Euclidean distances of the unit rows to their unit centres (twice
    the cosine objective) under the returned centres; the engine holds their
    labels.
    """
    centers = np.asarray(centers)
    centers = unit_centers(centers.astype(np.float64), centers, engine.dtype)
    report = bool(verbose) or callback is not None
    strict = False
    inertia = np.nan
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        sums, weights, inertia, n_changed = engine.lloyd_pass(centers, want_inertia=report)
        moves = relocate_empty_clusters(engine, centers, sums, weights)
        new_centers = unit_centers(sums, centers, engine.dtype)
        shift = squared_shift(new_centers, centers)
        if verbose:
            extra = f", {len(moves)} empty cluster(s) relocated" if moves else ""
            print(f"Iteration {n_iter}: objective (sum of 1 - cos) {inertia / 2:.6g}, "
                  f"centre shift {shift:.3g}{extra}")
        if callback is not None:
            callback(n_iter, float(inertia) / 2, shift)
        # A relocation moves centres the labels of this pass did not see.
        stop = stop_reason(n_iter, n_changed == 0 and not moves, shift, tol, verbose)
        centers = new_centers
        if stop:
            strict = stop == "strict"
            break
    if not (strict and report):
        # Labels and inertia of the returned centres (after strict
        # convergence they are the last pass's already).
        inertia = engine.assign(centers)
    return inertia, centers, n_iter
