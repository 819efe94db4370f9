"""``GaussianMixture.partial_fit``: one batch checked as ``fit`` checks X, the
first batch initialised as ``fit`` would, then one online-EM step
(``_algorithms.online_em``).  The averaged statistics and the float64
parameters between steps live in the estimator's ``_online`` attribute; a
``fit`` drops it."""
import numpy as np

from ._algorithms.em import ROUNDING
from ._algorithms.online_em import moments_of_parameters, online_step, step_size
from ._engines import make_engine
from ._gaussian import covariance_shape
from ._gmm_init import initial_parameters
from ._threads import single_threaded_blas
from ._validation import check_features, check_random_state, feature_names_of


def _continues(gm, n_features):
    """Whether a step continues the fitted model (same shape and type), or
    starts afresh on the batch."""
    if not hasattr(gm, "means_"):
        return False
    k = gm.n_components
    return (gm.means_.shape == (k, n_features)
            and getattr(gm, "_fitted_covariance_type", gm.covariance_type)
            == gm.covariance_type
            and gm.covariances_.shape == covariance_shape(gm.covariance_type, k, n_features))


def _fitted_state(gm):
    """(weights, means, cov, prec_chol, stats) of the fitted model, float64."""
    state = getattr(gm, "_online", None)
    if state is not None:
        return state
    params = [np.asarray(getattr(gm, name), dtype=np.float64)
              for name in ("weights_", "means_", "covariances_", "precisions_cholesky_")]
    stats = moments_of_parameters(*params[:3], gm.covariance_type, gm.reg_covar)
    return (*params, stats)


def partial_fit(gm, X, sample_weight):
    """One online-EM step of ``gm`` on the batch X (see ``GaussianMixture.partial_fit``)."""
    names = feature_names_of(X)
    fitted = hasattr(gm, "means_")
    continues = fitted and _continues(gm, gm.n_features_in_)
    engine, _ = make_engine(X, sample_weight, gm.n_threads, allow_sparse=False,
                            dtype=gm.means_.dtype if continues else None)
    weights_init, means_init, prec_init = gm._check_params(engine)
    if fitted:
        check_features(gm, engine, names, reset=False)
    if not continues:
        gm._check_fit_shape(engine)          # enough rows to initialise from
    moments = engine.moments()               # also refuses NaN and infinity
    gm._check_fit_scale(moments, engine.dtype)
    decay, offset = float(gm.learning_decay), float(gm.learning_offset)
    step_kw = {"covariance_type": gm.covariance_type, "reg_covar": gm.reg_covar,
                   "variance": gm.variance, "hard": gm.assignment == "hard", "shift": moments.mean}

    with single_threaded_blas():
        if continues:
            weights, means, _, prec_chol, stats = _fitted_state(gm)
            rho = step_size(stats.n_steps + 1, decay, offset)
            best = online_step(engine, stats, weights, means, prec_chol, rho=rho,
                               fixed_weights=None if gm.estimate_weights else weights,
                               **step_kw)
            previous = gm.lower_bound_
            history = list(gm.lower_bounds_) if hasattr(gm, "_online") else []
            names = getattr(gm, "feature_names_in_", None)
        else:
            rho = step_size(1, decay, offset)
            random_state = check_random_state(gm.random_state)
            best = None
            for _ in range(gm.n_init):
                weights, means, cov, prec_chol = gm._initial_state(
                    lambda: initial_parameters(
                        engine, gm.n_components, init_params=gm.init_params,
                        means_init=means_init, covariance_type=gm.covariance_type,
                        reg_covar=gm.reg_covar, variance=gm.variance,
                        random_state=random_state, n_threads=gm.n_threads,
                        shift=moments.mean),
                    weights_init, means_init, prec_init)
                stats = moments_of_parameters(weights, means, cov, gm.covariance_type,
                                              gm.reg_covar)
                result = online_step(
                    engine, stats, weights, means, prec_chol, rho=rho,
                    fixed_weights=None if gm.estimate_weights else weights, **step_kw)
                if best is None or result["lower_bound"] > best["lower_bound"]:
                    best = result
            previous = -np.inf
            history = []

    bound = best["lower_bound"]
    change = bound - previous
    stats = best["stats"]
    best.update(lower_bounds=history + [bound], n_iter=stats.n_steps,
                converged=bool(abs(change) < gm.tol
                               or abs(change) <= ROUNDING * abs(bound)))
    gm._set_fitted(engine, names, best, stacklevel=4, warn=False)
    gm._online = (best["weights"], best["means"], best["cov"], best["prec_chol"], stats)
    gm.n_steps_ = stats.n_steps
    if gm.verbose:
        print(f"Online EM step {stats.n_steps}: rho {rho:.4g}, batch log-likelihood "
              f"{bound:.8g}, change {change:.3g}")
    return gm
