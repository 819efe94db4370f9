"""The EM pass in plain NumPy (float64, the direct form): the twin the
kernel tests compare the compiled pass with."""
import numpy as np


def full_covariances(cov, cov_type, k, d):
    if cov_type == "full":
        return cov
    if cov_type == "tied":
        return np.broadcast_to(cov, (k, d, d))
    if cov_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([c * np.eye(d) for c in cov])


def em_twin(X, w, weights, means, cov, cov_type, hard):
    """Plain NumPy, float64: log-likelihood, labels, resp and moments about means."""
    X = X.astype(np.float64)
    w = w.astype(np.float64)
    k, d = means.shape
    covs = full_covariances(cov, cov_type, k, d)
    logp = np.empty((len(X), k))
    for j in range(k):
        diff = X - means[j]
        sol = np.linalg.solve(covs[j], diff.T).T
        maha = np.sum(diff * sol, axis=1)
        _, logdet = np.linalg.slogdet(covs[j])
        logp[:, j] = np.log(weights[j]) - 0.5 * (d * np.log(2 * np.pi) + logdet + maha)
    labels = logp.argmax(axis=1)
    if hard:
        lse = logp.max(axis=1)
        resp = np.zeros_like(logp)
        resp[np.arange(len(X)), labels] = 1
    else:
        mx = logp.max(axis=1, keepdims=True)
        lse = (mx + np.log(np.exp(logp - mx).sum(axis=1, keepdims=True)))[:, 0]
        resp = np.exp(logp - lse[:, None])
    wr = w[:, None] * resp
    nk = wr.sum(axis=0)
    s1 = np.stack([wr[:, j] @ (X - means[j]) for j in range(k)])
    if cov_type == "full":
        s2 = np.stack([(wr[:, j, None] * (X - means[j])).T @ (X - means[j])
                       for j in range(k)]).ravel()
    elif cov_type == "tied":
        s2 = sum((wr[:, j, None] * (X - means[j])).T @ (X - means[j])
                 for j in range(k)).ravel()
    elif cov_type in ("diag", "spherical"):
        s2 = np.stack([wr[:, j] @ (X - means[j]) ** 2 for j in range(k)]).ravel()
    else:
        s2 = np.empty(0)
    return float(w @ lse), lse, labels, resp, nk, s1, s2
