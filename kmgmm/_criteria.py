"""The information criteria of a fitted Gaussian mixture from one EM pass over
the data at its parameters, on any engine (in memory or on Dask).

BIC = -2 log L + p log n, AIC = -2 log L + 2 p, and ICL = BIC + 2 E, where
E = -sum_i sum_j r_ij log r_ij is the entropy of the responsibilities
(Biernacki, Celeux and Govaert, 2000): ICL penalises components whose
responsibilities overlap, so it prefers fewer, well separated clusters.

The entropy needs no responsibilities: with log p_ij = log(w_j N(x_i | j))
and log L_i = log sum_j p_ij, r_ij = p_ij / L_i gives

    E = sum_i log L_i - sum_j sum_i r_ij log p_ij
      = log L - sum_j (n_j log c_j - tr(Lambda_j S_j) / 2),

with c_j the normalising constant (times the weight) and S_j the weighted
second moments about the mean, both of which the EM pass returns (the
expected complete-data log-likelihood is linear in them).  So one pass of the
fused kernel gives log L and E together and nothing of size n_samples x
n_components is built.
"""
import numpy as np

from ._gaussian import KernelModel, n_parameters, precisions_from_cholesky


def expected_complete_loglik(model, nk, s2, covariance_type):
    """sum_ij r_ij log(w_j N(x_i | j)) from an EM pass's statistics at ``model``
    (``s2``: second moments about the model's means, ``m_step``'s layout)."""
    k, d = model.mu.shape
    prec = precisions_from_cholesky(model.prec_chol, covariance_type)
    if covariance_type == "full":
        quad = np.einsum("kij,kij->k", prec, s2.reshape(k, d, d)).sum()
    elif covariance_type == "tied":
        quad = np.einsum("ij,ij->", prec, s2.reshape(d, d))
    elif covariance_type == "diag":
        quad = np.sum(prec * s2.reshape(k, d))
    else:
        quad = np.sum(prec * s2.reshape(k, d).sum(axis=1))
    with np.errstate(invalid="ignore"):
        # an empty component (nk 0, log weight -inf) adds nothing
        terms = np.where(nk > 0, nk * model.log_norm, 0.0)
    return float(terms.sum() - 0.5 * quad)


def criteria(engine, weights, means, prec_chol, covariance_type, shift, unit=1.0):
    """{"log_likelihood", "bic", "aic", "icl"} of a mixture on the engine's data.

    ``log_likelihood`` is the weighted mean per row.  Sample weights count as
    repeated rows (a weight of 2 is the row twice): the sums are in the
    caller's weights (the engine's times ``unit``, see ``make_engine``) and
    ``n`` is their total; without weights ``bic`` and ``aic`` are
    ``GaussianMixture.bic`` and ``aic``.  Raises FloatingPointError when the
    log-likelihood is not finite.
    """
    model = KernelModel(weights, means, prec_chol, covariance_type, shift, engine.dtype)
    model.prec_chol = np.asarray(prec_chol, dtype=np.float64)
    loglik, (nk, _, s2) = engine.em_pass(model, False)
    # The two sums agree to rounding when the clusters do not overlap: the
    # entropy is then 0, never below.
    entropy = max(loglik - expected_complete_loglik(model, nk, s2, covariance_type), 0.0)
    n = engine.total_weight * unit
    k, d = np.shape(means)
    p = n_parameters(covariance_type, k, d)
    bic = -2.0 * loglik * unit + p * np.log(n)
    out = {"log_likelihood": loglik / engine.total_weight, "bic": bic,
           "aic": -2.0 * loglik * unit + 2.0 * p, "icl": bic + 2.0 * entropy * unit}
    if not all(np.isfinite(v) for v in out.values()):
        raise FloatingPointError("the mixture's log-likelihood is not finite")
    return out
