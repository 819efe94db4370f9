"""One EM pass for a Gaussian mixture: log-densities, responsibilities and,
in the same pass, the sufficient statistics the M-step needs.

Rows are cut into chunks (``em_chunk_rows``) and chunks into blocks of
parallel work (``_kmgmm_common.block_count``); each block owns partial
statistics that Python adds in block order, so every output is bit-for-bit
identical for any number of threads.  float32 and float64 come from one fused
source; statistics and log-likelihoods are accumulated in float64.

Every chunk is first centred on a fixed ``shift`` (the data's mean), so the
gemm expansions below never see the data's offset from the origin.  The
means enter centred on the same shift.

Log-densities, for component j (``log_norm[j]`` holds log weight + log-det of
the precision Cholesky factor - d/2 log 2 pi):

* FULL   ``G = Xc @ [P_1 .. P_k]`` (one gemm); ``maha = ||G_j - b_j||^2``
         with ``b_j = mu_j @ P_j``.
* TIED   ``G = Xc @ P``; ``maha = ||G||^2 - 2 G.b_j + ||b_j||^2`` (gemm).
* DIAG   ``maha = [Xc^2, Xc] @ B_j + const_j`` with ``B_j = [p_j^2, -2 mu_j p_j^2]``
         (one gemm); spherical and fixed variances are passed as diag.

Responsibilities come from a row log-sum-exp shifted by the row maximum
(``-inf`` guarded); in hard mode they are one-hot at the most likely
component.  The statistics are accumulated about the component means given
(the previous means), never as raw second moments:

* ``nk[j]      = sum_i w_i r_ij``
* ``s1[j]      = sum_i w_i r_ij (x_i - mu_j)``
* ``s2``       FULL: ``s2[j] = sum_i w_i r_ij (x_i - mu_j)(x_i - mu_j)^T``;
               TIED: the sum of those over j (one matrix);
               DIAG: ``s2[j, l] = sum_i w_i r_ij (x_il - mu_jl)^2``;
               NONE: not computed.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport exp, log, INFINITY
from libc.string cimport memset
from scipy.linalg.cython_blas cimport sgemm, dgemm

from _kmgmm_common cimport block_count, gemm_abt, gemm_atb

cdef enum:
    FULL = 0
    TIED = 1
    DIAG = 2
    NONE = 3   # log-densities like DIAG, no second moments (fixed variance)

COV_CODES = {"full": FULL, "tied": TIED, "diag": DIAG, "spherical": DIAG,
             "fixed": NONE}

# Floating-point elements of the widest per-chunk scratch (the FULL gemm's
# m x (k d) output); rows per chunk follow from it.
cdef Py_ssize_t _SCRATCH = 1 << 16


def em_chunk_rows(Py_ssize_t n_components, Py_ssize_t n_features):
    """Rows per chunk: a function of the model's shape only."""
    cdef Py_ssize_t width = n_components * n_features
    if width < 2 * n_features:
        width = 2 * n_features
    if width < n_components:
        width = n_components
    cdef Py_ssize_t m = _SCRATCH // width
    if m < 64:
        m = 64
    if m > 1024:
        m = 1024
    return m


cdef void _log_prob_chunk(
    const floating* X,          # IN (m, d) the chunk's rows
    Py_ssize_t m, int d, int k, int ctype,
    const double* shift,        # IN (d,)
    const floating* prec,       # IN FULL (d, k d); TIED (d, d); DIAG (k, 2 d)
    const floating* b,          # IN FULL/TIED (k, d)
    const double* const_k,      # IN (k,) ||b_j||^2 (TIED) or const_j (DIAG)
    const double* log_norm,     # IN (k,)
    floating* xc,               # OUT (m, d) the centred rows
    floating* G,                # SCRATCH (m, max(k d, 2 d))
    floating* H,                # SCRATCH (m, k)
    double* logp,               # OUT (m, k)
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j, l, kd = k * d
    cdef double acc, diff, g
    cdef const floating* row
    cdef floating* gi
    for i in range(m):
        for l in range(d):
            xc[i * d + l] = <floating> (X[i * d + l] - shift[l])

    if ctype == FULL:
        # G (m, k d) = xc (m, d) @ prec (d, k d)
        gemm_ab(<int> m, kd, d, xc, d, prec, kd, G, kd)
        for i in range(m):
            gi = G + i * kd
            for j in range(k):
                acc = 0
                for l in range(d):
                    diff = gi[j * d + l] - b[j * d + l]
                    acc = acc + diff * diff
                logp[i * k + j] = log_norm[j] - 0.5 * acc
    elif ctype == TIED:
        gemm_ab(<int> m, d, d, xc, d, prec, d, G, d)
        gemm_abt(<int> m, k, d, <floating> 1.0, G, d, b, d, <floating> 0.0, H, k)
        for i in range(m):
            acc = 0
            for l in range(d):
                g = G[i * d + l]
                acc = acc + g * g
            for j in range(k):
                g = acc - 2.0 * H[i * k + j] + const_k[j]
                if g < 0:
                    g = 0   # rounding in the expansion
                logp[i * k + j] = log_norm[j] - 0.5 * g
    else:
        for i in range(m):
            for l in range(d):
                g = xc[i * d + l]
                G[i * 2 * d + l] = <floating> (g * g)
                G[i * 2 * d + d + l] = xc[i * d + l]
        gemm_abt(<int> m, k, 2 * d, <floating> 1.0, G, 2 * d, prec, 2 * d,
                 <floating> 0.0, H, k)
        for i in range(m):
            for j in range(k):
                g = H[i * k + j] + const_k[j]
                if g < 0:
                    g = 0   # rounding in the expansion
                logp[i * k + j] = log_norm[j] - 0.5 * g


cdef inline void gemm_ab(
    int m, int n, int kk,
    const floating* A,     # IN (m, kk) row-major, leading dimension lda
    int lda,
    const floating* B,     # IN (kk, n) row-major, leading dimension ldb
    int ldb,
    floating* C,           # OUT (m, n) row-major, leading dimension ldc
    int ldc,
) noexcept nogil:
    """C = A @ B for row-major arrays."""
    # Row-major C = A B is column-major C^T = B^T A^T: no transposes.
    cdef char tn = b'N'
    cdef floating one = 1.0
    cdef floating zero = 0.0
    if floating is float:
        sgemm(&tn, &tn, &n, &m, &kk, &one, <float*> B, &ldb, <float*> A, &lda,
              &zero, C, &ldc)
    else:
        dgemm(&tn, &tn, &n, &m, &kk, &one, <double*> B, &ldb, <double*> A, &lda,
              &zero, C, &ldc)


cdef double _responsibilities_chunk(
    double* logp,               # INOUT (m, k): log-densities in, w_i r_ij out
    const floating* w,          # IN (m,)
    Py_ssize_t m, int k,
    bint hard,
    double* lse_out,            # OUT (m,) or NULL
    int* labels_out,            # OUT (m,) or NULL
) noexcept nogil:
    """Turn log-densities into weighted responsibilities; return sum w lse."""
    cdef Py_ssize_t i
    cdef int j, best
    cdef double mx, s, lse, wi, total = 0
    cdef double* lp
    for i in range(m):
        lp = logp + i * k
        best = 0
        mx = lp[0]
        for j in range(1, k):
            if lp[j] > mx:
                mx = lp[j]
                best = j
        wi = w[i]
        if mx == -INFINITY:
            # Every component has zero density here: no responsibility.
            lse = -INFINITY
            for j in range(k):
                lp[j] = 0
        elif hard:
            lse = mx
            for j in range(k):
                lp[j] = 0
            lp[best] = wi
        else:
            s = 0
            for j in range(k):
                lp[j] = exp(lp[j] - mx)
                s = s + lp[j]
            lse = mx + log(s)
            s = wi / s
            for j in range(k):
                lp[j] = lp[j] * s
        if lse_out != NULL:
            lse_out[i] = lse
        if labels_out != NULL:
            labels_out[i] = best
        if wi != 0:
            total += wi * lse
    return total


cdef void _stats_chunk(
    const floating* xc,         # IN (m, d) centred rows
    const double* wr,           # IN (m, k) weighted responsibilities
    Py_ssize_t m, int d, int k, int ctype,
    const floating* mu,         # IN (k, d) centred means (the shift of the moments)
    floating* D,                # SCRATCH (m, d)
    floating* E,                # SCRATCH (m, d)
    floating* S_tmp,            # SCRATCH (d, d)
    double* nk,                 # INOUT (k,)
    double* s1,                 # INOUT (k, d)
    double* s2,                 # INOUT see the module docstring
) noexcept nogil:
    cdef Py_ssize_t i, t, nt
    cdef int j, l, q
    cdef double r, diff
    cdef double* s2_j
    cdef double* s1_j
    cdef const floating* mu_j
    cdef const floating* x

    if ctype == FULL or ctype == TIED:
        for j in range(k):
            mu_j = mu + j * d
            s1_j = s1 + j * d
            # Gather the rows with a non-zero responsibility: all of them for
            # soft assignments of overlapping components, few in hard mode.
            nt = 0
            for i in range(m):
                r = wr[i * k + j]
                if r == 0:
                    continue
                nk[j] += r
                x = xc + i * d
                for l in range(d):
                    diff = x[l] - mu_j[l]
                    D[nt * d + l] = <floating> diff
                    E[nt * d + l] = <floating> (r * diff)
                    s1_j[l] += r * diff
                nt = nt + 1
            if nt == 0:
                continue
            s2_j = s2 + (j * d * d if ctype == FULL else 0)
            # S_tmp (d, d) = E^T @ D over the gathered rows.
            gemm_atb(d, d, <int> nt, <floating> 1.0, E, d, D, d, <floating> 0.0,
                     S_tmp, d)
            for l in range(d * d):
                s2_j[l] += S_tmp[l]
    else:
        for i in range(m):
            x = xc + i * d
            for j in range(k):
                r = wr[i * k + j]
                if r == 0:
                    continue
                nk[j] += r
                mu_j = mu + j * d
                s1_j = s1 + j * d
                if ctype == DIAG:
                    s2_j = s2 + j * d
                    for l in range(d):
                        diff = x[l] - mu_j[l]
                        s1_j[l] += r * diff
                        s2_j[l] += r * diff * diff
                else:
                    for l in range(d):
                        s1_j[l] += r * (x[l] - mu_j[l])


def em_pass(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const double[::1] shift,               # IN (n_features,)
    int ctype,
    const floating[:, ::1] prec,           # IN see the module docstring
    const floating[:, ::1] b,              # IN (k, d) (FULL/TIED; else unused)
    const floating[:, ::1] mu,             # IN (k, d) centred means
    const double[::1] const_k,             # IN (k,)
    const double[::1] log_norm,            # IN (k,)
    bint hard,
    double[::1] nk,                        # OUT (k,) or empty: no statistics
    double[:, ::1] s1,                     # OUT (k, d) or empty
    double[::1] s2,                        # OUT flat s2 or empty
    double[::1] lse_out,                   # OUT (n_samples,) or empty
    int[::1] labels_out,                   # OUT (n_samples,) or empty
    floating[:, ::1] resp_out,             # OUT (n_samples, k) or empty
    int n_threads,
):
    """One pass over X; return the weighted log-likelihood sum_i w_i lse_i.

    With non-empty ``nk`` the statistics of the module docstring are written
    (overwritten, not added to).  ``lse_out`` receives each row's
    log-likelihood (the best weighted log-density in hard mode),
    ``labels_out`` the most likely component and ``resp_out`` the
    responsibilities (one-hot in hard mode), each only when non-empty.
    Inputs are trusted: C-contiguous, finite, of matching shapes.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int k = <int> log_norm.shape[0]
    cdef bint stats = nk.shape[0] > 0
    cdef Py_ssize_t m_max = em_chunk_rows(k, d)
    cdef Py_ssize_t n_chunks = (n + m_max - 1) // m_max
    cdef Py_ssize_t s2_size = 0
    if stats and ctype == FULL:
        s2_size = <Py_ssize_t> k * d * d
    elif stats and ctype == TIED:
        s2_size = <Py_ssize_t> d * d
    elif stats and ctype == DIAG:
        s2_size = <Py_ssize_t> k * d
    cdef Py_ssize_t stat_doubles = (k + k * d + s2_size) if stats else 0
    cdef Py_ssize_t n_blocks = block_count(n_chunks, stat_doubles)
    cdef Py_ssize_t chunks_per_block = (n_chunks + n_blocks - 1) // n_blocks
    n_blocks = (n_chunks + chunks_per_block - 1) // chunks_per_block

    dtype = np.float32 if floating is float else np.float64
    cdef Py_ssize_t g_width = max(k * d if ctype == FULL else d, 2 * d)
    cdef floating[:, ::1] xc_buf = np.empty((n_threads, m_max * d), dtype=dtype)
    cdef floating[:, ::1] g_buf = np.empty((n_threads, m_max * g_width), dtype=dtype)
    cdef floating[:, ::1] h_buf = np.empty((n_threads, m_max * k), dtype=dtype)
    cdef double[:, ::1] logp_buf = np.empty((n_threads, m_max * k), dtype=np.float64)
    cdef floating[:, ::1] d_buf = np.empty((n_threads, m_max * d if stats else 1), dtype=dtype)
    cdef floating[:, ::1] e_buf = np.empty((n_threads, m_max * d if stats else 1), dtype=dtype)
    cdef floating[:, ::1] s_buf = np.empty((n_threads, d * d if stats else 1), dtype=dtype)
    cdef double[:, ::1] block_stats = np.empty(
        (n_blocks if stats else 0, stat_doubles), dtype=np.float64)
    cdef double[::1] block_ll = np.zeros(n_blocks, dtype=np.float64)

    cdef Py_ssize_t blk, ch, row, m, ch_end
    cdef int tid, j, l
    cdef double* st
    cdef double* lse_ptr
    cdef int* lab_ptr
    cdef bint want_lse = lse_out.shape[0] > 0
    cdef bint want_labels = labels_out.shape[0] > 0
    cdef bint want_resp = resp_out.shape[0] > 0
    cdef const floating* b_ptr = &b[0, 0] if b.shape[0] > 0 else NULL
    cdef const double* c_ptr = &const_k[0] if const_k.shape[0] > 0 else NULL

    with nogil, parallel(num_threads=n_threads):
        for blk in prange(n_blocks, schedule="dynamic"):
            tid = threadid()
            st = NULL
            if stats:
                st = &block_stats[blk, 0]
                memset(st, 0, stat_doubles * sizeof(double))
            ch_end = (blk + 1) * chunks_per_block
            if ch_end > n_chunks:
                ch_end = n_chunks
            for ch in range(blk * chunks_per_block, ch_end):
                row = ch * m_max
                m = n - row
                if m > m_max:
                    m = m_max
                _log_prob_chunk(
                    &X[row, 0], m, d, k, ctype, &shift[0], &prec[0, 0], b_ptr,
                    c_ptr, &log_norm[0], &xc_buf[tid, 0], &g_buf[tid, 0],
                    &h_buf[tid, 0], &logp_buf[tid, 0],
                )
                lse_ptr = NULL
                if want_lse:
                    lse_ptr = &lse_out[row]
                lab_ptr = NULL
                if want_labels:
                    lab_ptr = &labels_out[row]
                block_ll[blk] += _responsibilities_chunk(
                    &logp_buf[tid, 0], &sample_weight[row], m, k, hard,
                    lse_ptr, lab_ptr,
                )
                if want_resp:
                    _copy_resp(&logp_buf[tid, 0], &sample_weight[row], m, k,
                               &resp_out[row, 0])
                if stats:
                    _stats_chunk(
                        &xc_buf[tid, 0], &logp_buf[tid, 0], m, d, k, ctype,
                        &mu[0, 0], &d_buf[tid, 0], &e_buf[tid, 0], &s_buf[tid, 0],
                        st, st + k, st + k + k * d,
                    )

    if stats:
        # Add the blocks in block order.
        total = np.asarray(block_stats).sum(axis=0)
        np.asarray(nk)[:] = total[:k]
        np.asarray(s1)[:] = total[k:k + k * d].reshape(k, d)
        if s2_size:
            np.asarray(s2)[:] = total[k + k * d:]
    ll = 0.0
    for blk in range(n_blocks):
        ll += block_ll[blk]
    return ll


cdef void _copy_resp(
    const double* wr,           # IN (m, k) weighted responsibilities
    const floating* w,          # IN (m,)
    Py_ssize_t m, int k,
    floating* out,              # OUT (m, k) responsibilities
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j
    cdef double inv
    for i in range(m):
        if w[i] != 0:
            inv = 1.0 / w[i]
            for j in range(k):
                out[i * k + j] = <floating> (wr[i * k + j] * inv)
        else:
            for j in range(k):
                out[i * k + j] = 0
