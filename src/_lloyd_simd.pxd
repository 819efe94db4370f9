# Declarations of the AVX2/FMA kernels in kmgmm_lloyd_simd.h, shared by the
# Lloyd pass and the Hamerly pass (which scans rows with the same
# micro-kernel, so that their labels agree bit for bit; for at most four
# features the two use different direct loops).
cdef extern from "kmgmm_lloyd_simd.h":
    int kmgmm_simd_available() noexcept nogil
    int KMGMM_BLOCK_F32, KMGMM_BLOCK_F64, KMGMM_LANES_F32, KMGMM_LANES_F64
    void kmgmm_argmin_f32(const float* X, Py_ssize_t m, int d, const float* CT,
                          int kp, const float* csq, float* minv, float* mini,
                          int* labels, float* best) noexcept nogil
    void kmgmm_argmin_f64(const double* X, Py_ssize_t m, int d, const double* CT,
                          int kp, const double* csq, double* minv, double* mini,
                          int* labels, double* best) noexcept nogil
    void kmgmm_argmin2_f32(const float* X, Py_ssize_t m, int d, const float* CT,
                           int kp, const float* csq, float* minv, float* mini,
                           float* minv2, int* labels, float* best,
                           float* second) noexcept nogil
    void kmgmm_argmin2_f64(const double* X, Py_ssize_t m, int d, const double* CT,
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


cdef inline simd_layout(centers, c_sqnorm):
    """The centres as the micro-kernel reads them: (CT, csq).

    Blocks of KMGMM_BLOCK_* centres, each block transposed and contiguous
    (CT has shape (kp // block, d, block)), padded with zero centres whose
    squared norm in ``csq`` (kp,) is +inf, so they are never the nearest.
    ``c_sqnorm``: the centres' squared norms, in their dtype.
    """
    import numpy as np
    centers = np.asarray(centers)
    k, d = centers.shape
    block = KMGMM_BLOCK_F32 if centers.dtype == np.float32 else KMGMM_BLOCK_F64
    kp = ((k + block - 1) // block) * block
    padded = np.zeros((kp, d), dtype=centers.dtype)
    padded[:k] = centers
    centers_t = np.ascontiguousarray(padded.reshape(kp // block, block, d).transpose(0, 2, 1))
    csq = np.full(kp, np.inf, dtype=centers.dtype)
    csq[:k] = c_sqnorm
    return centers_t, csq
