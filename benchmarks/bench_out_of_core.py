"""What fitting in place costs: the same fit of data far from the origin on
an array in memory (one conditioned copy, one kernel call a pass) and on its
memory map (conditioned a block of rows at a time, one kernel call a block).

    python benchmarks/bench_out_of_core.py [n_samples] [n_features]

The file is read from the page cache (it was just written): this measures
the blocks' arithmetic and calls, not the disk.  Runs alternate between the
two and the minimum of each is reported, with their ratio.
"""
import os
import sys
import tempfile
import time
import warnings

import numpy as np

from kmgmm import GaussianMixture, KMeans


def main():
    warnings.simplefilter("ignore")     # iterations are capped on purpose
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400_000
    d = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    rng = np.random.RandomState(0)
    centres = rng.uniform(-5, 5, size=(16, d))
    X = centres[rng.randint(16, size=n)] + rng.standard_normal((n, d)) + 1e6
    init = X[:16].copy()
    fits = {
        "KMeans lloyd": lambda A: KMeans(16, init=init, algorithm="lloyd", max_iter=10,
                                         tol=0).fit(A),
        "KMeans hamerly": lambda A: KMeans(16, init=init, algorithm="hamerly",
                                           max_iter=10, tol=0).fit(A),
        "GaussianMixture diag": lambda A: GaussianMixture(
            16, covariance_type="diag", means_init=init, max_iter=5, tol=0).fit(A),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.npy")
        np.save(path, X)
        Xm = np.load(path, mmap_mode="r")
        print(f"{n} x {d} float64 offset by 1e6, k=16 ({X.nbytes / 1e6:.0f} MB)")
        for name, fit in fits.items():
            best = {"memory": np.inf, "map": np.inf}
            for _ in range(3):
                for where, A in (("memory", X), ("map", Xm)):
                    start = time.perf_counter()
                    fit(A)
                    best[where] = min(best[where], time.perf_counter() - start)
            print(f"{name:22s} in memory {best['memory']:.3f} s, on the map "
                  f"{best['map']:.3f} s, ratio {best['map'] / best['memory']:.2f}")
        del Xm


if __name__ == "__main__":
    main()
