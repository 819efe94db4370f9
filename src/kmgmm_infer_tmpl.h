/* The inference kernels' vector code, written once for every level and dtype
 * (kmgmm_infer.h compiles this file through kmgmm_instances.h).  Every
 * output element is computed by a fixed sequence of operations, whatever the
 * thread or the piece of rows it falls in.
 *
 * kmgmm_condition_rows_*  (x - shift) * inv_scale of m rows, in float64,
 *                         rounded to KT: the bits of
 *                         _conditioning.Conditioning.transform_block.
 * kmgmm_dist_rows_*       the transform's output for m rows: the squared
 *                         Euclidean distances to every centre from the
 *                         differences (no expansion, so no cancellation: a
 *                         row equal to a centre gets 0), in a
 *                         register-blocked tile of KMGMM_DR rows x one or
 *                         two vectors of centres (centres across the lanes),
 *                         one multiply-add chain per distance in feature
 *                         order; each tile's results made the output as they
 *                         leave the registers (sqrt(v) * scale, mode 0, or
 *                         min(v / 2, 2), mode 1: 1 - cos of unit vectors),
 *                         so that the square roots overlap the next tile's
 *                         arithmetic; returns whether a result is not
 *                         finite.  A tile's rows go through every block of
 *                         centres before the next rows, so they stay in L1.
 * kmgmm_copy_rows_*       a piece's output (in a buffer in cache) to the
 *                         output array, with streaming stores.
 * kmgmm_narrow_rows_*     m rows rounded to float32, and their squared norms
 *                         (float64): the float32 screen of float64 rows in
 *                         _infer.nearest.
 * kmgmm_screen_keys_*     the nearest centre of m rows by the keys
 *                         ||c||^2 - 2 x.c, with the smallest and second
 *                         smallest key: the float32 screen's pass.
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

/* Rows of a distance tile: each holds 2 accumulators, and the differences
 * need 2 registers more than the Lloyd tile's products; with 16 vector
 * registers, KR = 6 rows would spill an accumulator (its chain then waits on
 * a store and a load every feature). */
#undef KMGMM_DR
#if VB == 64
#define KMGMM_DR KR
#else
#define KMGMM_DR 5
#endif

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

#if KF64
typedef long long KN(xi) __attribute__((vector_size(VB)));
#else
typedef int KN(xi) __attribute__((vector_size(VB)));
#endif

/* sqrt of every lane (correctly rounded, as the scalar sqrt) */
KFN KN(xv) KN(vsqrt)(KN(xv) v)
{
#if defined(__x86_64__)
#if VB == 64 && KF64
    return (KN(xv))_mm512_sqrt_pd((__m512d)v);
#elif VB == 64
    return (KN(xv))_mm512_sqrt_ps((__m512)v);
#elif VB == 32 && KF64
    return (KN(xv))_mm256_sqrt_pd((__m256d)v);
#elif VB == 32
    return (KN(xv))_mm256_sqrt_ps((__m256)v);
#elif KF64
    return (KN(xv))_mm_sqrt_pd((__m128d)v);
#else
    return (KN(xv))_mm_sqrt_ps((__m128)v);
#endif
#else
    for (int p = 0; p < KW; p++) v[p] = KMGMM_SQRT(v[p]);
    return v;
#endif
}

/* A tile's squared distances made the output: sqrt(v) * s (mode 0) or
 * min(v / 2, 2) (mode 1: 1 - cos of unit vectors); *ok loses the lanes
 * whose result (before the clamp) is not finite. */
KFN KN(xv) KN(finish)(KN(xv) v, KT s, int mode, KN(xi) *ok)
{
    const KN(xv) inf = (KN(xv)){0} + (KT)__builtin_huge_val();
    if (mode == 0) {
        v = KN(vsqrt)(v) * s;
        *ok = v < inf;
        return v;
    }
    v = v * (KT)0.5;
    *ok = v < inf;
    const KN(xv) two = (KN(xv)){0} + (KT)2;
    const KN(xi) lt = v < two;
    return (KN(xv))((lt & (KN(xi))v) | (~lt & (KN(xi))two));
}

/* The output of R rows (x, row stride d) for the NV vectors of centres of
 * one block (Cb: d x NV KW), into out (row stride ldo) at the block's
 * columns; only the first `valid` columns of the block are stored.  The
 * squared distances: one multiply-add chain each, in feature order, of the
 * differences.  Returns whether a stored result is not finite. */
KFN int KN(dtile)(const int R, const int NV, const KT *x, int d, const KT *Cb, KT *out,
                  ptrdiff_t ldo, int valid, KT s, int mode)
{
    KN(xv) a[KMGMM_DR][2];
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
    KN(xi) ok = (KN(xi)){0} - 1;
    int bad = 0;
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            KT *o = out + (ptrdiff_t)r * ldo + v * KW;
            const int left = valid - v * KW;
            KN(xi) okv;
            const KN(xv) f = KN(finish)(a[r][v], s, mode, &okv);
            if (left >= KW) {
                KN(xstore)(o, f);
                ok &= okv;
            } else {
                for (int p = 0; p < left; p++) {
                    o[p] = f[p];
                    bad |= !okv[p];
                }
            }
        }
    for (int p = 0; p < KW; p++) bad |= !ok[p];
    return bad;
}

/* R rows against every block of centres (the rows stay in L1 throughout). */
KFN int KN(drows)(const int R, const KT *x, int d, const KT *CT, int k, int kp, KT *out,
                  ptrdiff_t ldo, KT s, int mode)
{
    int bad = 0;
    for (int cb = 0; cb < kp;) {
        const KT *Cb = CT + (ptrdiff_t)cb * d;
        if (kp - cb > KW) {
            bad |= KN(dtile)(R, 2, x, d, Cb, out + cb, ldo, k - cb, s, mode);
            cb += 2 * KW;
        } else {
            bad |= KN(dtile)(R, 1, x, d, Cb, out + cb, ldo, k - cb, s, mode);
            cb += KW;
        }
    }
    return bad;
}

/* CT: the centres in blocks of 2 KW (the last block KW when at most KW
 * remain), each block transposed (d x width), one after the other, zero past
 * k (kp = k rounded up to KW).  out: (m, k), row stride ldo >= k.  Returns
 * whether a result is not finite. */
KAPI int KN(kmgmm_dist_rows)(const KT *X, ptrdiff_t m, int d, const KT *CT, int k, int kp,
                             KT *out, ptrdiff_t ldo, double scale, int mode)
{
    const KT s = (KT)scale;
    int bad = 0;
    ptrdiff_t r = 0;
    for (; r + KMGMM_DR <= m; r += KMGMM_DR)
        bad |= KN(drows)(KMGMM_DR, X + r * d, d, CT, k, kp, out + r * ldo, ldo, s, mode);
    for (; r + 4 <= m; r += 4)
        bad |= KN(drows)(4, X + r * d, d, CT, k, kp, out + r * ldo, ldo, s, mode);
    for (; r < m; r++)
        bad |= KN(drows)(1, X + r * d, d, CT, k, kp, out + r * ldo, ldo, s, mode);
    return bad;
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

/* count values from src (in cache) to dst: streaming stores when `stream`
 * (the output is written once and read later by the caller: a plain store
 * would first read each line into the cache), else plain copies. */
KAPI int KN(kmgmm_copy_rows)(const KT *src, KT *dst, ptrdiff_t count, int stream)
{
    if (!stream) {
        __builtin_memcpy(dst, src, (size_t)count * sizeof(KT));
        return 0;
    }
    ptrdiff_t t = 0;
    for (; t < count && ((size_t)(dst + t) % VB) != 0; t++) dst[t] = src[t];
    for (; t + KW <= count; t += KW) KN(stream)(dst + t, KN(xload)(src + t));
    for (; t < count; t++) dst[t] = src[t];
#if defined(__x86_64__)
    _mm_sfence();
#endif
    return 0;
}

/* m rows of X rounded to float32 (out) and each row's squared norm in
 * float64 (sqn; summed in any order: the caller takes it for a bound).
 * The next n_next values after X are prefetched meanwhile: the caller's
 * arithmetic on these rows then overlaps their reading from memory. */
typedef double KN(n4d) __attribute__((vector_size(32)));
typedef float KN(n4f) __attribute__((vector_size(16)));
typedef KT KN(n4k) __attribute__((vector_size(4 * sizeof(KT)), aligned(sizeof(KT)),
                                  may_alias));
typedef float KN(n4fu) __attribute__((vector_size(16), aligned(4), may_alias));
KAPI int KN(kmgmm_narrow_rows)(const KT *X, ptrdiff_t m, int d, float *out, double *sqn,
                               ptrdiff_t n_next)
{
    const char *next = (const char *)(X + m * d);
    const ptrdiff_t next_bytes = n_next * (ptrdiff_t)sizeof(KT);
    const ptrdiff_t per_row = m > 0 ? (next_bytes / m + 63) / 64 * 64 : 0;
    ptrdiff_t ahead = 0;
    for (ptrdiff_t i = 0; i < m; i++) {
        for (ptrdiff_t e = ahead + per_row; ahead < e && ahead < next_bytes; ahead += 64)
            __builtin_prefetch(next + ahead, 0, 3);
        const KT *x = X + i * d;
        float *o = out + i * d;
        KN(n4d) acc = (KN(n4d)){0};
        int l = 0;
        for (; l + 4 <= d; l += 4) {
            const KN(n4d) v = __builtin_convertvector(*(const KN(n4k) *)(x + l), KN(n4d));
            acc += v * v;
            *(KN(n4fu) *)(o + l) = __builtin_convertvector(v, KN(n4f));
        }
        double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        for (; l < d; l++) {
            const double v = (double)x[l];
            s += v * v;
            o[l] = (float)v;
        }
        sqn[i] = s;
    }
    return 0;
}

/* m ? a : b lane by lane (m all ones or all zeros) */
KFN KN(xv) KN(vsel)(KN(xi) m, KN(xv) a, KN(xv) b)
{
    return (KN(xv))((m & (KN(xi))a) | (~m & (KN(xi))b));
}

/* the smallest lane */
KFN KT KN(hmin)(KN(xv) v)
{
    KT b = v[0];
    for (int p = 1; p < KW; p++) b = v[p] < b ? v[p] : b;
    return b;
}

/* The screen's keys ||c||^2 - 2 x.c of R rows (x, row stride d) for the NV
 * vectors of one block of centres (Cb, q: its squared norms, idx: its
 * indices), folded into each row's running lane-wise minimum (mv, mi) and
 * second smallest (m2).  R <= 6 (12 accumulators, the centres' 2 vectors
 * and a row's broadcast feature: 15 of 16 registers). */
KFN void KN(ktile)(const int R, const int NV, const KT *x, int d, const KT *Cb,
                   const KN(xv) *q, const KN(xv) *idx, KN(xv) *mv, KN(xv) *mi, KN(xv) *m2)
{
    KN(xv) a[6][2];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) a[r][v] = (KN(xv)){0};
    for (int l = 0; l < d; l++) {
        KN(xv) b[2];
        for (int v = 0; v < NV; v++) b[v] = KN(xload)(Cb + (ptrdiff_t)l * NV * KW + v * KW);
        for (int r = 0; r < R; r++) {
            const KT xr = x[(ptrdiff_t)r * d + l];
            for (int v = 0; v < NV; v++) a[r][v] += xr * b[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            const KN(xv) dv = q[v] - (KT)2 * a[r][v];
            const KN(xi) lt = dv < mv[r];
            const KN(xi) lt2 = dv < m2[r];
            m2[r] = (KN(xv))((lt & (KN(xi))mv[r]) | (~lt & ((lt2 & (KN(xi))dv)
                                                              | (~lt2 & (KN(xi))m2[r]))));
            mv[r] = (KN(xv))((lt & (KN(xi))dv) | (~lt & (KN(xi))mv[r]));
            mi[r] = (KN(xv))((lt & (KN(xi))idx[v]) | (~lt & (KN(xi))mi[r]));
        }
}

/* R rows through every block of centres, then each row's label, smallest
 * and second smallest key. */
KFN void KN(krows)(const int R, const KT *x, int d, const KT *CT, int kp, const KT *csq,
                   int *labels, KT *best, KT *second)
{
    KN(xv) mv[6], mi[6], m2[6];
    for (int r = 0; r < R; r++) {
        mv[r] = m2[r] = (KN(xv)){0} + (KT)__builtin_huge_val();
        mi[r] = (KN(xv)){0};
    }
    for (int cb = 0; cb < kp;) {
        const KT *Cb = CT + (ptrdiff_t)cb * d;
        KN(xv) q[2], idx[2];
        const int NV = kp - cb > KW ? 2 : 1;
        for (int v = 0; v < NV; v++) {
            q[v] = KN(xload)(csq + cb + v * KW);
            for (int p = 0; p < KW; p++) idx[v][p] = (KT)(cb + v * KW + p);
        }
        if (NV == 2)
            KN(ktile)(R, 2, x, d, Cb, q, idx, mv, mi, m2);
        else
            KN(ktile)(R, 1, x, d, Cb, q, idx, mv, mi, m2);
        cb += NV * KW;
    }
    /* per row, branch-free (the comparisons are data-dependent): the
     * smallest lane minimum, the lowest centre index holding it, and the
     * second smallest key: the other lanes' minima and the winning lane's
     * second */
    const KN(xv) inf = (KN(xv)){0} + (KT)__builtin_huge_val();
    for (int r = 0; r < R; r++) {
        const KT b = KN(hmin)(mv[r]);
        const KT j = KN(hmin)(KN(vsel)(mv[r] == (KN(xv)){0} + b, mi[r], inf));
        const KT s2 = KN(hmin)(KN(vsel)(mi[r] == (KN(xv)){0} + j, m2[r], mv[r]));
        labels[r] = j < (KT)kp ? (int)j : 0;    /* (no index: a row that is not finite) */
        best[r] = b;
        second[r] = s2;
    }
}

/* The float32 screen of _infer.nearest: for m rows (float32), the index of
 * the smallest key ||c||^2 - 2 x.c (one multiply-add chain per key, in
 * feature order), that key and the second smallest (+inf for one centre;
 * not finite when the row is not).  CT, kp, csq: as kmgmm_argmin reads
 * them (simd_layout). */
KAPI int KN(kmgmm_screen_keys)(const KT *X, ptrdiff_t m, int d, const KT *CT, int kp,
                               const KT *csq, int *labels, KT *best, KT *second)
{
    ptrdiff_t r = 0;
    for (; r + 6 <= m; r += 6)
        KN(krows)(6, X + r * d, d, CT, kp, csq, labels + r, best + r, second + r);
    for (; r + 3 <= m; r += 3)
        KN(krows)(3, X + r * d, d, CT, kp, csq, labels + r, best + r, second + r);
    for (; r < m; r++)
        KN(krows)(1, X + r * d, d, CT, kp, csq, labels + r, best + r, second + r);
    return 0;
}

KAPI int KN(kmgmm_infer_lanes)(void) { return KW; }

#undef KMGMM_SQRT
#undef KMGMM_DR

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
KMGMM_INFER_ENTRY(int, kmgmm_dist_rows,
    (const KT *X, ptrdiff_t m, int d, const KT *CT, int k, int kp, KT *out, ptrdiff_t ldo,
     double scale, int mode),
    (X, m, d, CT, k, kp, out, ldo, scale, mode))
KMGMM_INFER_ENTRY(int, kmgmm_copy_rows,
    (const KT *src, KT *dst, ptrdiff_t count, int stream),
    (src, dst, count, stream))
KMGMM_INFER_ENTRY(int, kmgmm_narrow_rows,
    (const KT *X, ptrdiff_t m, int d, float *out, double *sqn, ptrdiff_t n_next),
    (X, m, d, out, sqn, n_next))
KMGMM_INFER_ENTRY(int, kmgmm_screen_keys,
    (const KT *X, ptrdiff_t m, int d, const KT *CT, int kp, const KT *csq, int *labels,
     KT *best, KT *second),
    (X, m, d, CT, kp, csq, labels, best, second))
KMGMM_INFER_ENTRY(int, kmgmm_infer_lanes, (void), ())
#undef KMGMM_INFER_ENTRY

#endif
