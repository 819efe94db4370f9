"""MiniBatchKMeans: kmgmm against scikit-learn, and against kmgmm's KMeans.

1 000 000 x 32 float32 overlapping Gaussian blobs (``benchsupport.make_mixture``),
k = 64, batch_size = 4096, every fit from the same initial centres (rows of X
drawn once).  Each round fits, one after another in the same process,
scikit-learn's MiniBatchKMeans, kmgmm's MiniBatchKMeans (both with their
defaults otherwise: max_no_improvement=10 early stopping, reassignment_ratio
0.01, compute_labels) and kmgmm's KMeans; the round's seed is passed to both
mini-batch fits.  The final inertia of every fit is computed again here, on
the full data in float64 (the same code for every library).  The table gives
the minimum time over the rounds, the median final inertia, and the ratios.

    python benchmarks/bench_minibatch.py                 # 5 rounds, 2 threads
    python benchmarks/bench_minibatch.py --threads 1 --rounds 3
    python benchmarks/bench_minibatch.py --n-samples 100000   # a smoke run
"""
import argparse
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchsupport as bench

import kmgmm


def full_inertia(X, centers, rows=65536):
    """Sum of squared distances of the rows of X to their nearest centre, in float64."""
    C = np.asarray(centers, dtype=np.float64)
    c_sq = np.einsum("ij,ij->i", C, C)
    total = 0.0
    for start in range(0, X.shape[0], rows):
        B = X[start:start + rows].astype(np.float64)
        d = c_sq - 2.0 * (B @ C.T)
        d += np.einsum("ij,ij->i", B, B)[:, None]
        total += float(np.maximum(d.min(axis=1), 0.0).sum())
    return total


def fit_sklearn(X, init, batch_size, seed, n_threads):
    from sklearn.cluster import MiniBatchKMeans

    with threadpool_limits(limits=n_threads):
        km = MiniBatchKMeans(init.shape[0], init=init, n_init=1, batch_size=batch_size,
                             random_state=seed).fit(X)
    return km.cluster_centers_, km.n_steps_


def fit_kmgmm(X, init, batch_size, seed, n_threads):
    km = kmgmm.MiniBatchKMeans(init.shape[0], init=init, batch_size=batch_size,
                               random_state=seed, n_threads=n_threads).fit(X)
    return km.cluster_centers_, km.n_steps_


def fit_kmeans(X, init, batch_size, seed, n_threads):
    km = kmgmm.KMeans(init.shape[0], init=init, n_threads=n_threads).fit(X)
    return km.cluster_centers_, km.n_iter_


FITS = {"sklearn MiniBatchKMeans": fit_sklearn, "kmgmm MiniBatchKMeans": fit_kmgmm,
        "kmgmm KMeans": fit_kmeans}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=32)
    parser.add_argument("--n-clusters", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    X, init = bench.make_mixture(args.n_samples, args.n_features, args.n_clusters)
    X, init = X.astype(np.float32), init.astype(np.float32)
    small = X[:20_000]
    for fit in FITS.values():          # first-call costs out of the timings
        fit(small, init, 1024, 0, args.threads)
    times = {name: [] for name in FITS}
    inertias = {name: [] for name in FITS}
    steps = {name: [] for name in FITS}
    for seed in range(args.rounds):
        for name, fit in FITS.items():
            t0 = time.perf_counter()
            centers, n = fit(X, init, args.batch_size, seed, args.threads)
            times[name].append(time.perf_counter() - t0)
            inertias[name].append(full_inertia(X, centers))
            steps[name].append(n)
            print(f"round {seed}: {name:24s} {times[name][-1]:8.3f} s  "
                  f"{'steps' if 'Mini' in name else 'iterations'} {n:5d}  "
                  f"inertia {inertias[name][-1]:.6g}", flush=True)

    print(f"\n{args.n_samples} x {args.n_features} float32, k={args.n_clusters}, "
          f"batch_size={args.batch_size}, {args.threads} thread(s), {args.rounds} rounds")
    ref_t = min(times["sklearn MiniBatchKMeans"])
    ref_i = float(np.median(inertias["sklearn MiniBatchKMeans"]))
    print(f"{'':24s} {'min s':>8s} {'/ sklearn':>10s} {'median inertia':>15s} "
          f"{'/ sklearn':>10s} {'median steps':>13s}")
    for name in FITS:
        t = min(times[name])
        i = float(np.median(inertias[name]))
        print(f"{name:24s} {t:8.3f} {t / ref_t:10.3f} {i:15.6g} {i / ref_i:10.4f} "
              f"{int(np.median(steps[name])):13d}")
    mb, km = min(times["kmgmm MiniBatchKMeans"]), min(times["kmgmm KMeans"])
    print(f"kmgmm MiniBatchKMeans / kmgmm KMeans time: {mb / km:.3f}")


if __name__ == "__main__":
    main()
