# Helpers shared by the bound kernels (Hamerly, Elkan) and src/_common.pyx:
# exact row-to-centre distances and row norms (kmgmm_sqdist.h), the centres'
# norms, the Lloyd pass's distance keys for a set of rows, and lower bounds
# derived from those keys that stay valid under rounding.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.string cimport memcpy

from _kmgmm_common cimport gemm_abt

cdef extern from "kmgmm_sqdist.h":
    # ||x - c||^2, or ||x||^2 when c is NULL
    double kmgmm_sqdist_f64(const double* x, const double* c, int d) noexcept nogil
    double kmgmm_sqdist_f32(const float* x, const float* c, int d) noexcept nogil
    float kmgmm_float_below(double v) noexcept nogil
    void kmgmm_axpy_f64(double* s, double w, const double* x, int d) noexcept nogil
    void kmgmm_axpy_f32(double* s, double w, const float* x, int d) noexcept nogil
    void prefetch_row "kmgmm_prefetch" (const void* p, size_t n_bytes) noexcept nogil
    # Relative rounding allowance for a square root or a subtraction of
    # bounds (a few units in the last place of a double).
    double ROOT_SLACK "KMGMM_ROOT_SLACK"


cdef inline double sqdist(
    const floating* x,     # IN (d,)
    const floating* c,     # IN (d,)
    int d,
) noexcept nogil:
    """||x - c||^2 accumulated in double (relative error below (d+4) 2**-53)."""
    if floating is float:
        return kmgmm_sqdist_f32(x, c, d)
    else:
        return kmgmm_sqdist_f64(x, c, d)


cdef inline void add_row(
    double* s,             # INOUT (d,)
    double w,
    const floating* x,     # IN (d,)
    int d,
) noexcept nogil:
    """s += w * x, element by element (the order of the Lloyd pass)."""
    if floating is float:
        kmgmm_axpy_f32(s, w, x, d)
    else:
        kmgmm_axpy_f64(s, w, x, d)


cdef inline double sqnorm(const floating* x, int d) noexcept nogil:
    """||x||^2 in double."""
    return sqdist(x, NULL, d)


cdef inline void gather_rows(
    const floating* X,          # IN (m, d)
    int d,
    const int* rows,            # IN (n_rows,)
    Py_ssize_t n_rows,
    floating* out,              # OUT (n_rows, d)
) noexcept nogil:
    """Copy the listed rows of X, in order, into a contiguous buffer."""
    cdef Py_ssize_t r
    for r in range(n_rows):
        memcpy(out + r * d, X + <Py_ssize_t> rows[r] * d, d * sizeof(floating))


cdef inline void distance_keys(
    const floating* X,          # IN (m, d) the chunk's rows
    int d,
    const int* rows,            # IN (n_rows,) rows of the chunk to do
    Py_ssize_t n_rows,
    bint all_rows,              # rows are consecutive: use X in place
    const floating* centers,    # IN (k, d)
    const floating* c_sqnorm,   # IN (k,)
    int k,
    bint direct,
    floating* xbuf,             # SCRATCH (CHUNK, d)
    floating* keys,             # OUT (n_rows, k)
) noexcept nogil:
    """The Lloyd pass's nearest-centre keys, in the data dtype.

    ``||c||^2 - 2 x.c`` from one gemm, or the full squared distance from a
    direct loop when ``direct`` -- the very arithmetic of ``_lloyd.pyx``, so
    that an argmin over a row of keys picks the centre the Lloyd pass picks.
    """
    cdef Py_ssize_t r
    cdef int j, l
    cdef floating dist, diff
    cdef const floating* x
    cdef const floating* c
    cdef const floating* src = X
    if direct:
        for r in range(n_rows):
            x = X + <Py_ssize_t> rows[r] * d
            for j in range(k):
                c = centers + j * d
                dist = 0
                for l in range(d):
                    diff = x[l] - c[l]
                    dist = dist + diff * diff
                keys[r * k + j] = dist
        return
    if all_rows:
        src = X + <Py_ssize_t> rows[0] * d
    else:
        gather_rows(X, d, rows, n_rows, xbuf)
        src = xbuf
    gemm_abt(<int> n_rows, k, d, -2.0, src, d, centers, d, 0.0, keys, k)
    for r in range(n_rows):
        for j in range(k):
            keys[r * k + j] = keys[r * k + j] + c_sqnorm[j]


cdef inline double key_error(
    double key,            # a key from distance_keys
    double xsq,            # the row's squared norm (float64), 0 when direct
    int d,
    bint direct,
    double eps,            # unit roundoff of the data dtype
    double c_norm_max,     # largest centre norm
) noexcept nogil:
    """How far ``key + xsq`` can be from the exact squared distance.

    The direct key is a sum of d rounded squares: relative error below
    (d + 4) eps.  The gemm key's error is below (d + 4) eps (||x|| + ||c||)^2
    (each product of the dot product by Cauchy-Schwarz, plus the norm and the
    addition), and a float64 squared norm's below (d + 4) 2**-53 ||x||^2.
    """
    cdef double xn
    if direct:
        return (d + 4) * eps * key
    xn = sqrt(xsq) + c_norm_max
    return (d + 4) * (eps * xn * xn + 2.0 ** -53 * xsq) * (1.0 + ROOT_SLACK)


cdef inline double root_down(double sq) noexcept nogil:
    """A lower bound on sqrt(sq) (0 for sq <= 0), valid under rounding."""
    if sq <= 0:
        return 0.0
    return sqrt(sq) * (1.0 - ROOT_SLACK)


cdef inline double root_up(double sq) noexcept nogil:
    """An upper bound on sqrt(sq) (0 for sq <= 0), valid under rounding."""
    if sq <= 0:
        return 0.0
    return sqrt(sq) * (1.0 + ROOT_SLACK)


cdef inline double lower_from_key(
    double key,            # a key from distance_keys
    double xsq,            # the row's squared norm (float64), 0 when direct
    int d,
    bint direct,
    double eps,            # unit roundoff of the data dtype
    double c_norm_max,     # largest centre norm
) noexcept nogil:
    """A lower bound on the distance whose key is ``key``, valid under rounding."""
    return root_down(key + xsq - key_error(key, xsq, d, direct, eps, c_norm_max))


cdef inline double lower_from_keys(
    double sq,             # exact squared distance to the nearest centre (by key)
    double kb,             # its key (gemm form, from the Lloyd pass's arithmetic)
    double ks,             # the second-smallest key
    int d,
    double eps,            # unit roundoff of the data dtype
    double rho,            # relative error allowance of sq
    double c_norm_max,     # largest centre norm
) noexcept nogil:
    """A lower bound on the distance to every centre but the nearest.

    Exactly, ||x - c_j||^2 = ||x - c_b||^2 + K_j - K_b for the exact keys
    K = ||c||^2 - 2 x.c; each computed key is within (d + 4) eps
    (||x|| + ||c||)^2 of its K (see key_error), and ||x|| is at most
    ||x - c_b|| + ||c_b||.  So no row norm is needed: the bound comes from
    the distance already known and the two keys.
    """
    cdef double xn = sqrt(sq) * (1.0 + rho) + 2.0 * c_norm_max
    return root_down(sq * (1.0 - rho) + (ks - kb) * (1.0 - ROOT_SLACK)
                     - 2.0 * (d + 4) * eps * xn * xn * (1.0 + ROOT_SLACK))



cdef inline void row_sqnorms_into(
    const floating[:, ::1] X,   # IN (n, d)
    double[::1] out,            # OUT (n,)
    int n_threads,
) noexcept nogil:
    """Squared norm of every row of X, in float64."""
    cdef Py_ssize_t i
    cdef int d = <int> X.shape[1]
    for i in prange(X.shape[0], num_threads=n_threads, schedule="static"):
        out[i] = sqnorm(&X[i, 0], d)


cdef inline centre_norms(centers):
    """(squared norms of the centres in their dtype, largest norm in float64).

    The squared norms are the ones the Lloyd pass's keys use (NumPy's
    einsum, as there); the largest norm enters the bound passes' rounding
    allowance for those keys.
    """
    import numpy as np
    C = np.asarray(centers)
    C64 = C.astype(np.float64, copy=False)
    return (np.einsum("ij,ij->i", C, C).astype(C.dtype, copy=False),
            float(np.sqrt(np.einsum("ij,ij->i", C64, C64).max())))
