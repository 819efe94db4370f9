"""k-means passes over a CSR matrix, never densifying it (centres are dense).

``sparse_assign``: nearest centre and squared distance of every row, from
``||x||^2 - 2 x.c + ||c||^2`` with the dot products over the row's non-zeros
against the centres stored transposed (n_features, n_clusters), so the inner
loop runs over clusters contiguously.  Everything is accumulated in double,
each dot product over the row's non-zeros in order.  With vector kernels
(``kmgmm_sparse.h``, compiled per CPU level like the dense ones) the dot
products of up to eight vectors of centres stay in registers through the
row; the portable loop keeps them in memory.

``sparse_cluster_sums``: the weighted per-cluster sums and weights.  Each
thread owns a contiguous range of clusters and adds, in row order, the rows
labelled with them: every sum is formed in row order whatever the number of
threads, and no thread needs a private (n_clusters, n_features) copy, which
for text-like data would be far larger than X.

``sparse_candidate_potentials``, ``sparse_row_sqnorms`` and
``sparse_projection`` serve k-means++ seeding (see ``kmgmm/_algorithms/seeding.py``): the
first with fixed blocks of rows added in block order, the last two summing
each row's non-zeros in column order, which gives the same bits as the dense
computations that add zeros in between.

Inputs are trusted: canonical CSR (sorted indices, no duplicates), int32
column indices, intp row pointers, finite values, matching shapes.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid

from _kmgmm_common cimport LINE_DOUBLES, block_count

include "_cpu.pxi"

cdef extern from "kmgmm_sparse.h":
    int kmgmm_sparse_keys_f32(const float* data, const int* indices,
                              const Py_ssize_t* indptr, Py_ssize_t start, Py_ssize_t stop,
                              const double* CT, int kp, const double* csq, int* labels,
                              double* best_key) noexcept nogil
    int kmgmm_sparse_keys_f64(const double* data, const int* indices,
                              const Py_ssize_t* indptr, Py_ssize_t start, Py_ssize_t stop,
                              const double* CT, int kp, const double* csq, int* labels,
                              double* best_key) noexcept nogil

cdef enum:
    # Rows per block of parallel work in ``sparse_assign`` and
    # ``sparse_candidate_potentials``.  Blocks are handed out dynamically:
    # rows of CSR data differ widely in their numbers of non-zeros, and
    # small blocks keep the threads evenly loaded, while a block's own cost
    # (one partial inertia or one row of partial potentials) stays
    # negligible at this size.  The partial results are added in block
    # order, so this constant fixes the order of those sums: changing it
    # changes the results' last bits (never their dependence on the thread
    # count).  It is not the 4096-row block of the Python side, which only
    # bounds the size of a float64 temporary.
    SPARSE_BLOCK_ROWS = 1024


cdef inline void _row_dots(
    const floating* data,       # IN CSR values
    const int* indices,         # IN CSR column indices
    Py_ssize_t start,           # the row's non-zeros: start..stop
    Py_ssize_t stop,
    const double* centers_t,    # IN (n_features, stride) centres, transposed
    int stride,
    int k,                      # the first k columns of centers_t
    double* dots,               # OUT (k,)
) noexcept nogil:
    """One row's dot products with k transposed centres, each over the row's
    non-zeros in order."""
    cdef Py_ssize_t v
    cdef int j
    cdef double xv
    cdef const double* ct
    for j in range(k):
        dots[j] = 0
    for v in range(start, stop):
        xv = data[v]
        ct = centers_t + <Py_ssize_t> indices[v] * stride
        for j in range(k):
            dots[j] += xv * ct[j]


cdef void _assign_rows(
    const floating* data,       # IN CSR values
    const int* indices,         # IN CSR column indices
    const Py_ssize_t* indptr,   # IN CSR row pointers
    const floating* w,          # IN (n_samples,)
    const double* x_sqnorms,    # IN (n_samples,)
    Py_ssize_t start,
    Py_ssize_t stop,
    const double* centers_t,    # IN (n_features, kp) the centres, transposed
    const double* c_sqnorms,    # IN (kp,)
    int k,
    int kp,                     # k padded for the vector kernel (+inf keys past k)
    bint simd,                  # the vector kernel of the module's level
    double* dots,               # SCRATCH (max(k, SPARSE_BLOCK_ROWS),)
    int* labels,                # OUT (n_samples,)
    floating* min_sqdist,       # OUT (n_samples,) or NULL
    double* inertia,            # INOUT
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j, best
    cdef double key, best_key, sq, acc = 0
    if simd:
        # the best keys of the block's rows land in dots
        if floating is float:
            kmgmm_sparse_keys_f32(data, indices, indptr, start, stop, centers_t, kp,
                                  c_sqnorms, labels, dots)
        else:
            kmgmm_sparse_keys_f64(data, indices, indptr, start, stop, centers_t, kp,
                                  c_sqnorms, labels, dots)
    for i in range(start, stop):
        if simd:
            best_key = dots[i - start]
        else:
            _row_dots(data, indices, indptr[i], indptr[i + 1], centers_t, kp, k, dots)
            best = 0
            best_key = c_sqnorms[0] - 2 * dots[0]
            for j in range(1, k):
                key = c_sqnorms[j] - 2 * dots[j]
                if key < best_key:
                    best_key = key
                    best = j
            labels[i] = best
        sq = x_sqnorms[i] + best_key
        if sq < 0:
            sq = 0   # rounding in the expansion
        if min_sqdist != NULL:
            min_sqdist[i] = <floating> sq
        acc += w[i] * sq
    inertia[0] += acc


def sparse_assign(
    const floating[::1] data,              # IN (nnz,)
    const int[::1] indices,                # IN (nnz,)
    const Py_ssize_t[::1] indptr,          # IN (n_samples + 1,)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const double[::1] x_sqnorms,           # IN (n_samples,)
    const floating[:, ::1] centers,        # IN (n_clusters, n_features)
    int[::1] labels,                       # OUT (n_samples,)
    *,
    floating[::1] min_sqdist=None,         # OUT (n_samples,)
    int n_threads,
):
    """Assign every row to its nearest centre; return the weighted inertia.

    ``min_sqdist``, when given, receives each row's squared distance to its
    centre."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int k = <int> centers.shape[0]
    cdef bint want_dist = min_sqdist is not None
    cdef Py_ssize_t n_blocks = (n + SPARSE_BLOCK_ROWS - 1) // SPARSE_BLOCK_ROWS
    cdef bint simd = _use_vectors
    # the vector kernel reads the centres in vectors of up to 8 float64: k
    # padded to a multiple of 8 with zero centres whose keys are +inf
    cdef int kp = (k + 7) // 8 * 8 if simd else k
    C64 = np.asarray(centers, dtype=np.float64)
    ct_pad = np.zeros((C64.shape[1], kp))
    ct_pad[:, :k] = C64.T
    csq_pad = np.full(kp, np.inf)
    csq_pad[:k] = np.einsum("ij,ij->i", C64, C64)
    cdef const double[:, ::1] centers_t = ct_pad
    cdef const double[::1] c_sqnorms = csq_pad
    cdef double[:, ::1] dots = np.empty(
        (n_threads, max(k, SPARSE_BLOCK_ROWS if simd else 0) + LINE_DOUBLES))
    cdef double[::1] block_inertia = np.zeros(max(n_blocks, 1))
    cdef Py_ssize_t b, stop
    cdef floating* dist_ptr = NULL
    cdef double inertia = 0
    if want_dist:
        dist_ptr = &min_sqdist[0]

    with nogil, parallel(num_threads=n_threads):
        for b in prange(n_blocks, schedule="dynamic"):
            stop = (b + 1) * SPARSE_BLOCK_ROWS
            if stop > n:
                stop = n
            _assign_rows(&data[0], &indices[0], &indptr[0], &sample_weight[0],
                         &x_sqnorms[0], b * SPARSE_BLOCK_ROWS, stop, &centers_t[0, 0],
                         &c_sqnorms[0], k, kp, simd, &dots[threadid(), 0], &labels[0],
                         dist_ptr, &block_inertia[b])
    for b in range(n_blocks):
        inertia += block_inertia[b]
    return inertia


def sparse_cluster_sums(
    const floating[::1] data,              # IN (nnz,)
    const int[::1] indices,                # IN (nnz,)
    const Py_ssize_t[::1] indptr,          # IN (n_samples + 1,)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const int[::1] labels,                 # IN (n_samples,)
    *,
    double[:, ::1] sums,                   # OUT (n_clusters, n_features)
    double[::1] weights,                   # OUT (n_clusters,)
    int n_threads,
):
    """Weighted per-cluster sums and weights, each formed in row order."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int k = <int> sums.shape[0]
    cdef Py_ssize_t d = sums.shape[1]
    cdef int n_parts = n_threads if n_threads < k else k
    cdef Py_ssize_t i, v, l
    cdef int p, lo, hi, lab
    cdef double wi
    cdef double* s
    with nogil:
        for p in prange(n_parts, num_threads=n_threads, schedule="static"):
            lo = <int> ((<Py_ssize_t> k * p) // n_parts)
            hi = <int> ((<Py_ssize_t> k * (p + 1)) // n_parts)
            for lab in range(lo, hi):
                s = &sums[lab, 0]
                for l in range(d):
                    s[l] = 0
                weights[lab] = 0
            for i in range(n):
                lab = labels[i]
                if lab < lo or lab >= hi:
                    continue
                wi = sample_weight[i]
                weights[lab] += wi
                s = &sums[lab, 0]
                for v in range(indptr[i], indptr[i + 1]):
                    s[indices[v]] += wi * data[v]


def sparse_row_sqnorms(
    const floating[::1] data,              # IN (nnz,)
    const Py_ssize_t[::1] indptr,          # IN (n_samples + 1,)
):
    """Squared norm of every row in double, non-zeros added in column order."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    cdef Py_ssize_t i, v
    cdef double acc, xv
    with nogil:
        for i in range(n):
            acc = 0
            for v in range(indptr[i], indptr[i + 1]):
                xv = data[v]
                acc += xv * xv
            out[i] = acc
    return out_arr


def sparse_projection(
    const floating[::1] data,              # IN (nnz,)
    const int[::1] indices,                # IN (nnz,)
    const Py_ssize_t[::1] indptr,          # IN (n_samples + 1,)
    const double[::1] direction,           # IN (n_features,)
):
    """x . direction for every row, one product at a time in column order."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    cdef Py_ssize_t i, v
    cdef double acc
    with nogil:
        for i in range(n):
            acc = 0
            for v in range(indptr[i], indptr[i + 1]):
                acc = acc + <double> data[v] * direction[indices[v]]
            out[i] = acc
    return out_arr


cdef void _potentials_rows(
    const floating* data,
    const int* indices,
    const Py_ssize_t* indptr,
    const floating* w,
    const double* x_sqnorms,
    double* closest,            # INOUT (n_samples,) written when `write`
    Py_ssize_t start,
    Py_ssize_t stop,
    const double* cand_t,       # IN (n_features, n_cand) candidates, transposed
    const double* c_sqnorms,    # IN (n_cand,)
    int n_cand,
    double* dots,               # SCRATCH (n_cand,)
    double* pot,                # OUT (n_cand,) this block's potentials
    bint write,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j
    cdef double dist
    for j in range(n_cand):
        pot[j] = 0
    for i in range(start, stop):
        _row_dots(data, indices, indptr[i], indptr[i + 1], cand_t, n_cand, n_cand, dots)
        for j in range(n_cand):
            dist = x_sqnorms[i] - 2 * dots[j] + c_sqnorms[j]
            if dist < 0:
                dist = 0   # rounding in the expansion
            if dist > closest[i]:
                dist = closest[i]
            pot[j] += w[i] * dist
            if write:
                closest[i] = dist


def sparse_candidate_potentials(
    const floating[::1] data,              # IN (nnz,)
    const int[::1] indices,                # IN (nnz,)
    const Py_ssize_t[::1] indptr,          # IN (n_samples + 1,)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const double[::1] x_sqnorms,           # IN (n_samples,)
    double[::1] closest,                   # INOUT (n_samples,)
    const double[:, ::1] candidates,       # IN (n_candidates, n_features)
    *,
    bint update_closest=False,
    int n_threads,
):
    """The sparse twin of ``kmgmm._kernels.seeding.candidate_potentials``."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int n_cand = <int> candidates.shape[0]
    cdef Py_ssize_t n_blocks = (n + SPARSE_BLOCK_ROWS - 1) // SPARSE_BLOCK_ROWS
    C = np.asarray(candidates)
    cdef const double[:, ::1] cand_t = np.ascontiguousarray(C.T)
    cdef const double[::1] c_sqnorms = np.einsum("ij,ij->i", C, C)
    cdef double[:, ::1] dots = np.empty((n_threads, n_cand + LINE_DOUBLES))
    cdef double[:, ::1] block_pot = np.zeros((max(n_blocks, 1), n_cand + LINE_DOUBLES))
    cdef Py_ssize_t b, stop
    with nogil, parallel(num_threads=n_threads):
        for b in prange(n_blocks, schedule="dynamic"):
            stop = (b + 1) * SPARSE_BLOCK_ROWS
            if stop > n:
                stop = n
            _potentials_rows(&data[0], &indices[0], &indptr[0], &sample_weight[0],
                             &x_sqnorms[0], &closest[0], b * SPARSE_BLOCK_ROWS, stop,
                             &cand_t[0, 0], &c_sqnorms[0], n_cand,
                             &dots[threadid(), 0], &block_pot[b, 0], update_closest)
    pot = np.zeros(n_cand)
    for b in range(n_blocks):
        pot += block_pot[b, :n_cand]
    return pot
