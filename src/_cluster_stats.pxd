# The running per-cluster statistics (weighted sums, weights and counts of
# rows of positive weight) that rows move in and out of: shared by the
# Hamerly pass and ``cluster_statistics`` (src/_common.pyx), so that fresh
# statistics and running ones use the same arithmetic.  Each caller gives
# every thread its own range of clusters lo..hi-1; rows are taken in order,
# so the result is the same for any number of threads.
from cython cimport floating


cdef inline void clear_clusters(
    int lo, int hi, int d,
    double* sums,               # OUT (k, d) rows lo..hi-1 zeroed
    double* weights,            # OUT (k,)
    long long* counts,          # OUT (k,)
) noexcept nogil:
    cdef int j, l
    for j in range(lo, hi):
        for l in range(d):
            sums[j * d + l] = 0
        weights[j] = 0
        counts[j] = 0


cdef inline void move_rows(
    const floating* X,          # IN (n, d)
    const floating* w,          # IN (n,)
    const int* labels,          # IN (n,) the rows' clusters now
    const int* rows,            # IN (n_items,) rows that moved, or NULL for rows 0..n_items-1
    const int* moved_from,      # IN (n_items,) their clusters before (-1: none), or NULL
    Py_ssize_t n_items,
    int d,
    int lo, int hi,             # only clusters lo..hi-1 are touched
    double* sums,               # INOUT (k, d)
    double* weights,            # INOUT (k,)
    long long* counts,          # INOUT (k,) rows of positive weight
) noexcept nogil:
    """Move rows, in order, from their old clusters' statistics to their new ones'."""
    cdef Py_ssize_t c, i
    cdef int j, a, l
    cdef double wi
    cdef double* s
    cdef const floating* x
    for c in range(n_items):
        i = rows[c] if rows != NULL else c
        j = labels[i]
        a = moved_from[c] if moved_from != NULL else -1
        wi = w[i]
        x = X + i * d
        if j >= lo and j < hi:
            s = sums + j * d
            for l in range(d):
                s[l] += wi * x[l]
            weights[j] += wi
            if wi > 0:
                counts[j] += 1
        if a >= lo and a < hi:
            s = sums + a * d
            for l in range(d):
                s[l] -= wi * x[l]
            weights[a] -= wi
            if wi > 0:
                counts[a] -= 1
