"""One pass of Hamerly's exact k-means: Lloyd's result, fewer distances.

Every row keeps one lower bound on its distance to every centre other than
its own (``lower``).  A pass first computes the exact distance ``u`` from the
row to its current centre (needed anyway for the inertia); when ``u`` is
below both the lower bound (decreased by the farthest move of any other
centre) and half the distance from its centre to the nearest other centre,
no other centre can be nearer and the row keeps its label.  The other rows
are assigned exactly as the Lloyd pass does (same keys: one gemm over the
gathered rows, or the direct loop for very few features) and get a new lower
bound from the second-smallest key.

Bounds must remain bounds under rounding: every distance carries a relative
error allowance, lower bounds are rounded down and ``u`` up (see
``_bounds_common.pxd``), and the centre moves are inflated by the caller.

Rows, chunks and blocks are those of ``_lloyd.pyx``, and the per-cluster
sums are added row by row within a block and block by block afterwards, so
the results are bit-for-bit identical for any number of threads (and the
sums equal the Lloyd pass's whenever the labels do).
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport sqrt, INFINITY
from libc.string cimport memset

from _kmgmm_common cimport CHUNK, block_count
from _bounds_common cimport (
    ROOT_SLACK, add_row, distance_keys, lower_from_key, sqdist,
)

# Up to this many features the keys come from a direct loop (as in _lloyd).
DIRECT_MAX_FEATURES = 4


cdef void _hamerly_chunk(
    const floating* X,          # IN (m, d) the chunk's rows
    const floating* w,          # IN (m,)
    Py_ssize_t m,
    int d,
    const floating* centers,    # IN (k, d)
    const floating* c_sqnorm,   # IN (k,)
    int k,
    double c_norm_max,
    const double* half_sep,     # IN (k,) lower bound on half the distance to the nearest other centre
    const double* lower_drop,   # IN (k,) how much a row's lower bound falls, by its label
    bint first,
    bint direct,
    double eps,                 # unit roundoff of the dtype
    double rho,                 # relative error allowance of an exact distance
    floating* xbuf,             # SCRATCH (CHUNK, d)
    floating* keys,             # SCRATCH (CHUNK, k)
    int* rows,                  # SCRATCH (CHUNK,)
    double* sq,                 # SCRATCH (CHUNK,)
    int* labels,                # INOUT (m,)
    double* lower,              # INOUT (m,)
    floating* min_sqdist,       # OUT (m,) or NULL
    double* sums,               # INOUT (k, d)
    double* wsum,               # INOUT (k,)
    double* acc,                # INOUT [inertia, distance evaluations, labels changed]
) noexcept nogil:
    cdef Py_ssize_t i, r, n_rows = 0
    cdef int j, l, a, best
    cdef double lo, bound, kb, ks, key, wi
    cdef double evals = 0, changed = 0, inertia = 0
    cdef const floating* x
    cdef const floating* row_keys

    for i in range(m):
        if first:
            rows[n_rows] = <int> i
            n_rows += 1
            continue
        a = labels[i]
        sq[i] = sqdist(X + i * d, centers + a * d, d)
        evals += 1
        lo = lower[i] - lower_drop[a]
        lo = lo * (1.0 - ROOT_SLACK) if lo > 0 else lo
        lower[i] = lo
        bound = lo if lo > half_sep[a] else half_sep[a]
        if sqrt(sq[i]) * (1.0 + rho) < bound:
            continue
        rows[n_rows] = <int> i
        n_rows += 1

    if n_rows > 0:
        distance_keys(X, d, rows, n_rows, n_rows == m, centers, c_sqnorm, k,
                      direct, xbuf, keys)
        evals += n_rows * k
        for r in range(n_rows):
            i = rows[r]
            x = X + i * d
            row_keys = keys + r * k
            best = 0
            kb = row_keys[0]
            ks = INFINITY
            for j in range(1, k):
                key = row_keys[j]
                if key < kb:
                    ks = kb
                    kb = key
                    best = j
                elif key < ks:
                    ks = key
            if first or best != labels[i]:
                changed += 1
                sq[i] = sqdist(x, centers + best * d, d)
                labels[i] = best
            if k == 1:
                lower[i] = INFINITY
            else:
                lower[i] = lower_from_key(ks, x, d, direct, eps, c_norm_max)

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


def hamerly_pass(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const floating[:, ::1] centers,        # IN (n_clusters, n_features)
    const double[::1] half_sep,            # IN (n_clusters,)
    const double[::1] lower_drop,          # IN (n_clusters,)
    int[::1] labels,                       # INOUT (n_samples,)
    double[::1] lower,                     # INOUT (n_samples,)
    floating[::1] min_sqdist,              # OUT (n_samples,)
    double[:, ::1] sums,                   # OUT (n_clusters, n_features)
    double[::1] weights,                   # OUT (n_clusters,)
    bint first,
    int n_threads,
):
    """One Hamerly pass; returns (inertia, distance evaluations, labels changed).

    ``first``: no bounds yet, every row is assigned in full (labels and
    lower are written).  Otherwise ``labels`` and ``lower`` come from the
    previous pass, ``half_sep[a]`` is a lower bound on half the distance
    from centre a to its nearest other centre and ``lower_drop[a]`` an upper
    bound on the largest move of a centre other than a since that pass.
    ``sums``/``weights`` are overwritten with the weighted per-cluster sums
    and weights.  Inputs are trusted: C-contiguous, finite, matching shapes.
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
    C64 = np.asarray(centers, dtype=np.float64)
    c_sqnorm_arr = np.einsum("ij,ij->i", np.asarray(centers), np.asarray(centers))
    cdef double c_norm_max = float(np.sqrt(np.einsum("ij,ij->i", C64, C64).max()))
    cdef const floating[::1] c_sqnorm = c_sqnorm_arr.astype(dtype, copy=False)
    cdef floating[:, ::1] xbuf = np.empty((n_threads, 1 if direct else CHUNK * d), dtype=dtype)
    cdef floating[:, ::1] keys = np.empty((n_threads, CHUNK * k), dtype=dtype)
    cdef int[:, ::1] rows = np.empty((n_threads, CHUNK), dtype=np.intc)
    cdef double[:, ::1] sq = np.empty((n_threads, CHUNK), dtype=np.float64)
    cdef double[:, :, ::1] block_sums = np.empty((n_blocks, k, d), dtype=np.float64)
    cdef double[:, ::1] block_wsum = np.empty((n_blocks, k), dtype=np.float64)
    cdef double[:, ::1] block_acc = np.zeros((n_blocks, 8), dtype=np.float64)

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
                _hamerly_chunk(
                    &X[row, 0], &sample_weight[row], m, d,
                    &centers[0, 0], &c_sqnorm[0], k, c_norm_max,
                    &half_sep[0], &lower_drop[0], first, direct, eps, rho,
                    &xbuf[tid, 0], &keys[tid, 0], &rows[tid, 0], &sq[tid, 0],
                    &labels[row], &lower[row], &min_sqdist[row],
                    &block_sums[b, 0, 0], &block_wsum[b, 0], &block_acc[b, 0],
                )

    # Reduce the blocks in block order: each cluster is owned by one thread.
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
