"""Time one Lloyd pass: kmgmm (SIMD and portable paths) against scikit-learn's
own Lloyd iteration (``lloyd_iter_chunked_dense``), same data, same centres.

A quick tool for kernel work, not part of the pytest-benchmark suite:

    python benchmarks/pass_timing.py [shapes] [threads]   # e.g. "ac" "12"
    CLOCK=cpu python benchmarks/pass_timing.py abd 1      # CPU time, 1 thread

Shapes: a = 1M x 32, k 64; b = 200k x 128, k 256; c = 2M x 2, k 8;
d = 100k x 784, k 10.  CLOCK=cpu measures process CPU time, which is
steadier than wall time on a busy machine (with 1 thread).  Prints the best of
REPS (default 5) runs and the fraction of labels on which the two agree.
"""
import os
import sys
import time

import numpy as np
from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
from threadpoolctl import threadpool_limits

from kmgmm._kernels import lloyd

SHAPES = {"a": (1_000_000, 32, 64), "b": (200_000, 128, 256),
          "c": (2_000_000, 2, 8), "d": (100_000, 784, 10)}
CLOCK = time.process_time if os.environ.get("CLOCK") == "cpu" else time.perf_counter
REPS = int(os.environ.get("REPS", 5))


def best_time(fn):
    times = []
    for _ in range(REPS):
        t0 = CLOCK()
        fn()
        times.append(CLOCK() - t0)
    return min(times)


def main(which="abcd", threads="12"):
    for key in which:
        n, d, k = SHAPES[key]
        rng = np.random.RandomState(0)
        means = rng.standard_normal((k, d))
        X64 = rng.standard_normal((n, d)) + means[rng.randint(k, size=n)]
        C64 = X64[rng.choice(n, k, replace=False)].copy()
        for dtype in (np.float32, np.float64):
            X, C, w = X64.astype(dtype), C64.astype(dtype), np.ones(n, dtype)
            labels = np.empty(n, np.int32)
            min_sqdist = np.empty(n, dtype)
            sums, weights = np.empty((k, d)), np.empty(k)
            sk_centers, sk_weights = np.empty_like(C), np.empty(k, dtype)
            sk_labels, sk_shift = np.empty(n, np.int32), np.empty(k, dtype)
            for t in map(int, threads):
                with threadpool_limits(1, user_api="blas"):
                    def kmgmm_pass():
                        lloyd.lloyd_pass(X, w, C, labels, min_sqdist=min_sqdist, sums=sums,
                                         weights=weights, n_threads=t)

                    simd = best_time(kmgmm_pass)
                    previous = lloyd.set_simd(False)
                    portable = best_time(kmgmm_pass)
                    lloyd.set_simd(previous)
                    sk = best_time(lambda: lloyd_iter_chunked_dense(
                        X, w, C, sk_centers, sk_weights, sk_labels, sk_shift, t,
                        update_centers=True))
                kmgmm_pass()
                agree = float((labels == sk_labels).mean())
                print(f"{n}x{d} k{k} {np.dtype(dtype).name} {t} thread(s): "
                      f"kmgmm {simd * 1e3:7.2f} ms  portable {portable * 1e3:7.2f}  "
                      f"scikit-learn {sk * 1e3:7.2f}  kmgmm/sk {simd / sk:.2f}  "
                      f"portable/sk {portable / sk:.2f}  labels agree {agree:.6f}",
                      flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
