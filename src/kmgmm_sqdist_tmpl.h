/* Squared distances and norms of rows, written once for both dtypes
 * (kmgmm_sqdist.h); the long-row loops are compiled for every level. */
#ifndef KMGMM_ENTRIES

/* ||x - c||^2 (||x||^2 when c is NULL) for long rows: eight accumulators
 * (element l goes to l % 8; the compiler turns them into vectors), added in
 * a fixed tree at the end. */
KAPI double KN(kmgmm_sqdist_wide)(const KT *x, const KT *c, int d)
{
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int l = 0;
    for (; l + 8 <= d; l += 8)
        for (int j = 0; j < 8; j++) {
            const double t = (double)x[l + j] - (c ? (double)c[l + j] : 0.0);
            a[j] += t * t;
        }
    for (int j = 0; l < d; l++, j++) {
        const double t = (double)x[l] - (c ? (double)c[l] : 0.0);
        a[j] += t * t;
    }
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

#else  /* KMGMM_ENTRIES */

KMGMM_ENTRY(double, kmgmm_sqdist_wide, (const KT *x, const KT *c, int d), (x, c, d))

/* ||x - c||^2 accumulated in double (||x||^2 when c is NULL): four
 * accumulators break the add chain (the compiler may not reorder a sum on its
 * own), the wide loop from KMGMM_SQDIST_WIDE features on; the order of the
 * additions is fixed. */
KMGMM_STATIC double KMGMM_CAT2(kmgmm_sqdist, KSUF)(const KT *x, const KT *c, int d)
{
    if (d >= KMGMM_SQDIST_WIDE)
        return KMGMM_CAT2(kmgmm_sqdist_wide, KSUF)(x, c, d);
    double a[4] = {0, 0, 0, 0};
    int l = 0;
    for (; l + 4 <= d; l += 4)
        for (int j = 0; j < 4; j++) {
            const double t = (double)x[l + j] - (c ? (double)c[l + j] : 0.0);
            a[j] += t * t;
        }
    for (; l < d; l++) {
        const double t = (double)x[l] - (c ? (double)c[l] : 0.0);
        a[0] += t * t;
    }
    return (a[0] + a[1]) + (a[2] + a[3]);
}

/* s += w * x over d elements (a weighted row into a cluster's sums). */
KMGMM_STATIC void KMGMM_CAT2(kmgmm_axpy, KSUF)(double *KMGMM_RESTRICT s, double w,
                                               const KT *KMGMM_RESTRICT x, int d)
{
    for (int l = 0; l < d; l++)
        s[l] += w * (double)x[l];
}
#endif
