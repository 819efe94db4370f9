"""Nearest-centre assignment of rows to given centres, conditioned as the
centres need it: what ``predict``, ``score``, mixture initialisation and the
block tasks of every engine share."""
import numpy as np

from . import _kernels
from ._blocks import row_blocks
from ._conditioning import distances, for_centers, for_data, weighted_moments
from ._validation import check_finite

# Rows per block when assigning transformed data: the float64 temporary of a
# block stays near 32 MB whatever the number of features.
ASSIGN_BLOCK_VALUES = 1 << 22


def assign(X, sample_weight, centers, labels, n_threads):
    """Label every row with its nearest centre; return the weighted inertia."""
    return _kernels.lloyd.lloyd_pass(X, sample_weight, centers, labels,
                                     n_threads=n_threads)


def assign_conditioned(X, sample_weight, centers, cond, labels, n_threads):
    """``assign`` of the rows of X under the conditioning ``cond``, a block of
    rows at a time; the inertia is returned in X's units."""
    if cond.identity:
        C = np.ascontiguousarray(centers, dtype=X.dtype)
        inertia = None
        for sl, rows in row_blocks(X):     # X whole, or the blocks of a BlockRows
            part = assign(rows, sample_weight[sl], C, labels[sl], n_threads)
            inertia = part if inertia is None else inertia + part
        return inertia
    C = np.ascontiguousarray(cond.to_model(centers), dtype=X.dtype)
    rows = max(1024, ASSIGN_BLOCK_VALUES // X.shape[1])
    inertia = 0.0
    for start in range(0, X.shape[0], rows):
        sl = slice(start, start + rows)
        inertia += assign(cond.transform_block(X[sl], X.dtype), sample_weight[sl], C,
                          labels[sl], n_threads)
    return inertia * cond.squared_factor()


def nearest_labels(X, centers, n_threads, sample_weight=None):
    """Index of the nearest of ``centers`` for every row of dense X (conditioned
    by the centres as ``KMeans.predict`` is), and the weighted inertia."""
    labels = np.empty(X.shape[0], dtype=np.int32)
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0], dtype=X.dtype)
    inertia = assign_conditioned(X, sample_weight, centers,
                                 for_centers(centers, X.dtype), labels, n_threads)
    return labels, inertia


def _nearest(X, sample_weight, centers, cond, labels, n_threads, want_inertia):
    C = np.ascontiguousarray(cond.to_model(centers), dtype=X.dtype)
    inertia, finite = _kernels.infer.nearest(
        X, C, labels, sample_weight=sample_weight, shift=cond.shift, scale=cond.scale,
        want_inertia=want_inertia, n_threads=n_threads)
    return inertia * cond.squared_factor(), finite


def predict_labels(X, centers, n_threads, *, sample_weight=None, want_inertia=True):
    """Index of the nearest of ``centers`` for every row of dense X (a
    C-contiguous float array) and, when ``want_inertia``, the weighted
    inertia in X's units (else NaN): what ``KMeans.predict`` and ``score``
    compute.

    X is conditioned as the centres need it (``for_centers``), a piece of
    rows at a time inside the kernel; ``sample_weight`` None means unit
    weights (none are allocated).  X need not have been checked for NaN or
    infinity: a row whose distances are not finite makes this check X
    (``check_finite``'s ValueError), and, X being finite (the squares
    overflowed: rows far beyond the centres' extent), assign it again
    conditioned by its own extent.
    """
    labels = np.empty(X.shape[0], dtype=np.int32)
    vectors = _kernels.infer.vectors_on()
    if not vectors:
        check_finite(X, "X")      # (the portable pass does not report it)

    def unit_weights():
        return (np.ones(X.shape[0], dtype=X.dtype) if sample_weight is None
                else sample_weight)

    def run(cond):
        if vectors:
            return _nearest(X, sample_weight, centers, cond, labels, n_threads,
                            want_inertia)
        inertia = assign_conditioned(X, unit_weights(), centers, cond, labels, n_threads)
        return inertia, np.isfinite(inertia)

    inertia, finite = run(for_centers(centers, X.dtype))
    if not finite:
        check_finite(X, "X")
        inertia = run(for_data(weighted_moments(X, unit_weights()), X.dtype))[0]
    return labels, (inertia if want_inertia else float("nan"))


def center_distances(X, centers, n_threads):
    """Euclidean distances (n_samples, n_clusters) from the rows of dense X
    (a C-contiguous float array) to ``centers``, in X's dtype: what
    ``KMeans.transform`` returns.

    Each distance comes from the differences of the coordinates (no
    ``||x||^2 - 2 x.c + ||c||^2`` expansion, so nothing cancels however far
    the data sit from the origin, and a row equal to a centre is at 0), with
    X conditioned as the centres need it (``for_centers``; the scale keeps
    the squares finite) a piece of rows at a time inside the kernel.  Rows
    whose distances are still not finite are checked for NaN and infinity
    (``check_finite``'s ValueError) and, being finite, computed again in
    float64 (``_conditioning.distances``).
    """
    if not _kernels.infer.vectors_on():
        check_finite(X, "X")
        return distances(X, centers)
    cond = for_centers(centers, X.dtype)
    C = np.ascontiguousarray(cond.to_model(centers), dtype=X.dtype)
    out = np.empty((X.shape[0], C.shape[0]), dtype=X.dtype)
    if not _kernels.infer.distances(X, C, out, shift=cond.shift, scale=cond.scale,
                                    n_threads=n_threads):
        check_finite(X, "X")
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
        out[bad] = distances(X[bad], centers)
    return out
