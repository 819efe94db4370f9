"""BayesianGaussianMixture: variational inference for a Gaussian mixture with
a Dirichlet-process or Dirichlet prior on the weights; the E-step is the EM
kernel's pass (``_algorithms/variational.py`` shows why), the updates NumPy."""

import numpy as np

from ._algorithms.variational import (
    Posterior,
    Priors,
    data_covariance,
    expected_model,
    posterior_from_moments,
    variational_em,
)
from ._base import BaseEstimator
from ._covariance import COVARIANCES
from ._engines import make_engine
from ._exceptions import warn_convergence
from ._gaussian import (
    component_log_densities,
    covariance_shape,
    precisions_from_cholesky,
    score_far_rows,
)
from ._gmm import GaussianMixture
from ._gmm_init import initial_seeds
from ._resp_init import check_resp_init, moments_from_resp
from ._params import validate
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    mixture_outputs,
    check_mixture_rows,
    as_float_array,
    check_features,
    check_finite,
    check_random_state,
    check_sample_weight,
    feature_names_of,
    is_dask_collection,
)


def _in_dtype(value, dtype):
    """An array, or a scalar (tied degrees of freedom, a spherical prior),
    in ``dtype``."""
    return np.dtype(dtype).type(value) if np.ndim(value) == 0 else value.astype(dtype)


class BayesianGaussianMixture(BaseEstimator):
    """Variational Bayesian estimation of a Gaussian mixture.

    The parameters, attributes and results are scikit-learn's
    ``BayesianGaussianMixture``'s (from the same start the same lower bound
    and weights), with OpenMP-threaded kernels, sample weights and
    ``n_threads``.  With a Dirichlet-process prior and a small
    ``weight_concentration_prior`` the fit puts negligible weight on the
    components the data does not need, so ``n_components`` is an upper bound
    on the number of clusters.

    Parameters
    ----------
    n_components : int, default=1
        The most components the mixture may use.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    tol : float, default=1e-3
        Iterations stop when the lower bound (a sum over the rows, as
        scikit-learn's) changes by less than ``tol``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every component's empirical covariance.
    max_iter : int, default=100
    n_init : int, default=1
        Initialisations to run; the one with the highest lower bound is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        As ``kmgmm.GaussianMixture``: the partition by kmgmm's KMeans, by the
        nearest of k-means++ or random (weighted) seed rows, or random soft
        responsibilities.
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}
        The weights' prior: the stick-breaking representation of a Dirichlet
        process (default), or a Dirichlet distribution.
    weight_concentration_prior : float > 0, default=None (1 / n_components)
    mean_precision_prior : float > 0, default=None (1)
    mean_prior : array-like of shape (n_features,), default=None (the data's mean)
    degrees_of_freedom_prior : float > n_features - 1, default=None (n_features)
    covariance_prior : default=None (the data's covariance)
        (n_features, n_features) for full and tied, (n_features,) for diag,
        a float for spherical.
    resp_init : array-like, default=None
        Initial responsibilities, shape (n_samples, n_components), rows
        summing to 1, or integer labels in [0, n_components), shape
        (n_samples,): the first variational M-step starts from them (instead
        of ``init_params``; one initialisation). Every component needs some
        weight. Not saved in a model file.
    random_state : None, int or numpy.random.RandomState
    warm_start : bool, default=False
        Start a new fit from the previous posterior (n_init is then 1).
    n_threads : int or None, default=None
        OpenMP threads for the kernels; results do not depend on it.
    verbose : int, default=0

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_
        As scikit-learn's: ``covariances_`` is the inverse of the expected
        precision; the arrays are in X's dtype.
    weight_concentration_ : ndarray, (2, n_components) for a Dirichlet
        process (the Beta parameters, indexed like scikit-learn's tuple),
        else (n_components,)
    mean_precision_ : ndarray of shape (n_components,)
    degrees_of_freedom_ : ndarray of shape (n_components,), a float for tied
    weight_concentration_prior_, mean_precision_prior_, mean_prior_,
    degrees_of_freedom_prior_, covariance_prior_ : the priors used
    lower_bound_ : float
    lower_bounds_ : list of float
    converged_ : bool
    n_iter_ : int
    n_features_in_ : int

    ``sample_weight`` counts as repeated rows: an integer weight w gives the
    fit of the data with that row w times (the prior does not scale with
    the weights, so scaling every weight is not a no-op here, unlike in
    ``GaussianMixture``).
    """

    _fitted_attribute = "means_"

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3,
                 reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans",
                 weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, mean_precision_prior=None,
                 mean_prior=None, degrees_of_freedom_prior=None, covariance_prior=None,
                 resp_init=None, random_state=None, warm_start=False, n_threads=None,
                 verbose=0):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.resp_init = resp_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.verbose = verbose

    # ----------------------------------------------------------- validation
    def _check_params(self, X):
        """Check the parameters against X's shape; the given priors (None
        for those that come from the data)."""
        params = validate(self)
        d = X.shape[1]
        cov_type = params["covariance_type"]
        dof = params["degrees_of_freedom_prior"]
        if dof is not None and not dof > d - 1:
            raise ValueError(
                f"degrees_of_freedom_prior={dof} must be greater than n_features - 1 "
                f"= {d - 1}; pass a larger value or None (n_features).")
        mean = cov = None
        if self.mean_prior is not None:
            mean = as_float_array(self.mean_prior, name="mean_prior", dtype=np.float64,
                                  ensure_2d=False)
            if mean.shape != (d,):
                raise ValueError(f"mean_prior has shape {mean.shape}; it must be "
                                 f"(n_features,) = ({d},).")
        if self.covariance_prior is not None:
            cov = self._check_covariance_prior(cov_type, d)
        return params, mean, cov

    def _check_covariance_prior(self, cov_type, d):
        value = self.covariance_prior
        if cov_type == "spherical":
            if np.ndim(value) != 0 or isinstance(value, (bool, np.bool_)):
                raise TypeError(
                    "covariance_prior must be a positive float for "
                    f"covariance_type='spherical', got {value!r}.")
            cov = float(as_float_array(np.reshape(value, (1,)), name="covariance_prior",
                                       ensure_2d=False)[0])
            if not cov > 0:
                raise ValueError(f"covariance_prior={cov} must be > 0.")
            return cov
        cov = as_float_array(value, name="covariance_prior", dtype=np.float64,
                             ensure_2d=False)
        expected = (d, d) if COVARIANCES[cov_type].has_matrix else (d,)
        if cov.shape != expected:
            raise ValueError(
                f"covariance_prior has shape {cov.shape}; for covariance_type="
                f"{cov_type!r} it must be {expected}.")
        if cov.ndim == 1:
            if np.any(cov <= 0):
                raise ValueError("covariance_prior must be positive; every variance "
                                 "has to be > 0.")
            return cov
        if not np.allclose(cov, cov.T, rtol=1e-7, atol=1e-10 * np.abs(cov).max()):
            raise ValueError("covariance_prior is not symmetric; pass a symmetric, "
                             "positive-definite matrix.")
        if np.linalg.eigvalsh(cov).min() <= 0:
            raise ValueError("covariance_prior is not positive definite; pass a "
                             "symmetric, positive-definite matrix.")
        return cov

    def _check_fit_shape(self, X):
        """Check X's shape; True when the fit warm starts."""
        n_samples, n_features = X.shape
        k = self.n_components
        if n_samples < 2:
            raise ValueError(f"n_samples={n_samples}: a Bayesian mixture needs at "
                             "least 2 rows; pass more rows.")
        warm = check_mixture_rows(self, X, "converged_")
        # After a change of n_components, covariance_type or the prior's
        # type the fit starts from scratch.
        return (warm and self.means_.shape[0] == k
                and getattr(self, "_fitted_covariance_type",
                            self.covariance_type) == self.covariance_type
                and getattr(self, "_fitted_prior_type", self.weight_concentration_prior_type)
                == self.weight_concentration_prior_type
                and self.covariances_.shape == covariance_shape(self.covariance_type, k,
                                                                n_features))

    def _priors(self, engine, params, mean, cov, moments, unit):
        """The priors, those not given from the data (as scikit-learn's)."""
        k, d = self.n_components, engine.n_features
        cov_type = params["covariance_type"]
        if cov is None:
            spread = np.sqrt(moments.variance) * moments.unit
            scale = spread if np.isfinite(spread) and spread > 0 else 1.0
            with single_threaded_blas():
                cov = data_covariance(engine, cov_type, moments.mean, scale, unit)
        wc = params["weight_concentration_prior"]
        beta = params["mean_precision_prior"]
        dof = params["degrees_of_freedom_prior"]
        return Priors(
            covariance_type=cov_type,
            dirichlet_process=params["weight_concentration_prior_type"] == "dirichlet_process",
            weight_concentration=1.0 / k if wc is None else wc,
            mean_precision=1.0 if beta is None else beta,
            mean=moments.mean.astype(np.float64) if mean is None else mean,
            degrees_of_freedom=float(d) if dof is None else dof,
            covariance=cov, reg_covar=params["reg_covar"])

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, each counting as that many copies of its row.
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most likely component of each row (the same
        as ``fit(X).predict(X)``)."""
        return self._fit(X, sample_weight)

    def _initial_moments(self, engine, random_state, shift):
        """Statistics of the initial responsibilities ``(nk, s1, s2, about)``
        (``engine.mixture_moments``'s, in the engine's weights); the fit
        starts with ``posterior_from_moments`` of them."""
        resp = getattr(self, "_resp", None)
        if resp is not None:
            return moments_from_resp(engine, resp, self.n_components,
                                     self.covariance_type, shift)
        seeds, labels = initial_seeds(engine, self.n_components, init_params=self.init_params,
                                      random_state=random_state, n_threads=self.n_threads)
        return engine.mixture_moments(seeds, self.n_components, self.covariance_type,
                                      random_state, shift, labels=labels)

    def _fit(self, X, sample_weight):
        names = feature_names_of(X)
        if is_dask_collection(X):
            raise TypeError("BayesianGaussianMixture fits arrays in memory; compute the "
                            "Dask collection first (X.compute()) if it fits.")
        engine, unit = make_engine(X, sample_weight, self.n_threads, allow_sparse=False)
        params, mean, cov = self._check_params(engine)
        warm = self._check_fit_shape(engine)
        self._resp = (None if self.resp_init is None else
                      check_resp_init(self.resp_init, engine.shape[0], self.n_components))
        warm = warm and self._resp is None
        random_state = check_random_state(self.random_state)
        moments = engine.moments()
        GaussianMixture._check_fit_scale(self, moments, engine.dtype)
        priors = self._priors(engine, params, mean, cov, moments, unit)
        shift = moments.mean
        n_init = 1 if warm or self._resp is not None else self.n_init
        callback = getattr(self, "_iteration_callback", None)

        best = None
        with single_threaded_blas():
            for run in range(n_init):
                if warm:
                    post = self._posterior()
                else:
                    nk, s1, s2, about = self._initial_moments(engine, random_state, shift)
                    post = posterior_from_moments(nk * unit, s1 * unit, s2 * unit, about,
                                                  priors)
                result = variational_em(
                    engine, post, priors, shift=shift, weight_unit=unit,
                    max_iter=self.max_iter, tol=self.tol, verbose=self.verbose,
                    callback=callback, run=run,
                    previous_bound=self.lower_bound_ if warm else -np.inf)
                if best is None or result["lower_bound"] > best["lower_bound"]:
                    best = result
        self._resp = None           # training-sized: not kept with the model
        self._set_fitted(engine, names, best, priors)
        # the labels predict gives (its model, so fit_predict equals predict)
        with single_threaded_blas():
            return engine.em_labels(self._model(engine.dtype), False)

    def _posterior(self):
        """The fitted posterior, float64 (a warm start's starting point)."""
        def f64(a):
            return np.asarray(a, dtype=np.float64)
        dof = f64(self.degrees_of_freedom_)
        return Posterior(f64(self.weight_concentration_), f64(self.mean_precision_),
                         f64(self.means_), float(dof) if dof.ndim == 0 else dof,
                         f64(self.covariances_), f64(self.precisions_cholesky_))

    def _set_fitted(self, X, names, best, priors):
        if not best["converged"] and self.max_iter > 0:
            warn_convergence(
                f"Best performing initialization did not converge in "
                f"max_iter={self.max_iter} iterations; try a larger max_iter, a "
                "larger tol, or check the data.", stacklevel=4)
        post = best["posterior"]
        dtype = X.dtype
        arrays = (post.means, post.covariances, post.precisions_cholesky)
        if not all(np.all(np.isfinite(a.astype(dtype))) for a in arrays):
            raise ValueError(
                f"The fitted mixture has parameters that are not finite in {dtype}; "
                "rescale X, or pass X.astype(numpy.float64).")
        check_features(self, X, names, reset=True)
        self._fitted_covariance_type = priors.covariance_type
        self._fitted_prior_type = self.weight_concentration_prior_type
        wc = post.weight_concentration
        if priors.dirichlet_process:
            a, b = wc
            stick = b / (a + b)
            weights = a / (a + b) * np.hstack((1.0, np.cumprod(stick[:-1])))
        else:
            weights = wc.copy()
        # Every fitted array in X's dtype (float32 data gives a float32 model).
        self.weights_ = (weights / weights.sum()).astype(dtype)
        self.weight_concentration_ = wc.astype(dtype)
        self.mean_precision_ = post.mean_precision.astype(dtype)
        self.degrees_of_freedom_ = _in_dtype(post.degrees_of_freedom, dtype)
        self.means_ = post.means.astype(dtype)
        self.covariances_ = post.covariances.astype(dtype)
        self.precisions_cholesky_ = post.precisions_cholesky.astype(dtype)
        self.precisions_ = precisions_from_cholesky(post.precisions_cholesky,
                                                    priors.covariance_type).astype(dtype)
        self.weight_concentration_prior_ = float(priors.weight_concentration)
        self.mean_precision_prior_ = float(priors.mean_precision)
        self.mean_prior_ = priors.mean.astype(dtype)
        self.degrees_of_freedom_prior_ = float(priors.degrees_of_freedom)
        self.covariance_prior_ = _in_dtype(priors.covariance, dtype)
        self.converged_ = bool(best["converged"])
        self.n_iter_ = int(best["n_iter"])
        self.lower_bound_ = float(best["lower_bound"])
        self.lower_bounds_ = list(best["lower_bounds"])

    # -------------------------------------------------------------- predict
    def _model(self, dtype):
        """The kernel model of the fitted (stored) parameters, about the
        means' weighted average: what predict and the fit's labels use."""
        w = self.weights_.astype(np.float64)
        shift = w @ self.means_.astype(np.float64) / w.sum()
        dirichlet_process = self.weight_concentration_prior_type == "dirichlet_process"
        return expected_model(self.weight_concentration_, self.mean_precision_,
                              self.means_, self.degrees_of_freedom_,
                              self.precisions_cholesky_, self.covariance_type,
                              dirichlet_process, shift, dtype)

    def _pass(self, X, method, *, labels=False, resp=False):
        X, out = mixture_outputs(self, X, method, labels=labels, resp=resp,
                                 check_values=False)
        n = X.shape[0]
        model = self._model(X.dtype)
        with single_threaded_blas():
            # labels alone: the hard pass (no exponentials), as GaussianMixture
            model.run(X, np.ones(n, dtype=X.dtype), hard=labels and not resp,
                      n_threads=effective_n_threads(self.n_threads), **out)
        self._repair_far_rows(X, out, model)
        return out

    def _repair_far_rows(self, X, out, model):
        """Score again in NumPy the rows the kernel could not (their
        Mahalanobis distances overflow), as ``GaussianMixture`` does."""
        bad = np.flatnonzero(~np.isfinite(out["lse"]))
        if bad.size == 0:
            return
        check_finite(X[bad], "X")      # X's values were not checked before the pass
        k = self.means_.shape[0]
        log_p, key, base = component_log_densities(X[bad], np.ones(k), self.means_,
                                                   self.precisions_cholesky_,
                                                   self.covariance_type)
        # The kernel's log_norm less the plain Gaussian's: the variational shift.
        d = self.means_.shape[1]
        plain = component_log_densities(np.zeros((1, d)), np.ones(k), np.zeros((k, d)),
                                         self.precisions_cholesky_, self.covariance_type)[0]
        extra = model.log_norm - plain[0]
        lse, lab, resp = score_far_rows(log_p + extra, key, base + extra, False)
        out["lse"][bad] = lse
        if "labels" in out:
            out["labels"][bad] = lab
        if "resp" in out:
            out["resp"][bad] = resp

    def predict(self, X):
        """The most likely component of each row of X."""
        return self._pass(X, "predict", labels=True)["labels"]

    def predict_proba(self, X):
        """The responsibilities (rows sum to 1)."""
        return self._pass(X, "predict_proba", resp=True)["resp"]

    def score_samples(self, X):
        """The log of each row's (variational) weighted density, as
        scikit-learn's ``score_samples``."""
        return self._pass(X, "score_samples")["lse"]

    def score(self, X, y=None, sample_weight=None):
        """Mean (weighted) ``score_samples`` of X."""
        lse = self.score_samples(X)
        if sample_weight is None:
            return float(lse.mean())
        w = check_sample_weight(sample_weight, lse.shape[0], np.float64)
        return float(w @ lse / w.sum())

    def sample(self, n_samples=1):
        """Draw samples from the fitted mixture (its weights_, means_ and
        covariances_): returns (X, component labels)."""
        self._check_is_fitted("sample", "means_")
        return GaussianMixture.sample(self, n_samples)

    def __sklearn_tags__(self):
        return self._sklearn_tags(estimator_type="density_estimator")
