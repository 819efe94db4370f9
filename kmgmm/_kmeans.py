"""KMeans: Lloyd's algorithm over the Cython pass in ``src/_lloyd.pyx``, its exact
accelerated variants (``_kmeans_bounds``) and sparse input (``_kmeans_sparse``)."""
import warnings

import numpy as np

from . import _hamerly, _lloyd
from ._base import BaseEstimator
from ._kmeans_init import (
    ROWS_PER_BLOCK, canonical_order, kmeans_plusplus, random_rows, row_sqnorms,
)
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    as_float_array, check_choice, check_features, check_int, check_random_state,
    check_real, check_sample_weight, feature_names_of, is_sparse, as_float_csr,
    is_dask_collection,
)

ALGORITHMS = ("lloyd", "elkan", "hamerly", "auto")


class ConvergenceWarning(UserWarning):
    """The fit ended in a state the user should know about."""


def weighted_mean_variance(X, sample_weight):
    """Mean over features of the weighted variance of X (two passes, float64)."""
    w = sample_weight.astype(np.float64, copy=False)
    total = w.sum()
    mean = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], ROWS_PER_BLOCK):
        sl = slice(start, start + ROWS_PER_BLOCK)
        mean += w[sl] @ X[sl].astype(np.float64, copy=False)
    mean /= total
    var = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], ROWS_PER_BLOCK):
        sl = slice(start, start + ROWS_PER_BLOCK)
        diff = X[sl].astype(np.float64, copy=False) - mean
        var += w[sl] @ (diff * diff)
    return float(np.mean(var / total))


def dense_row(X, row):
    """Row ``row`` of a dense array or a CSR matrix, as a float64 vector."""
    if is_sparse(X):
        return X[[row]].toarray().ravel().astype(np.float64)
    return X[row].astype(np.float64)


def relocate_empty_clusters(X, sample_weight, labels, min_sqdist, sums, weights,
                            moves=None):
    """Move each empty cluster onto one of the rows farthest from their centres.

    Works on the pass's sufficient statistics in place: the chosen row's
    weighted value leaves its old cluster's sums and becomes the empty
    cluster's.  Rows are taken by decreasing distance (ties by index), never
    a row of zero weight, a row at zero distance from its centre, a row
    equal to one already taken, nor a cluster's last distinct value (see
    ``_relocation``): on data with fewer distinct rows than clusters some
    clusters stay empty.  Returns the number of clusters relocated; when
    ``moves`` is a list, (cluster, row) pairs are appended to it.
    """
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return 0
    from ._relocation import choose_rows
    rows = choose_rows(X, sample_weight, labels, min_sqdist, empty.size)
    for cluster, row in zip(empty, rows):
        old = labels[row]
        wx = float(sample_weight[row]) * dense_row(X, row)
        if weights[old] > sample_weight[row]:
            sums[old] -= wx
            weights[old] -= sample_weight[row]
        sums[cluster] = wx
        weights[cluster] = sample_weight[row]
        if moves is not None:
            moves.append((int(cluster), int(row)))
    return len(rows)


def assigned_sqdist(X, centers, labels, n_threads):
    """Squared distance of each row to its assigned centre (summed in float64)."""
    out = np.empty(X.shape[0], dtype=X.dtype)
    _hamerly.label_sqdist(X, np.ascontiguousarray(centers, dtype=X.dtype), labels, out,
                          n_threads)
    return out


def centers_from_sums(sums, weights, previous, dtype):
    """New centres: weighted means; a cluster still empty keeps its centre."""
    centers = np.array(previous, dtype=np.float64)
    filled = weights > 0
    centers[filled] = sums[filled] / weights[filled, None]
    return centers.astype(dtype, copy=False)


def squared_shift(new, old, rows=64):
    """Total squared move of the centres, a few rows at a time.

    No temporary as large as the centres (with text-like data they are as
    large as X itself).
    """
    total = 0.0
    for start in range(0, new.shape[0], rows):
        diff = new[start:start + rows].astype(np.float64) - old[start:start + rows]
        total += float(np.einsum("ij,ij->", diff, diff))
    return total


def end_iteration(n_iter, centers, sums, weights, dtype, *, inertia, labels_unchanged,
                  n_moved, tol, verbose, callback, detail=""):
    """What every k-means loop does after a pass: the new centres from the
    pass's statistics, the report (``detail`` is appended to the verbose
    line), the callback, and the stop rule.

    Returns (new_centers, shift, stop) with ``stop`` as from ``stop_reason``.
    """
    new_centers = centers_from_sums(sums, weights, centers, dtype)
    shift = squared_shift(new_centers, centers)
    if verbose:
        extra = f", {n_moved} empty cluster(s) relocated" if n_moved else ""
        print(f"Iteration {n_iter}: inertia {inertia:.6g}, "
              f"centre shift {shift:.3g}{extra}{detail}")
    if callback is not None:
        callback(n_iter, float(inertia), shift)
    return new_centers, shift, stop_reason(n_iter, labels_unchanged, shift, tol, verbose)


def stop_reason(n_iter, labels_unchanged, shift, tol, verbose):
    """Why k-means iterations stop after iteration ``n_iter``, if they do.

    "strict" when no label changed, "tol" when the squared centre shift is
    at most ``tol``, else None; with ``verbose`` the reason is printed.
    """
    if labels_unchanged:
        if verbose:
            print(f"Converged at iteration {n_iter}: strict convergence.")
        return "strict"
    if shift <= tol:
        if verbose:
            print(f"Converged at iteration {n_iter}: centre shift {shift:.3g} "
                  f"within tolerance {tol:.3g}.")
        return "tol"
    return None


def assign(X, sample_weight, centers, labels, n_threads):
    """Label every row with its nearest centre; return the weighted inertia."""
    return _lloyd.lloyd_pass(X, sample_weight, centers, labels,
                             np.empty(0, dtype=X.dtype), np.empty((0, 0)),
                             np.empty(0), n_threads)


def lloyd(X, sample_weight, centers, *, max_iter, tol, n_threads, verbose=0,
          callback=None, labels=None, first_iter=1):
    """Run Lloyd's algorithm from ``centers``.

    Stops when an iteration leaves every label unchanged (strict convergence)
    or the squared centre shift is at most ``tol`` (absolute, already scaled).
    ``callback``, when given, is called once per iteration, after the update,
    as ``callback(n_iter, inertia, shift)``; an exception it raises ends the
    fit (this is how the command line stops on Ctrl-C).  A run that takes
    over from another algorithm passes the labels of its last pass
    (``labels``, int32, updated in place) and the number of its next
    iteration (``first_iter``).
    Returns (labels, inertia, centers, n_iter) with labels and inertia those
    of the returned centres.
    """
    n_samples = X.shape[0]
    n_clusters, n_features = centers.shape
    centers = np.array(centers, dtype=X.dtype, order="C")
    # One labels buffer: each pass counts the rows whose label it changes.
    if labels is None:
        labels = np.full(n_samples, -1, dtype=np.int32)
    n_changed = np.zeros(1, dtype=np.int64)
    min_sqdist = None
    no_dist = np.empty(0, dtype=X.dtype)
    sums = np.empty((n_clusters, n_features), dtype=np.float64)
    weights = np.empty(n_clusters, dtype=np.float64)
    strict = False
    n_iter = first_iter - 1
    for n_iter in range(first_iter, max_iter + 1):
        # The per-row distances are only needed to relocate an empty cluster:
        # the pass skips them, and the rare iteration that leaves a cluster
        # empty computes them from the labels.  The inertia is needed only to
        # report it (the returned one comes from a final pass).
        inertia = _lloyd.lloyd_pass(X, sample_weight, centers, labels, no_dist,
                                    sums, weights, n_threads,
                                    bool(verbose) or callback is not None, n_changed)
        if not weights.all():
            min_sqdist = assigned_sqdist(X, centers, labels, n_threads)
        n_moved = relocate_empty_clusters(X, sample_weight, labels, min_sqdist,
                                          sums, weights)
        centers, shift, stop = end_iteration(
            n_iter, centers, sums, weights, X.dtype, inertia=inertia,
            labels_unchanged=n_changed[0] == 0, n_moved=n_moved, tol=tol,
            verbose=verbose, callback=callback)
        if stop:
            strict = stop == "strict"
            break
    if not strict or not (verbose or callback is not None):
        # One more assignment so that labels and inertia match the centres
        # (after strict convergence it gives the same labels, and the
        # inertia the last iteration did not compute).
        inertia = assign(X, sample_weight, centers, labels, n_threads)
    return labels, inertia, centers, n_iter


from ._kmeans_bounds import bounded_kmeans, choose_algorithm, elkan_fits  # noqa: E402
from ._kmeans_sparse import (  # noqa: E402
    sparse_assign, sparse_distances, sparse_lloyd, sparse_weighted_mean_variance,
)


class KMeans(BaseEstimator):
    """K-means clustering (Lloyd's algorithm) with OpenMP-threaded Cython kernels.

    Parameters follow scikit-learn's ``KMeans``.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {"k-means++", "random"}, array of shape (n_clusters, n_features) or callable
        "k-means++" is greedy k-means++ seeding; "random" picks rows with
        probability proportional to their weight; an array gives the initial
        centres; a callable ``init(X, n_clusters, random_state)`` returns them.
        Every draw is by inverse CDF over cumulative weights in an order fixed
        by the data values, so an integer sample weight is exactly equivalent
        to repeating the row.
    n_init : "auto" or int, default="auto"
        Number of runs from different seeds; the lowest inertia wins. "auto"
        is 1 for "k-means++", an array or a callable, and 10 for "random".
    max_iter : int, default=300
        Maximum number of Lloyd iterations per run.
    tol : float, default=1e-4
        Convergence threshold on the squared shift of the centres, relative to
        the mean (weighted) variance of the features.
    random_state : None, int or numpy.random.RandomState
        Seed for the initialisation.
    algorithm : {"auto", "lloyd", "hamerly", "elkan"}, default="auto"
        The k-means algorithm. All four give the same result from the same
        initial centres: identical labels wherever no row is equidistant
        (to rounding) from two centres, and centres equal to rounding
        (float64: about 1e-15 relative). "hamerly" and "elkan" use the
        triangle inequality to skip distance computations (the ``verbose``
        output counts them): Hamerly keeps an upper bound on each row's
        distance to its centre and one lower bound for all other centres,
        skips rows whose bounds hold without reading them, scans the rest
        with the Lloyd pass's own nearest-centre kernel (which also yields
        the second-nearest distance for the new lower bound), and updates
        the cluster sums with the rows that change cluster only; Elkan keeps
        one float32 lower bound per row and centre (n_samples x n_clusters
        x 4 bytes; when that exceeds a quarter of the available memory
        Hamerly runs instead, with a warning).

        "auto" runs Lloyd for sparse X, for ``n_clusters=1`` and for at most
        4 features, and Hamerly elsewhere, falling back to Lloyd passes
        where its bounds do not pay: where a row is little work (n_clusters
        rounded up to 16 (float32) or 8 (float64), times n_features, doubled
        for float64, below 4096) and two consecutive passes from the third
        on leave more than 80% of the rows failing their bounds (or the
        third more than 90%), as on heavily overlapping clusters. Where a row is more work
        the bound bookkeeping is small against it and Hamerly runs to the
        end. It never picks Elkan. The measurements behind the rule (2
        threads, AVX2/FMA, fits from the same random rows, Gaussian mixtures
        with well-separated or heavily overlapping components):

        - 2-4 features, 300 000 rows, k 8-128, 30 iterations: Lloyd's
          direct kernel (rows across the vector lanes) beat Hamerly on every
          shape but two (float64, k=128, 2 and 3 features, separated:
          Hamerly 0.86x and 0.82x); elsewhere Hamerly took 1.05-5.8x its
          time;
        - 5-16 features, same runs: "auto" took 0.33-0.90x Lloyd's time on
          separated data and 0.81-1.25x on overlapping data (Hamerly alone
          0.78-1.75x there; the loss left is the passes before the fallback,
          or shapes where the bounds pay only a little);
        - Elkan took 2.1-9.1x Hamerly's time (8-784 features, k 10-128,
          both dtypes, both kinds of data);
        - 50 iterations on the benchmark shapes
          (``benchmarks/bench_kmeans_accel.py``), "auto" against
          scikit-learn's Lloyd on separated data, float32 / float64:
          1 000 000 x 32, k=64: 0.23 / 0.17; 200 000 x 128, k=256: 0.21 /
          0.18; 2 000 000 x 2, k=8 (Lloyd): 0.21 / 0.27; 100 000 x 784, k=10:
          0.16 / 0.11. Against kmgmm's Lloyd on overlapping data: 1.02 /
          0.94, 0.97 / 1.00, 1.0 (Lloyd), 0.29 / 0.27.
    n_threads : int or None, default=None
        OpenMP threads for the kernels. None uses every core allowed by
        ``OMP_NUM_THREADS`` and threadpoolctl limits. Results do not depend
        on it.
    verbose : int, default=0
        Print the objective every iteration when > 0.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centres, with the dtype of the training data (float32 or float64).
    labels_ : ndarray of shape (n_samples,)
        Index of the nearest centre for each training row.
    inertia_ : float
        Weighted sum of squared distances of the rows to their centres.
    n_iter_ : int
        Lloyd iterations run by the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X was a DataFrame with string columns
    """

    _fitted_attribute = "cluster_centers_"

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300,
                 tol=1e-4, random_state=None, algorithm="auto", n_threads=None,
                 verbose=0):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.algorithm = algorithm
        self.n_threads = n_threads
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_params(self, X, inits=("k-means++", "random"), stacklevel=3):
        """Validated (init, n_init); ``inits`` are the init names accepted."""
        check_int(self.n_clusters, "n_clusters", low=1)
        check_int(self.max_iter, "max_iter", low=1)
        check_real(self.tol, "tol", low=0)
        check_int(self.verbose, "verbose", low=0)
        check_choice(self.algorithm, "algorithm", ALGORITHMS)
        init = self.init
        if isinstance(init, str):
            check_choice(init, "init", inits)
        elif callable(init):
            pass
        else:
            init = self._check_init_array(init, X)
        if isinstance(self.n_init, str):
            check_choice(self.n_init, "n_init", ("auto",))
            n_init = 10 if (isinstance(init, str) and init == "random") else 1
        else:
            n_init = check_int(self.n_init, "n_init", low=1)
            if not isinstance(init, str) and n_init != 1:
                warnings.warn(
                    f"Explicit initial centres passed: performing only one init "
                    f"in {type(self).__name__} instead of n_init={n_init}.",
                    RuntimeWarning, stacklevel=stacklevel)
                n_init = 1
        return init, n_init

    def _set_fitted(self, X, names, labels, inertia, centers, n_iter, counts):
        """Store a fit's result; warn when fewer clusters than asked hold rows."""
        n_distinct = int(np.count_nonzero(counts))
        if n_distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({n_distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points "
                "in X.", ConvergenceWarning, stacklevel=3)
        check_features(self, X, names, reset=True)
        self.cluster_centers_ = centers
        self.labels_ = labels
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)

    def _check_init_array(self, init, X):
        centers = as_float_array(init, name="init", dtype=X.dtype)
        if centers.shape != (self.n_clusters, X.shape[1]):
            raise ValueError(
                f"The init array has shape {centers.shape}, but it must be "
                f"(n_clusters, n_features) = ({self.n_clusters}, {X.shape[1]}): "
                "one row per cluster, one column per feature of X."
            )
        return centers

    def _initial_centers(self, X, sample_weight, init, random_state, order, x_sqnorms,
                         n_threads):
        if isinstance(init, str):
            if init == "k-means++":
                centers, _ = kmeans_plusplus(X, self.n_clusters, sample_weight,
                                             random_state, order, x_sqnorms,
                                             n_threads=n_threads)
            else:
                centers, _ = random_rows(X, self.n_clusters, sample_weight,
                                         random_state, order)
            return centers
        if callable(init):
            centers = init(X, self.n_clusters, random_state=random_state)
            return self._check_init_array(centers, X)
        return init

    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; an integer weight counts as that many copies.

        With X a Dask array or DataFrame the fit runs on the cluster of the
        current ``distributed.Client`` (see ``kmgmm/_dask.py``); ``labels_``
        is then a Dask array, already computed on the workers.
        """
        if is_dask_collection(X):
            from ._dask import fit_kmeans
            return fit_kmeans(self, X, sample_weight)
        names = feature_names_of(X)
        sparse = is_sparse(X)
        X = as_float_csr(X) if sparse else as_float_array(X)
        init, n_init = self._check_params(X)
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}: "
                "lower n_clusters or pass more rows."
            )
        sample_weight = check_sample_weight(sample_weight, n_samples, X.dtype)
        n_threads = effective_n_threads(self.n_threads)
        random_state = check_random_state(self.random_state)
        if self.tol:
            variance = (sparse_weighted_mean_variance if sparse
                        else weighted_mean_variance)(X, sample_weight)
            tol = variance * self.tol
        else:
            tol = 0.0

        order = x_sqnorms = None
        if isinstance(init, str):
            order = canonical_order(X)
            if init == "k-means++":
                x_sqnorms = row_sqnorms(X)

        algorithm = self.algorithm
        if sparse:
            # Sparse input always runs the sparse Lloyd pass.
            algorithm = "lloyd"
        elif algorithm == "auto":
            algorithm = choose_algorithm(n_samples, X.shape[1], self.n_clusters, X.dtype)
        elif algorithm == "elkan" and not elkan_fits(n_samples, self.n_clusters):
            warnings.warn(
                f"algorithm='elkan' needs {n_samples} x {self.n_clusters} float32 "
                "bounds, more than a quarter of the available memory: running "
                "'hamerly' (one bound per row, same result) instead.",
                RuntimeWarning, stacklevel=2)
            algorithm = "hamerly"
        if self.verbose:
            print(f"Algorithm: {algorithm}.")

        best = None
        with single_threaded_blas():
            for run in range(n_init):
                centers = self._initial_centers(X, sample_weight, init, random_state,
                                                order, x_sqnorms, n_threads)
                if self.verbose:
                    print(f"Initialisation {run + 1} of {n_init} done.")
                callback = getattr(self, "_iteration_callback", None)
                if sparse:
                    result = sparse_lloyd(X, sample_weight, centers,
                                          max_iter=self.max_iter, tol=tol,
                                          n_threads=n_threads, verbose=self.verbose,
                                          callback=callback)
                elif algorithm == "lloyd":
                    result = lloyd(X, sample_weight, centers, max_iter=self.max_iter,
                                   tol=tol, n_threads=n_threads, verbose=self.verbose,
                                   callback=callback)
                else:
                    result = bounded_kmeans(
                        X, sample_weight, centers, algorithm=algorithm,
                        max_iter=self.max_iter, tol=tol, n_threads=n_threads,
                        verbose=self.verbose, fallback=self.algorithm == "auto",
                        callback=callback)
                if best is None or result[1] < best[1]:
                    best = result
        labels, inertia, centers, n_iter = best

        self._set_fitted(X, names, labels, inertia, centers, n_iter,
                         np.bincount(labels, minlength=self.n_clusters))
        self._n_threads = n_threads
        self._algorithm = algorithm
        return self

    # -------------------------------------------------------------- predict
    def _check_test_data(self, X, method):
        self._check_is_fitted(method, "cluster_centers_")
        names = feature_names_of(X)
        X = as_float_csr(X) if is_sparse(X) else as_float_array(X)
        check_features(self, X, names, reset=False)
        return X

    def _assign(self, X, sample_weight=None, want_labels=True):
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)
        sample_weight = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        labels = np.empty(X.shape[0], dtype=np.int32)
        n_threads = effective_n_threads(self.n_threads)
        if is_sparse(X):
            inertia = sparse_assign(X, sample_weight, centers, labels,
                                    np.empty(0, dtype=X.dtype), n_threads)
            return labels, inertia
        with single_threaded_blas():
            inertia = assign(X, sample_weight, centers, labels, n_threads)
        return labels, inertia

    def predict(self, X):
        """Index of the nearest centre for each row of X (lazy for a Dask X)."""
        if is_dask_collection(X):
            from ._dask import kmeans_predict
            return kmeans_predict(self, X)
        X = self._check_test_data(X, "predict")
        return self._assign(X)[0]

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted inertia of X under the fitted centres."""
        if is_dask_collection(X):
            from ._dask import kmeans_score
            return kmeans_score(self, X, sample_weight)
        X = self._check_test_data(X, "score")
        return -float(self._assign(X, sample_weight)[1])

    def transform(self, X):
        """Euclidean distance from each row of X to each centre (lazy for a Dask X)."""
        if is_dask_collection(X):
            from ._dask import kmeans_transform
            return kmeans_transform(self, X)
        X = self._check_test_data(X, "transform")
        return self._distances(X)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances from each row of X to each centre."""
        if is_dask_collection(X):
            return self.fit(X, sample_weight=sample_weight).transform(X)
        self.fit(X, sample_weight=sample_weight)
        return self._distances(as_float_csr(X) if is_sparse(X) else as_float_array(X))

    def _distances(self, X):
        if is_sparse(X):
            return sparse_distances(X, self.cluster_centers_, X.dtype)
        C = self.cluster_centers_.astype(np.float64)
        c_sqnorms = np.einsum("ij,ij->i", C, C)
        out = np.empty((X.shape[0], C.shape[0]), dtype=X.dtype)
        for start in range(0, X.shape[0], ROWS_PER_BLOCK):
            block = X[start:start + ROWS_PER_BLOCK].astype(np.float64, copy=False)
            d = block @ C.T
            d *= -2.0
            d += np.einsum("ij,ij->i", block, block)[:, None]
            d += c_sqnorms
            np.maximum(d, 0.0, out=d)
            out[start:start + ROWS_PER_BLOCK] = np.sqrt(d)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the transform's columns: "kmeans0", "kmeans1", ..."""
        self._check_is_fitted("get_feature_names_out", "cluster_centers_")
        n = self.cluster_centers_.shape[0]
        return np.asarray([f"kmeans{i}" for i in range(n)], dtype=object)

    def __sklearn_tags__(self):
        tags = self._sklearn_tags(transformer=True)
        tags.input_tags.sparse = True
        return tags
