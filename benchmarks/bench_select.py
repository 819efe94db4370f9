"""Model selection over k and covariance types: kmgmm's MixtureSelection against
a plain loop of kmgmm.GaussianMixture fits and a loop of scikit-learn's.

A benchmark, not a test:

    python benchmarks/bench_select.py                        # 50 000 x 8, k = 1..10
    python benchmarks/bench_select.py --n-samples 200000 --repeat 5
    python benchmarks/bench_select.py --no-sklearn           # kmgmm only

The data are a mixture of ``--clusters`` Gaussians with random full
covariances.  Each way fits the same grid (k = 1..``--k-max`` x full, tied,
diag, spherical) with the same settings (k-means initialisation, tol 1e-3,
reg_covar 1e-6, max_iter 100, random_state 0) and computes every point's BIC:

- ``selection``: ``kmgmm.MixtureSelection(...).fit(X)``;
- ``kmgmm loop``: ``GaussianMixture(k, covariance_type=t).fit(X)`` then ``.bic(X)``;
- ``sklearn loop``: the same with ``sklearn.mixture.GaussianMixture``.

The ways run interleaved, ``--repeat`` times each; the fastest run of each
counts and the ratios are taken between those.  The selection's BIC equals the
kmgmm loop's (same seeding, same EM): the script checks it.  On a shared
machine absolute times are noisy; compare the ratios of one run.
"""
import argparse
import os
import platform
import time
import warnings

import numpy as np

TYPES = ("full", "tied", "diag", "spherical")


def mixture(n_samples, n_features, n_clusters, seed=0):
    rng = np.random.RandomState(seed)
    means = rng.uniform(-6, 6, size=(n_clusters, n_features))
    y = rng.randint(n_clusters, size=n_samples)
    X = np.empty((n_samples, n_features))
    for j in range(n_clusters):
        A = rng.standard_normal((n_features, n_features)) / np.sqrt(n_features)
        rows = y == j
        X[rows] = means[j] + rng.standard_normal((rows.sum(), n_features)) @ A
    return X


def run_selection(X, ks):
    from kmgmm import MixtureSelection

    sel = MixtureSelection(ks, covariance_types=TYPES, random_state=0).fit(X)
    return dict(zip(zip(sel.results_["n_components"].tolist(),
                        sel.results_["covariance_type"].tolist()), sel.results_["bic"]))


def run_loop(cls, X, ks):
    out = {}
    for k in ks:
        for t in TYPES:
            gm = cls(k, covariance_type=t, random_state=0).fit(X)
            out[(k, t)] = gm.bic(X)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=50_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--clusters", type=int, default=5)
    parser.add_argument("--k-max", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-sklearn", action="store_true")
    args = parser.parse_args()

    from kmgmm import ConvergenceWarning, GaussianMixture

    X = mixture(args.n_samples, args.n_features, args.clusters)
    ks = list(range(1, args.k_max + 1))
    ways = {"selection": lambda: run_selection(X, ks),
            "kmgmm loop": lambda: run_loop(GaussianMixture, X, ks)}
    if not args.no_sklearn:
        from sklearn.mixture import GaussianMixture as SkGMM

        ways["sklearn loop"] = lambda: run_loop(SkGMM, X, ks)
    times = {name: [] for name in ways}
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        for rep in range(args.repeat):
            for name, fit in ways.items():
                start = time.perf_counter()
                results[name] = fit()
                times[name].append(time.perf_counter() - start)
                print(f"  run {rep + 1}: {name:<12} {times[name][-1]:8.2f} s", flush=True)

    sel, loop = results["selection"], results["kmgmm loop"]
    worst = max(abs(sel[p] - loop[p]) / abs(loop[p]) for p in loop)
    print(f"\n{X.shape[0]} x {X.shape[1]} float64, {args.clusters} true components, "
          f"grid k = 1..{args.k_max} x {len(TYPES)} types = {len(loop)} fits; "
          f"{os.cpu_count()} cores ({platform.machine()}), fastest of {args.repeat}")
    print(f"largest relative BIC difference, selection vs kmgmm loop: {worst:.2e}")
    best = {name: min(t) for name, t in times.items()}
    for name, t in best.items():
        print(f"  {name:<12} {t:8.2f} s")
    print(f"selection / kmgmm loop   = {best['selection'] / best['kmgmm loop']:.3f}")
    if "sklearn loop" in best:
        print(f"selection / sklearn loop = {best['selection'] / best['sklearn loop']:.3f}")
        print(f"kmgmm loop / sklearn loop = {best['kmgmm loop'] / best['sklearn loop']:.3f}")


if __name__ == "__main__":
    main()
