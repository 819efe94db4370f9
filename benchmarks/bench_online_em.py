"""Online EM (``GaussianMixture.partial_fit``) against batch EM (``fit``).

A seeded mixture of ``K`` Gaussians with random full covariances,
400 000 x 8 by default.  Batch EM: ``fit`` (k-means initialisation, default
``tol``).  Online EM: ``passes`` passes over the data in batches of
``batch_size`` rows (in the order drawn: the rows are independent), for
every pair of ``learning_decay`` (kappa) and ``learning_offset`` (t0)
asked for.  Every model is then scored on the whole data
(``score``: the mean log-likelihood); the table gives each score, its gap
to batch EM's relative to batch EM's magnitude (the goal: within 0.5%), and
the time against ``fit``'s.

Run:  PYTHONPATH=. python benchmarks/bench_online_em.py [--quick] [--decays 0.6 0.8 1.0]
      [--offsets 0 1 10] [--covariance-type full] [--repeats 3]

Times on a shared machine are noisy: each configuration is timed
``--repeats`` times, interleaved with the others, and the minimum kept.
"""
import argparse
import time
import warnings

import numpy as np

from kmgmm import GaussianMixture, KMeans

K = 8


def make_data(n, d, k, seed=0, dtype=np.float64):
    """Rows of a mixture with overlapping components (random full covariances)."""
    rng = np.random.RandomState(seed)
    means = rng.uniform(-5, 5, (k, d))
    A = rng.standard_normal((k, d, d)) * 0.6
    chol = np.linalg.cholesky(A @ np.swapaxes(A, 1, 2) + 0.3 * np.eye(d))
    weights = rng.dirichlet(np.full(k, 5.0))
    y = rng.choice(k, size=n, p=weights)
    X = means[y] + np.einsum("nij,nj->ni", chol[y], rng.standard_normal((n, d)))
    return X.astype(dtype)


def online(X, batch_size, passes, decay, offset, cov_type, seed, init):
    gm = GaussianMixture(K, covariance_type=cov_type, random_state=seed,
                         learning_decay=decay, learning_offset=offset, **init)
    for _ in range(passes):
        for start in range(0, X.shape[0], batch_size):
            gm.partial_fit(X[start:start + batch_size])
    return gm


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=400_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--decays", type=float, nargs="+", default=[0.51, 0.6, 0.7, 0.8, 1.0])
    parser.add_argument("--offsets", type=float, nargs="+", default=[0.0, 1.0, 10.0])
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="random_state of every fit (the initialisation)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--float32", action="store_true")
    parser.add_argument("--own-init", action="store_true",
                        help="each fit initialises itself (k-means on all of X for fit, on "
                             "the first batch for partial_fit) instead of both starting "
                             "from the means of k-means on the first batch")
    parser.add_argument("--quick", action="store_true", help="40 000 rows, batches of 2 000")
    args = parser.parse_args()
    if args.quick:
        args.n_samples, args.batch_size = 40_000, 2_000
    X = make_data(args.n_samples, args.n_features, K,
                  dtype=np.float32 if args.float32 else np.float64)
    cov_type = args.covariance_type
    configs = [(kappa, t0) for kappa in args.decays for t0 in args.offsets]
    print(f"X {X.shape} {X.dtype}, {K} components, covariance_type={cov_type!r}, "
          f"{args.passes} passes in batches of {args.batch_size}, seeds {args.seeds}")

    inits = {seed: {} if args.own_init else {"means_init": KMeans(
        K, random_state=seed).fit(X[:args.batch_size]).cluster_centers_} for seed in args.seeds}
    times = {}
    scores = {}
    for repeat in range(args.repeats):
        for seed in args.seeds:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                batch = GaussianMixture(K, covariance_type=cov_type, random_state=seed,
                                        **inits[seed]).fit(X)
            elapsed = time.perf_counter() - start
            times[("fit", seed)] = min(times.get(("fit", seed), np.inf), elapsed)
            scores[("fit", seed)] = (batch.score(X), batch.n_iter_)
            for config in configs:
                start = time.perf_counter()
                gm = online(X, args.batch_size, args.passes, *config, cov_type, seed,
                            inits[seed])
                elapsed = time.perf_counter() - start
                times[(config, seed)] = min(times.get((config, seed), np.inf), elapsed)
                scores[(config, seed)] = (gm.score(X), gm.n_steps_)

    for seed in args.seeds:
        target, n_iter = scores[("fit", seed)]
        t_fit = times[("fit", seed)]
        print(f"\nseed {seed}: batch EM fit: score {target:.6f} ({n_iter} iterations), "
              f"{t_fit:.2f} s")
        print(f"{'kappa':>6} {'t0':>6} {'score':>11} {'gap %':>8} {'time/fit':>9}")
        for config in configs:
            score, _ = scores[(config, seed)]
            gap = 100 * (target - score) / abs(target)
            print(f"{config[0]:6.2f} {config[1]:6.1f} {score:11.6f} {gap:8.3f} "
                  f"{times[(config, seed)] / t_fit:9.2f}")


if __name__ == "__main__":
    main()
