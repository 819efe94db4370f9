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


@pytest.mark.parametrize("cov_type", ["tied", "diag", "full"])
@pytest.mark.parametrize("k", [1, 8, 13, 20])
def test_em_pass_matches_numpy_twin_for_component_counts(cov_type, k, dtype):
    # The row maximum and sum run in 8 lanes: fewer components than lanes,
    # a multiple of them and a remainder.
    rng = np.random.RandomState(11)
    d = 4
    weights, means, cov = random_model(rng, k, d, cov_type)
    prec_chol = precision_cholesky(cov, cov_type, 0.0)
    n = 2 * em.em_chunk_rows(k, d, em.COV_CODES[cov_type]) + 7
    X = (rng.standard_normal((n, d)) * 2).astype(dtype)
    w = rng.uniform(0.2, 3, n).astype(dtype)
    model = KernelModel(weights, means, prec_chol, cov_type,
                        X.astype(np.float64).mean(axis=0), dtype)
    lse = np.empty(n)
    labels = np.empty(n, dtype=np.int32)
    ll, (nk, s1, s2) = model.run(X, w, hard=False, n_threads=2, stats=True, lse=lse,
                                 labels=labels)
    t_ll, t_lse, t_labels, _, t_nk, t_s1, t_s2 = em_twin(
        X, w, weights, model.moment_means, cov, cov_type, False)
    rtol = 2e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_array_equal(labels, t_labels)
    np.testing.assert_allclose(lse, t_lse, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ll, t_ll, rtol=rtol)
    np.testing.assert_allclose(nk, t_nk, rtol=rtol, atol=rtol)
    scale = max(1.0, float(np.abs(t_s2).max()))
    np.testing.assert_allclose(s1, t_s1, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(s2, t_s2, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_labels_alone_are_the_soft_pass_labels(cov_type, n_threads, dtype):
    # A pass asked for labels alone runs hard (and, tied, without the
    # whitened rows' norms): the same most likely component as the soft pass.
    rng = np.random.RandomState(5)
    k, d = 13, 4
    weights, means, cov = random_model(rng, k, d, cov_type)
    means = means / 2          # overlapping components: labels not obvious
    prec_chol = precision_cholesky(cov, cov_type, 0.0)
    n = 3 * em.em_chunk_rows(k, d, em.COV_CODES[cov_type]) + 5
    X = (rng.standard_normal((n, d)) * 2 + 30).astype(dtype)
    w = rng.uniform(0.2, 3, n).astype(dtype)
    model = KernelModel(weights, means + 30, prec_chol, cov_type,
                        X.astype(np.float64).mean(axis=0), dtype)
    alone = np.empty(n, dtype=np.int32)
    model.run(X, w, hard=False, n_threads=n_threads, labels=alone)
    soft = np.empty(n, dtype=np.int32)
    model.run(X, w, hard=False, n_threads=n_threads, labels=soft, lse=np.empty(n))
    t_labels = em_twin(X, w, weights, model.moment_means, cov, cov_type, False)[2]
    np.testing.assert_array_equal(alone, soft)
    np.testing.assert_array_equal(alone, t_labels)
    assert len(np.unique(alone)) == k


@pytest.mark.parametrize("n_threads", [1, 2])
def test_tied_scatter_is_kept_for_its_shift_only(n_threads, dtype):
    rng = np.random.RandomState(9)
    k, d = 4, 3
    n = 3 * em.em_chunk_rows(k, d, em.COV_CODES["tied"]) + 11
    X = (rng.standard_normal((n, d)) * 2 + 5).astype(dtype)
    w = rng.uniform(0.1, 2, n).astype(dtype)
    shift = X.astype(np.float64).mean(axis=0)
    models = []
    for seed in (1, 2):
        weights, means, cov = random_model(np.random.RandomState(seed), k, d, "tied")
        models.append(KernelModel(weights, means + 5, precision_cholesky(cov, "tied", 0.0),
                                  "tied", shift, dtype))
    held = {}
    first = models[0].run(X, w, hard=False, n_threads=n_threads, stats=True, scatter=held)
    assert len(held) == 1
    # The second model takes the first pass's scatter: the same statistics,
    # to the bit, as a pass that computes it again.
    for hard in (False, True):
        kept = models[1].run(X, w, hard=hard, n_threads=n_threads, stats=True,
                             scatter=held)
        fresh = models[1].run(X, w, hard=hard, n_threads=n_threads, stats=True)
        assert kept[0] == fresh[0]
        for a, b in zip(kept[1], fresh[1]):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first[1][2],
                                  models[0].run(X, w, hard=False, n_threads=1,
                                                stats=True)[1][2])
    # A model about another shift computes its own (and keeps that one).
    weights, means, cov = random_model(np.random.RandomState(1), k, d, "tied")
    other = KernelModel(weights, means + 5, precision_cholesky(cov, "tied", 0.0), "tied",
                        shift + 1.0, dtype)
    kept = other.run(X, w, hard=False, n_threads=n_threads, stats=True, scatter=held)
    fresh = other.run(X, w, hard=False, n_threads=n_threads, stats=True)
    np.testing.assert_array_equal(kept[1][2], fresh[1][2])
    assert list(held) == [other.shift.tobytes()]


def test_em_pass_without_the_tied_scatter_leaves_s2():
    rng = np.random.RandomState(2)
    k, d, n = 3, 4, 1000
    weights, means, cov = random_model(rng, k, d, "tied")
    X = rng.standard_normal((n, d))
    model = KernelModel(weights, means, precision_cholesky(cov, "tied", 0.0), "tied",
                        X.mean(axis=0), np.float64)
    nk, s1, s2 = np.empty(k), np.empty((k, d)), np.full(d * d, 7.0)
    kw = dict(shift=model.shift, ctype=model.ctype, prec=model.prec,
              const_k=model.const, log_norm=model.log_norm, hard=False, nk=nk, s1=s1,
              s2=s2, n_threads=2)
    ll = em.em_pass(X, np.ones(n), scatter=False, **kw)
    assert np.all(s2 == 7.0)
    nk_kept, s1_kept = nk.copy(), s1.copy()
    assert em.em_pass(X, np.ones(n), **kw) == ll
    np.testing.assert_array_equal(nk, nk_kept)
    np.testing.assert_array_equal(s1, s1_kept)
    np.testing.assert_allclose(s2.reshape(d, d), (X - X.mean(axis=0)).T @ (X - X.mean(axis=0)),
                               rtol=1e-12, atol=1e-9)
