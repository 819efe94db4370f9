"""Kernels that more than one algorithm uses, and the build's OpenMP facts.

``cluster_statistics``: the weighted per-cluster sums, weights and counts of
given labels, with the arithmetic of the Hamerly pass's running statistics
(``_cluster_stats.pxd``).  ``label_sqdist``: every row's squared distance to
its labelled centre.  ``row_sqnorms``: every row's squared norm.  Distances
and norms are those of the bound passes (``kmgmm_sqdist.h``, accumulated in
float64).  Every result is the same for any number of threads.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange

from _kmgmm_common cimport kmgmm_openmp_enabled, kmgmm_omp_max_threads
from _bounds_common cimport row_sqnorms_into, sqdist
from _cluster_stats cimport clear_clusters, move_rows

include "_cpu.pxi"

cdef extern from "kmgmm_cpu.h":
    int kmgmm_cpu_best_level() noexcept nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(kmgmm_openmp_enabled())


def cpu_best_level():
    """The widest CPU level of kmgmm_cpu.h this CPU and build run (0, 1, 2)."""
    return kmgmm_cpu_best_level()


def have_vectors():
    """False for a build without vector extensions (the portable loops run)."""
    return kmgmm_have_vectors() != 0


def omp_max_threads():
    """The OpenMP runtime's current thread limit (1 without OpenMP)."""
    return kmgmm_omp_max_threads()


def cluster_statistics(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const int[::1] labels,                 # IN (n_samples,) in [0, n_clusters)
    *,
    double[:, ::1] sums,                   # OUT (n_clusters, n_features)
    double[::1] weights,                   # OUT (n_clusters,)
    long long[::1] counts,                 # OUT (n_clusters,) rows of positive weight
    int n_threads,
):
    """Weighted per-cluster sums, weights and counts of the given labels.

    The arithmetic of the running statistics (rows added in row order, each
    cluster by one thread), so the result is the same for any thread count.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int k = <int> sums.shape[0]
    cdef int p, lo, hi
    cdef int n_parts = n_threads if n_threads < k else k
    if n == 0:
        return
    with nogil:
        for p in prange(n_parts, num_threads=n_threads, schedule="static"):
            lo = <int> ((<Py_ssize_t> k * p) // n_parts)
            hi = <int> ((<Py_ssize_t> k * (p + 1)) // n_parts)
            clear_clusters(lo, hi, d, &sums[0, 0], &weights[0], &counts[0])
            move_rows(&X[0, 0], &sample_weight[0], &labels[0], NULL, NULL, n, d, lo, hi,
                      &sums[0, 0], &weights[0], &counts[0])


def row_sqnorms(const floating[:, ::1] X, *, int n_threads):
    """Squared norm of every row, accumulated in float64."""
    out_arr = np.empty(X.shape[0], dtype=np.float64)
    cdef double[::1] out = out_arr
    row_sqnorms_into(X, out, n_threads)
    return out_arr


def label_sqdist(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[:, ::1] centers,        # IN (n_clusters, n_features)
    const int[::1] labels,                 # IN (n_samples,)
    *,
    floating[::1] out=None,                # OUT (n_samples,); allocated when None
    int n_threads,
):
    """Squared distance from every row to its own centre (double accumulation),
    in the data's dtype; returns ``out``."""
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef Py_ssize_t i
    if out is None:
        out = np.empty(n, dtype=np.float32 if floating is float else np.float64)
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            out[i] = <floating> sqdist(&X[i, 0], &centers[labels[i], 0], d)
    return np.asarray(out)
