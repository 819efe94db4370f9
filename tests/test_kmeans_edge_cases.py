"""KMeans on degenerate data: duplicate rows, fewer distinct rows than clusters.

Empty clusters are relocated onto far rows; on data with duplicates the rules
of ``kmgmm._relocation`` keep that from opening a cluster that the next pass
empties again (which used to repeat until ``max_iter``).
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import kmgmm
from kmgmm import ConvergenceWarning, KMeans
from kmgmm._relocation import choose_rows, distinct_keys, farthest_rows, row_keys

N_DISTINCT, REPEATS, N_CLUSTERS, N_FEATURES = 4, 50, 10, 8
SEEDS = range(8)


def duplicated(seed, dtype=np.float64, weighted=False):
    """4 distinct rows, each repeated 50 times, shuffled; and sample weights."""
    rng = np.random.RandomState(seed)
    values = rng.standard_normal((N_DISTINCT, N_FEATURES)).astype(dtype)
    X = np.repeat(values, REPEATS, axis=0)[rng.permutation(N_DISTINCT * REPEATS)]
    w = rng.uniform(0.1, 3.0, len(X)).astype(dtype) if weighted else None
    return values, X, w


def fit_warned(X, w, **params):
    # One thread: many small fits (the thread count changes nothing, see
    # test_duplicate_rows_same_result_for_any_thread_count).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        km = KMeans(N_CLUSTERS, n_init=1, n_threads=1, **params).fit(X, sample_weight=w)
    messages = [str(c.message) for c in caught if issubclass(c.category, ConvergenceWarning)]
    return km, messages


def check_duplicate_fit(km, messages, values, max_iter_seen=5):
    assert km.n_iter_ <= max_iter_seen
    assert any(f"distinct clusters ({N_DISTINCT}) found smaller" in m for m in messages)
    used = np.unique(km.labels_)
    assert used.size == N_DISTINCT
    # One centre per distinct row, at that row.
    C = km.cluster_centers_[used].astype(np.float64)
    V = values.astype(np.float64)
    d2 = ((C[:, None, :] - V[None]) ** 2).sum(-1)
    assert sorted(d2.argmin(1)) == list(range(N_DISTINCT))
    np.testing.assert_allclose(d2.min(1), 0.0, atol=1e-10)


INITS = ("k-means++", "random", "array")


def init_for(init, seed, dtype):
    if init == "array":
        # Centres away from every row: all rows start at positive distance.
        return np.random.RandomState(100 + seed).standard_normal(
            (N_CLUSTERS, N_FEATURES)).astype(dtype)
    return init


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan", "auto", "sparse"])
def test_duplicate_rows_stop_promptly_with_warning(algorithm):
    for dtype in (np.float32, np.float64):
        for weighted in (False, True):
            for init in INITS:
                for seed in SEEDS:
                    values, X, w = duplicated(seed, dtype, weighted)
                    params = dict(init=init_for(init, seed, dtype), random_state=seed)
                    if algorithm == "sparse":
                        X = sp.csr_matrix(X)
                    else:
                        params["algorithm"] = algorithm
                    km, messages = fit_warned(X, w, **params)
                    check_duplicate_fit(km, messages, values)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan", "sparse"])
def test_duplicate_rows_converge_strictly(algorithm):
    # tol=0: only an iteration that changes no label ends the fit.
    for dtype in (np.float32, np.float64):
        for weighted in (False, True):
            for seed in SEEDS:
                values, X, w = duplicated(seed, dtype, weighted)
                params = dict(init=init_for("array", seed, dtype), tol=0.0)
                if algorithm == "sparse":
                    X = sp.csr_matrix(X)
                else:
                    params["algorithm"] = algorithm
                km, messages = fit_warned(X, w, **params)
                check_duplicate_fit(km, messages, values)


@pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan"])
def test_duplicate_rows_same_result_for_any_thread_count(algorithm):
    for seed in range(4):
        values, X, w = duplicated(seed, weighted=True)
        fits = [KMeans(N_CLUSTERS, init=init_for("array", seed, X.dtype), tol=0.0,
                       algorithm=algorithm, n_threads=t).fit(X, sample_weight=w)
                for t in (1, 2, 3)]
        for km in fits[1:]:
            np.testing.assert_array_equal(km.labels_, fits[0].labels_)
            np.testing.assert_array_equal(km.cluster_centers_, fits[0].cluster_centers_)
            assert km.n_iter_ == fits[0].n_iter_


@pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
def test_duplicate_rows_sparse_matches_dense():
    for seed in range(6):
        values, X, w = duplicated(seed, weighted=True)
        init = init_for("array", seed, X.dtype)
        dense = KMeans(N_CLUSTERS, init=init, tol=0.0, n_threads=1).fit(X, sample_weight=w)
        csr = KMeans(N_CLUSTERS, init=init, tol=0.0, n_threads=1).fit(sp.csr_matrix(X),
                                                                     sample_weight=w)
        np.testing.assert_array_equal(csr.labels_, dense.labels_)
        np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, rtol=1e-12)
        assert csr.n_iter_ == dense.n_iter_


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan"])
def test_empty_cluster_still_takes_a_duplicated_far_row(algorithm):
    # Rows repeated at 0, 10 and 20; the centre at 15 holds both 10 and 20,
    # the one at 1000 nothing: it moves onto a row at 10 (the first of the
    # rows farthest from 15) and the fit ends with three clusters.
    X = np.repeat([[0.0], [10.0], [20.0]], 5, axis=0)
    init = np.array([[0.0], [15.0], [1000.0]])
    km = KMeans(3, init=init, algorithm=algorithm, tol=0.0).fit(X)
    np.testing.assert_array_equal(np.sort(km.cluster_centers_[:, 0]), [0.0, 10.0, 20.0])
    np.testing.assert_array_equal(km.labels_, np.repeat([0, 2, 1], 5))
    km = KMeans(3, init=init, algorithm=algorithm, max_iter=1).fit(X)
    assert km.cluster_centers_[2, 0] == 10.0


# -------------------------------------------------- the relocation rules
def relocated(X, labels, min_sqdist, n_empty, w=None):
    w = np.ones(len(labels)) if w is None else w
    return choose_rows(X, w, np.asarray(labels, dtype=np.int32),
                       np.asarray(min_sqdist, dtype=np.float64), n_empty)


def test_rows_at_zero_distance_are_never_taken():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert relocated(X, [0, 0, 0, 0], [0.0, 0.0, 1.0, 0.0], 3) == [2]
    assert relocated(X, [0, 0, 1, 1], [0.0] * 4, 2) == []


def test_identical_rows_are_taken_once():
    # Row 3 repeats row 1 (at the same distance): it is skipped for row 2.
    X = np.array([[5.0], [7.0], [1.0], [7.0], [3.0]])
    labels = [0, 0, 0, 0, 0]
    d = [9.0, 4.0, 1.0, 4.0, 0.5]
    assert relocated(X, labels, d, 3) == [0, 1, 2]
    # -0.0 and 0.0 are the same value.
    X = np.array([[-0.0, 1.0], [0.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    assert relocated(X, [0, 0, 0, 0], [1.0, 1.0, 0.5, 0.0], 2) == [0, 2]


def test_a_cluster_keeps_a_value_it_did_not_give():
    # Cluster 0 holds the values 1 and 3 (both at distance 1 from its
    # centre 2): it gives one of them only.  Cluster 1, ten copies of one
    # value a rounding error from its centre, gives none.
    X = np.vstack([np.repeat([[1.0], [3.0]], 3, axis=0), np.full((10, 1), 8.0)])
    labels = [0] * 6 + [1] * 10
    d = [1.0] * 6 + [1e-30] * 10
    assert relocated(X, labels, d, 4) == [0]
    # With a third value, two rows leave.
    X[5] = 2.5
    assert relocated(X, labels, d[:5] + [0.25] + d[6:], 4) == [0, 3]


def test_rows_of_zero_weight_are_never_taken():
    X = np.array([[0.0], [4.0], [5.0], [6.0]])
    w = np.array([1.0, 0.0, 1.0, 1.0])
    assert relocated(X, [0, 0, 0, 0], [9.0, 16.0, 4.0, 1.0], 2, w) == [0, 2]
    # Only rows of positive weight count as the values a cluster keeps.
    assert relocated(X[:3], [0, 0, 0], [9.0, 16.0, 4.0], 2, w[:3]) == [0]


def test_csr_rows_compare_by_value():
    dense = np.array([[0.0, 2.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 0.0],
                      [0.0, 0.0, 3.0]])
    # An explicitly stored zero does not make a row different.
    X = sp.csr_matrix((np.array([0.0, 2.0, 2.0, 1.0, 3.0]), np.array([0, 1, 1, 0, 2]),
                       np.array([0, 2, 3, 4, 5])), shape=(4, 3))
    np.testing.assert_array_equal(X.toarray(), dense)
    keys = row_keys(X, [0, 1, 2])
    assert keys[0] == keys[1] != keys[2]
    assert relocated(X, [0, 0, 0, 0], [4.0, 4.0, 1.0, 0.0], 2) == [0, 2]
    assert relocated(dense, [0, 0, 0, 0], [4.0, 4.0, 1.0, 0.0], 2) == [0, 2]
    assert row_keys(dense, [0, 1, 2]) == row_keys(dense.astype(np.float32), [0, 1, 2])


def test_farthest_rows_is_a_prefix_of_the_full_order():
    rng = np.random.RandomState(0)
    dist = rng.randint(0, 6, 400).astype(np.float64)     # many ties, some zeros
    full = farthest_rows(dist, 400)
    assert np.all(dist[full] > 0)
    assert full.size == np.count_nonzero(dist)
    for n_take in (1, 5, 37, 100):
        part = farthest_rows(dist, n_take)
        assert part.size >= n_take
        np.testing.assert_array_equal(part, full[:part.size])
        # Everything tied with the last row taken is in.
        assert np.count_nonzero(dist >= dist[part[-1]]) == part.size


# ------------------------------------------------------------------ Dask
@pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
def test_duplicate_rows_on_dask_match_in_memory():
    da = pytest.importorskip("dask.array")
    for seed in range(3):
        values, X, w = duplicated(seed, weighted=True)
        init = init_for("array", seed, X.dtype)
        ref = KMeans(N_CLUSTERS, init=init, tol=0.0, n_threads=1).fit(X, sample_weight=w)
        km = KMeans(N_CLUSTERS, init=init, tol=0.0, n_threads=1).fit(
            da.from_array(X, chunks=37), sample_weight=da.from_array(w, chunks=37))
        np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
        np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
        assert km.n_iter_ == ref.n_iter_ <= 5
        assert np.unique(ref.labels_).size == N_DISTINCT


@pytest.mark.parametrize("name", ["KMeans", "MiniBatchKMeans", "SphericalKMeans"])
def test_explicit_centres_with_n_init_warn_once_at_the_callers_line(name):
    X = np.random.RandomState(0).standard_normal((300, 3)) + 1.0
    est = getattr(kmgmm, name)(3, init=X[:3], n_init=4)
    with pytest.warns(RuntimeWarning, match="performing only one init") as record:
        est.fit(X)
    assert [w.filename for w in record if "only one init" in str(w.message)] == [__file__]
    assert est.n_iter_ >= 1


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_values, cap", [(1, 1), (1, 2), (2, 2), (3, 2), (5, 8), (40, 8)])
def test_distinct_keys_counts_at_least_cap_exactly(sparse, n_values, cap):
    # Long runs of one value before the others: the growing pieces must read
    # on until cap distinct values are met, or the rows run out.
    rng = np.random.RandomState(n_values)
    values = rng.randint(-3, 4, size=(n_values, 5)).astype(np.float64)
    values[0, 0] = -0.0
    reps = np.r_[5000, rng.randint(1, 30, size=n_values - 1)]
    X = np.repeat(values, reps, axis=0)
    X[: reps[0] // 2, 0] = 0.0          # -0.0 and 0.0 are one value
    true = len(np.unique(X + 0.0, axis=0))
    rows = np.arange(X.shape[0])
    keys = distinct_keys(sp.csr_matrix(X) if sparse else X, rows, cap)
    assert (len(keys) >= cap) == (true >= cap)
    assert len(keys) == true if true < cap else len(keys) >= cap
