"""MiniBatchKMeans: k-means from small random batches of rows.

The estimator validates its parameters and X once, draws batches
(``_engines.batches``) and runs the mini-batch algorithm
(``_algorithms.minibatch``), whose every step is a Lloyd pass of the
in-memory kernels over one batch.  Predictions are ``KMeans``'s.
"""
import math
import warnings

import numpy as np

from ._algorithms.minibatch import (
    EarlyStopping, MiniBatchState, minibatch_kmeans, minibatch_step,
)
from ._conditioning import Conditioning, for_centers, for_data, weighted_moments
from ._engines.batches import Batch, SampledBatches, ThreadChoice
from ._engines.memory import MemoryEngine, sparse_weighted_mean_variance
from ._kmeans import INITS, KMeans, check_init
from ._params import validate
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    as_float_array, as_float_csr, check_features, check_finite, check_random_state,
    check_sample_weight, feature_names_of, is_dask_collection, is_sparse,
)


class MiniBatchKMeans(KMeans):
    """Mini-batch k-means: each step moves the centres towards the rows of one
    small random batch (Sculley 2010), as scikit-learn's ``MiniBatchKMeans``.

    A step labels the batch's rows with the Lloyd kernel (every thread, the
    same bits for any thread count) and moves every centre the batch reached
    to the weighted mean of all the rows it has been given so far:
    ``c <- c (1 - w_b / W) + s_b / W``, where ``s_b`` and ``w_b`` are the
    weighted sum and weight of the batch's rows labelled with it and ``W``
    the weight the centre has accumulated (``counts_``), this batch
    included.  Far fewer rows are read than by ``KMeans``, for a final
    inertia a little higher.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random"}, array of shape (n_clusters, n_features) or callable
        Seeding on ``init_size`` rows drawn at random (see ``KMeans``); an
        array gives the initial centres; a callable ``init(X_sample,
        n_clusters, random_state)`` returns them.
    max_iter : int, default=100
        Most passes over the data: at most ``max_iter * n_samples //
        batch_size`` steps.
    batch_size : int, default=1024
        Rows per batch. ``fit`` draws the batches of a pass from one random
        permutation of the rows (no row twice in a pass; the ``n_samples %
        batch_size`` rows left over wait for the next pass's permutation).
    verbose : int, default=0
    compute_labels : bool, default=True
        After ``fit``, label every row and compute the inertia of X (one more
        pass over X); ``partial_fit`` does it for its batch. Without it,
        ``inertia_`` is the smoothed batch inertia times the total weight.
    random_state : None, int or numpy.random.RandomState
        Seed for the seeding, the batches and the reassignments.
    tol : float, default=0.0
        Stop when one step moves the centres by a squared distance of at
        most ``tol`` times the mean variance of the features (0: never).
    max_no_improvement : int or None, default=10
        Stop when the smoothed batch inertia (an exponentially weighted
        average over about one pass) has not improved for this many
        consecutive steps; None never stops for that.
    init_size : int or None, default=None
        Rows drawn for the seeding: ``3 * batch_size`` by default, at least
        ``3 * n_clusters``, at most ``n_samples``.
    n_init : "auto" or int, default="auto"
        Seedings tried (each on its own draw of ``init_size`` rows); the one
        with the lowest inertia on another draw of ``init_size`` rows is
        kept. "auto" is 3 for "random" and a callable, 1 otherwise.
    reassignment_ratio : float, default=0.01
        After a step, a centre whose accumulated weight is below this
        fraction of the largest one moves onto a random row of the batch
        (checked every ``10 * n_clusters`` rows, and at every step while a
        centre has no weight); 0 never reassigns.
    n_threads : int or None, default=None
        OpenMP threads for the kernels, at most: the passes over the batches
        run on 1 thread or on ``n_threads``, whichever their timed passes
        show to be faster (a batch is little work, and on cores shared with
        other jobs a second thread can cost more than it brings). Results do
        not depend on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features), X's dtype
    counts_ : ndarray of shape (n_clusters,), float64
        Weight each centre has accumulated (in the units of the sample weights).
    labels_ : ndarray of shape (n_samples,), only with ``compute_labels``
    inertia_ : float
    n_iter_ : int
        Passes over the data started: ``ceil(n_steps_ * batch_size / n_samples)``.
    n_steps_ : int
        Batches processed (``fit`` and ``partial_fit``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X was a DataFrame with string columns

    Sample weights weigh a row's pull on its centre; every row is drawn
    with the same probability whatever its weight (so an integer weight is
    not the same as repeating the row). The data are fitted centred and
    scaled as ``KMeans`` does when they sit far from the origin (the shift
    and scale from all of X in ``fit``, from the first batch in
    ``partial_fit``). Dask collections are not accepted (use ``KMeans``,
    which runs on the cluster); a memory-mapped X is read one batch at a
    time (the ``kmgmm fit --mini-batch`` command reads a ``.npy`` file of
    any size in contiguous blocks instead).
    """

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=100, batch_size=1024,
                 verbose=0, compute_labels=True, random_state=None, tol=0.0,
                 max_no_improvement=10, init_size=None, n_init="auto",
                 reassignment_ratio=0.01, n_threads=None):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.n_threads = n_threads

    # ------------------------------------------------------------- checks
    def _check_params(self, X, stacklevel=3):
        """Validated (init, n_init), as scikit-learn's MiniBatchKMeans takes them."""
        return check_init(self, X, INITS, _minibatch_auto_n_init, stacklevel + 1)

    def _sizes(self, n_samples):
        """(batch_size, init_size) for data of ``n_samples`` rows."""
        batch_size = min(self.batch_size, n_samples)
        init_size = self.init_size
        if init_size is None:
            init_size = 3 * batch_size
            if init_size < self.n_clusters:
                init_size = 3 * self.n_clusters
        elif init_size < self.n_clusters:
            warnings.warn(
                f"init_size={init_size} should be larger than n_clusters="
                f"{self.n_clusters}. Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning, stacklevel=4)
            init_size = 3 * self.n_clusters
        return batch_size, min(init_size, n_samples)

    def _check_n_samples(self, n_samples):
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}: "
                "lower n_clusters or pass more rows.")

    @staticmethod
    def _as_data(X, dtype=None):
        if is_dask_collection(X):
            raise TypeError(
                "MiniBatchKMeans takes data in memory or memory-mapped, not a Dask "
                "collection; use kmgmm.KMeans, which runs on the cluster, or pass "
                "X.compute().")
        if is_sparse(X):
            return as_float_csr(X, dtype=dtype)
        return as_float_array(X, dtype=dtype, check_values=False)

    # ------------------------------------------------------- the seeding
    @staticmethod
    def _sample(X, sample_weight, size, random_state, positive):
        """``size`` rows drawn at random (with replacement; among ``positive``
        rows when given): (rows, weights)."""
        if positive is None:
            rows = random_state.randint(0, X.shape[0], size)
        else:
            rows = positive[random_state.randint(0, positive.shape[0], size)]
        rows.sort()
        return X[rows], sample_weight[rows]

    @staticmethod
    def _conditioned(X, cond):
        if is_sparse(X) or cond.identity:
            return X
        return cond.transform_block(X, X.dtype)

    def _seed(self, X, sample_weight, cond, init, n_init, init_size, random_state,
              n_threads, weight_unit):
        """Initial centres in the fit's units (float64)."""
        if not (isinstance(init, str) or callable(init)):
            return cond.to_model(init)
        positive = (np.flatnonzero(sample_weight > 0)
                    if not (sample_weight > 0).all() else None)
        if n_init > 1:
            Xv, wv = self._sample(X, sample_weight, init_size, random_state, positive)
            valid = Batch(self._conditioned(Xv, cond), wv, n_threads)
        best, best_inertia = None, None
        for run in range(n_init):
            Xs, ws = self._sample(X, sample_weight, init_size, random_state, positive)
            if callable(init):
                # the user's function sees the rows as they are in X
                centers = init(Xs, self.n_clusters, random_state=random_state)
                centers = cond.to_model(self._check_init_array(centers, Xs))
            else:
                engine = MemoryEngine(self._conditioned(Xs, cond), ws, n_threads,
                                      weight_unit)
                centers = engine.seed(init, self.n_clusters, random_state)
            centers = np.asarray(centers, dtype=np.float64)
            if n_init == 1:
                return centers
            inertia = valid.lloyd_pass(centers.astype(X.dtype))[2]
            if self.verbose:
                print(f"Inertia for init {run + 1}/{n_init}: {inertia:.6g}")
            if best_inertia is None or inertia < best_inertia:
                best, best_inertia = centers, inertia
        return best

    # ---------------------------------------------------------------- fit
    def fit(self, X, y=None, sample_weight=None):
        """Compute the centres from mini-batches of X.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
        """
        names = feature_names_of(X)
        X = self._as_data(X)
        n_samples = X.shape[0]
        sample_weight, unit = check_sample_weight(sample_weight, n_samples, X.dtype,
                                                  with_unit=True)
        init, n_init = self._check_params(X)
        self._check_n_samples(n_samples)
        random_state = check_random_state(self.random_state)
        n_threads = effective_n_threads(self.n_threads)
        if is_sparse(X):
            variance = sparse_weighted_mean_variance(X, sample_weight)
            cond = Conditioning()
        else:
            moments = weighted_moments(X, sample_weight)     # also checks the values
            cond = for_data(moments, X.dtype)
            variance = moments.variance * (moments.unit / cond.scale) ** 2
        batch_size, init_size = self._sizes(n_samples)
        with single_threaded_blas():
            centers = self._seed(X, sample_weight, cond, init, n_init, init_size,
                                 random_state, n_threads, unit)
            state = MiniBatchState(centers)
            n_steps = (self.max_iter * n_samples) // batch_size
            stopping = EarlyStopping(n_samples, batch_size,
                                     max_no_improvement=self.max_no_improvement,
                                     tol=variance * self.tol, verbose=self.verbose)
            batches = SampledBatches(X, sample_weight, cond, batch_size, random_state,
                                     n_threads)
            steps = minibatch_kmeans(batches, state, X.dtype, n_steps=n_steps,
                                     stopping=stopping,
                                     reassignment_ratio=self.reassignment_ratio,
                                     random_state=random_state, verbose=self.verbose,
                                     callback=self._step_callback(cond, unit))
        check_features(self, X, names, reset=True)
        self._store(state, cond, unit, random_state, X.dtype)
        self.n_steps_ = steps
        self.n_iter_ = math.ceil(steps * batch_size / n_samples)
        if self.compute_labels:
            labels, inertia = self._assign(X, sample_weight)
            self.labels_, self.inertia_ = labels, float(inertia) * unit
        else:
            total = float(sample_weight.sum(dtype=np.float64)) * unit
            self.inertia_ = float(stopping.smoothed * cond.squared_factor() * total)
        return self

    def _step_callback(self, cond, unit):
        """The ``_progress.watch`` callback, in the caller's units, or None."""
        callback = getattr(self, "_iteration_callback", None)
        if callback is None:
            return None
        factor = cond.squared_factor()

        def report(step, inertia, shift):
            return callback(step, inertia * factor * unit, shift * factor)
        return report

    def _store(self, state, cond, weight_unit, random_state, dtype):
        """Keep a fit's running state (for ``partial_fit``) and its result."""
        self._mb = {"state": state, "cond": cond, "unit": weight_unit,
                    "random_state": random_state, "dtype": np.dtype(dtype)}
        self._publish()

    def _publish(self):
        mb = self._mb
        self.cluster_centers_ = mb["cond"].from_model(mb["state"].centers, mb["dtype"])
        self.counts_ = mb["state"].counts * mb["unit"]

    # -------------------------------------------------------- partial_fit
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centres with one batch: X (one step).

        The first call seeds the centres from X (as ``fit`` would, from
        ``init_size`` of its rows) and takes the shift and scale of the data
        from it; later batches are converted to the fitted dtype and must
        have the fitted number of features.  A loaded model (``kmgmm.load``)
        continues from its centres and ``counts_``.
        """
        fitted = hasattr(self, "cluster_centers_")
        names = feature_names_of(X)
        X = self._as_data(X, dtype=self.cluster_centers_.dtype if fitted else None)
        check_features(self, X, names, reset=not fitted)
        n_samples = X.shape[0]
        sample_weight, unit = check_sample_weight(sample_weight, n_samples, X.dtype,
                                                  with_unit=True)
        n_threads = effective_n_threads(self.n_threads)
        if fitted:
            validate(self)
            if not is_sparse(X):
                check_finite(X, "X")
            if getattr(self, "_mb", None) is None:
                self._resume()
        else:
            init, n_init = self._check_params(X)
            self._check_n_samples(n_samples)
            random_state = check_random_state(self.random_state)
            cond = (Conditioning() if is_sparse(X) else
                    for_data(weighted_moments(X, sample_weight), X.dtype))
            _, init_size = self._sizes(n_samples)
            with single_threaded_blas():
                centers = self._seed(X, sample_weight, cond, init, n_init, init_size,
                                     random_state, n_threads, unit)
            self._store(MiniBatchState(centers), cond, unit, random_state, X.dtype)
            self.n_steps_ = 0
        mb = self._mb
        Xb = X
        if not is_sparse(X) and not mb["cond"].identity:
            Xb = mb["cond"].transform_block(X, X.dtype)
        if getattr(mb.get("threads"), "n_threads", None) != n_threads:
            mb["threads"] = ThreadChoice(n_threads)
        batch = Batch(Xb, sample_weight, mb["threads"], weight_scale=unit / mb["unit"])
        with single_threaded_blas():
            minibatch_step(batch, mb["state"], X.dtype,
                           reassignment_ratio=self.reassignment_ratio,
                           random_state=mb["random_state"], verbose=self.verbose)
        self._publish()
        self.n_steps_ += 1
        if self.compute_labels:
            labels, inertia = self._assign(X, sample_weight)
            self.labels_, self.inertia_ = labels, float(inertia) * unit
        return self

    def _resume(self):
        """The running state of a model that has centres but no state (one
        loaded from a model file): its centres, with their ``counts_``."""
        centers = self.cluster_centers_
        counts = getattr(self, "counts_", None)
        if counts is None:
            counts = np.zeros(centers.shape[0])
        cond = for_centers(centers, centers.dtype)
        self._store(MiniBatchState(cond.to_model(centers), counts), cond, 1.0,
                    check_random_state(self.random_state), centers.dtype)
        if not hasattr(self, "n_steps_"):
            self.n_steps_ = 0

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the label of every row of X."""
        self.fit(X, sample_weight=sample_weight)
        if self.compute_labels:
            return self.labels_
        return self.predict(X)


def _minibatch_auto_n_init(init):
    return 3 if (callable(init) or (isinstance(init, str) and init == "random")) else 1
