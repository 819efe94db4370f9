"""The costly step of greedy k-means++ seeding, as one threaded pass over X.

For a few candidate centres, the weighted potential each would leave:
``sum_i w_i * min(closest_i, ||x_i - c||^2)``; optionally (one candidate)
also updating ``closest`` in place, or keeping every candidate's
``min(closest_i, ||x_i - c||^2)`` (then the chosen candidate's row is the
next ``closest``, without a second pass over X).  Distances are computed in float64 from a
float64 copy of each chunk (``||x||^2 - 2 x.c + ||c||^2``, clamped at 0), so
float32 data far from the origin keeps its precision.  Blocks of rows and
their partial sums are fixed by the data shape, so the result is bit-for-bit
the same for any number of threads.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid

from _kmgmm_common cimport LINE_DOUBLES, block_count, gemm_abt

cdef enum:
    # Rows per chunk: few candidates, so larger chunks amortise the gemm call.
    CHUNK = 1024


cdef void _potentials_chunk(
    const floating* X,          # IN (m, d)
    const floating* w,          # IN (m,)
    const double* x_sqnorms,    # IN (m,)
    double* closest,            # INOUT (m,) read; written when `write`
    Py_ssize_t m,
    int d,
    const double* C,            # IN (n_cand, d) candidates
    const double* c_sqnorms,    # IN (n_cand,)
    int n_cand,
    double* x64,                # SCRATCH (CHUNK, d)
    double* dots,               # SCRATCH (CHUNK, n_cand)
    double* acc,                # SCRATCH (n_cand,) this thread's own
    double* pot,                # INOUT (n_cand,)
    bint write,
    double* kept,               # OUT (n_cand, ld_kept) at the chunk's column, or NULL
    Py_ssize_t ld_kept,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j, l
    cdef double dist
    cdef const double* xd
    for j in range(n_cand):
        acc[j] = 0
    if floating is double:
        xd = X             # (float64 rows: the gemm reads them in place)
    else:
        for i in range(m * d):
            x64[i] = X[i]
        xd = x64
    gemm_abt(<int> m, n_cand, d, -2.0, xd, d, C, d, 0.0, dots, n_cand)
    for i in range(m):
        for j in range(n_cand):
            dist = dots[i * n_cand + j] + x_sqnorms[i] + c_sqnorms[j]
            if dist < 0:
                dist = 0   # rounding in the expansion
            if dist > closest[i]:
                dist = closest[i]
            acc[j] += w[i] * dist
            if write:
                closest[i] = dist
            if kept != NULL:
                kept[j * ld_kept + i] = dist
    # One write per chunk: blocks of other threads share pot's cache lines.
    for j in range(n_cand):
        pot[j] += acc[j]


def candidate_potentials(
    const floating[:, ::1] X,           # IN (n_samples, n_features)
    const floating[::1] sample_weight,  # IN (n_samples,)
    const double[::1] x_sqnorms,        # IN (n_samples,)
    double[::1] closest,                # INOUT (n_samples,)
    const double[:, ::1] candidates,    # IN (n_candidates, n_features)
    *,
    bint update_closest=False,
    double[:, :] kept=None,             # OUT (n_candidates, n_samples), rows contiguous
    int n_threads,
):
    """Potentials (n_candidates,) of each candidate; see the module docstring.

    With ``update_closest`` (one candidate only) ``closest`` becomes the
    element-wise minimum with the distances to that candidate.  With
    ``kept``, row j of it receives that minimum for candidate j (the same
    values, bit for bit, as ``update_closest`` with candidate j alone would
    leave in ``closest``); ``closest`` is not written.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int n_cand = <int> candidates.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t n_blocks = block_count(n_chunks, n_cand)
    cdef Py_ssize_t chunks_per_block = (n_chunks + n_blocks - 1) // n_blocks
    n_blocks = (n_chunks + chunks_per_block - 1) // chunks_per_block

    c_sqnorms_arr = np.einsum("ij,ij->i", np.asarray(candidates), np.asarray(candidates))
    cdef const double[::1] c_sqnorms = c_sqnorms_arr
    cdef double[:, ::1] x64 = np.empty((n_threads, CHUNK * d))
    cdef double[:, ::1] dots = np.empty((n_threads, CHUNK * n_cand))
    cdef double[:, ::1] acc = np.empty((n_threads, n_cand + LINE_DOUBLES))
    cdef double[:, ::1] block_pot = np.zeros((n_blocks, n_cand))
    cdef Py_ssize_t b, ch, row, m, ch_end
    cdef int tid
    cdef double* kept_ptr = NULL
    cdef Py_ssize_t ld_kept = 0
    if kept is not None:
        if kept.shape[0] != n_cand or kept.shape[1] != n:
            raise ValueError("kept must have shape (n_candidates, n_samples)")
        if n > 1 and kept.strides[1] != sizeof(double):
            raise ValueError("kept's rows must be contiguous")
        if n > 0:
            kept_ptr = &kept[0, 0]
            ld_kept = kept.strides[0] // sizeof(double)

    with nogil, parallel(num_threads=n_threads):
        for b in prange(n_blocks, schedule="dynamic"):
            tid = threadid()
            ch_end = (b + 1) * chunks_per_block
            if ch_end > n_chunks:
                ch_end = n_chunks
            for ch in range(b * chunks_per_block, ch_end):
                row = ch * CHUNK
                m = n - row
                if m > CHUNK:
                    m = CHUNK
                _potentials_chunk(
                    &X[row, 0], &sample_weight[row], &x_sqnorms[row], &closest[row],
                    m, d, &candidates[0, 0], &c_sqnorms[0], n_cand,
                    &x64[tid, 0], &dots[tid, 0], &acc[tid, 0], &block_pot[b, 0],
                    update_closest, kept_ptr + row if kept_ptr != NULL else NULL, ld_kept,
                )
    # Sum the blocks in block order.
    pot = np.array(block_pot[0])
    for b in range(1, n_blocks):
        pot += block_pot[b]
    return pot
