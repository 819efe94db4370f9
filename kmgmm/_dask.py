"""Predictions on Dask collections: ``predict``, ``transform``, ``score``,
``predict_proba`` and ``score_samples`` as lazy Dask arrays (or numbers) that
run the in-memory code on every block.

The fits themselves run on the Dask engine (``_engines.dask``).  This module
imports Dask; ``import kmgmm`` does not import it.
"""
import dask
import numpy as np

from ._assign import assign_conditioned
from ._conditioning import distances, for_centers
from ._engines.dask_runner import task_threads, weights_of
from ._gaussian import repair_far_rows
from ._threads import single_threaded_blas
from ._engines.dask_collections import _feature_names, as_dask_array, as_dask_weight
from ._validation import check_features


# ------------------------------------------------------------ predictions
def _test_array(est, X, method):
    est._check_is_fitted(method, est._fitted_attribute)
    names = _feature_names(X)
    X = as_dask_array(X)
    check_features(est, X, names, reset=False)
    return X


def _kmeans_assign_block(x, w, centers, n_threads):
    """Labels and weighted inertia of a block, conditioned as in memory."""
    labels = np.empty(x.shape[0], dtype=np.int32)
    w = weights_of(x, w)
    with single_threaded_blas():
        inertia = assign_conditioned(x, w, centers, for_centers(centers, x.dtype),
                                     labels, task_threads(n_threads))
    return labels, inertia


def _kmeans_predict_block(x, centers, n_threads):
    return _kmeans_assign_block(x, None, centers, n_threads)[0]


def _kmeans_inertia_block(x, w, centers, n_threads):
    return _kmeans_assign_block(x, w, centers, n_threads)[1]


def _kmeans_distances_block(x, centers):
    return distances(x, centers)


def kmeans_predict(est, X):
    """Lazy labels: a Dask array with X's row chunks."""
    X = _test_array(est, X, "predict")
    centers = dask.delayed(est.cluster_centers_, pure=True)
    return X.map_blocks(_kmeans_predict_block, centers, est.n_threads,
                        dtype=np.int32, drop_axis=1)


def kmeans_transform(est, X):
    """Lazy distances to the centres: a Dask array (n_samples, n_clusters)."""
    X = _test_array(est, X, "transform")
    k = est.cluster_centers_.shape[0]
    centers = dask.delayed(est.cluster_centers_, pure=True)
    return X.map_blocks(_kmeans_distances_block, centers, dtype=X.dtype,
                        chunks=(X.chunks[0], (k,)))


def kmeans_score(est, X, sample_weight=None):
    """Opposite of the weighted inertia of X (a number)."""
    X = _test_array(est, X, "score")
    w = as_dask_weight(sample_weight, X)
    xs = X.to_delayed().ravel()
    ws = [None] * len(xs) if w is None else w.to_delayed().ravel()
    centers = dask.delayed(est.cluster_centers_, pure=True)
    task = dask.delayed(_kmeans_inertia_block, pure=True)
    parts = [task(x, wb, centers, est.n_threads) for x, wb in zip(xs, ws)]
    return -float(sum(dask.compute(*parts)))


# ------------------------------------------------- mixture predictions
def _gmm_block(x, model, params, hard, n_threads, what):
    n = x.shape[0]
    out = {"lse": np.empty(n)}
    if what == "labels":
        out["labels"] = np.empty(n, dtype=np.int32)
    elif what == "resp":
        out["resp"] = np.empty((n, model.mu.shape[0]), dtype=x.dtype)
    with single_threaded_blas():
        model.run(x, np.ones(n, dtype=x.dtype), hard=hard,
                  n_threads=task_threads(n_threads), **out)
    repair_far_rows(x, out, *params, hard)
    return out[what]


def gmm_blockwise(est, X, method, what):
    """Lazy labels, log-likelihoods or responsibilities of a Dask X."""
    X = _test_array(est, X, method)
    model = dask.delayed(est._model(X.dtype), pure=False)
    params = dask.delayed((est.weights_, est.means_, est.precisions_cholesky_,
                           est.covariance_type), pure=False)
    hard = est.assignment == "hard"
    if what == "resp":
        return X.map_blocks(_gmm_block, model, params, hard, est.n_threads, what,
                            dtype=X.dtype, chunks=(X.chunks[0], (est.means_.shape[0],)))
    dtype = np.int32 if what == "labels" else np.float64
    return X.map_blocks(_gmm_block, model, params, hard, est.n_threads, what,
                        dtype=dtype, drop_axis=1)


def gmm_score(est, X, sample_weight=None):
    """Mean (weighted) log-likelihood per sample of a Dask X (a number)."""
    lse = gmm_blockwise(est, X, "score", "lse")
    if sample_weight is None:
        return float(lse.mean().compute())
    w = as_dask_weight(sample_weight, as_dask_array(X))
    total, wsum = dask.compute((w.astype(np.float64) * lse).sum(),
                               w.astype(np.float64).sum())
    return float(total / wsum)
