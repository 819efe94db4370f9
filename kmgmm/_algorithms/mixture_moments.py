"""Statistics of initial responsibilities for a Gaussian mixture: of a hard
partition (labels) or of soft responsibilities made a block of rows at a time,
so no n_samples x n_components array is ever built.  Each function works on
the rows it is given: all of X in memory, or one block on a Dask worker."""
import numpy as np

from .._covariance import COVARIANCES
from .._gaussian import moments_about
from .seeding import ROWS_PER_BLOCK


def _add_moments(s1, s2, j, kind, w, D):
    """Add rows ``D`` (about component j's mean), weighted ``w``, to the
    first and second moments (``kind``: the covariance type's moments)."""
    s1[j] += w @ D
    if kind in ("full", "tied"):
        target = s2[j] if kind == "full" else s2
        target += (w[:, None] * D).T @ D
    elif kind == "diag":
        s2[j] += w @ (D * D)


def one_hot_blocks(labels, n_components):
    def blocks():
        for start in range(0, labels.shape[0], ROWS_PER_BLOCK):
            lab = labels[start:start + ROWS_PER_BLOCK]
            r = np.zeros((lab.shape[0], n_components))
            r[np.arange(lab.shape[0]), lab] = 1.0
            yield slice(start, start + lab.shape[0]), r
    return blocks


def random_blocks(n_samples, n_components, random_state):
    n_blocks = -(-n_samples // ROWS_PER_BLOCK)
    seeds = random_state.randint(np.iinfo(np.int32).max, size=n_blocks)

    def blocks():
        for b, start in enumerate(range(0, n_samples, ROWS_PER_BLOCK)):
            m = min(ROWS_PER_BLOCK, n_samples - start)
            r = np.random.RandomState(seeds[b]).uniform(size=(m, n_components))
            r /= r.sum(axis=1, keepdims=True)
            yield slice(start, start + m), r
    return blocks


def label_moments(X, sample_weight, labels, n_components, covariance_type,
                  fallback_means):
    """Statistics of a hard partition, about each part's mean (two passes).

    Rows are visited part by part (one argsort of the labels), a block of
    rows at a time, so nothing of size n_samples x n_components is built.
    """
    k, d = n_components, X.shape[1]
    w = sample_weight.astype(np.float64, copy=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    nk = np.zeros(k)
    s1 = np.zeros((k, d))
    kind = COVARIANCES[covariance_type].moments
    s2 = np.zeros(COVARIANCES[covariance_type].moments_shape(k, d))
    means = np.array(fallback_means, dtype=np.float64)

    def pieces(j):
        for start in range(bounds[j], bounds[j + 1], ROWS_PER_BLOCK):
            idx = order[start:min(start + ROWS_PER_BLOCK, bounds[j + 1])]
            yield X[idx].astype(np.float64), w[idx]

    for j in range(k):
        sx = np.zeros(d)
        for x, wj in pieces(j):
            nk[j] += wj.sum()
            sx += wj @ x
        if nk[j] > 0:
            means[j] = sx / nk[j]
        for x, wj in pieces(j):
            _add_moments(s1, s2, j, kind, wj, x - means[j])
    return nk, s1, s2.ravel(), means


def first_moments(X, sample_weight, blocks, n_components):
    """Weighted totals ``nk`` and sums ``sx`` of the responsibilities ``blocks``
    (the distributed initialisation runs it on every block)."""
    k, d = n_components, X.shape[1]
    w = sample_weight.astype(np.float64, copy=False)
    nk = np.zeros(k)
    sx = np.zeros((k, d))
    for sl, r in blocks():
        wr = w[sl, None] * r
        nk += wr.sum(axis=0)
        sx += wr.T @ X[sl].astype(np.float64, copy=False)
    return nk, sx


def second_moments(X, sample_weight, blocks, n_components, covariance_type, means):
    """Weighted first and second moments about ``means`` (the layout ``m_step`` takes)."""
    k, d = n_components, X.shape[1]
    w = sample_weight.astype(np.float64, copy=False)
    s1 = np.zeros((k, d))
    kind = COVARIANCES[covariance_type].moments
    s2 = np.zeros(COVARIANCES[covariance_type].moments_shape(k, d))
    for sl, r in blocks():
        x = X[sl].astype(np.float64, copy=False)
        wr = w[sl, None] * r
        for j in range(k):
            sel = wr[:, j] > 0
            if not sel.any():
                continue
            _add_moments(s1, s2, j, kind, wr[sel, j], x[sel] - means[j])
    return s1, s2.ravel()


def means_from_moments(nk, sx, fallback_means):
    """Weighted means; a component without weight keeps its fallback mean."""
    means = np.array(fallback_means, dtype=np.float64)
    filled = nk > 0
    means[filled] = sx[filled] / nk[filled, None]
    return means


def soft_moments(X, sample_weight, blocks, n_components, covariance_type, shift):
    """Statistics of soft responsibilities ``blocks`` about their means.

    One pass: moments about ``shift`` (the data's mean) in float64, moved to
    the means as the EM pass's are (``moments_about``).
    """
    k, d = n_components, X.shape[1]
    w = sample_weight.astype(np.float64, copy=False)
    rows, cols = np.tril_indices(d)
    nk = np.zeros(k)
    s1c = np.zeros((k, d))
    kind = COVARIANCES[covariance_type].moments
    s2c = np.zeros(COVARIANCES[covariance_type].kernel_moments_size(k, d))
    for sl, r in blocks():
        xc = X[sl].astype(np.float64) - shift
        wr = w[sl, None] * r
        nk += wr.sum(axis=0)
        s1c += wr.T @ xc
        if kind == "full":
            s2c += (wr.T @ (xc[:, rows] * xc[:, cols])).ravel()
        elif kind == "tied":
            s2c += ((w[sl, None] * xc).T @ xc).ravel()
        elif kind == "diag":
            s2c += (wr.T @ (xc * xc)).ravel()
    mu = s1c / nk[:, None]
    nk, s1, s2 = moments_about(nk, s1c, s2c, mu, covariance_type)
    return nk, s1, s2, mu + shift


