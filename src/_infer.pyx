"""Applying a fitted k-means model: the nearest centre of every row (with, when
asked, the inertia) and the distances from every row to every centre.

Nothing a fit needs is computed: no per-cluster sums, no weights when none
are given.  Rows go in pieces whose size depends only on the data's shape
(small enough that a piece, and for ``distances`` its output, stay in a
core's cache); each piece is done by one thread, and the inertia's partial
sums are added in piece order, so every output is bit-for-bit the same for
any number of threads.  A model conditioned for its data
(``_conditioning.Conditioning``: a shift and a power-of-two scale) is
applied to each piece as it is read, with the same rounding as
``Conditioning.transform_block``, into a buffer of the thread's: no copy of
X is made.

The nearest centre comes from the Lloyd pass's micro-kernel
(``kmgmm_lloyd_simd.h``), so ``predict`` gives the labels a fit gives:
float64 rows are first screened in float32 (``kmgmm_screen_keys``, half the
vector work), and only the rows whose two nearest keys are within the
screen's error bound of each other go through the float64 micro-kernel,
the other rows having, by the bound, its label.  The distances come from
``kmgmm_infer_tmpl.h``.  Both exist only in a build with
vector extensions (``vectors_on``); elsewhere Python runs its NumPy code.
Inputs are trusted: C-contiguous, of matching shapes, n_threads >= 1.  They
are not checked for NaN or infinity: both kernels report a result that is
not finite, and the caller checks X then.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport sqrt

from _kmgmm_common cimport DIRECT_MAX_FEATURES

from _lloyd_simd cimport (
    kmgmm_argmin_f32, kmgmm_argmin_f64, kmgmm_direct_f32, kmgmm_direct_f64,
    kmgmm_finish_f32, kmgmm_finish_f64, pack_centers, simd_layout,
)

include "_cpu.pxi"

cdef extern from "kmgmm_infer.h":
    int kmgmm_condition_rows_f32(const float* X, Py_ssize_t m, int d, const double* shift,
                                 double inv_scale, float* out) noexcept nogil
    int kmgmm_condition_rows_f64(const double* X, Py_ssize_t m, int d, const double* shift,
                                 double inv_scale, double* out) noexcept nogil
    int kmgmm_dist_rows_f32(const float* X, Py_ssize_t m, int d, const float* CT, int k,
                            int kp, float* out, Py_ssize_t ldo, double scale,
                            int mode) noexcept nogil
    int kmgmm_dist_rows_f64(const double* X, Py_ssize_t m, int d, const double* CT, int k,
                            int kp, double* out, Py_ssize_t ldo, double scale,
                            int mode) noexcept nogil
    int kmgmm_copy_rows_f32(const float* src, float* dst, Py_ssize_t count,
                            int stream) noexcept nogil
    int kmgmm_copy_rows_f64(const double* src, double* dst, Py_ssize_t count,
                            int stream) noexcept nogil
    int kmgmm_narrow_rows_f32(const float* X, Py_ssize_t m, int d, float* out,
                              double* sqn, Py_ssize_t n_next) noexcept nogil
    int kmgmm_narrow_rows_f64(const double* X, Py_ssize_t m, int d, float* out,
                              double* sqn, Py_ssize_t n_next) noexcept nogil
    int kmgmm_screen_keys_f32(const float* X, Py_ssize_t m, int d, const float* CT, int kp,
                              const float* csq, int* labels, float* best,
                              float* second) noexcept nogil
    int kmgmm_screen_keys_f64(const double* X, Py_ssize_t m, int d, const double* CT,
                              int kp, const double* csq, int* labels, double* best,
                              double* second) noexcept nogil
    int kmgmm_infer_lanes_f32() noexcept nogil
    int kmgmm_infer_lanes_f64() noexcept nogil

cdef enum:
    # Bytes of a piece of rows (with, for the distances, its output rows).
    PIECE_BYTES = 256 << 10
    # Rows of the float32 screen at a time (the next ones are read meanwhile).
    SCREEN_ROWS = 128
    MIN_PIECE = 8
    MAX_PIECE = 4096


# The float32 screen of float64 rows (``nearest``): used when the centres'
# norms are at most SCREEN_MAX, for the rows whose norm is at most SCREEN_MAX
# (no float32 overflow, underflow bounded by ABS_SLACK).
cdef double SCREEN_MAX = 2.0 ** 40
cdef double U32 = 2.0 ** -24
cdef double U64 = 2.0 ** -53
cdef double ABS_SLACK = 2.0 ** -140


def vectors_on():
    """Whether these kernels run (False: a build without vector extensions,
    or the portable path forced for tests)."""
    return bool(_use_vectors)


cdef Py_ssize_t _piece_rows(Py_ssize_t row_bytes) noexcept nogil:
    cdef Py_ssize_t rows = PIECE_BYTES // row_bytes
    if rows < MIN_PIECE:
        rows = MIN_PIECE
    if rows > MAX_PIECE:
        rows = MAX_PIECE
    return rows


cdef inline const floating* _piece_rows_of(
    const floating* x,         # the piece's first row of X
    Py_ssize_t m,
    int d,
    bint cond,
    const double* shift_ptr,
    double inv_scale,
    floating* work,            # (m * d) scratch of the thread
) noexcept nogil:
    """The piece's rows as the kernels read them: X's own rows, or their
    conditioned copy ``(x - shift) * inv_scale`` in ``work``."""
    if not cond:
        return x
    if floating is float:
        kmgmm_condition_rows_f32(x, m, d, shift_ptr, inv_scale, work)
    else:
        kmgmm_condition_rows_f64(x, m, d, shift_ptr, inv_scale, work)
    return work


def piece_rows(Py_ssize_t n_features, Py_ssize_t n_clusters, Py_ssize_t itemsize,
               bint distances):
    """Rows per piece: a function of the shape only."""
    return _piece_rows((n_features + (n_clusters if distances else 0)) * itemsize)


def infer_layout(centers):
    """The centres as ``kmgmm_dist_rows`` reads them: (CT, kp), packed by
    ``pack_centers`` at the level's lanes (the padding centres are never
    stored)."""
    centers = np.asarray(centers)
    lanes = kmgmm_infer_lanes_f32() if centers.dtype == np.float32 else kmgmm_infer_lanes_f64()
    return pack_centers(centers, lanes)


def _screen_bound(int d, double cmax):
    """(a, b): a row of norm ``xn`` whose float32 keys (``kmgmm_screen_keys_f32``
    of the row and centres rounded to float32; centres of norm at most
    ``cmax``, squared norms rounded from float64) differ by more than
    ``a + b * xn`` has the same nearest centre in the float64 micro-kernel,
    and no tie there.

    A key ``||c||^2 - 2 x.c``: in float32 the squared norm is off by at most
    u32 ||c||^2 (its rounding; the float64 sum's error is below u64 d
    ||c||^2), the dot product of the rounded row and centre by the rounding
    of each (2 u32 |x_l c_l|) and of its d multiply-adds (gamma_d sum
    |x_l c_l|), sum |x_l c_l| <= xn cmax, and the last subtraction by u32 of
    the key, itself at most cmax^2 + 2 xn cmax: in all at most u32 (2
    cmax^2 + (2 d + 8) xn cmax), with 1 % to spare for the second-order
    terms; likewise the float64 kernel's key with u64 (its squared norm off
    by d u64 ||c||^2).  Values below float32's normal range add at most
    2^-150 per rounding: ABS_SLACK (d + 1) (1 + cmax + xn) covers them while
    rows and centres stay below SCREEN_MAX.  Each of the two keys may be off
    by the sum, and the bound is doubled again for safety.
    """
    cdef double e32_a = U32 * 2 * cmax * cmax
    cdef double e32_b = U32 * (2 * d + 8) * cmax
    cdef double e64_a = U64 * (d + 2) * cmax * cmax
    cdef double e64_b = U64 * (2 * d + 8) * cmax
    cdef double slack = ABS_SLACK * (d + 1)
    cdef double a = 2 * (2 * 1.01 * (e32_a + e64_a) + 2 * slack * (1 + cmax))
    cdef double b = 2 * (2 * 1.01 * (e32_b + e64_b) + 2 * slack)
    return a, b


def nearest(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[:, ::1] centers,        # IN (n_clusters, n_features), conditioned
    int[::1] labels,                       # OUT (n_samples,)
    *,
    const floating[::1] sample_weight=None,  # IN (n_samples,); None: unit weights
    const double[::1] shift=None,          # IN (n_features,); None: no shift
    double scale=1.0,
    bint want_inertia=False,
    int n_threads,
):
    """The nearest of ``centers`` for every row of ``(X - shift) / scale``;
    returns ``(inertia, finite)``.

    ``inertia`` is the weighted sum of the exact squared distances (float64,
    in the conditioned units) when ``want_inertia``, else NaN.  ``finite`` is
    False when a row's distances were not finite (X holds NaN or infinity,
    or the squares overflowed): the labels are then meaningless.

    float64 rows (more than four features) are screened in float32 first:
    the nearest and second-nearest keys ``||c||^2 - 2 x.c`` of the rows
    rounded to float32, against the centres rounded to float32.  A row
    whose two keys differ by more than twice the bound on the error of a
    key, in float32 and in the float64 micro-kernel (``_screen_bound``),
    has the float64 micro-kernel's nearest centre: it keeps the float32
    label.  The other rows (near-ties, rows that are not finite or too
    large for float32) go through the float64 micro-kernel, so every label
    is the one the float64 kernel (and a fit) gives.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int k = <int> centers.shape[0]
    cdef bint direct = d <= DIRECT_MAX_FEATURES
    cdef bint cond = shift is not None or scale != 1.0
    cdef double inv_scale = 1.0 / scale
    cdef Py_ssize_t piece = _piece_rows(d * sizeof(floating))
    cdef Py_ssize_t n_pieces = (n + piece - 1) // piece
    dtype = np.float32 if floating is float else np.float64

    cdef int lanes = 1, kp = 0
    cdef floating[::1] centers_t
    cdef floating[::1] csq_pad
    cdef bint screen = False
    cdef int lanes32 = 1, kp32 = 0
    cdef float[::1] centers_t32
    cdef float[::1] csq_pad32
    cdef double bound_a = 0, bound_b = 0
    if not direct:
        c = np.asarray(centers)
        csq = np.einsum("ij,ij->i", c, c)
        centers_t, csq_pad, lanes = simd_layout(c, csq)
        kp = csq_pad.shape[0]
        if floating is double:
            cmax = float(np.sqrt(csq.max())) if k > 0 else 0.0
            screen = n > 0 and cmax <= SCREEN_MAX
            if screen:
                centers_t32, csq_pad32, lanes32 = simd_layout(
                    c.astype(np.float32), csq.astype(np.float32))
                kp32 = csq_pad32.shape[0]
                bound_a, bound_b = _screen_bound(d, cmax)
    cdef floating[:, ::1] minv = np.empty((n_threads, 1 if direct else piece * lanes), dtype)
    cdef floating[:, ::1] mini = np.empty((n_threads, 1 if direct else piece * lanes), dtype)
    cdef floating[:, ::1] best = np.empty((n_threads, piece), dtype)
    cdef floating[:, ::1] xt = np.empty((n_threads, piece * d if cond else 1), dtype)
    cdef floating[::1] ones = np.ones(piece, dtype)
    cdef double[::1] piece_inertia = np.zeros(n_pieces)
    cdef int[::1] piece_bad = np.zeros(n_pieces, dtype=np.intc)
    cdef const double* shift_ptr = &shift[0] if shift is not None else NULL
    cdef bint weighted = sample_weight is not None
    # the screen's scratch: rows in float32, their norms, the float32 keys,
    # and the rows that go through the float64 kernel (gathered)
    cdef Py_ssize_t sp = piece if screen else 1
    cdef float[:, ::1] x32 = np.empty((n_threads, sp * d), np.float32)
    cdef double[:, ::1] sqn = np.empty((n_threads, sp))
    cdef float[:, ::1] best32 = np.empty((n_threads, sp), np.float32)
    cdef float[:, ::1] second32 = np.empty((n_threads, sp), np.float32)
    cdef Py_ssize_t[:, ::1] redo = np.empty((n_threads, sp), np.intp)
    cdef floating[:, ::1] xg = np.empty((n_threads, sp * d), dtype)
    cdef int[:, ::1] labg = np.empty((n_threads, sp), np.intc)

    cdef Py_ssize_t p, row, m, i, j, n_redo
    cdef int t, bad, l
    cdef const floating* xp
    cdef const floating* wp
    cdef floating v
    cdef double part, xn, b1, b2

    with nogil, parallel(num_threads=n_threads):
        for p in prange(n_pieces, schedule="dynamic"):
            t = threadid()
            row = p * piece
            m = n - row
            if m > piece:
                m = piece
            xp = _piece_rows_of(&X[row, 0], m, d, cond, shift_ptr, inv_scale, &xt[t, 0])
            wp = &sample_weight[row] if weighted else &ones[0]
            bad = 0
            part = 0
            if direct:
                # (the exact distance is what tells a row that is not finite)
                if floating is float:
                    part = kmgmm_direct_f32(xp, wp, m, d, &centers[0, 0], k, &labels[row],
                                            NULL, NULL, NULL, 1, NULL)
                else:
                    part = kmgmm_direct_f64(xp, wp, m, d, &centers[0, 0], k, &labels[row],
                                            NULL, NULL, NULL, 1, NULL)
                bad = not (part - part == 0)
            else:
                if floating is double:
                    if screen:
                        i = 0
                        while i < m:
                            j = m - i
                            if j > SCREEN_ROWS:
                                j = SCREEN_ROWS
                            n_redo = m - i - j      # (the rows read meanwhile)
                            if n_redo > SCREEN_ROWS:
                                n_redo = SCREEN_ROWS
                            kmgmm_narrow_rows_f64(xp + i * d, j, d, &x32[t, i * d], &sqn[t, i],
                                                  n_redo * d)
                            kmgmm_screen_keys_f32(&x32[t, i * d], j, d, &centers_t32[0], kp32,
                                                  &csq_pad32[0], &labels[row + i],
                                                  &best32[t, i], &second32[t, i])
                            i = i + j
                        n_redo = 0
                        for i in range(m):
                            xn = sqrt(sqn[t, i])
                            b1 = best32[t, i]
                            b2 = second32[t, i]
                            if not (xn <= SCREEN_MAX and b1 - b1 == 0
                                    and b2 - b1 > bound_a + bound_b * xn):
                                redo[t, n_redo] = i
                                n_redo = n_redo + 1
                        for j in range(n_redo):
                            for l in range(d):
                                xg[t, j * d + l] = xp[redo[t, j] * d + l]
                        if n_redo > 0:
                            kmgmm_argmin_f64(&xg[t, 0], n_redo, d, &centers_t[0], kp,
                                             &csq_pad[0], &minv[t, 0], &mini[t, 0],
                                             &labg[t, 0], &best[t, 0])
                        for j in range(n_redo):
                            labels[row + redo[t, j]] = labg[t, j]
                            v = best[t, j]
                            if not (v - v == 0):
                                bad = 1
                    else:
                        kmgmm_argmin_f64(xp, m, d, &centers_t[0], kp, &csq_pad[0],
                                         &minv[t, 0], &mini[t, 0], &labels[row], &best[t, 0])
                        for i in range(m):
                            v = best[t, i]
                            if not (v - v == 0):
                                bad = 1
                else:
                    kmgmm_argmin_f32(xp, m, d, &centers_t[0], kp, &csq_pad[0],
                                     &minv[t, 0], &mini[t, 0], &labels[row], &best[t, 0])
                    for i in range(m):
                        v = best[t, i]
                        if not (v - v == 0):
                            bad = 1
                if want_inertia and not bad:
                    if floating is float:
                        part = kmgmm_finish_f32(xp, wp, m, d, &centers[0, 0], &labels[row],
                                                NULL, NULL, NULL, 1)
                    else:
                        part = kmgmm_finish_f64(xp, wp, m, d, &centers[0, 0], &labels[row],
                                                NULL, NULL, NULL, 1)
                    bad = not (part - part == 0)
            piece_inertia[p] = part
            piece_bad[p] = bad

    cdef double inertia = 0
    cdef bint finite = True
    for p in range(n_pieces):
        inertia += piece_inertia[p]
        if piece_bad[p]:
            finite = False
    return (inertia if want_inertia else float("nan")), finite


def distances(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[:, ::1] centers,        # IN (n_clusters, n_features), conditioned
    floating[:, ::1] out,                  # OUT (n_samples, n_clusters)
    *,
    const double[::1] shift=None,          # IN (n_features,); None: no shift
    double scale=1.0,
    int mode=0,
    int n_threads,
):
    """Distances from every row of ``(X - shift) / scale`` to every centre,
    into ``out``: ``scale * ||x - c||`` (mode 0: the Euclidean distance in
    X's units), or ``min(||x - c||^2 / 2, 2)`` (mode 1: ``1 - cos`` when rows
    and centres are unit vectors).  Each from the differences, in X's dtype
    (no expansion: no cancellation, a row equal to a centre gets 0).
    Returns whether every result is finite.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int k = <int> centers.shape[0]
    cdef bint cond = shift is not None or scale != 1.0
    cdef double inv_scale = 1.0 / scale
    cdef Py_ssize_t piece = _piece_rows((d + k) * sizeof(floating))
    cdef Py_ssize_t n_pieces = (n + piece - 1) // piece
    dtype = np.float32 if floating is float else np.float64
    ct, kp_obj = infer_layout(np.asarray(centers))
    cdef floating[::1] centers_t = ct
    cdef int kp = kp_obj
    cdef floating[:, ::1] xt = np.empty((n_threads, piece * d if cond else 1), dtype)
    cdef floating[:, ::1] sq = np.empty((n_threads, piece * k), dtype)
    cdef int[::1] piece_bad = np.zeros(max(n_pieces, 1), dtype=np.intc)
    cdef const double* shift_ptr = &shift[0] if shift is not None else NULL

    cdef Py_ssize_t p, row, m
    cdef int t
    cdef const floating* xp

    with nogil, parallel(num_threads=n_threads):
        for p in prange(n_pieces, schedule="dynamic"):
            t = threadid()
            row = p * piece
            m = n - row
            if m > piece:
                m = piece
            xp = _piece_rows_of(&X[row, 0], m, d, cond, shift_ptr, inv_scale, &xt[t, 0])
            # the piece's distances in a buffer in cache, then out
            if floating is float:
                piece_bad[p] = kmgmm_dist_rows_f32(xp, m, d, &centers_t[0], k, kp, &sq[t, 0],
                                                   k, scale, mode)
                kmgmm_copy_rows_f32(&sq[t, 0], &out[row, 0], m * k, 1)
            else:
                piece_bad[p] = kmgmm_dist_rows_f64(xp, m, d, &centers_t[0], k, kp, &sq[t, 0],
                                                   k, scale, mode)
                kmgmm_copy_rows_f64(&sq[t, 0], &out[row, 0], m * k, 1)

    for p in range(n_pieces):
        if piece_bad[p]:
            return False
    return True
