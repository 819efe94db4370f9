"""Lloyd k-means: kmgmm against scikit-learn and faiss, same data, same start.

Each case times ROUNDS fits of N_ITER Lloyd iterations (tol=0) from the same
initial centres; the libraries share a ``benchmark.group`` per shape, dtype
and thread count.  The closing table (see conftest.py) gives the time per
iteration, its multiple of the machine's floor and the ratios to the peers.

    pytest benchmarks/bench_kmeans.py                       # full (~10 min)
    KMGMM_BENCH_QUICK=1 pytest benchmarks/bench_kmeans.py   # small shapes
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import benchsupport as bench  # benchmarks/benchsupport.py (path set in conftest.py)
from kmgmm import KMeans

LIBRARIES = ("kmgmm", "sklearn", "faiss")


def fit_kmgmm(X, init, n_threads):
    km = KMeans(init.shape[0], init=init, max_iter=bench.N_ITER, tol=0,
                algorithm="lloyd", n_threads=n_threads).fit(X)
    return km.n_iter_


def fit_sklearn(X, init, n_threads):
    from sklearn.cluster import KMeans as SKKMeans
    with threadpool_limits(limits=n_threads):
        km = SKKMeans(init.shape[0], init=init, n_init=1, max_iter=bench.N_ITER,
                      tol=0, algorithm="lloyd").fit(X)
    return km.n_iter_


def fit_faiss(X, init, n_threads):
    import faiss
    n, d = X.shape
    k = init.shape[0]
    faiss.omp_set_num_threads(n_threads)
    # max_points_per_centroid high enough that faiss trains on every row.
    km = faiss.Kmeans(d, k, niter=bench.N_ITER, max_points_per_centroid=n // k + 1,
                      min_points_per_centroid=1, seed=0, verbose=False)
    with threadpool_limits(limits=n_threads):
        km.train(X, init_centroids=init)
    return bench.N_ITER


FITS = {"kmgmm": fit_kmgmm, "sklearn": fit_sklearn, "faiss": fit_faiss}


@pytest.fixture(scope="session")
def warmed_up():
    """One small fit per library, so no timed round pays first-call costs."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((2_000, 8)).astype(np.float32)
    for library, fit in FITS.items():
        try:
            fit(X, X[:4].copy(), 1)
        except ImportError:
            pass


def cases():
    for shape in bench.SHAPES:
        for dtype in (np.float32, np.float64):
            for n_threads in bench.THREADS:
                for lib in LIBRARIES:
                    if lib == "faiss" and dtype is np.float64:
                        continue  # faiss is float32 only
                    yield pytest.param(
                        shape, dtype, n_threads, lib,
                        id=f"{bench.shape_id(shape)}-{np.dtype(dtype).name}"
                           f"-{n_threads}t-{lib}")


@pytest.mark.parametrize("shape, dtype, n_threads, library", list(cases()))
def test_lloyd_fit(benchmark, mixture_data, ceilings, warmed_up, shape, dtype, n_threads,
                   library):
    if library != "kmgmm":
        pytest.importorskip("sklearn" if library == "sklearn" else "faiss")
    X, init = mixture_data(shape, dtype)
    fit = FITS[library]
    benchmark.group = f"{bench.shape_id(shape)} {np.dtype(dtype).name} {n_threads} thread(s)"
    n_iter = benchmark.pedantic(fit, args=(X, init, n_threads),
                                rounds=bench.ROUNDS, iterations=1, warmup_rounds=0)
    # The full shapes never converge within N_ITER; small quick-mode data may
    # (every library then stops at the same iteration), so divide by n_iter.
    benchmark.extra_info["n_iter"] = n_iter
    if benchmark.stats is None:  # --benchmark-disable: a single plain run
        return
    stats = benchmark.stats.stats
    bench.record(shape, dtype, n_threads, library,
                 stats.min / n_iter, stats.median / n_iter)
