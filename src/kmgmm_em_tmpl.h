/* The EM pass's row routine, written once for both dtypes of the weights
 * and compiled for every level (kmgmm_em.h, kmgmm_instances.h). */
#ifndef KMGMM_ENTRIES

/* For m rows of k log-densities: replace each row by its weighted
 * responsibilities w_i r_ij (soft: exp(logp - lse); hard: w_i at the most
 * likely component, 0 elsewhere), write lse_i (hard: the row maximum) and
 * the most likely component where the outputs are not NULL, and return
 * sum_i w_i lse_i over the rows of non-zero weight.  A row whose densities
 * are all zero (maximum -inf) gets no responsibility. */
KAPI double KN(kmgmm_responsibilities)(double *logp, const KT *w, long m, int k, int hard,
                                       double *lse_out, int *labels_out)
{
    double total = 0.0, row_max[KMGMM_ROWS], row_sum[KMGMM_ROWS];
    int row_best[KMGMM_ROWS];
    for (long i0 = 0; i0 < m; i0 += KMGMM_ROWS) {
        long nb = m - i0 < KMGMM_ROWS ? m - i0 : KMGMM_ROWS;
        for (long t = 0; t < nb; t++) {
            double *lp = logp + (i0 + t) * k;
            double mx = lp[0];
            for (int j = 1; j < k; j++)             /* branch-free: vectorised */
                mx = lp[j] > mx ? lp[j] : mx;
            int best = 0;                           /* the first maximum */
            if (hard || labels_out)
                while (best < k - 1 && !(lp[best] == mx)) best++;
            double s = 1.0;
            if (!hard && mx != -INFINITY) {
                for (int j = 0; j < k; j++)
                    lp[j] = kmgmm_exp_nonpos(lp[j] - mx);
                s = 0.0;
                for (int j = 0; j < k; j++) s += lp[j];
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
            if (lse_out) lse_out[i] = lse;
            if (labels_out) labels_out[i] = row_best[t];
            if (wi != 0.0) total += wi * lse;
        }
    }
    return total;
}

#else  /* KMGMM_ENTRIES */

KMGMM_ENTRY(double, kmgmm_responsibilities,
            (double *logp, const KT *w, long m, int k, int hard, double *lse_out,
             int *labels_out),
            (logp, w, m, k, hard, lse_out, labels_out))
#endif
