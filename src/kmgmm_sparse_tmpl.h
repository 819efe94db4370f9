/* The sparse (CSR) pass's nearest-centre kernel, written once for both
 * dtypes and every level (kmgmm_sparse.h).  Deterministic: each dot product
 * is accumulated over the row's non-zeros in their order, whatever the
 * thread. */
#ifndef KMGMM_ENTRIES
#if KMGMM_HAVE_VECTORS

typedef double KN(sdv) __attribute__((vector_size(VB)));
typedef double KN(sdvu) __attribute__((vector_size(VB), aligned(8), may_alias));
#define KSDW (VB / 8)           /* float64 lanes */
#define KSNV 8                  /* vectors of centres per register block */

/* One row (nz non-zeros val, idx) against NV vectors of centres from cb on:
 * the dot products in registers, then their keys ||c||^2 - 2 x.c scanned in
 * centre order into (*best, *bj) (ties to the lowest index; the first key
 * of the row starts the scan when first). */
KFN void KN(sparse_block)(const int NV, const KT *val, const int *idx, ptrdiff_t nz,
                          const double *CT, int kp, int cb, const double *csq,
                          double *best, int *bj, const int first)
{
    KN(sdv) a[KSNV];
    KMGMM_SPARSE_UNROLL
    for (int v = 0; v < NV; v++) a[v] = (KN(sdv)){0};
    for (ptrdiff_t t = 0; t < nz; t++) {
        const double xv = (double)val[t];
        const double *c = CT + (ptrdiff_t)idx[t] * kp + cb;
        KMGMM_SPARSE_UNROLL
        for (int v = 0; v < NV; v++) a[v] += xv * *(const KN(sdvu) *)(c + v * KSDW);
    }
    double b = *best;
    int j = *bj;
    for (int v = 0; v < NV; v++)
        for (int p = 0; p < KSDW; p++) {
            const double key = csq[cb + v * KSDW + p] - 2 * a[v][p];
            if ((first && v == 0 && p == 0) || key < b) {
                b = key;
                j = cb + v * KSDW + p;
            }
        }
    *best = b;
    *bj = j;
}

/* Rows start..stop of a CSR matrix: each one's nearest centre (labels) and
 * its key (best_key, relative to start).  CT: the centres transposed and
 * padded, (n_features, kp), kp a multiple of 8; csq: (kp,) their squared
 * norms, +inf past k. */
KAPI int KN(kmgmm_sparse_keys)(const KT *data, const int *indices, const ptrdiff_t *indptr,
                               ptrdiff_t start, ptrdiff_t stop, const double *CT, int kp,
                               const double *csq, int *labels, double *best_key)
{
    for (ptrdiff_t i = start; i < stop; i++) {
        const ptrdiff_t s = indptr[i], nz = indptr[i + 1] - s;
        const KT *val = data + s;
        const int *idx = indices + s;
        double b = 0;
        int j = 0;
        for (int cb = 0; cb < kp;) {
            const int nv = (kp - cb) / KSDW < KSNV ? (kp - cb) / KSDW : KSNV;
            switch (nv) {
#define KMGMM_SPARSE_CASE(N) \
            case N: KN(sparse_block)(N, val, idx, nz, CT, kp, cb, csq, &b, &j, cb == 0); break;
            KMGMM_SPARSE_CASE(1)
            KMGMM_SPARSE_CASE(2)
            KMGMM_SPARSE_CASE(3)
            KMGMM_SPARSE_CASE(4)
            KMGMM_SPARSE_CASE(5)
            KMGMM_SPARSE_CASE(6)
            KMGMM_SPARSE_CASE(7)
            default: KN(sparse_block)(KSNV, val, idx, nz, CT, kp, cb, csq, &b, &j, cb == 0);
#undef KMGMM_SPARSE_CASE
            }
            cb += nv * KSDW;
        }
        labels[i] = j;
        best_key[i - start] = b;
    }
    return 0;
}
#undef KSDW
#undef KSNV
#endif  /* KMGMM_HAVE_VECTORS */

#else  /* KMGMM_ENTRIES */

#if KMGMM_HAVE_VECTORS
KMGMM_ENTRY(int, kmgmm_sparse_keys,
    (const KT *data, const int *indices, const ptrdiff_t *indptr, ptrdiff_t start,
     ptrdiff_t stop, const double *CT, int kp, const double *csq, int *labels,
     double *best_key),
    (data, indices, indptr, start, stop, CT, kp, csq, labels, best_key))
#else
/* never called: the Cython loop runs (kmgmm_have_vectors() is 0) */
KMGMM_STATIC int KMGMM_CAT2(kmgmm_sparse_keys, KSUF)(
    const KT *data, const int *indices, const ptrdiff_t *indptr, ptrdiff_t start,
    ptrdiff_t stop, const double *CT, int kp, const double *csq, int *labels,
    double *best_key) { return 0; }
#endif
#endif
