"""The rules and the geometry behind the bound algorithms: lower bounds on
the distances between centres, upper bounds on their moves, and which
algorithm ``KMeans(algorithm="auto")`` runs."""
import os

import numpy as np

# Rounding allowance for a distance computed in double over d features.
_U = 2.0 ** -53


def center_geometry(centers):
    """Lower bounds on half the distances between centres.

    Returns (half_cc, half_sep): half_cc[a, j] <= ||c_a - c_j|| / 2 (the
    diagonal is +inf) and half_sep[a] = min over j != a of half_cc[a, j].
    The squared distances come from one float64 gemm; its rounding error,
    at most (d + 4) u (||c_a|| + ||c_j||)^2, is subtracted so that the
    results stay lower bounds.
    """
    C = np.asarray(centers, dtype=np.float64)
    n_clusters, n_features = C.shape
    sqn = np.einsum("ij,ij->i", C, C)
    norms = np.sqrt(sqn)
    d2 = sqn[:, None] + sqn[None, :] - 2.0 * (C @ C.T)
    d2 -= (n_features + 8) * _U * (norms[:, None] + norms[None, :]) ** 2
    np.maximum(d2, 0.0, out=d2)
    half_cc = 0.5 * np.sqrt(d2) * (1.0 - 4 * _U)
    np.fill_diagonal(half_cc, np.inf)
    half_sep = half_cc.min(axis=1)
    return np.ascontiguousarray(half_cc), half_sep


def half_separations(centers):
    """half_sep of ``center_geometry``."""
    return center_geometry(centers)[1]


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
    """Memory taken by Elkan's bounds: float32 lower bounds and a stamp per row."""
    return 4 * n_samples * n_clusters + 4 * n_samples


# Up to this many features the Lloyd pass's direct kernel (rows across the
# vector lanes) is faster than any bound bookkeeping.
LLOYD_MAX_FEATURES = 4


def choose_algorithm(n_samples, n_features, n_clusters, dtype):
    """The algorithm ``KMeans(algorithm="auto")`` runs on dense data.

    Lloyd for a single cluster and for at most LLOYD_MAX_FEATURES features;
    elsewhere Hamerly, with the Lloyd fallback of ``bounded_kmeans``.
    Measured (``KMeans`` docstring): Hamerly beat Elkan on every n_features
    (2 to 784), n_clusters (8 to 128) and dtype tried, so the rule never
    picks Elkan, whose n_samples x n_clusters bounds also cost the most
    memory.
    """
    if n_clusters == 1 or n_features <= LLOYD_MAX_FEATURES:
        return "lloyd"
    return "hamerly"


def elkan_fits(n_samples, n_clusters, memory=None):
    """Whether Elkan's bounds take at most a quarter of the available memory."""
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


