"""GaussianMixture: EM (soft) and classification EM (hard) over the Cython
pass in ``src/_em.pyx``; the M-step is in ``_gaussian.py``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import DensityMixin

from ._algorithms.em import em
from ._base import BaseEstimator
from ._gmm_online import partial_fit as online_partial_fit
from ._resp_init import check_resp_init, parameters_from_resp
from ._conditioning import MAX_SQ_EXP
from ._engines import make_engine
from ._exceptions import warn_convergence
from ._fit_events import Reporter, verbose_logging
from ._gaussian import (
    KernelModel,
    cholesky_from_precisions,
    covariance_shape,
    precision_cholesky,
    precisions_from_cholesky,
    repair_far_rows,
)
from ._gmm_init import initial_parameters
from ._gmm_criteria import MixtureCriteria
from ._kmeans import KMeans, RandomStateLike
from ._params import validate
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    mixture_outputs,
    check_mixture_rows,
    as_float_array,
    check_features,
    check_random_state,
    check_sample_weight,
    feature_names_of,
    is_dask_collection,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._fit_events import Callback


class GaussianMixture(MixtureCriteria, DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM, with OpenMP-threaded Cython kernels.

    Parameters follow scikit-learn's ``GaussianMixture``, plus the ``fixed``
    covariance type (every component has the known covariance
    ``variance * I``: the model whose zero-variance limit is k-means), hard
    assignment (classification EM) and sample weights.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical", "fixed"}, default="full"
        "full": each component has its own covariance matrix; "tied": all
        share one; "diag": each has a diagonal covariance; "spherical": each
        has a single variance; "fixed": each has covariance ``variance * I``
        with ``variance`` given, not estimated.
    variance : float, default=None
        The known variance of the "fixed" type (required for it, rejected
        for the others). As it tends to 0, EM tends to Lloyd's k-means.
    assignment : {"soft", "hard"}, default="soft"
        "soft" is EM: every point belongs to every component in proportion
        to its responsibility. "hard" is classification EM: every point
        belongs wholly to its most likely component, and the objective is
        the classification log-likelihood.
    estimate_weights : bool, default=True
        When False the mixture weights stay at ``weights_init`` (equal
        weights if None) instead of being estimated. With
        ``covariance_type="fixed"`` and ``assignment="hard"`` and equal
        weights, EM is exactly Lloyd's algorithm.
    tol : float, default=1e-3
        EM stops when the change of the (weighted) mean log-likelihood per
        sample is below ``tol``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, keeping it positive
        definite.
    max_iter : int, default=100
        Maximum EM iterations per initialisation.
    n_init : int, default=1
        Initialisations to run; the one with the highest final
        log-likelihood is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        "kmeans": responsibilities from kmgmm's KMeans; "k-means++" and
        "random_from_data": from the nearest of seeds picked by k-means++
        or at random (weighted); "random": random soft responsibilities.
    weights_init, means_init, precisions_init : array-like, default=None
        User-given initial parameters (shapes as for ``weights_``,
        ``means_`` and ``precisions_``).
    resp_init : array-like, default=None
        Initial responsibilities, shape (n_samples, n_components), rows
        summing to 1, or integer labels in [0, n_components), shape
        (n_samples,): the first M-step starts from them (instead of
        ``init_params``). Every component needs some weight. Not with
        ``weights_init``, ``means_init`` or ``precisions_init``; not saved
        in a model file.
    random_state : None, int or numpy.random.RandomState
    warm_start : bool, default=False
        Start a new fit from the previous solution (n_init is then 1).
    learning_decay : float in (0.5, 1], default=0.6
        ``partial_fit`` only: kappa of online EM's step size
        ``rho_t = (t + learning_offset) ** -learning_decay`` (the names of
        scikit-learn's ``LatentDirichletAllocation``).  See ``partial_fit``.
    learning_offset : float >= 0, default=0.0
        ``partial_fit`` only: t0 of the step size; larger values damp the
        first steps.
    n_threads : int or None, default=None
        OpenMP threads for the kernels; None uses every core allowed.
        Results do not depend on it.
    verbose : int, default=0
        When > 0, log the log-likelihood of every iteration at INFO level on
        the ``logging`` logger ``"kmgmm"`` (printed on stdout when logging
        is not configured).
    callback : callable or None, default=None
        Called as ``callback(progress)`` with a ``kmgmm.FitProgress`` when
        each initialisation starts, after every iteration of the k-means
        that initialises it (``init_params="kmeans"``, stage "init") and
        after every EM iteration (stage "fit"); returning True stops the fit
        there (the model is the one reached, with ``converged_`` False).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape (n_components, n_features, n_features) for "full",
        (n_features, n_features) for "tied", (n_components, n_features) for
        "diag", (n_components,) for "spherical" and "fixed".
    precisions_ : ndarray, same shape as covariances_
    precisions_cholesky_ : ndarray, same shape as covariances_
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean (weighted) log-likelihood per sample of the best fit: for hard
        assignment the classification log-likelihood.
    lower_bounds_ : list of float
        The same, every iteration of the best fit (every step of
        ``partial_fit``).
    n_steps_ : int, only after ``partial_fit``
        Batches seen by online EM since it began.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X was a DataFrame with string columns

    float32 input gives float32 parameters; statistics are accumulated in
    float64 about the previous means and the M-step runs in float64, so the
    covariances stay positive definite on data far from the origin.
    """

    _fitted_attribute = "means_"

    def __init__(self, n_components: int = 1, *,
                 covariance_type: Literal["full", "tied", "diag", "spherical",
                                          "fixed"] = "full",
                 variance: float | None = None,
                 assignment: Literal["soft", "hard"] = "soft",
                 estimate_weights: bool = True, tol: float = 1e-3,
                 reg_covar: float = 1e-6, max_iter: int = 100, n_init: int = 1,
                 init_params: Literal["kmeans", "k-means++", "random",
                                      "random_from_data"] = "kmeans",
                 weights_init: ArrayLike | None = None,
                 means_init: ArrayLike | None = None,
                 precisions_init: ArrayLike | None = None,
                 resp_init: ArrayLike | None = None,
                 random_state: RandomStateLike = None, warm_start: bool = False,
                 learning_decay: float = 0.6, learning_offset: float = 0.0,
                 n_threads: int | None = None, verbose: int = 0,
                 callback: Callback | None = None) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.variance = variance
        self.assignment = assignment
        self.estimate_weights = estimate_weights
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.resp_init = resp_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.n_threads = n_threads
        self.verbose = verbose
        self.callback = callback

    # ----------------------------------------------------------- validation
    def _check_params(self, X):
        params = validate(self)
        k, d = params["n_components"], X.shape[1]
        if self.covariance_type == "fixed":
            if self.variance is None:
                raise ValueError(
                    "covariance_type='fixed' needs the known variance: pass "
                    "variance=<a positive float> (every component then has "
                    "covariance variance * I).")
        elif self.variance is not None:
            raise ValueError(
                f"variance={self.variance!r} is only used with "
                "covariance_type='fixed'; leave it None for "
                f"covariance_type={self.covariance_type!r}.")

        weights = means = prec = None
        if self.weights_init is not None:
            weights = as_float_array(self.weights_init, name="weights_init",
                                     dtype=np.float64, ensure_2d=False)
            if weights.shape != (k,):
                raise ValueError(
                    f"weights_init has shape {weights.shape}; it must be "
                    f"(n_components,) = ({k},).")
            if np.any(weights < 0) or np.any(weights > 1):
                raise ValueError(
                    "weights_init must be in [0, 1]; got values outside it "
                    f"(min {weights.min():.3g}, max {weights.max():.3g}).")
            if abs(weights.sum() - 1.0) > 1e-6:
                raise ValueError(
                    f"weights_init must sum to 1, but it sums to {weights.sum():.8g}; "
                    "normalise it (weights_init / weights_init.sum()).")
        if self.means_init is not None:
            means = as_float_array(self.means_init, name="means_init", dtype=np.float64)
            if means.shape != (k, d):
                raise ValueError(
                    f"means_init has shape {means.shape}; it must be "
                    f"(n_components, n_features) = ({k}, {d}).")
        if self.precisions_init is not None:
            if self.covariance_type == "fixed":
                raise ValueError(
                    "precisions_init is not used with covariance_type='fixed' "
                    "(the covariance is variance * I); leave it None.")
            prec = as_float_array(self.precisions_init, name="precisions_init",
                                  dtype=np.float64, ensure_2d=False)
            expected = covariance_shape(self.covariance_type, k, d)
            if prec.shape != expected:
                raise ValueError(
                    f"precisions_init has shape {prec.shape}; for "
                    f"covariance_type={self.covariance_type!r} it must be {expected}.")
        return weights, means, prec

    def _check_resp_init(self, X, *others):
        """``resp_init`` validated against X (``_resp_init.check_resp_init``)."""
        if self.resp_init is None:
            return None
        if any(o is not None for o in others):
            raise ValueError(
                "resp_init gives the initial weights, means and covariances; pass "
                "either it or weights_init/means_init/precisions_init, not both.")
        return check_resp_init(self.resp_init, X.shape[0], self.n_components)

    def _check_fit_shape(self, X):
        """Check X's shape against the model; True when fitting warm starts.

        A warm start needs a previous fit of the same shape: after
        ``n_components`` or ``covariance_type`` changed, the fit starts from
        scratch (as it does without ``warm_start``).
        """
        n_features = X.shape[1]
        k = self.n_components
        warm = check_mixture_rows(self, X, "means_")
        if warm:
            expected = covariance_shape(self.covariance_type, k, n_features)
            warm = (self.means_.shape[0] == k
                    and getattr(self, "_fitted_covariance_type",
                                self.covariance_type) == self.covariance_type
                    and self.covariances_.shape == expected)
        return warm

    def _check_fit_scale(self, moments, dtype):
        """Refuse data whose squared spread overflows the fit's dtype."""
        d = moments.mean.shape[0]
        spread = moments.spread
        if spread > 0 and 2 * np.log2(spread) + np.log2(d) > MAX_SQ_EXP[np.dtype(dtype)]:
            hint = ("pass X.astype(numpy.float64) or rescale X" if dtype == np.float32
                    else "rescale X (divide it by a constant)")
            raise ValueError(
                f"X ({np.dtype(dtype)}) is spread too widely for a Gaussian "
                f"mixture in this dtype: its largest distance from the mean "
                f"({spread:.3g}) squared, as covariances hold it, overflows; "
                f"{hint}.")

    # ------------------------------------------------------------------ fit
    def fit(self, X: ArrayLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> Self:
        """Estimate the parameters with EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; an integer weight counts as that many copies.

        With X a Dask array or DataFrame the fit runs on the cluster of the
        current ``distributed.Client`` (``kmgmm/_engines/dask.py``);
        ``fit_predict`` then returns a Dask array.
        """
        with verbose_logging(self.verbose):
            self._fit(X, sample_weight)
        return self

    def fit_predict(self, X: ArrayLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> np.ndarray:
        """Fit, then return the most likely component of each row of X.

        Equal to ``fit(X).predict(X)``: the labels come from a final pass
        with the fitted parameters.
        """
        with verbose_logging(self.verbose):
            return self._fit(X, sample_weight)

    def partial_fit(self, X, y=None, sample_weight=None):
        """One step of online (stepwise) EM on the batch X.

        Online EM (Cappé & Moulines, 2009) keeps a running average of EM's
        sufficient statistics (component weights, first and second moments)
        over the batches, ``S_t = (1 - rho_t) S_{t-1} + rho_t s(X_t)``, with
        each batch's statistics normalised by its total weight (scaling a
        batch's ``sample_weight`` changes nothing, and a small batch counts
        as much as a large one: keep them of one size) and the step size
        ``rho_t = (t + learning_offset) ** -learning_decay``, and sets the
        parameters by the M-step from the averages after every batch.  The
        data is read once per step, a batch at a time, so a stream or a
        file larger than memory can be fitted.

        The first call initialises on its batch as ``fit`` would
        (``init_params``, the ``*_init`` arrays, ``n_init`` initialisations
        each followed by one step, the best kept); later calls continue,
        including after ``fit`` or ``kmgmm.load`` (the fitted parameters
        then stand in the average for the statistics of the data they were
        estimated from).  ``fit`` afterwards forgets the online state.  A
        later batch may have fewer rows than ``n_components``; it is
        converted to the model's dtype.  A component that a batch leaves
        empty keeps the weight, mean and covariance its averaged statistics
        give it, and ``reg_covar`` keeps every covariance positive definite.

        ``learning_decay`` (kappa, in (0.5, 1]) and ``learning_offset`` (t0)
        trade speed for stability: a small kappa keeps the steps large, so
        the model moves fast but keeps more of the noise of the latest
        batches; a large kappa averages more batches but moves slowly; t0 > 0
        damps the first steps.  With ``learning_offset=0`` the first step
        has rho = 1: on its batch it is exactly ``fit`` with ``max_iter=1``.
        The README ("Data bigger than memory") has the measured trade-off.

        After a step, ``lower_bound_`` is the batch's mean (weighted)
        log-likelihood under the parameters before the step, ``n_iter_``
        and ``n_steps_`` count the steps, and ``converged_`` says whether
        ``lower_bound_`` moved by less than ``tol`` from the previous
        batch's: batches differ, so it measures the model's movement and the
        batches' sampling noise together, and online EM never stops by
        itself; the caller decides how many batches to give it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        return online_partial_fit(self, X, sample_weight)

    def _fit(self, X, sample_weight):
        names = feature_names_of(X)
        engine, _ = make_engine(X, sample_weight, self.n_threads, allow_sparse=False)
        weights_init, means_init, prec_init = self._check_params(engine)
        resp = self._check_resp_init(engine, weights_init, means_init, prec_init)
        warm = self._check_fit_shape(engine)
        random_state = check_random_state(self.random_state)
        moments = engine.moments()
        self._check_fit_scale(moments, engine.dtype)
        shift = moments.mean
        w_total = engine.total_weight
        hard = self.assignment == "hard"
        n_init = 1 if warm else self.n_init
        reporter = Reporter(self.callback, type(self).__name__, n_init, self.max_iter)
        init_max_iter = KMeans().max_iter

        best = None
        with single_threaded_blas():
            for run in range(n_init):
                reporter.start_run(run + 1)
                if warm:
                    weights = self.weights_.astype(np.float64)
                    means = self.means_.astype(np.float64)
                    cov = self.covariances_.astype(np.float64)
                    prec_chol = self.precisions_cholesky_.astype(np.float64)
                else:
                    weights, means, cov, prec_chol = self._initial_state(
                        lambda: parameters_from_resp(
                            engine, resp, self.n_components,
                            covariance_type=self.covariance_type,
                            reg_covar=self.reg_covar, variance=self.variance,
                            shift=shift) if resp is not None else initial_parameters(
                            engine, self.n_components, init_params=self.init_params,
                            means_init=means_init, covariance_type=self.covariance_type,
                            reg_covar=self.reg_covar, variance=self.variance,
                            random_state=random_state, n_threads=self.n_threads,
                            shift=shift,
                            callback=reporter.init_iterations(init_max_iter)),
                        weights_init, means_init, prec_init)
                result = em(
                    engine, weights, means, cov, prec_chol,
                    covariance_type=self.covariance_type, reg_covar=self.reg_covar,
                    variance=self.variance, estimate_weights=self.estimate_weights,
                    hard=hard, shift=shift, w_total=w_total, max_iter=self.max_iter,
                    tol=self.tol, verbose=self.verbose, callback=reporter.iterations(),
                    run=run, previous_bound=self.lower_bound_ if warm else -np.inf)
                if best is None or result["lower_bound"] > best["lower_bound"]:
                    best = result
                if reporter.stop_requested:
                    break

        self._set_fitted(engine, names, best, stacklevel=4,
                         stopped=reporter.stop_requested)
        # The labels predict gives: the parameters as stored (in X's dtype)
        # about predict's shift, so that fit_predict equals fit().predict
        # even for rows on a decision boundary.
        with single_threaded_blas():
            return engine.em_labels(self._model(engine.dtype), hard)

    def _set_fitted(self, X, names, best, stacklevel, warn=True, stopped=False):
        """Store the best run's parameters (in X's dtype); warn when it did
        not converge (``warn``, unless the callback stopped it).  Drops the
        state of an online fit."""
        if warn and not best["converged"] and self.max_iter > 0 and not stopped:
            warn_convergence(
                f"Best performing initialization did not converge in "
                f"max_iter={self.max_iter} iterations; try a larger max_iter, "
                "a larger tol, or check the data.", stacklevel=stacklevel)
        dtype = X.dtype
        params = {name: best[name].astype(dtype) for name in ("weights", "means", "cov",
                                                                "prec_chol")}
        precisions = precisions_from_cholesky(best["prec_chol"],
                                              self.covariance_type).astype(dtype)
        if not (np.isfinite(best["lower_bound"])
                and all(np.all(np.isfinite(p)) for p in params.values())
                and np.all(np.isfinite(precisions))):
            raise ValueError(
                f"The fitted mixture has parameters that are not finite in {dtype} "
                "(the data's scale is beyond what its covariances or precisions "
                "can hold); rescale X, or pass X.astype(numpy.float64).")
        check_features(self, X, names, reset=True)
        for online in ("_online", "n_steps_"):
            self.__dict__.pop(online, None)
        self._fitted_covariance_type = self.covariance_type
        self.weights_ = best["weights"].astype(dtype)
        self.means_ = best["means"].astype(dtype)
        self.covariances_ = best["cov"].astype(dtype)
        self.precisions_cholesky_ = best["prec_chol"].astype(dtype)
        self.precisions_ = precisions
        self.converged_ = bool(best["converged"])
        self.n_iter_ = int(best["n_iter"])
        self.lower_bound_ = float(best["lower_bound"])
        self.lower_bounds_ = list(best["lower_bounds"])

    def _initial_state(self, from_data, weights_init, means_init, prec_init):
        """(weights, means, cov, prec_chol) to start EM from: the user's initial
        parameters where given, ``from_data()`` (weights, means, covariances)
        for the rest."""
        k = self.n_components
        cov_type = self.covariance_type
        need_data = (means_init is None or weights_init is None
                     or (prec_init is None and cov_type != "fixed"))
        weights, means, cov = from_data() if need_data else (None, None, None)
        if weights_init is not None:
            weights = weights_init.copy()
        elif not self.estimate_weights:
            weights = np.full(k, 1.0 / k)
        if means_init is not None:
            means = means_init.copy()
        if cov_type == "fixed":
            cov = np.full(k, float(self.variance))
        if prec_init is not None:
            prec_chol, cov = cholesky_from_precisions(prec_init, cov_type)
        else:
            prec_chol = precision_cholesky(cov, cov_type, self.reg_covar)
        return weights, means, cov, prec_chol

    # -------------------------------------------------------------- predict
    def _model(self, dtype):
        # Centre the kernel on the means' weighted average: any fixed shift
        # is exact; this one keeps the gemm expansions well conditioned.
        shift = self.weights_.astype(np.float64) @ self.means_.astype(np.float64)
        shift /= self.weights_.astype(np.float64).sum()
        return KernelModel(self.weights_, self.means_, self.precisions_cholesky_,
                           self.covariance_type, shift, dtype)

    def _pass(self, X, method, *, lse=False, labels=False, resp=False):
        # X's values are checked where the pass could not score a row
        # (repair_far_rows), not in a pass of their own.
        X, out = mixture_outputs(self, X, method, labels=labels, resp=resp,
                                 check_values=False)
        n = X.shape[0]
        n_threads = effective_n_threads(self.n_threads)
        # Labels alone need no responsibilities: the hard pass gives the
        # same most likely component, without an exponential per component
        # (its lse, the row's best log-density, is finite exactly where the
        # soft one is, which is all repair_far_rows asks of it here).
        hard = self.assignment == "hard" or not (resp or lse)
        with single_threaded_blas():
            self._model(X.dtype).run(X, np.ones(n, dtype=X.dtype), hard=hard,
                                     n_threads=n_threads, **out)
        repair_far_rows(X, out, self.weights_, self.means_, self.precisions_cholesky_,
                        self.covariance_type, self.assignment == "hard")
        return out

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most likely component of each row of X (lazy for a Dask X)."""
        if is_dask_collection(X):
            from ._dask import gmm_blockwise
            return gmm_blockwise(self, X, "predict", "labels")
        return self._pass(X, "predict", labels=True)["labels"]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Responsibilities: the posterior probability of each component.

        Rows sum to 1. Lazy for a Dask X.

        With ``assignment="hard"`` the rows are one-hot (1 for the component
        ``predict`` gives, 0 elsewhere): the model was fitted by
        classification EM, in which each point belongs wholly to one
        component, and ``score_samples`` is the same classification
        likelihood. Its parameters are not those of the soft mixture (where
        components overlap, the means are pushed apart and the variances
        shrink), so their posterior would be a probability the fit did not
        estimate. To have it all the same, score with soft assignment:
        ``gm.set_params(assignment="soft").predict_proba(X)`` gives the
        posterior under the fitted parameters (its argmax is the same
        label).
        """
        if is_dask_collection(X):
            from ._dask import gmm_blockwise
            return gmm_blockwise(self, X, "predict_proba", "resp")
        return self._pass(X, "predict_proba", resp=True)["resp"]

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Log-likelihood of each row of X under the model.

        With ``assignment="hard"``: the log of the weighted density of the
        most likely component (the classification log-likelihood). Lazy for
        a Dask X.
        """
        if is_dask_collection(X):
            from ._dask import gmm_blockwise
            return gmm_blockwise(self, X, "score_samples", "lse")
        return self._pass(X, "score_samples", lse=True)["lse"]

    def score(self, X: ArrayLike, y: object = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Mean (weighted) log-likelihood per sample of X."""
        if is_dask_collection(X):
            from ._dask import gmm_score
            return gmm_score(self, X, sample_weight)
        lse = self.score_samples(X)
        if sample_weight is None:
            return float(lse.mean())
        w = check_sample_weight(sample_weight, lse.shape[0], np.float64)
        return float(w @ lse / w.sum())
