"""The diagonal and spherical EM pass where the gemm expansion
x^2 p^2 - 2 x mu p^2 + mu^2 p^2 cancels: data far from the origin, components
many of their own widths apart or nearly collapsed, components far from every
row.  Against a float64 twin (the direct form) and scikit-learn."""
import warnings

import numpy as np
import pytest

from kmgmm import GaussianMixture
from kmgmm._gaussian import KernelModel, precision_cholesky, wide_components
from kmgmm._kernels import em

from em_twin import em_twin

sklearn_mixture = pytest.importorskip("sklearn.mixture")


def far_mixture(offset, sep, sigma, cov_type, *, dtype, k=4, d=8, n=3000, seed=0):
    """k components of width ~sigma, means ~sep apart, offset from the origin."""
    rng = np.random.RandomState(seed)
    means = rng.standard_normal((k, d)) * sep + offset
    y = rng.randint(k, size=n)
    if cov_type == "diag":
        cov = sigma ** 2 * rng.uniform(0.8, 1.25, (k, d))
        X = means[y] + rng.standard_normal((n, d)) * np.sqrt(cov[y])
    else:
        cov = sigma ** 2 * rng.uniform(0.8, 1.25, k)
        X = means[y] + rng.standard_normal((n, d)) * np.sqrt(cov[y])[:, None]
    return X.astype(dtype), np.full(k, 1.0 / k), means, cov


# (offset, separation, width), all in units of the data's unit spread
CASES = {
    "plain": (0.0, 3.0, 1.0),
    "offset1e3": (1e3, 3.0, 1.0),
    "offset1e6": (1e6, 3.0, 1.0),
    "apart1e3": (0.0, 1e3, 1.0),
    "apart1e4_offset1e6": (1e6, 1e4, 1.0),
    "collapsing": (1e3, 3.0, 1e-3),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_ill_conditioned_expansion_matches_float64_twin(case, cov_type, hard, dtype):
    offset, sep, sigma = CASES[case]
    X, weights, means, cov = far_mixture(offset, sep, sigma, cov_type, dtype=dtype)
    n, k = X.shape[0], len(weights)
    w = np.random.RandomState(1).uniform(0.2, 3, n).astype(dtype)
    prec_chol = precision_cholesky(cov, cov_type, 0.0)
    shift = X.astype(np.float64).mean(axis=0)
    model = KernelModel(weights, means, prec_chol, cov_type, shift, dtype)
    # The wider form is used exactly where the data dtype's would cancel.
    far = case in ("apart1e3", "apart1e4_offset1e6", "collapsing")
    assert (len(model.wide) > 0) == far
    lse = np.empty(n)
    ll, (nk, s1, s2) = model.run(X, w, hard=hard, n_threads=2, stats=True, lse=lse)
    resp = np.empty((n, k), dtype=dtype)
    model.run(X, w, hard=hard, n_threads=2, resp=resp)
    t_ll, t_lse, _, t_resp, t_nk, t_s1, t_s2 = em_twin(
        X, w, weights, model.moment_means, cov, cov_type, hard)
    tol = 2e-5 if dtype == np.float32 else 1e-9
    # log-likelihoods: absolute in nats, relative for the huge ones of a
    # collapsing component
    np.testing.assert_allclose(lse, t_lse, rtol=tol, atol=tol)
    np.testing.assert_allclose(ll, t_ll, rtol=tol)
    np.testing.assert_allclose(resp, t_resp, atol=tol)
    np.testing.assert_allclose(nk, t_nk, rtol=1e-6)
    # Moments about the component means: the variances they give.
    var = s2.reshape(k, -1) / nk[:, None]
    t_var = t_s2.reshape(k, -1) / t_nk[:, None]
    np.testing.assert_allclose(var, t_var, rtol=2e-5 if sep / sigma > 1e3 else 1e-7)
    np.testing.assert_allclose(s1 / nk[:, None], t_s1 / t_nk[:, None],
                               atol=1e-8 * sigma * (1 + sep / sigma))


def test_wide_components_threshold():
    const = np.array([0.0, 2.0 ** 11, 2.0 ** 11 * 1.01, 2.0 ** 20 * 1.01, 1e30])
    np.testing.assert_array_equal(wide_components(const, np.float32),
                                  [False, False, True, True, True])
    np.testing.assert_array_equal(wide_components(const, np.float64),
                                  [False, False, False, True, True])


@pytest.mark.parametrize("n_wide", [0, 2, 5], ids=["none", "some", "all"])
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_forced_split_matches_twin_at_chunk_boundaries(n_wide, hard):
    """Any split of the components between the float32 and float64
    expansions gives the twin's results, at every chunk boundary."""
    rng = np.random.RandomState(4)
    k, d = 5, 3
    means = rng.standard_normal((k, d)) * 2 + 50
    cov = rng.uniform(0.5, 2, (k, d))
    weights = np.full(k, 1.0 / k)
    prec_chol = precision_cholesky(cov, "diag", 0.0)
    m = em.em_chunk_rows(k, d, em.COV_CODES["diag"])
    for n in (1, m - 1, m, m + 1, 3 * m + 5):
        X = (rng.standard_normal((n, d)) * 2 + 50).astype(np.float32)
        w = rng.uniform(0.2, 3, n).astype(np.float32)
        model = KernelModel(weights, means, prec_chol, "diag",
                            X.astype(np.float64).mean(axis=0), np.float32)
        mu = model.mu.astype(np.float64)
        operands = np.hstack([1 / cov, -2 * mu / cov, mu])
        wide = rng.permutation(k)[:n_wide].astype(np.intc)
        model.wide = np.sort(wide)
        model.narrow = np.setdiff1d(np.arange(k), wide).astype(np.intc)
        model.prec = np.ascontiguousarray(operands[model.narrow, :2 * d],
                                          dtype=np.float32)
        model.prec_wide = np.ascontiguousarray(operands[model.wide])
        lse = np.empty(n)
        labels = np.empty(n, dtype=np.int32)
        _, (nk, s1, s2) = model.run(X, w, hard=hard, n_threads=2, stats=True,
                                    lse=lse, labels=labels)
        _, t_lse, t_labels, _, t_nk, t_s1, t_s2 = em_twin(
            X, w, weights, model.moment_means, cov, "diag", hard)
        np.testing.assert_array_equal(labels, t_labels)
        np.testing.assert_allclose(lse, t_lse, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(nk, t_nk, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s1, t_s1, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(s2, t_s2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
def test_mixed_split_bit_identical_for_thread_counts(cov_type):
    X, weights, means, cov = far_mixture(1e3, 1e3, 1.0, cov_type, dtype=np.float32,
                                         k=6, n=20_000)
    # three components near the data's mean, three far
    means[:3] = X.mean(axis=0) + np.random.RandomState(5).standard_normal((3, X.shape[1]))
    prec_chol = precision_cholesky(cov, cov_type, 0.0)
    model = KernelModel(weights, means, prec_chol, cov_type,
                        X.astype(np.float64).mean(axis=0), np.float32)
    assert 0 < len(model.wide) < 6
    w = np.random.RandomState(2).uniform(0.1, 2, len(X)).astype(np.float32)
    for hard in (False, True):
        runs = [model.run(X, w, hard=hard, n_threads=t, stats=True) for t in (1, 2, 3)]
        for ll, stats in runs[1:]:
            assert ll == runs[0][0]
            for a, b in zip(stats, runs[0][1]):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
@pytest.mark.parametrize("max_iter", [1, 15])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_float32_fit_agrees_with_sklearn_on_the_same_values(cov_type, max_iter, weighted):
    """kmgmm on float32 data far from the origin against scikit-learn on the
    same values in float64, same start: one iteration and a whole fit."""
    X, weights, means, cov = far_mixture(1e4, 3.0, 1.0, cov_type, dtype=np.float32,
                                         k=4, d=6, n=6000, seed=3)
    start_means = means + 0.3
    prec = 1.0 / cov
    kw = {"weights_init": weights, "means_init": start_means, "precisions_init": prec,
          "max_iter": max_iter, "tol": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = sklearn_mixture.GaussianMixture(4, covariance_type=cov_type, **kw).fit(
            X.astype(np.float64))
        if weighted:
            # integer weights equal repeated rows, which scikit-learn can fit
            reps = np.random.RandomState(0).randint(1, 3, len(X))
            sk = sklearn_mixture.GaussianMixture(4, covariance_type=cov_type, **kw).fit(
                np.repeat(X, reps, axis=0).astype(np.float64))
            gm = GaussianMixture(4, covariance_type=cov_type, **kw).fit(
                X, sample_weight=reps.astype(np.float32))
        else:
            gm = GaussianMixture(4, covariance_type=cov_type, **kw).fit(X)
    np.testing.assert_allclose(gm.weights_, sk.weights_, rtol=1e-5)
    # float32 attributes: within a few units in the last place of 1e4
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=0, atol=4e-3)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-4)
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=1e-5)
