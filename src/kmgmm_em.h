/* Row-wise log-sum-exp and responsibilities for the EM pass.
 *
 * The exponential is a polynomial the compiler vectorises (a loop over
 * components of libm's exp() stays scalar).  On x86-64 the row routine is
 * also built for AVX2+FMA and run where the CPU has them (kmgmm_dispatch.h),
 * so a portable wheel still runs the wide code.
 */
#ifndef KMGMM_EM_H
#define KMGMM_EM_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kmgmm_dispatch.h"

/* exp(x) for x <= 0, within a few ulp; 0 below -708 (where exp(x) is
 * subnormal: a responsibility of that size is nothing next to the row
 * maximum's 1).  Range reduction x = n ln2 + r, |r| <= ln2 / 2, then a
 * degree-12 Taylor polynomial (remainder < 2e-16) scaled by 2^n built in the
 * exponent bits. */
static inline double kmgmm_exp_nonpos(double x)
{
    const double shifter = 6755399441055744.0;   /* 1.5 * 2^52 */
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93145751953125e-1;
    const double ln2_lo = 1.42860682030941723212e-6;
    double keep = x >= -708.0 ? 1.0 : 0.0;
    double y = x >= -708.0 ? x : -708.0;
    double t = y * log2e + shifter;              /* low bits of t hold n */
    double n = t - shifter;
    double r = (y - n * ln2_hi) - n * ln2_lo;
    double p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 1023) << 52;                  /* 2^n, n in [-1022, 0] */
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale * keep;
}

/* log(x) for a positive normal x (here a row's sum of exponentials, in
 * [1, k]), within a few ulp, written so a loop of it vectorises: x = 2^e m
 * with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(z), z = (m - 1) / (m + 1),
 * |z| <= 0.172, by its series to z^23 (remainder < 1e-20). */
static inline double kmgmm_log_pos(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double two52 = 4503599627370496.0;
    uint64_t bits, ebits, mbits;
    memcpy(&bits, &x, sizeof bits);
    ebits = (bits >> 52) | 0x4330000000000000ULL;   /* 2^52 + biased exponent */
    mbits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double e, mant;
    memcpy(&e, &ebits, sizeof e);
    memcpy(&mant, &mbits, sizeof mant);
    e = e - two52 - 1023.0;
    double big = mant > 1.4142135623730951 ? 1.0 : 0.0;
    mant = mant * (1.0 - 0.5 * big);
    e = e + big;
    double z = (mant - 1.0) / (mant + 1.0);
    double z2 = z * z;
    double p = 1.0 / 23.0;
    p = p * z2 + 1.0 / 21.0;
    p = p * z2 + 1.0 / 19.0;
    p = p * z2 + 1.0 / 17.0;
    p = p * z2 + 1.0 / 15.0;
    p = p * z2 + 1.0 / 13.0;
    p = p * z2 + 1.0 / 11.0;
    p = p * z2 + 1.0 / 9.0;
    p = p * z2 + 1.0 / 7.0;
    p = p * z2 + 1.0 / 5.0;
    p = p * z2 + 1.0 / 3.0;
    p = p * z2 + 1.0;
    return e * ln2_hi + (e * ln2_lo + 2.0 * z * p);
}

/* For m rows of k log-densities: replace each row by its weighted
 * responsibilities w_i r_ij (soft: exp(logp - lse); hard: w_i at the most
 * likely component, 0 elsewhere), write lse_i (hard: the row maximum) and
 * the most likely component where the outputs are not NULL, and return
 * sum_i w_i lse_i over the rows of non-zero weight.  A row whose densities
 * are all zero (maximum -inf) gets no responsibility. */
#define KMGMM_ROWS 64
#define KMGMM_RESPONSIBILITIES_BODY                                             \
{                                                                               \
    double total = 0.0, row_max[KMGMM_ROWS], row_sum[KMGMM_ROWS];              \
    int row_best[KMGMM_ROWS];                                                   \
    for (long i0 = 0; i0 < m; i0 += KMGMM_ROWS) {                               \
        long nb = m - i0 < KMGMM_ROWS ? m - i0 : KMGMM_ROWS;                    \
        for (long t = 0; t < nb; t++) {                                         \
            double *lp = logp + (i0 + t) * k;                                   \
            double mx = lp[0];                                                  \
            for (int j = 1; j < k; j++)             /* branch-free: vectorised */ \
                mx = lp[j] > mx ? lp[j] : mx;                                   \
            int best = 0;                           /* the first maximum */     \
            if (hard || labels_out)                                             \
                while (best < k - 1 && !(lp[best] == mx)) best++;               \
            double s = 1.0;                                                     \
            if (!hard && mx != -INFINITY) {                                     \
                for (int j = 0; j < k; j++)                                     \
                    lp[j] = kmgmm_exp_nonpos(lp[j] - mx);                       \
                s = 0.0;                                                        \
                for (int j = 0; j < k; j++) s += lp[j];                         \
            }                                                                   \
            row_max[t] = mx;                                                    \
            row_sum[t] = s;                                                     \
            row_best[t] = best;                                                 \
        }                                                                       \
        for (long t = 0; t < nb; t++)               /* vectorised */            \
            row_sum[t] = kmgmm_log_pos(row_sum[t]);                             \
        for (long t = 0; t < nb; t++) {                                         \
            long i = i0 + t;                                                    \
            double *lp = logp + i * k;                                          \
            double mx = row_max[t], wi = (double) w[i], lse;                    \
            if (mx == -INFINITY) {                                              \
                /* Every component has zero density: no responsibility. */      \
                lse = -INFINITY;                                                \
                for (int j = 0; j < k; j++) lp[j] = 0.0;                        \
            } else if (hard) {                                                  \
                lse = mx;                                                       \
                for (int j = 0; j < k; j++) lp[j] = 0.0;                        \
                lp[row_best[t]] = wi;                                           \
            } else {                                                            \
                double log_s = row_sum[t];                                      \
                lse = mx + log_s;                                               \
                double scale = wi * kmgmm_exp_nonpos(-log_s);                   \
                for (int j = 0; j < k; j++) lp[j] *= scale;                     \
            }                                                                   \
            if (lse_out) lse_out[i] = lse;                                      \
            if (labels_out) labels_out[i] = row_best[t];                        \
            if (wi != 0.0) total += wi * lse;                                   \
        }                                                                       \
    }                                                                           \
    return total;                                                               \
}

KMGMM_DISPATCHED(double, kmgmm_responsibilities_f,
                 (double *logp, const float *w, long m, int k, int hard,
                  double *lse_out, int *labels_out),
                 (logp, w, m, k, hard, lse_out, labels_out), KMGMM_RESPONSIBILITIES_BODY)
KMGMM_DISPATCHED(double, kmgmm_responsibilities_d,
                 (double *logp, const double *w, long m, int k, int hard,
                  double *lse_out, int *labels_out),
                 (logp, w, m, k, hard, lse_out, labels_out), KMGMM_RESPONSIBILITIES_BODY)

#endif
