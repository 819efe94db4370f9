"""EM for a Gaussian mixture, soft (EM) or hard (classification EM), once,
for every engine: each iteration is one pass of the engine's EM kernel, then
the M-step in NumPy from the pass's statistics (``_gaussian.m_step``)."""
import time

import numpy as np

from .._fit_events import logger
from .._gaussian import KernelModel, m_step, precision_cholesky

# A change of the lower bound within this multiple of its magnitude is
# rounding (the bound is a sum over the rows in float64): EM has converged.
ROUNDING = 64 * np.finfo(np.float64).eps


def em(engine, weights, means, cov, prec_chol, *, covariance_type, reg_covar, variance,
       estimate_weights, hard, shift, w_total, max_iter, tol, verbose=0, callback=None,
       run=0, previous_bound=-np.inf):
    """EM iterations on ``engine`` from the given parameters.

    Converged when the lower bound changes by less than ``tol``, or by no
    more than its own rounding (``ROUNDING`` times its magnitude: at a tiny
    fixed variance the bound is huge and a change of one unit in its last
    place is all that is left).  A warm start passes the previous fit's bound
    as ``previous_bound``, which the first change is taken from (so repeated
    one-iteration warm fits do converge).  ``callback(n_iter, bound, change)``
    is called after every iteration; when it returns True the run stops
    there, not converged.  Returns a dict of the parameters
    (float64), the bound, its history, ``converged`` and ``n_iter``.
    """
    fixed_weights = weights if not estimate_weights else None
    lower_bound = previous_bound
    lower_bounds = []
    converged = False
    n_iter = 0
    start = time.perf_counter()
    # The tied scatter of the rows about the shift, the same at every
    # iteration: computed by the first pass, kept here for the others.
    scatter = {} if covariance_type == "tied" else None
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        model = KernelModel(weights, means, prec_chol, covariance_type, shift,
                            engine.dtype)
        ll, (nk, s1, s2) = engine.em_pass(model, hard, scatter)
        lower_bound = ll / w_total
        weights, means, cov = m_step(nk, s1, s2, model.moment_means, covariance_type,
                                     reg_covar, variance)
        if fixed_weights is not None:
            weights = fixed_weights
        prec_chol = precision_cholesky(cov, covariance_type, reg_covar)
        lower_bounds.append(lower_bound)
        change = lower_bound - previous
        if verbose:
            logger.info(f"Initialisation {run + 1}, iteration {n_iter}: "
                  f"log-likelihood {lower_bound:.8g}, change {change:.3g}, "
                  f"{time.perf_counter() - start:.2f} s")
        if callback is not None and callback(n_iter, lower_bound, change) is True:
            if verbose:
                logger.info(f"Stopped at iteration {n_iter}: the callback asked to.")
            break
        if abs(change) < tol or abs(change) <= ROUNDING * abs(lower_bound):
            converged = True
            if verbose:
                logger.info(f"Converged at iteration {n_iter}.")
            break
    return {
        "weights": np.asarray(weights, dtype=np.float64), "means": means,
        "cov": np.asarray(cov, dtype=np.float64), "prec_chol": prec_chol,
        "lower_bound": lower_bound, "lower_bounds": lower_bounds,
        "converged": converged, "n_iter": n_iter,
    }
