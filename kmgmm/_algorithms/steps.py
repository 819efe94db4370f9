"""What every k-means algorithm does between two passes: the new centres from
the pass's statistics, the report, the stop rule, and the relocation of empty
clusters onto rows the engine chooses."""
import numpy as np

from .._fit_events import logger


def centers_from_sums(sums, weights, previous, dtype):
    """New centres: weighted means; a cluster still empty keeps its centre."""
    centers = np.array(previous, dtype=np.float64)
    filled = weights > 0
    centers[filled] = sums[filled] / weights[filled, None]
    return centers.astype(dtype, copy=False)


def squared_shift(new, old, rows=64):
    """Total squared move of the centres, a few rows at a time.

    No temporary as large as the centres (with text-like data they are as
    large as X itself).
    """
    total = 0.0
    for start in range(0, new.shape[0], rows):
        diff = new[start:start + rows].astype(np.float64) - old[start:start + rows]
        total += float(np.einsum("ij,ij->", diff, diff))
    return total


def end_iteration(n_iter, centers, sums, weights, dtype, *, inertia, labels_unchanged,
                  n_moved, tol, verbose, callback, detail=""):
    """What every k-means loop does after a pass: the new centres from the
    pass's statistics, the report (``detail`` is appended to the verbose
    line), the callback, and the stop rule.

    Returns (new_centers, shift, stop) with ``stop`` as from ``stop_reason``,
    or "callback" when the callback returned True.
    """
    new_centers = centers_from_sums(sums, weights, centers, dtype)
    shift = squared_shift(new_centers, centers)
    if verbose:
        extra = f", {n_moved} empty cluster(s) relocated" if n_moved else ""
        logger.info(f"Iteration {n_iter}: inertia {inertia:.6g}, "
              f"centre shift {shift:.3g}{extra}{detail}")
    if callback is not None and callback(n_iter, float(inertia), shift) is True:
        if verbose:
            logger.info(f"Stopped at iteration {n_iter}: the callback asked to.")
        return new_centers, shift, "callback"
    return new_centers, shift, stop_reason(n_iter, labels_unchanged, shift, tol, verbose)


def stop_reason(n_iter, labels_unchanged, shift, tol, verbose):
    """Why k-means iterations stop after iteration ``n_iter``, if they do.

    "strict" when no label changed, "tol" when the squared centre shift is
    at most ``tol``, else None; with ``verbose`` the reason is printed.
    """
    if labels_unchanged:
        if verbose:
            logger.info(f"Converged at iteration {n_iter}: strict convergence.")
        return "strict"
    if shift <= tol:
        if verbose:
            logger.info(f"Converged at iteration {n_iter}: centre shift {shift:.3g} "
                  f"within tolerance {tol:.3g}.")
        return "tol"
    return None


def relocate_empty_clusters(engine, centers, sums, weights):
    """Move each empty cluster onto a row the engine picks for it.

    Works on the pass's statistics in place: the chosen row's weighted value
    leaves its old cluster's sums and becomes the empty cluster's.  Which rows
    (the farthest from their centres, under the rules of ``_relocation``) is
    the engine's ``relocation_rows``.  Returns the (cluster, row) moves.
    """
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return []
    picked = engine.relocation_rows(centers, empty.size)
    moves = []
    for cluster, (row, old, w, x) in zip(empty, picked):
        wx = w * x
        if weights[old] > w:
            sums[old] -= wx
            weights[old] -= w
        sums[cluster] = wx
        weights[cluster] = w
        moves.append((int(cluster), int(row)))
    return moves
