"""Spherical k-means and k-means++ seeding against their peers.

1. Embeddings-like dense float32 data (rows around k random unit directions,
   random lengths), default 500 000 x 128, k = 100: ``kmgmm.SphericalKMeans``
   against faiss ``Kmeans(spherical=True)`` (no subsampling), both from the
   same initial unit centres, ``ITERS`` iterations (kmgmm ``tol=0``; faiss
   does not stop early).  faiss expects unit rows (``spherical=True`` only
   renormalises the centroids), so both get the rows normalised beforehand;
   kmgmm normalises them again (a copy of X) inside ``fit``, which is timed.
   The labels agree until a cluster empties (on the default data, two do in
   the third iteration): kmgmm moves it onto the row of least cosine to its
   centre, faiss splits a large cluster in two, and from there the fits
   differ (about 2% of the labels after 10 iterations).
2. TF-IDF-like CSR data (default 100 000 x 20 000, about 60 non-zeros a row,
   k = 50): ``SphericalKMeans`` against a plain NumPy/scipy loop (argmax of
   ``X @ C.T`` a block at a time, sums by a sparse indicator product,
   renormalise) from the same centres (a row of each planted cluster), the
   same number of iterations; the share of labels that agree is printed.
3. ``kmgmm.kmeans_plusplus`` against ``sklearn.cluster.kmeans_plusplus``
   (dense float64 200 000 x 32, k = 64).

Run::

    OMP_NUM_THREADS=2 python benchmarks/bench_spherical.py
    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_spherical.py   # the source tree, built in place
    OMP_NUM_THREADS=2 python benchmarks/bench_spherical.py --quick

Each contender is timed ``--repeat`` times, interleaved; the minimum counts.
Shared machines are noisy: compare the ratios printed in one run.
"""
import argparse
import time

import numpy as np
import scipy.sparse as sp

import kmgmm

N_THREADS = 2


def embeddings(n, d, k, seed=0):
    rng = np.random.RandomState(seed)
    mu = rng.standard_normal((k, d)).astype(np.float32)
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    X = np.empty((n, d), dtype=np.float32)
    step = 50_000
    for start in range(0, n, step):
        m = min(step, n - start)
        y = rng.randint(k, size=m)
        block = mu[y] + 0.6 / np.sqrt(d) * rng.standard_normal((m, d)).astype(np.float32)
        block *= rng.uniform(0.5, 2.0, (m, 1)).astype(np.float32)
        X[start:start + m] = block
    return X


def documents(n, d, k, nnz_per_row, seed=0):
    """Each cluster draws 30% of its terms from its own slice of
    the vocabulary (Zipf-like weights), the rest from anywhere."""
    rng = np.random.RandomState(seed)
    y = rng.randint(k, size=n)
    per = d // k
    own = int(0.3 * nnz_per_row)
    cols = np.empty((n, nnz_per_row), dtype=np.int64)
    cols[:, :own] = y[:, None] * per + (rng.zipf(1.5, (n, own)) % per)
    cols[:, own:] = rng.randint(0, d, (n, nnz_per_row - own))
    rows = np.repeat(np.arange(n), nnz_per_row)
    vals = rng.exponential(1.0, n * nnz_per_row) + 0.1
    X = sp.csr_matrix((vals, (rows, cols.ravel())), shape=(n, d), dtype=np.float64)
    X.sum_duplicates()
    return X, y


def unit_rows(X):
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    return (X / norms[:, None].astype(X.dtype)).astype(X.dtype)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def scipy_spherical(X, C0, iters):
    """The reference loop: (labels, centres) after ``iters`` iterations."""
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    U = sp.diags(1.0 / norms) @ X
    U = U.tocsr()
    n, k = U.shape[0], C0.shape[0]
    C = C0.astype(np.float64)
    for _ in range(iters + 1):
        labels = np.empty(n, dtype=np.int64)
        for start in range(0, n, 8192):
            labels[start:start + 8192] = np.argmax(U[start:start + 8192] @ C.T, axis=1)
        if _ == iters:
            break
        indicator = sp.csr_matrix((np.ones(n), (labels, np.arange(n))), shape=(k, n))
        sums = np.asarray((indicator @ U).todense())
        norm = np.linalg.norm(sums, axis=1)
        filled = norm > 0
        C[filled] = sums[filled] / norm[filled, None]
    return labels, C


def bench_dense(n, d, k, iters, repeat):
    import faiss

    faiss.omp_set_num_threads(N_THREADS)
    X = unit_rows(embeddings(n, d, k))
    C0 = X[np.random.RandomState(1).choice(n, k, replace=False)].copy()

    def run_kmgmm():
        return kmgmm.SphericalKMeans(k, init=C0, max_iter=iters, tol=0,
                                     n_threads=N_THREADS).fit(X)

    def run_faiss():
        km = faiss.Kmeans(d, k, niter=iters, spherical=True, seed=1, verbose=False,
                          max_points_per_centroid=n)
        km.train(X, init_centroids=C0)
        return km

    times = {"kmgmm": [], "faiss": []}
    for _ in range(repeat):
        t, ours = timed(run_kmgmm)
        times["kmgmm"].append(t)
        t, theirs = timed(run_faiss)
        times["faiss"].append(t)
    agree = np.mean(ours.labels_ == theirs.index.search(X, 1)[1].ravel())
    best = {name: min(v) for name, v in times.items()}
    print(f"dense float32 {n} x {d}, k={k}, {iters} iterations from the same centres "
          f"(kmgmm ran {ours.n_iter_}):")
    print(f"  kmgmm SphericalKMeans {best['kmgmm']:.3f} s   faiss Kmeans(spherical=True) "
          f"{best['faiss']:.3f} s   kmgmm / faiss = {best['kmgmm'] / best['faiss']:.2f}   "
          f"(labels agree on {100 * agree:.2f}% of rows)")


def bench_sparse(n, d, k, nnz, iters, repeat):
    X, y = documents(n, d, k, nnz)
    # One row of each planted cluster: no cluster starts empty, so the
    # reference loop (which has no relocation) runs the same algorithm.
    C0 = X[[np.flatnonzero(y == j)[0] for j in range(k)]].toarray()
    C0 /= np.linalg.norm(C0, axis=1, keepdims=True)

    def run_kmgmm():
        return kmgmm.SphericalKMeans(k, init=C0, max_iter=iters, tol=0,
                                     n_threads=N_THREADS).fit(X)

    times = {"kmgmm": [], "scipy": []}
    for _ in range(repeat):
        t, ours = timed(run_kmgmm)
        times["kmgmm"].append(t)
        t, (labels, _) = timed(lambda n=ours.n_iter_: scipy_spherical(X, C0, n))
        times["scipy"].append(t)
    agree = np.mean(ours.labels_ == labels)
    best = {name: min(v) for name, v in times.items()}
    print(f"CSR float64 {n} x {d}, {X.nnz / n:.0f} non-zeros a row, k={k}, "
          f"{ours.n_iter_} iterations from the same centres:")
    print(f"  kmgmm SphericalKMeans {best['kmgmm']:.3f} s   NumPy/scipy loop "
          f"{best['scipy']:.3f} s   kmgmm / scipy = {best['kmgmm'] / best['scipy']:.2f}   "
          f"(labels agree on {100 * agree:.2f}% of rows)")


def bench_plusplus(n, d, k, repeat):
    from sklearn.cluster import kmeans_plusplus as sk_plusplus
    from threadpoolctl import threadpool_limits

    rng = np.random.RandomState(3)
    X = rng.standard_normal((n, d)) + rng.randint(0, 8, (n, 1)) * 2.0
    times = {"kmgmm": [], "sklearn": []}
    with threadpool_limits(N_THREADS):
        for seed in range(repeat):
            times["kmgmm"].append(timed(lambda s=seed: kmgmm.kmeans_plusplus(
                X, k, random_state=s))[0])
            times["sklearn"].append(timed(lambda s=seed: sk_plusplus(X, k, random_state=s))[0])
    best = {name: min(v) for name, v in times.items()}
    print(f"kmeans_plusplus float64 {n} x {d}, k={k}:")
    print(f"  kmgmm {best['kmgmm']:.3f} s   scikit-learn {best['sklearn']:.3f} s   "
          f"kmgmm / sklearn = {best['kmgmm'] / best['sklearn']:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (seconds)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--skip", nargs="*", default=(),
                        choices=("dense", "sparse", "plusplus"))
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(f"{N_THREADS} threads; minimum of {args.repeat} interleaved runs")
    if "dense" not in args.skip:
        bench_dense(500_000 // scale, 128, 100, args.iters, args.repeat)
    if "sparse" not in args.skip:
        bench_sparse(100_000 // scale, 20_000, 50, 60, args.iters, args.repeat)
    if "plusplus" not in args.skip:
        bench_plusplus(200_000 // scale, 32, 64, args.repeat)


if __name__ == "__main__":
    main()
