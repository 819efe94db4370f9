"""EM iterations of kmgmm and scikit-learn's GaussianMixture, side by side,
with kmgmm's k-means on the same data for the headline ratio.

Every engine runs ``N_ITER`` EM iterations (``tol=0``) from the same initial
weights, means and precisions on the same data (a seeded Gaussian mixture),
with all the machine's cores.  scikit-learn is started with
``init_params="random_from_data"`` so its initialisation costs nothing before
the given parameters replace it.  The time per iteration is the fit's time
divided by ``N_ITER`` (one extra E-step, the final labelling, is included by
both libraries).

Run:  pytest benchmarks/bench_gmm.py --benchmark-group-by=group
(``KMGMM_BENCH_QUICK=1`` for small shapes.)  The closing table prints each
time as a multiple of its floor: for full and tied, about 4 n k d^2 flops
(log-densities plus second moments) at the machine's gemm rate; for diag,
spherical and fixed, about 6 n k d flops, or the time to read X, whichever
is larger (for the k-means rows, 2 n k d flops).
"""
import os
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from benchsupport import QUICK, _ceilings  # noqa: E402

sklearn_mixture = pytest.importorskip("sklearn.mixture")

from kmgmm import GaussianMixture, KMeans  # noqa: E402
from kmgmm._threads import effective_n_threads  # noqa: E402

N_ITER = 5
COV_TYPES = ("full", "tied", "diag", "spherical", "fixed")
# (n_samples, n_features, n_components), covariance types measured
CASES = (
    [((20_000, 16, 16), COV_TYPES), ((100_000, 32, 64), ("diag", "spherical"))]
    if QUICK else
    [((200_000, 16, 16), COV_TYPES), ((1_000_000, 32, 64), ("diag", "spherical", "full"))]
)
# scikit-learn's full EM on 1 000 000 x 32 with 64 components takes ~40 s an
# iteration: measured by kmgmm only.
SKLEARN_SKIP = {((1_000_000, 32, 64), "full")}
PARAMS = [(shape, ct) for shape, cts in CASES for ct in cts]
RESULTS = {}   # (shape, cov_type, dtype) -> {engine: seconds per iteration}

_data = {}


def mixture(shape, dtype):
    key = (shape, np.dtype(dtype).name)
    if key not in _data:
        if not any(k[0] == shape for k in _data):
            _data.clear()
        n, d, k = shape
        rng = np.random.RandomState(0)
        means = rng.uniform(-3, 3, (k, d))
        y = rng.randint(k, size=n)
        X = means[y] + rng.standard_normal((n, d))
        _data[key] = X.astype(dtype)
    return _data[key]


def start(X, k, cov_type):
    """Initial parameters: k rows as means, equal weights, the data's spread."""
    rng = np.random.RandomState(1)
    means = X[rng.choice(X.shape[0], k, replace=False)].astype(np.float64)
    d = X.shape[1]
    var = float(X[: 50_000].astype(np.float64).var(axis=0).mean()) / k
    prec = {
        "full": np.stack([np.eye(d) / var] * k), "tied": np.eye(d) / var,
        "diag": np.full((k, d), 1 / var), "spherical": np.full(k, 1 / var),
    }.get(cov_type)
    return np.full(k, 1.0 / k), means, prec, var


def floor_seconds(shape, cov_type, dtype):
    n, d, k = shape
    c = _ceilings()
    t = effective_n_threads(None)
    rate = c["gemm"][(np.dtype(dtype).name, t)]
    per_row = {"full": 4.0 * d * d, "tied": 4.0 * d * d, "kmeans": 2.0 * d}.get(
        cov_type, 6.0 * d)
    flops = n * k * per_row
    read = n * d * np.dtype(dtype).itemsize / c["bandwidth"][t]
    return max(flops / rate, read)


@pytest.fixture(scope="module", autouse=True)
def closing_table(request):
    yield
    if not RESULTS:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        _print_table(request.config.pluginmanager.get_plugin("terminalreporter"))


def _print_table(tr):
    tr.section("seconds per EM iteration, and ratios")
    tr.write_line(f"{'shape':<20}{'type':<10}{'dtype':<8}{'floor':>8}{'kmgmm':>9}"
                  f"{'sklearn':>9}{'km/floor':>9}{'sk/kmgmm':>9}{'EM/kmeans':>10}")
    for (shape, ct, dt), res in sorted(RESULTS.items(), key=lambda kv: str(kv[0])):
        fl = floor_seconds(shape, ct, dt)
        km = res.get("kmgmm")
        sk = res.get("sklearn")
        kmeans = RESULTS.get((shape, "kmeans", dt), {}).get("kmgmm")
        cells = [f"{fl:8.4f}", f"{km:9.4f}" if km else f"{'-':>9}",
                 f"{sk:9.4f}" if sk else f"{'-':>9}",
                 f"{km / fl:9.1f}" if km else f"{'-':>9}",
                 f"{sk / km:9.1f}" if sk and km else f"{'-':>9}",
                 f"{km / kmeans:10.1f}" if km and kmeans and ct != "kmeans" else f"{'-':>10}"]
        n, d, k = shape
        tr.write_line(f"{f'{n}x{d} k{k}':<20}{ct:<10}{dt:<8}" + "".join(cells))


def _run(benchmark, shape, cov_type, dtype, engine, fit, iters=lambda: N_ITER):
    n = shape[0]
    rounds = 1 if n * shape[1] * shape[2] > 1e8 else 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(fit, rounds=rounds, iterations=1, warmup_rounds=0)
    key = (shape, cov_type, np.dtype(dtype).name)
    RESULTS.setdefault(key, {})[engine] = benchmark.stats.stats.median / iters()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape, cov_type", PARAMS,
                         ids=[f"{s[0]}x{s[1]}k{s[2]}-{c}" for s, c in PARAMS])
@pytest.mark.parametrize("engine", ["kmgmm", "sklearn"])
def test_em(benchmark, engine, shape, cov_type, dtype):
    if engine == "sklearn" and (cov_type == "fixed" or (shape, cov_type) in SKLEARN_SKIP):
        pytest.skip("scikit-learn has no fixed covariance / too slow on this shape")
    X = mixture(shape, dtype)
    k = shape[2]
    weights, means, prec, var = start(X, k, cov_type)
    benchmark.group = f"EM {shape} {cov_type} {np.dtype(dtype).name}"
    if engine == "kmgmm":
        kw = ({"variance": var} if cov_type == "fixed" else {"precisions_init": prec})
        est = GaussianMixture(k, covariance_type=cov_type, weights_init=weights,
                              means_init=means, max_iter=N_ITER, tol=0, **kw)
    else:
        est = sklearn_mixture.GaussianMixture(
            k, covariance_type=cov_type, weights_init=weights, means_init=means,
            precisions_init=prec, max_iter=N_ITER, tol=0,
            init_params="random_from_data", random_state=0)
    _run(benchmark, shape, cov_type, dtype, engine, lambda: est.fit(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [c[0] for c in CASES],
                         ids=[f"{c[0][0]}x{c[0][1]}k{c[0][2]}" for c in CASES])
def test_kmeans_same_data(benchmark, shape, dtype):
    X = mixture(shape, dtype)
    _, means, _, _ = start(X, shape[2], "diag")
    benchmark.group = f"EM {shape} kmeans {np.dtype(dtype).name}"
    est = KMeans(shape[2], init=means.astype(dtype), max_iter=N_ITER, tol=0,
                 algorithm="lloyd")
    _run(benchmark, shape, "kmeans", dtype, "kmgmm", lambda: est.fit(X),
         iters=lambda: est.n_iter_)
