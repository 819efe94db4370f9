"""KMeans: the estimator.  It validates its parameters, builds the engine for
X (``_engines``), conditions the data (``_conditioning``) and runs an
algorithm (``_algorithms``): Lloyd, Hamerly or Elkan."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin

from ._algorithms.bounds import elkan, hamerly
from ._algorithms.geometry import choose_algorithm, elkan_fits
from ._algorithms.lloyd import lloyd
from ._assign import center_distances, predict_labels
from ._base import BaseEstimator
from ._conditioning import Conditioning, for_data
from ._engines import make_engine
from ._engines.memory import (
    MemoryEngine,
    sparse_distances,
    sparse_weighted_mean_variance,
)
from ._exceptions import warn_convergence
from ._fit_events import Reporter, logger, verbose_logging
from ._params import validate
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    as_float_array,
    as_float_csr,
    check_choice,
    check_features,
    check_int,
    check_random_state,
    check_sample_weight,
    feature_names_of,
    is_dask_collection,
    is_sparse,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._fit_events import Callback

RandomStateLike = int | np.random.RandomState | np.random.Generator | None
INITS = ("k-means++", "random")
# Relative difference of two runs' inertias below which neither is better.
RUN_TIE = 1e-9


def _kmeans_auto_n_init(init):
    return 10 if (isinstance(init, str) and init == "random") else 1


def check_init(estimator, X, inits, auto_n_init, stacklevel):
    """Validated (init, n_init) of a k-means estimator: ``init`` one of the
    names ``inits``, a callable, or centres (``estimator._check_init_array``);
    ``n_init`` an int >= 1, or "auto": ``auto_n_init(init)``.  Given centres
    are one initialisation (as in scikit-learn, with a warning when n_init
    asked for more)."""
    validate(estimator)
    init = estimator.init
    if isinstance(init, str):
        check_choice(init, "init", inits)
    elif not callable(init):
        init = estimator._check_init_array(init, X)
    if isinstance(estimator.n_init, str):
        check_choice(estimator.n_init, "n_init", ("auto",))
        return init, auto_n_init(init)
    n_init = check_int(estimator.n_init, "n_init", low=1)
    if not isinstance(init, str) and not callable(init) and n_init != 1:
        warnings.warn(
            f"Explicit initial centres passed: performing only one init in "
            f"{type(estimator).__name__} instead of n_init={n_init}.",
            RuntimeWarning, stacklevel=stacklevel)
        n_init = 1
    return init, n_init


def store_partition(est, X, names, labels, inertia, centers, n_iter, counts, *,
                    why, stacklevel):
    """Store a k-means fit's result on ``est``; warn (at ``stacklevel`` from
    the caller) when fewer clusters than asked hold rows, which ``why`` explains."""
    n_distinct = int(np.count_nonzero(counts))
    if n_distinct < est.n_clusters:
        warn_convergence(
            f"Number of distinct clusters ({n_distinct}) found smaller than "
            f"n_clusters ({est.n_clusters}). Possibly due to {why} in X.",
            stacklevel=stacklevel)
    check_features(est, X, names, reset=True)
    est.cluster_centers_ = centers
    est.labels_ = labels
    est.inertia_ = float(inertia)
    est.n_iter_ = int(n_iter)


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin,
             BaseEstimator):
    """K-means clustering (Lloyd's algorithm) with OpenMP-threaded Cython kernels.

    Parameters follow scikit-learn's ``KMeans``.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {"k-means++", "random"}, array of shape (n_clusters, n_features) or callable
        "k-means++" is greedy k-means++ seeding; "random" draws rows one after
        another with probability proportional to their weight (a draw takes
        one unit of the row's weight, so a heavy row may be drawn twice, as
        its copies would be); an array gives the initial
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
    copy_x : bool, default=True
        Dense data far from the origin compared with its spread (or whose
        squares would overflow or vanish in its dtype) is fitted centred on
        its weighted mean and divided by a power of two, so that the result
        does not depend on where the data sits or on its units. With
        ``copy_x=True`` that transformed data is a new array (as large as X);
        with False it is X itself, transformed in place and restored before
        ``fit`` returns (X may then differ from the original by rounding, as
        in scikit-learn). Data that needs neither is used as it is, with no
        copy. A memory-mapped X (``numpy.load(path, mmap_mode="r")``), and a
        read-only X with ``copy_x=False``, is neither copied nor written:
        each pass transforms one block of rows at a time (the same fit, to
        rounding). Sparse input is never centred (that would densify it): its
        distances are expanded in float64 whatever its dtype, and lose
        precision as ``1e-16 * ||mean||**2 / variance``. Measured on two unit
        blobs 5 sd apart in 8-D stored as CSR: the labels are right up to an
        offset of 1e7 times the spread, and wrong from 1e8 (the same data
        dense is right at 1e13 in float64; in float32 the data itself loses
        the blobs from about 1e8).
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
        x 4 bytes) and the float64 half-distances between centres
        (n_clusters x n_clusters x 8 bytes); when those exceed a quarter of
        the available memory Hamerly runs instead, with a warning.

        "auto" runs Lloyd for sparse X, for ``n_clusters=1``, for at most 4
        features and for more than ``n_samples / 8`` clusters (where the
        centres' own geometry, k^2 work an iteration, costs a large share of
        a pass), and Hamerly elsewhere, falling back to Lloyd passes
        where its bounds do not pay: where a row is little work (n_clusters
        rounded up to 16 (float32) or 8 (float64), times n_features, doubled
        for float64, below 4096) and two consecutive passes from the third
        on leave more than 80% of the rows failing their bounds (or the
        third more than 90%), as on heavily overlapping clusters. Where a row is more work
        the bound bookkeeping is small against it and Hamerly runs to the
        end. It never picks Elkan. On a Dask cluster Hamerly's bounds stay
        with their blocks on the workers; "elkan" runs Hamerly there (same
        result). The measurements behind the rule are in
        ``benchmarks/README.md``.
    n_threads : int or None, default=None
        OpenMP threads for the kernels. None uses every core allowed by
        ``OMP_NUM_THREADS`` and threadpoolctl limits. Results do not depend
        on it.
    verbose : int, default=0
        When > 0, log the algorithm chosen and the inertia of every
        iteration at INFO level on the ``logging`` logger ``"kmgmm"``
        (printed on stdout when logging is not configured).
    callback : callable or None, default=None
        Called as ``callback(progress)`` with a ``kmgmm.FitProgress`` when
        each initialisation starts and after every iteration; returning True
        stops the fit there (the model is the one reached, with
        ``converged_`` False). With ``algorithm="hamerly"`` the reported
        inertia costs some of the distances the bounds would skip.

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
    converged_ : bool
        Whether the best run converged (no label changed, or the centres
        moved less than ``tol``) rather than stopping at ``max_iter`` or at
        the callback's request.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X was a DataFrame with string columns
    """

    _fitted_attribute = "cluster_centers_"

    def __init__(self, n_clusters: int = 8, *,
                 init: str | ArrayLike | Callable[..., ArrayLike] = "k-means++",
                 n_init: int | Literal["auto"] = "auto", max_iter: int = 300,
                 tol: float = 1e-4, random_state: RandomStateLike = None,
                 copy_x: bool = True,
                 algorithm: Literal["auto", "lloyd", "hamerly", "elkan"] = "auto",
                 n_threads: int | None = None, verbose: int = 0,
                 callback: Callback | None = None) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.n_threads = n_threads
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ fit
    def _check_params(self, X, inits=INITS, stacklevel=4):
        """Validated (init, n_init); ``inits`` are the init names accepted."""
        return check_init(self, X, inits, _kmeans_auto_n_init, stacklevel + 1)

    def _set_fitted(self, X, names, labels, inertia, centers, n_iter, counts):
        """Store a fit's result; warn when fewer clusters than asked hold rows."""
        store_partition(self, X, names, labels, inertia, centers, n_iter, counts,
                        why="duplicate points", stacklevel=5)

    def _check_init_array(self, init, X):
        centers = as_float_array(init, name="init", dtype=X.dtype)
        if centers.shape != (self.n_clusters, X.shape[1]):
            raise ValueError(
                f"The init array has shape {centers.shape}, but it must be "
                f"(n_clusters, n_features) = ({self.n_clusters}, {X.shape[1]}): "
                "one row per cluster, one column per feature of X."
            )
        return centers

    def _initial_centers(self, engine, teng, cond, init, random_state):
        """Centres to start a run from, in the transformed units of ``teng``."""
        if isinstance(init, str):
            return teng.seed(init, self.n_clusters, random_state)
        if callable(init):
            centers = init(engine.source, self.n_clusters, random_state=random_state)
            init = self._check_init_array(centers, engine)
        return cond.to_model(init).astype(engine.dtype)

    def _choose_algorithm(self, engine):
        """The algorithm a fit on ``engine`` runs."""
        algorithm = self.algorithm
        n_samples, n_features = engine.shape
        if engine.sparse:
            return "lloyd"          # the sparse pass is Lloyd's
        if algorithm == "auto":
            return choose_algorithm(n_samples, n_features, self.n_clusters, engine.dtype)
        if algorithm == "elkan" and not engine.keeps_labels:
            return "hamerly"        # Elkan's n x k bounds are for data in memory
        if algorithm == "elkan" and not elkan_fits(n_samples, self.n_clusters):
            warnings.warn(
                f"algorithm='elkan' needs {n_samples} x {self.n_clusters} float32 "
                f"bounds and {self.n_clusters} x {self.n_clusters} float64 centre "
                "distances, more than a quarter of the available memory: running "
                "'hamerly' (one bound per row, same result) instead.",
                RuntimeWarning, stacklevel=4)
            return "hamerly"
        return algorithm

    def fit(self, X: ArrayLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> Self:
        """Compute k-means clustering.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; an integer weight counts as that many copies.

        With X a Dask array or DataFrame the fit runs on the cluster of the
        current ``distributed.Client`` (``_engines.dask``); ``labels_`` is
        then a Dask array, already computed on the workers.
        """
        names = feature_names_of(X)
        engine, w_unit = make_engine(X, sample_weight, self.n_threads)
        with verbose_logging(self.verbose):
            return self._fit_engine(engine, names, w_unit=w_unit)

    def _fit_engine(self, engine, names=None, *, w_unit=1.0, quiet=False,
                    iteration_callback=None):
        """Fit on an engine (``fit``, and a mixture's initialisation).

        ``quiet`` silences ``verbose`` and the ``callback`` parameter; a
        mixture's initialisation passes its own three-argument
        ``iteration_callback(n_iter, inertia, shift)`` instead."""
        init, n_init = self._check_params(engine, inits=engine.inits)
        n_samples = engine.n_samples
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}: "
                "lower n_clusters or pass more rows."
            )
        random_state = check_random_state(self.random_state)
        if engine.sparse:
            variance = sparse_weighted_mean_variance(engine.X, engine.sample_weight)
            cond = Conditioning()
        else:
            moments = engine.moments()
            cond = for_data(moments, engine.dtype)
            variance = moments.variance * (moments.unit / cond.scale) ** 2
        tol = variance * self.tol
        algorithm = self._choose_algorithm(engine)
        verbose = 0 if quiet else self.verbose
        if verbose:
            logger.info(f"Algorithm: {algorithm}.")
            if not cond.identity:
                logger.info("Fitting X centred on its mean" + (
                    f" and divided by {cond.scale:.6g}" if cond.scale != 1 else "")
                    + "; the inertia and shifts logged are in those units.")
        reporter = Reporter(None if quiet else self.callback, type(self).__name__,
                            n_init, self.max_iter)
        callback = iteration_callback if quiet else reporter.iterations()
        factor = cond.squared_factor() * w_unit
        if callback is not None and factor != 1.0:
            def callback(n_iter, inertia, shift, _report=callback):
                return _report(n_iter, inertia * factor, shift * cond.squared_factor())

        teng = engine.conditioned(cond, copy_x=self.copy_x)
        kwargs = dict(max_iter=self.max_iter, tol=tol, verbose=verbose, callback=callback)
        best = None
        try:
            with single_threaded_blas():
                for run in range(n_init):
                    teng.reset()
                    reporter.start_run(run + 1)
                    centers = self._initial_centers(engine, teng, cond, init,
                                                    random_state)
                    if verbose:
                        logger.info(f"Initialisation {run + 1} of {n_init} done.")
                    status = {}
                    if algorithm == "lloyd":
                        result = lloyd(teng, centers, status=status, **kwargs)
                    elif algorithm == "elkan":
                        result = elkan(teng, centers, status=status, **kwargs)
                    else:
                        result = hamerly(teng, centers, fallback=self.algorithm == "auto",
                                         status=status, **kwargs)
                    result = (*result, status.get("stop") in ("strict", "tol"))
                    # Runs whose inertias agree to rounding are ties: the
                    # first wins, so equal problems posed differently (an
                    # integer weight, or the row repeated) keep the same run.
                    if best is None or result[0] < best[0] * (1 - RUN_TIE):
                        best, best_run = result, run
                    if reporter.stop_requested:
                        break
                n_init = run + 1
                inertia, centers, n_iter, converged = best
                centers = cond.from_model(centers, engine.dtype)
                if best_run != n_init - 1 or not cond.identity:
                    # The labels and inertia of the centres as returned
                    # (rounded to X's dtype, so that they agree with predict).
                    inertia = teng.assign(cond.to_model(centers))
                labels = teng.result_labels()
                counts = teng.counts(self.n_clusters)
                if engine.keeps_labels:
                    labels = labels.copy()
        finally:
            teng.release()
            teng.restore()
        inertia = inertia * cond.squared_factor() * w_unit
        self._set_fitted(engine, names, labels, inertia, centers, n_iter, counts)
        self.converged_ = bool(converged)
        self._algorithm = algorithm
        return self

    # -------------------------------------------------------------- predict
    def _check_test_data(self, X, method):
        """X for ``method``: CSR, or a C-contiguous float array (X itself when
        it is one).  Dense values are not checked here: ``_assign`` and
        ``_distances`` find NaN and infinity in the pass that uses them."""
        self._check_is_fitted(method, "cluster_centers_")
        names = feature_names_of(X)
        X = as_float_csr(X) if is_sparse(X) else as_float_array(X, check_values=False)
        check_features(self, X, names, reset=False)
        return X

    def _assign(self, X, sample_weight=None, want_inertia=True):
        """Labels of the rows of X and (when ``want_inertia``, else NaN)
        their weighted inertia.

        Dense X is assigned centred and scaled as the centres need it
        (``_assign.predict_labels``); should squared distances still
        overflow (rows far beyond the centres' extent), the rows are assigned
        again, conditioned by their own extent.  Without sample weights none
        are made.
        """
        n_threads = effective_n_threads(self.n_threads)
        if is_sparse(X):
            sample_weight, w_unit = check_sample_weight(sample_weight, X.shape[0],
                                                        X.dtype, with_unit=True)
            engine = MemoryEngine(X, sample_weight, n_threads)
            inertia = engine.assign(self.cluster_centers_)
            return engine.labels, inertia * w_unit
        w_unit = 1.0
        if sample_weight is not None:
            sample_weight, w_unit = check_sample_weight(sample_weight, X.shape[0],
                                                        X.dtype, with_unit=True)
        with single_threaded_blas():
            labels, inertia = predict_labels(X, self.cluster_centers_, n_threads,
                                             sample_weight=sample_weight,
                                             want_inertia=want_inertia)
        return labels, inertia * w_unit

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Index of the nearest centre for each row of X (lazy for a Dask X)."""
        if is_dask_collection(X):
            from ._dask import kmeans_predict
            return kmeans_predict(self, X)
        X = self._check_test_data(X, "predict")
        return self._assign(X, want_inertia=False)[0]

    def fit_predict(self, X: ArrayLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> np.ndarray:
        """Fit, then return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def score(self, X: ArrayLike, y: object = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Opposite of the weighted inertia of X under the fitted centres."""
        if is_dask_collection(X):
            from ._dask import kmeans_score
            return kmeans_score(self, X, sample_weight)
        X = self._check_test_data(X, "score")
        return -float(self._assign(X, sample_weight)[1])

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Euclidean distance from each row of X to each centre, in X's dtype
        (lazy for a Dask X).  From the differences of the coordinates, not
        the expansion ``||x||^2 - 2 x.c + ||c||^2``: accurate to the dtype's
        rounding however far the data sit from the origin, and 0 for a row
        equal to a centre."""
        if is_dask_collection(X):
            from ._dask import kmeans_transform
            return kmeans_transform(self, X)
        X = self._check_test_data(X, "transform")
        return self._distances(X)

    def fit_transform(self, X: ArrayLike, y: object = None,
                      sample_weight: ArrayLike | None = None) -> np.ndarray:
        """Fit, then return the distances from each row of X to each centre."""
        self.fit(X, sample_weight=sample_weight)
        if is_dask_collection(X):
            return self.transform(X)
        return self._distances(as_float_csr(X) if is_sparse(X) else as_float_array(X))

    def _distances(self, X):
        if is_sparse(X):
            return sparse_distances(X, self.cluster_centers_, X.dtype)
        return center_distances(X, self.cluster_centers_,
                                effective_n_threads(self.n_threads))

    @property
    def _n_features_out(self):
        """Columns of ``transform``: one per centre (``get_feature_names_out``
        names them "kmeans0", "kmeans1", ...)."""
        return self.cluster_centers_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags
