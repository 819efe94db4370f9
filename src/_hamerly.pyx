"""One pass of Hamerly's exact k-means: Lloyd's labels, far less work.

Every row keeps an upper bound ``upper`` on its distance to its own centre
and one lower bound ``lower`` on its distance to every other centre.  At the
start of a pass both are moved by how far the centres moved (the caller's
inflated ``move``/``lower_drop``).  A row whose upper bound is below both its
lower bound and half the distance from its centre to the nearest other
centre cannot change cluster, and the pass does not even read it.  Otherwise
the upper bound may first be tightened to the exact distance and the test
repeated (when the caller's ``tighten`` says it pays); the rows that still
fail are scanned against every centre with the keys of the Lloyd pass
(``||c||^2 - 2 x.c``, from its micro-kernel at the same CPU level, so the
labels agree with that pass's bit for bit; from a gemm in a build without
vector extensions, or from a direct loop for very few features, which
matches the portable Lloyd loop but not the Lloyd pass's vector direct
kernel) and
get new bounds from the nearest and second-nearest keys.

The per-cluster sums are kept up to date rather than recomputed: only the
rows that change cluster move their weighted values from one cluster's sums
to another's.  Each thread owns a range of clusters and applies the moves in
row order, so the sums are bit-for-bit identical for any number of threads;
they agree with the Lloyd pass's fresh sums up to rounding.  Integer counts
of rows of positive weight tell exactly when a cluster is empty.

Bounds must remain bounds under rounding: every distance carries a relative
error allowance, lower bounds are rounded down and upper bounds up (see
``_bounds_common.pxd``).
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport sqrt, INFINITY
from libc.string cimport memset

from _kmgmm_common cimport DIRECT_MAX_FEATURES, CHUNK, LINE_DOUBLES, gemm_abt
from _bounds_common cimport (
    ROOT_SLACK, add_row, centre_norms, distance_keys, gather_rows, key_error,
    lower_from_keys, prefetch_row, root_down, root_up, row_sqnorms_into, sqdist, sqnorm,
)
from _cluster_stats cimport clear_clusters, move_rows
from _lloyd_simd cimport (
    kmgmm_argmin2_f32, kmgmm_argmin2_f64, kmgmm_lanes_f32, kmgmm_lanes_f64, simd_layout,
)

cdef enum:
    # Chunks per block of parallel work; blocks depend on the data shape only.
    CHUNKS_PER_BLOCK = 16
    # How many rows ahead a scattered row of X is fetched.
    PREFETCH_AHEAD = 8

# The scan uses the Lloyd pass's micro-kernel at the same CPU level (set for
# every module together by kmgmm._kernels), so the two agree on every label.
include "_cpu.pxi"


# Bounds come from the exact distance rather than the keys when the keys'
# rounding allowance exceeds this fraction of the squared distance.
cdef double LOOSE_KEYS = 5e-2
# Memory a first pass may take for per-block statistics (or half of X's).
cdef Py_ssize_t FIRST_PASS_STATS_BYTES = 64 << 20


cdef void _hamerly_block(
    const floating* X,          # IN (m, d) the block's rows
    const floating* w,          # IN (m,)
    double* x_sqnorm,           # IN (m,) squared row norms (OUT on a first pass)
    Py_ssize_t m,
    Py_ssize_t row0,            # index of the block's first row in X
    int d,
    const floating* centers,    # IN (k, d)
    const floating* c_sqnorm,   # IN (k,)
    int k,
    double c_norm_max,
    const double* half_sep,     # IN (k,) lower bound on half the distance to the nearest other centre
    const double* move,         # IN (k,) upper bound on each centre's move since the last pass
    const double* lower_drop,   # IN (k,) largest move of any other centre, by label
    bint first,
    bint exact,                 # exact distances for every row (for the inertia)
    bint tighten,               # tighten failing upper bounds before a full scan
    bint direct,
    const floating* centers_t,  # IN (kp / block, d, block) the SIMD layout, or NULL
    const floating* csq_pad,    # IN (kp,) its squared norms
    int kp,
    double eps,                 # unit roundoff of the dtype
    double rho,                 # relative error allowance of an exact distance
    floating* xbuf,             # SCRATCH (CHUNK, d)
    floating* keys,             # SCRATCH (CHUNK, k), or the SIMD kernel's 3 (CHUNK, lanes)
    floating* kb_buf,           # SCRATCH (CHUNK,) smallest keys
    floating* ks_buf,           # SCRATCH (CHUNK,) second-smallest keys
    int* lab_buf,               # SCRATCH (CHUNK,)
    int* rows,                  # SCRATCH (m,)
    double* bnd,                # SCRATCH (m,) the failing rows' bounds
    double* tight,              # SCRATCH (m,) their exact squared distance to the old centre, or -1
    int* labels,                # INOUT (m,)
    double* upper,              # INOUT (m,)
    double* lower,              # INOUT (m,)
    int* moved_rows,            # OUT this block's changed rows (appended)
    int* moved_from,            # OUT their previous labels
    Py_ssize_t* n_moved,        # INOUT count of this block's changed rows
    double* acc,                # INOUT [inertia, evaluations, failing rows, rows a tightening clears]
    double* bsums,              # OUT (k, d) first pass: the block's sums, or NULL
    double* bweights,           # OUT (k,)   and weights
    long long* bcounts,         # OUT (k,)   and counts of rows of positive weight
) noexcept nogil:
    cdef Py_ssize_t i, r, r0, nb, n_cand, n_rows = 0
    cdef int j, a, best, lanes
    cdef double up, lo, bound, kb, ks, key, sq, xs, err
    cdef double evals = 0, inertia = 0, n_failed = 0, n_clear = 0
    cdef bint in_place
    cdef const floating* x
    cdef const floating* row_keys
    cdef const floating* src

    if bsums != NULL:
        memset(bsums, 0, k * d * sizeof(double))
        memset(bweights, 0, k * sizeof(double))
        memset(bcounts, 0, k * sizeof(long long))

    # The bounds alone, in row order: no row of X is read.
    for i in range(m):
        if first:
            rows[n_rows] = <int> i
            bnd[n_rows] = -INFINITY
            tight[n_rows] = -1.0
            n_rows += 1
            continue
        a = labels[i]
        up = (upper[i] + move[a]) * (1.0 + ROOT_SLACK)
        lo = lower[i] - lower_drop[a]
        lo = lo * (1.0 - ROOT_SLACK) if lo > 0 else lo
        lower[i] = lo
        bound = lo if lo > half_sep[a] else half_sep[a]
        if up < bound:
            if exact:
                # The row stays; only its distance is wanted (the inertia).
                sq = sqdist(X + i * d, centers + a * d, d)
                evals += 1
                up = sqrt(sq) * (1.0 + rho)
                inertia += w[i] * sq
            upper[i] = up
            continue
        rows[n_rows] = <int> i
        bnd[n_rows] = bound
        tight[n_rows] = -1.0
        n_rows += 1
    n_failed = n_rows

    # Tighten the failing upper bounds to the exact distance to their own
    # centre and test again.  Only these rows of X are read, scattered, so
    # each is fetched a few rows ahead of its use.
    if tighten and not first:
        n_cand = n_rows
        n_rows = 0
        for r in range(n_cand):
            if r + PREFETCH_AHEAD < n_cand:
                prefetch_row(X + <Py_ssize_t> rows[r + PREFETCH_AHEAD] * d,
                             d * sizeof(floating))
            i = rows[r]
            sq = sqdist(X + i * d, centers + labels[i] * d, d)
            evals += 1
            up = sqrt(sq) * (1.0 + rho)
            upper[i] = up
            if up < bnd[r]:
                n_clear += 1
                inertia += w[i] * sq
                continue
            rows[n_rows] = <int> i
            bnd[n_rows] = bnd[r]
            tight[n_rows] = sq
            n_rows += 1

    # The rows still failing, gathered from the whole block, in batches of
    # CHUNK rows (a batch of consecutive rows is used in place): nearest and
    # second-nearest keys by the Lloyd pass's own kernel.
    evals += n_rows * k
    r0 = 0
    while r0 < n_rows:
        nb = n_rows - r0
        if nb > CHUNK:
            nb = CHUNK
        in_place = rows[r0 + nb - 1] - rows[r0] == nb - 1
        if centers_t != NULL:
            src = X + <Py_ssize_t> rows[r0] * d
            if not in_place:
                gather_rows(X, d, rows + r0, nb, xbuf)
                src = xbuf
            lanes = kmgmm_lanes_f32() if floating is float else kmgmm_lanes_f64()
            if floating is float:
                kmgmm_argmin2_f32(src, nb, d, centers_t, kp, csq_pad, keys,
                                  keys + CHUNK * lanes, keys + 2 * CHUNK * lanes,
                                  lab_buf, kb_buf, ks_buf)
            else:
                kmgmm_argmin2_f64(src, nb, d, centers_t, kp, csq_pad, keys,
                                  keys + CHUNK * lanes, keys + 2 * CHUNK * lanes,
                                  lab_buf, kb_buf, ks_buf)
        else:
            distance_keys(X, d, rows + r0, nb, in_place, centers, c_sqnorm, k, direct,
                          xbuf, keys)
            for r in range(nb):
                row_keys = keys + r * k
                best = 0
                kb = row_keys[0]
                ks = INFINITY
                for j in range(1, k):
                    key = row_keys[j]
                    if key < kb:
                        ks = kb
                        kb = key
                        best = j
                    elif key < ks:
                        ks = key
                lab_buf[r] = best
                kb_buf[r] = <floating> kb
                ks_buf[r] = <floating> ks
        for r in range(nb):
            i = rows[r0 + r]
            x = X + i * d
            best = lab_buf[r]
            kb = kb_buf[r]
            ks = ks_buf[r]
            a = -1 if first else labels[i]
            if best != a:
                moved_rows[n_moved[0]] = <int> (row0 + i)
                moved_from[n_moved[0]] = a
                n_moved[0] += 1
                labels[i] = best
            if bsums != NULL:
                # First pass: the block's statistics while the row is at hand.
                add_row(bsums + best * d, w[i], x, d)
                bweights[best] += w[i]
                if w[i] > 0:
                    bcounts[best] += 1
            sq = tight[r0 + r] if best == a else -1.0
            # Bounds from the keys and the row's norm: no distance to compute.
            # Where rounding makes them loose (rows far from the origin
            # against their distances) or the inertia is wanted, from the
            # exact distance instead.
            if direct:
                xs = 0
            elif first:
                xs = sqnorm(x, d)     # while the row is at hand
                x_sqnorm[i] = xs
            else:
                xs = x_sqnorm[i]
            err = key_error(kb, xs, d, direct, eps, c_norm_max)
            if sq < 0 and (exact or err > LOOSE_KEYS * (kb + xs)):
                sq = sqdist(x, centers + best * d, d)
            if sq >= 0:
                upper[i] = sqrt(sq) * (1.0 + rho)
                inertia += w[i] * sq
            else:
                upper[i] = root_up(kb + xs + err)
            if not tighten and best == a and upper[i] < bnd[r0 + r]:
                n_clear += 1      # a tightening would have cleared this row
            if k == 1:
                lower[i] = INFINITY
            elif direct:
                lower[i] = root_down(ks - key_error(ks, xs, d, direct, eps, c_norm_max))
            elif sq < 0:
                # (the gemm keys' allowance does not depend on the key)
                lower[i] = root_down(ks + xs - err)
            else:
                lower[i] = lower_from_keys(sq, kb, ks, d, eps, rho, c_norm_max)
        r0 += nb
    acc[0] += inertia
    acc[1] += evals
    acc[2] += n_failed
    acc[3] += n_clear


def hamerly_pass(
    const floating[:, ::1] X,              # IN (n_samples, n_features)
    const floating[::1] sample_weight,     # IN (n_samples,)
    const floating[:, ::1] centers,        # IN (n_clusters, n_features)
    *,
    const double[::1] half_sep,            # IN (n_clusters,)
    const double[::1] move,                # IN (n_clusters,)
    const double[::1] lower_drop,          # IN (n_clusters,)
    int[::1] labels,                       # INOUT (n_samples,)
    double[::1] upper,                     # INOUT (n_samples,)
    double[::1] lower,                     # INOUT (n_samples,)
    double[:, ::1] sums,                   # INOUT (n_clusters, n_features)
    double[::1] weights,                   # INOUT (n_clusters,)
    long long[::1] counts,                 # INOUT (n_clusters,) rows of positive weight
    bint first,
    bint exact,
    int n_threads,
    double[::1] x_sqnorm=None,             # IN (n_samples,) squared row norms; OUT if first
    bint tighten=True,
    stats_budget=None,
    int[::1] moved_rows=None,              # SCRATCH (n_samples,); allocated when None
    int[::1] moved_from=None,              # SCRATCH (n_samples,); allocated when None
):
    """One Hamerly pass.

    Returns (inertia, distance evaluations, labels changed, rows whose
    bounds failed, rows among them that a tightened upper bound clears).

    ``first``: no bounds yet; every row is assigned in full and ``sums``,
    ``weights``, ``counts`` are overwritten.  Otherwise ``labels``, the
    bounds and the statistics come from the previous pass; ``move[j]`` is an
    upper bound on how far centre j moved since, ``lower_drop[a]`` the
    largest move of a centre other than a, ``half_sep[a]`` a lower bound on
    half the distance from centre a to its nearest other centre, and the
    statistics are updated with the rows that change cluster.

    A row whose bounds fail first has its upper bound tightened to the exact
    distance (when ``tighten``; the caller turns it off when the last pass
    shows it seldom clears a row) and then, if still failing, the distances
    to every centre.  New bounds come from the keys and ``x_sqnorm`` (which
    a first pass fills in; computed here when None) unless their rounding
    allowance is large.  A first pass adds up per-block statistics when
    they take at most ``stats_budget`` bytes (default: the larger of 64 MiB
    and half of X), else moves every row into them.  ``moved_rows`` and
    ``moved_from`` are scratch space a caller may keep between passes.  The
    inertia is exact for ``exact`` passes and NaN otherwise.  Everything but
    X, the weights and the centres is passed by keyword.  Inputs are
    trusted: C-contiguous, finite, matching shapes.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = <int> X.shape[1]
    cdef int k = <int> centers.shape[0]
    cdef bint direct = d <= DIRECT_MAX_FEATURES
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t n_blocks = (n_chunks + CHUNKS_PER_BLOCK - 1) // CHUNKS_PER_BLOCK

    dtype = np.float32 if floating is float else np.float64
    cdef double eps = 2.0 ** -24 if floating is float else 2.0 ** -53
    cdef double rho = (d + 4) * 2.0 ** -53 + 4 * ROOT_SLACK
    c_sqnorm_arr, c_norm_max_obj = centre_norms(centers)
    cdef double c_norm_max = c_norm_max_obj
    cdef const floating[::1] c_sqnorm = c_sqnorm_arr
    cdef bint simd = _use_vectors and not direct
    cdef int lanes = 1
    cdef const floating[::1] centers_t
    cdef const floating[::1] csq_pad
    cdef const floating* ct_ptr = NULL
    cdef int kp = 0
    if simd:
        centers_t, csq_pad, lanes = simd_layout(centers, c_sqnorm_arr)
        ct_ptr = &centers_t[0]
        kp = csq_pad.shape[0]
    else:
        csq_pad = c_sqnorm      # unused
    cdef floating[:, ::1] xbuf = np.empty((n_threads, 1 if direct else CHUNK * d), dtype=dtype)
    cdef floating[:, ::1] keys = np.empty(
        (n_threads, 3 * CHUNK * lanes if simd else CHUNK * k), dtype=dtype)
    cdef floating[:, ::1] kb_buf = np.empty((n_threads, CHUNK), dtype=dtype)
    cdef floating[:, ::1] ks_buf = np.empty((n_threads, CHUNK), dtype=dtype)
    cdef int[:, ::1] lab_buf = np.empty((n_threads, CHUNK), dtype=np.intc)
    cdef int[:, ::1] rows = np.empty((n_threads, CHUNK * CHUNKS_PER_BLOCK), dtype=np.intc)
    cdef double[:, ::1] bnd = np.empty((n_threads, CHUNK * CHUNKS_PER_BLOCK))
    cdef double[:, ::1] tight = np.empty((n_threads, CHUNK * CHUNKS_PER_BLOCK))
    if x_sqnorm is None:
        x_sqnorm = np.empty(n)
        if not first:
            row_sqnorms_into(X, x_sqnorm, n_threads)
    if moved_rows is None:
        moved_rows = np.empty(n, dtype=np.intc)
    if moved_from is None:
        moved_from = np.empty(n, dtype=np.intc)
    # (four accumulators per block, on a cache line of their own)
    cdef double[:, ::1] block_acc = np.zeros((max(n_blocks, 1), LINE_DOUBLES),
                                             dtype=np.float64)
    cdef Py_ssize_t[::1] block_moved = np.zeros(max(n_blocks, 1), dtype=np.intp)

    cdef Py_ssize_t b, m, start
    cdef int p, n_parts, lo, hi, tid, j, l

    # A first pass adds up each block's statistics while its rows are at
    # hand, when the blocks' copies take little memory; otherwise, and in
    # later passes, the rows that change cluster move in the statistics.
    if stats_budget is None:
        stats_budget = max(FIRST_PASS_STATS_BYTES, X.nbytes // 2)
    cdef bint block_stats = first and n_blocks * (k * d + 2 * k) * 8 <= stats_budget
    cdef double[:, :, ::1] block_sums = np.empty(
        (n_blocks if block_stats else 1, k, d), dtype=np.float64)
    cdef double[:, ::1] block_weights = np.empty((n_blocks if block_stats else 1, k))
    cdef long long[:, ::1] block_counts = np.empty(
        (n_blocks if block_stats else 1, k), dtype=np.int64)
    cdef double inertia = 0, evals = 0
    cdef long long changed = 0

    with nogil, parallel(num_threads=n_threads):
        for b in prange(n_blocks, schedule="dynamic"):
            tid = threadid()
            start = b * CHUNKS_PER_BLOCK * CHUNK
            m = n - start
            if m > CHUNKS_PER_BLOCK * CHUNK:
                m = CHUNKS_PER_BLOCK * CHUNK
            _hamerly_block(
                &X[start, 0], &sample_weight[start], &x_sqnorm[start], m, start, d,
                &centers[0, 0], &c_sqnorm[0], k, c_norm_max,
                &half_sep[0], &move[0], &lower_drop[0], first, exact, tighten, direct,
                ct_ptr, &csq_pad[0], kp,
                eps, rho, &xbuf[tid, 0], &keys[tid, 0], &kb_buf[tid, 0], &ks_buf[tid, 0],
                &lab_buf[tid, 0], &rows[tid, 0], &bnd[tid, 0], &tight[tid, 0],
                &labels[start], &upper[start], &lower[start],
                &moved_rows[start], &moved_from[start], &block_moved[b],
                &block_acc[b, 0],
                &block_sums[b, 0, 0] if block_stats else NULL,
                &block_weights[b, 0] if block_stats else NULL,
                &block_counts[b, 0] if block_stats else NULL,
            )

    # Move the changed rows between the clusters' statistics (or, after a
    # first pass with block statistics, add those up): each thread owns a
    # range of clusters and takes the rows, or blocks, in order.
    n_parts = n_threads if n_threads < k else k
    with nogil:
        for p in prange(n_parts, num_threads=n_threads, schedule="static"):
            lo = <int> ((<Py_ssize_t> k * p) // n_parts)
            hi = <int> ((<Py_ssize_t> k * (p + 1)) // n_parts)
            if first:
                clear_clusters(lo, hi, d, &sums[0, 0], &weights[0], &counts[0])
            if block_stats:
                for j in range(lo, hi):
                    for b in range(n_blocks):
                        for l in range(d):
                            sums[j, l] += block_sums[b, j, l]
                        weights[j] += block_weights[b, j]
                        counts[j] += block_counts[b, j]
                continue
            for b in range(n_blocks):
                start = b * CHUNKS_PER_BLOCK * CHUNK
                move_rows(&X[0, 0], &sample_weight[0], &labels[0], &moved_rows[start],
                           &moved_from[start], block_moved[b], d, lo, hi,
                           &sums[0, 0], &weights[0], &counts[0])
    cdef double n_failed = 0, n_clear = 0
    for b in range(n_blocks):
        inertia += block_acc[b, 0]
        evals += block_acc[b, 1]
        n_failed += block_acc[b, 2]
        n_clear += block_acc[b, 3]
        changed += block_moved[b]
    if not exact:
        inertia = np.nan
    return inertia, int(evals), int(changed), int(n_failed), int(n_clear)


cdef inline double _separation_row(
    const double* cc, const double* sqn, const double* norms, Py_ssize_t a,
    Py_ssize_t k, double slack_coef,
) noexcept nogil:
    """min over j != a of (sqn[a] + sqn[j] - 2 cc[j]) - slack_coef (norms[a] + norms[j])^2."""
    cdef Py_ssize_t j
    cdef double t, s, best = INFINITY
    for j in range(k):
        if j == a:
            continue
        t = (sqn[a] + sqn[j]) - 2.0 * cc[j]
        s = norms[a] + norms[j]
        t = t - slack_coef * (s * s)
        if t < best:
            best = t
    return best


def half_separation_sq(
    const double[:, ::1] C,                # IN (n_clusters, n_features) the centres
    const double[::1] sqn,                 # IN (n_clusters,) their squared norms
    const double[::1] norms,               # IN (n_clusters,) their norms
    double slack_coef,
    int rows_per_block,
    double[::1] out,                       # OUT (n_clusters,)
    *,
    int n_threads,
):
    """For every centre, the smallest lower bound on its squared distance to
    another centre: the gemm form ``||c_a||^2 + ||c_j||^2 - 2 c_a.c_j`` minus
    its rounding allowance ``slack_coef (||c_a|| + ||c_j||)^2``.

    Blocks of ``rows_per_block`` centres: each thread computes a block's dot
    products with every centre into its own scratch (rows_per_block x
    n_clusters doubles) and takes the minimum in one pass over it, so the
    memory is O(n_threads x rows_per_block x n_clusters), never
    n_clusters^2.  Each value depends on its block only, not on the thread.
    """
    cdef Py_ssize_t k = C.shape[0]
    cdef int d = <int> C.shape[1]
    cdef Py_ssize_t n_blocks = (k + rows_per_block - 1) // rows_per_block
    cdef double[:, ::1] scratch = np.empty((n_threads, rows_per_block * k))
    cdef Py_ssize_t b, a, start, m
    cdef int t
    if k == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        t = threadid()
        for b in prange(n_blocks, schedule="static"):
            start = b * rows_per_block
            m = k - start
            if m > rows_per_block:
                m = rows_per_block
            gemm_abt(<int> m, <int> k, d, 1.0, &C[start, 0], d, &C[0, 0], d, 0.0,
                     &scratch[t, 0], <int> k)
            for a in range(m):
                out[start + a] = _separation_row(&scratch[t, a * k], &sqn[0], &norms[0],
                                                 start + a, k, slack_coef)
