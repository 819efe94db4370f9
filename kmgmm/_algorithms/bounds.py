"""Exact accelerated k-means: Hamerly's and Elkan's triangle-inequality bounds.

Each runs the iterations around its engine's passes exactly as ``lloyd``
does (same stopping rules, same empty-cluster relocation, same final
assignment), keeps the bounds valid when centres move (or jump, when an empty
cluster is relocated), and, for ``algorithm="auto"``, hands over to Lloyd
where the bounds do not pay.  Hamerly runs on every engine that keeps
per-row state (in memory, and on Dask with the state beside its block);
Elkan's n_samples x n_clusters bounds are for the in-memory engine.
"""
import numpy as np

from .._fit_events import logger
from .geometry import (
    FALLBACK_PASSES, FALLBACK_SHARE, FALLBACK_SHARE_AT_ONCE, NO_FALLBACK_WORK,
    TIGHTEN_COST, center_geometry, center_moves, half_separations, largest_other_move,
    row_work,
)
from .lloyd import lloyd
from .steps import end_iteration, relocate_empty_clusters


def _skipped(algorithm, evals, full):
    """The verbose line's account of a bound pass."""
    return (f"; {algorithm}: {evals} distance evaluations, "
            f"{100.0 * (full - evals) / full:.1f}% of Lloyd's {full} skipped")


def _summary(verbose, algorithm, total_evals, n_iter, full):
    if verbose:
        logger.info(f"{algorithm}: {total_evals} distance evaluations in {n_iter} iteration(s), "
              f"{100.0 * (n_iter * full - total_evals) / (n_iter * full):.1f}% of "
              "Lloyd's skipped.")


def hamerly(engine, centers, *, max_iter, tol, verbose=0, fallback=False,
            callback=None, status=None):
    """Run Hamerly's k-means on ``engine`` from ``centers``.

    Same contract and same results as ``lloyd`` (labels identical where no
    row is equidistant from two centres); returns (inertia, centers, n_iter).
    With ``fallback`` (``algorithm="auto"``), a run whose bounds do not pay
    (see NO_FALLBACK_WORK: heavily overlapping clusters, where few distances
    are much work) continues with Lloyd passes.  The switch depends on the
    data only, so results stay identical for any number of threads.
    """
    n_samples = engine.n_samples
    n_clusters, n_features = centers.shape
    full = n_samples * n_clusters
    centers = np.array(centers, dtype=engine.dtype, order="C")
    sums = np.empty((n_clusters, n_features))
    weights = np.empty(n_clusters)
    counts = np.empty(n_clusters, dtype=np.int64)
    move = np.zeros(n_clusters)
    lower_drop = np.zeros(n_clusters)
    half_sep = half_separations(centers, engine.local_threads)
    # The second pass follows the first moves of the centres, the largest:
    # tightening seldom clears a row then.  From the third pass on, the
    # previous pass tells (a pass that did not tighten counts the rows a
    # tightening would have cleared).
    tighten = False
    bad_passes = 0
    fallback = fallback and row_work(n_clusters, n_features, engine.dtype) < NO_FALLBACK_WORK
    exact = verbose > 0 or callback is not None   # the pass's inertia is reported
    relocated = []          # (cluster, row, label before) of the last relocation
    strict = False
    stop = None
    inertia = np.nan
    n_iter = 0
    total_evals = 0
    for n_iter in range(1, max_iter + 1):
        inertia, evals, changed, n_failed, n_clear = engine.hamerly_pass(
            centers, half_sep, move, lower_drop, sums, weights, counts,
            first=n_iter == 1, exact=exact, tighten=tighten)
        if n_iter > 1:
            # Tightening a failing row costs about TIGHTEN_COST distances
            # and saves n_clusters when it clears the row.
            tighten = n_clear * n_clusters >= TIGHTEN_COST * n_failed
        # Rows relocated last time were counted from their new cluster;
        # Lloyd counts them from the one they had in that pass.
        if relocated:
            now = engine.labels_at([row for _, row, _ in relocated])
            for (cluster, _, before), label in zip(relocated, now):
                changed += int(label != before) - int(label != cluster)
        relocated = []
        moves = []
        empty = counts == 0
        if empty.any():
            # Exactly empty (counts, not float weights): relocate as Lloyd
            # does, from the exact distances to the pass's centres.
            weights[empty] = 0.0
            sums[empty] = 0.0
            moves = relocate_empty_clusters(engine, centers, sums, weights)
        total_evals += evals
        new_centers, shift, stop = end_iteration(
            n_iter, centers, sums, weights, engine.dtype, inertia=inertia,
            labels_unchanged=changed == 0, n_moved=len(moves), tol=tol, verbose=verbose,
            callback=callback, detail=_skipped("hamerly", evals, full))
        move = center_moves(new_centers, centers)
        centers = new_centers
        if stop:
            strict = stop == "strict"
            break
        if fallback and n_iter >= 3:
            bad_passes = bad_passes + 1 if n_failed > FALLBACK_SHARE * n_samples else 0
            if n_iter == 3 and n_failed > FALLBACK_SHARE_AT_ONCE * n_samples:
                bad_passes = FALLBACK_PASSES
        if fallback and bad_passes >= FALLBACK_PASSES and n_iter < max_iter:
            _summary(verbose, "hamerly", total_evals, n_iter, full)
            if verbose:
                logger.info("The bounds skip too little on this data: Lloyd passes from here.")
            return lloyd(engine, centers, max_iter=max_iter, tol=tol, verbose=verbose,
                         callback=callback, first_iter=n_iter + 1, status=status)
        if moves:
            # A relocated row now belongs to its new cluster: keep the running
            # statistics consistent with the labels, and its bounds valid.
            before = engine.labels_at([row for _, row in moves])
            relocated = [(cluster, row, int(b)) for (cluster, row), b in zip(moves, before)]
            engine.move_rows(moves)
            sums, weights, counts = engine.cluster_statistics(n_clusters)
        half_sep = half_separations(centers, engine.local_threads)
        lower_drop = largest_other_move(move)
    _summary(verbose, "hamerly", total_evals, n_iter, full)
    if status is not None:
        status["stop"] = stop
    if not (strict and engine.keeps_labels):
        # One more assignment so that labels and inertia match the centres.
        inertia = engine.assign(centers)
    elif not (inertia == inertia):   # NaN: the last pass did not tighten every row
        inertia = engine.inertia_of_labels(centers)
    return inertia, centers, n_iter


def elkan(engine, centers, *, max_iter, tol, verbose=0, callback=None, status=None):
    """Run Elkan's k-means on the in-memory ``engine`` from ``centers``; the
    contract of ``lloyd``."""
    n_clusters = centers.shape[0]
    full = engine.n_samples * n_clusters
    centers = np.array(centers, dtype=engine.dtype, order="C")
    half_cc, half_sep = center_geometry(centers)
    drops = np.zeros((max_iter + 1, n_clusters))
    strict = False
    stop = None
    n_iter = 0
    total_evals = 0
    for n_iter in range(1, max_iter + 1):
        sums, weights, inertia, evals, changed = engine.elkan_pass(
            centers, half_sep, half_cc, drops, n_iter - 1, first=n_iter == 1)
        total_evals += evals
        moves = relocate_empty_clusters(engine, centers, sums, weights)
        new_centers, shift, stop = end_iteration(
            n_iter, centers, sums, weights, engine.dtype, inertia=inertia,
            labels_unchanged=changed == 0, n_moved=len(moves), tol=tol, verbose=verbose,
            callback=callback, detail=_skipped("elkan", evals, full))
        move = center_moves(new_centers, centers)
        centers = new_centers
        if stop:
            strict = stop == "strict"
            break
        half_cc, half_sep = center_geometry(centers, out=half_cc)
        drops[n_iter] = drops[n_iter - 1] + move
    _summary(verbose, "elkan", total_evals, n_iter, full)
    if status is not None:
        status["stop"] = stop
    if not strict:
        inertia = engine.assign(centers)
    return inertia, centers, n_iter
