/* AVX2/FMA code paths of the Lloyd pass, chosen at run time.
 *
 * The build has no -march flag by default, so these functions carry their
 * own target attribute (kmgmm_dispatch.h) and lloyd_pass calls them only
 * when the CPU has AVX2 and FMA (kmgmm_simd_available); elsewhere the
 * portable Cython loop runs.  Every function handles the rows of one chunk and is deterministic:
 * the order of every floating-point operation is fixed by the code, never by
 * the thread that runs it.
 *
 * kmgmm_argmin_*   nearest centre (kmgmm_argmin2_*: and the second-nearest key)
 *                  by the gemm form ||c||^2 - 2 x.c, computed
 *                  as scikit-learn's gemm does (one FMA chain per distance in
 *                  feature order), in a register-blocked micro-kernel that
 *                  keeps the distances in registers: rows x centres tiles,
 *                  a running lane-wise minimum, no distance matrix.
 * kmgmm_direct_*   the whole pass for very few features: nearest centre by
 *                  exact distances, vectorised across rows.
 * kmgmm_finish_*   exact squared distance to the chosen centre and the chunk
 *                  inertia (unless not wanted), weighted per-cluster sums
 *                  and weights (float64).
 */
#ifndef KMGMM_LLOYD_SIMD_H
#define KMGMM_LLOYD_SIMD_H

#include <stddef.h>

#include "kmgmm_dispatch.h"

/* Centres per block of the micro-kernel: two vectors. */
#define KMGMM_BLOCK_F32 16
#define KMGMM_BLOCK_F64 8
/* Lanes of the running minimum kept per row. */
#define KMGMM_LANES_F32 8
#define KMGMM_LANES_F64 4

/* 1 when the AVX2/FMA paths were compiled and the CPU runs them. */
__attribute__((unused)) static int kmgmm_simd_available(void)
{
    return kmgmm_has_avx2_fma;
}

#if KMGMM_X86_SIMD

/* After the blocks: per row, the smallest of the lanes' minima (ties to the
 * lowest centre) and, when want2, the second smallest. */
#define KMGMM_LANE_REDUCE(T, LANES, INF)                                       \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        const T *v = minv + i * LANES, *j = mini + i * LANES;                  \
        T bv = v[0], bj = j[0];                                                \
        int bp = 0;                                                            \
        for (int p = 1; p < LANES; p++) {                                      \
            if (v[p] < bv || (v[p] == bv && j[p] < bj)) {                      \
                bv = v[p];                                                     \
                bj = j[p];                                                     \
                bp = p;                                                        \
            }                                                                  \
        }                                                                      \
        labels[i] = (int)bj;                                                   \
        best[i] = bv;                                                          \
        if (want2) {                                                           \
            T s = INF;                                                         \
            for (int p = 0; p < LANES; p++) {                                  \
                const T c = p == bp ? minv2[i * LANES + p] : v[p];             \
                s = c < s ? c : s;                                             \
            }                                                                  \
            second[i] = s;                                                     \
        }                                                                      \
    }

/* ---------------------------------------------------------------- float32 */

#define KMGMM_PASTE2(a, b) a##b
#define KMGMM_PASTE(a, b) KMGMM_PASTE2(a, b)
#define KMGMM_NAME(base) KMGMM_PASTE(base, KSUF)

#define KSUF f32
#define KT float
#define KV __m256
#define KH 8
#define KOP(o) _mm256_##o##_ps
#define KBCAST _mm256_broadcast_ss
#define KLANE _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7)
#define KINF __builtin_inff()
#include "kmgmm_argmin_tmpl.h"
#undef KSUF
#undef KT
#undef KV
#undef KH
#undef KOP
#undef KBCAST
#undef KLANE
#undef KINF

/* Exact distances to the chosen centres, weighted sums and weights (when
 * sums is not NULL), min_sqdist (when not NULL); returns the inertia.  The
 * distance (float32 differences, float64 squares as the portable loop) and
 * the sums share one sweep over the row; the summation order is fixed:
 * 4 float64 lanes over the features, then the tail. */
KMGMM_AVX2 static double kmgmm_finish_f32(
    const float *X, const float *w, ptrdiff_t m, int d, const float *centers,
    const int *labels, float *min_sqdist, double *sums, double *wsum, int want_sq)
{
    double inertia = 0;
    for (ptrdiff_t i = 0; i < m; i++) {
        const float *x = X + i * d;
        const int j = labels[i];
        const float *c = centers + (ptrdiff_t)j * d;
        const double wi = w[i];
        const __m256d wv = _mm256_set1_pd(wi);
        double *s = sums ? sums + (ptrdiff_t)j * d : NULL;
        if (!want_sq) {
            /* the sums alone, with the same arithmetic as below */
            if (s) {
                int l = 0;
                for (; l + 4 <= d; l += 4)
                    _mm256_storeu_pd(s + l, _mm256_fmadd_pd(wv, _mm256_cvtps_pd(_mm_loadu_ps(x + l)),
                                                            _mm256_loadu_pd(s + l)));
                for (; l < d; l++) s[l] += wi * (double)x[l];
                wsum[j] += wi;
            }
            continue;
        }
        __m256d acc = _mm256_setzero_pd();
        int l = 0;
        for (; l + 4 <= d; l += 4) {
            const __m128 xv = _mm_loadu_ps(x + l);
            const __m256d e = _mm256_cvtps_pd(_mm_sub_ps(xv, _mm_loadu_ps(c + l)));
            acc = _mm256_fmadd_pd(e, e, acc);
            if (s)
                _mm256_storeu_pd(s + l, _mm256_fmadd_pd(wv, _mm256_cvtps_pd(xv),
                                                        _mm256_loadu_pd(s + l)));
        }
        __m128d h = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
        double sq = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
        for (; l < d; l++) {
            const double e = (double)(x[l] - c[l]);
            sq += e * e;
            if (s) s[l] += wi * (double)x[l];
        }
        if (s) wsum[j] += wi;
        if (min_sqdist) min_sqdist[i] = (float)sq;
        inertia += wi * sq;
    }
    return inertia;
}

/* Per-cluster sums and weights of a chunk for d <= 3 features: each
 * cluster's (sums, weight) sit in one vector of four float64, so a row costs
 * one vector update instead of d + 1 scalar ones.  Rows take turns among
 * KMGMM_SUM_COPIES copies of the accumulators (row r updates copy r % 4), so
 * consecutive rows of one cluster do not wait on each other's update; the
 * copies are added in a fixed order at the end. */
#define KMGMM_SMALL_K 64
#define KMGMM_SUM_COPIES 4

KMGMM_AVX2_INLINE void kmgmm_small_sums_load(
    const int d, int k, const double *sums, const double *wsum,
    __m256d acc[][KMGMM_SMALL_K])
{
    for (int j = 0; j < k; j++) {
        double t[4] = {0, 0, 0, 0};
        for (int l = 0; l < d; l++) t[l] = sums[(ptrdiff_t)j * d + l];
        t[d] = wsum[j];
        acc[0][j] = _mm256_loadu_pd(t);
        for (int c = 1; c < KMGMM_SUM_COPIES; c++) acc[c][j] = _mm256_setzero_pd();
    }
}

KMGMM_AVX2_INLINE void kmgmm_small_sums_store(
    const int d, int k, __m256d acc[][KMGMM_SMALL_K], double *sums, double *wsum)
{
    for (int j = 0; j < k; j++) {
        double t[4];
        _mm256_storeu_pd(t, _mm256_add_pd(_mm256_add_pd(acc[0][j], acc[1][j]),
                                          _mm256_add_pd(acc[2][j], acc[3][j])));
        for (int l = 0; l < d; l++) sums[(ptrdiff_t)j * d + l] = t[l];
        wsum[j] = t[d];
    }
}

KMGMM_AVX2_INLINE void kmgmm_small_sums_f32(
    const int d, const float *X, const float *w, ptrdiff_t m, const int *labels,
    int k, double *sums, double *wsum)
{
    __m256d acc[KMGMM_SUM_COPIES][KMGMM_SMALL_K];
    const __m128 one = _mm_set1_ps(1.0f);
    kmgmm_small_sums_load(d, k, sums, wsum, acc);
    for (ptrdiff_t r = 0; r < m; r++) {
        const float *x = X + r * d;
        __m128 v;
        if (d == 1)
            v = _mm_blend_ps(_mm_set_ss(x[0]), one, 0x2);
        else if (d == 2)
            v = _mm_blend_ps(_mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)x), one, 0x4);
        else
            v = _mm_setr_ps(x[0], x[1], x[2], 1.0f);
        const int j = labels[r];
        __m256d *a = &acc[r % KMGMM_SUM_COPIES][j];
        *a = _mm256_fmadd_pd(_mm256_set1_pd((double)w[r]), _mm256_cvtps_pd(v), *a);
    }
    kmgmm_small_sums_store(d, k, acc, sums, wsum);
}

KMGMM_AVX2_INLINE void kmgmm_small_sums_f64(
    const int d, const double *X, const double *w, ptrdiff_t m, const int *labels,
    int k, double *sums, double *wsum)
{
    __m256d acc[KMGMM_SUM_COPIES][KMGMM_SMALL_K];
    kmgmm_small_sums_load(d, k, sums, wsum, acc);
    for (ptrdiff_t r = 0; r < m; r++) {
        const double *x = X + r * d;
        __m256d v;
        if (d == 1)
            v = _mm256_setr_pd(x[0], 1.0, 0.0, 0.0);
        else if (d == 2)
            v = _mm256_set_m128d(_mm_setr_pd(1.0, 0.0), _mm_loadu_pd(x));
        else
            v = _mm256_setr_pd(x[0], x[1], x[2], 1.0);
        const int j = labels[r];
        __m256d *a = &acc[r % KMGMM_SUM_COPIES][j];
        *a = _mm256_fmadd_pd(_mm256_set1_pd(w[r]), v, *a);
    }
    kmgmm_small_sums_store(d, k, acc, sums, wsum);
}

/* Exact squared distances of eight rows (one vector per feature) to one
 * centre. */
KMGMM_AVX2_INLINE __m256 kmgmm_dist_f32(const int d, const __m256 *x, const float *c)
{
    __m256 e = _mm256_sub_ps(x[0], _mm256_broadcast_ss(c));
    __m256 dist = _mm256_mul_ps(e, e);
    for (int l = 1; l < d; l++) {
        e = _mm256_sub_ps(x[l], _mm256_broadcast_ss(c + l));
        dist = _mm256_fmadd_ps(e, e, dist);
    }
    return dist;
}

/* The whole pass for d <= 4 features (d a constant after inlining): nearest centre by exact squared
 * distances with eight rows per vector and the centres in turn
 * (ties to the lowest index); the exact float64 distance to the chosen
 * centre (float32 differences), min_sqdist, the inertia (eight float64 lanes,
 * then the tail rows, in a fixed order) and, in row order, the sums and
 * weights.  Returns the inertia. */
KMGMM_AVX2_INLINE double kmgmm_direct_f32_d(
    const int d, const float *X, const float *w, ptrdiff_t m, const float *centers, int k,
    int *labels, float *min_sqdist, double *sums, double *wsum, const int want_sq,
    long long *changed)
{
    long long n_changed = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256d in_lo = _mm256_setzero_pd(), in_hi = _mm256_setzero_pd();
    double inertia = 0;
    ptrdiff_t i = 0;
    /* With at most 8 centres the chosen centre's coordinates are looked up
     * in a register (ct) after the loop; otherwise they ride along (bc). */
    const int lookup = k <= 8;
    __m256 ct[4];
    for (int l = 0; l < d; l++) {
        float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int j = 0; j < k && j < 8; j++) t[j] = centers[(ptrdiff_t)j * d + l];
        ct[l] = _mm256_loadu_ps(t);
    }
    for (; i + 8 <= m; i += 8) {
        /* the eight rows' features, one vector per feature */
        __m256 x[4], bc[4];
        if (d == 1) {
            x[0] = _mm256_loadu_ps(X + i);
        } else if (d == 2) {
            const __m256 a = _mm256_loadu_ps(X + 2 * i), b = _mm256_loadu_ps(X + 2 * i + 8);
            x[0] = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
            x[1] = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
        } else {
            float xt[4][8];
            for (int r = 0; r < 8; r++)
                for (int l = 0; l < d; l++) xt[l][r] = X[(i + r) * d + l];
            for (int l = 0; l < d; l++) x[l] = _mm256_loadu_ps(xt[l]);
        }
        __m256 bv = _mm256_setzero_ps(), bi = _mm256_setzero_ps();
        __m256 jv = _mm256_setzero_ps();
        for (int l = 0; l < d; l++) bc[l] = _mm256_setzero_ps();
        for (int j = 0; j < k; j++) {
            const float *c = centers + (ptrdiff_t)j * d;
            const __m256 dist = kmgmm_dist_f32(d, x, c);
            if (j == 0) {
                bv = dist;
                for (int l = 0; l < d; l++) bc[l] = _mm256_broadcast_ss(c + l);
            } else {
                const __m256 lt = _mm256_cmp_ps(dist, bv, _CMP_LT_OQ);
                bv = _mm256_blendv_ps(bv, dist, lt);
                bi = _mm256_blendv_ps(bi, jv, lt);
                if (!lookup)
                    for (int l = 0; l < d; l++)
                        bc[l] = _mm256_blendv_ps(bc[l], _mm256_broadcast_ss(c + l), lt);
            }
            jv = _mm256_add_ps(jv, one);
        }
        const __m256i lab = _mm256_cvtps_epi32(bi);
        if (changed)
            n_changed += 8 - __builtin_popcount(_mm256_movemask_ps(_mm256_castsi256_ps(
                _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)(labels + i)), lab))));
        _mm256_storeu_si256((__m256i *)(labels + i), lab);
        if (lookup)
            for (int l = 0; l < d; l++) bc[l] = _mm256_permutevar8x32_ps(ct[l], lab);
        if (!want_sq)
            continue;
        /* exact distance to the chosen centre (bc), in float64 */
        __m256d sq_lo = _mm256_setzero_pd(), sq_hi = _mm256_setzero_pd();
        for (int l = 0; l < d; l++) {
            const __m256 e = _mm256_sub_ps(x[l], bc[l]);
            const __m256d e_lo = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
            const __m256d e_hi = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
            sq_lo = _mm256_fmadd_pd(e_lo, e_lo, sq_lo);
            sq_hi = _mm256_fmadd_pd(e_hi, e_hi, sq_hi);
        }
        if (min_sqdist)
            _mm256_storeu_ps(min_sqdist + i, _mm256_set_m128(
                _mm256_cvtpd_ps(sq_hi), _mm256_cvtpd_ps(sq_lo)));
        const __m256 wv = _mm256_loadu_ps(w + i);
        in_lo = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(wv)), sq_lo, in_lo);
        in_hi = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(wv, 1)), sq_hi, in_hi);
    }
    for (; i < m; i++) {
        const float *x = X + i * d;
        float best = 0;
        int bj = 0;
        for (int j = 0; j < k; j++) {
            const float *c = centers + (ptrdiff_t)j * d;
            float e = x[0] - c[0];
            float dist = e * e;
            for (int l = 1; l < d; l++) {
                e = x[l] - c[l];
                dist = __builtin_fmaf(e, e, dist);
            }
            if (j == 0 || dist < best) {
                best = dist;
                bj = j;
            }
        }
        n_changed += labels[i] != bj;
        labels[i] = bj;
        double sq = 0;
        for (int l = 0; l < d; l++) {
            const double e = (double)(x[l] - centers[(ptrdiff_t)bj * d + l]);
            sq = __builtin_fma(e, e, sq);
        }
        if (min_sqdist) min_sqdist[i] = (float)sq;
        inertia = __builtin_fma((double)w[i], sq, inertia);
    }
    in_lo = _mm256_add_pd(in_lo, in_hi);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(in_lo), _mm256_extractf128_pd(in_lo, 1));
    inertia += _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    /* the sums in row order (a separate sweep: faster than mixing the
     * scattered stores into the vector loop) */
    if (sums && d <= 3 && k <= KMGMM_SMALL_K) {
        kmgmm_small_sums_f32(d, X, w, m, labels, k, sums, wsum);
    } else if (sums) {
        for (ptrdiff_t r = 0; r < m; r++) {
            const float *x = X + r * d;
            const double wr = w[r];
            const int j = labels[r];
            double *sr = sums + (ptrdiff_t)j * d;
            for (int l = 0; l < d; l++) sr[l] += wr * (double)x[l];
            wsum[j] += wr;
        }
    }
    if (changed) *changed += n_changed;
    return inertia;
}

/* Dispatch to a copy of the pass compiled for each feature count. */
KMGMM_AVX2 static double kmgmm_direct_f32(
    const float *X, const float *w, ptrdiff_t m, int d, const float *centers, int k,
    int *labels, float *min_sqdist, double *sums, double *wsum, int want_sq,
    long long *changed)
{
    want_sq = want_sq || min_sqdist != NULL;
#define KMGMM_DIRECT_CASE(D) \
    (want_sq ? kmgmm_direct_f32_d(D, X, w, m, centers, k, labels, min_sqdist, sums, wsum, 1, \
                                  changed) \
             : kmgmm_direct_f32_d(D, X, w, m, centers, k, labels, NULL, sums, wsum, 0, changed))
    switch (d) {
    case 1: return KMGMM_DIRECT_CASE(1);
    case 2: return KMGMM_DIRECT_CASE(2);
    case 3: return KMGMM_DIRECT_CASE(3);
    default: return KMGMM_DIRECT_CASE(4);
    }
#undef KMGMM_DIRECT_CASE
}

/* ---------------------------------------------------------------- float64 */

#define KSUF f64
#define KT double
#define KV __m256d
#define KH 4
#define KOP(o) _mm256_##o##_pd
#define KBCAST _mm256_broadcast_sd
#define KLANE _mm256_setr_pd(0, 1, 2, 3)
#define KINF __builtin_inf()
#include "kmgmm_argmin_tmpl.h"
#undef KSUF
#undef KT
#undef KV
#undef KH
#undef KOP
#undef KBCAST
#undef KLANE
#undef KINF

KMGMM_AVX2 static double kmgmm_finish_f64(
    const double *X, const double *w, ptrdiff_t m, int d, const double *centers,
    const int *labels, double *min_sqdist, double *sums, double *wsum, int want_sq)
{
    double inertia = 0;
    for (ptrdiff_t i = 0; i < m; i++) {
        const double *x = X + i * d;
        const int j = labels[i];
        const double *c = centers + (ptrdiff_t)j * d;
        const double wi = w[i];
        const __m256d wv = _mm256_set1_pd(wi);
        double *s = sums ? sums + (ptrdiff_t)j * d : NULL;
        if (!want_sq) {
            /* the sums alone, with the same arithmetic as below */
            if (s) {
                int l = 0;
                for (; l + 4 <= d; l += 4)
                    _mm256_storeu_pd(s + l, _mm256_fmadd_pd(wv, _mm256_loadu_pd(x + l),
                                                            _mm256_loadu_pd(s + l)));
                for (; l < d; l++) s[l] += wi * x[l];
                wsum[j] += wi;
            }
            continue;
        }
        __m256d acc = _mm256_setzero_pd();
        int l = 0;
        for (; l + 4 <= d; l += 4) {
            const __m256d xv = _mm256_loadu_pd(x + l);
            const __m256d e = _mm256_sub_pd(xv, _mm256_loadu_pd(c + l));
            acc = _mm256_fmadd_pd(e, e, acc);
            if (s)
                _mm256_storeu_pd(s + l, _mm256_fmadd_pd(wv, xv, _mm256_loadu_pd(s + l)));
        }
        __m128d h = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
        double sq = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
        for (; l < d; l++) {
            const double e = x[l] - c[l];
            sq += e * e;
            if (s) s[l] += wi * x[l];
        }
        if (s) wsum[j] += wi;
        if (min_sqdist) min_sqdist[i] = sq;
        inertia += wi * sq;
    }
    return inertia;
}

/* Nearest centre of G groups of four rows from row i (rows across the
 * lanes): the running minimum bv and its centre bi per group.  The groups
 * are independent chains, so G > 1 hides the compare-and-blend latency. */
KMGMM_AVX2_INLINE void kmgmm_direct_rows_f64(
    const int G, const int d, const double *X, ptrdiff_t i, const double *centers, int k,
    __m256d *bv, __m256d *bi)
{
    __m256d x[4][4];
    for (int g = 0; g < G; g++) {
        const double *Xg = X + (i + 4 * g) * d;
        if (d == 1) {
            x[g][0] = _mm256_loadu_pd(Xg);
        } else if (d == 2) {
            const __m256d a = _mm256_loadu_pd(Xg), b = _mm256_loadu_pd(Xg + 4);
            x[g][0] = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8);
            x[g][1] = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xD8);
        } else {
            double xt[4][4];
            for (int r = 0; r < 4; r++)
                for (int l = 0; l < d; l++) xt[l][r] = Xg[r * d + l];
            for (int l = 0; l < d; l++) x[g][l] = _mm256_loadu_pd(xt[l]);
        }
        bi[g] = _mm256_setzero_pd();
    }
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d jv = _mm256_setzero_pd();
    for (int j = 0; j < k; j++) {
        const double *c = centers + (ptrdiff_t)j * d;
        __m256d cb[4];
        for (int l = 0; l < d; l++) cb[l] = _mm256_broadcast_sd(c + l);
        for (int g = 0; g < G; g++) {
            __m256d e = _mm256_sub_pd(x[g][0], cb[0]);
            __m256d dist = _mm256_mul_pd(e, e);
            for (int l = 1; l < d; l++) {
                e = _mm256_sub_pd(x[g][l], cb[l]);
                dist = _mm256_fmadd_pd(e, e, dist);
            }
            if (j == 0) {
                bv[g] = dist;
            } else {
                const __m256d lt = _mm256_cmp_pd(dist, bv[g], _CMP_LT_OQ);
                bv[g] = _mm256_blendv_pd(bv[g], dist, lt);
                bi[g] = _mm256_blendv_pd(bi[g], jv, lt);
            }
        }
        jv = _mm256_add_pd(jv, one);
    }
}

/* As kmgmm_direct_f32, four rows per vector, sixteen rows at a time. */
KMGMM_AVX2_INLINE double kmgmm_direct_f64_d(
    const int d, const double *X, const double *w, ptrdiff_t m, const double *centers, int k,
    int *labels, double *min_sqdist, double *sums, double *wsum, const int want_sq,
    long long *changed)
{
    long long n_changed = 0;
    __m256d in_v = _mm256_setzero_pd();
    double inertia = 0;
    ptrdiff_t i = 0;
    while (i + 4 <= m) {
        __m256d bv[4], bi[4];
        const int G = i + 16 <= m ? 4 : 1;
        if (G == 4)
            kmgmm_direct_rows_f64(4, d, X, i, centers, k, bv, bi);
        else
            kmgmm_direct_rows_f64(1, d, X, i, centers, k, bv, bi);
        for (int g = 0; g < G; g++, i += 4) {
            const __m128i lab = _mm256_cvtpd_epi32(bi[g]);
            if (changed)
                n_changed += 4 - __builtin_popcount(_mm_movemask_ps(_mm_castsi128_ps(
                    _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(labels + i)), lab))));
            _mm_storeu_si128((__m128i *)(labels + i), lab);
            /* the chosen distance is already exact in float64 */
            if (min_sqdist) _mm256_storeu_pd(min_sqdist + i, bv[g]);
            if (want_sq) in_v = _mm256_fmadd_pd(_mm256_loadu_pd(w + i), bv[g], in_v);
        }
    }
    for (; i < m; i++) {
        const double *x = X + i * d;
        double best = 0;
        int bj = 0;
        for (int j = 0; j < k; j++) {
            const double *c = centers + (ptrdiff_t)j * d;
            double e = x[0] - c[0];
            double dist = e * e;
            for (int l = 1; l < d; l++) {
                e = x[l] - c[l];
                dist = __builtin_fma(e, e, dist);
            }
            if (j == 0 || dist < best) {
                best = dist;
                bj = j;
            }
        }
        n_changed += labels[i] != bj;
        labels[i] = bj;
        if (min_sqdist) min_sqdist[i] = best;
        inertia = __builtin_fma(w[i], best, inertia);
    }
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(in_v), _mm256_extractf128_pd(in_v, 1));
    inertia += _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    /* the sums in row order (a separate sweep: faster than mixing the
     * scattered stores into the vector loop) */
    if (sums && d <= 3 && k <= KMGMM_SMALL_K) {
        kmgmm_small_sums_f64(d, X, w, m, labels, k, sums, wsum);
    } else if (sums) {
        for (ptrdiff_t r = 0; r < m; r++) {
            const double *x = X + r * d;
            const double wr = w[r];
            const int j = labels[r];
            double *sr = sums + (ptrdiff_t)j * d;
            for (int l = 0; l < d; l++) sr[l] += wr * (double)x[l];
            wsum[j] += wr;
        }
    }
    if (changed) *changed += n_changed;
    return inertia;
}

/* Dispatch to a copy of the pass compiled for each feature count. */
KMGMM_AVX2 static double kmgmm_direct_f64(
    const double *X, const double *w, ptrdiff_t m, int d, const double *centers, int k,
    int *labels, double *min_sqdist, double *sums, double *wsum, int want_sq,
    long long *changed)
{
    want_sq = want_sq || min_sqdist != NULL;
#define KMGMM_DIRECT_CASE(D) \
    (want_sq ? kmgmm_direct_f64_d(D, X, w, m, centers, k, labels, min_sqdist, sums, wsum, 1, \
                                  changed) \
             : kmgmm_direct_f64_d(D, X, w, m, centers, k, labels, NULL, sums, wsum, 0, changed))
    switch (d) {
    case 1: return KMGMM_DIRECT_CASE(1);
    case 2: return KMGMM_DIRECT_CASE(2);
    case 3: return KMGMM_DIRECT_CASE(3);
    default: return KMGMM_DIRECT_CASE(4);
    }
#undef KMGMM_DIRECT_CASE
}

#else  /* no x86 SIMD: never called, kmgmm_simd_available() is 0 */

static void kmgmm_argmin_f32(const float *X, ptrdiff_t m, int d, const float *CT,
    int kp, const float *csq, float *minv, float *mini, int *labels, float *best) {}
static void kmgmm_argmin_f64(const double *X, ptrdiff_t m, int d, const double *CT,
    int kp, const double *csq, double *minv, double *mini, int *labels, double *best) {}
static void kmgmm_argmin2_f32(const float *X, ptrdiff_t m, int d, const float *CT,
    int kp, const float *csq, float *minv, float *mini, float *minv2, int *labels,
    float *best, float *second) {}
static void kmgmm_argmin2_f64(const double *X, ptrdiff_t m, int d, const double *CT,
    int kp, const double *csq, double *minv, double *mini, double *minv2, int *labels,
    double *best, double *second) {}
static double kmgmm_direct_f32(const float *X, const float *w, ptrdiff_t m, int d,
    const float *centers, int k, int *labels, float *min_sqdist, double *sums,
    double *wsum, int want_sq, long long *changed) { return 0; }
static double kmgmm_direct_f64(const double *X, const double *w, ptrdiff_t m, int d,
    const double *centers, int k, int *labels, double *min_sqdist, double *sums,
    double *wsum, int want_sq, long long *changed) { return 0; }
static double kmgmm_finish_f32(const float *X, const float *w, ptrdiff_t m, int d,
    const float *centers, const int *labels, float *min_sqdist, double *sums,
    double *wsum, int want_sq) { return 0; }
static double kmgmm_finish_f64(const double *X, const double *w, ptrdiff_t m, int d,
    const double *centers, const int *labels, double *min_sqdist, double *sums,
    double *wsum, int want_sq) { return 0; }

#endif
#endif
