"""Time one Lloyd iteration: kmgmm's pass on each CPU path against
scikit-learn's own Lloyd iteration (``lloyd_iter_chunked_dense``), scikit-learn-
intelex (``daal4py.kmeans`` with one iteration) and faiss-cpu
(``faiss.Kmeans`` with one iteration on every row, float32 only); same data,
same initial centres.

A tool for kernel work, not part of the pytest-benchmark suite:

    python benchmarks/pass_timing.py [shapes] [threads]   # e.g. "ac" "2"
    CLOCK=cpu python benchmarks/pass_timing.py abd 1      # CPU time, 1 thread

Shapes: a = 1M x 32, k 64; b = 200k x 128, k 256; c = 2M x 2, k 8;
d = 100k x 784, k 10.  The libraries take turns, REPS rounds (default 3), and
each time is the best of its rounds; on a shared machine compare the ratios,
which come from the same rounds.  CLOCK=cpu measures process CPU time, which
is steadier than wall time on a busy machine (with 1 thread).  Prints a
Markdown table: kmgmm's time on its default path, kmgmm / each peer, and
kmgmm's time on every other path the CPU runs.
"""
import os
import sys
import time

import numpy as np
from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
from threadpoolctl import threadpool_limits

from kmgmm import _kernels
from kmgmm._kernels import lloyd

SHAPES = {"a": (1_000_000, 32, 64), "b": (200_000, 128, 256),
          "c": (2_000_000, 2, 8), "d": (100_000, 784, 10)}
CLOCK = time.process_time if os.environ.get("CLOCK") == "cpu" else time.perf_counter
REPS = int(os.environ.get("REPS", "3"))


def timed(fn):
    t0 = CLOCK()
    fn()
    return CLOCK() - t0


def peers(X, w, C, t):
    """The peers' one-iteration functions for this data, by name."""
    n, d = X.shape
    k = C.shape[0]
    sk_centers, sk_weights = np.empty_like(C), np.empty(k, X.dtype)
    sk_labels, sk_shift = np.empty(n, np.int32), np.empty(k, X.dtype)

    def sklearn():
        with threadpool_limits(1, user_api="blas"):
            lloyd_iter_chunked_dense(X, w, C, sk_centers, sk_weights, sk_labels, sk_shift,
                                     t, update_centers=True)

    out = {"sklearn": sklearn}
    try:
        import daal4py
        daal4py.daalinit(t)
        algo = daal4py.kmeans(nClusters=k, maxIterations=1, accuracyThreshold=0,
                              fptype="float" if X.dtype == np.float32 else "double")
        out["sklearnex"] = lambda: algo.compute(X, C)
    except ImportError:
        pass
    if X.dtype == np.float32:
        try:
            import faiss

            def run_faiss():
                faiss.omp_set_num_threads(t)
                km = faiss.Kmeans(d, k, niter=1, max_points_per_centroid=n // k + 1,
                                  min_points_per_centroid=1, seed=0, verbose=False)
                km.train(X, init_centroids=C)
            out["faiss"] = run_faiss
        except ImportError:
            pass
    return out


def kmgmm_pass(path, X, w, C, t):
    """kmgmm's pass on CPU path ``path`` ("default": whatever the build runs)."""
    labels = np.empty(X.shape[0], np.int32)
    sums, weights = np.empty(C.shape, np.float64), np.empty(C.shape[0])

    def run():
        previous = _kernels._set_cpu_path(path) if path != "default" else None
        try:
            lloyd.lloyd_pass(X, w, C, labels, sums=sums, weights=weights, n_threads=t)
        finally:
            if previous is not None:
                _kernels._set_cpu_path(previous)
    return run


def main(which="abcd", threads="2"):
    paths = list(getattr(_kernels, "supported_cpu_paths", lambda: ["default"])())
    default = paths[-1]
    print("| shape, k | dtype | threads | kmgmm s | kmgmm / sklearn | kmgmm / sklearnex "
          "| kmgmm / faiss | " + " | ".join(f"{p} s" for p in paths) + " |")
    print("|---" * (7 + len(paths)) + "|")
    for key in which:
        n, d, k = SHAPES[key]
        rng = np.random.RandomState(0)
        means = rng.standard_normal((k, d))
        X64 = rng.standard_normal((n, d)) + means[rng.randint(k, size=n)]
        C64 = X64[rng.choice(n, k, replace=False)].copy()
        for dtype in (np.float32, np.float64):
            X, C, w = X64.astype(dtype), C64.astype(dtype), np.ones(n, dtype)
            for t in map(int, threads):
                fns = {path: kmgmm_pass(path, X, w, C, t) for path in paths}
                fns.update(peers(X, w, C, t))
                for fn in fns.values():     # first calls pay for set-up
                    fn()
                best = {name: timed(fn) for name, fn in fns.items()}
                for _ in range(REPS - 1):
                    for name, fn in fns.items():
                        best[name] = min(best[name], timed(fn))
                ours = best[default]
                ratio = {p: f"{ours / best[p]:.2f}" if p in best else "–"
                         for p in ("sklearn", "sklearnex", "faiss")}
                print(f"| {n}×{d}, {k} | {np.dtype(dtype).name} | {t} | {ours:.4f} | "
                      f"{ratio['sklearn']} | {ratio['sklearnex']} | {ratio['faiss']} | "
                      + " | ".join(f"{best[p]:.4f}" for p in paths) + " |", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
