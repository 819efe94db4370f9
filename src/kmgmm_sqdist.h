/* Squared Euclidean distance between two rows, accumulated in double.
 *
 * Four independent accumulators (eight, in vectors, for long rows) break the add dependency chain (the compiler
 * may not reorder a floating-point sum on its own); the order of the
 * additions is fixed, so the result does not depend on the caller.  For
 * float32 rows the difference is taken in double, where it is exact for any
 * two finite floats of comparable magnitude.
 */
#ifndef KMGMM_SQDIST_H
#define KMGMM_SQDIST_H
#include <math.h>
#include <stddef.h>

/* Relative allowance for rounding in a square root or a subtraction of bounds. */
#define KMGMM_ROOT_SLACK 4.440892098500626e-16  /* 2**-51 */

#include "kmgmm_dispatch.h"

/* From this many features on, the distance takes the wide loop below. */
#define KMGMM_SQDIST_WIDE 16

/* Eight accumulators (element l goes to l % 8; the compiler turns them into
 * vectors), added in a fixed tree at the end. */
#define KMGMM_SQDIST_WIDE_BODY(CAST)                                   \
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                            \
    int l = 0;                                                         \
    for (; l + 8 <= d; l += 8)                                         \
        for (int j = 0; j < 8; j++) {                                  \
            const double t = CAST x[l + j] - CAST c[l + j];            \
            a[j] += t * t;                                             \
        }                                                              \
    for (int j = 0; l < d; l++, j++) {                                 \
        const double t = CAST x[l] - CAST c[l];                        \
        a[j] += t * t;                                                 \
    }                                                                  \
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));

KMGMM_DISPATCHED(double, kmgmm_sqdist_wide_d, (const double* x, const double* c, int d),
                 (x, c, d), { KMGMM_SQDIST_WIDE_BODY() })

KMGMM_DISPATCHED(double, kmgmm_sqdist_wide_f, (const float* x, const float* c, int d),
                 (x, c, d), { KMGMM_SQDIST_WIDE_BODY((double)) })

static inline double kmgmm_sqdist_d(const double* x, const double* c, int d)
{
    if (d >= KMGMM_SQDIST_WIDE)
        return kmgmm_sqdist_wide_d(x, c, d);
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, t0, t1, t2, t3;
    int l = 0;
    for (; l + 4 <= d; l += 4) {
        t0 = x[l] - c[l];
        t1 = x[l + 1] - c[l + 1];
        t2 = x[l + 2] - c[l + 2];
        t3 = x[l + 3] - c[l + 3];
        a0 += t0 * t0;
        a1 += t1 * t1;
        a2 += t2 * t2;
        a3 += t3 * t3;
    }
    for (; l < d; l++) {
        t0 = x[l] - c[l];
        a0 += t0 * t0;
    }
    return (a0 + a1) + (a2 + a3);
}

static inline double kmgmm_sqdist_f(const float* x, const float* c, int d)
{
    if (d >= KMGMM_SQDIST_WIDE)
        return kmgmm_sqdist_wide_f(x, c, d);
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, t0, t1, t2, t3;
    int l = 0;
    for (; l + 4 <= d; l += 4) {
        t0 = (double) x[l] - (double) c[l];
        t1 = (double) x[l + 1] - (double) c[l + 1];
        t2 = (double) x[l + 2] - (double) c[l + 2];
        t3 = (double) x[l + 3] - (double) c[l + 3];
        a0 += t0 * t0;
        a1 += t1 * t1;
        a2 += t2 * t2;
        a3 += t3 * t3;
    }
    for (; l < d; l++) {
        t0 = (double) x[l] - (double) c[l];
        a0 += t0 * t0;
    }
    return (a0 + a1) + (a2 + a3);
}

#define KMGMM_SQNORM_WIDE_BODY(CAST)                                   \
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                            \
    int l = 0;                                                         \
    for (; l + 8 <= d; l += 8)                                         \
        for (int j = 0; j < 8; j++)                                    \
            a[j] += CAST x[l + j] * CAST x[l + j];                     \
    for (int j = 0; l < d; l++, j++)                                   \
        a[j] += CAST x[l] * CAST x[l];                                 \
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));

KMGMM_DISPATCHED(double, kmgmm_sqnorm_wide_d, (const double* x, int d), (x, d),
                 { KMGMM_SQNORM_WIDE_BODY() })

KMGMM_DISPATCHED(double, kmgmm_sqnorm_wide_f, (const float* x, int d), (x, d),
                 { KMGMM_SQNORM_WIDE_BODY((double)) })

/* ||x||^2 accumulated in double, four accumulators as above (eight for
 * long rows). */
static inline double kmgmm_sqnorm_d(const double* x, int d)
{
    if (d >= KMGMM_SQDIST_WIDE)
        return kmgmm_sqnorm_wide_d(x, d);
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int l = 0;
    for (; l + 4 <= d; l += 4) {
        a0 += x[l] * x[l];
        a1 += x[l + 1] * x[l + 1];
        a2 += x[l + 2] * x[l + 2];
        a3 += x[l + 3] * x[l + 3];
    }
    for (; l < d; l++)
        a0 += x[l] * x[l];
    return (a0 + a1) + (a2 + a3);
}

static inline double kmgmm_sqnorm_f(const float* x, int d)
{
    if (d >= KMGMM_SQDIST_WIDE)
        return kmgmm_sqnorm_wide_f(x, d);
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int l = 0;
    for (; l + 4 <= d; l += 4) {
        a0 += (double) x[l] * x[l];
        a1 += (double) x[l + 1] * x[l + 1];
        a2 += (double) x[l + 2] * x[l + 2];
        a3 += (double) x[l + 3] * x[l + 3];
    }
    for (; l < d; l++)
        a0 += (double) x[l] * x[l];
    return (a0 + a1) + (a2 + a3);
}

/* s += w * x over d elements (a weighted row into a cluster's sums). */
static inline void kmgmm_axpy_d(double* restrict s, double w, const double* restrict x, int d)
{
    for (int l = 0; l < d; l++)
        s[l] += w * x[l];
}

static inline void kmgmm_axpy_f(double* restrict s, double w, const float* restrict x, int d)
{
    for (int l = 0; l < d; l++)
        s[l] += w * (double) x[l];
}

/* Ask for the first few cache lines of a row about to be read at random. */
static inline void kmgmm_prefetch(const void* p, size_t n_bytes)
{
#if defined(__GNUC__) || defined(__clang__)
    const char* c = (const char*) p;
    const size_t n = n_bytes < 256 ? n_bytes : 256;
    for (size_t o = 0; o < n; o += 64)
        __builtin_prefetch(c + o, 0, 3);
    __builtin_prefetch(c + n - 1, 0, 3);
#else
    (void) p;
    (void) n_bytes;
#endif
}

/* The largest float not above v (v finite, >= 0): a lower bound stays one. */
static inline float kmgmm_float_below(double v)
{
    float f = (float) v;
    if ((double) f > v)
        f = nextafterf(f, 0.0f);
    return f;
}
#endif
