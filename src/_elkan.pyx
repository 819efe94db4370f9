"""One pass of Elkan's exact k-means: Lloyd's result, fewer distances.

Every row keeps a lower bound on its distance to each centre (``lower``,
n_samples x n_clusters, float32 rounded down: half the memory of double and
still a valid bound).  Bounds are brought up to date lazily: ``drops[t, j]``
is the total (inflated) move of centre j after pass t, and a row stamped
with pass t subtracts ``drops[now, j] - drops[t, j]`` only when it is
looked at.  A pass computes the exact distance ``u`` from each row to its
centre a; if ``u`` is below half the distance from a to its nearest other
centre the row is done without touching its bounds.  Otherwise each other
centre j is skipped when ``u`` is below its lower bound or below half the
distance between a and j; the rest are computed exactly, and the nearest
wins (ties to the lower index, as in Lloyd).  The first pass assigns with
the Lloyd pass's keys and derives every bound from them.

Chunks, blocks and the order of the sums are those of ``_lloyd.pyx``:
results are bit-for-bit identical for any number of threads.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport sqrt
from libc.string cimport memset

from _kmgmm_common cimport DIRECT_MAX_FEATURES, CHUNK, LINE_DOUBLES, block_count
from _bounds_common cimport (
    ROOT_SLACK, add_row, centre_norms, distance_keys, kmgmm_float_below, lower_from_key,
    sqdist, sqnorm,
)

include "_cpu.pxi"


cdef void _elkan_chunk(
    const floating* X,          # IN (m, d) the chunk's rows
    const floating* w,          # IN (m,)
    Py_ssize_t m,
    int d,
    const floating* centers,    # IN (k, d)
    const floating* c_sqnorm,   # IN (k,)
    int k,
    double c_norm_max,
    const double* half_sep,     # IN (k,) lower bound on half the distance to the nearest other centre
    const double* half_cc,      # IN (k, k) lower bounds on half the inter-centre distances
    const double* drops,        # IN (n_passes, k) cumulative inflated centre moves
    int now,
    bint first,
    bint direct,
    double eps,
    double rho,
    floating* xbuf,             # SCRATCH (CHUNK, d)
    floating* keys,             # SCRATCH (CHUNK, k)
    int* rows,                  # SCRATCH (CHUNK,)
    double* sq,                 # SCRATCH (CHUNK,)
    int* labels,                # INOUT (m,)
    float* lower,               # INOUT (m, k)
    int* stamp,                 # INOUT (m,)
    floating* min_sqdist,       # OUT (m,) or NULL
    double* sums,               # INOUT (k, d)
    double* wsum,               # INOUT (k,)
    double* acc,                # INOUT [inertia, distance evaluations, labels changed]
) noexcept nogil:
    cdef Py_ssize_t i, r
    cdef int j, l, a, best
    cdef double u, v, dsq, best_sq, kb, key, wi, xs
    cdef double evals = 0, changed = 0, inertia = 0
    cdef const floating* x
    cdef const double* d_now = drops + now * k
    cdef const double* d_then
    cdef float* lo

    if first:
        for r in range(m):
            rows[r] = <int> r
        distance_keys(X, d, rows, m, True, centers, c_sqnorm, k, direct, xbuf, keys)
        evals += m * k
        for i in range(m):
            x = X + i * d
            lo = lower + i * k
            best = 0
            kb = keys[i * k]
            for j in range(1, k):
                key = keys[i * k + j]
                if key < kb:
                    kb = key
                    best = j
            xs = 0 if direct else sqnorm(x, d)
            for j in range(k):
                lo[j] = kmgmm_float_below(
                    lower_from_key(keys[i * k + j], xs, d, direct, eps, c_norm_max))
            labels[i] = best
            stamp[i] = now
            sq[i] = sqdist(x, centers + best * d, d)
            changed += 1
    else:
        for i in range(m):
            x = X + i * d
            a = labels[i]
            best = a
            best_sq = sqdist(x, centers + a * d, d)
            evals += 1
            u = sqrt(best_sq) * (1.0 + rho)
            if u < half_sep[a]:
                sq[i] = best_sq
                continue
            lo = lower + i * k
            d_then = drops + stamp[i] * k
            for j in range(k):
                if j == best:
                    continue
                # The bound moved to this pass; the subtraction's rounding
                # is covered by a few ulps of the larger total.
                v = lo[j] - (d_now[j] - d_then[j]) - ROOT_SLACK * d_now[j]
                if u < v or u < half_cc[best * k + j]:
                    lo[j] = kmgmm_float_below(v) if v > 0 else 0.0
                    continue
                dsq = sqdist(x, centers + j * d, d)
                evals += 1
                lo[j] = kmgmm_float_below(sqrt(dsq) * (1.0 - rho))
                if dsq < best_sq or (dsq == best_sq and j < best):
                    # The old nearest becomes one of the others.
                    lo[best] = kmgmm_float_below(sqrt(best_sq) * (1.0 - rho))
                    best = j
                    best_sq = dsq
                    u = sqrt(best_sq) * (1.0 + rho)
            stamp[i] = now
            if best != a:
                changed += 1
                labels[i] = best
            sq[i] = best_sq

    # Statistics row by row, as the Lloyd pass adds them.
    for i in range(m):
        x = X + i * d
        best = labels[i]
        if min_sqdist != NULL:
            min_sqdist[i] = <floating> sq[i]
        wi = w[i]
        inertia += wi * sq[i]
        wsum[best] += wi
        add_row(sums + best * d, wi, x, d)
    acc[0] += inertia
    acc[1] += evals
    acc[2] += changed


def elkan_pass(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const floating[:, ::1] centers,        # IN (n_clusters, n_features)
    *,
    const double[::1] half_sep,            # IN (n_clusters,)
    const double[:, ::1] half_cc,          # IN (n_clusters, n_clusters)
    const double[:, ::1] drops,            # IN (n_passes, n_clusters)
    int now,
    int[::1] labels,                       # INOUT (n_samples,)
    float[:, ::1] lower,                   # INOUT (n_samples, n_clusters)
    int[::1] stamp,                        # INOUT (n_samples,)
    floating[::1] min_sqdist,              # OUT (n_samples,)
    double[:, ::1] sums,                   # OUT (n_clusters, n_features)
    double[::1] weights,                   # OUT (n_clusters,)
    bint first,
    int n_threads,
):
    """One Elkan pass; returns (inertia, distance evaluations, labels changed).

    ``first``: no bounds yet; every row is assigned in full and stamped
    ``now``.  Otherwise ``labels``, ``lower`` and ``stamp`` come from earlier
    passes; ``drops[t, j]`` is an upper bound on the total move of centre j
    from pass t to pass ``now`` minus that up to pass t (cumulative, row
    ``now`` the latest); ``half_sep`` and ``half_cc`` are lower bounds on
    half the inter-centre distances.  ``sums``/``weights`` are overwritten.
    Everything but X, the weights and the centres is passed by keyword.
    Inputs are trusted: C-contiguous, finite, matching shapes.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int k = <int> centers.shape[0]
    cdef bint direct = d <= DIRECT_MAX_FEATURES
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t n_blocks = block_count(n_chunks, k * d + k)
    cdef Py_ssize_t chunks_per_block = (n_chunks + n_blocks - 1) // n_blocks
    n_blocks = (n_chunks + chunks_per_block - 1) // chunks_per_block

    dtype = np.float32 if floating is float else np.float64
    cdef double eps = 2.0 ** -24 if floating is float else 2.0 ** -53
    cdef double rho = (d + 4) * 2.0 ** -53 + 4 * ROOT_SLACK
    c_sqnorm_arr, c_norm_max_obj = centre_norms(centers)
    cdef double c_norm_max = c_norm_max_obj
    cdef const floating[::1] c_sqnorm = c_sqnorm_arr
    cdef floating[:, ::1] xbuf = np.empty((n_threads, 1), dtype=dtype)
    cdef floating[:, ::1] keys = np.empty((n_threads, CHUNK * k if first else 1), dtype=dtype)
    cdef int[:, ::1] rows = np.empty((n_threads, CHUNK), dtype=np.intc)
    cdef double[:, ::1] sq = np.empty((n_threads, CHUNK), dtype=np.float64)
    cdef double[:, :, ::1] block_sums = np.empty((n_blocks, k, d), dtype=np.float64)
    cdef double[:, ::1] block_wsum = np.empty((n_blocks, k), dtype=np.float64)
    # (three accumulators per block, on a cache line of their own)
    cdef double[:, ::1] block_acc = np.zeros((n_blocks, LINE_DOUBLES), dtype=np.float64)

    cdef Py_ssize_t b, ch, row, m, ch_end
    cdef int j, l, tid
    cdef double inertia = 0, evals = 0, changed = 0

    with nogil, parallel(num_threads=n_threads):
        for b in prange(n_blocks, schedule="dynamic"):
            tid = threadid()
            memset(&block_sums[b, 0, 0], 0, k * d * sizeof(double))
            memset(&block_wsum[b, 0], 0, k * sizeof(double))
            ch_end = (b + 1) * chunks_per_block
            if ch_end > n_chunks:
                ch_end = n_chunks
            for ch in range(b * chunks_per_block, ch_end):
                row = ch * CHUNK
                m = n - row
                if m > CHUNK:
                    m = CHUNK
                _elkan_chunk(
                    &X[row, 0], &sample_weight[row], m, d,
                    &centers[0, 0], &c_sqnorm[0], k, c_norm_max,
                    &half_sep[0], &half_cc[0, 0], &drops[0, 0], now, first, direct,
                    eps, rho, &xbuf[tid, 0], &keys[tid, 0], &rows[tid, 0], &sq[tid, 0],
                    &labels[row], &lower[row, 0], &stamp[row], &min_sqdist[row],
                    &block_sums[b, 0, 0], &block_wsum[b, 0], &block_acc[b, 0],
                )

    with nogil:
        for j in prange(k, num_threads=n_threads, schedule="static"):
            for l in range(d):
                sums[j, l] = 0
            weights[j] = 0
            for b in range(n_blocks):
                for l in range(d):
                    sums[j, l] += block_sums[b, j, l]
                weights[j] += block_wsum[b, j]
    for b in range(n_blocks):
        inertia += block_acc[b, 0]
        evals += block_acc[b, 1]
        changed += block_acc[b, 2]
    return inertia, int(evals), int(changed)
