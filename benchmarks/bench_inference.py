"""Applying fitted models: kmgmm against scikit-learn on the same fitted model.

    python benchmarks/bench_inference.py [--threads 2] [--reps 5] [--n-samples N]
                                         [--only kmeans|gmm|bayes] [--covariance diag,...]

KMeans (1 000 000 x 32, k = 64, the data and centres of ``pass_timing.py``'s
shape "a"): ``predict``, ``score`` and ``transform`` of a kmgmm and a
scikit-learn ``KMeans`` holding the same centres, beside one Lloyd pass of
the fit (``lloyd_pass`` with the centre sums: what an iteration of ``fit``
costs) and the time to write ``transform``'s output (``numpy.ones`` of its
shape and dtype: allocating and filling it once).  GaussianMixture and
BayesianGaussianMixture (1 000 000 x 32, 16 components, every covariance
type): ``predict``, ``predict_proba``, ``score_samples`` and ``score`` of a
kmgmm model fitted on the first 50 000 rows, and of a scikit-learn model
given the same parameters (the Bayesian one is fitted by each library on
those rows: its variational parameters have no common setter).  float32 and
float64 data; scikit-learn computes in float64 either way.

The functions take turns, ``--reps`` rounds, and each time is the best of
its rounds: on a shared machine compare the ratios.  kmgmm runs
``n_threads=--threads``; scikit-learn runs under
``threadpool_limits(--threads)`` (its OpenMP and BLAS threads).  Prints
Markdown tables.  ``CLOCK=cpu`` measures process CPU time instead of wall
time: steadier on a busy machine, with ``--threads 1``.
"""
import argparse
import os
import time
import warnings
from functools import partial

import numpy as np
from sklearn import mixture as skm
from sklearn.cluster import KMeans as SkKMeans
from threadpoolctl import threadpool_limits

import kmgmm
from kmgmm._kernels import lloyd

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
CLOCK = time.process_time if os.environ.get("CLOCK") == "cpu" else time.perf_counter


def rounds(fns, reps):
    """Best time of each function over ``reps`` rounds, taking turns (the
    first round pays for any set-up: take reps >= 2)."""
    best = {}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = CLOCK()
            fn()
            best[name] = min(best.get(name, np.inf), CLOCK() - t0)
    return best


def limited(threads, fn, *args):
    """``fn(*args)`` with scikit-learn's thread pools limited to ``threads``."""
    with threadpool_limits(threads):
        return fn(*args)


def data(n, d, k, seed=0):
    rng = np.random.RandomState(seed)
    means = rng.standard_normal((k, d))
    X = rng.standard_normal((n, d)) + means[rng.randint(k, size=n)]
    C = X[rng.choice(n, k, replace=False)].copy()
    return X, C


def kmeans_rows(n, threads, reps):
    d, k = 32, 64
    X64, C64 = data(n, d, k)
    print(f"\n### KMeans, {n} x {d}, k = {k}, {threads} thread(s), best of {reps}\n")
    print("| dtype | method | kmgmm s | sklearn s | kmgmm / sklearn | kmgmm / fit pass "
          "| kmgmm / output write |")
    print("|---|---|---|---|---|---|---|")
    for dtype in (np.float32, np.float64):
        X, C = X64.astype(dtype), C64.astype(dtype)
        ours = kmgmm.KMeans(k, init=C, n_init=1, max_iter=1, n_threads=threads).fit(X[:4 * k])
        ours.cluster_centers_ = C.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = SkKMeans(k, init=C, n_init=1, max_iter=1).fit(X[:4 * k])
        theirs.cluster_centers_ = C.copy()
        w = np.ones(n, dtype)
        labels = np.empty(n, np.int32)
        sums, weights = np.empty((k, d)), np.empty(k)

        fns = {
            "fit pass": partial(lloyd.lloyd_pass, X, w, C, labels, sums=sums, weights=weights,
                                n_threads=threads),
            "output write": partial(np.ones, (n, k), dtype),
        }
        for method in ("predict", "score", "transform"):
            fns[method] = partial(getattr(ours, method), X)
            fns["sk " + method] = partial(limited, threads, getattr(theirs, method), X)
        best = rounds(fns, reps)
        for method in ("predict", "score", "transform"):
            t = best[method]
            write = f"{t / best['output write']:.2f}" if method == "transform" else "–"
            print(f"| {np.dtype(dtype).name} | {method} | {t:.4f} | {best['sk ' + method]:.4f} "
                  f"| {t / best['sk ' + method]:.2f} | {t / best['fit pass']:.2f} | {write} |",
                  flush=True)
        print(f"| {np.dtype(dtype).name} | (fit pass) | {best['fit pass']:.4f} | | | | |")
        print(f"| {np.dtype(dtype).name} | (output write) | {best['output write']:.4f} | | | | |",
              flush=True)


def copy_gmm(ours):
    """A scikit-learn GaussianMixture holding kmgmm's fitted parameters."""
    theirs = skm.GaussianMixture(ours.n_components, covariance_type=ours.covariance_type)
    theirs.weights_ = ours.weights_.astype(np.float64)
    theirs.means_ = ours.means_.astype(np.float64)
    theirs.covariances_ = ours.covariances_.astype(np.float64)
    theirs.precisions_cholesky_ = ours.precisions_cholesky_.astype(np.float64)
    theirs.n_features_in_ = ours.means_.shape[1]
    return theirs


def mixture_rows(n, threads, reps, bayes, covariance_types=COVARIANCE_TYPES):
    d, k = 32, 16
    X64, _ = data(n, d, k)
    name = "BayesianGaussianMixture" if bayes else "GaussianMixture"
    print(f"\n### {name}, {n} x {d}, {k} components, {threads} thread(s), best of {reps}\n")
    print("| covariance | dtype | method | kmgmm s | sklearn s | kmgmm / sklearn |")
    print("|---|---|---|---|---|---|")
    fit_rows = min(n, 50_000)
    for cov in covariance_types:
        for dtype in (np.float32, np.float64):
            X = X64.astype(dtype)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if bayes:
                    ours = kmgmm.BayesianGaussianMixture(
                        n_components=k, covariance_type=cov, max_iter=20, random_state=0,
                        n_threads=threads).fit(X[:fit_rows])
                    theirs = skm.BayesianGaussianMixture(
                        n_components=k, covariance_type=cov, max_iter=20,
                        random_state=0).fit(X[:fit_rows])
                else:
                    ours = kmgmm.GaussianMixture(k, covariance_type=cov, max_iter=20,
                                                 random_state=0,
                                                 n_threads=threads).fit(X[:fit_rows])
                    theirs = copy_gmm(ours)
            fns = {}
            for method in ("predict", "predict_proba", "score_samples", "score"):
                fns[method] = partial(getattr(ours, method), X)
                fns["sk " + method] = partial(limited, threads, getattr(theirs, method), X)
            best = rounds(fns, reps)
            for method in ("predict", "predict_proba", "score_samples", "score"):
                t, s = best[method], best["sk " + method]
                print(f"| {cov} | {np.dtype(dtype).name} | {method} | {t:.4f} | {s:.4f} "
                      f"| {t / s:.2f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("kmeans", "gmm", "bayes"))
    parser.add_argument("--covariance", default=",".join(COVARIANCE_TYPES),
                        help="covariance types of the mixtures, comma-separated")
    args = parser.parse_args()
    print(f"kmgmm {kmgmm.__version__}, CPU path {kmgmm._kernels.cpu_path()}")
    if args.only in (None, "kmeans"):
        kmeans_rows(args.n_samples, args.threads, args.reps)
    if args.only in (None, "gmm"):
        mixture_rows(args.n_samples, args.threads, args.reps, bayes=False,
                     covariance_types=args.covariance.split(","))
    if args.only in (None, "bayes"):
        mixture_rows(args.n_samples, args.threads, args.reps, bayes=True,
                     covariance_types=args.covariance.split(","))


if __name__ == "__main__":
    main()
