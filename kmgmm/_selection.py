"""MixtureSelection: Gaussian mixtures over a grid of component counts and
covariance types, the best by BIC, ICL or AIC.

The sweep shares what a loop of ``GaussianMixture`` fits would repeat: X is
validated and its moments taken once; the k-means seeding of each number of
components is run once and serves every covariance type; the statistics of
its partition are taken once per k, in the richest form a requested type
needs (full second moments serve "tied", "diag" and "spherical" too).  Each
grid point then runs the same EM as ``GaussianMixture`` from the same start,
so its fit is the one ``GaussianMixture(n_components=k, covariance_type=t,
random_state=...)`` makes, and one last pass scores it (``_criteria``).
"""
import time

import numpy as np

from ._algorithms.em import em
from ._base import BaseEstimator
from ._covariance import COVARIANCES
from ._criteria import criteria
from ._engines import make_engine
from ._gaussian import m_step, precision_cholesky
from ._gmm import GaussianMixture
from ._kmeans import KMeans
from ._params import validate
from ._threads import single_threaded_blas
from ._validation import (
    as_float_array,
    check_features,
    check_random_state,
    feature_names_of,
    is_dask_collection,
)

SELECTION_TYPES = ("full", "tied", "diag", "spherical")
CRITERIA = ("bic", "icl", "aic")
SEEDINGS = ("kmeans", "k-means++", "random_from_data")
# A component holding less than two rows' weight (a weight of 1 is one row)
# is degenerate: no variance can be estimated from it, its covariance
# is little more than reg_covar, and the spike of likelihood it gives would
# win any criterion.
MIN_COMPONENT_ROWS = 2.0


def check_grid(n_components, covariance_types):
    """The grid's component counts (sorted, distinct ints >= 1) and types."""
    values = [n_components] if np.isscalar(n_components) else list(n_components)
    ks = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(
                f"n_components must hold integers (an int, a range or a list of "
                f"ints); got {v!r}.")
        if v < 1:
            raise ValueError(f"n_components holds {v}; every count must be >= 1.")
        ks.append(int(v))
    if not ks:
        raise ValueError("n_components is empty; pass e.g. range(1, 10).")
    types = [covariance_types] if isinstance(covariance_types, str) else list(covariance_types)
    for t in types:
        if t not in SELECTION_TYPES:
            raise ValueError(
                f"covariance_types holds {t!r}; the types are {SELECTION_TYPES}.")
    if not types:
        raise ValueError("covariance_types is empty; pass e.g. ('full', 'diag').")
    return sorted(set(ks)), list(dict.fromkeys(types))


def moments_for(base_kind, nk, s1, s2, k, d, covariance_type):
    """The M-step's statistics for ``covariance_type`` from those of a
    partition taken in the richer form ``base_kind`` ("full" or "diag")."""
    kind = COVARIANCES[covariance_type].moments
    if kind == base_kind:
        return nk, s1, s2
    if base_kind == "full":
        S = s2.reshape(k, d, d)
        if kind == "tied":
            return nk, s1, S.sum(axis=0).ravel()
        return nk, s1, S[:, np.arange(d), np.arange(d)].ravel()
    raise ValueError(f"cannot derive {covariance_type} moments from {base_kind} ones")


class MixtureSelection(BaseEstimator):
    """Gaussian mixtures fitted over a grid of ``n_components`` and covariance
    types; keeps the best by an information criterion.

    Parameters
    ----------
    n_components : int or iterable of int, default=(1, 2, ..., 9)
        The numbers of components to try (a ``range`` will do).
    covariance_types : iterable of str, default=("full", "tied", "diag", "spherical")
    criterion : {"bic", "icl", "aic"}, default="bic"
        Lower is better. ICL is BIC plus twice the entropy of the
        responsibilities: it prefers fewer, better separated components.
    n_init : int, default=1
        Seedings per number of components (each serves every covariance
        type); the best log-likelihood of a type's runs is kept.
    init_params : {"kmeans", "k-means++", "random_from_data"}, default="kmeans"
        How each number of components is seeded (as ``GaussianMixture``).
    tol, reg_covar, max_iter : as ``GaussianMixture``
    random_state : None, int or numpy.random.RandomState
        An int makes every grid point's fit that of
        ``GaussianMixture(..., random_state=random_state)``.
    n_threads : int or None, default=None
    verbose : int, default=0
        Print each grid point as it is fitted when > 0.

    Attributes
    ----------
    best_estimator_ : GaussianMixture
        The best grid point's mixture, fitted.
    best_params_ : dict
        ``{"n_components": k, "covariance_type": type}`` of the best.
    best_index_ : int
        Its position in ``results_``.
    results_ : dict of arrays, one entry per grid point (k-major order)
        ``n_components``, ``covariance_type``, ``bic``, ``icl``, ``aic``,
        ``log_likelihood`` (weighted mean per row), ``n_iter``,
        ``converged``, ``fit_time`` (seconds: the point's EM and scoring
        and a share of its k's seeding) and ``message`` (why a point
        failed, else ""). A failed or degenerate point (a covariance that
        cannot be estimated, a component holding less than two rows'
        weight, k above the number of rows) has ``converged=False`` and
        infinite criteria.
    n_features_in_ : int
    """

    _fitted_attribute = "best_estimator_"

    def __init__(self, n_components=(1, 2, 3, 4, 5, 6, 7, 8, 9), *,
                 covariance_types=("full", "tied", "diag", "spherical"), criterion="bic",
                 n_init=1, init_params="kmeans", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 random_state=None, n_threads=None, verbose=0):
        self.n_components = n_components
        self.covariance_types = covariance_types
        self.criterion = criterion
        self.n_init = n_init
        self.init_params = init_params
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def _mixture(self, k, covariance_type):
        return GaussianMixture(
            k, covariance_type=covariance_type, tol=self.tol, reg_covar=self.reg_covar,
            max_iter=self.max_iter, n_init=self.n_init, init_params=self.init_params,
            random_state=self.random_state, n_threads=self.n_threads)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None):
        """Fit every grid point on X and keep the best.

        Sample weights count as repeated rows: a weight of 2 is the row
        twice, and the criteria's n is the total weight.
        X may be a Dask array or DataFrame: every pass then runs on the
        cluster, as ``GaussianMixture``'s do.
        """
        validate(self)
        ks, types = check_grid(self.n_components, self.covariance_types)
        names = feature_names_of(X)
        engine, self._unit = make_engine(X, sample_weight, self.n_threads,
                                         allow_sparse=False)
        moments = engine.moments()          # also checks X's values
        probe = self._mixture(1, types[0])
        probe._check_fit_scale(moments, engine.dtype)
        # The data do not change during the sweep: every fit (and every
        # k-means seeding) takes these moments instead of another pass.
        engine.moments = lambda: moments
        shift = moments.mean
        rows = []
        with single_threaded_blas():
            for k in ks:
                rows.extend(self._fit_k(engine, k, types, shift))
        self._finish(engine, names, rows, types)
        return self

    def _fit_k(self, engine, k, types, shift):
        """The grid points of one k: one seeding (per init) for every type."""
        if k > engine.n_samples:
            return [self._failed(k, t, 0.0, f"n_components={k} exceeds the "
                                 f"{engine.n_samples} rows") for t in types]
        start = time.perf_counter()
        random_state = check_random_state(self.random_state)
        base_kind = "full" if any(COVARIANCES[t].has_matrix for t in types) else "diag"
        starts = []
        try:
            for _ in range(self.n_init):
                seeds, labels = self._seeding(engine, k, random_state)
                starts.append(engine.mixture_moments(seeds, k, base_kind, random_state,
                                                     shift, labels=labels))
        except ValueError as exc:     # e.g. fewer rows of positive weight than k
            elapsed = (time.perf_counter() - start) / len(types)
            return [self._failed(k, t, elapsed, f"seeding failed: {exc}") for t in types]
        share = (time.perf_counter() - start) / len(types)
        d = engine.n_features
        rows = []
        for t in types:
            begin = time.perf_counter()
            best, message = None, ""
            for nk, s1, s2, means in starts:
                try:
                    result = self._em(engine, nk, s1, s2, means, k, d, base_kind, t, shift)
                except (ValueError, FloatingPointError) as exc:
                    message = str(exc)
                    continue
                if best is None or result["lower_bound"] > best["lower_bound"]:
                    best = result
            elapsed = time.perf_counter() - begin + share
            if best is None:
                rows.append(self._failed(k, t, elapsed, message))
                continue
            best["fit_time"] = elapsed
            rows.append(best)
            if self.verbose:
                print(f"n_components={k}, covariance_type={t}: "
                      f"{self.criterion} {best[self.criterion]:.8g}, "
                      f"{best['n_iter']} iterations, {elapsed:.2f} s")
        return rows

    def _seeding(self, engine, k, random_state):
        """(seeds, their partition's labels or None) for k components."""
        if self.init_params == "kmeans":
            km = KMeans(k, n_init=1, random_state=random_state,
                        n_threads=self.n_threads)._fit_engine(engine, quiet=True)
            labels = np.array(km.labels_) if engine.keeps_labels else None
            return km.cluster_centers_, labels
        init = "k-means++" if self.init_params == "k-means++" else "random"
        return engine.seed(init, k, random_state), None

    def _em(self, engine, nk, s1, s2, means, k, d, base_kind, covariance_type, shift):
        """One grid point's EM from the shared partition statistics, scored."""
        nk, s1, s2 = moments_for(base_kind, nk, s1, s2, k, d, covariance_type)
        weights, means, cov = m_step(nk, s1, s2, means, covariance_type,
                                     self.reg_covar, None)
        prec_chol = precision_cholesky(cov, covariance_type, self.reg_covar)
        result = em(engine, weights, means, cov, prec_chol,
                    covariance_type=covariance_type, reg_covar=self.reg_covar,
                    variance=None, estimate_weights=True, hard=False, shift=shift,
                    w_total=engine.total_weight, max_iter=self.max_iter, tol=self.tol)
        n_rows = engine.total_weight * self._unit     # weights count as rows
        if result["weights"].min() * n_rows < MIN_COMPONENT_ROWS * (1 - 1e-9):
            raise ValueError("a component holds less than two rows' weight "
                             "(a collapsed component)")
        result.update(criteria(engine, result["weights"], result["means"],
                               result["prec_chol"], covariance_type, shift, self._unit))
        result.update(n_components=k, covariance_type=covariance_type, message="")
        return result

    @staticmethod
    def _failed(k, covariance_type, elapsed, message):
        return {"n_components": k, "covariance_type": covariance_type, "bic": np.inf,
                "icl": np.inf, "aic": np.inf, "log_likelihood": np.nan, "n_iter": 0,
                "converged": False, "fit_time": elapsed,
                "message": message or "the fit failed"}

    def _finish(self, engine, names, rows, types):
        self.results_ = {
            "n_components": np.array([r["n_components"] for r in rows], dtype=np.intp),
            "covariance_type": np.array([r["covariance_type"] for r in rows],
                                        dtype=f"<U{max(map(len, types))}"),
            **{c: np.array([float(r[c]) for r in rows]) for c in CRITERIA},
            "log_likelihood": np.array([float(r["log_likelihood"]) for r in rows]),
            "n_iter": np.array([int(r["n_iter"]) for r in rows], dtype=np.intp),
            "converged": np.array([bool(r["converged"]) for r in rows]),
            "fit_time": np.array([float(r["fit_time"]) for r in rows]),
            "message": np.array([r["message"] for r in rows], dtype=object).astype(str),
        }
        scores = self.results_[self.criterion]
        if not np.any(np.isfinite(scores)):
            reasons = "; ".join(sorted(set(self.results_["message"])))
            raise ValueError(
                f"Every grid point failed on n_samples={engine.n_samples} rows "
                f"({reasons}); lower n_components, raise reg_covar, or check the data.")
        best = int(np.argmin(scores))       # the first of equal scores
        row = rows[best]
        self.best_index_ = best
        self.best_params_ = {"n_components": int(row["n_components"]),
                             "covariance_type": str(row["covariance_type"])}
        model = self._mixture(row["n_components"], row["covariance_type"])
        model._set_fitted(engine, names, row, stacklevel=5)
        self.best_estimator_ = model
        check_features(self, engine, names, reset=True)

    # -------------------------------------------------------- delegation
    def _best(self, X, method):
        self._check_is_fitted(method, "best_estimator_")
        if not is_dask_collection(X):
            # Checked here so that a mismatch names this estimator.
            check_features(self, as_float_array(X, check_values=False),
                           feature_names_of(X), reset=False)
        return self.best_estimator_

    def predict(self, X):
        """The best mixture's most likely component of each row of X."""
        return self._best(X, "predict").predict(X)

    def predict_proba(self, X):
        """The best mixture's responsibilities for the rows of X."""
        return self._best(X, "predict_proba").predict_proba(X)

    def score_samples(self, X):
        """The best mixture's log-likelihood of each row of X."""
        return self._best(X, "score_samples").score_samples(X)

    def score(self, X, y=None, sample_weight=None):
        """The best mixture's mean (weighted) log-likelihood per row of X."""
        return self._best(X, "score").score(X, sample_weight=sample_weight)

    def bic(self, X):
        return self._best(X, "bic").bic(X)

    def aic(self, X):
        return self._best(X, "aic").aic(X)

    def __sklearn_tags__(self):
        return self._sklearn_tags(estimator_type="density_estimator")
