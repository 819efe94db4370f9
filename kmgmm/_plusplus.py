"""``kmeans_plusplus``: the k-means++ seeding on its own, as scikit-learn's
``sklearn.cluster.kmeans_plusplus`` offers it, on the seeding every kmgmm
fit uses (``_algorithms.seeding``)."""
import numpy as np

from ._algorithms.seeding import canonical_order, row_sqnorms
from ._algorithms.seeding import kmeans_plusplus as _seed
from ._conditioning import for_data, weighted_moments
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    as_float_array,
    as_float_csr,
    check_finite,
    check_int,
    check_random_state,
    check_sample_weight,
    is_dask_collection,
    is_sparse,
)


def _check_squared_norms(x_squared_norms, n_samples):
    norms = as_float_array(x_squared_norms, name="x_squared_norms", dtype=np.float64,
                           ensure_2d=False)
    if norms.shape != (n_samples,):
        raise ValueError(
            f"x_squared_norms.shape == {norms.shape}, expected ({n_samples},): give "
            "the squared Euclidean norm of every row of X, or None to compute them.")
    check_finite(norms, "x_squared_norms")
    if (norms < 0).any():
        raise ValueError("x_squared_norms contains negative values; squared norms "
                         "are >= 0 (pass None to compute them).")
    return norms


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None,
                    random_state=None, n_local_trials=None):
    """Initial centres for k-means by greedy k-means++ (Arthur & Vassilvitskii).

    The first centre is a row drawn with probability proportional to its
    weight; each next one is the best of ``n_local_trials`` rows drawn with
    probability proportional to weight x squared distance to the nearest
    centre so far ("best": the one that lowers the weighted sum of those
    squared distances most).  The same seeding starts ``KMeans(init=
    "k-means++")``.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The rows to choose from; scipy.sparse input is never densified.
    n_clusters : int
        Number of centres, at most the number of rows of positive weight.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights; a row of weight 0 is never chosen, and an
        integer weight counts as that many copies of the row.
    x_squared_norms : array-like of shape (n_samples,), optional
        Squared Euclidean norms of the rows of X, if already computed. They
        are used where X is used as it is; dense data far from the origin
        compared with its spread (or whose squares would overflow or vanish
        in its dtype) is seeded centred and scaled, as ``KMeans`` fits it,
        and the norms of that transformed data are computed instead.
    random_state : None, int or numpy.random.RandomState
        Seed for the draws; the same seed gives the same centres.
    n_local_trials : int, optional
        Candidates drawn for each centre after the first; default
        ``2 + int(log(n_clusters))``.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        The chosen rows, in X's dtype (float32 stays float32; other numeric
        input gives float64), dense even for sparse X.
    indices : ndarray of shape (n_clusters,)
        Their row indices in X: ``centers[i]`` is ``X[indices[i]]``. The
        indices are distinct.

    Every draw is by inverse CDF over cumulative weights taken in an order
    fixed by the rows' values (not their positions), so permuting the rows
    of X permutes nothing but ``indices``; sklearn's draws are in row order,
    so the two libraries choose different rows from the same seed.
    """
    if is_dask_collection(X):
        raise TypeError(
            "kmeans_plusplus takes an in-memory array or a scipy.sparse matrix; "
            "call X.compute() first, or seed a Dask collection with "
            "kmgmm.KMeans(init='k-means++') on it.")
    X = as_float_csr(X) if is_sparse(X) else as_float_array(X)
    n_samples = X.shape[0]
    n_clusters = check_int(n_clusters, "n_clusters", low=1)
    if n_local_trials is not None:
        n_local_trials = check_int(n_local_trials, "n_local_trials", low=1)
    weights, _ = check_sample_weight(sample_weight, n_samples, X.dtype, with_unit=True)
    n_positive = int(np.count_nonzero(weights > 0))
    if n_samples < n_clusters:
        raise ValueError(
            f"n_samples={n_samples} should be >= n_clusters={n_clusters}: lower "
            "n_clusters or pass more rows.")
    if n_positive < n_clusters:
        raise ValueError(
            f"n_clusters={n_clusters} centres need as many rows of positive "
            f"sample_weight, but only {n_positive} have one; lower n_clusters or "
            "give more rows a positive weight.")
    norms = None
    if x_squared_norms is not None:
        norms = _check_squared_norms(x_squared_norms, n_samples)
    random_state = check_random_state(random_state)
    data = X
    if not is_sparse(X):
        cond = for_data(weighted_moments(X, weights), X.dtype)
        if not cond.identity:
            data, norms = cond.apply(X), None
    if norms is None:
        norms = row_sqnorms(data)
    with single_threaded_blas():
        _, indices = _seed(data, n_clusters, weights, random_state, canonical_order(data),
                           norms, n_local_trials=n_local_trials,
                           n_threads=effective_n_threads(None))
    centers = X[indices].toarray() if is_sparse(X) else X[indices]
    return np.ascontiguousarray(centers, dtype=X.dtype), indices
