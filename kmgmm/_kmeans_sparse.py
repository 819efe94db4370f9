"""k-means on a CSR matrix: Lloyd's iterations over ``src/_sparse_lloyd.pyx``.

X is never densified: only the centres, the per-cluster sums (both
n_clusters x n_features) and a few rows at a time are dense.  The loop is
the dense ``_kmeans.lloyd`` step for step (stopping rules, empty-cluster
relocation, the final assignment), so a sparse fit gives the dense fit's
result up to rounding.
"""
import numpy as np

from . import _sparse_lloyd
from ._kmeans import end_iteration, relocate_empty_clusters


def csr_arrays(X):
    """(data, indices as C int, indptr as intp) of a canonical CSR matrix."""
    indices = np.asarray(X.indices, dtype=np.intc)
    indptr = np.asarray(X.indptr, dtype=np.intp)
    return X.data, indices, indptr


def sparse_row_sqnorms(X):
    data, _, indptr = csr_arrays(X)
    return _sparse_lloyd.sparse_row_sqnorms(data, indptr)


def sparse_assign(X, sample_weight, centers, labels, min_sqdist, n_threads,
                  x_sqnorms=None):
    """Labels (and squared distances) of every row; returns the inertia."""
    data, indices, indptr = csr_arrays(X)
    if x_sqnorms is None:
        x_sqnorms = _sparse_lloyd.sparse_row_sqnorms(data, indptr)
    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    return _sparse_lloyd.sparse_assign(data, indices, indptr, sample_weight, x_sqnorms,
                                       centers, labels, min_sqdist, n_threads)


def sparse_weighted_mean_variance(X, sample_weight):
    """Mean over features of the weighted variance of a CSR X (float64).

    Per feature, ``sum_i w_i (x_i - m)^2`` is the sum over the non-zeros of
    ``w_i ((x_i - m)^2 - m^2)`` plus ``W m^2``: no raw second moment.
    """
    w = sample_weight.astype(np.float64, copy=False)
    total = w.sum()
    mean = np.asarray(X.T @ w, dtype=np.float64).ravel() / total
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    m = mean[X.indices]
    contrib = w[rows] * ((X.data.astype(np.float64) - m) ** 2 - m * m)
    var = np.bincount(X.indices, weights=contrib, minlength=X.shape[1]) + total * mean**2
    return float(np.mean(var / total))


def sparse_distances(X, centers, dtype):
    """Euclidean distances (n_samples, n_clusters) from a CSR X to dense centres."""
    C = np.asarray(centers, dtype=np.float64)
    c_sqnorms = np.einsum("ij,ij->i", C, C)
    x_sqnorms = sparse_row_sqnorms(X)
    out = np.empty((X.shape[0], C.shape[0]), dtype=dtype)
    step = 4096
    for start in range(0, X.shape[0], step):
        block = X[start:start + step]
        d = np.asarray(block @ C.T, dtype=np.float64)
        d *= -2.0
        d += x_sqnorms[start:start + step, None]
        d += c_sqnorms
        np.maximum(d, 0.0, out=d)
        out[start:start + step] = np.sqrt(d)
    return out


def sparse_lloyd(X, sample_weight, centers, *, max_iter, tol, n_threads, verbose=0,
                 callback=None):
    """Lloyd's algorithm on a CSR X from dense ``centers``; see ``_kmeans.lloyd``."""
    n_samples = X.shape[0]
    n_clusters, n_features = centers.shape
    data, indices, indptr = csr_arrays(X)
    x_sqnorms = _sparse_lloyd.sparse_row_sqnorms(data, indptr)
    centers = np.array(centers, dtype=X.dtype, order="C")
    labels = np.full(n_samples, -1, dtype=np.int32)
    labels_old = np.full(n_samples, -1, dtype=np.int32)
    min_sqdist = np.empty(n_samples, dtype=X.dtype)
    sums = np.empty((n_clusters, n_features), dtype=np.float64)
    weights = np.empty(n_clusters, dtype=np.float64)
    strict = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        inertia = _sparse_lloyd.sparse_assign(data, indices, indptr, sample_weight,
                                              x_sqnorms, centers, labels, min_sqdist,
                                              n_threads)
        _sparse_lloyd.sparse_cluster_sums(data, indices, indptr, sample_weight, labels,
                                          sums, weights, n_threads)
        n_moved = relocate_empty_clusters(X, sample_weight, labels, min_sqdist,
                                          sums, weights)
        centers, shift, stop = end_iteration(
            n_iter, centers, sums, weights, X.dtype, inertia=inertia,
            labels_unchanged=np.array_equal(labels, labels_old), n_moved=n_moved,
            tol=tol, verbose=verbose, callback=callback)
        if stop:
            strict = stop == "strict"
            break
        labels, labels_old = labels_old, labels
    if not strict:
        empty = np.empty(0, dtype=X.dtype)
        inertia = _sparse_lloyd.sparse_assign(data, indices, indptr, sample_weight,
                                              x_sqnorms, centers, labels, empty,
                                              n_threads)
    return labels, inertia, centers, n_iter
