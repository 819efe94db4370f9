"""GaussianMixture.partial_fit: online (stepwise) EM.

Checked against a NumPy twin of the online-EM step (raw moments about the
origin, the textbook form of Cappé & Moulines' running averages), against
one iteration of ``fit`` where the step size is 1, and against batch EM's
likelihood on a known mixture; bad batches raise what ``fit`` raises.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import kmgmm
from kmgmm._algorithms.online_em import (
    moments_of_parameters,
    shift_moments,
    step_size,
)
from kmgmm._exceptions import ConvergenceWarning
from kmgmm._gaussian import m_step

COV_TYPES = ["full", "tied", "diag", "spherical", "fixed"]
PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")


def GaussianMixture(n_components, **kw):
    return kmgmm.GaussianMixture(n_components, **{"n_threads": 1, **kw})


def blobs(n, d, k, seed=0, spread=1.0):
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-6, 6, (k, d))
    y = rng.randint(k, size=n)
    scales = rng.uniform(0.5, 1.5, (k, d)) * spread
    return centres[y] + scales[y] * rng.standard_normal((n, d)), y, centres


def initial_kwargs(cov_type, k, d, centres, seed=1):
    """Given initial parameters (no data-dependent initialisation)."""
    rng = np.random.RandomState(seed)
    kw = {"covariance_type": cov_type, "reg_covar": 1e-3,
              "means_init": centres + 0.5 * rng.standard_normal(centres.shape),
              "weights_init": np.full(k, 1.0 / k)}
    if cov_type == "fixed":
        kw["variance"] = 1.5
    else:
        kw["precisions_init"] = {
            "full": np.tile(np.eye(d), (k, 1, 1)) * 0.8, "tied": np.eye(d) * 0.7,
            "diag": np.full((k, d), 0.9), "spherical": np.full(k, 0.6)}[cov_type]
    return kw


# ------------------------------------------------------------ the twin
def full_covariances(cov, cov_type, k, d, variance=None):
    if cov_type == "full":
        return np.array(cov, dtype=np.float64)
    if cov_type == "tied":
        return np.repeat(np.asarray(cov, dtype=np.float64)[None], k, axis=0)
    if cov_type == "diag":
        return np.array([np.diag(c) for c in cov])
    return np.asarray(cov, dtype=np.float64)[:, None, None] * np.eye(d)


class Twin:
    """Online EM with raw moments about the origin, per unit weight."""

    def __init__(self, weights, means, cov, cov_type, reg_covar, variance=None, hard=False):
        k, d = np.shape(means)
        self.cov_type, self.reg, self.variance, self.hard = cov_type, reg_covar, variance, hard
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.cov = np.asarray(cov, dtype=np.float64)
        # Statistics standing for the parameters: N = w, Sx = w m,
        # Sxx = w (C - reg I + m m^T).
        C = full_covariances(cov, cov_type, k, d) - reg_covar * np.eye(d)
        if cov_type == "fixed":
            C = np.zeros((k, d, d))
        self.N = self.weights.copy()
        self.Sx = self.weights[:, None] * self.means
        self.Sxx = self.weights[:, None, None] * (
            C + self.means[:, :, None] * self.means[:, None, :])
        self.t = 0

    def step(self, X, w, rho, fixed_weights=False):
        X = np.asarray(X, dtype=np.float64)
        k, d = self.means.shape
        C = full_covariances(self.cov, self.cov_type, k, d)
        logp = np.column_stack([
            np.log(self.weights[j]) + multivariate_normal(self.means[j], C[j]).logpdf(X)
            for j in range(k)])
        if self.hard:
            r = np.zeros_like(logp)
            r[np.arange(len(X)), logp.argmax(axis=1)] = 1.0
            ll = logp.max(axis=1)
        else:
            lse = logsumexp(logp, axis=1)
            r = np.exp(logp - lse[:, None])
            ll = lse
        W = w.sum()
        wr = w[:, None] * r
        self.N = (1 - rho) * self.N + rho * wr.sum(axis=0) / W
        self.Sx = (1 - rho) * self.Sx + rho * wr.T @ X / W
        self.Sxx = (1 - rho) * self.Sxx + rho * np.einsum("ij,ik,il->jkl", wr, X, X) / W
        means = self.Sx / self.N[:, None]
        scatter = self.Sxx - self.N[:, None, None] * means[:, :, None] * means[:, None, :]
        eye = np.eye(d)
        if self.cov_type == "full":
            cov = scatter / self.N[:, None, None] + self.reg * eye
        elif self.cov_type == "tied":
            cov = scatter.sum(axis=0) / self.N.sum() + self.reg * eye
        elif self.cov_type == "diag":
            cov = np.diagonal(scatter, axis1=1, axis2=2) / self.N[:, None] + self.reg
        elif self.cov_type == "spherical":
            cov = (np.diagonal(scatter, axis1=1, axis2=2) / self.N[:, None]).mean(1) + self.reg
        else:
            cov = np.full(k, float(self.variance))
        if not fixed_weights:
            self.weights = self.N / self.N.sum()
        self.means, self.cov = means, cov
        self.t += 1
        return float(w @ ll / W)


@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_steps_match_numpy_twin(cov_type, hard, dtype):
    k, d = 3, 4
    X, _, centres = blobs(900, d, k, seed=3)
    X = X.astype(dtype)
    rng = np.random.RandomState(4)
    w = rng.uniform(0.2, 3.0, len(X))
    kw = initial_kwargs(cov_type, k, d, centres)
    decay, offset = 0.7, 2.0
    gm = GaussianMixture(k, assignment="hard" if hard else "soft", learning_decay=decay,
                         learning_offset=offset, **kw)
    cov0 = (np.full(k, kw["variance"]) if cov_type == "fixed" else
            {"full": lambda p: np.linalg.inv(p), "tied": np.linalg.inv,
             "diag": lambda p: 1 / p, "spherical": lambda p: 1 / p}[cov_type](
                 kw["precisions_init"]))
    twin = Twin(kw["weights_init"], kw["means_init"], cov0, cov_type, kw["reg_covar"],
                kw.get("variance"), hard)
    rtol = 1e-9 if dtype == np.float64 else 2e-4
    for t, batch in enumerate(np.array_split(np.arange(len(X)), 3), start=1):
        rho = (t + offset) ** -decay
        bound = twin.step(X[batch].astype(np.float64), w[batch], rho)
        gm.partial_fit(X[batch], sample_weight=w[batch])
        assert gm.n_steps_ == t and gm.n_iter_ == t
        assert gm.means_.dtype == dtype
        np.testing.assert_allclose(gm.lower_bound_, bound, rtol=rtol)
        np.testing.assert_allclose(gm.weights_, twin.weights, rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(gm.means_, twin.means, rtol=rtol, atol=rtol * 10)
        np.testing.assert_allclose(gm.covariances_, twin.cov, rtol=rtol, atol=rtol)
    assert len(gm.lower_bounds_) == 3 and gm.lower_bounds_[-1] == gm.lower_bound_


def test_step_size():
    assert step_size(1, 0.7, 0.0) == 1.0
    assert step_size(3, 0.6, 2.0) == pytest.approx(5 ** -0.6)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_moments_round_trip(cov_type):
    """The statistics standing for parameters give them back in the M-step,
    and moving them to other means and back changes nothing."""
    k, d = 3, 4
    rng = np.random.RandomState(0)
    weights = rng.dirichlet(np.ones(k))
    means = rng.standard_normal((k, d))
    A = rng.standard_normal((k, d, d))
    cov = {"full": A @ np.swapaxes(A, 1, 2) + np.eye(d), "tied": A[0] @ A[0].T + np.eye(d),
           "diag": rng.uniform(1, 2, (k, d)), "spherical": rng.uniform(1, 2, k),
           "fixed": np.full(k, 2.0)}[cov_type]
    stats = moments_of_parameters(weights, means, cov, cov_type, 1e-3)
    w2, m2, c2 = m_step(stats.nk, stats.s1, stats.s2, means, cov_type, 1e-3, 2.0)
    np.testing.assert_allclose(w2, weights, rtol=1e-12)
    np.testing.assert_allclose(m2, means, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c2, cov, rtol=1e-12)
    delta = rng.standard_normal((k, d))
    s1, s2 = shift_moments(stats.nk, stats.s1, stats.s2, delta, cov_type)
    _w3, m3, c3 = m_step(stats.nk, s1, s2, means + delta, cov_type, 1e-3, 2.0)
    np.testing.assert_allclose(m3, means, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c3, cov, rtol=1e-12)


# ------------------------------------------------- one step equals one EM iteration
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_one_whole_batch_with_rho_one_is_one_fit_iteration(cov_type, hard, weighted, dtype):
    """With learning_offset=0 the first step has rho = 1: on the whole of X
    it is, bit for bit, fit's initialisation and first EM iteration."""
    k = 4
    X, _, _ = blobs(1500, 5, k, seed=7)
    X = X.astype(dtype)
    w = np.random.RandomState(8).uniform(0.1, 4.0, len(X)) if weighted else None
    kw = {"covariance_type": cov_type, "assignment": "hard" if hard else "soft",
              "random_state": 5, "n_init": 2, "learning_offset": 0.0, "max_iter": 1}
    if cov_type == "fixed":
        kw["variance"] = 2.0
    ref = GaussianMixture(k, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, sample_weight=w)
    gm = GaussianMixture(k, **kw).partial_fit(X, sample_weight=w)
    for name in PARAMS:
        assert np.array_equal(getattr(gm, name), getattr(ref, name)), name
    assert gm.lower_bound_ == ref.lower_bound_
    assert gm.lower_bounds_ == ref.lower_bounds_
    assert gm.n_iter_ == ref.n_iter_ == 1
    assert np.array_equal(gm.predict(X), ref.predict(X))


# ------------------------------------------------------ reaching batch EM
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_two_passes_reach_batch_em(cov_type):
    k, d = 5, 4
    X, _, _ = blobs(60_000, d, k, seed=11, spread=1.5)
    kw = {"covariance_type": cov_type, "random_state": 0}
    if cov_type == "fixed":
        kw["variance"] = 1.0
    batch_em = GaussianMixture(k, **kw).fit(X)
    gm = GaussianMixture(k, **kw)
    batches = np.array_split(np.random.RandomState(0).permutation(len(X)), 20)
    for _ in range(2):
        for rows in batches:
            gm.partial_fit(X[rows])
    assert gm.n_steps_ == 40
    target = batch_em.score(X)
    got = gm.score(X)
    assert got >= target - 0.005 * abs(target), (got, target)


# --------------------------------------------------------- bad batches
BAD = [
    pytest.param(lambda X: X[:0], id="empty"),
    pytest.param(lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X),
                 id="nan"),
    pytest.param(lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X),
                 id="inf"),
    pytest.param(lambda X: X[:, 0], id="1d"),
    pytest.param(lambda X: X.astype(str), id="strings"),
    pytest.param(lambda X: X.astype(complex) + 1j, id="complex"),
]


def _error(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except (ValueError, TypeError) as exc:
            return type(exc), str(exc)
    raise AssertionError("no error raised")


@pytest.mark.parametrize("started", [False, True], ids=["first", "later"])
@pytest.mark.parametrize("bad", BAD)
def test_bad_batch_raises_what_fit_raises(bad, started):
    X, _, _ = blobs(60, 3, 2)
    gm = GaussianMixture(2, random_state=0)
    if started:
        gm.partial_fit(X)
    before = {name: getattr(gm, name).copy() for name in PARAMS} if started else None
    expected = _error(lambda: GaussianMixture(2, random_state=0).fit(bad(X)))
    assert _error(lambda: gm.partial_fit(bad(X))) == expected
    if started:      # the model is as it was
        for name in PARAMS:
            assert np.array_equal(getattr(gm, name), before[name]), name
        assert gm.n_steps_ == 1


@pytest.mark.parametrize("weights", [
    pytest.param(lambda n: -np.ones(n), id="negative"),
    pytest.param(lambda n: np.zeros(n), id="zero"),
    pytest.param(lambda n: np.ones(n + 1), id="shape"),
    pytest.param(lambda n: np.r_[np.nan, np.ones(n - 1)], id="nan"),
])
def test_bad_weights_raise_what_fit_raises(weights):
    X, _, _ = blobs(60, 3, 2)
    expected = _error(lambda: GaussianMixture(2).fit(X, sample_weight=weights(len(X))))
    gm = GaussianMixture(2)
    assert _error(lambda: gm.partial_fit(X, sample_weight=weights(len(X)))) == expected
    gm.partial_fit(X)
    assert _error(lambda: gm.partial_fit(X, sample_weight=weights(len(X)))) == expected


def test_first_batch_needs_n_components_rows_later_ones_do_not():
    X, _, _ = blobs(60, 3, 4)
    expected = _error(lambda: GaussianMixture(4).fit(X[:3]))
    gm = GaussianMixture(4, random_state=0)
    assert _error(lambda: gm.partial_fit(X[:3])) == expected
    assert "n_components" in expected[1]
    gm.partial_fit(X)
    gm.partial_fit(X[:1])
    assert gm.n_steps_ == 2
    assert all(np.all(np.isfinite(getattr(gm, name))) for name in PARAMS)


def test_wrong_width_is_refused_after_the_first_batch():
    X, _, _ = blobs(60, 3, 2)
    gm = GaussianMixture(2, random_state=0).partial_fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is "
                                         "expecting 3 features"):
        gm.partial_fit(X[:, :2])
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 4 features"):
        gm.partial_fit(np.hstack([X, X[:, :1]]))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"learning_decay": 0.5}, ValueError, "learning_decay=0.5 is out of range; it must be > 0.5"),
    ({"learning_decay": 1.2}, ValueError, "learning_decay=1.2 is out of range; it must be <= 1"),
    ({"learning_decay": "fast"}, TypeError, "learning_decay must be a real number"),
    ({"learning_offset": -1.0}, ValueError, "learning_offset=-1.0 is out of range"),
    ({"learning_offset": np.inf}, ValueError, "learning_offset=inf must be finite"),
])
def test_bad_learning_parameters(kwargs, error, match):
    X, _, _ = blobs(60, 3, 2)
    with pytest.raises(error, match=match):
        GaussianMixture(2, **kwargs).partial_fit(X)
    with pytest.raises(error, match=match):
        GaussianMixture(2, **kwargs).fit(X)


def test_caller_arrays_untouched():
    X, _, _ = blobs(200, 3, 2)
    w = np.random.RandomState(0).uniform(0.5, 2, len(X))
    X0, w0 = X.copy(), w.copy()
    gm = GaussianMixture(2, random_state=0)
    gm.partial_fit(X, sample_weight=w)
    gm.partial_fit(X, sample_weight=w)
    assert np.array_equal(X, X0) and np.array_equal(w, w0)


# --------------------------------------------------------- empty components
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_batch_that_leaves_components_empty(cov_type, hard):
    """A batch from one cluster only: the others keep their means and
    covariances, their weights shrink by (1 - rho), and nothing is NaN or
    singular, with reg_covar=0 too."""
    k, d = 3, 3
    rng = np.random.RandomState(2)
    y = rng.randint(k, size=3000)
    X = 20.0 * np.eye(d)[y] + rng.standard_normal((len(y), d))   # far apart
    kw = {"covariance_type": cov_type, "assignment": "hard" if hard else "soft",
              "random_state": 0, "reg_covar": 0.0, "learning_offset": 3.0}
    if cov_type == "fixed":
        kw["variance"] = 1.0
    gm = GaussianMixture(k, **kw).partial_fit(X)
    only = X[y == 0][:50]
    own = gm.predict(only[:1])[0]
    before = {name: getattr(gm, name).copy() for name in PARAMS}
    for _ in range(5):
        gm.partial_fit(only)
        for name in PARAMS:
            assert np.all(np.isfinite(getattr(gm, name))), name
    others = [j for j in range(k) if j != own]
    rho = [step_size(t, gm.learning_decay, gm.learning_offset) for t in range(2, 7)]
    shrink = np.prod([1 - r for r in rho])
    np.testing.assert_allclose(gm.means_[others], before["means_"][others], atol=1e-3)
    if cov_type in ("full", "diag", "spherical"):
        np.testing.assert_allclose(gm.covariances_[others], before["covariances_"][others],
                                   rtol=1e-3)
    if cov_type == "full":
        assert np.all(np.linalg.eigvalsh(gm.covariances_) > 0)
    assert np.all(gm.weights_[others] <= before["weights_"][others] * shrink * 1.01)
    assert np.all(gm.weights_ > 0)
    np.testing.assert_allclose(gm.weights_.sum(), 1.0)


def test_a_single_repeated_row_stays_regular():
    """Batches of one repeated point: the covariances shrink towards
    reg_covar but stay positive definite."""
    X, _, _ = blobs(500, 2, 2, seed=4)
    gm = GaussianMixture(2, random_state=0, reg_covar=1e-4).partial_fit(X)
    for _ in range(30):
        gm.partial_fit(np.tile(X[:1], (5, 1)))
    assert np.all(np.isfinite(gm.covariances_))
    assert np.all(np.linalg.eigvalsh(gm.covariances_) >= 1e-4 * 0.999)


# --------------------------------------------------------- invariances
@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), exponents=st.lists(st.integers(-30, 30),
                                                          min_size=3, max_size=3),
       cov_type=st.sampled_from(COV_TYPES), dtype=st.sampled_from([np.float32, np.float64]))
def test_weight_scale_changes_nothing(seed, exponents, cov_type, dtype):
    """Each batch's weights scaled by its own power of ten: the same steps
    (each batch's statistics are normalised by its total weight)."""
    k, d = 3, 3
    X, _, centres = blobs(600, d, k, seed=seed % 1000)
    X = X.astype(dtype)
    w = np.random.RandomState(seed).uniform(0.5, 2.0, len(X))
    kw = initial_kwargs(cov_type, k, d, centres)
    base = GaussianMixture(k, **kw)
    gm = GaussianMixture(k, **kw)
    for rows, e in zip(np.array_split(np.arange(len(X)), 3), exponents):
        base.partial_fit(X[rows], sample_weight=w[rows])
        gm.partial_fit(X[rows], sample_weight=w[rows] * 10.0 ** e)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(gm, name), getattr(base, name), rtol=rtol,
                                   atol=rtol * np.abs(getattr(base, name)).max())
    np.testing.assert_allclose(gm.lower_bound_, base.lower_bound_, rtol=rtol)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_thread_count_changes_nothing(cov_type, dtype):
    k = 4
    X, _, _ = blobs(20_000, 6, k, seed=9)
    X = X.astype(dtype)
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(X))
    kw = {"covariance_type": cov_type, "random_state": 0}
    if cov_type == "fixed":
        kw["variance"] = 1.0
    fits = []
    for n_threads in (1, 2):
        gm = GaussianMixture(k, n_threads=n_threads, **kw)
        for rows in np.array_split(np.arange(len(X)), 4):
            gm.partial_fit(X[rows], sample_weight=w[rows])
        fits.append(gm)
    for name in PARAMS:
        assert np.array_equal(getattr(fits[0], name), getattr(fits[1], name)), name
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_


@pytest.mark.parametrize("dtype, offset", [(np.float64, 1e13), (np.float32, 1e6)],
                         ids=["float64-1e13", "float32-1e6"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_translation_changes_little(cov_type, dtype, offset):
    """Data far from the origin: the same steps as on the same (rounded)
    data brought back to the origin in float64, to the rounding of the
    parameters: a mean stored in the model's dtype, and between steps in
    float64, is off by eps * offset, which moves the responsibilities,
    weights and covariances by as much relative to the unit spread."""
    k, d = 3, 3
    X, _, centres = blobs(900, d, k, seed=5)
    far_X = (X + offset).astype(dtype)
    near_X = far_X.astype(np.float64) - offset
    kw = initial_kwargs(cov_type, k, d, centres)
    base = GaussianMixture(k, **kw)
    far = GaussianMixture(k, **dict(kw, means_init=kw["means_init"] + offset))
    for rows in np.array_split(np.arange(len(X)), 3):
        base.partial_fit(near_X[rows])
        far.partial_fit(far_X[rows])
    rounding = 4 * float(np.finfo(dtype).eps) * offset      # of a stored mean
    np.testing.assert_allclose(far.means_.astype(np.float64) - offset, base.means_,
                               atol=rounding + 1e-6)
    rtol = 1e-5 + 10 * float(np.finfo(np.float64).eps) * offset
    np.testing.assert_allclose(far.covariances_, base.covariances_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(far.weights_, base.weights_, rtol=rtol)


# ------------------------------------------------- fit and partial_fit together
def test_partial_fit_after_fit_continues():
    k, d = 3, 3
    X, _, _ = blobs(3000, d, k, seed=6)
    gm = GaussianMixture(k, covariance_type="diag", random_state=0, learning_offset=4.0)
    gm.fit(X)
    assert not hasattr(gm, "n_steps_")
    twin = Twin(gm.weights_, gm.means_, gm.covariances_, "diag", gm.reg_covar)
    batch = X[:500] + 0.3
    twin.step(batch, np.ones(len(batch)), step_size(1, gm.learning_decay, 4.0))
    gm.partial_fit(batch)
    assert gm.n_steps_ == 1
    np.testing.assert_allclose(gm.means_, twin.means, rtol=1e-9)
    np.testing.assert_allclose(gm.covariances_, twin.cov, rtol=1e-9)


def test_fit_after_partial_fit_starts_afresh():
    X, _, _ = blobs(2000, 3, 3, seed=6)
    gm = GaussianMixture(3, random_state=0)
    gm.partial_fit(X[:500])
    gm.partial_fit(X[500:1000])
    gm.fit(X)
    fresh = GaussianMixture(3, random_state=0).fit(X)
    for name in PARAMS:
        assert np.array_equal(getattr(gm, name), getattr(fresh, name)), name
    assert not hasattr(gm, "n_steps_") and not hasattr(gm, "_online")
    gm.partial_fit(X[:300])
    assert gm.n_steps_ == 1


def test_changed_parameters_start_afresh():
    X, _, _ = blobs(2000, 3, 3, seed=6)
    gm = GaussianMixture(3, random_state=0).partial_fit(X)
    gm.set_params(n_components=2, covariance_type="diag")
    gm.partial_fit(X.astype(np.float32))
    assert gm.means_.shape == (2, 3) and gm.covariances_.shape == (2, 3)
    assert gm.n_steps_ == 1
    assert gm.means_.dtype == np.float32       # a new model takes the batch's dtype


def test_later_batches_take_the_models_dtype():
    X, _, _ = blobs(600, 3, 2)
    gm = GaussianMixture(2, random_state=0).partial_fit(X.astype(np.float32))
    gm.partial_fit(X)
    assert gm.means_.dtype == np.float32 and gm.covariances_.dtype == np.float32
    gm = GaussianMixture(2, random_state=0).partial_fit(X)
    gm.partial_fit(X.astype(np.float32))
    assert gm.means_.dtype == np.float64


def test_converged_compares_consecutive_batches():
    X, _, _ = blobs(3000, 3, 3, seed=6)
    gm = GaussianMixture(3, random_state=0, tol=1e-3)
    gm.partial_fit(X)
    assert not gm.converged_           # nothing to compare with
    for _ in range(200):
        gm.partial_fit(X)
        if gm.converged_:
            break
    assert gm.converged_
    assert abs(gm.lower_bounds_[-1] - gm.lower_bounds_[-2]) < 1e-3


def test_verbose_prints_each_step(capsys):
    X, _, _ = blobs(300, 3, 2)
    gm = GaussianMixture(2, random_state=0, verbose=1)
    gm.partial_fit(X)
    gm.partial_fit(X)
    out = capsys.readouterr().out
    assert "Online EM step 1" in out and "Online EM step 2" in out


def test_saved_model_loads_and_predicts_the_same(tmp_path):
    X, _, _ = blobs(3000, 4, 3, seed=12)
    gm = GaussianMixture(3, random_state=0, learning_decay=0.8, learning_offset=5.0)
    for rows in np.array_split(np.arange(len(X)), 5):
        gm.partial_fit(X[rows])
    path = gm.save(tmp_path / "online.npz")
    loaded = kmgmm.load(path)
    assert loaded.learning_decay == 0.8 and loaded.learning_offset == 5.0
    for name in PARAMS:
        assert np.array_equal(getattr(loaded, name), getattr(gm, name)), name
    assert np.array_equal(loaded.predict(X), gm.predict(X))
    assert np.array_equal(loaded.score_samples(X), gm.score_samples(X))
    assert loaded.lower_bounds_ == gm.lower_bounds_
    # The loaded model continues the online-EM averages where they stopped
    # (tests/test_model_online.py checks it bit for bit).
    assert loaded.n_steps_ == gm.n_steps_ == 5
    loaded.partial_fit(X[:500])
    assert loaded.n_steps_ == 6 and np.all(np.isfinite(loaded.means_))


def test_dask_batches_match_in_memory_batches():
    da = pytest.importorskip("dask.array")
    rng = np.random.RandomState(0)
    X = rng.standard_normal((4000, 3))
    X[:2000] += 6
    kw = {"means_init": X[[0, 3000]], "covariance_type": "full"}
    local, dask = GaussianMixture(2, **kw), GaussianMixture(2, **kw)
    for rows in np.array_split(rng.permutation(len(X)), 4):
        local.partial_fit(X[rows])
        dask.partial_fit(da.from_array(X[rows], chunks=300))
    for name in PARAMS:
        np.testing.assert_allclose(getattr(dask, name), getattr(local, name), rtol=1e-12,
                                   atol=1e-13)
    np.testing.assert_allclose(dask.lower_bounds_, local.lower_bounds_, rtol=1e-13)


def test_sklearn_partial_fit_checks():
    """The checks check_estimator runs on partial_fit (the whole of
    check_estimator runs in tests/test_gmm.py)."""
    from sklearn.utils.estimator_checks import (
        check_estimators_partial_fit_n_features,
        check_n_features_in_after_fitting,
    )
    check_estimators_partial_fit_n_features("GaussianMixture", GaussianMixture(2))
    check_n_features_in_after_fitting("GaussianMixture", GaussianMixture(2))
