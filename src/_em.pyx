"""One EM pass for a Gaussian mixture: log-densities, responsibilities and,
in the same pass, the sufficient statistics the M-step needs.

Rows are cut into chunks (``em_chunk_rows``) and chunks into blocks of
parallel work (``_kmgmm_common.block_count``); each block owns partial
statistics that Python adds in block order, so every output is bit-for-bit
identical for any number of threads.  float32 and float64 come from one fused
source; statistics and log-likelihoods are accumulated in float64.

Every chunk is first centred on a fixed ``shift`` (the data's mean), so the
gemm expansions below never see the data's offset from the origin; the means
enter centred on the same shift.  ``log_norm[j]`` holds log weight_j +
log det of the precision's Cholesky factor - d/2 log 2 pi.

* FULL   each row's packed quadratic features ``q_i = [lower(xc_i xc_i^T),
         xc_i]`` (width d(d+1)/2 + d; formed in float64, rounded to the data
         dtype for this gemm) times ``quad`` (one gemm with
         every component's precision in it, see ``_gaussian.KernelModel``)
         gives ``-maha/2 - const_j``.  The same ``q_i`` then give the second
         moments: nothing is computed twice.
* TIED   ``[G | H] = Xc @ [P | P B^T]`` (one gemm; ``G`` the whitened rows,
         ``B`` the whitened means, rows ``b_j = mu_j P``);
         ``maha = ||G||^2 - 2 H_j + ||b_j||^2``.
* DIAG   ``maha = [Xc^2, Xc] @ B_j + const_j`` with ``B_j = [p_j^2, -2 mu_j p_j^2]``
         (one gemm); spherical and fixed variances are passed as diag.  The
         expansion loses about ``8 u const_j`` (``const_j`` the squared
         distance of mean j from the shift in its own units): the ``narrow``
         components run in the data dtype, the ``wide`` ones
         (``_gaussian.wide_components``) in float64 from the unrounded
         centred rows: a float64 gemm for float32 data, the direct form
         ``sum (x - mu)^2 p^2`` for float64 data.

Every expansion is clamped so that ``maha >= 0``.  Responsibilities come
from a row log-sum-exp shifted by the row maximum (``-inf`` guarded,
``kmgmm_em.h``); in hard mode they are one-hot at the most likely component.
Statistics, all float64:

* ``nk[j] = sum_i w_i r_ij`` (added up with the responsibilities),
  ``s1[j] = sum_i w_i r_ij xc_i``
* FULL ``s2[j] = sum_i w_i r_ij lower(xc_i xc_i^T)`` (packed row by row): one
  gemm of the responsibilities by the rows' packed products (in hard mode,
  each row added to its component);
  TIED ``s2 = sum_i w_i xc_i xc_i^T`` (a row's responsibilities sum to 1:
  the same at every iteration, so only when asked, ``scatter``);
  DIAG ``s2[j] = sum_i w_i r_ij xc_i^2`` (with ``s1``: one gemm of the
  responsibilities by ``[xc, xc^2]``); NONE no ``s2``.  In hard mode every
  type but FULL adds each row to its one component (no gemm).  The rows
  enter the statistics unrounded (``X - shift`` in float64).

These moments are taken about the shift, in float64 whatever the data dtype;
Python moves them to moments about the previous means in float64
(``_gaussian.KernelModel.run``).  The data being centred, the cancellation in
that move costs a relative ``eps64 * (|mu_j - shift| / sigma_j)^2``: nothing
a float64 result notices unless a component sits 10^5 of its own widths away
from the data's mean.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.string cimport memset
from scipy.linalg.cython_blas cimport sgemm, dgemm

from _kmgmm_common cimport block_count, gemm_abt

include "_cpu.pxi"

cdef enum:
    FULL = 0
    TIED = 1
    DIAG = 2
    NONE = 3   # log-densities like DIAG, no second moments (fixed variance)

COV_CODES = {"full": FULL, "tied": TIED, "diag": DIAG, "spherical": DIAG,
             "fixed": NONE}

# Elements of the widest per-chunk scratch; rows per chunk follow from it.
# 64 Ki elements (512 KiB per float64 buffer) keeps each thread's scratch
# near the size of a core's cache whatever the model's shape.
cdef Py_ssize_t _SCRATCH = 1 << 16
cdef enum:
    # Rows per chunk at least this many (for very wide models): a gemm of
    # fewer rows is mostly call overhead.
    MIN_CHUNK_ROWS = 8
    # and at most this many: with few features and components the scratch
    # would allow far larger chunks, leaving few blocks of parallel work.
    MAX_CHUNK_ROWS = 1024


def em_chunk_rows(Py_ssize_t n_components, Py_ssize_t n_features, int ctype):
    """Rows per chunk: a function of the model's shape only."""
    cdef Py_ssize_t width = 2 * n_features
    if width < n_components:
        width = n_components
    if ctype == FULL:
        width = max(width, n_features * (n_features + 3) // 2)
    cdef Py_ssize_t m = _SCRATCH // width
    if m < MIN_CHUNK_ROWS:
        m = MIN_CHUNK_ROWS
    if m > MAX_CHUNK_ROWS:
        m = MAX_CHUNK_ROWS
    return m


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


cdef inline void dgemm_tn_acc(
    int m, int n, int kk,
    const double* A,       # IN (kk, m) row-major, leading dimension lda
    int lda,
    const double* B,       # IN (kk, n) row-major, leading dimension ldb
    int ldb,
    double* C,             # INOUT (m, n) row-major: C += A^T @ B
) noexcept nogil:
    cdef char tn = b'N'
    cdef char tt = b'T'
    cdef double one = 1.0
    dgemm(&tn, &tt, &n, &m, &kk, &one, <double*> B, &ldb, <double*> A, &lda,
          &one, C, &n)


cdef void _centre_chunk(
    const floating* X,          # IN (m, d)
    Py_ssize_t m, int d, int ctype,
    const double* shift,        # IN (d,)
    floating* xc,               # OUT (m, d) centred rows, data dtype
    double* x64,                # OUT (m, d) centred rows, float64 (or NULL)
    double* q64,                # OUT (m, d(d+3)/2) packed products (FULL)
    floating* qf,               # OUT the same in float32 (FULL, float32 data)
) noexcept nogil:
    """Centre the rows; ``x64`` gets them unrounded (the statistics and the
    float64 expansion use it), ``xc`` rounded to the data dtype."""
    cdef Py_ssize_t i
    cdef int l, q, t, width = d * (d + 3) // 2
    cdef double v
    cdef double* xi
    cdef double* qi
    for i in range(m):
        for l in range(d):
            v = X[i * d + l] - shift[l]
            xc[i * d + l] = <floating> v
            if x64 != NULL:
                x64[i * d + l] = v
    if ctype != FULL:
        return
    for i in range(m):
        xi = x64 + i * d
        qi = q64 + i * width
        t = 0
        for l in range(d):
            for q in range(l + 1):
                qi[t + q] = xi[l] * xi[q]
            t = t + l + 1
        for l in range(d):
            qi[t + l] = xi[l]
    if floating is float:
        for i in range(m * width):
            qf[i] = <float> q64[i]


cdef void _log_prob_chunk(
    const floating* xc,         # IN (m, d) centred rows
    const floating* qf,         # IN (m, d(d+3)/2) packed products (FULL)
    Py_ssize_t m, int d, int k, int ctype,
    const floating* quad,       # IN FULL (d(d+3)/2, k)
    const floating* prec,       # IN TIED (d, d + k); DIAG (kn, 2 d)
    const double* const_k,      # IN (k,) see the module docstring
    const double* log_norm,     # IN (k,)
    floating* G,                # SCRATCH (m, 2 d); TIED (m, d + k)
    floating* H,                # SCRATCH (m, k)
    double* logp,               # OUT (m, k)
    const double* x64,          # IN DIAG with kw > 0: (m, d) unrounded rows
    int kn,                     # IN DIAG: components in the data dtype
    const int* narrow,          # IN DIAG (kn,) their indexes (NULL: 0..kn-1)
    int kw,                     # IN DIAG: components in float64
    const int* wide,            # IN DIAG (kw,) their indexes
    const double* prec_wide,    # IN DIAG (kw, 3 d) their [p^2, -2 mu p^2, mu]
    double* G64,                # SCRATCH DIAG (m, 2 d) when kw > 0
    double* H64,                # SCRATCH DIAG (m, kw) when kw > 0
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j, l, t
    cdef double acc, g
    cdef const double* pw
    if ctype == FULL:
        # H (m, k) = qf (m, W) @ quad (W, k), then the constants.
        gemm_ab(<int> m, k, d * (d + 3) // 2, qf, d * (d + 3) // 2, quad, k, H, k)
        for i in range(m):
            for j in range(k):
                g = H[i * k + j] + const_k[j]
                if g > 0:
                    g = 0   # -maha / 2 <= 0; rounding in the expansion
                logp[i * k + j] = log_norm[j] + g
    elif ctype == TIED:
        # [G | H] = xc @ [P | P b^T]: one gemm.
        t = d + k
        gemm_ab(<int> m, t, d, xc, d, prec, t, G, t)
        if floating is float:
            kmgmm_tied_logp_f32(G, m, d, k, const_k, log_norm, logp)
        else:
            kmgmm_tied_logp_f64(G, m, d, k, const_k, log_norm, logp)
    else:
        # The narrow components (rows of prec, all when narrow is NULL) in
        # the data dtype, the wide ones in float64 from the unrounded rows.
        if kn > 0:
            for i in range(m):
                for l in range(d):
                    g = xc[i * d + l]
                    G[i * 2 * d + l] = <floating> (g * g)
                    G[i * 2 * d + d + l] = xc[i * d + l]
            gemm_abt(<int> m, kn, 2 * d, <floating> 1.0, G, 2 * d, prec, 2 * d,
                     <floating> 0.0, H, kn)
            for i in range(m):
                for t in range(kn):
                    j = narrow[t] if narrow != NULL else t
                    g = H[i * kn + t] + const_k[j]
                    if g < 0:
                        g = 0   # rounding in the expansion
                    logp[i * k + j] = log_norm[j] - 0.5 * g
        if kw > 0 and floating is float:
            # float32 data: the expansion in float64 (a gemm).
            for i in range(m):
                for l in range(d):
                    g = x64[i * d + l]
                    G64[i * 2 * d + l] = g * g
                    G64[i * 2 * d + d + l] = g
            gemm_abt(<int> m, kw, 2 * d, 1.0, G64, 2 * d, prec_wide, 3 * d,
                     0.0, H64, kw)
            for i in range(m):
                for t in range(kw):
                    j = wide[t]
                    g = H64[i * kw + t] + const_k[j]
                    if g < 0:
                        g = 0
                    logp[i * k + j] = log_norm[j] - 0.5 * g
        elif kw > 0:
            # float64 data, no wider type: the direct form sum (x - mu)^2 p^2.
            for i in range(m):
                for t in range(kw):
                    j = wide[t]
                    pw = prec_wide + t * 3 * d
                    acc = 0
                    for l in range(d):
                        g = x64[i * d + l] - pw[2 * d + l]
                        acc = acc + g * g * pw[l]
                    logp[i * k + j] = log_norm[j] - 0.5 * acc


cdef extern from "kmgmm_em.h":
    double kmgmm_responsibilities_f32(
        double* logp, const float* w, long m, int k, int hard,
        double* lse_out, int* labels_out, double* col_sum) noexcept nogil
    double kmgmm_responsibilities_f64(
        double* logp, const double* w, long m, int k, int hard,
        double* lse_out, int* labels_out, double* col_sum) noexcept nogil
    int kmgmm_tied_logp_f32(
        const float* gh, long m, int d, int k, const double* const_k,
        const double* log_norm, double* logp) noexcept nogil
    int kmgmm_tied_logp_f64(
        const double* gh, long m, int d, int k, const double* const_k,
        const double* log_norm, double* logp) noexcept nogil
    double kmgmm_exp_nonpos(double x) noexcept nogil
    double kmgmm_log_pos(double x) noexcept nogil


def exp_nonpos(double[::1] x):
    """The kernel's exponential (for x <= 0), for tests."""
    out = np.empty(x.shape[0])
    cdef double[::1] o = out
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        o[i] = kmgmm_exp_nonpos(x[i])
    return out


def log_pos(double[::1] x):
    """The kernel's logarithm (for positive normal x), for tests."""
    out = np.empty(x.shape[0])
    cdef double[::1] o = out
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        o[i] = kmgmm_log_pos(x[i])
    return out


cdef inline double _responsibilities_chunk(
    double* logp,               # INOUT (m, k): log-densities in, w_i r_ij out
    const floating* w,          # IN (m,)
    Py_ssize_t m, int k,
    bint hard,
    double* lse_out,            # OUT (m,) or NULL
    int* labels_out,            # OUT (m,) or NULL
    double* col_sum,            # INOUT (k,) or NULL: += the weighted responsibilities
) noexcept nogil:
    """Weighted responsibilities in place (see kmgmm_em.h); sum_i w_i lse_i."""
    if floating is float:
        return kmgmm_responsibilities_f32(logp, w, m, k, hard, lse_out, labels_out,
                                          col_sum)
    else:
        return kmgmm_responsibilities_f64(logp, w, m, k, hard, lse_out, labels_out,
                                          col_sum)


cdef void _stats_chunk(
    const floating* w,          # IN (m,) sample weights
    const double* wr,           # IN (m, k) weighted responsibilities
    Py_ssize_t m, int d, int k, int ctype, bint hard,
    bint scatter,               # IN TIED: add the rows' scatter to s2
    const double* x64,          # IN (m, d) centred rows, unrounded
    double* q64,                # INOUT FULL: packed products; else SCRATCH (m, 2 d)
    double* S,                  # SCRATCH (k, 2 d)
    double* nk,                 # INOUT (k,)
    double* s1,                 # INOUT (k, d)
    double* s2,                 # INOUT see the module docstring
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j, l, t
    cdef int n_tri = d * (d + 1) // 2
    cdef int width = d * (d + 3) // 2
    cdef double r, v
    cdef const double* xi
    cdef double* qi
    cdef double* s2_j

    if hard and ctype != FULL:
        # One-hot responsibilities: add each row to its component, in row
        # order (O(n d) where the gemm would take O(n k d)).
        for i in range(m):
            j = 0
            while j < k - 1 and wr[i * k + j] == 0:
                j = j + 1
            r = wr[i * k + j]
            if r == 0:
                continue
            nk[j] += r
            xi = x64 + i * d
            for l in range(d):
                s1[j * d + l] += r * xi[l]
            if ctype == DIAG:
                for l in range(d):
                    s2[j * d + l] += r * xi[l] * xi[l]
        if ctype == TIED and scatter:
            for i in range(m):
                for l in range(d):
                    q64[i * d + l] = w[i] * x64[i * d + l]
            dgemm_tn_acc(d, d, <int> m, q64, d, x64, d, s2)
        return

    if hard:
        # (soft: nk came with the responsibilities, _responsibilities_chunk)
        for i in range(m):
            for j in range(k):
                nk[j] += wr[i * k + j]
    if ctype == DIAG:
        # [s1 | s2] (k, 2 d) = wr^T @ [xc | xc^2]: one gemm for both.
        for i in range(m):
            for l in range(d):
                v = x64[i * d + l]
                q64[i * 2 * d + l] = v
                q64[i * 2 * d + d + l] = v * v
        memset(S, 0, k * 2 * d * sizeof(double))
        dgemm_tn_acc(k, 2 * d, <int> m, wr, k, q64, 2 * d, S)
        for j in range(k):
            for l in range(d):
                s1[j * d + l] += S[j * 2 * d + l]
                s2[j * d + l] += S[j * 2 * d + d + l]
        return
    # s1 (k, d) += wr^T @ xc
    dgemm_tn_acc(k, d, <int> m, wr, k, x64, d, s1)
    if ctype == FULL:
        if hard:
            # One-hot responsibilities: add each row to its component only.
            for i in range(m):
                for j in range(k):
                    r = wr[i * k + j]
                    if r != 0:
                        qi = q64 + i * width
                        s2_j = s2 + j * n_tri
                        for t in range(n_tri):
                            s2_j[t] += r * qi[t]
        else:
            dgemm_tn_acc(k, n_tri, <int> m, wr, k, q64, width, s2)
    elif ctype == TIED and scatter:
        for i in range(m):
            for l in range(d):
                q64[i * d + l] = w[i] * x64[i * d + l]
        dgemm_tn_acc(d, d, <int> m, q64, d, x64, d, s2)


def em_pass(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[::1] sample_weight,     # IN (n_samples,)
    *,
    const double[::1] shift,               # IN (n_features,)
    int ctype,
    const floating[:, ::1] quad=None,      # IN FULL (d(d+3)/2, k)
    const floating[:, ::1] prec=None,      # IN TIED (d, d + k); DIAG (kn, 2 d)
    const int[::1] narrow=None,            # IN DIAG (kn,) rows of prec (None: all k)
    const double[:, ::1] prec_wide=None,   # IN DIAG (kw, 3 d) [p^2, -2 mu p^2, mu]
    const int[::1] wide=None,              # IN DIAG (kw,) their components
    const double[::1] const_k,             # IN (k,)
    const double[::1] log_norm,            # IN (k,)
    bint hard,
    double[::1] nk=None,                   # OUT (k,)
    double[:, ::1] s1=None,                # OUT (k, d)
    double[::1] s2=None,                   # OUT flat s2 (empty for NONE)
    double[::1] lse=None,                  # OUT (n_samples,)
    int[::1] labels=None,                  # OUT (n_samples,)
    floating[:, ::1] resp=None,            # OUT (n_samples, k)
    bint scatter=True,                     # IN TIED: compute s2 (see below)
    int n_threads,
):
    """One pass over X; return the weighted log-likelihood sum_i w_i lse_i.

    Everything but X and the weights is passed by keyword.  The model's
    operands (``quad``, ``prec``: the ones its covariance type ``ctype``
    uses, see the module docstring), ``const_k`` and ``log_norm`` come from
    ``kmgmm._gaussian.KernelModel``.  Given ``nk``, ``s1`` and ``s2`` (all
    three or none), the statistics of the module docstring are written
    (overwritten, not added to); for TIED with ``scatter=False``, ``s2`` is
    left as it is: it depends on the rows, their weights and the shift only,
    so a caller that has it from an earlier pass skips its gemm.  ``lse``
    receives each row's log-likelihood (the best weighted log-density in
    hard mode), ``labels`` the most likely component and ``resp`` the
    responsibilities (one-hot in hard mode), each only when given.  A pass
    for the labels alone (no statistics, ``lse`` or ``resp``) runs in hard
    mode, whose most likely component is the soft one's, without an
    exponential per component (the labels are those of a pass with ``lse``:
    the same log-densities, so ``fit_predict`` equals ``predict``).  Inputs are
    trusted: C-contiguous, finite, of matching shapes.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int k = <int> log_norm.shape[0]
    if not (nk is None) == (s1 is None) == (s2 is None):
        raise ValueError("em_pass: give all of nk, s1 and s2, or none")
    cdef bint stats = nk is not None
    cdef bint labels_only = not stats and lse is None and resp is None
    if labels_only:
        hard = True
    cdef Py_ssize_t m_max = em_chunk_rows(k, d, ctype)
    cdef Py_ssize_t n_chunks = (n + m_max - 1) // m_max
    cdef Py_ssize_t n_tri = <Py_ssize_t> d * (d + 1) // 2
    cdef Py_ssize_t s2_size = 0
    if stats and ctype == FULL:
        s2_size = k * n_tri
    elif stats and ctype == TIED and scatter:
        s2_size = <Py_ssize_t> d * d
    elif stats and ctype == DIAG:
        s2_size = <Py_ssize_t> k * d
    cdef Py_ssize_t stat_doubles = (k + k * d + s2_size) if stats else 0
    cdef Py_ssize_t n_blocks = block_count(n_chunks, stat_doubles)
    cdef Py_ssize_t chunks_per_block = (n_chunks + n_blocks - 1) // n_blocks
    n_blocks = (n_chunks + chunks_per_block - 1) // chunks_per_block

    dtype = np.float32 if floating is float else np.float64
    cdef bint full = ctype == FULL
    cdef int kw = 0 if wide is None else <int> wide.shape[0]
    cdef int kn = k if narrow is None else <int> narrow.shape[0]
    if ctype != FULL and ctype != TIED and (
            (prec is None or prec.shape[0] != kn or prec.shape[1] != 2 * d)
            or (kw and (prec_wide is None or prec_wide.shape[0] != kw
                        or prec_wide.shape[1] != 3 * d))
            or (narrow is not None and kn + kw != k)):
        raise ValueError("em_pass: narrow, wide, prec and prec_wide do not fit")
    if ctype == TIED and (prec is None or prec.shape[0] != d or prec.shape[1] != d + k):
        raise ValueError("em_pass: TIED takes prec of shape (d, d + k)")
    cdef Py_ssize_t q_width = d * (d + 3) // 2 if full else (
        2 * d if (stats or kw) else 1)
    cdef floating[:, ::1] xc_buf = np.empty((n_threads, m_max * d), dtype=dtype)
    cdef Py_ssize_t g_width = 1 if full else (d + k if ctype == TIED else 2 * d)
    cdef floating[:, ::1] g_buf = np.empty((n_threads, m_max * g_width), dtype=dtype)
    cdef floating[:, ::1] h_buf = np.empty((n_threads, m_max * k), dtype=dtype)
    cdef double[:, ::1] logp_buf = np.empty((n_threads, m_max * k), dtype=np.float64)
    cdef bint want_x64 = stats or full or kw > 0
    cdef double[:, ::1] x64_buf = np.empty((n_threads, m_max * d if want_x64 else 1))
    cdef double[:, ::1] q64_buf = np.empty((n_threads, m_max * q_width))
    cdef double[:, ::1] hw_buf = np.empty((n_threads, m_max * kw if kw else 1))
    cdef double[:, ::1] s_buf = np.empty((n_threads, 2 * k * d if stats else 1))
    cdef const int* narrow_ptr = &narrow[0] if narrow is not None and kn > 0 else NULL
    cdef const int* wide_ptr = &wide[0] if kw else NULL
    cdef const double* pw_ptr = &prec_wide[0, 0] if kw else NULL
    cdef double* x64_ptr
    cdef floating[:, ::1] qf_buf = np.empty(
        (n_threads, m_max * q_width if (full and floating is float) else 1), dtype=dtype)
    cdef floating* qf_ptr
    cdef double[:, ::1] block_stats = np.empty(
        (n_blocks if stats else 0, stat_doubles), dtype=np.float64)
    cdef double[::1] block_ll = np.zeros(n_blocks, dtype=np.float64)

    cdef Py_ssize_t blk, ch, row, m, ch_end
    cdef int tid
    cdef double* st
    cdef double* lse_ptr
    cdef int* lab_ptr
    cdef bint want_lse = lse is not None
    cdef bint want_labels = labels is not None
    cdef bint want_resp = resp is not None
    cdef const floating* quad_ptr = &quad[0, 0] if quad is not None else NULL
    cdef const floating* prec_ptr = (
        &prec[0, 0] if prec is not None and prec.shape[0] > 0 else NULL)
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
                if floating is float:
                    qf_ptr = &qf_buf[tid, 0]
                else:
                    qf_ptr = &q64_buf[tid, 0]
                x64_ptr = &x64_buf[tid, 0] if want_x64 else NULL
                _centre_chunk(&X[row, 0], m, d, ctype, &shift[0], &xc_buf[tid, 0],
                              x64_ptr, &q64_buf[tid, 0], qf_ptr)
                _log_prob_chunk(
                    &xc_buf[tid, 0], qf_ptr, m, d, k, ctype, quad_ptr,
                    prec_ptr, c_ptr, &log_norm[0], &g_buf[tid, 0],
                    &h_buf[tid, 0], &logp_buf[tid, 0], x64_ptr, kn, narrow_ptr,
                    kw, wide_ptr, pw_ptr, &q64_buf[tid, 0], &hw_buf[tid, 0],
                )
                lse_ptr = NULL
                if want_lse:
                    lse_ptr = &lse[row]
                lab_ptr = NULL
                if want_labels:
                    lab_ptr = &labels[row]
                block_ll[blk] += _responsibilities_chunk(
                    &logp_buf[tid, 0], &sample_weight[row], m, k, hard,
                    lse_ptr, lab_ptr, st if stats and not hard else NULL,
                )
                if want_resp:
                    _copy_resp(&logp_buf[tid, 0], &sample_weight[row], m, k,
                               &resp[row, 0])
                if stats:
                    _stats_chunk(
                        &sample_weight[row], &logp_buf[tid, 0],
                        m, d, k, ctype, hard, scatter, x64_ptr, &q64_buf[tid, 0],
                        &s_buf[tid, 0], st, st + k, st + k + k * d,
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
