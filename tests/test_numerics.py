"""Answers that do not depend on where the data sits, its units or the
weights' scale, and never a silently non-finite fit."""
import warnings

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from kmgmm import ConvergenceWarning, GaussianMixture, KMeans

ALGORITHMS = ["lloyd", "hamerly", "elkan", "auto"]
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def two_blobs(n=600, d=8, gap=5.0, seed=0):
    """Two unit blobs ``gap`` sd apart along the first axis, centred on 0."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = rng.standard_normal((n, d))
    X[:, 0] += gap * y
    X -= X.mean(axis=0)
    return X, y


def reference_labels(X, init):
    """Lloyd in float64 about the data's mean: the labels every fit must give."""
    mean = X.mean(axis=0)
    km = KMeans(len(init), init=init - mean, algorithm="lloyd").fit(X - mean)
    return km.labels_


# ------------------------------------------------------------- translation
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e4), (np.float32, 1e6),
                                           (np.float64, 1e8), (np.float64, 1e13)])
def test_kmeans_labels_do_not_depend_on_the_offset(algorithm, dtype, offset):
    X0, y = two_blobs()
    init0 = X0[[0, 1]]
    Xs = (X0 + offset).astype(dtype)
    expected = reference_labels(Xs.astype(np.float64), init0 + offset)
    km = KMeans(2, init=(init0 + offset).astype(dtype), algorithm=algorithm).fit(Xs)
    assert adjusted_rand_score(expected, km.labels_) == 1.0
    assert adjusted_rand_score(y, km.labels_) > 0.9
    np.testing.assert_array_equal(km.predict(Xs), km.labels_)
    np.testing.assert_array_equal(km.transform(Xs).argmin(axis=1), km.labels_)
    assert km.cluster_centers_.dtype == dtype
    # The centres are the blobs' means, to the precision the data has.
    means = np.array([Xs[km.labels_ == j].astype(np.float64).mean(axis=0)
                      for j in range(2)])
    np.testing.assert_allclose(km.cluster_centers_, means, rtol=0,
                               atol=4 * offset * np.finfo(dtype).eps + 1e-6)
    assert km.inertia_ == pytest.approx(-km.score(Xs), rel=1e-3)


@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e6), (np.float64, 1e13)])
def test_kmeans_plusplus_far_from_the_origin(dtype, offset):
    X0, y = two_blobs(seed=1)
    km = KMeans(2, random_state=0).fit((X0 + offset).astype(dtype))
    assert adjusted_rand_score(y, km.labels_) > 0.9


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES + ["fixed"])
@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e6), (np.float64, 1e13)])
def test_mixture_labels_do_not_depend_on_the_offset(covariance_type, dtype, offset):
    X0, y = two_blobs(seed=2)
    kw = {"variance": 1.0} if covariance_type == "fixed" else {}
    Xs = (X0 + offset).astype(dtype)
    # The same problem (the data as rounded to dtype) in float64 about its mean.
    X64 = Xs.astype(np.float64)
    X64 -= X64.mean(axis=0)
    ref = GaussianMixture(2, covariance_type=covariance_type, random_state=0,
                          **kw).fit(X64)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0,
                         **kw).fit(Xs)
    assert adjusted_rand_score(ref.predict(X64), gm.predict(Xs)) == 1.0
    assert adjusted_rand_score(y, gm.predict(Xs)) > 0.9
    assert np.all(np.isfinite(gm.covariances_))
    assert gm.converged_


def test_transform_is_accurate_far_from_the_origin():
    X0, _ = two_blobs(n=200, seed=3)
    km0 = KMeans(2, random_state=0).fit(X0)
    km = KMeans(2, init=km0.cluster_centers_ + 1e13).fit(X0 + 1e13)
    np.testing.assert_allclose(km.transform(X0 + 1e13), km0.transform(X0),
                               rtol=0, atol=1e-2)


def test_dask_fits_far_from_the_origin():
    da = pytest.importorskip("dask.array")
    X0, y = two_blobs(seed=4)
    for dtype, offset in [(np.float32, 1e6), (np.float64, 1e13)]:
        X = da.from_array((X0 + offset).astype(dtype), chunks=150)
        km = KMeans(2, random_state=0).fit(X)
        labels = km.labels_.compute()
        assert adjusted_rand_score(y, labels) > 0.9
        np.testing.assert_array_equal(km.predict(X).compute(), labels)
        gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
        assert adjusted_rand_score(y, gm.predict(X).compute()) > 0.9


def test_callers_arrays_are_left_alone_and_copy_x_false_restores():
    X0, _ = two_blobs(seed=5)
    X = (X0 + 1e6).astype(np.float32)
    w = np.linspace(1, 2, X.shape[0])
    before, w_before = X.copy(), w.copy()
    ref = KMeans(2, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(w, w_before)
    km = KMeans(2, random_state=0, copy_x=False).fit(X, sample_weight=w)
    np.testing.assert_array_equal(X, before)      # exact here: the shift is close
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_array_equal(km.cluster_centers_, ref.cluster_centers_)
    with pytest.raises(TypeError, match="copy_x"):
        KMeans(2, copy_x="no").fit(X)


# ----------------------------------------------------------------- scale
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype, factor", [(np.float32, 1e20), (np.float32, 1e-25),
                                           (np.float64, 1e200), (np.float64, 1e-200)])
def test_kmeans_is_right_when_squares_overflow_or_vanish(algorithm, dtype, factor):
    X0, _ = two_blobs(seed=6)
    init0 = X0[[0, 1]]
    expected = KMeans(2, init=init0, algorithm="lloyd").fit(X0)
    X = (X0 * factor).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        km = KMeans(2, init=(init0 * factor).astype(dtype), algorithm=algorithm).fit(X)
    assert adjusted_rand_score(expected.labels_, km.labels_) == 1.0
    assert np.all(np.isfinite(km.cluster_centers_))
    np.testing.assert_allclose(km.cluster_centers_ / factor, expected.cluster_centers_,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    with np.errstate(over="ignore"):
        true_inertia = expected.inertia_ * np.float64(factor) ** 2
    if np.isfinite(true_inertia):
        assert km.inertia_ == pytest.approx(true_inertia, rel=1e-4)
    else:   # the true inertia is beyond float64, and says so
        assert km.inertia_ == np.inf


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_mixture_refuses_data_whose_squares_overflow(covariance_type):
    X0, _ = two_blobs(seed=7)
    X = (X0 * 1e20).astype(np.float32)
    with pytest.raises(ValueError, match="float64"):
        GaussianMixture(2, covariance_type=covariance_type).fit(X)
    with pytest.raises(ValueError, match="rescale"):
        GaussianMixture(2, covariance_type=covariance_type).fit(X0 * 1e160)
    # The same data in float64 fits, with finite parameters.
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
        X.astype(np.float64))
    assert gm.converged_ and np.all(np.isfinite(gm.covariances_))


# --------------------------------------------------------- weights' scale
@pytest.mark.parametrize("scale", [2.0 ** -1000, 1e-300, 1e-15, 1e15, 1e300])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_does_not_depend_on_the_weights_scale(scale, dtype):
    X0, _ = two_blobs(seed=8)
    X = X0.astype(dtype)
    w = np.random.RandomState(0).uniform(0.5, 2.0, X.shape[0])
    ref = KMeans(2, random_state=0).fit(X, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        km = KMeans(2, random_state=0).fit(X, sample_weight=w * scale)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_,
                               rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert km.inertia_ / scale == pytest.approx(ref.inertia_, rel=1e-5)
    assert km.score(X, sample_weight=w * scale) / scale == pytest.approx(
        ref.score(X, sample_weight=w), rel=1e-5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("scale", [2.0 ** -1020, 1e-300, 1e-15, 1e300])
def test_mixture_does_not_depend_on_the_weights_scale(covariance_type, scale):
    X0, _ = two_blobs(n=400, seed=9)
    w = np.random.RandomState(1).uniform(0.5, 2.0, X0.shape[0])
    ref = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
        X0, sample_weight=w)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
        X0, sample_weight=w * scale)
    np.testing.assert_allclose(gm.covariances_, ref.covariances_, rtol=1e-9)
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gm.weights_, ref.weights_, rtol=1e-9)
    assert gm.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-12)


def test_weights_whose_sum_overflows_are_refused():
    X0, _ = two_blobs(n=100)
    w = np.full(100, 1e307)
    for est in (KMeans(2), GaussianMixture(2)):
        with pytest.raises(ValueError, match="sample_weight sums to more"):
            est.fit(X0, sample_weight=w)


def test_float32_data_takes_float64_weights_beyond_float32():
    X0, _ = two_blobs(n=200)
    X = X0.astype(np.float32)
    ref = KMeans(2, random_state=0).fit(X)
    km = KMeans(2, random_state=0).fit(X, sample_weight=np.full(200, 1e300))
    np.testing.assert_array_equal(km.cluster_centers_, ref.cluster_centers_)


# ------------------------------------------------------------- far points
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES + ["fixed"])
@pytest.mark.parametrize("assignment", ["soft", "hard"])
def test_far_points_get_a_distribution_and_a_log_density(covariance_type, assignment):
    X0, _ = two_blobs(n=400, d=3, seed=10)
    kw = {"variance": 1.0} if covariance_type == "fixed" else {}
    gm = GaussianMixture(2, covariance_type=covariance_type, assignment=assignment,
                         random_state=0, **kw).fit(X0)
    far = np.array([[1e150, 0, 0], [-1e150, 1e150, 5], [1e160, 0, 0],
                    [1e200, -1e200, 3], [0.5, 0.0, 0.0]])
    proba = gm.predict_proba(far)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba >= 0)
    scores = gm.score_samples(far)
    assert not np.any(np.isnan(scores))
    # Maha ~1e300 fits in float64: a finite, very negative log-density.
    assert np.all(np.isfinite(scores[:2])) and np.all(scores[:2] < -1e290)
    # Maha ~1e320 or more underflows: -inf, the truth in float64.
    assert np.all(scores[2:4] == -np.inf)
    assert np.isfinite(scores[4])
    np.testing.assert_array_equal(gm.predict(far), proba.argmax(axis=1))


# ----------------------------------------------------------- convergence
def test_fixed_tiny_variance_declares_convergence():
    X0, _ = two_blobs(n=400, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm = GaussianMixture(2, covariance_type="fixed", variance=1e-12,
                             random_state=0).fit(X0)
    assert gm.converged_ and gm.n_iter_ < 10
    km = KMeans(2, random_state=0).fit(X0)
    assert adjusted_rand_score(km.labels_, gm.predict(X0)) == 1.0


def test_repeated_one_iteration_warm_fits_converge():
    X0, _ = two_blobs(n=400, seed=12)
    gm = GaussianMixture(2, warm_start=True, max_iter=1, random_state=0)
    converged = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(50):
            gm.fit(X0)
            if gm.converged_:
                converged = True
                break
    assert converged


def test_warm_start_after_changing_the_shape_fits_from_scratch():
    X0, _ = two_blobs(n=400, seed=13)
    gm = GaussianMixture(2, warm_start=True, random_state=0).fit(X0)
    gm.set_params(n_components=3).fit(X0)
    assert gm.means_.shape == (3, 8) and gm.weights_.shape == (3,)
    assert gm.covariances_.shape == (3, 8, 8)
    assert gm.predict_proba(X0).shape == (400, 3)
    gm.set_params(covariance_type="diag").fit(X0)
    assert gm.covariances_.shape == (3, 8)


# ----------------------------------------------------- small API items
def test_convergence_warning_is_also_scikit_learns():
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

    X0, _ = two_blobs(n=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", SkConvergenceWarning)   # takes precedence
        GaussianMixture(2, max_iter=1, random_state=0).fit(X0)   # silenced
    with pytest.warns(SkConvergenceWarning):
        GaussianMixture(2, max_iter=1, random_state=0).fit(X0)
    with pytest.warns(ConvergenceWarning):
        GaussianMixture(2, max_iter=1, random_state=0).fit(X0)


def test_verbose_true_and_integral_float_sample_counts_are_accepted(caplog):
    X0, _ = two_blobs(n=200)
    with caplog.at_level("INFO", logger="kmgmm"):
        KMeans(2, verbose=True, random_state=0).fit(X0)
        GaussianMixture(2, verbose=True, random_state=0).fit(X0)
    assert "Iteration" in caplog.text
    gm = GaussianMixture(2, random_state=0).fit(X0)
    assert gm.sample(2.0)[0].shape == (2, 8)
    with pytest.raises(TypeError, match="n_samples"):
        gm.sample(2.5)
    with pytest.raises(ValueError, match="verbose"):
        KMeans(2, verbose=-1).fit(X0)


def test_a_fitted_mixture_keeps_its_shape_after_set_params():
    X0, _ = two_blobs(n=200)
    gm = GaussianMixture(2, random_state=0).fit(X0)
    bic = gm.bic(X0)
    gm.set_params(n_components=7)
    assert gm.predict_proba(X0).shape == (200, 2)
    np.testing.assert_allclose(gm.predict_proba(X0).sum(axis=1), 1.0)
    assert gm.bic(X0) == bic
