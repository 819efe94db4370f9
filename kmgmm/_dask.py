"""Dask collections as the estimators take them: a Dask array or DataFrame
checked and converted block by block, sample weights with X's row chunks, and
the lazy predictions (``predict``, ``transform``, ``predict_proba``,
``score_samples``) that run the in-memory code on every block.

The fits themselves run on the Dask engine (``_engines.dask``).  This module
imports Dask; ``import kmgmm`` does not import it.
"""
import dask
import dask.array as da
import numpy as np

from ._assign import assign_conditioned
from ._conditioning import distances, for_centers
from ._engines.dask_runner import task_threads
from ._gaussian import repair_far_rows
from ._threads import single_threaded_blas
from ._validation import (
    as_float_array, check_features, check_finite, feature_names_from_columns,
)


def _weights_of(x, w):
    return np.ones(x.shape[0], dtype=x.dtype) if w is None else w


def _is_dask_dataframe(X):
    return hasattr(X, "to_dask_array") and hasattr(X, "columns")


def _feature_names(X):
    return feature_names_from_columns(X.columns) if _is_dask_dataframe(X) else None


def _prepare_block(x, dtype, name):
    """A block as a C-contiguous float array; ValueError naming ``name`` on NaN/inf."""
    x = np.ascontiguousarray(x, dtype=dtype)
    check_finite(x, name)
    return x


def _check_weight_block(w, dtype):
    w = np.ascontiguousarray(w, dtype=dtype)
    check_finite(w, "sample_weight")
    if (w < 0).any():
        raise ValueError(
            "sample_weight contains negative values; weights must be >= 0 "
            "(use 0 to leave a row out).")
    return w


def as_dask_array(X, name="X"):
    """A 2-D float32/float64 Dask array of X, one chunk across the columns.

    The checks of ``as_float_array`` that need no data run here; NaN and
    infinity are found block by block when the blocks are computed.
    """
    if _is_dask_dataframe(X):
        kinds = {np.dtype(t).kind for t in X.dtypes}
        if not kinds <= set("fiub"):
            raise TypeError(
                f"{name} must be numeric, but it has columns of dtypes "
                f"{sorted(set(map(str, X.dtypes)))}; encode or drop the "
                "non-numeric columns.")
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} must be a Dask array or DataFrame, got {type(X).__name__}.")
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array for {name}, got {X.ndim} dimension(s) "
            f"(shape {X.shape}); reshape it to (n_samples, n_features).")
    kind = X.dtype.kind
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} contains complex numbers; pass "
            f"the real part ({name}.real) or the modulus (abs({name})).")
    if kind not in "fiub":
        raise TypeError(
            f"{name} has dtype {X.dtype}, which is not numeric; pass an array "
            "of floats or integers.")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.shape[1] < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
            f"of 1 is required: {name} must have at least that many columns.")
    if X.shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
            f"of 1 is required: {name} must have at least that many rows.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X.map_blocks(_prepare_block, dtype, name, dtype=dtype)


def as_dask_weight(sample_weight, X):
    """``sample_weight`` as a Dask array with X's row chunks, or None for ones."""
    if sample_weight is None:
        return None
    dtype = X.dtype
    if np.isscalar(sample_weight) and not isinstance(sample_weight, bool):
        return da.full(X.shape[0], sample_weight, dtype=dtype, chunks=(X.chunks[0],))
    if not isinstance(sample_weight, da.Array):
        if hasattr(sample_weight, "to_dask_array"):
            sample_weight = sample_weight.to_dask_array(lengths=True)
        else:
            sw = as_float_array(sample_weight, name="sample_weight", dtype=dtype,
                                ensure_2d=False)
            sample_weight = da.from_array(sw, chunks=-1)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != X.shape[0]:
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected "
            f"({X.shape[0]},): give one weight per row of X.")
    if sample_weight.chunks[0] != X.chunks[0]:
        sample_weight = sample_weight.rechunk((X.chunks[0],))
    return sample_weight.map_blocks(_check_weight_block, dtype, dtype=dtype)



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
    w = _weights_of(x, w)
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
                            dtype=X.dtype, chunks=(X.chunks[0], (est.n_components,)))
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
