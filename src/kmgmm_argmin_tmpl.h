/* The nearest-centre micro-kernel, written once for both dtypes:
 * kmgmm_lloyd_simd.h includes this file twice, with
 *   KSUF   function-name suffix (f32, f64)     KT    element type
 *   KV     vector type                         KH    lanes per vector
 *   KOP(o) the intrinsic _mm256_<o>_ps / _pd    KBCAST  the broadcast intrinsic
 *   KLANE  the vector 0, 1, ..., KH - 1         KINF  +inf of KT
 * and undefines them afterwards.  A block of centres is two vectors
 * (2 KH centres). */

/* Distances of R rows (x, row stride d) to one block of 2 KH centres, then
 * the running minimum per row and lane (minv, mini: KH values per row) and,
 * when want2, the second smallest (minv2). */
KMGMM_AVX2_INLINE void KMGMM_NAME(kmgmm_tile_)(
    const int R, const KT *x, int d, const KT *Cb,
    KV q0, KV q1, KV i0, KV i1,
    KT *minv, KT *mini, KT *minv2, const int want2, int first)
{
    KV a0[6], a1[6];
    const KV two = KOP(set1)(2.0);
    for (int r = 0; r < R; r++) {
        a0[r] = KOP(setzero)();
        a1[r] = KOP(setzero)();
    }
    for (int l = 0; l < d; l++) {
        const KV b0 = KOP(loadu)(Cb + l * 2 * KH);
        const KV b1 = KOP(loadu)(Cb + l * 2 * KH + KH);
        for (int r = 0; r < R; r++) {
            const KV xr = KBCAST(x + (ptrdiff_t)r * d + l);
            a0[r] = KOP(fmadd)(xr, b0, a0[r]);
            a1[r] = KOP(fmadd)(xr, b1, a1[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        /* ||c||^2 - 2 x.c (2 x.c is exact, so one rounding as in a gemm) */
        const KV d0 = KOP(fnmadd)(two, a0[r], q0);
        const KV d1 = KOP(fnmadd)(two, a1[r], q1);
        /* lane-wise minimum, its centre and (want2) the second smallest */
        KV mv, mi, m2, lt;
        if (first) {
            mv = d0;
            mi = i0;
            m2 = KOP(set1)(KINF);
        } else {
            mv = KOP(loadu)(minv + r * KH);
            mi = KOP(loadu)(mini + r * KH);
            lt = KOP(cmp)(d0, mv, _CMP_LT_OQ);
            if (want2)
                m2 = KOP(blendv)(KOP(min)(KOP(loadu)(minv2 + r * KH), d0), mv, lt);
            mv = KOP(blendv)(mv, d0, lt);
            mi = KOP(blendv)(mi, i0, lt);
        }
        lt = KOP(cmp)(d1, mv, _CMP_LT_OQ);
        if (want2) {
            m2 = KOP(blendv)(KOP(min)(m2, d1), mv, lt);
            KOP(storeu)(minv2 + r * KH, m2);
        }
        mv = KOP(blendv)(mv, d1, lt);
        mi = KOP(blendv)(mi, i1, lt);
        KOP(storeu)(minv + r * KH, mv);
        KOP(storeu)(mini + r * KH, mi);
    }
}

/* Nearest centre of m rows.  CT: (kp / (2 KH), d, 2 KH) the centres in
 * blocks, each block transposed (contiguous for the micro-kernel), kp a
 * multiple of 2 KH, zero past k; csq: (kp,) squared norms, +inf past k.
 * Scratch minv, mini (and minv2 when want2): (m, KH).  Ties go to the lowest
 * centre index.  best[i] receives the smallest key and, when want2,
 * second[i] the second smallest (equal to it on a tie; +inf for one
 * centre). */
KMGMM_AVX2_INLINE void KMGMM_NAME(kmgmm_argmin_body_)(
    const KT *X, ptrdiff_t m, int d, const KT *CT, int kp,
    const KT *csq, KT *minv, KT *mini, KT *minv2, const int want2,
    int *labels, KT *best, KT *second)
{
    const KV lane = KLANE;
    for (int cb = 0; cb < kp; cb += 2 * KH) {
        const KT *Cb = CT + (ptrdiff_t)cb * d;
        const KV q0 = KOP(loadu)(csq + cb);
        const KV q1 = KOP(loadu)(csq + cb + KH);
        const KV i0 = KOP(add)(lane, KOP(set1)((KT)cb));
        const KV i1 = KOP(add)(i0, KOP(set1)((KT)KH));
        const int first = cb == 0;
        ptrdiff_t r = 0;
        for (; r + 6 <= m; r += 6)
            KMGMM_NAME(kmgmm_tile_)(6, X + r * d, d, Cb, q0, q1, i0, i1, minv + r * KH,
                                    mini + r * KH, minv2 + r * KH, want2, first);
        for (; r < m; r++)
            KMGMM_NAME(kmgmm_tile_)(1, X + r * d, d, Cb, q0, q1, i0, i1, minv + r * KH,
                                    mini + r * KH, minv2 + r * KH, want2, first);
    }
    KMGMM_LANE_REDUCE(KT, KH, KINF)
}

KMGMM_AVX2 static void KMGMM_NAME(kmgmm_argmin_)(
    const KT *X, ptrdiff_t m, int d, const KT *CT, int kp,
    const KT *csq, KT *minv, KT *mini, int *labels, KT *best)
{
    KMGMM_NAME(kmgmm_argmin_body_)(X, m, d, CT, kp, csq, minv, mini, minv, 0, labels, best,
                                   best);
}

KMGMM_AVX2 static void KMGMM_NAME(kmgmm_argmin2_)(
    const KT *X, ptrdiff_t m, int d, const KT *CT, int kp,
    const KT *csq, KT *minv, KT *mini, KT *minv2,
    int *labels, KT *best, KT *second)
{
    KMGMM_NAME(kmgmm_argmin_body_)(X, m, d, CT, kp, csq, minv, mini, minv2, 1, labels, best,
                                   second);
}
