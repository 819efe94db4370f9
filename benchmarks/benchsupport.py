"""Benchmark support: shapes, data, the machine's ceilings, and the results.

``KMGMM_BENCH_QUICK=1`` swaps in small shapes so a run takes about a minute.
"""
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

QUICK = bool(os.environ.get("KMGMM_BENCH_QUICK"))

# (n_samples, n_features, n_clusters)
SHAPES = (
    [(100_000, 32, 64), (20_000, 128, 256), (200_000, 2, 8), (10_000, 784, 10)]
    if QUICK else
    [(1_000_000, 32, 64), (200_000, 128, 256), (2_000_000, 2, 8), (100_000, 784, 10)]
)
THREADS = (1, 2)
# Timed Lloyd iterations per fit (tol=0, so every iteration runs), and timed
# fits per case: enough for a min and a median within ~10 minutes on 2 cores.
N_ITER = 5
ROUNDS = 3


def shape_id(shape):
    n, d, k = shape
    return f"{n}x{d}-k{k}"


# ------------------------------------------------------------------ data
_data_cache = {}


def make_mixture(n_samples, n_features, n_clusters, seed=0):
    """Overlapping Gaussian blobs (float64) and seeded initial centres.

    Means are drawn as close as the noise so that clusters overlap: Lloyd does not converge in
    N_ITER iterations, so every library runs all of them.
    """
    rng = np.random.RandomState(seed)
    means = rng.standard_normal((n_clusters, n_features))
    y = rng.randint(n_clusters, size=n_samples)
    X = rng.standard_normal((n_samples, n_features))
    X += means[y]
    init = X[rng.choice(n_samples, n_clusters, replace=False)].copy()
    return X, init


def mixture_data(shape, dtype):
    """``(X, init)`` for a shape and dtype; keeps one shape in memory at a time."""
    key = (shape, np.dtype(dtype).name)
    if key not in _data_cache:
        if not any(k[0] == shape for k in _data_cache):
            _data_cache.clear()
            X, init = make_mixture(*shape)
            _data_cache[(shape, "float64")] = (X, init)
        X, init = _data_cache[(shape, "float64")]
        _data_cache[key] = (X.astype(dtype), init.astype(dtype))
    return _data_cache[key]


# ------------------------------------------------------------- ceilings
def _best_time(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_ceilings():
    """gemm GFLOP/s per dtype and thread count, read bandwidth per thread count."""
    size = 2048 if QUICK else 4096
    repeat = 2 if QUICK else 3
    rng = np.random.RandomState(0)
    out = {"gemm": {}, "bandwidth": {}}
    for dtype in (np.float32, np.float64):
        A = rng.standard_normal((size, size)).astype(dtype)
        B = rng.standard_normal((size, size)).astype(dtype)
        C = np.empty((size, size), dtype=dtype)
        for t in THREADS:
            with threadpool_limits(limits=t, user_api="blas"):
                np.matmul(A, B, out=C)  # warm up
                sec = _best_time(lambda: np.matmul(A, B, out=C), repeat)
            out["gemm"][(np.dtype(dtype).name, t)] = 2.0 * size**3 / sec
        del A, B, C
    # Read bandwidth: a tall matrix-vector product reads the matrix once.
    rows = 1 << (14 if QUICK else 16)
    M = rng.standard_normal((rows, 1024))  # 512 MiB (full) / 128 MiB (quick)
    v = rng.standard_normal(1024)
    y = np.empty(rows)
    for t in THREADS:
        with threadpool_limits(limits=t, user_api="blas"):
            np.matmul(M, v, out=y)
            sec = _best_time(lambda: np.matmul(M, v, out=y), repeat + 2)
        out["bandwidth"][t] = M.nbytes / sec
    return out


_ceilings_cache = {}


def _ceilings():
    if not _ceilings_cache:
        _ceilings_cache.update(measure_ceilings())
    return _ceilings_cache


def floor_seconds(shape, dtype, n_threads):
    """The larger of the gemm time of 2*n*k*d flops and the time to read X."""
    n, d, k = shape
    c = _ceilings()
    name = np.dtype(dtype).name
    flops = 2.0 * n * k * d / c["gemm"][(name, n_threads)]
    read = n * d * np.dtype(dtype).itemsize / c["bandwidth"][n_threads]
    return max(flops, read)


# ------------------------------------------------------------- results
# (shape, dtype name, n_threads) -> {library: (min, median) seconds per iteration}
RESULTS = {}


def record(shape, dtype, n_threads, library, per_iter_min, per_iter_median):
    key = (shape, np.dtype(dtype).name, n_threads)
    RESULTS.setdefault(key, {})[library] = (per_iter_min, per_iter_median)
