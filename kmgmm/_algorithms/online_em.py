"""Online (stepwise) EM for a Gaussian mixture (Cappé & Moulines, 2009).

Batch EM's M-step is a function of the sufficient statistics of the data:
the responsibility-weighted totals ``nk``, first moments ``s1`` and second
moments ``s2`` that one pass of the EM kernel returns (``engine.em_pass``).
Online EM keeps a running average of those statistics, each batch's
normalised by the batch's total weight,

    S_t = (1 - rho_t) S_{t-1} + rho_t s(batch_t),   rho_t = (t + t0) ** -kappa,

and takes the M-step from ``S_t`` after every batch.  With
0.5 < kappa <= 1 the steps sum to infinity and their squares do not, the
conditions under which the averages converge to a fixed point of EM on the
data's distribution.

The averages are held about the means the last batch's moments were taken
about (``frame``), as the kernel's are, and moved to the next batch's frame
before they are added: the means move little from one step to the next, so
the move loses nothing to cancellation (principle 7 of the style guide).
Rather than dividing every batch's statistics by its total weight, the
average is kept in units of the current batch's total weight (``scale``):
the previous average is multiplied by ``scale_t / scale_{t-1}``.  The
M-step does not depend on the units, and a step with ``rho = 1`` then takes
the batch's statistics exactly as they are, so that it is bit for bit one
iteration of batch EM.
"""
from dataclasses import dataclass

import numpy as np

from .._covariance import COVARIANCES
from .._gaussian import KernelModel, m_step, precision_cholesky


@dataclass(frozen=True)
class OnlineStatistics:
    """Averaged sufficient statistics, in ``m_step``'s layout.

    ``nk``, ``s1`` and ``s2`` are moments about ``frame`` (float64 means,
    shape (k, d)) in units of a total weight ``scale``; ``n_steps`` is the
    number of batches averaged so far.
    """

    nk: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    frame: np.ndarray
    scale: float
    n_steps: int


def step_size(step, decay, offset):
    """rho of step ``step`` (1 for the first): ``(step + offset) ** -decay``."""
    return float((step + offset) ** -decay)


def shift_moments(nk, s1, s2, delta, covariance_type):
    """Moments about means ``m`` as moments about ``m + delta`` (exact).

    ``sum r (x - m - delta) = s1 - nk delta`` and, for the second moments,
    ``sum r (x - m - delta)(...)^T = S - s1 delta^T - delta s1^T + nk delta delta^T``
    (its diagonal for diag and spherical, the sum over components for tied).
    """
    k, d = s1.shape
    new_s1 = s1 - nk[:, None] * delta
    kind = COVARIANCES[covariance_type].moments
    if kind in ("full", "tied"):
        cross = s1[:, :, None] * delta[:, None, :]
        corr = (nk[:, None, None] * delta[:, :, None] * delta[:, None, :]
                - cross - np.swapaxes(cross, 1, 2))
        if kind == "full":
            return new_s1, (s2.reshape(k, d, d) + corr).ravel()
        return new_s1, (s2.reshape(d, d) + corr.sum(axis=0)).ravel()
    if kind == "diag":
        S = s2.reshape(k, d) - 2 * s1 * delta + nk[:, None] * delta * delta
        return new_s1, S.ravel()
    return new_s1, s2


def moments_of_parameters(weights, means, cov, covariance_type, reg_covar):
    """The statistics (total weight 1) whose M-step gives back the parameters.

    Moments about ``means``: ``nk`` the weights, ``s1`` zero, ``s2`` the
    weights times the covariances without ``reg_covar`` (the M-step adds it
    again).  They stand for an initialisation, or a fitted model, in the
    average, as the statistics of the data it was estimated from would.
    """
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    k, d = means.shape
    nk = weights / weights.sum()
    kind = COVARIANCES[covariance_type].moments
    if covariance_type == "full":
        s2 = nk[:, None, None] * (cov - reg_covar * np.eye(d))
    elif covariance_type == "tied":
        s2 = cov - reg_covar * np.eye(d)
    elif covariance_type == "diag":
        s2 = nk[:, None] * (cov - reg_covar)
    elif kind == "diag":                      # spherical: every feature alike
        s2 = nk[:, None] * np.repeat((cov - reg_covar)[:, None], d, axis=1)
    else:
        s2 = np.zeros(0)
    return OnlineStatistics(nk, np.zeros((k, d)), s2.ravel(), means.copy(), 1.0, 0)


def online_step(engine, stats, weights, means, prec_chol, *, rho, covariance_type,
                reg_covar, variance, fixed_weights, hard, shift):
    """One online-EM step on the batch in ``engine``.

    The E-step is one pass of the EM kernel with the current parameters; its
    statistics join the average ``stats`` with weight ``rho``; the M-step
    (``m_step``, ``reg_covar`` on the diagonal) gives the new parameters.
    A component the batch leaves empty keeps the weight, mean and covariance
    the average gives it (``(1 - rho)`` times its previous statistics), so
    it never divides by zero.  ``fixed_weights`` (or None) replaces the
    estimated weights.  Returns a dict of the new parameters (float64), the
    batch's mean log-likelihood under the parameters it was scored with
    (``lower_bound``) and the new ``stats``.
    """
    model = KernelModel(weights, means, prec_chol, covariance_type, shift, engine.dtype)
    ll, (nk, s1, s2) = engine.em_pass(model, hard)
    scale = engine.total_weight
    frame = model.moment_means
    if rho != 1.0:
        old_s1, old_s2 = shift_moments(stats.nk, stats.s1, stats.s2, frame - stats.frame,
                                       covariance_type)
        keep = (1.0 - rho) * (scale / stats.scale)
        nk = keep * stats.nk + rho * nk
        s1 = keep * old_s1 + rho * s1
        s2 = keep * old_s2 + rho * s2
    weights, means, cov = m_step(nk, s1, s2, frame, covariance_type, reg_covar, variance)
    if fixed_weights is not None:
        weights = fixed_weights
    prec_chol = precision_cholesky(cov, covariance_type, reg_covar)
    return {
        "weights": np.asarray(weights, dtype=np.float64), "means": means,
        "cov": np.asarray(cov, dtype=np.float64), "prec_chol": prec_chol,
        "lower_bound": ll / scale,
        "stats": OnlineStatistics(nk, s1, s2, frame, scale, stats.n_steps + 1),
    }
