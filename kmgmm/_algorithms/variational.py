"""Variational inference for a Bayesian Gaussian mixture (Bishop, *Pattern
Recognition and Machine Learning*, 10.2; Blei & Jordan 2006 for the
Dirichlet process), once, for every engine.

The posterior is a Dirichlet (or stick-breaking Beta) distribution over the
weights and a Gaussian-Wishart distribution over each component's mean and
precision.  Its expected log-responsibilities are

    log r_ij = E[log pi_j] + E[log |Lambda_j|] / 2 - d/2 log 2 pi
               - d / (2 beta_j) - nu_j / 2 (x_i - m_j)^T W_j (x_i - m_j) + const,

which is the log-density of ``N(x_i | m_j, C_j)`` with ``C_j = (nu_j W_j)^-1``
(the attribute ``covariances_``) plus a per-component constant.  So the
variational E-step is one pass of the ordinary EM kernel (``src/_em.pyx``)
with that Gaussian's precision Cholesky factor and ``log_norm[j]`` shifted by

    E[log pi_j] - d/2 log nu_j + (d log 2 + sum_i psi((nu_j - i) / 2) - d / beta_j) / 2,

and the kernel's sufficient statistics (``nk``, first and second moments)
are all the variational M-step needs.  The lower bound is scikit-learn's
(``BayesianGaussianMixture._compute_lower_bound``); its one data term, the
entropy of the responsibilities ``sum_ij w_i r_ij log r_ij``, follows from the
same statistics: ``log r_ij = log p_ij - lse_i`` and ``log p_ij`` is
``log_norm_j - maha_ij / 2``, so the sum is
``sum_j nk_j log_norm_j - sum_j tr(P_j S_j) / 2 - sum_i w_i lse_i`` with
``S_j`` the responsibility-weighted scatter about the means the pass used.

Sample weights count as repeated rows: ``nk`` and the moments are in the
caller's units of weight (the engine's statistics times its weight unit).
"""
import time
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln

from .._covariance import COVARIANCES
from .._gaussian import KernelModel, log_det_cholesky, precision_cholesky

# scikit-learn adds this to every component's total responsibility (an
# absolute amount: weights are counts of rows here).
NK_FLOOR = 10 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class Priors:
    """The prior of a Bayesian Gaussian mixture, resolved against the data."""

    covariance_type: str
    dirichlet_process: bool       # else a (finite) Dirichlet distribution
    weight_concentration: float
    mean_precision: float
    mean: np.ndarray              # (d,)
    degrees_of_freedom: float
    covariance: object            # (d, d) full/tied, (d,) diag, float spherical
    reg_covar: float


@dataclass
class Posterior:
    """The variational posterior, float64 (attribute names as the estimator's)."""

    weight_concentration: np.ndarray   # (2, k) for a Dirichlet process, else (k,)
    mean_precision: np.ndarray         # (k,)
    means: np.ndarray                  # (k, d)
    degrees_of_freedom: object         # (k,), or a float for "tied"
    covariances: np.ndarray            # E[precision]^-1, shape by covariance type
    precisions_cholesky: np.ndarray


# ------------------------------------------------------------- the M-step
def _scatter(nk, s1, s2, delta, kind):
    """Second moments about ``about + delta`` from moments about ``about``."""
    k, d = s1.shape
    if kind in ("full", "tied"):
        S = s2.reshape(k, d, d) if kind == "full" else s2.reshape(d, d)
        cross = s1[:, :, None] * delta[:, None, :]
        corr = cross + np.swapaxes(cross, 1, 2) - nk[:, None, None] * (
            delta[:, :, None] * delta[:, None, :])
        return S - corr if kind == "full" else S - corr.sum(axis=0)
    return s2.reshape(k, d) - 2 * s1 * delta + nk[:, None] * delta * delta


def posterior_from_moments(nk, s1, s2, about, priors):
    """The variational M-step: the posterior given the responsibilities'
    statistics (scikit-learn's ``_m_step`` and ``_initialize``).

    ``nk`` (k,) are the total responsibilities, ``s1`` (k, d) and ``s2`` the
    first and second moments about ``about`` (k, d), in the layout
    ``_gaussian.m_step`` takes, all in units of rows.  Starting a fit from
    given responsibilities is this call on their statistics.
    """
    cov_type = priors.covariance_type
    kind = COVARIANCES[cov_type].moments
    k, d = s1.shape
    scatter_nk = nk
    nk = nk + NK_FLOOR
    delta = s1 / nk[:, None]
    xk = about + delta                      # the responsibility-weighted means
    scatter = _scatter(scatter_nk, s1, s2, delta, kind)
    reg = priors.reg_covar

    if priors.dirichlet_process:
        tail = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0.0))
        concentration = np.stack([1.0 + nk, priors.weight_concentration + tail])
    else:
        concentration = priors.weight_concentration + nk

    beta0, m0 = priors.mean_precision, priors.mean
    mean_precision = beta0 + nk
    means = (beta0 * m0 + nk[:, None] * xk) / mean_precision[:, None]
    diff = xk - m0
    shrink = beta0 / mean_precision        # beta0 / beta_k
    if cov_type == "full":
        dof = priors.degrees_of_freedom + nk
        sk = scatter / nk[:, None, None]
        sk[:, np.arange(d), np.arange(d)] += reg
        cov = (priors.covariance + nk[:, None, None] * sk
               + (nk * shrink)[:, None, None] * diff[:, :, None] * diff[:, None, :])
        cov /= dof[:, None, None]
    elif cov_type == "tied":
        total = nk.sum()
        dof = priors.degrees_of_freedom + total / k
        sk = scatter / total
        sk.flat[:: d + 1] += reg
        cov = (priors.covariance + sk * total / k
               + beta0 / k * ((nk / mean_precision) * diff.T) @ diff)
        cov /= dof
    else:
        dof = priors.degrees_of_freedom + nk
        sk = scatter / nk[:, None] + reg
        if cov_type == "diag":
            cov = priors.covariance + nk[:, None] * (sk + shrink[:, None] * diff * diff)
            cov /= dof[:, None]
        else:
            cov = priors.covariance + nk * (sk.mean(axis=1)
                                            + shrink * np.mean(diff * diff, axis=1))
            cov /= dof
    prec_chol = precision_cholesky(cov, cov_type, reg)
    return Posterior(concentration, mean_precision, means, dof, cov, prec_chol)


# ------------------------------------------------------------- the E-step
def expected_log_weights(concentration, dirichlet_process):
    """E[log pi_j] under the weights' posterior."""
    concentration = np.asarray(concentration, dtype=np.float64)
    if dirichlet_process:
        a, b = concentration
        total = digamma(a + b)
        log_b = np.cumsum(digamma(b) - total)
        return digamma(a) - total + np.hstack((0.0, log_b[:-1]))
    return digamma(concentration) - digamma(concentration.sum())


def log_density_shift(mean_precision, degrees_of_freedom, n_features):
    """What the expected log-determinant and the mean's uncertainty add to
    the log-density of N(x | means, covariances), per component."""
    nu = np.asarray(degrees_of_freedom, dtype=np.float64)
    d = n_features
    half = 0.5 * (np.atleast_1d(nu)[None, :] - np.arange(d)[:, None])
    log_lambda = d * np.log(2.0) + digamma(half).sum(axis=0)
    if nu.ndim == 0:
        log_lambda = log_lambda[0]
    beta = np.asarray(mean_precision, dtype=np.float64)
    return -0.5 * d * np.log(nu) + 0.5 * (log_lambda - d / beta)


def expected_model(concentration, mean_precision, means, degrees_of_freedom,
                   prec_chol, covariance_type, dirichlet_process, shift, dtype):
    """The ``KernelModel`` whose pass is the variational E-step."""
    k, d = np.shape(means)
    model = KernelModel(np.ones(k), means, prec_chol, covariance_type, shift, dtype)
    extra = (expected_log_weights(concentration, dirichlet_process)
             + log_density_shift(mean_precision, degrees_of_freedom, d))
    model.log_norm = np.ascontiguousarray(model.log_norm + extra, dtype=np.float64)
    return model


def responsibility_entropy(model, prec_chol, ll, nk, s2):
    """``sum_ij w_i r_ij log r_ij`` of a pass of ``model`` (module docstring).

    ``nk`` and ``s2`` are the pass's statistics (about ``model.moment_means``,
    so ``s2`` is the scatter about the means the pass used), ``ll`` its
    ``sum_i w_i lse_i``, ``prec_chol`` the precisions' factors it used.
    """
    cov_type = model.covariance_type
    k, d = model.mu.shape
    L = np.asarray(prec_chol, dtype=np.float64)
    if cov_type == "full":
        P = np.einsum("kij,klj->kil", L, L)
        trace = np.einsum("kij,kij->", P, s2.reshape(k, d, d))
    elif cov_type == "tied":
        trace = np.einsum("ij,ij->", L @ L.T, s2.reshape(d, d))
    else:
        p2 = np.broadcast_to((L ** 2).reshape(k, -1), (k, d))
        trace = np.einsum("kj,kj->", p2, s2.reshape(k, d))
    return float(nk @ model.log_norm - 0.5 * trace - ll)


# ----------------------------------------------------------- the bound
def lower_bound(post, priors, entropy):
    """scikit-learn's variational lower bound of ``post``, given the entropy
    term ``sum_ij w_i r_ij log r_ij`` of the E-step that led to it."""
    cov_type = priors.covariance_type
    d = priors.mean.shape[0]
    k = post.means.shape[0]
    nu = np.asarray(post.degrees_of_freedom, dtype=np.float64)
    log_det = log_det_cholesky(post.precisions_cholesky, cov_type, d) - 0.5 * d * np.log(nu)
    half = 0.5 * (np.atleast_1d(nu)[None, :] - np.arange(d)[:, None])
    log_wishart = -(nu * log_det + nu * d * 0.5 * np.log(2.0)
                    + gammaln(half).sum(axis=0).reshape(nu.shape))
    log_wishart = k * float(log_wishart) if cov_type == "tied" else float(np.sum(log_wishart))
    wc = post.weight_concentration
    if priors.dirichlet_process:
        log_norm_weight = -float(np.sum(betaln(wc[0], wc[1])))
    else:
        log_norm_weight = float(gammaln(wc.sum()) - np.sum(gammaln(wc)))
    return (-entropy - log_wishart - log_norm_weight
            - 0.5 * d * float(np.sum(np.log(post.mean_precision))))


# ------------------------------------------------------------ iterations
def variational_em(engine, post, priors, *, shift, weight_unit, max_iter, tol,
                   verbose=0, callback=None, run=0, previous_bound=-np.inf):
    """Variational EM iterations on ``engine`` from the posterior ``post``.

    As scikit-learn: converged when the lower bound (a sum over the rows, not
    a mean) changes by less than ``tol``; a warm start passes its previous
    bound as ``previous_bound``.  Returns a dict: the posterior, the bound,
    its history, ``converged`` and ``n_iter``.
    """
    cov_type = priors.covariance_type
    bound = previous_bound
    bounds = []
    converged = False
    n_iter = 0
    start = time.perf_counter()
    for n_iter in range(1, max_iter + 1):
        previous = bound
        model = expected_model(post.weight_concentration, post.mean_precision, post.means,
                               post.degrees_of_freedom, post.precisions_cholesky, cov_type,
                               priors.dirichlet_process, shift, engine.dtype)
        ll, (nk, s1, s2) = engine.em_pass(model, False)
        entropy = weight_unit * responsibility_entropy(model, post.precisions_cholesky,
                                                       ll, nk, s2)
        post = posterior_from_moments(nk * weight_unit, s1 * weight_unit,
                                      s2 * weight_unit, model.moment_means, priors)
        bound = lower_bound(post, priors, entropy)
        bounds.append(bound)
        change = bound - previous
        if verbose:
            print(f"Initialisation {run + 1}, iteration {n_iter}: lower bound "
                  f"{bound:.10g}, change {change:.3g}, "
                  f"{time.perf_counter() - start:.2f} s")
        if callback is not None:
            callback(n_iter, bound, change)
        if abs(change) < tol:
            converged = True
            if verbose:
                print(f"Converged at iteration {n_iter}.")
            break
    return {"posterior": post, "lower_bound": bound, "lower_bounds": bounds,
            "converged": converged, "n_iter": n_iter}


# -------------------------------------------------------- the default prior
def data_covariance(engine, covariance_type, shift, scale, weight_unit):
    """The data's covariance as the default ``covariance_prior`` takes it
    (``np.cov`` of the rows, each counted ``weight`` times, so with Bessel's
    correction on the total weight): (d, d) for full and tied, the variances
    (d,) for diag, their mean for spherical.

    One pass of the EM kernel with a single component centred on ``shift``
    (responsibilities all 1) gives the weighted scatter on any engine;
    ``scale`` (about the data's spread) keeps its log-densities finite.
    """
    d = engine.n_features
    matrix = COVARIANCES[covariance_type].has_matrix
    kernel_type = "full" if matrix else "diag"
    chol = (np.eye(d)[None] if matrix else np.ones((1, d))) / scale
    model = KernelModel(np.ones(1), np.asarray(shift, dtype=np.float64)[None], chol,
                        kernel_type, shift, engine.dtype)
    _, (nk, s1, s2) = engine.em_pass(model, False)
    total = float(nk[0]) * weight_unit
    if not total > 1.0:
        raise ValueError(
            f"the total sample weight is {total:.6g}; the default covariance_prior "
            "(the data's covariance, with Bessel's correction) needs a total weight "
            "above 1 (weights count as repeated rows): pass covariance_prior or "
            "larger weights.")
    s1 = s1[0] * weight_unit
    if matrix:
        scatter = s2.reshape(d, d) * weight_unit - np.outer(s1, s1) / total
        cov = 0.5 * (scatter + scatter.T) / (total - 1.0)
        return cov
    var = (s2.reshape(d) * weight_unit - s1 * s1 / total) / (total - 1.0)
    return var if covariance_type == "diag" else float(var.mean())
