"""SphericalKMeans: k-means on the unit sphere (cosine similarity), for text
(TF-IDF rows, CSR) and embeddings.  The rows are scaled to unit norm once and
the Lloyd passes of ``KMeans`` run on them (``_algorithms.spherical``)."""

import numpy as np

from . import _kernels
from ._algorithms.spherical import spherical_lloyd
from ._assign import assign
from ._base import BaseEstimator
from ._kmeans import _kmeans_auto_n_init, check_init, store_partition
from ._engines.memory import MemoryEngine
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    as_float_array,
    as_float_csr,
    check_features,
    check_random_state,
    check_sample_weight,
    feature_names_of,
    is_dask_collection,
    is_sparse,
)

INITS = ("k-means++", "random")
# Relative difference of two runs' objectives below which neither is better.
RUN_TIE = 1e-9
# Rows per block of the float64 temporaries (predict, transform, norms).
BLOCK_VALUES = 1 << 20


def _zero_rows_error(name, zero, sparse):
    rows = np.flatnonzero(zero)
    listed = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
    keep = (f"{name}[{name}.getnnz(axis=1) > 0] after {name}.eliminate_zeros()" if sparse
            else f"{name}[numpy.abs({name}).sum(axis=1) > 0]")
    return ValueError(
        f"{name} row {int(rows[0])} is all zeros ({rows.size} such row(s): {listed}): "
        "a zero row has no direction, so no cosine to any centre; remove the zero "
        f"rows, e.g. {keep}.")


def _dense_unit_rows(X, name):
    """The rows of dense X scaled to unit norm: a new array of X's dtype."""
    out = np.empty(X.shape, dtype=X.dtype)
    rows = max(1, BLOCK_VALUES // X.shape[1])
    for start in range(0, X.shape[0], rows):
        block = X[start:start + rows].astype(np.float64)
        # The norm about the largest coordinate: no square overflows or vanishes.
        top = np.max(np.abs(block), axis=1)
        zero = top == 0
        if zero.any():
            raise _zero_rows_error(name, np.concatenate(
                [np.zeros(start, dtype=bool), zero,
                 np.abs(X[start + rows:]).max(axis=1) == 0]), sparse=False)
        block /= top[:, None]
        block /= np.sqrt(np.einsum("ij,ij->i", block, block))[:, None]
        out[start:start + rows] = block
    return out


def _sparse_unit_rows(X, name):
    """The rows of CSR X scaled to unit norm: new values, X's sparsity (its
    ``indices`` and ``indptr`` arrays are shared, never written)."""
    import scipy.sparse as sp

    n_samples = X.shape[0]
    data = np.abs(X.data.astype(np.float64))
    counts = np.diff(X.indptr)
    top = np.zeros(n_samples)
    stored = counts > 0
    if data.size:
        top[stored] = np.maximum.reduceat(data, X.indptr[:-1][stored])
    if (top == 0).any():
        raise _zero_rows_error(name, top == 0, sparse=True)
    row = np.repeat(np.arange(n_samples), counts)
    values = X.data.astype(np.float64) / top[row]
    norms = top * np.sqrt(np.bincount(row, weights=values * values, minlength=n_samples))
    values = (X.data.astype(np.float64) / norms[row]).astype(X.dtype)
    return sp.csr_matrix((values, X.indices, X.indptr), shape=X.shape, copy=False)


def unit_rows(X, name="X"):
    """Dense or CSR X with every row scaled to unit Euclidean norm (a copy; a
    zero row is a ValueError naming it)."""
    return _sparse_unit_rows(X, name) if is_sparse(X) else _dense_unit_rows(X, name)


class SphericalKMeans(BaseEstimator):
    """K-means on the unit sphere: clusters of rows by cosine similarity.

    Spherical k-means (Dhillon & Modha, 2001): every row is scaled to unit
    norm; each iteration gives each row the centre of largest cosine and
    makes each centre the normalised (weighted) sum of its rows, the unit
    vector of largest summed cosine to them.  A row's length never matters,
    only its direction: a common choice for TF-IDF documents and embeddings.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {"k-means++", "random"}, array of shape (n_clusters, n_features) or callable
        "k-means++" is greedy k-means++ on the normalised rows, whose squared
        distance 2 (1 - cos) makes it spherical k-means++ with 1 - cos as the
        distance; "random" draws rows with probability proportional to their
        weight (as ``KMeans`` does); an array gives the initial centres
        (scaled to unit norm here; no row may be zero); a callable
        ``init(X, n_clusters, random_state)`` returns such an array.
    n_init : "auto" or int, default="auto"
        Runs from different seeds; the lowest objective wins. "auto" is 1
        for "k-means++", an array or a callable, and 10 for "random".
    max_iter : int, default=300
        Maximum number of iterations per run.
    tol : float, default=1e-4
        Convergence threshold on the squared shift of the unit centres
        (summed over the clusters), relative to the mean weighted variance
        of the features of the normalised rows, as ``KMeans``'s is of the
        rows themselves. A run also stops when no label changes.
    random_state : None, int or numpy.random.RandomState
        Seed for the initialisation.
    n_threads : int or None, default=None
        OpenMP threads for the kernels; None uses every core allowed.
        Results do not depend on it.
    verbose : int, default=0
        Print the objective every iteration when > 0.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Unit-norm centres (to the rounding of their dtype, X's).
    labels_ : ndarray of shape (n_samples,)
        Index of the centre of largest cosine for each training row.
    inertia_ : float
        The objective: the weighted sum over the rows of 1 - cos(x, c), c the
        row's centre (half the squared distance between the unit row and the
        unit centre, which is how it is computed). ``score`` is its opposite.
    n_iter_ : int
        Iterations run by the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X was a DataFrame with string columns

    Notes
    -----
    ``fit`` keeps one normalised copy of X (dense: as large as X; CSR: its
    values only, the sparsity pattern is shared); ``predict``, ``transform``
    and ``score`` normalise dense rows a block at a time. A zero row has no
    direction and is a ValueError naming it. Dask input is not accepted.

    Scaling a row changes nothing; translating X changes the rows'
    directions, so (as with any clustering by cosine) it changes the result:
    centre X first where the cosine about the mean is what matters.
    """

    _fitted_attribute = "cluster_centers_"

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300,
                 tol=1e-4, random_state=None, n_threads=None, verbose=0):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_params(self, X):
        """Validated (init, n_init): init a name, a callable or unit centres."""
        return check_init(self, X, INITS, _kmeans_auto_n_init, 4)

    def _check_init_array(self, init, X):
        centers = as_float_array(init, name="init", dtype=np.float64)
        if centers.shape != (self.n_clusters, X.shape[1]):
            raise ValueError(
                f"The init array has shape {centers.shape}, but it must be "
                f"(n_clusters, n_features) = ({self.n_clusters}, {X.shape[1]}): "
                "one row per cluster, one column per feature of X.")
        return unit_rows(centers, "init").astype(X.dtype)

    def _initial_centers(self, X, engine, init, random_state):
        if isinstance(init, str):
            return engine.seed(init, self.n_clusters, random_state)
        if callable(init):
            init = self._check_init_array(
                init(X, self.n_clusters, random_state=random_state), X)
        return init

    def fit(self, X, y=None, sample_weight=None):
        """Compute spherical k-means clustering.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            No row may be all zeros.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; an integer weight counts as that many copies.
        """
        names = feature_names_of(X)
        X = self._as_data(X)
        init, n_init = self._check_params(X)
        n_samples = X.shape[0]
        weights, w_unit = check_sample_weight(sample_weight, n_samples, X.dtype,
                                              with_unit=True)
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}: "
                "lower n_clusters or pass more rows.")
        random_state = check_random_state(self.random_state)
        engine = MemoryEngine(unit_rows(X), weights, effective_n_threads(self.n_threads),
                              w_unit)
        tol = self.tol * _mean_variance(engine.X, weights)
        best = None
        with single_threaded_blas():
            for run in range(n_init):
                engine.reset()
                centers = self._initial_centers(X, engine, init, random_state)
                if self.verbose:
                    print(f"Initialisation {run + 1} of {n_init} done.")
                result = spherical_lloyd(engine, centers, max_iter=self.max_iter, tol=tol,
                                         verbose=self.verbose)
                if best is None or result[0] < best[0] * (1 - RUN_TIE):
                    best, best_run = result, run
            inertia, centers, n_iter = best
            if best_run != n_init - 1:
                inertia = engine.assign(centers)
        counts = engine.counts(self.n_clusters)
        store_partition(self, X, names, engine.labels.copy(), float(inertia) / 2 * w_unit,
                        centers, n_iter, counts, why="rows of the same direction",
                        stacklevel=3)
        return self

    @staticmethod
    def _as_data(X):
        if is_dask_collection(X):
            raise TypeError(
                "SphericalKMeans takes in-memory arrays and scipy.sparse matrices; "
                "call X.compute() on a Dask collection first.")
        return as_float_csr(X) if is_sparse(X) else as_float_array(X)

    # -------------------------------------------------------------- predict
    def _check_test_data(self, X, method):
        self._check_is_fitted(method, "cluster_centers_")
        names = feature_names_of(X)
        X = self._as_data(X)
        check_features(self, X, names, reset=False)
        return X

    def _assign(self, X, sample_weight=None):
        """Labels of the rows of X and their objective (sum of w (1 - cos))."""
        weights, w_unit = check_sample_weight(sample_weight, X.shape[0], X.dtype,
                                              with_unit=True)
        n_threads = effective_n_threads(self.n_threads)
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)
        if is_sparse(X):
            engine = MemoryEngine(unit_rows(X), weights, n_threads)
            inertia = engine.assign(centers)
            return engine.labels, inertia / 2 * w_unit
        labels = np.empty(X.shape[0], dtype=np.int32)
        inertia = 0.0
        rows = max(1024, BLOCK_VALUES // X.shape[1])
        with single_threaded_blas():
            for start in range(0, X.shape[0], rows):
                sl = slice(start, start + rows)
                block = _block_unit_rows(X, start, rows)
                inertia += assign(block, weights[sl], centers, labels[sl], n_threads)
        return labels, inertia / 2 * w_unit

    def predict(self, X):
        """Index of the centre of largest cosine for each row of X."""
        X = self._check_test_data(X, "predict")
        return self._assign(X)[0]

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted sum over the rows of X of 1 - cos(x, c),
        c the row's centre (``inertia_`` on the training data)."""
        X = self._check_test_data(X, "score")
        return -float(self._assign(X, sample_weight)[1])

    def transform(self, X):
        """Cosine distance 1 - cos(x, c) from each row of X to each centre,
        in [0, 2], of X's dtype."""
        X = self._check_test_data(X, "transform")
        return self._cosine_distances(X)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the cosine distances of the rows of X to the centres."""
        self.fit(X, sample_weight=sample_weight)
        return self._cosine_distances(self._as_data(X))

    def _cosine_distances(self, X):
        """1 - cos from every row of X to every centre, in X's dtype.  Dense
        rows, scaled to unit norm a block at a time, go through the distance
        kernel (``_kernels.infer``): for unit vectors ``1 - cos = ||x - c||^2
        / 2``, computed from the differences, so that a row along a centre
        gets 0, not the rounding of 1 - cos."""
        C = np.asarray(self.cluster_centers_, dtype=np.float64)
        out = np.empty((X.shape[0], C.shape[0]), dtype=X.dtype)
        if is_sparse(X):
            X = unit_rows(X)
        kernel = not is_sparse(X) and _kernels.infer.vectors_on()
        if kernel:
            Cd = np.ascontiguousarray(C, dtype=X.dtype)
            n_threads = effective_n_threads(self.n_threads)
        rows = max(1024, BLOCK_VALUES // max(X.shape[1], C.shape[0]))
        for start in range(0, X.shape[0], rows):
            if is_sparse(X):
                block = X[start:start + rows]
            elif kernel:
                _kernels.infer.distances(_block_unit_rows(X, start, rows), Cd,
                                         out[start:start + rows], mode=1,
                                         n_threads=n_threads)
                continue
            else:
                block = _block_unit_rows(X, start, rows).astype(np.float64)
            cos = np.asarray(block @ C.T, dtype=np.float64)
            out[start:start + rows] = np.clip(1.0 - cos, 0.0, 2.0)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the transform's columns: "sphericalkmeans0", ..."""
        self._check_is_fitted("get_feature_names_out", "cluster_centers_")
        n = self.cluster_centers_.shape[0]
        return np.asarray([f"sphericalkmeans{i}" for i in range(n)], dtype=object)

    def __sklearn_tags__(self):
        tags = self._sklearn_tags(transformer=True)
        tags.input_tags.sparse = True
        return tags


def _block_unit_rows(X, start, rows):
    """Rows ``start:start + rows`` of dense X scaled to unit norm; a zero row
    is named by its index in X."""
    try:
        return _dense_unit_rows(X[start:start + rows], "X")
    except ValueError:
        zero = np.abs(X).max(axis=1) == 0
        raise _zero_rows_error("X", zero, sparse=False) from None


def _mean_variance(Xn, sample_weight):
    """Mean over features of the weighted variance of unit rows: (1 - ||m||^2) / d,
    m their weighted mean."""
    w = sample_weight.astype(np.float64)
    if is_sparse(Xn):
        mean = np.asarray(Xn.T @ w, dtype=np.float64).ravel()
    else:
        mean = np.zeros(Xn.shape[1])
        rows = max(1, BLOCK_VALUES // Xn.shape[1])
        for start in range(0, Xn.shape[0], rows):
            mean += w[start:start + rows] @ Xn[start:start + rows].astype(np.float64)
    mean /= w.sum()
    return max(1.0 - float(mean @ mean), 0.0) / Xn.shape[1]

