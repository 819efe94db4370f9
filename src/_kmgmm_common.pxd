# Helpers shared by the kernels: row blocking, a fused gemm and the OpenMP
# queries (kmgmm_openmp.h).
#
# Rows are processed in chunks of CHUNK rows (one gemm per chunk).  Chunks are
# grouped into blocks; one block is the unit of parallel work and owns a
# partial copy of the sufficient statistics.  The number of blocks depends on
# the data shape only, and partial statistics are added in block order, so the
# results are bit-for-bit identical for any number of threads.
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm

cdef extern from "kmgmm_openmp.h":
    int kmgmm_openmp_enabled() noexcept nogil
    int kmgmm_omp_max_threads() noexcept nogil


cdef inline void gemm_abt(
    int m, int n, int k, floating alpha,
    const floating* A,     # IN (m, k) row-major, leading dimension lda
    int lda,
    const floating* B,     # IN (n, k) row-major, leading dimension ldb
    int ldb,
    floating beta,
    floating* C,           # INOUT (m, n) row-major, leading dimension ldc
    int ldc,
) noexcept nogil:
    """C = alpha * A @ B.T + beta * C for row-major arrays."""
    # Row-major C = A B^T is column-major C^T = B A^T.
    cdef char ta = b'T'
    cdef char tb = b'N'
    if floating is float:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float*> B, &ldb,
              <float*> A, &lda, &beta, C, &ldc)
    else:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double*> B, &ldb,
              <double*> A, &lda, &beta, C, &ldc)


cdef enum:
    # Rows per chunk: one gemm per chunk, the distances stay in cache.
    CHUNK = 256
    # At most this many blocks of rows (units of parallel work with their own
    # partial statistics); enough to balance any realistic core count.
    MAX_BLOCKS = 64
    # Doubles per 64-byte cache line.  Each thread's (or block's) row of
    # scratch or partial results is followed by this much padding, so that
    # no two threads write to the same line.
    LINE_DOUBLES = 8
    # Up to this many features a direct distance loop beats a gemm; the bound
    # passes switch at the same count, as their keys must be the Lloyd pass's
    # (the vector direct kernels of kmgmm_lloyd_simd.h take up to four).
    DIRECT_MAX_FEATURES = 4


cdef inline Py_ssize_t block_count(
    Py_ssize_t n_chunks, Py_ssize_t stat_doubles
) noexcept nogil:
    """Number of row blocks: a function of the data shape only.

    Each block holds ``stat_doubles`` partial statistics; their total is kept
    under about 64 MiB.
    """
    cdef Py_ssize_t n_blocks = n_chunks if n_chunks < MAX_BLOCKS else MAX_BLOCKS
    while n_blocks > 1 and n_blocks * stat_doubles > (8 << 20):
        n_blocks = (n_blocks + 1) // 2
    if n_blocks < 1:
        n_blocks = 1
    return n_blocks
