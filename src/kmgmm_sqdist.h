/* Squared Euclidean distances and norms of rows, accumulated in double
 * (kmgmm_sqdist_tmpl.h: kmgmm_sqdist_f32/_f64, kmgmm_axpy_f32/_f64), and
 * small helpers of the bound passes.
 *
 * The order of the additions is fixed, so a result does not depend on the
 * caller.  For float32 rows the difference is taken in double, where it is
 * exact for any two finite floats of comparable magnitude.
 */
#ifndef KMGMM_SQDIST_H
#define KMGMM_SQDIST_H
#include <math.h>
#include <stddef.h>

/* Relative allowance for rounding in a square root or a subtraction of bounds. */
#define KMGMM_ROOT_SLACK 4.440892098500626e-16  /* 2**-51 */

/* From this many features on, the distance takes the wide loop. */
#define KMGMM_SQDIST_WIDE 16

#if defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER)
#define KMGMM_RESTRICT __restrict
#else
#define KMGMM_RESTRICT
#endif

#define KMGMM_TEMPLATE "kmgmm_sqdist_tmpl.h"
#include "kmgmm_instances.h"
#undef KMGMM_TEMPLATE

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
