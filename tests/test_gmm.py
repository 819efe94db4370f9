"""GaussianMixture: parity with scikit-learn, the k-means limit, numerics, the contract."""
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest

from kmgmm import BayesianGaussianMixture, ConvergenceWarning, GaussianMixture, KMeans

sklearn = pytest.importorskip("sklearn")
from sklearn.mixture import GaussianMixture as SKGaussianMixture  # noqa: E402

COV_TYPES = ["full", "tied", "diag", "spherical"]


def blobs(n, d, k, *, spread=1.0, seed=0, dtype=np.float64, offset=0.0):
    rng = np.random.RandomState(seed)
    means = rng.uniform(-6, 6, (k, d))
    y = rng.randint(k, size=n)
    scales = rng.uniform(0.5, 1.5, (k, d)) * spread
    X = means[y] + scales[y] * rng.standard_normal((n, d)) + offset
    return X.astype(dtype), y


def sk_start(X, k, cov_type, seed=0):
    """Initial parameters from one scikit-learn iteration (any valid start will do)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SKGaussianMixture(k, covariance_type=cov_type, max_iter=1,
                               random_state=seed).fit(X)
    return dict(weights_init=sk.weights_, means_init=sk.means_,
                precisions_init=sk.precisions_)


# --------------------------------------------------------------- parity
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_parity_with_sklearn_same_start(cov_type):
    X, _ = blobs(4_000, 5, 4, spread=1.5, seed=1)
    start = sk_start(X, 4, cov_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        sk = SKGaussianMixture(4, covariance_type=cov_type, max_iter=12, tol=0,
                               **start).fit(X)
        gm = GaussianMixture(4, covariance_type=cov_type, max_iter=12, tol=0,
                             **start).fit(X)
    for attr in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_"):
        if attr == "precisions_cholesky_" and cov_type in ("full", "tied"):
            continue  # the factor is unique only up to its triangular form
        np.testing.assert_allclose(getattr(gm, attr), getattr(sk, attr),
                                   rtol=1e-8, atol=1e-12, err_msg=attr)
    assert gm.n_iter_ == sk.n_iter_ == 12
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=1e-10)
    np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), atol=1e-9)
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-9)
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))
    np.testing.assert_allclose(gm.bic(X), sk.bic(X), rtol=1e-9)
    np.testing.assert_allclose(gm.aic(X), sk.aic(X), rtol=1e-9)


def test_converges_like_sklearn_from_its_default_start():
    X, _ = blobs(3_000, 3, 3, seed=2)
    start = sk_start(X, 3, "full", seed=5)
    sk = SKGaussianMixture(3, tol=1e-6, max_iter=500, **start).fit(X)
    gm = GaussianMixture(3, tol=1e-6, max_iter=500, **start).fit(X)
    assert gm.converged_ and sk.converged_
    assert gm.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-7, atol=1e-9)
    assert len(gm.lower_bounds_) == gm.n_iter_
    assert np.all(np.diff(gm.lower_bounds_) >= -1e-9)  # EM never decreases it


# ------------------------------------------------------ the k-means limit
def overlapping(n=6_000, seed=0):
    rng = np.random.RandomState(seed)
    means = np.array([[0.0, 0.0], [2.0, 0.5], [0.5, 2.2], [2.5, 2.5]])
    y = rng.randint(4, size=n)
    return means[y] + rng.standard_normal((n, 2)), y


def test_fixed_variance_to_zero_gives_kmeans():
    X, _ = overlapping()
    init = X[[0, 1, 2, 3]]
    km = KMeans(4, init=init, tol=0, max_iter=300).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no warning on the way
        with np.errstate(all="raise"):
            gm = GaussianMixture(4, covariance_type="fixed", variance=1e-12,
                                 means_init=init, max_iter=300).fit(X)
    assert gm.converged_
    np.testing.assert_array_equal(gm.predict(X), km.labels_)
    np.testing.assert_allclose(gm.means_, km.cluster_centers_, rtol=1e-10)
    for value in (gm.score_samples(X), gm.predict_proba(X), gm.means_, gm.weights_):
        assert np.all(np.isfinite(value))


def test_fixed_variance_means_approach_kmeans_monotonically():
    X, _ = overlapping(seed=1)
    init = X[[0, 1, 2, 3]]
    km = KMeans(4, init=init, tol=0).fit(X)
    gaps = []
    for variance in (1.0, 0.5, 0.25, 0.1, 0.03, 0.01, 1e-3, 1e-6):
        gm = GaussianMixture(4, covariance_type="fixed", variance=variance,
                             means_init=km.cluster_centers_, tol=1e-10,
                             max_iter=2_000).fit(X)
        gaps.append(np.abs(gm.means_ - km.cluster_centers_).max())
    assert np.all(np.diff(gaps) < 0), gaps
    assert gaps[-1] < 1e-8 < gaps[0]


def test_hard_fixed_equal_weights_is_lloyd():
    X, _ = overlapping(seed=2)
    init = X[[5, 6, 7, 8]]
    km = KMeans(4, init=init, tol=0, max_iter=300).fit(X)
    gm = GaussianMixture(4, covariance_type="fixed", variance=0.8, assignment="hard",
                         estimate_weights=False, means_init=init, tol=0,
                         max_iter=km.n_iter_ + 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    np.testing.assert_array_equal(gm.predict(X), km.labels_)
    np.testing.assert_allclose(gm.means_, km.cluster_centers_, rtol=1e-12)
    np.testing.assert_array_equal(gm.weights_, np.full(4, 0.25))
    # The classification log-likelihood is an affine function of the inertia.
    n, d = X.shape
    expected = (np.log(0.25) - 0.5 * d * np.log(2 * np.pi * 0.8)
                - 0.5 * km.inertia_ / n / 0.8)
    np.testing.assert_allclose(gm.score(X), expected, rtol=1e-10)


def test_kmeans_overestimates_distance_mixture_does_not():
    # Bryant & Williamson (1978): k-means' means of overlapping components are
    # truncated means, pushed apart; the mixture's ML estimate is consistent.
    rng = np.random.RandomState(0)
    n = 200_000
    X = np.concatenate([rng.normal(-1, 1, n // 2), rng.normal(1, 1, n // 2)])[:, None]
    km = KMeans(2, random_state=0).fit(X)
    gm = GaussianMixture(2, covariance_type="full", tol=1e-8, max_iter=2_000,
                         random_state=0).fit(X)
    km_gap = abs(np.diff(km.cluster_centers_[:, 0]))[0]
    gm_gap = abs(np.diff(gm.means_[:, 0]))[0]
    assert km_gap > 2.3
    assert abs(gm_gap - 2.0) < 0.05


def test_predict_proba_graded_for_overlap_sharp_for_separated():
    X, _ = overlapping(seed=3)
    gm = GaussianMixture(4, random_state=0).fit(X)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.mean(proba.max(axis=1) < 0.9) > 0.2     # many graded rows

    Xs, _ = blobs(3_000, 2, 3, spread=0.05, seed=4)
    gs = GaussianMixture(3, random_state=0).fit(Xs)
    ps = gs.predict_proba(Xs)
    np.testing.assert_allclose(ps.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all((ps < 1e-6) | (ps > 1 - 1e-6))


@pytest.mark.parametrize("cov_type", COV_TYPES + ["fixed"])
def test_hard_assignment_gives_one_hot_and_increasing_objective(cov_type):
    X, _ = blobs(4_000, 3, 4, spread=2.0, seed=5)
    kw = {"variance": 2.0} if cov_type == "fixed" else {}
    gm = GaussianMixture(4, covariance_type=cov_type, assignment="hard", tol=0,
                         max_iter=15, random_state=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    proba = gm.predict_proba(X)
    assert set(np.unique(proba)) <= {0.0, 1.0}
    np.testing.assert_array_equal(proba.argmax(axis=1), gm.predict(X))
    assert np.all(np.diff(gm.lower_bounds_) >= -1e-9)


# ------------------------------------------------------------- numerics
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_float32_offset_data_matches_float64_reference(cov_type):
    X64, y = blobs(20_000, 3, 3, spread=0.4, seed=6, offset=1e4)
    X32 = X64.astype(np.float32)
    ref_data = X32.astype(np.float64)        # the same values, in float64
    g32 = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X32)
    g64 = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(ref_data)
    assert g32.covariances_.dtype == np.float32
    order = np.argsort(g64.means_[:, 0])
    order32 = np.argsort(g32.means_[:, 0])
    np.testing.assert_allclose(g32.covariances_[order32] if cov_type != "tied"
                               else g32.covariances_,
                               g64.covariances_[order] if cov_type != "tied"
                               else g64.covariances_, rtol=1e-3)
    np.testing.assert_allclose(g32.means_[order32], g64.means_[order], rtol=1e-6)


def test_float32_offset_single_component_two_pass_reference():
    rng = np.random.RandomState(7)
    X = (rng.standard_normal((50_000, 4)) * [1, 2, 0.5, 3] + 1e4).astype(np.float32)
    ref = X.astype(np.float64)
    mean = ref.mean(axis=0)
    two_pass = (ref - mean).T @ (ref - mean) / len(ref)
    for cov_type, expected in [("full", two_pass[None]), ("tied", two_pass),
                               ("diag", np.diag(two_pass)[None]),
                               ("spherical", np.diag(two_pass).mean()[None])]:
        gm = GaussianMixture(1, covariance_type=cov_type, reg_covar=0).fit(X)
        np.testing.assert_allclose(gm.covariances_, expected, rtol=1e-3)
        assert np.all(np.linalg.eigvalsh(np.atleast_2d(two_pass)) > 0)


def test_collapsing_component_kept_positive_definite_by_reg_covar():
    rng = np.random.RandomState(8)
    X = np.vstack([rng.standard_normal((500, 3)), np.tile([[5.0, 5.0, 5.0]], (40, 1))])
    for cov_type in COV_TYPES:
        gm = GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(X)
        covs = np.atleast_2d(gm.covariances_)
        assert np.all(np.isfinite(covs))
        if cov_type in ("full", "tied"):
            assert np.all(np.linalg.eigvalsh(gm.covariances_) > 0)
        else:
            assert np.all(covs > 0)
        for out in (gm.score_samples(X), gm.predict_proba(X)):
            assert np.all(np.isfinite(out))
    with pytest.raises(ValueError, match="reg_covar"):
        GaussianMixture(2, covariance_type="full", reg_covar=0, random_state=0).fit(X)


def test_float32_in_float32_out():
    X, _ = blobs(2_000, 3, 2, dtype=np.float32)
    gm = GaussianMixture(2, random_state=0).fit(X)
    for attr in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_"):
        assert getattr(gm, attr).dtype == np.float32, attr
    assert gm.predict_proba(X).dtype == np.float32


# --------------------------------------------------------- sample weights
@pytest.mark.parametrize("cov_type", COV_TYPES + ["fixed"])
@pytest.mark.parametrize("assignment", ["soft", "hard"])
def test_integer_weights_equal_repeated_rows(cov_type, assignment):
    X, _ = blobs(300, 2, 3, spread=1.5, seed=9)
    w = np.random.RandomState(1).randint(0, 4, len(X))
    kw = dict(covariance_type=cov_type, assignment=assignment, random_state=3,
              tol=1e-8, max_iter=300)
    if cov_type == "fixed":
        kw["variance"] = 1.0
    a = GaussianMixture(3, **kw).fit(np.repeat(X, w, axis=0))
    b = GaussianMixture(3, **kw).fit(X, sample_weight=w)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-7)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-7)
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=1e-9)


# -------------------------------------------------------- the contract
@pytest.mark.parametrize("cov_type", COV_TYPES + ["fixed"])
def test_fit_bit_identical_for_thread_counts(cov_type, dtype):
    X, _ = blobs(30_000, 5, 6, spread=2.0, seed=10, dtype=dtype)
    kw = {"variance": 3.0} if cov_type == "fixed" else {}
    fits = [GaussianMixture(6, covariance_type=cov_type, random_state=0, n_threads=t,
                            **kw).fit(X) for t in (1, 2, 3, 8)]
    for gm in fits[1:]:
        for attr in ("weights_", "means_", "covariances_"):
            np.testing.assert_array_equal(getattr(gm, attr), getattr(fits[0], attr))
        assert gm.lower_bounds_ == fits[0].lower_bounds_
        assert gm.n_iter_ == fits[0].n_iter_


def test_fit_predict_agrees_with_predict():
    X, _ = overlapping(seed=11)
    a = GaussianMixture(4, random_state=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = a.fit_predict(X)
    np.testing.assert_array_equal(labels, a.predict(X))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_predict_agrees_with_predict_near_the_boundary(covariance_type, dtype):
    # Rows far out on the decision boundary of a fitted two-component
    # model (with negligible weight, so the fit is that model's): the fit's
    # closing labels pass and predict must rank the components alike there.
    rng = np.random.default_rng(9)
    n, d = 20_000, 8
    X = rng.standard_normal((n, d))
    X[:, 0] += rng.integers(0, 2, n) * 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g0 = GaussianMixture(2, covariance_type="tied", random_state=0).fit(X)
    P = np.linalg.inv(g0.covariances_)
    mu, wt = g0.means_, g0.weights_
    a = P @ (mu[1] - mu[0])
    c = 0.5 * (mu[1] @ P @ mu[1] - mu[0] @ P @ mu[0]) - np.log(wt[1] / wt[0])
    far = rng.standard_normal((n, d)) * 1e5
    far -= ((far @ a - c) / (a @ a))[:, None] * a[None]
    far += a[None] / np.linalg.norm(a) * rng.standard_normal((n, 1)) * 1e-3
    Xa = np.vstack([X, far]).astype(dtype)
    w = np.r_[np.ones(n), np.full(n, 1e-15)]
    g = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = g.fit_predict(Xa, sample_weight=w)
    np.testing.assert_array_equal(labels, g.predict(Xa))
    b = BayesianGaussianMixture(2, covariance_type=covariance_type, random_state=0,
                                max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = b.fit_predict(Xa)
    np.testing.assert_array_equal(labels, b.predict(Xa))


def test_init_params_and_n_init():
    X, _ = blobs(3_000, 2, 3, spread=0.5, seed=12)
    for init in ("kmeans", "k-means++", "random", "random_from_data"):
        gm = GaussianMixture(3, init_params=init, random_state=0, max_iter=300).fit(X)
        assert gm.converged_, init
        assert gm.lower_bound_ > -4, init
    one = GaussianMixture(3, init_params="random", random_state=1, max_iter=3)
    many = GaussianMixture(3, init_params="random", random_state=1, max_iter=3, n_init=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert many.fit(X).lower_bound_ >= one.fit(X).lower_bound_


def test_warm_start_continues():
    X, _ = overlapping(seed=13)
    gm = GaussianMixture(4, random_state=0, max_iter=2, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
        first = gm.lower_bound_
        gm.fit(X)
    assert gm.lower_bound_ >= first


def test_sample_shapes_and_moments():
    X, _ = blobs(5_000, 2, 2, spread=0.5, seed=14)
    gm = GaussianMixture(2, random_state=0).fit(X)
    S, labels = gm.sample(20_000)
    assert S.shape == (20_000, 2) and labels.shape == (20_000,)
    for j in range(2):
        np.testing.assert_allclose(S[labels == j].mean(axis=0), gm.means_[j], atol=0.05)
    np.testing.assert_allclose(np.bincount(labels) / 20_000, gm.weights_, atol=0.02)


def test_input_never_modified_and_pickle_round_trip():
    X, _ = blobs(1_000, 3, 2, seed=15)
    w = np.random.RandomState(0).uniform(0.5, 2, len(X))
    Xc, wc = X.copy(), w.copy()
    Xf = np.asfortranarray(X)
    gm = GaussianMixture(2, random_state=0).fit(Xf, sample_weight=w)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Xf, Xc)
    np.testing.assert_array_equal(w, wc)
    again = pickle.loads(pickle.dumps(gm))
    np.testing.assert_array_equal(again.predict_proba(X), gm.predict_proba(X))


def test_fit_never_builds_an_n_by_k_array():
    rng = np.random.RandomState(16)
    n, k = 200_000, 32
    X = rng.standard_normal((n, 2))
    gm = GaussianMixture(k, covariance_type="diag", init_params="random_from_data",
                         max_iter=2, tol=0, random_state=0)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * k * 8 / 4, f"peak {peak / 1e6:.1f} MB"


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(GaussianMixture(), expected_failed_checks={})


# ------------------------------------------------------------ bad input
X_OK = np.random.RandomState(0).standard_normal((20, 2))


@pytest.mark.parametrize("kwargs, match", [
    ({"covariance_type": "fixed"}, "variance"),
    ({"covariance_type": "fixed", "variance": 0.0}, "variance"),
    ({"covariance_type": "fixed", "variance": -1.0}, "variance"),
    ({"variance": 1.0}, "variance"),
    ({"covariance_type": "banana"}, "covariance_type"),
    ({"assignment": "fuzzy"}, "assignment"),
    ({"init_params": "magic"}, "init_params"),
    ({"n_components": 0}, "n_components"),
    ({"n_components": 21}, "n_components"),
    ({"reg_covar": -1.0}, "reg_covar"),
    ({"tol": -1.0}, "tol"),
    ({"n_init": 0}, "n_init"),
    ({"n_components": 2, "weights_init": [0.3, 0.3]}, "weights_init"),
    ({"n_components": 2, "weights_init": [1.5, -0.5]}, "weights_init"),
    ({"n_components": 2, "weights_init": [1.0]}, "weights_init"),
    ({"n_components": 2, "means_init": np.zeros((3, 2))}, "means_init"),
    ({"n_components": 2, "precisions_init": np.ones((2, 2))}, "precisions_init"),
    ({"n_components": 2, "precisions_init": -np.stack([np.eye(2)] * 2)},
     "precisions_init"),
    ({"n_components": 2, "covariance_type": "diag",
      "precisions_init": np.array([[1.0, 1.0], [1.0, -1.0]])}, "precisions_init"),
    ({"n_components": 2, "covariance_type": "fixed", "variance": 1.0,
      "precisions_init": np.ones(2)}, "precisions_init"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs).fit(X_OK)


@pytest.mark.parametrize("X, exc, match", [
    (np.array([[0.0, np.nan], [1.0, 2.0]]), ValueError, "NaN"),
    (np.array([[0.0, np.inf], [1.0, 2.0]]), ValueError, "inf"),
    (np.arange(5.0), ValueError, "2-D"),
    (np.empty((0, 2)), ValueError, "sample"),
    (np.array([["a", "b"], ["c", "d"]]), ValueError, "strings"),
    (np.array([[1 + 2j, 0], [1, 1]]), ValueError, "Complex"),
])
def test_bad_data(X, exc, match):
    with pytest.raises(exc, match=match):
        GaussianMixture(1).fit(X)


def test_bad_sample_weight_and_unfitted_and_wrong_width():
    with pytest.raises(ValueError, match="sample_weight"):
        GaussianMixture(1).fit(X_OK, sample_weight=-np.ones(20))
    with pytest.raises(ValueError, match="not fitted"):
        GaussianMixture(1).predict(X_OK)
    gm = GaussianMixture(1).fit(X_OK)
    with pytest.raises(ValueError, match="features"):
        gm.predict(np.ones((3, 5)))
