"""A mixture's start from given responsibilities or labels (``resp_init``).

``check_resp_init`` validates what the caller gave; ``parameters_from_resp``
is the M-step from it: the weighted statistics of the responsibilities, a
block of rows at a time (about the data's mean, in float64, as the EM pass
takes them), then weights, means and covariances by ``_gaussian.m_step``.
Any mixture that starts from responsibilities (the Gaussian mixture, a
Bayesian one) calls these two.
"""
import numbers

import numpy as np

from ._covariance import COVARIANCES
from ._gaussian import m_step, moments_about

# Rows checked or summed at a time: the only n_samples-sized temporaries are
# this many rows of the caller's array.
ROWS_PER_CHUNK = 16384


def _row_sum_tolerance(dtype, n_components):
    """How far a row of responsibilities may sum from 1: rounding of a sum of
    ``n_components`` values of ``dtype``, and never less than 1e-6."""
    return max(1e-6, 8 * n_components * float(np.finfo(dtype).eps))


def check_resp_init(resp_init, n_samples, n_components):
    """The caller's ``resp_init`` as an array: integer labels of shape
    (n_samples,) (``intp``) or responsibilities of shape (n_samples,
    n_components) (float32 or float64, the caller's array when it is one).

    Raises TypeError or ValueError naming ``resp_init`` and the fix.  That
    every component gets some weight is checked by ``parameters_from_resp``,
    which knows the sample weights.
    """
    if isinstance(resp_init, (str, bytes)) or np.isscalar(resp_init):
        raise TypeError(
            "resp_init must be an array: responsibilities of shape (n_samples, "
            "n_components) or integer labels of shape (n_samples,); got "
            f"{type(resp_init).__name__}.")
    if hasattr(resp_init, "to_numpy"):          # a pandas Series or DataFrame
        resp_init = resp_init.to_numpy()
    if hasattr(resp_init, "compute") and hasattr(resp_init, "dask"):
        raise TypeError("resp_init must be a NumPy array (in memory), not a Dask "
                        "collection; pass resp_init.compute().")
    arr = np.asarray(resp_init)
    k = n_components
    if arr.ndim == 1:
        if arr.dtype.kind not in "iu" and not (
                arr.dtype.kind == "O" and all(isinstance(v, numbers.Integral)
                                              and not isinstance(v, bool) for v in arr)):
            raise TypeError(
                f"resp_init of shape {arr.shape} is read as labels, which must be "
                f"integers, but its dtype is {arr.dtype}; pass integer labels in "
                f"[0, {k}) or responsibilities of shape (n_samples, {k}).")
        if arr.shape[0] != n_samples:
            raise ValueError(
                f"resp_init has {arr.shape[0]} labels but X has {n_samples} rows; "
                "pass one label per row.")
        labels = arr.astype(np.intp)
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            bad = labels[(labels < 0) | (labels >= k)][0]
            raise ValueError(
                f"resp_init holds the label {bad}, outside [0, n_components) = "
                f"[0, {k}); relabel the rows 0..{k - 1} or change n_components.")
        return labels
    if arr.ndim != 2:
        raise ValueError(
            f"resp_init has shape {arr.shape}; pass responsibilities of shape "
            f"(n_samples, n_components) = ({n_samples}, {k}) or labels of shape "
            f"({n_samples},).")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"resp_init must be numeric; its dtype is {arr.dtype}.")
    if arr.shape != (n_samples, k):
        raise ValueError(
            f"resp_init has shape {arr.shape}; it must be (n_samples, n_components) "
            f"= ({n_samples}, {k}).")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    tol = _row_sum_tolerance(arr.dtype, k)
    for start in range(0, n_samples, ROWS_PER_CHUNK):
        r = arr[start:start + ROWS_PER_CHUNK]
        if not np.all(np.isfinite(r)):
            row = start + int(np.flatnonzero(~np.isfinite(r).all(axis=1))[0])
            raise ValueError(
                f"resp_init holds NaN or infinity (row {row}); responsibilities "
                "must be finite.")
        if np.any(r < 0):
            row = start + int(np.flatnonzero((r < 0).any(axis=1))[0])
            raise ValueError(
                f"resp_init holds a negative value (row {row}); responsibilities "
                "are probabilities in [0, 1].")
        sums = r.sum(axis=1, dtype=np.float64)
        off = np.abs(sums - 1.0) > tol
        if off.any():
            row = int(np.flatnonzero(off)[0])
            raise ValueError(
                f"resp_init's row {start + row} sums to {sums[row]:.8g}, not 1; "
                "every row of responsibilities must sum to 1 (divide each row by "
                "its sum).")
    return arr


def resp_sums(x, w, resp, n_components, covariance_type, shift):
    """Weighted statistics of the responsibilities of rows ``x`` about
    ``shift`` (the EM kernel's layout): (nk, s1, s2), additive over rows.

    ``resp`` is those rows' labels or responsibilities (``check_resp_init``);
    ``w`` their weights.  Works on every row block of the data, a chunk at a
    time, in float64.
    """
    k, d = n_components, x.shape[1]
    kind = COVARIANCES[covariance_type].moments
    rows, cols = np.tril_indices(d)
    nk = np.zeros(k)
    s1 = np.zeros((k, d))
    s2 = np.zeros(COVARIANCES[covariance_type].kernel_moments_size(k, d))
    for start in range(0, x.shape[0], ROWS_PER_CHUNK):
        sl = slice(start, start + ROWS_PER_CHUNK)
        xc = x[sl].astype(np.float64) - shift
        wc = np.asarray(w[sl], dtype=np.float64)
        r = resp[sl]
        if r.ndim == 1:
            one_hot = np.zeros((r.shape[0], k))
            one_hot[np.arange(r.shape[0]), r] = 1.0
            r = one_hot
        wr = wc[:, None] * r.astype(np.float64, copy=False)
        nk += wr.sum(axis=0)
        s1 += wr.T @ xc
        if kind == "full":
            s2 += (wr.T @ (xc[:, rows] * xc[:, cols])).ravel()
        elif kind == "tied":
            s2 += ((wc[:, None] * xc).T @ xc).ravel()
        elif kind == "diag":
            s2 += (wr.T @ (xc * xc)).ravel()
    return nk, s1, s2


def _dask_resp_sums(x, w, resp, n_components, covariance_type, shift):
    from ._engines.dask_runner import weights_of

    return resp_sums(x, weights_of(x, w), resp, n_components, covariance_type, shift)


def engine_resp_sums(engine, resp, n_components, covariance_type, shift):
    """``resp_sums`` over every row of the engine's data."""
    if hasattr(engine, "sample_weight"):        # in memory
        return resp_sums(engine.X, engine.sample_weight, resp, n_components,
                         covariance_type, shift)
    from ._engines.dask_runner import Blocks

    parts = Blocks(resp[off:off + n] for off, n in zip(engine.offsets, engine.chunks))
    return engine.run(_dask_resp_sums, parts, n_components, covariance_type, shift)


def moments_from_resp(engine, resp, n_components, covariance_type, shift):
    """The statistics of the validated ``resp`` (``check_resp_init``) in the
    layout ``_gaussian.m_step`` takes: (nk, s1, s2, means), float64, the
    moments about the responsibility-weighted means.

    Raises ValueError naming ``resp_init`` when a component gets no weight
    (no row, or only rows of zero sample weight).
    """
    shift = np.asarray(shift, dtype=np.float64)
    nk, s1c, s2c = engine_resp_sums(engine, resp, n_components, covariance_type, shift)
    empty = np.flatnonzero(~(nk > 0))
    if empty.size:
        raise ValueError(
            f"resp_init gives component {int(empty[0])} no weight (no row with a "
            "positive responsibility and a positive sample weight); every component "
            "needs some: lower n_components or give that component rows.")
    mu = s1c / nk[:, None]
    nk, s1, s2 = moments_about(nk, s1c, s2c, mu, covariance_type)
    return nk, s1, s2, mu + shift


def parameters_from_resp(engine, resp, n_components, *, covariance_type, reg_covar,
                         variance, shift):
    """The M-step from the validated ``resp`` (``check_resp_init``):
    (weights, means, covariances), float64 (see ``moments_from_resp``)."""
    nk, s1, s2, means = moments_from_resp(engine, resp, n_components, covariance_type,
                                          shift)
    return m_step(nk, s1, s2, means, covariance_type, reg_covar, variance)
