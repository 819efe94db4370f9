"""Accelerated k-means benchmark: total fit time of up to 50 iterations.

Every contender starts from the same initial centres (rows drawn at random)
with tol=0 and max_iter=50 on Gaussian mixtures with k well-separated
components and with heavy overlap, 2 threads: kmgmm ``auto``, ``lloyd``,
``hamerly``, ``elkan``; scikit-learn ``lloyd`` and ``elkan``; faiss (float32,
no subsampling, 50 iterations: it does not stop early).  The exact
algorithms stop together when no label changes, so their iteration counts
match.  Also the sparse text-like shape: 100 000 x 50 000, 0.1% non-zeros,
k = 100, against scikit-learn.

Run (takes a while; the shapes are those of the foundation issue)::

    OMP_NUM_THREADS=2 python benchmarks/bench_kmeans_accel.py
    OMP_NUM_THREADS=2 python benchmarks/bench_kmeans_accel.py --shapes 0 2 --dtypes float64 --repeat 2

Shared machines are noisy: compare the ratios printed in one run.

Measured on the project's quiet 2-core machine (AVX2/FMA), one run each,
float32 / float64: kmgmm auto / scikit-learn lloyd on the well-separated
mixtures: 1M x 32, k=64: 0.23 / 0.17; 200k x 128, k=256: 0.21 / 0.18;
2M x 2, k=8 (auto runs Lloyd there): 0.21 / 0.27; 100k x 784, k=10: 0.16 /
0.11.  kmgmm auto / kmgmm lloyd on the overlapping mixtures: 1.02 / 0.94,
0.97 / 1.00, 1.01 / 1.02 (the same algorithm), 0.29 / 0.27.  faiss (float32)
took 1.3-21x kmgmm auto's time on every shape.  Sparse 100 000 x 50 000,
0.1% non-zeros, k=100: kmgmm / scikit-learn = 0.25.
Also collected by pytest-benchmark (``pytest benchmarks/bench_kmeans_accel.py``)
on a small shape.
"""
import argparse
import time

import numpy as np

SHAPES = [
    (1_000_000, 32, 64),
    (200_000, 128, 256),
    (2_000_000, 2, 8),
    (100_000, 784, 10),
]
MAX_ITER = 50
N_THREADS = 2


def mixture(n, d, k, kind, dtype, seed=0):
    """Gaussian mixture: unit-variance components around N(0, s^2) means.

    ``separated``: s = 10 (s = 30 in 2-D), components far apart;
    ``overlapping``: s = 0.3 (1 in 2-D), the components blur into one.
    """
    rng = np.random.RandomState(seed)
    if kind == "separated":
        s = 30.0 if d <= 3 else 10.0
    else:
        s = 1.0 if d <= 3 else 0.3
    means = rng.standard_normal((k, d)) * s
    X = np.empty((n, d), dtype=dtype)
    y = rng.randint(k, size=n)
    step = 100_000
    for start in range(0, n, step):
        yy = y[start:start + step]
        X[start:start + step] = means[yy] + rng.standard_normal((len(yy), d))
    init = X[rng.choice(n, k, replace=False)].copy()
    return X, init


def text_like(n=100_000, d=50_000, per_row=50, k=100, seed=0):
    """CSR rows with Poisson(per_row) non-zeros at uniform columns."""
    import scipy.sparse as sp
    rng = np.random.RandomState(seed)
    counts = rng.poisson(per_row, n)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = rng.randint(0, d, indptr[-1]).astype(np.int32)
    X = sp.csr_matrix((rng.exponential(1.0, indptr[-1]), indices, indptr), shape=(n, d))
    X.sum_duplicates()
    init = X[rng.choice(n, k, replace=False)].toarray()
    return X, init


def run_kmgmm(X, init, algorithm):
    from kmgmm import KMeans
    km = KMeans(len(init), init=init, algorithm=algorithm, max_iter=MAX_ITER, tol=0,
                n_threads=N_THREADS)
    t = time.perf_counter()
    km.fit(X)
    return time.perf_counter() - t, km.n_iter_, getattr(km, "_algorithm", algorithm)


def run_sklearn(X, init, algorithm):
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits
    km = KMeans(len(init), init=init, n_init=1, algorithm=algorithm, max_iter=MAX_ITER,
                tol=0)
    with threadpool_limits(N_THREADS):
        t = time.perf_counter()
        km.fit(X)
        return time.perf_counter() - t, km.n_iter_, algorithm


def run_faiss(X, init):
    import faiss
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    faiss.omp_set_num_threads(N_THREADS)
    km = faiss.Kmeans(X.shape[1], len(init), niter=MAX_ITER,
                      max_points_per_centroid=X.shape[0], seed=0)
    t = time.perf_counter()
    km.train(X32, init_centroids=np.ascontiguousarray(init, dtype=np.float32))
    return time.perf_counter() - t, MAX_ITER, "faiss"


def contenders(dtype, with_faiss):
    out = [("kmgmm auto", lambda X, C: run_kmgmm(X, C, "auto")),
           ("kmgmm lloyd", lambda X, C: run_kmgmm(X, C, "lloyd")),
           ("kmgmm hamerly", lambda X, C: run_kmgmm(X, C, "hamerly")),
           ("kmgmm elkan", lambda X, C: run_kmgmm(X, C, "elkan")),
           ("sklearn lloyd", lambda X, C: run_sklearn(X, C, "lloyd")),
           ("sklearn elkan", lambda X, C: run_sklearn(X, C, "elkan"))]
    if with_faiss and dtype == np.float32:
        out.append(("faiss", run_faiss))
    return out


def bench_dense(shapes, dtypes, kinds, repeat, with_faiss, skip):
    for si in shapes:
        n, d, k = SHAPES[si]
        for dtype in dtypes:
            for kind in kinds:
                X, init = mixture(n, d, k, kind, dtype)
                init = init.astype(dtype)
                times = {}
                info = {}
                for _ in range(repeat):
                    for name, fn in contenders(dtype, with_faiss):
                        if name in skip:
                            continue
                        try:
                            el, it, alg = fn(X, init)
                        except ImportError:
                            continue
                        times[name] = min(times.get(name, np.inf), el)
                        info[name] = (it, alg)
                sk = times.get("sklearn lloyd")
                ll = times.get("kmgmm lloyd")
                print(f"\n{n} x {d}, k={k}, {np.dtype(dtype).name}, {kind} "
                      f"(best of {repeat}, {N_THREADS} threads)")
                for name, el in times.items():
                    it, alg = info[name]
                    extra = f" [{alg}]" if name == "kmgmm auto" else ""
                    r1 = f"{el / sk:6.3f}x sklearn-lloyd" if sk else ""
                    r2 = f"{el / ll:6.3f}x kmgmm-lloyd" if ll else ""
                    print(f"  {name:14s} {el:8.3f} s  {it:3d} it  {r1}  {r2}{extra}",
                          flush=True)


def bench_sparse(repeat):
    X, init = text_like()
    times = {}
    for _ in range(repeat):
        for name, fn in (("kmgmm", lambda: run_kmgmm(X, init, "auto")),
                         ("sklearn lloyd", lambda: run_sklearn(X, init, "lloyd"))):
            el, it, _ = fn()
            times[name] = min(times.get(name, np.inf), el)
            print(f"  sparse {name:14s} {el:8.3f} s  {it} it", flush=True)
    print(f"sparse 100000 x 50000, 0.1% nnz, k=100: kmgmm / sklearn = "
          f"{times['kmgmm'] / times['sklearn lloyd']:.3f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shapes", type=int, nargs="*", default=list(range(len(SHAPES))))
    p.add_argument("--dtypes", nargs="*", default=["float32", "float64"])
    p.add_argument("--kinds", nargs="*", default=["separated", "overlapping"])
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--skip", nargs="*", default=[], help="contender names to leave out")
    p.add_argument("--no-faiss", action="store_true")
    p.add_argument("--no-sparse", action="store_true")
    p.add_argument("--only-sparse", action="store_true")
    args = p.parse_args(argv)
    if not args.only_sparse:
        bench_dense(args.shapes, [np.dtype(t).type for t in args.dtypes], args.kinds,
                    args.repeat, not args.no_faiss, set(args.skip))
    if not args.no_sparse:
        bench_sparse(args.repeat)


# ------------------------------------------------ pytest-benchmark entries
try:
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="session")
    def small_mixture():
        return mixture(100_000, 16, 32, "separated", np.float64)

    @pytest.mark.parametrize("algorithm", ["auto", "lloyd", "hamerly", "elkan"])
    def test_kmgmm_separated(benchmark, small_mixture, algorithm):
        X, init = small_mixture
        benchmark.group = "accel 100000x16 k=32 separated"
        benchmark(run_kmgmm, X, init, algorithm)

    def test_sklearn_separated(benchmark, small_mixture):
        X, init = small_mixture
        benchmark.group = "accel 100000x16 k=32 separated"
        benchmark(run_sklearn, X, init, "lloyd")


if __name__ == "__main__":
    main()
