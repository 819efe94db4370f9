"""A hard-assignment mixture's predict_proba: one-hot rows, the label
predict gives; with assignment switched to "soft", the posterior of the
fitted parameters (checked against scipy's densities)."""
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from kmgmm import GaussianMixture


def overlapping(n=1500, seed=0):
    rng = np.random.RandomState(seed)
    means = np.array([[0.0, 0.0], [2.0, 0.0], [8.0, 3.0]])
    y = rng.randint(3, size=n)
    return means[y] + rng.standard_normal((n, 2))


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_hard_predict_proba_is_one_hot_and_soft_gives_the_posterior(covariance_type):
    X = overlapping()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(3, covariance_type=covariance_type, assignment="hard",
                             random_state=0).fit(X)
    proba = gm.predict_proba(X)
    labels = gm.predict(X)
    np.testing.assert_array_equal(proba, np.eye(3)[labels])

    posterior = gm.set_params(assignment="soft").predict_proba(X)
    cov = gm.covariances_
    if covariance_type == "diag":
        covs = [np.diag(c) for c in cov]
    elif covariance_type == "spherical":
        covs = [c * np.eye(2) for c in cov]
    elif covariance_type == "tied":
        covs = [cov] * 3
    else:
        covs = list(cov)
    log = np.column_stack([np.log(gm.weights_[j])
                           + multivariate_normal(gm.means_[j], covs[j]).logpdf(X)
                           for j in range(3)])
    expected = np.exp(log - logsumexp(log, axis=1, keepdims=True))
    np.testing.assert_allclose(posterior, expected, rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(posterior.argmax(axis=1), labels)
    # The overlapping pair gives rows that are truly uncertain.
    assert ((posterior > 0.2) & (posterior < 0.8)).any()
