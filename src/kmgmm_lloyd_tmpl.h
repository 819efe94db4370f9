/* The Lloyd pass's vector kernels, written once for every level and dtype
 * (kmgmm_instances.h compiles this file for each; the names it uses are
 * listed there).  Every function handles the rows of one chunk and is
 * deterministic: the order of every floating-point operation is fixed by the
 * code and the level, never by the thread that runs it.
 *
 * kmgmm_argmin_*   nearest centre (kmgmm_argmin2_*: and the second-nearest
 *                  key) by the gemm form ||c||^2 - 2 x.c, one multiply-add
 *                  chain per distance in feature order, in a register-blocked
 *                  micro-kernel: tiles of KR rows x one or two vectors of
 *                  centres, a running lane-wise minimum, no distance matrix.
 *                  The centres come in blocks of two vectors and a last
 *                  block of one when that covers the rest, so k = 10 costs
 *                  one vector, not two.
 * kmgmm_direct_*   the whole pass for at most four features: nearest centre
 *                  by exact distances with rows across the lanes.
 * kmgmm_finish_*   exact squared distance to the chosen centre and the chunk
 *                  inertia (when wanted), weighted per-cluster sums and
 *                  weights (float64).
 * kmgmm_lanes_*    KW: the centres' layout (simd_layout) and the scratch
 *                  sizes follow it.
 */
#ifndef KMGMM_ENTRIES
#if KMGMM_HAVE_VECTORS

/* the tile's loops over rows and vectors unrolled, so that its accumulators
 * stay in registers through the argmin */
#ifndef KMGMM_UNROLL
#define KMGMM_PRAGMA_(x) _Pragma(#x)
#define KMGMM_UNROLL KMGMM_PRAGMA_(GCC unroll 16)
#endif
typedef KT KN(kv) __attribute__((vector_size(VB)));
typedef KT KN(kvu) __attribute__((vector_size(VB), aligned(sizeof(KT)), may_alias));
#if KF64
typedef long long KN(ki) __attribute__((vector_size(VB)));
#else
typedef int KN(ki) __attribute__((vector_size(VB)));
#endif
/* KW labels; KW float64 (the exact distances of KW rows) */
typedef int KN(lab) __attribute__((vector_size(KW * 4), aligned(4), may_alias));
typedef double KN(kvd) __attribute__((vector_size(KW * 8)));
/* VB / 8 values, as KT and as float64 (a row's features in float64) */
typedef KT KN(hv) __attribute__((vector_size(VB / 8 * sizeof(KT)), aligned(sizeof(KT)),
                                 may_alias));
typedef double KN(dv) __attribute__((vector_size(VB)));
typedef double KN(dvu) __attribute__((vector_size(VB), aligned(8), may_alias));
typedef double KN(d4) __attribute__((vector_size(32)));
#define KV KN(kv)
#define KI KN(ki)
#define KINF ((KT)__builtin_inf())

KFN KV KN(load)(const KT *p) { return *(const KN(kvu) *)p; }
KFN void KN(store)(KT *p, KV v) { *(KN(kvu) *)p = v; }
KFN KV KN(splat)(KT x) { return (KV){0} + x; }
/* m ? a : b, lane by lane (m all ones or all zeros) */
KFN KV KN(sel)(KI m, KV a, KV b) { return (KV)((m & (KI)a) | (~m & (KI)b)); }
KFN KI KN(seli)(KI m, KI a, KI b) { return (m & a) | (~m & b); }
KFN KV KN(iota)(KT start)
{
    KT t[KW];
    for (int p = 0; p < KW; p++) t[p] = start + (KT)p;
    return KN(load)(t);
}

#if defined(__clang__) || __GNUC__ >= 12
#define KMGMM_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define KMGMM_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, (KI){__VA_ARGS__})
#endif
/* KMGMM_XORh: lane p takes lane p ^ h (a butterfly step) */
#undef KMGMM_XOR8
#undef KMGMM_XOR4
#undef KMGMM_XOR2
#undef KMGMM_XOR1
#if KW == 2
#define KMGMM_XOR1 1, 0
#elif KW == 4
#define KMGMM_XOR2 2, 3, 0, 1
#define KMGMM_XOR1 1, 0, 3, 2
#elif KW == 8
#define KMGMM_XOR4 4, 5, 6, 7, 0, 1, 2, 3
#define KMGMM_XOR2 2, 3, 0, 1, 6, 7, 4, 5
#define KMGMM_XOR1 1, 0, 3, 2, 5, 4, 7, 6
#else
#define KMGMM_XOR8 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7
#define KMGMM_XOR4 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11
#define KMGMM_XOR2 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13
#define KMGMM_XOR1 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14
#endif

/* every lane: the smallest of v's lanes (a butterfly of minima, exact) */
KFN KV KN(lanes_min)(KV v)
{
#if KW >= 16
    v = KN(sel)(KMGMM_SHUFFLE(v, v, KMGMM_XOR8) < v, KMGMM_SHUFFLE(v, v, KMGMM_XOR8), v);
#endif
#if KW >= 8
    v = KN(sel)(KMGMM_SHUFFLE(v, v, KMGMM_XOR4) < v, KMGMM_SHUFFLE(v, v, KMGMM_XOR4), v);
#endif
#if KW >= 4
    v = KN(sel)(KMGMM_SHUFFLE(v, v, KMGMM_XOR2) < v, KMGMM_SHUFFLE(v, v, KMGMM_XOR2), v);
#endif
    v = KN(sel)(KMGMM_SHUFFLE(v, v, KMGMM_XOR1) < v, KMGMM_SHUFFLE(v, v, KMGMM_XOR1), v);
    return v;
}

/* Keys of R rows (x, row stride d) against one block of NV vectors of
 * centres (Cb: d x NV KW), then each row's running lane-wise minimum (minv,
 * mini: KW per row), its centre and, when want2, the second smallest
 * (minv2).  q: the block's squared norms, idx: its centre indices. */
KFN void KN(tile)(const int R, const int NV, const KT *x, int d, const KT *Cb,
                  const KV *q, const KV *idx, KT *minv, KT *mini, KT *minv2,
                  const int want2, const int first)
{
    KV a[KR][2];
    KMGMM_UNROLL
    for (int r = 0; r < R; r++)
        KMGMM_UNROLL
        for (int v = 0; v < NV; v++) a[r][v] = (KV){0};
    for (int l = 0; l < d; l++) {
        KV b[2];
        KMGMM_UNROLL
        for (int v = 0; v < NV; v++) b[v] = KN(load)(Cb + (ptrdiff_t)l * NV * KW + v * KW);
        KMGMM_UNROLL
        for (int r = 0; r < R; r++) {
            const KT xr = x[(ptrdiff_t)r * d + l];
            KMGMM_UNROLL
            for (int v = 0; v < NV; v++) a[r][v] += xr * b[v];
        }
    }
    KMGMM_UNROLL
    for (int r = 0; r < R; r++) {
        KV mv, mi, m2 = KN(splat)(KINF);
        int v = 0;
        if (first) {
            /* ||c||^2 - 2 x.c (2 x.c is exact: one rounding, as in a gemm) */
            mv = q[0] - (KT)2 * a[r][0];
            mi = idx[0];
            v = 1;
        } else {
            mv = KN(load)(minv + r * KW);
            mi = KN(load)(mini + r * KW);
            if (want2) m2 = KN(load)(minv2 + r * KW);
        }
        KMGMM_UNROLL
        for (; v < NV; v++) {
            const KV dv = q[v] - (KT)2 * a[r][v];
            const KI lt = dv < mv;
            if (want2) m2 = KN(sel)(lt, mv, KN(sel)(m2 < dv, m2, dv));
            mv = KN(sel)(lt, dv, mv);
            mi = KN(sel)(lt, idx[v], mi);
        }
        KN(store)(minv + r * KW, mv);
        KN(store)(mini + r * KW, mi);
        if (want2) KN(store)(minv2 + r * KW, m2);
    }
}

/* All rows of the chunk against one block of NV vectors of centres. */
KFN void KN(tiles)(const int NV, const KT *X, ptrdiff_t m, int d, const KT *Cb,
                   const KT *csq, int cb, KT *minv, KT *mini, KT *minv2, const int want2)
{
    KV q[2], idx[2];
    for (int v = 0; v < NV; v++) {
        q[v] = KN(load)(csq + cb + v * KW);
        idx[v] = KN(iota)((KT)(cb + v * KW));
    }
    const int first = cb == 0;
    ptrdiff_t r = 0;
    for (; r + KR <= m; r += KR)
        KN(tile)(KR, NV, X + r * d, d, Cb, q, idx, minv + r * KW, mini + r * KW,
                 minv2 + r * KW, want2, first);
    for (; r + 4 <= m; r += 4)      /* (a one-row tile is latency-bound) */
        KN(tile)(4, NV, X + r * d, d, Cb, q, idx, minv + r * KW, mini + r * KW,
                 minv2 + r * KW, want2, first);
    for (; r < m; r++)
        KN(tile)(1, NV, X + r * d, d, Cb, q, idx, minv + r * KW, mini + r * KW,
                 minv2 + r * KW, want2, first);
}

/* Nearest centre of m rows.  CT: the centres in blocks of 2 KW (the last
 * block KW when at most KW remain), each block transposed (d x width) and
 * stored one after the other, kp = k rounded up to KW, zero past k; csq:
 * (kp,) squared norms, +inf past k.  Scratch minv, mini (and minv2 when
 * want2): (m, KW).  Ties go to the lowest centre index.  best[i] receives
 * the smallest key and, when want2, second[i] the second smallest (equal to
 * it on a tie; +inf for one centre). */
KFN void KN(argmin_body)(const KT *X, ptrdiff_t m, int d, const KT *CT, int kp,
                         const KT *csq, KT *minv, KT *mini, KT *minv2, const int want2,
                         int *labels, KT *best, KT *second)
{
    for (int cb = 0; cb < kp;) {
        const KT *Cb = CT + (ptrdiff_t)cb * d;
        if (kp - cb > KW) {
            KN(tiles)(2, X, m, d, Cb, csq, cb, minv, mini, minv2, want2);
            cb += 2 * KW;
        } else {
            KN(tiles)(1, X, m, d, Cb, csq, cb, minv, mini, minv2, want2);
            cb += KW;
        }
    }
    /* per row, the smallest of the lanes' minima, ties to the lowest centre
     * (the smallest value, then the smallest index among the lanes that
     * hold it: the same result as a scan), and, when want2, the second
     * smallest: the other lanes' minima and the winning lane's second (each
     * centre has one lane) */
    for (ptrdiff_t i = 0; i < m; i++) {
        const KV mv = KN(load)(minv + i * KW), mi = KN(load)(mini + i * KW);
        const KV hv = KN(lanes_min)(mv);
        const KV hj = KN(lanes_min)(KN(sel)(mv == hv, mi, KN(splat)(KINF)));
        labels[i] = (int)hj[0];
        best[i] = hv[0];
        if (want2) {
            KT s = KINF;
            for (int p = 0; p < KW; p++) {
                const KT c = mini[i * KW + p] == hj[0] ? minv2[i * KW + p] : minv[i * KW + p];
                s = c < s ? c : s;
            }
            second[i] = s;
        }
    }
}

KAPI int KN(kmgmm_argmin)(const KT *X, ptrdiff_t m, int d, const KT *CT, int kp,
                          const KT *csq, KT *minv, KT *mini, int *labels, KT *best)
{
    KN(argmin_body)(X, m, d, CT, kp, csq, minv, mini, minv, 0, labels, best, best);
    return 0;
}

KAPI int KN(kmgmm_argmin2)(const KT *X, ptrdiff_t m, int d, const KT *CT, int kp,
                           const KT *csq, KT *minv, KT *mini, KT *minv2, int *labels,
                           KT *best, KT *second)
{
    KN(argmin_body)(X, m, d, CT, kp, csq, minv, mini, minv2, 1, labels, best, second);
    return 0;
}

KAPI int KN(kmgmm_lanes)(void) { return KW; }

/* Exact distances to the chosen centres, weighted sums and weights (when
 * sums is not NULL), min_sqdist (when not NULL); returns the inertia (when
 * want_sq).  The differences x - c and their squares in KT, KW features at a
 * time, the tail features in float64.  float32: two accumulators (even and
 * odd vectors of features: one chain would wait on each multiply-add), their
 * lanes added pairwise in float64 (squares are never negative, so summing
 * them in float32 loses no more than rounding: no cancellation, whatever the
 * distance from the origin); float64: one accumulator, its lanes in order.
 * The sums are accumulated in float64, row by row. */
KAPI double KN(kmgmm_finish)(const KT *X, const KT *w, ptrdiff_t m, int d, const KT *centers,
                             const int *labels, KT *min_sqdist, double *sums, double *wsum,
                             int want_sq)
{
    enum { DW = VB / 8 };
    double inertia = 0;
    for (ptrdiff_t i = 0; i < m; i++) {
        const KT *x = X + i * d;
        const int j = labels[i];
        const KT *c = centers + (ptrdiff_t)j * d;
        const double wi = w[i];
        double *s = sums ? sums + (ptrdiff_t)j * d : NULL;
#if KF64
        /* one accumulator: in float64 the sweep is bound by the sums */
        KV acc = (KV){0};
        int l = 0;
        for (; l + KW <= d; l += KW) {
            const KV xv = KN(load)(x + l);
            if (want_sq) {
                const KV e = xv - KN(load)(c + l);
                acc += e * e;
            }
            if (s) KN(store)(s + l, KN(load)(s + l) + wi * xv);
        }
        double sq = 0;
        for (int p = 0; p < KW; p++) sq += acc[p];
#else
        KV acc0 = (KV){0}, acc1 = (KV){0};
        int l = 0;
        for (; l + 2 * KW <= d; l += 2 * KW) {
            if (want_sq) {
                const KV e0 = KN(load)(x + l) - KN(load)(c + l);
                const KV e1 = KN(load)(x + l + KW) - KN(load)(c + l + KW);
                acc0 += e0 * e0;
                acc1 += e1 * e1;
            }
            if (s)
                for (int f = l; f < l + 2 * KW; f += DW)
                    *(KN(dvu) *)(s + f) += wi * __builtin_convertvector(
                        *(const KN(hv) *)(x + f), KN(dv));
        }
        if (l + KW <= d) {
            if (want_sq) {
                const KV e0 = KN(load)(x + l) - KN(load)(c + l);
                acc0 += e0 * e0;
            }
            if (s)
                for (int f = l; f < l + KW; f += DW)
                    *(KN(dvu) *)(s + f) += wi * __builtin_convertvector(
                        *(const KN(hv) *)(x + f), KN(dv));
            l += KW;
        }
        const KV acc = acc0 + acc1;
        /* the lanes pairwise in float64: lane p + lane p + KW / 2, ... */
        const KN(dv) a2 = __builtin_convertvector(*(const KN(hv) *)&acc, KN(dv))
                          + __builtin_convertvector(*(const KN(hv) *)((const KT *)&acc + DW),
                                                    KN(dv));
        double h[DW];
        for (int p = 0; p < DW; p++) h[p] = a2[p];
        for (int g = DW / 2; g >= 1; g /= 2)
            for (int p = 0; p < g; p++) h[p] += h[p + g];
        double sq = h[0];
#endif
        for (; l < d; l++) {
            const double e = (double)(KT)(x[l] - c[l]);
            sq += e * e;
            if (s) s[l] += wi * (double)x[l];
        }
        if (s) wsum[j] += wi;
        if (!want_sq) continue;
        if (min_sqdist) min_sqdist[i] = (KT)sq;
        inertia += wi * sq;
    }
    return inertia;
}

/* Per-cluster sums and weights of a chunk for d <= 3 features: a cluster's
 * (sums, weight) sit in one vector of four float64, so a row costs one
 * vector update.  Rows take turns among SUM_COPIES copies of the
 * accumulators (row r updates copy r % 4), so consecutive rows of one
 * cluster do not wait on each other; the copies are added in a fixed order
 * at the end.  k <= KMGMM_SMALL_K. */
#ifndef KMGMM_SMALL_K
#define KMGMM_SMALL_K 64
#define KMGMM_SUM_COPIES 4
#endif
KFN void KN(small_sums)(const int d, const KT *X, const KT *w, ptrdiff_t m, const int *labels,
                        int k, double *sums, double *wsum)
{
    KN(d4) acc[KMGMM_SUM_COPIES][KMGMM_SMALL_K];
    for (int j = 0; j < k; j++) {
        for (int c = 0; c < KMGMM_SUM_COPIES; c++) acc[c][j] = (KN(d4)){0};
        for (int l = 0; l < d; l++) acc[0][j][l] = sums[(ptrdiff_t)j * d + l];
        acc[0][j][d] = wsum[j];
    }
    for (ptrdiff_t r = 0; r < m; r++) {
        KN(d4) v = {0};
        for (int l = 0; l < d; l++) v[l] = (double)X[r * d + l];
        v[d] = 1.0;
        KN(d4) *a = &acc[r % KMGMM_SUM_COPIES][labels[r]];
        *a += (double)w[r] * v;
    }
    for (int j = 0; j < k; j++) {
        const KN(d4) t = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
        for (int l = 0; l < d; l++) sums[(ptrdiff_t)j * d + l] = t[l];
        wsum[j] = t[d];
    }
}

/* The d features of KW rows from X, one vector per feature. */
#undef KMGMM_EVEN
#undef KMGMM_ODD
#if KW == 2
#define KMGMM_EVEN 0, 2
#define KMGMM_ODD 1, 3
#elif KW == 4
#define KMGMM_EVEN 0, 2, 4, 6
#define KMGMM_ODD 1, 3, 5, 7
#elif KW == 8
#define KMGMM_EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define KMGMM_ODD 1, 3, 5, 7, 9, 11, 13, 15
#else
#define KMGMM_EVEN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define KMGMM_ODD 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#endif
KFN void KN(load_rows)(const int d, const KT *X, KV *x)
{
    if (d == 1) {
        x[0] = KN(load)(X);
    } else if (d == 2) {
        const KV a = KN(load)(X), b = KN(load)(X + KW);
        x[0] = KMGMM_SHUFFLE(a, b, KMGMM_EVEN);
        x[1] = KMGMM_SHUFFLE(a, b, KMGMM_ODD);
    } else {
        for (int l = 0; l < d; l++) {
            KT t[KW];
            for (int r = 0; r < KW; r++) t[r] = X[r * d + l];
            x[l] = KN(load)(t);
        }
    }
}

/* Nearest centre of G groups of KW rows from X (rows across the lanes) by
 * exact squared distances, the centres in turn (ties to the lowest index):
 * the running minimum bv, its centre bi and (f32) its coordinates bc.  The
 * groups are independent chains, which hides the compare-and-select
 * latency. */
KFN void KN(direct_rows)(const int G, const int d, const KT *X, const KT *centers, int k,
                         KV x[][4], KV *bv, KI *bi, KV bc[][4], const int lookup)
{
    for (int g = 0; g < G; g++) {
        KN(load_rows)(d, X + (ptrdiff_t)g * KW * d, x[g]);
        bi[g] = (KI){0};
    }
#if KF64
    (void)bc;
    (void)lookup;
#endif
    KI jv = (KI){0};
    for (int j = 0; j < k; j++) {
        const KT *c = centers + (ptrdiff_t)j * d;
        for (int g = 0; g < G; g++) {
            KV e = x[g][0] - c[0];
            KV dist = e * e;
            for (int l = 1; l < d; l++) {
                e = x[g][l] - c[l];
                dist += e * e;
            }
            if (j == 0) {
                bv[g] = dist;
#if !KF64
                for (int l = 0; l < d; l++) bc[g][l] = KN(splat)(c[l]);
#endif
            } else {
                const KI lt = dist < bv[g];
                bv[g] = KN(sel)(lt, dist, bv[g]);
                bi[g] = KN(seli)(lt, jv, bi[g]);
#if !KF64
                if (!lookup)
                    for (int l = 0; l < d; l++)
                        bc[g][l] = KN(sel)(lt, KN(splat)(c[l]), bc[g][l]);
#endif
            }
        }
        jv += 1;
    }
}

/* The whole pass for d <= 4 features (d a constant after inlining): labels
 * (and the count of changed ones), the exact float64 distance to the chosen
 * centre (KT differences), min_sqdist, the inertia (KW float64 lanes, then
 * the tail rows, in a fixed order) and, in row order, the sums and weights.
 * Returns the inertia. */
KFN double KN(direct_d)(const int d, const KT *X, const KT *w, ptrdiff_t m, const KT *centers,
                        int k, int *labels, KT *min_sqdist, double *sums, double *wsum,
                        const int want_sq, long long *changed)
{
    long long n_changed = 0;
    typedef int lab_t __attribute__((vector_size(KW * 4)));
    lab_t changed_v = {0};
    KN(kvd) in_v = {0};
    double inertia = 0;
    ptrdiff_t i = 0;
    /* float32 with at most KW centres: the chosen centre's coordinates are
     * looked up in a register (ct: coordinate l of every centre) after the
     * scan, instead of riding along with every compare */
#if !KF64 && defined(__GNUC__) && !defined(__clang__)
    const int lookup = k <= KW && want_sq;
#else
    const int lookup = 0;
#endif
    KV ct[4];
    for (int l = 0; l < d; l++) {
        KT t[KW];
        for (int j = 0; j < KW; j++) t[j] = j < k ? centers[(ptrdiff_t)j * d + l] : 0;
        ct[l] = KN(load)(t);
    }
    while (i + KW <= m) {
        KV x[2][4], bv[2], bc[2][4];
        KI bi[2];
        const int G = i + 2 * KW <= m ? 2 : 1;
        if (G == 2)
            KN(direct_rows)(2, d, X + i * d, centers, k, x, bv, bi, bc, lookup);
        else
            KN(direct_rows)(1, d, X + i * d, centers, k, x, bv, bi, bc, lookup);
#if !KF64 && defined(__GNUC__) && !defined(__clang__)
        if (lookup)
            for (int g = 0; g < G; g++)
                for (int l = 0; l < d; l++) bc[g][l] = __builtin_shuffle(ct[l], bi[g]);
#else
        (void)ct;
#endif
        for (int g = 0; g < G; g++, i += KW) {
            const lab_t lab = __builtin_convertvector(bi[g], lab_t);
            /* -1 in the lanes whose label changed */
            if (changed) changed_v += *(const KN(lab) *)(labels + i) != lab;
            *(KN(lab) *)(labels + i) = lab;
            if (!want_sq) continue;
#if KF64
            /* the chosen distance is already exact in float64 */
            const KN(kvd) sq = bv[g];
#else
            KN(kvd) sq = {0};
            for (int l = 0; l < d; l++) {
                const KN(kvd) e = __builtin_convertvector(x[g][l] - bc[g][l], KN(kvd));
                sq += e * e;
            }
#endif
            if (min_sqdist) KN(store)(min_sqdist + i, __builtin_convertvector(sq, KV));
            in_v += __builtin_convertvector(KN(load)(w + i), KN(kvd)) * sq;
        }
    }
    for (; i < m; i++) {
        const KT *x = X + i * d;
        KT best = 0;
        int bj = 0;
        for (int j = 0; j < k; j++) {
            const KT *c = centers + (ptrdiff_t)j * d;
            KT e = x[0] - c[0];
            KT dist = e * e;
            for (int l = 1; l < d; l++) {
                e = x[l] - c[l];
                dist += e * e;
            }
            if (j == 0 || dist < best) {
                best = dist;
                bj = j;
            }
        }
        n_changed += labels[i] != bj;
        labels[i] = bj;
        if (!want_sq) continue;
        double sq = 0;
        for (int l = 0; l < d; l++) {
            const double e = (double)(KT)(x[l] - centers[(ptrdiff_t)bj * d + l]);
            sq += e * e;
        }
        if (min_sqdist) min_sqdist[i] = (KT)sq;
        inertia += (double)w[i] * sq;
    }
    for (int p = 0; p < KW; p++) {
        inertia += in_v[p];
        n_changed -= changed_v[p];
    }
    /* the sums in row order (a separate sweep: faster than mixing the
     * scattered stores into the vector loop) */
    if (sums && d <= 3 && k <= KMGMM_SMALL_K) {
        KN(small_sums)(d, X, w, m, labels, k, sums, wsum);
    } else if (sums) {
        for (ptrdiff_t r = 0; r < m; r++) {
            const double wr = w[r];
            double *sr = sums + (ptrdiff_t)labels[r] * d;
            for (int l = 0; l < d; l++) sr[l] += wr * (double)X[r * d + l];
            wsum[labels[r]] += wr;
        }
    }
    if (changed) *changed += n_changed;
    return inertia;
}

/* A copy of the direct pass for each feature count, with and without the
 * distances. */
KAPI double KN(kmgmm_direct)(const KT *X, const KT *w, ptrdiff_t m, int d, const KT *centers,
                             int k, int *labels, KT *min_sqdist, double *sums, double *wsum,
                             int want_sq, long long *changed)
{
#define KMGMM_DIRECT_CASE(D)                                                            \
    (want_sq || min_sqdist                                                              \
         ? KN(direct_d)(D, X, w, m, centers, k, labels, min_sqdist, sums, wsum, 1, changed) \
         : KN(direct_d)(D, X, w, m, centers, k, labels, NULL, sums, wsum, 0, changed))
    switch (d) {
    case 1: return KMGMM_DIRECT_CASE(1);
    case 2: return KMGMM_DIRECT_CASE(2);
    case 3: return KMGMM_DIRECT_CASE(3);
    default: return KMGMM_DIRECT_CASE(4);
    }
#undef KMGMM_DIRECT_CASE
}

#undef KV
#undef KI
#undef KINF
#endif  /* KMGMM_HAVE_VECTORS */

#else  /* KMGMM_ENTRIES */

#if KMGMM_HAVE_VECTORS
#define KMGMM_LLOYD_ENTRY KMGMM_ENTRY
#else
/* never called: the Cython loops run (kmgmm_have_vectors() is 0) */
#define KMGMM_LLOYD_ENTRY(RET, NAME, PARAMS, ARGS) \
    KMGMM_STATIC RET KMGMM_CAT2(NAME, KSUF) PARAMS { return 0; }
#endif
KMGMM_LLOYD_ENTRY(int, kmgmm_argmin,
    (const KT *X, ptrdiff_t m, int d, const KT *CT, int kp, const KT *csq, KT *minv,
     KT *mini, int *labels, KT *best),
    (X, m, d, CT, kp, csq, minv, mini, labels, best))
KMGMM_LLOYD_ENTRY(int, kmgmm_argmin2,
    (const KT *X, ptrdiff_t m, int d, const KT *CT, int kp, const KT *csq, KT *minv,
     KT *mini, KT *minv2, int *labels, KT *best, KT *second),
    (X, m, d, CT, kp, csq, minv, mini, minv2, labels, best, second))
KMGMM_LLOYD_ENTRY(double, kmgmm_finish,
    (const KT *X, const KT *w, ptrdiff_t m, int d, const KT *centers, const int *labels,
     KT *min_sqdist, double *sums, double *wsum, int want_sq),
    (X, w, m, d, centers, labels, min_sqdist, sums, wsum, want_sq))
KMGMM_LLOYD_ENTRY(double, kmgmm_direct,
    (const KT *X, const KT *w, ptrdiff_t m, int d, const KT *centers, int k, int *labels,
     KT *min_sqdist, double *sums, double *wsum, int want_sq, long long *changed),
    (X, w, m, d, centers, k, labels, min_sqdist, sums, wsum, want_sq, changed))
KMGMM_LLOYD_ENTRY(int, kmgmm_lanes, (void), ())
#undef KMGMM_LLOYD_ENTRY

#endif
