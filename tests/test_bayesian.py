"""BayesianGaussianMixture: parity with scikit-learn from the same start,
pruning, scikit-learn's estimator checks, bad input, weights as repeated
rows, thread count, invariances, model files."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.mixture import BayesianGaussianMixture as SklearnBGM

import kmgmm
from kmgmm import BayesianGaussianMixture, ConvergenceWarning
from kmgmm._algorithms.mixture_moments import soft_moments

COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]


class SklearnFromResp(SklearnBGM):
    """scikit-learn's estimator started from the responsibilities ``start``."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.start)


class FromResp(BayesianGaussianMixture):
    """kmgmm's estimator started from the responsibilities ``start`` (one
    row per row of X): their statistics, as ``_initial_moments`` returns."""

    def _initial_moments(self, engine, random_state, shift):
        resp = self.start

        def blocks():
            yield slice(0, engine.n_samples), resp
        return soft_moments(engine.X, engine.sample_weight, blocks, self.n_components,
                            self.covariance_type, shift)


def make_data(seed=0, n=200, d=3, centres=((0, 0, 0), (6, 6, 0), (0, 7, 4)),
              spreads=(1.0, 0.7, 1.3)):
    rng = np.random.RandomState(seed)
    centres = np.asarray(centres, dtype=np.float64)[:, :d]
    X = np.vstack([c + rng.standard_normal((n, d)) * s
                   for c, s in zip(centres, spreads)])
    return X[rng.permutation(len(X))]


def random_resp(n, k, seed=1):
    r = np.random.RandomState(seed).uniform(size=(n, k))
    return r / r.sum(axis=1, keepdims=True)


def fit_both(X, resp, **kw):
    kw = {"n_components": resp.shape[1], "n_threads": 1, **kw}
    ours = FromResp(**kw)
    kw.pop("n_threads")
    theirs = SklearnFromResp(**kw)
    ours.start = theirs.start = resp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        theirs.fit(X)
        ours.fit(X)
    return ours, theirs


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def bound(model):      # scikit-learn's tied bound is a 1-element array
    return float(np.ravel(model.lower_bound_)[0])


# -------------------------------------------------------------- parity
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_parity_with_sklearn(cov_type, prior_type):
    X = make_data()
    resp = random_resp(len(X), 6)
    ours, theirs = fit_both(X, resp, covariance_type=cov_type,
                            weight_concentration_prior_type=prior_type, max_iter=40, tol=0)
    assert ours.n_iter_ == theirs.n_iter_ == 40
    assert abs(ours.lower_bound_ - bound(theirs)) <= 1e-6 * abs(bound(theirs))
    history = np.array([float(np.ravel(b)[0]) for b in theirs.lower_bounds_])
    assert np.max(np.abs(np.array(ours.lower_bounds_) - history) / np.abs(history)) < 1e-6
    assert rel_err(ours.weights_, theirs.weights_) < 1e-6
    assert rel_err(ours.means_, theirs.means_) < 1e-6
    assert rel_err(ours.covariances_, theirs.covariances_) < 1e-6
    assert rel_err(ours.precisions_cholesky_, theirs.precisions_cholesky_) < 1e-6
    assert rel_err(ours.weight_concentration_, np.asarray(theirs.weight_concentration_)) < 1e-6
    assert rel_err(ours.mean_precision_, theirs.mean_precision_) < 1e-6
    assert rel_err(ours.degrees_of_freedom_, theirs.degrees_of_freedom_) < 1e-6
    assert rel_err(ours.covariance_prior_, theirs.covariance_prior_) < 1e-12
    assert rel_err(ours.mean_prior_, theirs.mean_prior_) < 1e-12
    # The fitted models score new rows alike.
    Xt = make_data(seed=5, n=30)
    assert rel_err(ours.score_samples(Xt), theirs.score_samples(Xt)) < 1e-6
    assert np.max(np.abs(ours.predict_proba(Xt) - theirs.predict_proba(Xt))) < 1e-6
    assert np.array_equal(ours.predict(Xt), theirs.predict(Xt))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_parity_with_given_priors(cov_type):
    X = make_data(seed=3, d=2)
    d = X.shape[1]
    cov_prior = {"full": np.array([[2.0, 0.3], [0.3, 1.0]]),
                 "tied": np.array([[2.0, 0.3], [0.3, 1.0]]),
                 "diag": np.array([2.0, 0.5]), "spherical": 1.5}[cov_type]
    kw = {"covariance_type": cov_type, "weight_concentration_prior": 0.01,
              "mean_precision_prior": 0.3, "mean_prior": np.array([1.0, -1.0]),
              "degrees_of_freedom_prior": d + 2.5, "covariance_prior": cov_prior,
              "max_iter": 25, "tol": 0}
    ours, theirs = fit_both(X, random_resp(len(X), 5, seed=4), **kw)
    assert abs(ours.lower_bound_ - bound(theirs)) <= 1e-6 * abs(bound(theirs))
    assert rel_err(ours.weights_, theirs.weights_) < 1e-6
    assert rel_err(ours.means_, theirs.means_) < 1e-6


def test_parity_converges_at_the_same_iteration():
    X = make_data(seed=2)
    ours, theirs = fit_both(X, random_resp(len(X), 4, seed=2), tol=1e-3, max_iter=500)
    assert ours.converged_ and theirs.converged_
    assert ours.n_iter_ == theirs.n_iter_
    assert abs(ours.lower_bound_ - bound(theirs)) <= 1e-6 * abs(bound(theirs))


def test_warm_start_matches_sklearn():
    X = make_data(seed=6)
    resp = random_resp(len(X), 4, seed=6)
    ours, theirs = fit_both(X, resp, max_iter=5, tol=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X)
        theirs.fit(X)
    assert abs(ours.lower_bound_ - bound(theirs)) <= 1e-6 * abs(bound(theirs))
    one, _ = fit_both(X, resp, max_iter=10, tol=0)
    assert abs(ours.lower_bound_ - one.lower_bound_) <= 1e-10 * abs(one.lower_bound_)


# ------------------------------------------------------------- pruning
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_dirichlet_process_prunes_extra_components(cov_type):
    # Equal spreads: a tied model fits the data (on clusters of unequal
    # spread it keeps extra components to mimic them, as scikit-learn's does).
    # Three starts: one may end in the local optimum of two components
    # sharing a cluster; the highest lower bound is the pruned mixture.
    X = make_data(seed=7, n=400, spreads=(1.0, 1.0, 1.0))
    bgm = BayesianGaussianMixture(10, covariance_type=cov_type,
                                  weight_concentration_prior=1e-3, max_iter=1000,
                                  n_init=3, random_state=0, n_threads=1).fit(X)
    assert bgm.converged_
    w = np.sort(bgm.weights_)[::-1]
    assert np.all(w[:3] > 0.25), w
    assert w[3:].sum() < 0.01, w
    assert len(np.unique(bgm.predict(X))) == 3


# ------------------------------------------------------ estimator checks
def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(BayesianGaussianMixture(), expected_failed_checks={})


# ------------------------------------------------------------ bad input
X_OK = np.random.RandomState(0).standard_normal((20, 2))


@pytest.mark.parametrize("kwargs, match", [
    ({"n_components": 0}, "n_components"),
    ({"n_components": 21}, "n_components"),
    ({"covariance_type": "fixed"}, "covariance_type"),
    ({"weight_concentration_prior_type": "pitman_yor"}, "weight_concentration_prior_type"),
    ({"weight_concentration_prior": 0.0}, "weight_concentration_prior"),
    ({"mean_precision_prior": -1.0}, "mean_precision_prior"),
    ({"degrees_of_freedom_prior": 1.0}, "degrees_of_freedom_prior"),
    ({"mean_prior": [0.0, 0.0, 0.0]}, "mean_prior"),
    ({"covariance_prior": np.eye(3)}, "covariance_prior"),
    ({"covariance_prior": np.array([[1.0, 2.0], [2.0, 1.0]])}, "covariance_prior"),
    ({"covariance_prior": np.array([[1.0, 0.5], [0.0, 1.0]])}, "covariance_prior"),
    ({"covariance_type": "diag", "covariance_prior": [1.0, -1.0]}, "covariance_prior"),
    ({"covariance_type": "spherical", "covariance_prior": -2.0}, "covariance_prior"),
    ({"covariance_type": "spherical", "covariance_prior": [1.0, 2.0]}, "covariance_prior"),
    ({"reg_covar": -1.0}, "reg_covar"),
    ({"tol": -1.0}, "tol"),
    ({"max_iter": -1}, "max_iter"),
    ({"n_init": 0}, "n_init"),
    ({"init_params": "magic"}, "init_params"),
    ({"random_state": -3}, "random_state"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        BayesianGaussianMixture(**kwargs).fit(X_OK)


@pytest.mark.parametrize("X, sample_weight, match", [
    (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), None, "NaN|finite"),
    (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), None, "finite|inf"),
    (np.zeros((1, 2)), None, "n_samples=1"),
    (np.array(["a", "b"]), None, "numeric|number|string"),
    (X_OK, -np.ones(20), "negative"),
    (X_OK, np.ones(3), "sample_weight"),
    (X_OK, np.full(20, 0.01), "total sample weight"),
])
def test_bad_data(X, sample_weight, match):
    with pytest.raises((ValueError, TypeError), match=match):
        BayesianGaussianMixture().fit(X, sample_weight=sample_weight)


def test_bad_data_other():
    import scipy.sparse as sp

    with pytest.raises(TypeError, match="sparse"):
        BayesianGaussianMixture().fit(sp.random(20, 3, density=0.5, format="csr"))
    with pytest.raises(ValueError, match="n_components"):
        BayesianGaussianMixture(5).fit(X_OK[:4])
    with pytest.raises(kmgmm.NotFittedError):
        BayesianGaussianMixture().predict(X_OK)
    bgm = BayesianGaussianMixture(2, random_state=0).fit(X_OK)
    with pytest.raises(ValueError, match="features"):
        bgm.predict(np.zeros((3, 5)))


def test_inputs_not_modified():
    X = make_data(seed=8)
    w = np.random.RandomState(0).uniform(0.5, 2, len(X))
    mean_prior = np.zeros(3)
    X0, w0 = X.copy(), w.copy()
    BayesianGaussianMixture(3, random_state=0, mean_prior=mean_prior).fit(X, sample_weight=w)
    assert np.array_equal(X, X0) and np.array_equal(w, w0)
    assert np.array_equal(mean_prior, np.zeros(3))


# --------------------------------------------- weights are repeated rows
def assert_same_fit(a, b, rtol):
    assert abs(a.lower_bound_ - b.lower_bound_) <= rtol * abs(b.lower_bound_)
    for name in ("weights_", "means_", "covariances_", "mean_precision_",
                 "degrees_of_freedom_", "covariance_prior_", "mean_prior_"):
        assert rel_err(getattr(a, name), getattr(b, name)) < rtol, name


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_integer_weights_are_repeated_rows(cov_type, prior_type):
    X = make_data(seed=9, n=60)
    rng = np.random.RandomState(0)
    w = rng.randint(0, 4, len(X))
    resp = random_resp(len(X), 4, seed=9)
    kw = {"n_components": 4, "covariance_type": cov_type, "max_iter": 30, "tol": 0, "n_threads": 1,
              "weight_concentration_prior_type": prior_type}
    weighted = FromResp(**kw)
    weighted.start = resp
    repeated = FromResp(**kw)
    repeated.start = np.repeat(resp, w, axis=0)
    weighted.fit(X, sample_weight=w)
    repeated.fit(np.repeat(X, w, axis=0))
    assert_same_fit(weighted, repeated, 1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), top=st.integers(1, 40),
       cov_type=st.sampled_from(COV_TYPES))
def test_integer_weights_property(seed, top, cov_type):
    """Any integer weights (zeros too, any largest weight, so any power-of-two
    unit inside the fit) give the fit of the rows repeated."""
    rng = np.random.RandomState(seed)
    X = make_data(seed=seed % 1000, n=25, d=2)
    w = rng.randint(0, top + 1, len(X))
    w[rng.randint(len(X))] = top
    resp = random_resp(len(X), 3, seed=seed % 1000)
    kw = {"n_components": 3, "covariance_type": cov_type, "max_iter": 10, "tol": 0, "n_threads": 1}
    weighted, repeated = FromResp(**kw), FromResp(**kw)
    weighted.start, repeated.start = resp, np.repeat(resp, w, axis=0)
    weighted.fit(X, sample_weight=w)
    repeated.fit(np.repeat(X, w, axis=0))
    assert_same_fit(weighted, repeated, 1e-8)


# -------------------------------------------------------- threads, order
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_thread_count_does_not_change_the_fit(cov_type):
    X = make_data(seed=10, n=3000, d=4, centres=((0,) * 4, (5,) * 4, (0, 5, 0, 5)))
    fits = [BayesianGaussianMixture(5, covariance_type=cov_type, random_state=0,
                                    max_iter=20, tol=0, n_threads=t).fit(X)
            for t in (1, 2, 3)]
    for f in fits[1:]:
        assert f.lower_bound_ == fits[0].lower_bound_
        assert np.array_equal(f.means_, fits[0].means_)
        assert np.array_equal(f.covariances_, fits[0].covariances_)
        assert np.array_equal(f.predict_proba(X), fits[0].predict_proba(X))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cov_type=st.sampled_from(COV_TYPES))
def test_row_permutation(seed, cov_type):
    X = make_data(seed=seed % 1000, n=30, d=2)
    resp = random_resp(len(X), 3, seed=seed % 1000)
    perm = np.random.RandomState(seed).permutation(len(X))
    kw = {"n_components": 3, "covariance_type": cov_type, "max_iter": 10, "tol": 0, "n_threads": 1}
    a, b = FromResp(**kw), FromResp(**kw)
    a.start, b.start = resp, resp[perm]
    a.fit(X)
    b.fit(X[perm])
    assert_same_fit(a, b, 1e-9)


# ------------------------------------------- translation and scale of X
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cov_type=st.sampled_from(COV_TYPES),
       offset_exp=st.integers(0, 6), scale_exp=st.integers(-6, 6),
       prior_type=st.sampled_from(PRIOR_TYPES))
def test_translation_and_scale(seed, cov_type, offset_exp, scale_exp, prior_type):
    """With the default (data-dependent) priors, fitting a X + b is fitting X
    in other units: the same weights, means a m + b, covariances a^2 C,
    and a lower bound lower by d log(a) times the degrees of freedom
    (the precisions' log-determinants move by -d log a each).  reg_covar
    is given in the data's units (scaled by a^2) and set to 0 here."""
    X = make_data(seed=seed % 1000, n=40, d=2)
    rng = np.random.RandomState(seed)
    a = 10.0 ** scale_exp
    b = rng.uniform(-1, 1, 2) * 10.0 ** offset_exp
    resp = random_resp(len(X), 3, seed=seed % 1000)
    kw = {"n_components": 3, "covariance_type": cov_type, "max_iter": 15, "tol": 0, "n_threads": 1,
              "reg_covar": 0.0, "weight_concentration_prior_type": prior_type}
    base, moved = FromResp(**kw), FromResp(**kw)
    base.start = moved.start = resp
    base.fit(X)
    moved.fit(a * X + b)
    d = X.shape[1]
    nu = np.asarray(base.degrees_of_freedom_, dtype=np.float64)
    dof_total = base.n_components * float(nu) if cov_type == "tied" else float(nu.sum())
    expected_bound = base.lower_bound_ - d * np.log(a) * dof_total
    # The offset costs what rounding a X + b costs: eps |b| / a in X's units.
    tol = 1e-9 + 100 * np.finfo(np.float64).eps * 10.0 ** offset_exp / a
    assert abs(moved.lower_bound_ - expected_bound) <= 1e-7 * (
        abs(expected_bound) + d * abs(np.log(a)) * dof_total) + tol * len(X) * 100
    assert np.max(np.abs(moved.weights_ - base.weights_)) < 1e-7 + tol
    assert np.max(np.abs((moved.means_ - b) / a - base.means_)) < 1e-7 + tol
    assert rel_err(moved.covariances_ / a**2, base.covariances_) < 1e-7 + tol


# --------------------------------------------------------- other results
def test_float32_fit_close_to_float64():
    X = make_data(seed=11)
    kw = {"n_components": 4, "random_state": 0, "max_iter": 50, "tol": 0, "n_threads": 1}
    f64 = BayesianGaussianMixture(**kw).fit(X)
    f32 = BayesianGaussianMixture(**kw).fit(X.astype(np.float32))
    assert f32.means_.dtype == np.float32 and f32.weight_concentration_.dtype == np.float32
    assert abs(f32.lower_bound_ - f64.lower_bound_) < 1e-4 * abs(f64.lower_bound_)
    assert np.max(np.abs(f32.weights_ - f64.weights_)) < 1e-4


def test_fit_predict_and_n_init():
    X = make_data(seed=12)
    bgm = BayesianGaussianMixture(4, random_state=0, n_init=3, n_threads=1)
    labels = bgm.fit_predict(X)
    assert np.array_equal(labels, bgm.predict(X))
    singles = [BayesianGaussianMixture(4, random_state=np.random.RandomState(0),
                                       n_threads=1) for _ in range(1)]
    assert bgm.lower_bound_ >= max(s.fit(X).lower_bound_ for s in singles) - 1e-9
    proba = bgm.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert bgm.score(X) == pytest.approx(bgm.score_samples(X).mean())


def test_far_rows_are_scored():
    X = make_data(seed=13)
    bgm = BayesianGaussianMixture(3, random_state=0, n_threads=1).fit(X)
    far = np.array([[1e200, 0.0, 0.0], [0.0, -1e200, 0.0]])
    proba = bgm.predict_proba(far)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1.0)
    assert bgm.predict(far).shape == (2,)


def test_sample():
    X = make_data(seed=14)
    bgm = BayesianGaussianMixture(3, random_state=0, n_threads=1).fit(X)
    Xs, ys = bgm.sample(500)
    assert Xs.shape == (500, 3) and ys.shape == (500,)
    assert set(np.unique(ys)) <= set(range(3))


def test_init_params_options():
    X = make_data(seed=15)
    for init in ("kmeans", "k-means++", "random", "random_from_data"):
        bgm = BayesianGaussianMixture(3, init_params=init, random_state=0, n_threads=1,
                                      max_iter=300).fit(X)
        assert np.isfinite(bgm.lower_bound_)
        assert bgm.weights_.sum() == pytest.approx(1.0)


# ------------------------------------------------------------ model files
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_save_and_load(tmp_path, cov_type, prior_type, dtype):
    X = make_data(seed=16).astype(dtype)
    bgm = BayesianGaussianMixture(4, covariance_type=cov_type,
                                  weight_concentration_prior_type=prior_type,
                                  mean_prior=np.zeros(3), random_state=0,
                                  n_threads=1).fit(X)
    path = bgm.save(tmp_path / "model.npz")
    loaded = kmgmm.load(path)
    assert isinstance(loaded, BayesianGaussianMixture)
    assert loaded.get_params()["covariance_type"] == cov_type
    assert np.array_equal(loaded.predict(X), bgm.predict(X))
    assert np.array_equal(loaded.score_samples(X), bgm.score_samples(X))
    assert loaded.lower_bound_ == bgm.lower_bound_


@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e6), (np.float64, 1e13)])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_data_far_from_the_origin(cov_type, dtype, offset):
    """Data offset far beyond its spread fits as the data about the origin
    does, to the accuracy its dtype holds the offset data with."""
    X = make_data(seed=17, n=150)
    resp = random_resp(len(X), 3, seed=17)
    kw = {"n_components": 3, "covariance_type": cov_type, "max_iter": 20, "tol": 0,
          "n_threads": 1}
    near, far = FromResp(**kw), FromResp(**kw)
    near.start = far.start = resp
    Xfar = (X + offset).astype(dtype)
    near.fit(Xfar.astype(np.float64) - offset)     # the same rounded data, centred
    far.fit(Xfar)
    # The posterior is float64 whatever X's dtype: at the offset its means are
    # rounded at eps64 * offset (in units of the spread, about 1), which the
    # next E-step sees; the kernel's arithmetic adds a few eps of X's dtype.
    eps = float(np.finfo(dtype).eps)
    tol = np.finfo(np.float64).eps * offset + 1e3 * eps
    assert np.max(np.abs(far.weights_ - near.weights_)) < tol
    assert np.max(np.abs(far.means_.astype(np.float64) - offset - near.means_)) < (
        tol + 4 * eps * offset)
    assert rel_err(far.covariances_, near.covariances_) < tol
    assert abs(far.lower_bound_ - near.lower_bound_) < tol * abs(near.lower_bound_)


def test_dask_input_is_refused_clearly():
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="compute"):
        BayesianGaussianMixture().fit(da.from_array(X_OK, chunks=10))


def test_verbose_prints_the_bound(capsys):
    BayesianGaussianMixture(2, random_state=0, max_iter=3, verbose=1,
                            n_threads=1).fit(X_OK)
    assert "lower bound" in capsys.readouterr().out


@pytest.mark.parametrize("init", ["kmeans", "random"])
def test_fit_never_builds_an_n_by_k_array(init):
    import tracemalloc

    rng = np.random.RandomState(18)
    n, k = 200_000, 32
    X = rng.standard_normal((n, 2))
    bgm = BayesianGaussianMixture(k, covariance_type="diag", init_params=init, max_iter=2,
                                  tol=0, random_state=0)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bgm.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * k * 8 / 4, f"peak {peak / 1e6:.1f} MB"


# ------------------------------------------------------------- resp_init
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_resp_init_starts_where_sklearn_starts_from_the_same_responsibilities(cov_type):
    X = make_data()
    resp = random_resp(len(X), 5, seed=3)
    theirs = SklearnFromResp(n_components=5, covariance_type=cov_type, max_iter=25, tol=0)
    theirs.start = resp
    ours = BayesianGaussianMixture(5, covariance_type=cov_type, max_iter=25, tol=0,
                                   n_init=3, resp_init=resp, n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X)
        ours.fit(X)
    assert ours.n_iter_ == 25
    assert abs(ours.lower_bound_ - bound(theirs)) <= 1e-6 * abs(bound(theirs))
    assert rel_err(ours.weights_, theirs.weights_) < 1e-6
    assert rel_err(ours.means_, theirs.means_) < 1e-6
    assert not hasattr(ours, "_resp") or ours._resp is None    # not kept


def test_resp_init_labels_and_bad_resp_init():
    X = make_data()
    centres = np.array([[0, 0, 0], [6, 6, 0], [0, 7, 4]], dtype=float)
    labels = np.argmin(((X[:, None, :] - centres) ** 2).sum(-1), axis=1)
    bgm = BayesianGaussianMixture(3, resp_init=labels, max_iter=200, random_state=0).fit(X)
    # Started from the labels, component j stays the cluster at centre j.
    assert np.mean(bgm.predict(X) == labels) > 0.99
    assert np.max(np.abs(bgm.means_ - centres)) < 0.3
    with pytest.raises(ValueError, match="resp_init"):
        BayesianGaussianMixture(3, resp_init=labels[:-1]).fit(X)
    with pytest.raises(ValueError, match="resp_init"):
        BayesianGaussianMixture(4, resp_init=labels).fit(X)        # component 3 empty
    with pytest.raises(ValueError, match="resp_init"):
        BayesianGaussianMixture(3, resp_init=np.full((len(X), 3), 0.5)).fit(X)
