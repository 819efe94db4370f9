/* The inference kernels' vector code, written once for every level and dtype
 * (kmgmm_infer.h compiles this file through kmgmm_instances.h).  Every
 * output element is computed by a fixed sequence of operations, whatever the
 * thread or the piece of rows it falls in.
 *
 * kmgmm_condition_rows_*  (x - shift) * inv_scale of m rows, in float64,
 *                         rounded to KT: the bits of
 *                         _conditioning.Conditioning.transform_block.
 * kmgmm_sqdist_rows_*     squared Euclidean distances of m rows to every
 *                         centre, from the differences (no expansion, so no
 *                         cancellation: a row equal to a centre gets 0), in
 *                         a register-blocked tile of KR rows x one or two
 *                         vectors of centres (centres across the lanes), one
 *                         multiply-add chain per distance in feature order.
 * kmgmm_finish_rows_*     the squared distances of m rows (contiguous,
 *                         m * k values, in a buffer in cache) made the
 *                         transform's output: sqrt(v) * scale (mode 0) or
 *                         min(v / 2, 2) (mode 1: 1 - cos of unit vectors),
 *                         then written out with streaming stores; returns
 *                         whether a result is not finite.
 * kmgmm_infer_lanes_*     KW: the centres' layout (infer_layout) follows it.
 */
#ifndef KMGMM_ENTRIES
#if KMGMM_HAVE_VECTORS

typedef KT KN(xv) __attribute__((vector_size(VB)));
#if KF64
#define KMGMM_SQRT __builtin_sqrt
#else
#define KMGMM_SQRT __builtin_sqrtf
#endif
typedef KT KN(xvu) __attribute__((vector_size(VB), aligned(sizeof(KT)), may_alias));

KFN KN(xv) KN(xload)(const KT *p) { return *(const KN(xvu) *)p; }
KFN void KN(xstore)(KT *p, KN(xv) v) { *(KN(xvu) *)p = v; }

KAPI int KN(kmgmm_condition_rows)(const KT *X, ptrdiff_t m, int d, const double *shift,
                                  double inv_scale, KT *out)
{
    for (ptrdiff_t i = 0; i < m; i++) {
        const KT *x = X + i * d;
        KT *o = out + i * d;
        if (shift)
            for (int l = 0; l < d; l++) o[l] = (KT)(((double)x[l] - shift[l]) * inv_scale);
        else
            for (int l = 0; l < d; l++) o[l] = (KT)((double)x[l] * inv_scale);
    }
    return 0;
}

/* Squared distances of R rows (x, row stride d) to the NV vectors of centres
 * of one block (Cb: d x NV KW), into out (row stride ldo) at the block's
 * columns; only the first `valid` columns of the block are stored. */
KFN void KN(dtile)(const int R, const int NV, const KT *x, int d, const KT *Cb, KT *out,
                   ptrdiff_t ldo, int valid)
{
    KN(xv) a[KR][2];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) a[r][v] = (KN(xv)){0};
    for (int l = 0; l < d; l++) {
        KN(xv) b[2];
        for (int v = 0; v < NV; v++) b[v] = KN(xload)(Cb + (ptrdiff_t)l * NV * KW + v * KW);
        for (int r = 0; r < R; r++) {
            const KT xr = x[(ptrdiff_t)r * d + l];
            for (int v = 0; v < NV; v++) {
                const KN(xv) e = b[v] - xr;
                a[r][v] += e * e;
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            KT *o = out + (ptrdiff_t)r * ldo + v * KW;
            const int left = valid - v * KW;
            if (left >= KW) {
                KN(xstore)(o, a[r][v]);
            } else {
                for (int p = 0; p < left; p++) o[p] = a[r][v][p];
            }
        }
}

KFN void KN(dtiles)(const int NV, const KT *X, ptrdiff_t m, int d, const KT *Cb, KT *out,
                    ptrdiff_t ldo, int valid)
{
    ptrdiff_t r = 0;
    for (; r + KR <= m; r += KR)
        KN(dtile)(KR, NV, X + r * d, d, Cb, out + r * ldo, ldo, valid);
    for (; r + 4 <= m; r += 4)
        KN(dtile)(4, NV, X + r * d, d, Cb, out + r * ldo, ldo, valid);
    for (; r < m; r++)
        KN(dtile)(1, NV, X + r * d, d, Cb, out + r * ldo, ldo, valid);
}

/* CT: the centres in blocks of 2 KW (the last block KW when at most KW
 * remain), each block transposed (d x width), one after the other, zero past
 * k (kp = k rounded up to KW).  out: (m, k), row stride ldo >= k. */
KAPI int KN(kmgmm_sqdist_rows)(const KT *X, ptrdiff_t m, int d, const KT *CT, int k, int kp,
                               KT *out, ptrdiff_t ldo)
{
    for (int cb = 0; cb < kp;) {
        const KT *Cb = CT + (ptrdiff_t)cb * d;
        const int valid = k - cb;
        if (kp - cb > KW) {
            KN(dtiles)(2, X, m, d, Cb, out + cb, ldo, valid);
            cb += 2 * KW;
        } else {
            KN(dtiles)(1, X, m, d, Cb, out + cb, ldo, valid);
            cb += KW;
        }
    }
    return 0;
}

/* A vector of KT to dst, aligned to VB, past the caches where the
 * instruction exists (x86-64: the output is written once and read by
 * someone else later; a plain store would first read each line). */
KFN void KN(stream)(KT *dst, KN(xv) v)
{
#if defined(__x86_64__)
#if VB == 64 && KF64
    _mm512_stream_pd(dst, (__m512d)v);
#elif VB == 64
    _mm512_stream_ps(dst, (__m512)v);
#elif VB == 32 && KF64
    _mm256_stream_pd(dst, (__m256d)v);
#elif VB == 32
    _mm256_stream_ps(dst, (__m256)v);
#elif KF64
    _mm_stream_pd(dst, (__m128d)v);
#else
    _mm_stream_ps(dst, (__m128)v);
#endif
#else
    KN(xstore)(dst, v);
#endif
}

/* The squared distances in src (count values) made the output, in place:
 * sqrt(v) * scale (mode 0) or min(v / 2, 2) (mode 1); then copied to dst.
 * Returns whether a result is not finite. */
KAPI int KN(kmgmm_finish_rows)(KT *src, KT *dst, ptrdiff_t count, double scale, int mode)
{
    int bad = 0;
    if (mode == 0) {
        const KT s = (KT)scale;
        for (ptrdiff_t t = 0; t < count; t++) {
            const KT v = KMGMM_SQRT(src[t]) * s;
            bad |= !(v < (KT)__builtin_huge_val());
            src[t] = v;
        }
    } else {
        for (ptrdiff_t t = 0; t < count; t++) {
            KT v = src[t] * (KT)0.5;
            bad |= !(v < (KT)__builtin_huge_val());
            src[t] = v < (KT)2 ? v : (KT)2;
        }
    }
    ptrdiff_t t = 0;
    for (; t < count && ((size_t)(dst + t) % VB) != 0; t++) dst[t] = src[t];
    for (; t + KW <= count; t += KW) KN(stream)(dst + t, KN(xload)(src + t));
    for (; t < count; t++) dst[t] = src[t];
#if defined(__x86_64__)
    _mm_sfence();
#endif
    return bad;
}

KAPI int KN(kmgmm_infer_lanes)(void) { return KW; }

#undef KMGMM_SQRT

#endif  /* KMGMM_HAVE_VECTORS */

#else  /* KMGMM_ENTRIES */

#if KMGMM_HAVE_VECTORS
#define KMGMM_INFER_ENTRY KMGMM_ENTRY
#else
/* never called: Python runs the NumPy code (have_vectors() is 0) */
#define KMGMM_INFER_ENTRY(RET, NAME, PARAMS, ARGS) \
    KMGMM_STATIC RET KMGMM_CAT2(NAME, KSUF) PARAMS { return 0; }
#endif
KMGMM_INFER_ENTRY(int, kmgmm_condition_rows,
    (const KT *X, ptrdiff_t m, int d, const double *shift, double inv_scale, KT *out),
    (X, m, d, shift, inv_scale, out))
KMGMM_INFER_ENTRY(int, kmgmm_sqdist_rows,
    (const KT *X, ptrdiff_t m, int d, const KT *CT, int k, int kp, KT *out, ptrdiff_t ldo),
    (X, m, d, CT, k, kp, out, ldo))
KMGMM_INFER_ENTRY(int, kmgmm_finish_rows,
    (KT *src, KT *dst, ptrdiff_t count, double scale, int mode),
    (src, dst, count, scale, mode))
KMGMM_INFER_ENTRY(int, kmgmm_infer_lanes, (void), ())
#undef KMGMM_INFER_ENTRY

#endif
