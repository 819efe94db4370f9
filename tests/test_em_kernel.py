"""The EM pass against a plain NumPy twin, at chunk boundaries."""
import numpy as np
import pytest

from kmgmm._kernels import em
from kmgmm._gaussian import KernelModel, precision_cholesky

from em_twin import em_twin

COV_TYPES = ["full", "tied", "diag", "spherical", "fixed"]


def random_model(rng, k, d, cov_type):
    weights = rng.uniform(0.5, 2, k)
    weights /= weights.sum()
    means = rng.standard_normal((k, d)) * 2
    if cov_type == "full":
        A = rng.standard_normal((k, d, d))
        cov = A @ np.swapaxes(A, 1, 2) / d + np.eye(d)
    elif cov_type == "tied":
        A = rng.standard_normal((d, d))
        cov = A @ A.T / d + np.eye(d)
    elif cov_type == "diag":
        cov = rng.uniform(0.5, 2, (k, d))
    elif cov_type == "spherical":
        cov = rng.uniform(0.5, 2, k)
    else:
        cov = np.full(k, 0.7)
    return weights, means, cov


def boundary_sizes(k, d, cov_type):
    m = em.em_chunk_rows(k, d, em.COV_CODES[cov_type])
    return [1, m - 1, m, m + 1, 3 * m + 5]


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_em_pass_matches_numpy_twin(cov_type, hard, n_threads, weighted, dtype):
    rng = np.random.RandomState(7)
    k, d = 5, 3
    weights, means, cov = random_model(rng, k, d, cov_type)
    prec_chol = precision_cholesky(cov, cov_type, 0.0)
    for n in boundary_sizes(k, d, cov_type):
        X = (rng.standard_normal((n, d)) * 2 + 100).astype(dtype)
        means_n = means + 100
        w = (rng.uniform(0.2, 3, n) if weighted else np.ones(n)).astype(dtype)
        shift = X.astype(np.float64).mean(axis=0)
        model = KernelModel(weights, means_n, prec_chol, cov_type, shift, dtype)
        lse = np.empty(n)
        labels = np.empty(n, dtype=np.int32)
        ll, (nk, s1, s2) = model.run(X, w, hard=hard, n_threads=n_threads, stats=True,
                                     lse=lse, labels=labels)
        resp = np.empty((n, k), dtype=dtype)
        model.run(X, np.ones(n, dtype=dtype), hard=hard, n_threads=n_threads, resp=resp)

        t_ll, t_lse, t_labels, t_resp, t_nk, t_s1, t_s2 = em_twin(
            X, w, weights, model.moment_means, cov, cov_type, hard)
        rtol = 2e-4 if dtype == np.float32 else 1e-9
        np.testing.assert_array_equal(labels, t_labels)
        np.testing.assert_allclose(lse, t_lse, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(ll, t_ll, rtol=rtol)
        np.testing.assert_allclose(resp, t_resp, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(nk, t_nk, rtol=rtol, atol=rtol)
        scale = max(1.0, float(np.abs(t_s2).max(initial=0)))
        np.testing.assert_allclose(s1, t_s1, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(s2, t_s2, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_em_pass_bit_identical_for_thread_counts(cov_type, dtype):
    rng = np.random.RandomState(3)
    k, d = 6, 4
    weights, means, cov = random_model(rng, k, d, cov_type)
    prec_chol = precision_cholesky(cov, cov_type, 0.0)
    n = 20 * em.em_chunk_rows(k, d, em.COV_CODES[cov_type]) + 17
    X = rng.standard_normal((n, d)).astype(dtype) * 2
    w = rng.uniform(0.1, 2, n).astype(dtype)
    model = KernelModel(weights, means, prec_chol, cov_type, X.mean(axis=0), dtype)
    results = [model.run(X, w, hard=False, n_threads=t, stats=True) for t in (1, 2, 3, 8)]
    for ll, stats in results[1:]:
        assert ll == results[0][0]
        for a, b in zip(stats, results[0][1]):
            np.testing.assert_array_equal(a, b)


def test_zero_weight_rows_contribute_nothing():
    rng = np.random.RandomState(0)
    k, d, n = 3, 2, 500
    weights, means, cov = random_model(rng, k, d, "full")
    prec_chol = precision_cholesky(cov, "full", 0.0)
    X = rng.standard_normal((n, d))
    w = np.ones(n)
    w[::2] = 0
    model = KernelModel(weights, means, prec_chol, "full", X.mean(axis=0), np.float64)
    ll, stats = model.run(X, w, hard=False, n_threads=2, stats=True)
    ll_half, stats_half = model.run(np.ascontiguousarray(X[1::2]), np.ascontiguousarray(w[1::2]), hard=False,
                                    n_threads=2, stats=True)
    np.testing.assert_allclose(ll, ll_half, rtol=1e-12)
    for a, b in zip(stats, stats_half):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_exp_and_log_match_libm():
    rng = np.random.RandomState(0)
    x = -np.concatenate([np.linspace(0, 708, 200_001), rng.exponential(5, 10_000)])
    np.testing.assert_allclose(em.exp_nonpos(x), np.exp(x), rtol=1e-15, atol=0)
    assert np.all(em.exp_nonpos(np.array([-709.0, -1e4, -np.inf])) == 0)
    y = np.concatenate([np.linspace(1, 1000, 200_001),
                        np.exp(rng.uniform(-700, 700, 10_000)), [np.sqrt(2), 0.5, 1.0]])
    np.testing.assert_allclose(em.log_pos(y), np.log(y), rtol=1e-15, atol=1e-15)


def test_covariance_table_matches_the_kernel_codes():
    from kmgmm._covariance import COVARIANCES

    assert set(COVARIANCES) == set(em.COV_CODES)
    for name, cov in COVARIANCES.items():
        assert cov.kernel_code == em.COV_CODES[name]
    assert COVARIANCES["full"].shape(3, 2) == (3, 2, 2)
    assert COVARIANCES["tied"].n_free(3, 4) == 10
    assert COVARIANCES["fixed"].n_free(3, 4) == 0
