"""``kmgmm bench``: kmgmm against scikit-learn and faiss, side by side.

Every engine runs a fixed number of iterations from the same initial
parameters on the same seeded data (a Gaussian mixture), with the same number
of threads; the time reported is the fit's time divided by the iterations
run.  scikit-learn and faiss are imported only here, and a missing one is
skipped.  The pytest-benchmark suite in ``benchmarks/`` is the finer tool;
this command is the quick look.
"""
import json
import platform
import sys
import time
import warnings

import numpy as np

from ._covariance import COVARIANCE_TYPES, COVARIANCES
from ._progress import ProgressLine

# (n_samples, n_features, n_clusters) as in benchmarks/
KMEANS_SHAPES = [(1_000_000, 32, 64), (200_000, 128, 256), (2_000_000, 2, 8),
                 (100_000, 784, 10)]
EM_SHAPES = [((200_000, 16, 16), COVARIANCE_TYPES),
             ((1_000_000, 32, 64), ("diag", "spherical"))]
QUICK_KMEANS_SHAPES = [(200_000, 32, 64), (500_000, 2, 8)]
QUICK_EM_SHAPES = [((50_000, 16, 16), COVARIANCE_TYPES)]
# scikit-learn's full and tied EM on this many n*k*d*d flops take minutes.
SKLEARN_EM_FLOP_LIMIT = 5e10


def make_data(n_samples, n_features, n_clusters, dtype, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-4, 4, size=(n_clusters, n_features))
    y = rng.integers(n_clusters, size=n_samples)
    X = rng.standard_normal((n_samples, n_features))
    X += means[y]
    X = X.astype(dtype, copy=False)
    init = X[rng.choice(n_samples, size=n_clusters, replace=False)].copy()
    return X, init


def _timed(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est = fit()
        return time.perf_counter() - start, est


# --------------------------------------------------------------- k-means
def _kmgmm_kmeans(X, init, n_iter, n_threads):
    from ._kmeans import KMeans

    seconds, est = _timed(lambda: KMeans(init.shape[0], init=init, n_init=1,
                                         max_iter=n_iter, tol=0.0, algorithm="lloyd",
                                         n_threads=n_threads).fit(X))
    return seconds / est.n_iter_


def _sklearn_kmeans(X, init, n_iter, n_threads):
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(n_threads):
        seconds, est = _timed(lambda: KMeans(init.shape[0], init=init, n_init=1,
                                             max_iter=n_iter, tol=0.0,
                                             algorithm="lloyd").fit(X))
    return seconds / est.n_iter_


def _faiss_kmeans(X, init, n_iter, n_threads):
    import faiss

    if X.dtype != np.float32:
        return None  # faiss clusters float32 only
    faiss.omp_set_num_threads(n_threads)
    n, d = X.shape
    km = faiss.Kmeans(d, init.shape[0], niter=n_iter, max_points_per_centroid=n,
                      verbose=False)  # no silent subsampling
    seconds, _ = _timed(lambda: km.train(X, init_centroids=init))
    return seconds / n_iter


# -------------------------------------------------------------------- EM
def _initial_precisions(X, k, covariance_type):
    d = X.shape[1]
    var = float(np.var(X[: 100_000], axis=0).mean())
    return {
        "full": np.tile(np.eye(d) / var, (k, 1, 1)),
        "tied": np.eye(d) / var,
        "diag": np.full((k, d), 1.0 / var),
        "spherical": np.full(k, 1.0 / var),
    }.get(covariance_type), var


def _kmgmm_em(X, init, n_iter, n_threads, covariance_type):
    import kmgmm

    k = init.shape[0]
    precisions, var = _initial_precisions(X, k, covariance_type)
    params = dict(covariance_type=covariance_type, max_iter=n_iter, tol=0.0,
                  weights_init=np.full(k, 1.0 / k), means_init=init,
                  init_params="random_from_data", random_state=0, n_threads=n_threads)
    if covariance_type == "fixed":
        params["variance"] = var
    else:
        params["precisions_init"] = precisions
    seconds, est = _timed(lambda: kmgmm.GaussianMixture(k, **params).fit(X))
    return seconds / max(est.n_iter_, 1)


def _sklearn_em(X, init, n_iter, n_threads, covariance_type):
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    if covariance_type == "fixed":
        return None
    n, d = X.shape
    k = init.shape[0]
    if COVARIANCES[covariance_type].has_matrix and n * k * d * d > SKLEARN_EM_FLOP_LIMIT:
        return None
    precisions, _ = _initial_precisions(X, k, covariance_type)
    with threadpool_limits(n_threads):
        seconds, est = _timed(lambda: GaussianMixture(
            k, covariance_type=covariance_type, max_iter=n_iter, tol=0.0,
            weights_init=np.full(k, 1.0 / k), means_init=init,
            precisions_init=precisions, init_params="random_from_data",
            random_state=0).fit(X))
    return seconds / max(est.n_iter_, 1)


def _available(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def run_bench(quick=False, as_json=False, n_threads=None, quiet=False, stop=None,
              scale=1.0, out=None):
    import kmgmm
    from ._threads import effective_n_threads

    out = out or sys.stdout
    n_threads = effective_n_threads(n_threads)
    kmeans_shapes = QUICK_KMEANS_SHAPES if quick else KMEANS_SHAPES
    em_shapes = QUICK_EM_SHAPES if quick else EM_SHAPES
    dtypes = (np.float32,) if quick else (np.float32, np.float64)
    kmeans_iter, em_iter = (5, 3) if quick else (10, 5)
    have = {"scikit-learn": _available("sklearn"), "faiss": _available("faiss"),
            "GaussianMixture": hasattr(kmgmm, "GaussianMixture")}
    progress = ProgressLine(enabled=not quiet)
    rows = []

    def scaled(shape):
        n, d, k = shape
        return max(int(n * scale), 10 * k), d, k

    def record(task, shape, dtype, engine, fn, *args):
        if stop is not None:
            stop.check(f"{task} {shape}")
        progress.update(f"kmgmm bench: {task} {shape[0]}x{shape[1]}, k={shape[2]}, "
                        f"{np.dtype(dtype).name}, {engine}  elapsed "
                        f"{progress.elapsed():.0f} s", force=True)
        row = {"task": task, "n_samples": shape[0], "n_features": shape[1],
               "n_clusters": shape[2], "dtype": np.dtype(dtype).name, "engine": engine}
        try:
            seconds = fn(*args)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # a peer library's failure is a result, not a crash
            message = str(exc).splitlines()[0] if str(exc) else ""
            rows.append({**row, "seconds_per_iteration": None,
                         "error": f"{type(exc).__name__}: {message}"[:200]})
            return
        if seconds is not None:
            rows.append({**row, "seconds_per_iteration": seconds})

    try:
        for shape in map(scaled, kmeans_shapes):
            for dtype in dtypes:
                X, init = make_data(*shape, dtype)
                record("k-means", shape, dtype, "kmgmm", _kmgmm_kmeans, X, init,
                       kmeans_iter, n_threads)
                if have["scikit-learn"]:
                    record("k-means", shape, dtype, "scikit-learn", _sklearn_kmeans, X,
                           init, kmeans_iter, n_threads)
                if have["faiss"]:
                    record("k-means", shape, dtype, "faiss", _faiss_kmeans, X, init,
                           kmeans_iter, n_threads)
        for shape, covariance_types in em_shapes:
            shape = scaled(shape)
            for dtype in dtypes:
                X, init = make_data(*shape, dtype)
                record("k-means", shape, dtype, "kmgmm", _kmgmm_kmeans, X, init,
                       kmeans_iter, n_threads)
                for covariance_type in covariance_types:
                    task = f"EM {covariance_type}"
                    if have["GaussianMixture"]:
                        record(task, shape, dtype, "kmgmm", _kmgmm_em, X, init, em_iter,
                               n_threads, covariance_type)
                    if have["scikit-learn"]:
                        record(task, shape, dtype, "scikit-learn", _sklearn_em, X, init,
                               em_iter, n_threads, covariance_type)
    finally:
        progress.close()
    _add_ratios(rows)
    result = {"quick": quick, "n_threads": n_threads, "machine": platform.processor()
              or platform.machine(), "engines_available": have, "rows": rows}
    if as_json:
        print(json.dumps(result, indent=2), file=out)
    else:
        print(format_table(result), file=out)
    return 0


def _add_ratios(rows):
    """Each time as a multiple of kmgmm's for the same task, shape and dtype,
    and each EM time as a multiple of kmgmm's k-means iteration on the data."""
    def key(r):
        return (r["task"], r["n_samples"], r["n_features"], r["n_clusters"], r["dtype"])

    kmgmm_time = {key(r): r["seconds_per_iteration"] for r in rows
                  if r["engine"] == "kmgmm"}
    for r in rows:
        seconds = r["seconds_per_iteration"]
        ref = kmgmm_time.get(key(r))
        r["vs_kmgmm"] = seconds / ref if ref and seconds else None
        km = kmgmm_time.get(("k-means",) + key(r)[1:])
        r["vs_kmgmm_kmeans"] = (seconds / km
                                if km and seconds and r["task"] != "k-means" else None)


def format_table(result):
    rows = result["rows"]
    have = result["engines_available"]
    missing = [name for name, ok in have.items() if not ok]
    lines = [f"kmgmm bench{' --quick' if result['quick'] else ''}: seconds per "
             f"iteration, {result['n_threads']} threads, same data and initial "
             "parameters for every engine", ""]
    columns = ("task", "shape (n x d, k)", "dtype", "engine", "s/iter", "x kmgmm",
               "x kmgmm k-means iter")
    table = []
    for r in rows:
        table.append((r["task"], f"{r['n_samples']} x {r['n_features']}, "
                                 f"{r['n_clusters']}",
                      r["dtype"], r["engine"],
                      (f"{r['seconds_per_iteration']:.4f}" if "error" not in r
                       else "failed: " + r["error"]),
                      "-" if r["engine"] == "kmgmm" or r["vs_kmgmm"] is None
                      else f"{r['vs_kmgmm']:.2f}",
                      "-" if r["vs_kmgmm_kmeans"] is None
                      else f"{r['vs_kmgmm_kmeans']:.1f}"))
    widths = [max(len(c), *(len(t[i]) for t in table)) if table else len(c)
              for i, c in enumerate(columns)]
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for t in table:
        lines.append("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())
    lines.append("")
    lines.append("x kmgmm: time as a multiple of kmgmm's (above 1: kmgmm is faster); "
                 "x kmgmm k-means iter: an EM iteration in k-means iterations.")
    if missing:
        lines.append("not available here, skipped: " + ", ".join(missing))
    return "\n".join(lines)
