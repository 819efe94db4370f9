/* Row-wise log-sum-exp and responsibilities for the EM pass.
 *
 * The exponential is a polynomial the compiler vectorises (a loop over
 * components of libm's exp() stays scalar).  The row routine
 * (kmgmm_em_tmpl.h) is compiled for every level (kmgmm_cpu.h), so a portable
 * wheel still runs the wide code.
 */
#ifndef KMGMM_EM_H
#define KMGMM_EM_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kmgmm_sqdist.h"   /* kmgmm_sqdist_wide: the whitened rows' norms */


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

/* Rows per batch of the row routine. */
#define KMGMM_ROWS 64
/* Running maxima and sums per row (kmgmm_em_tmpl.h): the same number on
 * every level, so that every level adds in the same order. */
#define KMGMM_LANES 8

#define KMGMM_TEMPLATE "kmgmm_em_tmpl.h"
#include "kmgmm_instances.h"
#undef KMGMM_TEMPLATE
#endif
