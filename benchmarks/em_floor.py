"""Seconds per EM iteration of kmgmm's GaussianMixture for each covariance
type and dtype, against a floor built from this machine's own rates, and
against scikit-learn started from the same parameters.

    python benchmarks/em_floor.py [n d k] [threads]       # default 1000000 32 64, all cores
    SKLEARN=0 python benchmarks/em_floor.py ...           # kmgmm and the floor only
    TYPES=diag,spherical python benchmarks/em_floor.py
    CLOCK=cpu python benchmarks/em_floor.py ...         # kmgmm's process CPU time

The floor counts what one iteration must compute, at the rates NumPy's BLAS
and NumPy's vectorised exp reach here with the same number of threads
(``rates``): the log-density gemms in the data dtype, the moment gemms in
float64 (the kernel accumulates its statistics in float64 whatever the data
dtype), and one exp per row and component at the faster of NumPy's float32
and float64 exp rates (the floor is a lower bound):

* diag, spherical, fixed: [x^2, x] (n, 2d) @ (2d, k), then
  R^T [x, x^2] (k, n) @ (n, 2d): 4nkd flops each (fixed: no second moments)
* full:  q (n, d(d+3)/2) @ (d(d+3)/2, k), then R^T q (k, n) @ (n, d(d+1)/2)
* tied:  X P (2nd^2) and (XP) B^T (2nkd); R^T X (2nkd) and X^T X (2nd^2)

The tied type's X^T X (weighted, about the data's mean) does not change from
one iteration to the next: kmgmm computes it in the first pass of a fit and
keeps it, so its iterations after the first need only R^T X.  The table
keeps the floor as defined above; the lines after it give, for tied, the
floor without X^T X (``floor-s``) and kmgmm's multiple of that.

``floor32`` counts the moment gemms in the data dtype as well (the floor of
an implementation that accumulates float32 statistics in float32).  Each
library runs ``N_ITER`` iterations (``tol=0``) ``REPS`` times, taking turns;
the time per iteration is the best fit time divided by the iterations (the
final labelling pass included, as in bench_gmm.py).  On a shared machine
compare the ratios, taken from the same rounds.  ``CLOCK=cpu`` times kmgmm
by process CPU time (what a busy machine disturbs least) and compares it
with the floor times the threads; scikit-learn is then left out.
"""
import os
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from benchsupport import _best_time
from kmgmm import GaussianMixture
from kmgmm._threads import effective_n_threads

N_ITER = int(os.environ.get("N_ITER", "3"))
REPS = int(os.environ.get("REPS", "3"))
TYPES = os.environ.get("TYPES", "diag,spherical,full,tied").split(",")
CPU_CLOCK = os.environ.get("CLOCK") == "cpu"


def _cpu_time(fn):
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def rates(threads):
    """gemm flop/s per dtype (a 2048 square matmul with ``threads`` BLAS
    threads) and exp/s per dtype (NumPy's SIMD loop on one thread, times
    ``threads``)."""
    rng = np.random.RandomState(0)
    out = {}
    for dt in (np.float32, np.float64):
        name = np.dtype(dt).name
        A = rng.standard_normal((2048, 2048)).astype(dt)
        C = np.empty_like(A)
        with threadpool_limits(limits=threads, user_api="blas"):
            np.matmul(A, A, out=C)
            out["gemm", name] = 2.0 * 2048 ** 3 / _best_time(lambda A=A, C=C: np.matmul(A, A, out=C), 3)
        x = -rng.uniform(0, 40, 1 << 22).astype(dt)
        y = np.empty_like(x)
        out["exp", name] = threads * x.size / _best_time(lambda x=x, y=y: np.exp(x, out=y), 5)
    return out


def floor_seconds(n, d, k, cov_type, dtype, r, moments_dtype="float64", scatter=True):
    name = np.dtype(dtype).name
    g_in, g_mom = r["gemm", name], r["gemm", moments_dtype]
    if cov_type in ("diag", "spherical", "fixed"):
        logp = 4.0 * n * k * d
        moments = 0.0 if cov_type == "fixed" else 4.0 * n * k * d
    elif cov_type == "full":
        logp = 2.0 * n * k * d * (d + 3) / 2
        moments = 2.0 * n * k * d * (d + 1) / 2
    else:
        logp = 2.0 * n * d * d + 2.0 * n * k * d
        moments = 2.0 * n * k * d + (2.0 * n * d * d if scatter else 0.0)
    exp_rate = max(r["exp", "float32"], r["exp", "float64"])
    return logp / g_in + moments / g_mom + n * k / exp_rate


def mixture(n, d, k, dtype):
    rng = np.random.RandomState(0)
    means = rng.uniform(-3, 3, (k, d))
    y = rng.randint(k, size=n)
    return (means[y] + rng.standard_normal((n, d))).astype(dtype)


def start(X, k, cov_type):
    """The start of bench_gmm.py: k rows as means, equal weights, the spread / k."""
    rng = np.random.RandomState(1)
    means = X[rng.choice(X.shape[0], k, replace=False)].astype(np.float64)
    d = X.shape[1]
    var = float(X[:50_000].astype(np.float64).var(axis=0).mean()) / k
    prec = {"full": np.stack([np.eye(d) / var] * k), "tied": np.eye(d) / var,
            "diag": np.full((k, d), 1 / var), "spherical": np.full(k, 1 / var)}[cov_type]
    return np.full(k, 1.0 / k), means, prec


def main():
    args = [int(a) for a in sys.argv[1:]]
    n, d, k = args[:3] if len(args) >= 3 else (1_000_000, 32, 64)
    threads = args[3] if len(args) >= 4 else effective_n_threads(None)
    with_sklearn = os.environ.get("SKLEARN", "1") != "0" and not CPU_CLOCK
    r = rates(threads)
    print(f"# {n}x{d}, k={k}, {threads} threads, load average "
          f"{os.getloadavg()[0]:.1f}; sgemm {r['gemm', 'float32'] / 1e9:.0f}, dgemm "
          f"{r['gemm', 'float64'] / 1e9:.0f} GFLOP/s; exp f32 {r['exp', 'float32'] / 1e9:.2f}, "
          f"f64 {r['exp', 'float64'] / 1e9:.2f} G/s"
          + ("; CPU seconds, the floor times the threads" if CPU_CLOCK else ""))
    print("| type | dtype | floor s | floor32 s | kmgmm s/iter | x floor | x floor32 "
          "| sklearn s/iter | sklearn / kmgmm |")
    print("|---|---|---|---|---|---|---|---|---|")
    from sklearn.mixture import GaussianMixture as SkGM
    notes = []
    for dtype in (np.float32, np.float64):
        X = mixture(n, d, k, dtype)
        for ct in TYPES:
            weights, means, prec = start(X, k, ct)
            ours = GaussianMixture(k, covariance_type=ct, weights_init=weights,
                                   means_init=means, precisions_init=prec,
                                   max_iter=N_ITER, tol=0, n_threads=threads)
            theirs = SkGM(k, covariance_type=ct, weights_init=weights, means_init=means,
                          precisions_init=prec, max_iter=N_ITER, tol=0,
                          init_params="random_from_data", random_state=0)
            best = {"kmgmm": np.inf, "sklearn": np.inf}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for _ in range(REPS):
                    fit = lambda e=ours, X=X: e.fit(X)  # noqa: E731
                    best["kmgmm"] = min(best["kmgmm"],
                                        _cpu_time(fit) if CPU_CLOCK else _best_time(fit, 1))
                    if with_sklearn:
                        with threadpool_limits(limits=threads):
                            best["sklearn"] = min(best["sklearn"],
                                                  _best_time(lambda e=theirs, X=X: e.fit(X), 1))
            km = best["kmgmm"] / N_ITER
            sk = best["sklearn"] / N_ITER
            per = threads if CPU_CLOCK else 1    # CPU seconds of the floor
            fl = per * floor_seconds(n, d, k, ct, dtype, r)
            fl32 = per * floor_seconds(n, d, k, ct, dtype, r, np.dtype(dtype).name)
            sk_cells = (f"{sk:.4f} | {sk / km:.1f}" if with_sklearn else "- | -")
            print(f"| {ct} | {np.dtype(dtype).name} | {fl:.4f} | {fl32:.4f} | {km:.4f} "
                  f"| {km / fl:.1f} | {km / fl32:.1f} | {sk_cells} |", flush=True)
            if ct == "tied":
                fls = per * floor_seconds(n, d, k, ct, dtype, r, scatter=False)
                notes.append(f"tied {np.dtype(dtype).name}: floor-s {fls:.4f} s, "
                             f"kmgmm {km / fls:.1f} x floor-s")
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
