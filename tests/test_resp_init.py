"""GaussianMixture's resp_init: the M-step from given responsibilities or
labels (``kmgmm/_resp_init.py``) against scikit-learn, a fit from the true
labels, and the validation of every bad input."""
import warnings

import numpy as np
import pytest

from kmgmm import ConvergenceWarning, GaussianMixture
from kmgmm._engines import make_engine
from kmgmm._resp_init import check_resp_init, parameters_from_resp

TYPES = ["full", "tied", "diag", "spherical"]


def _soft(rng, n, k):
    r = rng.uniform(0.05, 1.0, (n, k))
    return r / r.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("labels", [False, True], ids=["soft", "labels"])
def test_m_step_equals_sklearn(mixture, dtype, covariance_type, labels):
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    X, y, _ = mixture(700, 3, 4, spread=2.0, dtype=dtype, seed=1)
    X = X + np.asarray(1e3, dtype)       # away from the origin: the shift matters
    rng = np.random.RandomState(2)
    resp_init = y if labels else _soft(rng, X.shape[0], 4)
    resp = np.eye(4)[y] if labels else resp_init
    engine, _ = make_engine(X, None, 1)
    checked = check_resp_init(resp_init, X.shape[0], 4)
    weights, means, cov = parameters_from_resp(
        engine, checked, 4, covariance_type=covariance_type, reg_covar=1e-6,
        variance=None, shift=engine.moments().mean)
    nk, means_ref, cov_ref = _estimate_gaussian_parameters(
        X.astype(np.float64), resp, 1e-6, covariance_type)
    rtol = 1e-9
    np.testing.assert_allclose(weights, nk / X.shape[0], rtol=rtol)
    np.testing.assert_allclose(means, means_ref, rtol=rtol)
    np.testing.assert_allclose(cov, cov_ref, rtol=1e-7)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_first_iteration_equals_sklearn(mixture, covariance_type):
    """One EM iteration from resp_init equals scikit-learn's E- and M-step
    after its ``_initialize`` from the same responsibilities."""
    from sklearn.mixture import GaussianMixture as SkGMM

    X, _, _ = mixture(500, 3, 3, spread=2.5, seed=5)
    resp = _soft(np.random.RandomState(6), X.shape[0], 3)
    sk = SkGMM(3, covariance_type=covariance_type, reg_covar=1e-6)
    sk._initialize(X, resp)
    log_prob_norm, log_resp = sk._e_step(X)
    sk._m_step(X, log_resp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=covariance_type, resp_init=resp,
                             max_iter=1, tol=0).fit(X)
    np.testing.assert_allclose(gm.lower_bound_, log_prob_norm, rtol=1e-10)
    np.testing.assert_allclose(gm.weights_, sk.weights_, rtol=1e-8)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-7)


def test_fit_from_true_labels_recovers_the_mixture():
    rng = np.random.RandomState(0)
    means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    covs = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.5, 0.0], [0.0, 2.0]],
                     [[1.5, -0.4], [-0.4, 0.5]]])
    y = rng.randint(3, size=6000)
    X = np.vstack([rng.multivariate_normal(means[j], covs[j]) for j in y])
    gm = GaussianMixture(3, resp_init=y, random_state=0).fit(X)
    # The start keeps the labels' order, so no permutation to undo.
    np.testing.assert_allclose(gm.means_, means, atol=0.1)
    np.testing.assert_allclose(gm.covariances_, covs, atol=0.15)
    np.testing.assert_allclose(gm.weights_, np.bincount(y) / y.size, atol=0.02)
    assert np.mean(gm.predict(X) == y) > 0.9
    # The labels as one-hot responsibilities are the same start.
    soft = GaussianMixture(3, resp_init=np.eye(3)[y], random_state=0).fit(X)
    np.testing.assert_allclose(soft.means_, gm.means_, rtol=1e-10)


@pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
def test_resp_init_with_sample_weight_and_float32(mixture):
    X, y, _ = mixture(400, 2, 3, seed=3, dtype=np.float32)
    w = np.random.RandomState(1).uniform(0.5, 2, X.shape[0])
    gm = GaussianMixture(3, resp_init=y.astype(np.int64), max_iter=5).fit(X, sample_weight=w)
    assert gm.means_.dtype == np.float32
    # Integer weights are repeated rows.
    reps = np.array([1, 2, 3] * (X.shape[0] // 3) + [1] * (X.shape[0] % 3))
    a = GaussianMixture(3, resp_init=y, max_iter=3).fit(X, sample_weight=reps)
    b = GaussianMixture(3, resp_init=np.repeat(y, reps), max_iter=3).fit(
        np.repeat(X, reps, axis=0))
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
def test_caller_arrays_unchanged():
    X = np.random.RandomState(0).standard_normal((50, 2))
    r = _soft(np.random.RandomState(1), 50, 2).astype(np.float32)
    before = r.copy()
    GaussianMixture(2, resp_init=r, max_iter=2).fit(X)
    np.testing.assert_array_equal(r, before)


X_OK = np.random.RandomState(0).standard_normal((30, 2))
R_OK = np.full((30, 3), 1 / 3)


@pytest.mark.parametrize("resp_init, error, match", [
    (R_OK[:20], ValueError, r"resp_init has shape \(20, 3\).*\(30, 3\)"),
    (R_OK[:, :2], ValueError, r"resp_init has shape \(30, 2\)"),
    (np.arange(20) % 3, ValueError, "20 labels but X has 30 rows"),
    (np.full(30, 3), ValueError, r"label 3, outside \[0, n_components\)"),
    (np.full(30, -1), ValueError, "label -1"),
    (np.zeros(30), TypeError, "must be integers"),
    (np.where(np.arange(90).reshape(30, 3) == 4, np.nan, 1 / 3), ValueError, "NaN"),
    (np.where(np.arange(90).reshape(30, 3) == 4, np.inf, 1 / 3), ValueError, "NaN"),
    (R_OK * 2, ValueError, "sums to 2, not 1"),
    (np.tile([1.5, -0.5, 0.0], (30, 1)), ValueError, "negative"),
    (np.zeros((30, 3, 1)), ValueError, "has shape"),
    ("labels", TypeError, "must be an array"),
    (np.full((30, 3), "a"), TypeError, "numeric"),
    (np.arange(30) % 2, ValueError, "component 2 no weight"),
    (np.tile([0.5, 0.5, 0.0], (30, 1)), ValueError, "component 2 no weight"),
])
def test_bad_resp_init(resp_init, error, match):
    with pytest.raises(error, match=match):
        GaussianMixture(3, resp_init=resp_init).fit(X_OK)


def test_resp_init_rows_of_zero_weight_give_no_weight():
    y = np.arange(30) % 3
    w = np.where(y == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="component 1 no weight"):
        GaussianMixture(3, resp_init=y).fit(X_OK, sample_weight=w)


def test_resp_init_not_with_initial_parameters():
    with pytest.raises(ValueError, match="either it or weights_init"):
        GaussianMixture(3, resp_init=R_OK, means_init=np.zeros((3, 2))).fit(X_OK)


def test_model_file_does_not_keep_resp_init(tmp_path):
    import kmgmm

    gm = GaussianMixture(3, resp_init=np.arange(30) % 3).fit(X_OK)
    loaded = kmgmm.load(gm.save(tmp_path / "m.npz"))
    assert loaded.resp_init is None
    np.testing.assert_array_equal(loaded.predict(X_OK), gm.predict(X_OK))
