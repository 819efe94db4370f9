"""Gaussian-mixture parameters: the M-step from sufficient statistics, the
precision Cholesky factors, and the operands the EM kernel takes.

Everything here is float64 NumPy/SciPy on arrays of size O(k d^2); the
per-sample work lives in ``src/_em.pyx``.  Shapes by covariance type:

========== ================ ======================================
type       covariances_      precisions_cholesky_
========== ================ ======================================
full       (k, d, d)         (k, d, d), ``precision = P @ P.T``
tied       (d, d)            (d, d)
diag       (k, d)            (k, d), ``1 / sqrt(variance)``
spherical  (k,)              (k,)
fixed      (k,), all equal   (k,); the variance is given, not fitted
========== ================ ======================================
"""
import numpy as np
from scipy import linalg

from . import _kernels
from ._covariance import COVARIANCE_TYPES, COVARIANCES  # noqa: F401 (re-exported)
from ._validation import check_finite


# Added to every component's weight (relative to the total weight), so that
# an empty component divides safely without moving the others' estimates.
_EPS = 10 * np.finfo(np.float64).eps

_ILL_DEFINED = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton or "
    "collapsed samples); increase reg_covar (currently {reg}), decrease "
    "n_components, or scale the input data."
)


def covariance_shape(covariance_type, n_components, n_features):
    """Expected shape of covariances_ (and precisions_) for a covariance type."""
    return COVARIANCES[covariance_type].shape(n_components, n_features)


def n_parameters(covariance_type, n_components, n_features):
    """Number of free parameters of the model (for BIC and AIC)."""
    k, d = n_components, n_features
    return COVARIANCES[covariance_type].n_free(k, d) + k * d + k - 1


def m_step(nk, s1, s2, means_old, covariance_type, reg_covar, variance):
    """New (weights, means, covariances) from the kernel's statistics.

    ``s1`` and ``s2`` are moments about ``means_old`` (see ``src/_em.pyx``);
    the covariances are the weighted second moments about the new means,
    plus ``reg_covar`` on the diagonal.
    """
    k, d = means_old.shape
    nk_reg = nk + _EPS * nk.sum()         # an empty component divides safely
    delta = s1 / nk_reg[:, None]          # new mean - old mean
    means = means_old + delta
    weights = nk_reg / nk_reg.sum()
    if COVARIANCES[covariance_type].has_matrix:
        # sum r (x - m)(x - m)^T = S - s1 delta^T - delta s1^T + nk delta delta^T
        cross = s1[:, :, None] * delta[:, None, :]
        corr = cross + np.swapaxes(cross, 1, 2) - nk[:, None, None] * (
            delta[:, :, None] * delta[:, None, :])
        if covariance_type == "full":
            S = s2.reshape(k, d, d)
            cov = (S - corr) / nk_reg[:, None, None]
            cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
            cov[:, np.arange(d), np.arange(d)] += reg_covar
        else:
            S = s2.reshape(d, d)
            cov = (S - corr.sum(axis=0)) / nk_reg.sum()
            cov = 0.5 * (cov + cov.T)
            cov.flat[:: d + 1] += reg_covar
    elif covariance_type in ("diag", "spherical"):
        S = s2.reshape(k, d)
        cov = (S - 2 * s1 * delta + nk[:, None] * delta * delta) / nk_reg[:, None]
        cov += reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    else:
        cov = np.full(k, float(variance))
    return weights, means, cov


def precision_cholesky(covariances, covariance_type, reg_covar):
    """Cholesky factors of the precisions, from the covariances (float64)."""
    cov = np.asarray(covariances, dtype=np.float64)
    message = _ILL_DEFINED.format(reg=reg_covar)
    if COVARIANCES[covariance_type].has_matrix:
        mats = cov if covariance_type == "full" else cov[None]
        d = mats.shape[-1]
        out = np.empty_like(mats)
        eye = np.eye(d)
        for j, c in enumerate(mats):
            try:
                lower = linalg.cholesky(c, lower=True, check_finite=False)
            except linalg.LinAlgError:
                raise ValueError(message) from None
            if not np.all(np.isfinite(lower)) or np.any(np.diag(lower) <= 0):
                raise ValueError(message)
            out[j] = linalg.solve_triangular(lower, eye, lower=True,
                                             check_finite=False).T
        return out if covariance_type == "full" else out[0]
    if np.any(~np.isfinite(cov)) or np.any(cov <= 0.0):
        raise ValueError(message)
    return 1.0 / np.sqrt(cov)


def precisions_from_cholesky(prec_chol, covariance_type):
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol ** 2


def cholesky_from_precisions(precisions, covariance_type):
    """Precision Cholesky factors (and covariances) from given precisions.

    Raises ValueError naming ``precisions_init`` if one is not positive
    definite.
    """
    prec = np.asarray(precisions, dtype=np.float64)
    if COVARIANCES[covariance_type].has_matrix:
        mats = prec if covariance_type == "full" else prec[None]
        chol = np.empty_like(mats)
        cov = np.empty_like(mats)
        for j, p in enumerate(mats):
            if not np.allclose(p, p.T, rtol=1e-7, atol=1e-10 * np.abs(p).max()):
                raise ValueError(
                    f"precisions_init[{j}] is not symmetric; pass symmetric, "
                    "positive-definite precision matrices.")
            try:
                chol[j] = linalg.cholesky(p, lower=True, check_finite=False)
            except linalg.LinAlgError:
                raise ValueError(
                    f"precisions_init[{j}] is not positive definite; pass "
                    "symmetric, positive-definite precision matrices.") from None
            cov[j] = linalg.cho_solve((chol[j], True), np.eye(p.shape[0]))
        if covariance_type == "tied":
            return chol[0], cov[0]
        return chol, cov
    if np.any(prec <= 0):
        raise ValueError(
            "precisions_init must be positive; every precision (inverse "
            "variance) has to be > 0.")
    return np.sqrt(prec), 1.0 / prec


def log_det_cholesky(prec_chol, covariance_type, n_features):
    """log det of each component's precision Cholesky factor, shape (k,) or ()."""
    if covariance_type == "full":
        d = prec_chol.shape[-1]
        return np.sum(np.log(prec_chol.reshape(len(prec_chol), -1)[:, :: d + 1]), axis=1)
    if covariance_type == "tied":
        return np.sum(np.log(np.diag(prec_chol)))
    if covariance_type == "diag":
        return np.sum(np.log(prec_chol), axis=1)
    return n_features * np.log(prec_chol)


def moments_about(nk, s1c, s2c, mu, covariance_type):
    """Move moments about a shift to moments about the (shifted) means ``mu``.

    ``s1c``, ``s2c`` are in the kernel's layout (``src/_em.pyx``: FULL's
    second moments packed lower triangles); the result is in ``m_step``'s.
    """
    k, d = mu.shape
    s1 = s1c - nk[:, None] * mu
    kind = COVARIANCES[covariance_type].moments
    if kind in ("full", "tied"):
        # sum_i r (xc - mu)(xc - mu)^T = Sc - s1c mu^T - mu s1c^T + nk mu mu^T
        cross = s1c[:, :, None] * mu[:, None, :]
        corr = (nk[:, None, None] * mu[:, :, None] * mu[:, None, :]
                - cross - np.swapaxes(cross, 1, 2))
        if kind == "full":
            rows, cols = np.tril_indices(d)
            S = np.empty((k, d, d))
            S[:, rows, cols] = s2c.reshape(k, -1)
            S[:, cols, rows] = s2c.reshape(k, -1)
            return nk, s1, (S + corr).ravel()
        return nk, s1, (s2c.reshape(d, d) + corr.sum(axis=0)).ravel()
    if kind == "diag":
        S = s2c.reshape(k, d) - 2 * mu * s1c + nk[:, None] * mu * mu
        return nk, s1, S.ravel()
    return nk, s1, s2c


def wide_components(const, dtype):
    """Which diagonal components the EM kernel expands in float64.

    ``const[j]`` is the squared Mahalanobis distance of mean j from the
    kernel's shift.  The expanded form loses about ``8 u const[j]`` of each
    squared distance to that component (``u`` the dtype's unit roundoff;
    measured: tests/test_em_accuracy.py).  float32: where that passes 2^-10
    (const above 2^11) the component's distances are expanded in float64
    from the unrounded centred rows.  float64: where it passes 2^-30 (const
    above 2^20, a mean 1000 of its widths from the data's mean) they are
    computed in the direct form sum_l (x_l - mu_l)^2 p_l^2 (no wider type).
    """
    const = np.asarray(const, dtype=np.float64)
    if np.dtype(dtype) == np.float32:
        return 8.0 * 2.0 ** -24 * const > 2.0 ** -10
    return 8.0 * 2.0 ** -53 * const > 2.0 ** -30


class KernelModel:
    """The parameters in the form ``kmgmm._kernels.em.em_pass`` takes, for one dtype.

    Means and data are centred on ``shift`` inside the kernel, so the gemm
    expansions never see the data's offset from the origin.
    """

    def __init__(self, weights, means, prec_chol, covariance_type, shift, dtype):
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        prec_chol = np.asarray(prec_chol, dtype=np.float64)
        k, d = means.shape
        self.covariance_type = covariance_type
        self.ctype = COVARIANCES[covariance_type].kernel_code
        self.shift = np.ascontiguousarray(shift, dtype=np.float64)
        mu = means - self.shift
        self.mu = np.ascontiguousarray(mu, dtype=dtype)
        mu = self.mu.astype(np.float64)
        # The means the kernel's moments are taken about (as rounded to dtype).
        self.moment_means = mu + self.shift
        with np.errstate(divide="ignore"):
            log_w = np.log(weights)
        log_norm = (log_w + log_det_cholesky(prec_chol, covariance_type, d)
                    - 0.5 * d * np.log(2 * np.pi))
        self.log_norm = np.ascontiguousarray(np.broadcast_to(log_norm, (k,)),
                                             dtype=np.float64)
        self.quad = self.prec = None   # those of the covariance type below
        self.narrow = self.wide = self.prec_wide = None
        if covariance_type == "full":
            # -maha/2 = q @ quad + const with q = [lower(xc xc^T), xc]: the
            # coefficients of the precision Lambda on the packed lower
            # triangle (off-diagonal terms twice), then Lambda mu.
            Lam = precisions_from_cholesky(prec_chol, "full")
            rows, cols = np.tril_indices(d)
            coef = np.where(rows == cols, -0.5, -1.0)
            lin = np.einsum("kij,kj->ki", Lam, mu)
            self.quad = np.ascontiguousarray(
                np.vstack([(Lam[:, rows, cols] * coef).T, lin.T]), dtype=dtype)
            self.const = np.ascontiguousarray(-0.5 * np.einsum("ki,ki->k", lin, mu))
        elif covariance_type == "tied":
            # [P | P B^T], B = mu P the whitened means: one gemm gives the
            # whitened rows G and their products G . b_j with the means.
            b = mu @ prec_chol
            self.prec = np.ascontiguousarray(np.hstack([prec_chol, prec_chol @ b.T]),
                                             dtype=dtype)
            self.const = np.einsum("ij,ij->i", b, b)
        else:
            p2 = np.broadcast_to((prec_chol ** 2).reshape(k, -1), (k, d))
            operands = np.hstack([p2, -2.0 * mu * p2])
            self.const = np.ascontiguousarray(np.sum(mu * mu * p2, axis=1))
            # The expansion x^2 p^2 - 2 x mu p^2 + mu^2 p^2 cancels for
            # components far from the shift in their own units: those run
            # wider (see wide_components).
            wide = wide_components(self.const, dtype)
            self.narrow = np.flatnonzero(~wide).astype(np.intc)
            self.wide = np.flatnonzero(wide).astype(np.intc)
            self.prec = np.ascontiguousarray(operands[self.narrow], dtype=dtype)
            self.prec_wide = np.ascontiguousarray(
                np.hstack([operands, mu])[self.wide])

    def run(self, X, sample_weight, *, hard, n_threads, stats=False, lse=None,
            labels=None, resp=None, scatter=None):
        """One kernel pass; returns (log-likelihood sum, stats or None).

        The statistics are ``(nk, s1, s2)`` with the moments about
        ``moment_means`` in the layout ``m_step`` takes.  ``scatter``, a dict
        the caller keeps for these rows and weights from pass to pass, holds
        the tied type's scatter about the shift (``sum_i w_i xc_i xc_i^T``,
        which does not change from one iteration to the next): the first
        pass computes it, the later ones with the same shift take it from
        there.  A pass for ``labels`` alone returns no log-likelihood (see
        ``em_pass``).
        """
        k, d = self.mu.shape
        known = None
        if stats:
            nk = np.empty(k)
            s1 = np.empty((k, d))
            size = COVARIANCES[self.covariance_type].kernel_moments_size(k, d)
            s2 = np.empty(size)
            if scatter is not None and self.covariance_type == "tied":
                known = scatter.get(self.shift.tobytes())
        else:
            nk = s1 = s2 = None
        ll = _kernels.em.em_pass(
            X, sample_weight, shift=self.shift, ctype=self.ctype, quad=self.quad,
            prec=self.prec, narrow=self.narrow, wide=self.wide,
            prec_wide=self.prec_wide, const_k=self.const, log_norm=self.log_norm,
            hard=hard, nk=nk, s1=s1, s2=s2, lse=lse, labels=labels, resp=resp,
            scatter=known is None, n_threads=n_threads,
        )
        if not stats:
            return ll, None
        if known is not None:
            s2[:] = known
        elif scatter is not None and self.covariance_type == "tied":
            scatter.clear()
            scatter[self.shift.tobytes()] = s2.copy()
        return ll, moments_about(nk, s1, s2, self.mu.astype(np.float64),
                                 self.covariance_type)



def component_log_densities(X, weights, means, prec_chol, covariance_type):
    """log(weight_j N(x_i | mean_j, cov_j)) of a few rows, in float64 NumPy.

    The slow, careful path for rows the kernel could not score (their
    squared Mahalanobis distances overflow): returns ``(log_p, key)`` where
    ``log_p[i, j]`` may be -inf where the density truly underflows, and
    ``key[i, j]`` is the Mahalanobis distance squared in units of a power of
    two common to the row, finite wherever ``log_p`` is not, so that the
    nearest component can be told even when every density underflows.
    """
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    prec_chol = np.asarray(prec_chol, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    y = np.empty((n, k, d))
    for j in range(k):
        diff = X - means[j]
        if covariance_type == "full":
            y[:, j] = diff @ prec_chol[j]
        elif covariance_type == "tied":
            y[:, j] = diff @ prec_chol
        elif covariance_type == "diag":
            y[:, j] = diff * prec_chol[j]
        else:
            y[:, j] = diff * prec_chol[j]
    with np.errstate(over="ignore", invalid="ignore"):
        top = np.max(np.abs(y).reshape(n, -1), axis=1)
    top = np.where(np.isfinite(top) & (top > 0), top, 1.0)
    exponent = np.frexp(top)[1]
    y_scaled = np.ldexp(y, -exponent[:, None, None])
    key = np.einsum("ijl,ijl->ij", y_scaled, y_scaled)
    with np.errstate(over="ignore"):
        maha = np.ldexp(key, 2 * exponent[:, None])
        with np.errstate(divide="ignore"):
            log_w = np.log(np.asarray(weights, dtype=np.float64))
        log_norm = (log_w + log_det_cholesky(prec_chol, covariance_type, d)
                    - 0.5 * d * np.log(2 * np.pi))
        log_p = log_norm - 0.5 * maha
    return log_p, key, log_w


def score_far_rows(log_p, key, log_w, hard):
    """(log-likelihood, label, responsibilities) of rows from
    ``component_log_densities``: where every density underflows, the
    posterior is all on the component nearest in Mahalanobis distance (its
    log-density is lower than any other's by more than any float)."""
    n, k = log_p.shape
    lse = np.empty(n)
    labels = np.empty(n, dtype=np.int32)
    resp = np.zeros((n, k))
    for i in range(n):
        row = log_p[i]
        top = row.max()
        if top == -np.inf:
            nearest = key[i] == key[i].min()
            # Equally near components share the row as their weights say.
            lw = np.where(nearest, log_w, -np.inf)
            labels[i] = int(np.argmax(lw))
            share = np.exp(lw - lw.max())
            resp[i] = share / share.sum()
            lse[i] = -np.inf
        else:
            labels[i] = int(np.argmax(row))
            share = np.exp(row - top)
            total = share.sum()
            resp[i] = share / total
            lse[i] = top + np.log(total)
        if hard:
            resp[i] = 0.0
            resp[i, labels[i]] = 1.0
            if top != -np.inf:
                lse[i] = top
    return lse, labels, resp


def repair_far_rows(X, out, weights, means, prec_chol, covariance_type, hard):
    """Score again, carefully, the rows whose log-likelihood in ``out["lse"]``
    the kernel could not compute (non-finite); fix ``out``'s ``lse``,
    ``labels`` and ``resp`` for them in place.  Those rows are first
    checked for NaN and infinity (``check_finite``'s ValueError): the
    caller need not have read X for them before the pass."""
    bad = np.flatnonzero(~np.isfinite(out["lse"]))
    if bad.size == 0:
        return
    check_finite(X[bad], "X")
    log_p, key, log_w = component_log_densities(X[bad], weights, means, prec_chol,
                                                covariance_type)
    lse, labels, resp = score_far_rows(log_p, key, log_w, hard)
    out["lse"][bad] = lse
    if "labels" in out:
        out["labels"][bad] = labels
    if "resp" in out:
        out["resp"][bad] = resp


def sample_mixture(weights, means, covariances, covariance_type, n_samples, rng):
    """``n_samples`` rows drawn from a mixture, in the means' dtype, and the
    component of each: (X, y)."""
    weights = weights.astype(np.float64)
    counts = rng.multinomial(n_samples, weights / weights.sum())
    mu = means.astype(np.float64)
    cov = covariances.astype(np.float64)
    d = mu.shape[1]
    parts = []
    for j, c in enumerate(counts):
        if covariance_type == "full":
            draw = rng.multivariate_normal(mu[j], cov[j], c)
        elif covariance_type == "tied":
            draw = rng.multivariate_normal(mu[j], cov, c)
        else:       # diag, spherical and fixed: independent coordinates
            draw = mu[j] + rng.standard_normal((c, d)) * np.sqrt(cov[j])
        parts.append(draw)
    X = np.vstack(parts).astype(means.dtype, copy=False)
    return X, np.repeat(np.arange(len(counts)), counts)
