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
(``kmgmm_lloyd_simd.h``), so ``predict`` gives the labels a fit gives; the
distances come from ``kmgmm_infer_tmpl.h``.  Both exist only in a build with
vector extensions (``vectors_on``); elsewhere Python runs its NumPy code.
Inputs are trusted: C-contiguous, of matching shapes, n_threads >= 1.  They
are not checked for NaN or infinity: both kernels report a result that is
not finite, and the caller checks X then.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid

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
    int kmgmm_infer_lanes_f32() noexcept nogil
    int kmgmm_infer_lanes_f64() noexcept nogil

cdef enum:
    # Bytes of a piece of rows (with, for the distances, its output rows).
    PIECE_BYTES = 256 << 10
    MIN_PIECE = 8
    MAX_PIECE = 4096


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
    if not direct:
        c = np.asarray(centers)
        centers_t, csq_pad, lanes = simd_layout(c, np.einsum("ij,ij->i", c, c))
        kp = csq_pad.shape[0]
    cdef floating[:, ::1] minv = np.empty((n_threads, 1 if direct else piece * lanes), dtype)
    cdef floating[:, ::1] mini = np.empty((n_threads, 1 if direct else piece * lanes), dtype)
    cdef floating[:, ::1] best = np.empty((n_threads, piece), dtype)
    cdef floating[:, ::1] xt = np.empty((n_threads, piece * d if cond else 1), dtype)
    cdef floating[::1] ones = np.ones(piece, dtype)
    cdef double[::1] piece_inertia = np.zeros(n_pieces)
    cdef int[::1] piece_bad = np.zeros(n_pieces, dtype=np.intc)
    cdef const double* shift_ptr = &shift[0] if shift is not None else NULL
    cdef bint weighted = sample_weight is not None

    cdef Py_ssize_t p, row, m, i
    cdef int t, bad
    cdef const floating* xp
    cdef const floating* wp
    cdef floating v
    cdef double part

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
                if floating is float:
                    kmgmm_argmin_f32(xp, m, d, &centers_t[0], kp, &csq_pad[0],
                                     &minv[t, 0], &mini[t, 0], &labels[row], &best[t, 0])
                else:
                    kmgmm_argmin_f64(xp, m, d, &centers_t[0], kp, &csq_pad[0],
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
