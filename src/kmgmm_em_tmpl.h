/* The EM pass's row routine, written once for both dtypes of the weights
 * and compiled for every level (kmgmm_em.h, kmgmm_instances.h). */
#ifndef KMGMM_ENTRIES

/* The largest of x[0..k), k >= 1 (exact: the lanes' order does not matter). */
KFN double KN(kmgmm_row_max)(const double *x, int k)
{
    double lane[KMGMM_LANES];
    int j = 0;
    if (k < KMGMM_LANES) {
        double mx = x[0];
        for (j = 1; j < k; j++) mx = x[j] > mx ? x[j] : mx;
        return mx;
    }
    for (int t = 0; t < KMGMM_LANES; t++) lane[t] = x[t];
    for (j = KMGMM_LANES; j + KMGMM_LANES <= k; j += KMGMM_LANES)
        for (int t = 0; t < KMGMM_LANES; t++)   /* vectorised */
            lane[t] = x[j + t] > lane[t] ? x[j + t] : lane[t];
    for (; j < k; j++) lane[0] = x[j] > lane[0] ? x[j] : lane[0];
    double mx = lane[0];
    for (int t = 1; t < KMGMM_LANES; t++) mx = lane[t] > mx ? lane[t] : mx;
    return mx;
}

/* sum of x[0..k) in KMGMM_LANES running sums, added pairwise at the end: one
 * order of additions on every level, a vector loop where the level has one. */
KFN double KN(kmgmm_row_sum)(const double *x, int k)
{
    double lane[KMGMM_LANES] = {0};
    int j;
    for (j = 0; j + KMGMM_LANES <= k; j += KMGMM_LANES)
        for (int t = 0; t < KMGMM_LANES; t++)   /* vectorised */
            lane[t] += x[j + t];
    for (int t = 0; j < k; j++, t++) lane[t] += x[j];
    for (int h = KMGMM_LANES / 2; h > 0; h /= 2)
        for (int t = 0; t < h; t++) lane[t] += lane[t + h];
    return lane[0];
}

/* Tied log-densities from gh (m, d + k) = [G | H] = xc [P | P B^T] (the
 * whitened rows and their products with the whitened means b_j):
 * logp_ij = log_norm_j - max(||G_i||^2 - 2 H_ij + const_j, 0) / 2, the
 * clamp undoing rounding in the expansion.  Returns 0 (an entry point
 * returns a value). */
KAPI int KN(kmgmm_tied_logp)(const KT *gh, long m, int d, int k, const double *const_k,
                              const double *log_norm, double *logp)
{
    int t = d + k;
    for (long i = 0; i < m; i++) {
        const KT *g = gh + i * t;
        const double acc = KN(kmgmm_sqdist_wide)(g, NULL, d);   /* ||G_i||^2 */
        const KT *hh = g + d;
        double *lp = logp + i * k;
        for (int j = 0; j < k; j++) {                 /* vectorised */
            double v = acc - 2.0 * (double) hh[j] + const_k[j];
            v = v < 0.0 ? 0.0 : v;
            lp[j] = log_norm[j] - 0.5 * v;
        }
    }
    return 0;
}

/* For m rows of k log-densities: replace each row by its weighted
 * responsibilities w_i r_ij (soft: exp(logp - lse); hard: w_i at the most
 * likely component, 0 elsewhere), write lse_i (hard: the row maximum) and
 * the most likely component where the outputs are not NULL, add the rows'
 * weighted responsibilities to col_sum (k,) in row order when it is not
 * NULL, and return sum_i w_i lse_i over the rows of non-zero weight.  A row
 * whose densities are all zero (maximum -inf) gets no responsibility. */
KAPI double KN(kmgmm_responsibilities)(double *logp, const KT *w, long m, int k, int hard,
                                       double *lse_out, int *labels_out,
                                       double *col_sum)
{
    double total = 0.0, row_max[KMGMM_ROWS], row_sum[KMGMM_ROWS];
    int row_best[KMGMM_ROWS];
    for (long i0 = 0; i0 < m; i0 += KMGMM_ROWS) {
        long nb = m - i0 < KMGMM_ROWS ? m - i0 : KMGMM_ROWS;
        for (long t = 0; t < nb; t++) {
            double *lp = logp + (i0 + t) * k;
            double mx = KN(kmgmm_row_max)(lp, k);
            int best = 0;                           /* the first maximum */
            if (hard || labels_out)
                while (best < k - 1 && !(lp[best] == mx)) best++;
            double s = 1.0;
            if (!hard && mx != -INFINITY) {
                for (int j = 0; j < k; j++)
                    lp[j] = kmgmm_exp_nonpos(lp[j] - mx);
                s = KN(kmgmm_row_sum)(lp, k);
            }
            row_max[t] = mx;
            row_sum[t] = s;
            row_best[t] = best;
        }
        for (long t = 0; t < nb; t++)               /* vectorised */
            row_sum[t] = kmgmm_log_pos(row_sum[t]);
        for (long t = 0; t < nb; t++) {
            long i = i0 + t;
            double *lp = logp + i * k;
            double mx = row_max[t], wi = (double) w[i], lse;
            if (mx == -INFINITY) {
                /* Every component has zero density: no responsibility. */
                lse = -INFINITY;
                for (int j = 0; j < k; j++) lp[j] = 0.0;
            } else if (hard) {
                lse = mx;
                for (int j = 0; j < k; j++) lp[j] = 0.0;
                lp[row_best[t]] = wi;
            } else {
                double log_s = row_sum[t];
                lse = mx + log_s;
                double scale = wi * kmgmm_exp_nonpos(-log_s);
                for (int j = 0; j < k; j++) lp[j] *= scale;
            }
            if (col_sum)                            /* vectorised */
                for (int j = 0; j < k; j++) col_sum[j] += lp[j];
            if (lse_out) lse_out[i] = lse;
            if (labels_out) labels_out[i] = row_best[t];
            if (wi != 0.0) total += wi * lse;
        }
    }
    return total;
}

#else  /* KMGMM_ENTRIES */

KMGMM_ENTRY(int, kmgmm_tied_logp,
            (const KT *gh, long m, int d, int k, const double *const_k,
             const double *log_norm, double *logp),
            (gh, m, d, k, const_k, log_norm, logp))

KMGMM_ENTRY(double, kmgmm_responsibilities,
            (double *logp, const KT *w, long m, int k, int hard, double *lse_out,
             int *labels_out, double *col_sum),
            (logp, w, m, k, hard, lse_out, labels_out, col_sum))
#endif
