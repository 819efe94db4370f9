"""The rules and the geometry behind the bound algorithms: lower bounds on
the distances between centres, upper bounds on their moves, and which
algorithm ``KMeans(algorithm="auto")`` runs."""
import os

import numpy as np

from .. import _kernels

# Rounding allowance for a distance computed in double over d features.
_U = 2.0 ** -53


# Entries (centres x centres) per block of the centre-centre distances: a
# block's float64 temporaries take 8 x GEOMETRY_BLOCK bytes (2 MiB) each (one
# per thread for Hamerly's half_sep, two for a block of Elkan's half_cc), so
# Hamerly's geometry needs O(n_clusters) memory beyond them at any k.
GEOMETRY_BLOCK = 1 << 18


def geometry_rows(n_clusters):
    """Centres per block of the centre-centre distances."""
    return max(1, GEOMETRY_BLOCK // n_clusters)


def _half_distances(C, sqn, norms, start, stop):
    """Lower bounds on half the distances from centres start:stop to every
    centre, (stop - start, n_clusters), +inf where a centre meets itself.

    The squared distances come from a float64 gemm; its rounding error, at
    most (d + 4) u (||c_a|| + ||c_j||)^2, is subtracted so that the results
    stay lower bounds.
    """
    n_features = C.shape[1]
    d2 = sqn[start:stop, None] + sqn[None, :]
    cc = C[start:stop] @ C.T
    cc *= 2.0
    d2 -= cc
    slack = np.add(norms[start:stop, None], norms[None, :], out=cc)
    slack *= slack
    slack *= (n_features + 8) * _U
    d2 -= slack
    np.maximum(d2, 0.0, out=d2)
    np.sqrt(d2, out=d2)
    d2 *= 0.5
    d2 *= 1.0 - 4 * _U
    rows = np.arange(stop - start)
    d2[rows, rows + start] = np.inf
    return d2


def _norms(centers):
    C = np.ascontiguousarray(centers, dtype=np.float64)
    sqn = np.einsum("ij,ij->i", C, C)
    return C, sqn, np.sqrt(sqn)


def center_geometry(centers, out=None):
    """Lower bounds on half the distances between centres (Elkan's).

    Returns (half_cc, half_sep): half_cc[a, j] <= ||c_a - c_j|| / 2 (the
    diagonal is +inf) and half_sep[a] = min over j != a of half_cc[a, j].
    half_cc is n_clusters x n_clusters float64 (written into ``out`` when
    given, e.g. the previous iteration's); it is filled in blocks of
    ``geometry_rows`` centres, so the temporaries stay small.
    """
    C, sqn, norms = _norms(centers)
    n_clusters = C.shape[0]
    half_cc = np.empty((n_clusters, n_clusters)) if out is None else out
    step = geometry_rows(n_clusters)
    for start in range(0, n_clusters, step):
        stop = min(start + step, n_clusters)
        half_cc[start:stop] = _half_distances(C, sqn, norms, start, stop)
    return half_cc, half_cc.min(axis=1)


def half_separations(centers, n_threads=1):
    """half_sep of ``center_geometry`` (half the distance from each centre to
    the nearest other, a lower bound with the same rounding allowance)
    without the n_clusters x n_clusters array: blocks of ``geometry_rows``
    centres, the bound's minimum taken in one pass over each (the root and
    the scaling are monotone, so they follow the minimum).  Hamerly needs
    only this.
    """
    C, sqn, norms = _norms(centers)
    n_clusters, n_features = C.shape
    half_sep = np.empty(n_clusters)
    _kernels.hamerly.half_separation_sq(C, sqn, norms, (n_features + 8) * _U,
                                        geometry_rows(n_clusters), half_sep,
                                        n_threads=n_threads)
    np.maximum(half_sep, 0.0, out=half_sep)
    np.sqrt(half_sep, out=half_sep)
    half_sep *= 0.5
    half_sep *= 1.0 - 4 * _U
    return half_sep


def center_moves(new_centers, old_centers):
    """Upper bounds on how far each centre moved (float64)."""
    diff = new_centers.astype(np.float64) - old_centers.astype(np.float64)
    move = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return move * (1.0 + (new_centers.shape[1] + 8) * _U)


def largest_other_move(move):
    """For each centre a, the largest move of any centre other than a."""
    if move.size == 1:
        return np.zeros(1)
    top = int(np.argmax(move))
    rest = np.delete(move, top)
    out = np.full(move.shape, move[top])
    out[top] = rest.max()
    return out


def available_memory():
    """Bytes of memory available to this process now (a best guess)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def elkan_bounds_bytes(n_samples, n_clusters):
    """Memory taken by Elkan's bounds: float32 lower bounds and a stamp per
    row, and the float64 bounds on half the distances between centres
    (n_clusters x n_clusters, which dominate when n_clusters nears n_samples)."""
    return 4 * n_samples * n_clusters + 4 * n_samples + 8 * n_clusters * n_clusters


# Up to this many features the Lloyd pass's direct kernel (rows across the
# vector lanes) is faster than any bound bookkeeping.
LLOYD_MAX_FEATURES = 4

# From n_clusters > n_samples / LLOYD_ROWS_PER_CLUSTER on, "auto" runs Lloyd.
# Hamerly recomputes every iteration half the distance from each centre to
# the nearest other: a k x k x d gemm and a pass over its k x k result, work
# that grows as k^2 while a Lloyd pass does n k d.  Measured against a Lloyd
# pass (20 000 rows, one thread, AVX-512), that geometry costs about
# 0.14-0.41 of a pass at k = n/8 in float64 and 0.29-0.77 in float32 (8 to
# 128 features, fewer features costing more), 0.36-1.6 at k = n/4 and
# 1.1-2.5 at k = n/2: with at most a handful of rows per cluster the bounds
# cannot save that much.  Below the limit a Hamerly iteration costs at worst
# about two Lloyd passes (every bound failing), and usually much less.
LLOYD_ROWS_PER_CLUSTER = 8


def choose_algorithm(n_samples, n_features, n_clusters, dtype):
    """The algorithm ``KMeans(algorithm="auto")`` runs on dense data.

    Lloyd for a single cluster, for at most LLOYD_MAX_FEATURES features and
    for more than n_samples / LLOYD_ROWS_PER_CLUSTER clusters; elsewhere
    Hamerly, with the Lloyd fallback of ``_algorithms.bounds.hamerly``.
    Measured (``KMeans`` docstring): Hamerly beat Elkan on every n_features
    (2 to 784), n_clusters (8 to 128) and dtype tried, so the rule never
    picks Elkan, whose n_samples x n_clusters bounds also cost the most
    memory.
    """
    if n_clusters == 1 or n_features <= LLOYD_MAX_FEATURES:
        return "lloyd"
    if n_clusters * LLOYD_ROWS_PER_CLUSTER > n_samples:
        return "lloyd"
    return "hamerly"


def elkan_fits(n_samples, n_clusters, memory=None):
    """Whether Elkan's bounds (``elkan_bounds_bytes``) take at most a quarter
    of the available memory."""
    if memory is None:
        memory = available_memory()
    return elkan_bounds_bytes(n_samples, n_clusters) <= memory / 4


# The auto fallback.  Where a row's distances are much work (``row_work``
# of at least NO_FALLBACK_WORK), a Hamerly pass whose bounds all fail costs
# about a Lloyd pass (``benchmarks/calibrate_hamerly.py``: 0.89-0.96 at
# 128 x 256 and, float64, 784 x 10) and whole fits on overlapping mixtures
# took 0.97-1.0x (200 000 x 128, k=256) and 0.27-0.29x (100 000 x 784,
# k=10) Lloyd's time (``benchmarks/bench_kmeans_accel.py``), so Hamerly runs
# to the end.  Elsewhere the bookkeeping of a failing row costs several distances
# and Lloyd takes over once FALLBACK_PASSES consecutive passes, from the
# third on, found the bounds of more than FALLBACK_SHARE of the rows failing
# (or the third alone more than FALLBACK_SHARE_AT_ONCE)
# (heavily overlapping clusters: on 1 000 000 x 32, k=64, from the second
# pass on, 1.00, 0.94, 0.95, 0.89, ...; on well-separated ones it falls
# fast: 0.68, 0.52, 0.15, 0.13, ...).
NO_FALLBACK_WORK = 4096
FALLBACK_SHARE = 0.8
FALLBACK_PASSES = 2
FALLBACK_SHARE_AT_ONCE = 0.9   # at the third pass, one such pass is enough
# What tightening one row's upper bound costs, in distances of a full scan.
TIGHTEN_COST = 16


def row_work(n_clusters, n_features, dtype):
    """A row's share of a Lloyd pass, in float32 multiply-adds.

    n_clusters rounded up to the micro-kernel's block of centres, times
    n_features, doubled for float64 (half as many lanes per vector).
    """
    block = 16 if dtype == np.float32 else 8
    padded = -(-n_clusters // block) * block
    return padded * n_features * (2 if dtype == np.float64 else 1)


