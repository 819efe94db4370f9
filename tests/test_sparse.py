"""Sparse CSR input: the same results as on the dense copy, X never densified."""
import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

from kmgmm import KMeans  # noqa: E402
from kmgmm import _kernels  # noqa: E402
from kmgmm._algorithms.seeding import canonical_order, kmeans_plusplus, row_sqnorms  # noqa: E402
from kmgmm._engines.memory import (  # noqa: E402
    csr_arrays, sparse_weighted_mean_variance,
)
from kmgmm._conditioning import weighted_moments  # noqa: E402


def sparse_blobs(n, d, k, *, density=0.1, dtype=np.float64, seed=0, fmt="csr"):
    """Non-negative sparse rows drawn around k sparse prototypes."""
    rng = np.random.RandomState(seed)
    protos = sp.random(k, d, density=density, random_state=rng).toarray() * 10
    y = rng.randint(k, size=n)
    mask = rng.uniform(size=(n, d)) < density
    X = (protos[y] + rng.exponential(1.0, (n, d))) * (mask | (protos[y] > 0))
    return getattr(sp, f"{fmt}_matrix")(X.astype(dtype))


def twin_assign(X, w, centers):
    Xd = X.toarray().astype(np.float64)
    d2 = ((Xd[:, None, :] - centers.astype(np.float64)[None]) ** 2).sum(-1)
    labels = d2.argmin(1)
    return labels, d2[np.arange(len(Xd)), labels], float((w * d2.min(1)).sum())


@pytest.mark.parametrize("n_samples", [1, 1023, 1024, 1025, 3_000])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_sparse_kernels_match_numpy_twins(n_samples, n_threads, dtype):
    rng = np.random.RandomState(n_samples)
    X = sparse_blobs(n_samples, 40, 6, dtype=dtype, seed=n_samples)
    w = rng.uniform(0.1, 3, n_samples).astype(dtype)
    centers = rng.uniform(0, 5, (6, 40)).astype(dtype)
    data, indices, indptr = csr_arrays(X)
    xs = _kernels.sparse.sparse_row_sqnorms(data, indptr)
    np.testing.assert_allclose(xs, (X.toarray().astype(np.float64) ** 2).sum(1), rtol=1e-12)
    labels = np.full(n_samples, -1, dtype=np.int32)
    md = np.empty(n_samples, dtype=dtype)
    inertia = _kernels.sparse.sparse_assign(data, indices, indptr, w, xs, centers, labels,
                                            min_sqdist=md, n_threads=n_threads)
    t_labels, t_d2, t_inertia = twin_assign(X, w.astype(np.float64), centers)
    np.testing.assert_array_equal(labels, t_labels)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(md, t_d2, rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(inertia, t_inertia, rtol=rtol)

    sums = np.full((6, 40), np.nan)
    weights = np.full(6, np.nan)
    _kernels.sparse.sparse_cluster_sums(data, indices, indptr, w, labels, sums=sums,
                                        weights=weights, n_threads=n_threads)
    t_sums = np.zeros((6, 40))
    np.add.at(t_sums, labels, w.astype(np.float64)[:, None] * X.toarray())
    np.testing.assert_allclose(sums, t_sums, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights, np.bincount(labels, w.astype(np.float64), 6),
                               rtol=1e-12)


@pytest.mark.parametrize("k", [1, 3, 8, 9, 31, 64, 65, 130])
def test_sparse_assign_every_cpu_path(k, dtype, cpu_path):
    # k around the kernel's register blocks (8 float64 vectors of 2, 4 or 8
    # lanes, by path) and its padding; empty rows; equal labels on every path
    rng = np.random.RandomState(k)
    n = 1_100
    X = sparse_blobs(n, 70, 5, density=0.05, dtype=dtype, seed=k).tolil()
    X[::97] = 0
    X = X.tocsr()
    w = rng.uniform(0.1, 3, n).astype(dtype)
    centers = rng.uniform(0, 5, (k, 70)).astype(dtype)
    data, indices, indptr = csr_arrays(X)
    xs = _kernels.sparse.sparse_row_sqnorms(data, indptr)
    labels = np.full(n, -1, dtype=np.int32)
    md = np.empty(n, dtype=dtype)
    inertia = _kernels.sparse.sparse_assign(data, indices, indptr, w, xs, centers, labels,
                                            min_sqdist=md, n_threads=2)
    t_labels, t_d2, t_inertia = twin_assign(X, w.astype(np.float64), centers)
    np.testing.assert_array_equal(labels, t_labels)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(md, t_d2, rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(inertia, t_inertia, rtol=rtol)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_sparse_potentials_match_dense(n_threads, dtype):
    X = sparse_blobs(2_500, 30, 5, dtype=dtype, seed=1)
    w = np.random.RandomState(0).uniform(0, 2, 2_500).astype(dtype)
    cand = X[[3, 70, 900]].toarray().astype(np.float64)
    closest = np.random.RandomState(1).uniform(0, 500, 2_500)
    Xd = X.toarray()
    dense = _kernels.seeding.candidate_potentials(Xd, w, row_sqnorms(Xd), closest.copy(),
                                                  cand, n_threads=n_threads)
    data, indices, indptr = csr_arrays(X)
    c2 = closest.copy()
    pot = _kernels.sparse.sparse_candidate_potentials(
        data, indices, indptr, w, row_sqnorms(X), c2, cand, n_threads=n_threads)
    np.testing.assert_allclose(pot, dense, rtol=1e-10)
    np.testing.assert_array_equal(c2, closest)


def test_canonical_order_and_seeding_pick_the_same_rows(dtype):
    X = sparse_blobs(3_000, 50, 8, dtype=dtype, seed=2)
    Xd = X.toarray()
    order = canonical_order(X)
    np.testing.assert_array_equal(order, canonical_order(Xd))
    w = np.ones(3_000, dtype=dtype)
    _, idx_sparse = kmeans_plusplus(X, 8, w, np.random.RandomState(0), order, n_threads=2)
    _, idx_dense = kmeans_plusplus(Xd, 8, w, np.random.RandomState(0), order, n_threads=2)
    np.testing.assert_array_equal(idx_sparse, idx_dense)


def test_weighted_variance_matches_dense():
    X = sparse_blobs(2_000, 25, 4, seed=3)
    w = np.random.RandomState(0).uniform(0.1, 2, 2_000)
    moments = weighted_moments(X.toarray(), w)
    np.testing.assert_allclose(sparse_weighted_mean_variance(X, w),
                               moments.variance * moments.unit ** 2, rtol=1e-12)


@pytest.mark.parametrize("init", ["k-means++", "random", "array"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fit_matches_dense(init, n_threads, dtype):
    X = sparse_blobs(3_000, 60, 7, dtype=dtype, seed=4)
    Xd = X.toarray()
    if init == "array":
        init = Xd[np.random.RandomState(0).choice(3_000, 7, replace=False)]
    w = np.random.RandomState(5).uniform(0.5, 2, 3_000)
    kw = dict(init=init, random_state=0, n_threads=n_threads, algorithm="lloyd")
    dense = KMeans(7, **kw).fit(Xd, sample_weight=w)
    sparse = KMeans(7, **kw).fit(X, sample_weight=w)
    np.testing.assert_array_equal(sparse.labels_, dense.labels_)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(sparse.cluster_centers_, dense.cluster_centers_,
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(sparse.inertia_, dense.inertia_, rtol=rtol)
    assert sparse.n_iter_ == dense.n_iter_
    assert sparse.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(sparse.predict(X), dense.predict(Xd))
    np.testing.assert_allclose(sparse.transform(X), dense.transform(Xd), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sparse.score(X), dense.score(Xd), rtol=rtol)


def test_fit_bit_identical_for_thread_counts():
    X = sparse_blobs(5_000, 40, 9, seed=6)
    fits = [KMeans(9, random_state=0, n_threads=t).fit(X) for t in (1, 2, 3)]
    for km in fits[1:]:
        np.testing.assert_array_equal(km.cluster_centers_, fits[0].cluster_centers_)
        np.testing.assert_array_equal(km.labels_, fits[0].labels_)
        assert km.inertia_ == fits[0].inertia_


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil"])
def test_other_formats_converted_once_and_unmodified(fmt):
    X = sparse_blobs(800, 20, 3, seed=7, fmt="csr")
    other = X.asformat(fmt)
    before = other.copy()
    a = KMeans(3, random_state=0).fit(X)
    b = KMeans(3, random_state=0).fit(other)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert (other != before).nnz == 0


def test_unsorted_duplicate_indices_left_untouched():
    # Duplicates and unsorted columns are canonicalised on a copy only.
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    indices = np.array([2, 0, 2, 1, 0])
    indptr = np.array([0, 3, 5])
    X = sp.csr_matrix((data, indices, indptr), shape=(2, 3))
    Xc = X.copy()
    km = KMeans(2, init=np.array([[2.0, 0, 4.0], [5.0, 4.0, 0]])).fit(X)
    np.testing.assert_array_equal(X.indices, indices)
    np.testing.assert_array_equal(X.data, data)
    np.testing.assert_allclose(km.cluster_centers_, Xc.toarray())


def test_empty_cluster_relocated_sparse():
    X = sp.csr_matrix(np.array([[0.0, 0], [0.1, 0], [0.2, 0], [10.0, 0], [10.1, 0], [50.0, 0]]))
    init = np.array([[0.1, 0], [10.0, 0], [1000.0, 0]])
    km = KMeans(3, init=init, max_iter=1).fit(X)
    assert 50.0 in km.cluster_centers_[:, 0]
    assert len(np.unique(km.labels_)) == 3


def test_sparse_array_and_nan_rejected():
    X = sp.csr_array(sparse_blobs(300, 10, 2, seed=8))
    KMeans(2, random_state=0).fit(X).predict(X)
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(bad)


def test_auto_on_sparse_runs_lloyd():
    km = KMeans(3, random_state=0).fit(sparse_blobs(500, 10, 3, seed=9))
    assert km._algorithm == "lloyd"


@pytest.mark.parametrize("damage", ["index past the end", "negative index", "indptr"])
def test_damaged_csr_is_refused_not_a_crash(damage):
    rng = np.random.RandomState(0)
    X = sp.random(50, 6, density=0.5, format="csr", random_state=rng)
    km = KMeans(2, random_state=0).fit(X)
    bad = X.copy()
    if damage == "index past the end":
        bad.indices[3] = 10_000_000
    elif damage == "negative index":
        bad.indices[3] = -5
    else:
        bad.indptr[2] = bad.indptr[-1] + 100
    for call in (km.predict, km.transform, km.score, KMeans(2).fit):
        with pytest.raises(ValueError, match="damaged sparse matrix"):
            call(bad)
