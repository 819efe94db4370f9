"""k-means++ seeding on its own: ``kmgmm.kmeans_plusplus`` against
``sklearn.cluster.kmeans_plusplus``, the same data, k and random_state.

    python benchmarks/bench_plusplus.py [--threads 2] [--reps 3] [--shapes 200000x32x64,...]

Overlapping Gaussian blobs (``benchsupport.make_mixture``), float32 and
float64.  The two libraries draw different rows from the same seed (kmgmm
draws in a canonical row order), so only the times compare.  The two take
turns, ``--reps`` rounds, and each time is the best of its rounds: on a
shared machine compare the ratios.  kmgmm runs its default thread count
capped by ``threadpool_limits(--threads)``, as does scikit-learn.  Prints a
Markdown table.
"""
import argparse
import time

import numpy as np
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from threadpoolctl import threadpool_limits

import kmgmm
from kmgmm import _kernels
from benchsupport import make_mixture


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--shapes", default="200000x32x64,1000000x32x64",
                        help="n_samples x n_features x n_clusters, comma-separated")
    args = parser.parse_args()
    print(f"kmgmm {kmgmm.__version__}, CPU path {_kernels.cpu_path()}, "
          f"{args.threads} thread(s), best of {args.reps}\n")
    print("| shape | dtype | kmgmm s | sklearn s | kmgmm / sklearn |")
    print("|---|---|---|---|---|")
    for shape in args.shapes.split(","):
        n, d, k = (int(v) for v in shape.split("x"))
        X64, _ = make_mixture(n, d, k)
        for dtype in (np.float32, np.float64):
            X = X64.astype(dtype)
            fns = {"kmgmm": lambda: kmgmm.kmeans_plusplus(X, k, random_state=0),
                   "sklearn": lambda: sk_kmeans_plusplus(X, k, random_state=0)}
            best = {name: np.inf for name in fns}
            with threadpool_limits(args.threads):
                for _ in range(args.reps):
                    for name, fn in fns.items():
                        t0 = time.perf_counter()
                        fn()
                        best[name] = min(best[name], time.perf_counter() - t0)
            print(f"| {n} x {d}, k = {k} | {np.dtype(dtype).name} | {best['kmgmm']:.3f} "
                  f"| {best['sklearn']:.3f} | {best['kmgmm'] / best['sklearn']:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
