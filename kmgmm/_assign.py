"""Nearest-centre assignment of rows to given centres, conditioned as the
centres need it: what ``predict``, ``score``, mixture initialisation and the
block tasks of every engine share."""
import numpy as np

from . import _kernels
from ._blocks import row_blocks
from ._conditioning import for_centers

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
