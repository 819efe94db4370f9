"""The online-EM state of a GaussianMixture in a model file.

``partial_fit`` keeps, between steps, the float64 parameters and the averaged
sufficient statistics (``_algorithms.online_em.OnlineStatistics``) in the
estimator's ``_online`` attribute.  A model file stores them as the float64
members ``online.weights``, ``online.means``, ``online.covariances``,
``online.nk``, ``online.s1``, ``online.s2`` (shaped as the type's second
moments), ``online.frame`` and the 0-d ``online.scale``, with the step count
in the scalar ``n_steps_`` (format version 2), so that ``load`` then
``partial_fit`` continues exactly as the estimator would have.  The
Cholesky factors are not stored: they are computed again from the
covariances, as the step computed them.

A file's state is checked like every other field: finite, weights and
averaged totals non-negative with a positive sum, a positive scale, positive
definite covariances, at least one step, and the state must be the one the
file's fitted parameters came from (each, in their dtype, equal to the
public arrays).  A file without the state (from an older kmgmm, or from
``fit``) loads as before, and ``partial_fit`` then restarts its averages from
the fitted parameters.
"""
import warnings

import numpy as np

from ._algorithms.online_em import OnlineStatistics
from ._covariance import COVARIANCES
from ._gaussian import precision_cholesky
from ._model_spec import ONLINE_PREFIX, _Invalid
from ._threads import single_threaded_blas

_PUBLIC = (("weights", "weights_"), ("means", "means_"),
           ("covariances", "covariances_"), ("prec_chol", "precisions_cholesky_"))


def online_members(estimator):
    """(members, n_steps) of the estimator's online-EM state, or ({}, None).

    A state that no longer belongs to the public parameters (they were set
    by hand since the last step) is left out with a warning: ``partial_fit`` of the loaded model then restarts its averages.
    """
    state = getattr(estimator, "_online", None)
    if state is None:
        return {}, None
    weights, means, cov, _, stats = state
    k, d = stats.s1.shape
    moments = COVARIANCES[estimator.covariance_type].moments_shape(k, d)
    members = {
        "weights": weights, "means": means, "covariances": cov, "nk": stats.nk,
        "s1": stats.s1, "s2": np.reshape(stats.s2, moments), "frame": stats.frame,
        "scale": np.asarray(stats.scale),
    }
    members = {ONLINE_PREFIX + name: np.array(value, dtype=np.float64, order="C")
               for name, value in members.items()}
    try:
        check_online(estimator, members, int(stats.n_steps))
    except (_Invalid, ValueError) as exc:
        warnings.warn(f"the online-EM state is not saved ({exc}); partial_fit of the "
                      "loaded model restarts its averages from the fitted parameters",
                      UserWarning, stacklevel=4)
        return {}, None
    return members, int(stats.n_steps)


def check_online(estimator, arrays, n_steps):
    """The ``_online`` tuple the ``online.*`` arrays describe, checked against
    the estimator's parameters and fitted arrays; raises _Invalid naming the
    problem."""
    def get(name):
        return arrays[ONLINE_PREFIX + name]

    if not isinstance(n_steps, int) or n_steps < 1:
        raise _Invalid(f"has an online-EM state after {n_steps!r} steps; it needs at "
                       "least 1")
    for key, value in arrays.items():
        if not np.isfinite(value).all():
            raise _Invalid(f"array {key!r} must hold finite floating-point values")
    for name in ("weights", "nk"):
        value = get(name)
        if np.any(value < 0) or not value.sum() > 0:
            raise _Invalid(f"array '{ONLINE_PREFIX}{name}' must hold non-negative "
                           "weights with a positive sum")
    scale = float(get("scale").item())   # one value (read back as shape (1,))
    if not scale > 0:
        raise _Invalid(f"array '{ONLINE_PREFIX}scale' must be a positive total weight")
    cov_type = estimator.covariance_type
    try:
        # Single-threaded as partial_fit computes them: a threaded LAPACK may
        # round a large factor differently.
        with single_threaded_blas():
            prec_chol = precision_cholesky(get("covariances"), cov_type,
                                           estimator.reg_covar)
    except ValueError:
        raise _Invalid(f"array '{ONLINE_PREFIX}covariances' must hold positive definite "
                       "covariances") from None
    values = {"weights": get("weights"), "means": get("means"),
              "covariances": get("covariances"), "prec_chol": prec_chol}
    for name, attr in _PUBLIC:
        public = np.asarray(getattr(estimator, attr))
        if not np.array_equal(values[name].astype(public.dtype), public):
            raise _Invalid(f"has an online-EM state that is not the one its {attr!r} "
                           "came from")
    stats = OnlineStatistics(get("nk").copy(), get("s1").copy(), get("s2").ravel().copy(),
                             get("frame").copy(), scale, n_steps)
    return (get("weights").copy(), get("means").copy(), get("covariances").copy(),
            prec_chol, stats)


def restore_online(estimator, state):
    """Give a loaded estimator the state ``check_online`` returned."""
    estimator._online = state
    estimator.n_steps_ = state[-1].n_steps
