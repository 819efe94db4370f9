# Declarations of the vector kernels of kmgmm_lloyd_simd.h, shared by the
# Lloyd pass and the Hamerly pass (which scans rows with the same
# micro-kernel, so that their labels agree bit for bit; for at most four
# features the two use different direct loops).  Each call runs the copy of
# the module's CPU level (_cpu.pxi).
cdef extern from "kmgmm_lloyd_simd.h":
    int kmgmm_lanes_f32() noexcept nogil
    int kmgmm_lanes_f64() noexcept nogil
    int kmgmm_argmin_f32(const float* X, Py_ssize_t m, int d, const float* CT,
                         int kp, const float* csq, float* minv, float* mini,
                         int* labels, float* best) noexcept nogil
    int kmgmm_argmin_f64(const double* X, Py_ssize_t m, int d, const double* CT,
                         int kp, const double* csq, double* minv, double* mini,
                         int* labels, double* best) noexcept nogil
    int kmgmm_argmin2_f32(const float* X, Py_ssize_t m, int d, const float* CT,
                          int kp, const float* csq, float* minv, float* mini,
                          float* minv2, int* labels, float* best,
                          float* second) noexcept nogil
    int kmgmm_argmin2_f64(const double* X, Py_ssize_t m, int d, const double* CT,
                          int kp, const double* csq, double* minv, double* mini,
                          double* minv2, int* labels, double* best,
                          double* second) noexcept nogil
    double kmgmm_direct_f32(const float* X, const float* w, Py_ssize_t m, int d,
                            const float* centers, int k, int* labels,
                            float* min_sqdist, double* sums,
                            double* wsum, int want_sq,
                            long long* changed) noexcept nogil
    double kmgmm_direct_f64(const double* X, const double* w, Py_ssize_t m, int d,
                            const double* centers, int k, int* labels,
                            double* min_sqdist, double* sums,
                            double* wsum, int want_sq,
                            long long* changed) noexcept nogil
    double kmgmm_finish_f32(const float* X, const float* w, Py_ssize_t m, int d,
                            const float* centers, const int* labels,
                            float* min_sqdist, double* sums,
                            double* wsum, int want_sq) noexcept nogil
    double kmgmm_finish_f64(const double* X, const double* w, Py_ssize_t m, int d,
                            const double* centers, const int* labels,
                            double* min_sqdist, double* sums,
                            double* wsum, int want_sq) noexcept nogil


cdef inline pack_centers(centers, int lanes):
    """The centres as a micro-kernel of ``lanes`` lanes reads them: (CT, kp).

    k is padded to kp, a multiple of ``lanes``, with zero centres.  CT
    (kp * d,) holds blocks of 2 lanes centres (the last block one lanes wide
    when at most that many remain), each block transposed (d x width) and
    stored after the one before.
    """
    import numpy as np
    centers = np.asarray(centers)
    k, d = centers.shape
    kp = -(-k // lanes) * lanes
    padded = np.zeros((kp, d), dtype=centers.dtype)
    padded[:k] = centers
    parts = []
    cb = 0
    while cb < kp:
        width = 2 * lanes if kp - cb > lanes else lanes
        parts.append(padded[cb:cb + width].T.ravel())
        cb += width
    return np.concatenate(parts), kp


cdef inline simd_layout(centers, c_sqnorm):
    """The centres as the micro-kernel of the current level reads them:
    (CT, csq, lanes): ``pack_centers`` at the level's lanes, and the padding
    centres' squared norms in ``csq`` (kp,) +inf, so they are never the
    nearest.  ``c_sqnorm``: the centres' squared norms, in their dtype.
    """
    import numpy as np
    centers = np.asarray(centers)
    lanes = kmgmm_lanes_f32() if centers.dtype == np.float32 else kmgmm_lanes_f64()
    CT, kp = pack_centers(centers, lanes)
    csq = np.full(kp, np.inf, dtype=centers.dtype)
    csq[:centers.shape[0]] = c_sqnorm
    return CT, csq, lanes
