"""One Lloyd pass of k-means: nearest centre for every row and, in the same
pass, the weighted per-cluster sums, weights and the inertia.

float32 and float64 come from one fused source; sums, weights and inertia are
accumulated in float64 whatever the data dtype.  Rows are cut into chunks of
CHUNK rows.  A chunk goes through the vector kernels of
``kmgmm_lloyd_simd.h``, in the copy for the CPU level chosen at import
(``kmgmm_cpu.h``): a register-blocked micro-kernel that finds the nearest
centre by ``||c||^2 - 2 x.c`` without storing the distances, or, for at most
DIRECT_MAX_FEATURES features, exact distances with rows across the vector
lanes.  In a build without vector extensions a chunk's distances come from
one gemm, or from a direct loop when there are very few features.  Chunks are grouped into
blocks (see ``_kmgmm_common.block_count``): each block is done by one thread
and owns partial statistics, which are added in block order afterwards, so
every output is bit-for-bit identical for any number of threads.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.string cimport memcpy, memset

from _kmgmm_common cimport DIRECT_MAX_FEATURES, CHUNK, block_count, gemm_abt

from _lloyd_simd cimport (
    kmgmm_argmin_f32, kmgmm_argmin_f64, kmgmm_direct_f32, kmgmm_direct_f64,
    kmgmm_finish_f32, kmgmm_finish_f64, simd_layout,
)

include "_cpu.pxi"


cdef double _assign_chunk(
    const floating* X,          # IN (m, d) the chunk's rows
    const floating* w,          # IN (m,) sample weights
    Py_ssize_t m,
    int d,
    const floating* centers,    # IN (k, d)
    const floating* c_sqnorm,   # IN (k,) squared norms of the centres
    int k,
    floating* dots,             # SCRATCH (m, k), unused on the direct path
    bint direct,
    int* labels,                # OUT (m,)
    floating* min_sqdist,       # OUT (m,) or NULL
    double* sums,               # INOUT (k, d) or NULL when not updating
    double* wsum,               # INOUT (k,)   or NULL when not updating
) noexcept nogil:
    """Assign the chunk's rows; return the chunk's weighted inertia."""
    cdef Py_ssize_t i
    cdef int j, l, best
    cdef floating dist, best_dist, diff, x_l
    cdef double sq, wi, inertia = 0
    cdef const floating* x
    cdef const floating* c

    if not direct:
        # dots[i, j] = -2 x_i . c_j
        gemm_abt(<int> m, k, d, -2.0, X, d, centers, d, 0.0, dots, k)

    for i in range(m):
        x = X + i * d
        best = 0
        if direct:
            best_dist = 0
            for l in range(d):
                diff = x[l] - centers[l]
                best_dist = best_dist + diff * diff
            for j in range(1, k):
                c = centers + j * d
                dist = 0
                for l in range(d):
                    diff = x[l] - c[l]
                    dist = dist + diff * diff
                if dist < best_dist:
                    best_dist = dist
                    best = j
        else:
            best_dist = dots[i * k] + c_sqnorm[0]
            for j in range(1, k):
                dist = dots[i * k + j] + c_sqnorm[j]
                if dist < best_dist:
                    best_dist = dist
                    best = j
        labels[i] = best

        # The exact squared distance to the chosen centre (the gemm form
        # cancels badly for points far from the origin).
        c = centers + best * d
        sq = 0
        for l in range(d):
            diff = x[l] - c[l]
            sq = sq + <double> diff * diff
        if min_sqdist != NULL:
            min_sqdist[i] = <floating> sq
        wi = w[i]
        inertia += wi * sq
        if sums != NULL:
            wsum[best] += wi
            for l in range(d):
                sums[best * d + l] += wi * x[l]
    return inertia


cdef inline long long _count_changed(
    const int* labels,       # IN (m,)
    const int* old,          # IN (m,)
    Py_ssize_t m,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef long long n = 0
    for i in range(m):
        n += labels[i] != old[i]
    return n


def lloyd_pass(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const floating[:, ::1] centers,        # IN (n_clusters, n_features)
    int[::1] labels,                       # OUT (n_samples,)
    *,
    floating[::1] min_sqdist=None,         # OUT (n_samples,)
    double[:, ::1] sums=None,              # OUT (n_clusters, n_features)
    double[::1] weights=None,              # OUT (n_clusters,)
    bint want_inertia=True,
    long long[::1] n_changed=None,         # OUT (1,)
    int n_threads,
):
    """Assign every row to its nearest centre; return the weighted inertia.

    Given ``sums`` and ``weights`` (both or neither), the pass writes the
    weighted per-cluster sums of X and the per-cluster total weights
    (overwritten, not added to).  ``min_sqdist``, when given, receives each
    row's squared distance to its centre.  Inputs are trusted: C-contiguous,
    finite, of matching shapes, n_threads >= 1.

    ``want_inertia=False`` (without ``min_sqdist``) lets a pass that only
    needs labels and sums skip the exact distances where that saves time;
    the returned value is then NaN, or the inertia where it came for free.
    ``n_changed``, a one-element int64 array, receives the number of rows
    whose label differs from the value ``labels`` held before the pass (so a
    caller that keeps one labels buffer learns of convergence without
    comparing two arrays).
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int k = <int> centers.shape[0]
    if (sums is None) != (weights is None):
        raise ValueError("lloyd_pass: give both sums and weights, or neither")
    cdef bint update = sums is not None
    cdef bint want_dist = min_sqdist is not None
    cdef bint direct = d <= DIRECT_MAX_FEATURES
    cdef bint simd = _use_vectors
    cdef int want_sq = want_inertia or want_dist
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t stat_doubles = (k * d + k) if update else 0
    cdef Py_ssize_t n_blocks = block_count(n_chunks, stat_doubles)
    cdef Py_ssize_t chunks_per_block = (n_chunks + n_blocks - 1) // n_blocks
    n_blocks = (n_chunks + chunks_per_block - 1) // chunks_per_block

    dtype = np.float32 if floating is float else np.float64
    c_sqnorm_arr = np.einsum("ij,ij->i", np.asarray(centers), np.asarray(centers))
    cdef const floating[::1] c_sqnorm = c_sqnorm_arr.astype(dtype, copy=False)
    cdef floating[:, ::1] dots = np.empty(
        (n_threads, 1 if (direct or simd) else CHUNK * k), dtype=dtype)
    cdef double[:, :, ::1] block_sums = np.empty(
        (n_blocks if update else 0, k, d), dtype=np.float64)
    cdef double[:, ::1] block_wsum = np.empty(
        (n_blocks if update else 0, k), dtype=np.float64)
    cdef double[::1] block_inertia = np.zeros(n_blocks, dtype=np.float64)
    cdef bint count = n_changed is not None
    cdef long long[::1] block_changed = np.zeros(n_blocks, dtype=np.int64)
    cdef int[:, ::1] old_chunk = np.empty((n_threads, CHUNK if count else 1),
                                          dtype=np.intc)

    cdef int lanes, kp = 0
    cdef floating[::1] centers_t
    cdef floating[::1] csq_pad
    cdef floating[:, ::1] minv, mini, best
    if simd and not direct:
        centers_t, csq_pad, lanes = simd_layout(centers, c_sqnorm_arr)
        kp = csq_pad.shape[0]
        minv = np.empty((n_threads, CHUNK * lanes), dtype=dtype)
        mini = np.empty((n_threads, CHUNK * lanes), dtype=dtype)
        best = np.empty((n_threads, CHUNK), dtype=dtype)

    cdef Py_ssize_t b, b2, ch, row, m, ch_end, r0, mr
    # rows per micro-kernel call: at most 256 KiB of X (a function of the shape)
    cdef Py_ssize_t piece = max(8, min(CHUNK, (256 << 10) // (d * sizeof(floating))))
    cdef int j, l
    cdef double* sums_b
    cdef double* wsum_b
    cdef floating* dist_ptr
    cdef int t
    cdef double inertia = 0

    with nogil, parallel(num_threads=n_threads):
        for b in prange(n_blocks, schedule="dynamic"):
            sums_b = NULL
            wsum_b = NULL
            if update:
                sums_b = &block_sums[b, 0, 0]
                wsum_b = &block_wsum[b, 0]
                memset(sums_b, 0, k * d * sizeof(double))
                memset(wsum_b, 0, k * sizeof(double))
            ch_end = (b + 1) * chunks_per_block
            if ch_end > n_chunks:
                ch_end = n_chunks
            for ch in range(b * chunks_per_block, ch_end):
                row = ch * CHUNK
                m = n - row
                if m > CHUNK:
                    m = CHUNK
                dist_ptr = NULL
                if want_dist:
                    dist_ptr = &min_sqdist[row]
                t = threadid()
                # (the direct SIMD kernels count changed labels themselves)
                if count and not (simd and direct):
                    memcpy(&old_chunk[t, 0], &labels[row], m * sizeof(int))
                if simd and direct:
                    if floating is float:
                        block_inertia[b] += kmgmm_direct_f32(
                            &X[row, 0], &sample_weight[row], m, d, &centers[0, 0], k,
                            &labels[row], dist_ptr, sums_b, wsum_b, want_sq,
                            &block_changed[b] if count else NULL)
                    else:
                        block_inertia[b] += kmgmm_direct_f64(
                            &X[row, 0], &sample_weight[row], m, d, &centers[0, 0], k,
                            &labels[row], dist_ptr, sums_b, wsum_b, want_sq,
                            &block_changed[b] if count else NULL)
                elif simd:
                    # in pieces of at most `piece` rows, so that the finishing
                    # sweep finds the rows still in cache
                    r0 = row
                    while r0 < row + m:
                        mr = row + m - r0
                        if mr > piece:
                            mr = piece
                        if want_dist:
                            dist_ptr = &min_sqdist[r0]
                        if floating is float:
                            kmgmm_argmin_f32(&X[r0, 0], mr, d, &centers_t[0], kp,
                                             &csq_pad[0], &minv[t, 0], &mini[t, 0],
                                             &labels[r0], &best[t, 0])
                            block_inertia[b] += kmgmm_finish_f32(
                                &X[r0, 0], &sample_weight[r0], mr, d, &centers[0, 0],
                                &labels[r0], dist_ptr, sums_b, wsum_b, want_sq)
                        else:
                            kmgmm_argmin_f64(&X[r0, 0], mr, d, &centers_t[0], kp,
                                             &csq_pad[0], &minv[t, 0], &mini[t, 0],
                                             &labels[r0], &best[t, 0])
                            block_inertia[b] += kmgmm_finish_f64(
                                &X[r0, 0], &sample_weight[r0], mr, d, &centers[0, 0],
                                &labels[r0], dist_ptr, sums_b, wsum_b, want_sq)
                        r0 = r0 + mr
                else:
                    block_inertia[b] += _assign_chunk(
                        &X[row, 0], &sample_weight[row], m, d,
                        &centers[0, 0], &c_sqnorm[0], k,
                        &dots[t, 0], direct,
                        &labels[row], dist_ptr, sums_b, wsum_b,
                    )
                if count and not (simd and direct):
                    block_changed[b] += _count_changed(&labels[row], &old_chunk[t, 0], m)

        # Reduce the blocks in block order: each cluster is owned by one
        # thread.  In the same parallel region (one fork and join per pass,
        # which matters when the cores are shared with other work).
        if update:
            for j in prange(k, schedule="static"):
                for l in range(d):
                    sums[j, l] = 0
                weights[j] = 0
                for b2 in range(n_blocks):
                    for l in range(d):
                        sums[j, l] += block_sums[b2, j, l]
                    weights[j] += block_wsum[b2, j]
    if count:
        n_changed[0] = 0
        for b in range(n_blocks):
            n_changed[0] += block_changed[b]
    if simd and not want_sq:
        return float("nan")
    for b in range(n_blocks):
        inertia += block_inertia[b]
    return inertia
