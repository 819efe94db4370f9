"""kmgmm.kmeans_plusplus, the public k-means++ seeding: what it returns, the
weights, reproducibility, dense against CSR, and its input checks."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import kmgmm
from kmgmm import kmeans_plusplus


def blobs(n_per, means, seed=0, dtype=np.float64, offset=0.0):
    rng = np.random.RandomState(seed)
    means = np.asarray(means, dtype=float)
    X = np.repeat(means, n_per, axis=0) + rng.standard_normal((n_per * len(means),
                                                               means.shape[1]))
    return (X + offset).astype(dtype)


MEANS = [[0, 0, 0], [30, 0, 0], [0, 30, 0], [0, 0, 30], [30, 30, 30]]


def which_blob(centers, offset=0.0):
    centers = np.asarray(centers, dtype=np.float64) - offset
    d = ((centers[:, None, :] - np.asarray(MEANS, float)[None]) ** 2).sum(-1)
    return np.argmin(d, axis=1)


@pytest.mark.parametrize("sparse", [False, True])
def test_returns_distinct_rows_of_x(sparse, dtype):
    X = blobs(40, MEANS, dtype=dtype)
    Xin = sp.csr_matrix(X) if sparse else X
    for seed in range(5):
        centers, indices = kmeans_plusplus(Xin, 5, random_state=seed)
        assert centers.dtype == dtype and isinstance(centers, np.ndarray)
        assert centers.shape == (5, 3) and indices.shape == (5,)
        assert len(set(indices.tolist())) == 5
        np.testing.assert_array_equal(centers, X[indices])
        # k-means++ puts one centre in each well-separated blob.
        assert sorted(which_blob(centers)) == list(range(5))


def test_int_and_list_input_give_float64():
    X = np.arange(40).reshape(20, 2) % 7
    centers, indices = kmeans_plusplus(X.tolist(), 3, random_state=0)
    assert centers.dtype == np.float64
    np.testing.assert_array_equal(centers, X[indices])


def test_same_seed_same_result_other_seed_other_draws():
    X = np.random.RandomState(0).standard_normal((500, 4))
    a = kmeans_plusplus(X, 8, random_state=7)
    b = kmeans_plusplus(X, 8, random_state=np.random.RandomState(7))
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])
    others = {tuple(kmeans_plusplus(X, 8, random_state=s)[1]) for s in range(8, 14)}
    assert len(others | {tuple(a[1])}) > 1


@pytest.mark.parametrize("sparse", [False, True])
def test_weighted_seeding_never_picks_zero_weight(sparse):
    rng = np.random.RandomState(1)
    X = blobs(30, MEANS, seed=1)
    w = rng.uniform(0.5, 2, len(X))
    w[rng.rand(len(X)) < 0.6] = 0
    # Zero-weight rows far from everything: unweighted k-means++ would love them.
    X[w == 0] *= 50
    Xin = sp.csr_matrix(X) if sparse else X
    for seed in range(20):
        _, indices = kmeans_plusplus(Xin, 5, sample_weight=w, random_state=seed)
        assert (w[indices] > 0).all()
        assert len(set(indices.tolist())) == 5


def test_fewer_distinct_rows_than_centres_still_distinct_indices():
    """Once every weighted row is a centre, the rest are drawn by weight among
    the rows not yet chosen: distinct indices, never a zero-weight row."""
    X = np.repeat(np.array([[0.0, 0], [1, 0], [0, 1]]), 4, axis=0)
    w = np.ones(12)
    w[[0, 5, 10]] = 0
    for seed in range(10):
        centers, indices = kmeans_plusplus(X, 7, sample_weight=w, random_state=seed)
        assert len(set(indices.tolist())) == 7
        assert (w[indices] > 0).all()
        assert len(np.unique(centers, axis=0)) == 3


def test_permuting_rows_permutes_indices_only():
    X = blobs(30, MEANS, seed=2)
    perm = np.random.RandomState(0).permutation(len(X))
    c1, i1 = kmeans_plusplus(X, 5, random_state=3)
    c2, i2 = kmeans_plusplus(X[perm], 5, random_state=3)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(perm[i2], i1)


def test_dense_and_csr_choose_the_same_rows():
    X = blobs(30, MEANS, seed=3)
    X[X < 2] = 0            # make it sparse-ish
    X = X[np.abs(X).sum(axis=1) > 0]
    for seed in range(5):
        a = kmeans_plusplus(X, 5, random_state=seed)
        b = kmeans_plusplus(sp.csr_matrix(X), 5, random_state=seed)
        np.testing.assert_array_equal(a[1], b[1])


def test_given_squared_norms_give_the_same_draws():
    X = blobs(30, MEANS, seed=4)
    norms = np.einsum("ij,ij->i", X, X)
    a = kmeans_plusplus(X, 5, random_state=0)
    b = kmeans_plusplus(X, 5, x_squared_norms=norms, random_state=0)
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e6), (np.float64, 1e13)])
def test_far_from_origin(dtype, offset):
    """Data far from the origin is seeded about its mean: the blobs are still
    told apart (the expansion of squared distances would lose them)."""
    X = blobs(40, MEANS, seed=5, dtype=dtype, offset=offset)
    for seed in range(3):
        centers, indices = kmeans_plusplus(X, 5, random_state=seed)
        np.testing.assert_array_equal(centers, X[indices])
        assert sorted(which_blob(centers, offset)) == list(range(5))


def test_n_local_trials():
    X = blobs(30, MEANS, seed=6)
    for trials in (1, 10):
        centers, indices = kmeans_plusplus(X, 5, n_local_trials=trials, random_state=0)
        np.testing.assert_array_equal(centers, X[indices])


def test_seeds_kmeans_as_init():
    X = blobs(50, MEANS, seed=7)
    centers, _ = kmeans_plusplus(X, 5, random_state=0)
    km = kmgmm.KMeans(5, init=centers).fit(X)
    assert sorted(which_blob(km.cluster_centers_)) == list(range(5))


def test_caller_arrays_untouched():
    X = blobs(20, MEANS, seed=8, offset=1e6, dtype=np.float32)
    w = np.ones(len(X))
    X0, w0 = X.copy(), w.copy()
    kmeans_plusplus(X, 4, sample_weight=w, random_state=0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_clusters": 0}, ValueError, "n_clusters"),
    ({"n_clusters": 2.5}, TypeError, "n_clusters"),
    ({"n_clusters": 101}, ValueError, "n_samples=100 should be >= n_clusters=101"),
    ({"n_local_trials": 0}, ValueError, "n_local_trials"),
    ({"sample_weight": np.ones(99)}, ValueError, "sample_weight"),
    ({"sample_weight": np.r_[np.ones(3), np.zeros(97)]}, ValueError,
     "only 3 have one"),
    ({"x_squared_norms": np.ones(3)}, ValueError, "x_squared_norms.shape"),
    ({"x_squared_norms": -np.ones(100)}, ValueError, "x_squared_norms contains negative"),
    ({"random_state": "seed"}, ValueError, "random_state"),
])
def test_bad_arguments(kwargs, error, match):
    X = np.random.RandomState(0).standard_normal((100, 3))
    kwargs = {"n_clusters": 4, **kwargs}
    with pytest.raises(error, match=match):
        kmeans_plusplus(X, **kwargs)


def test_bad_data():
    X = np.random.RandomState(0).standard_normal((10, 3))
    X[4, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        kmeans_plusplus(X, 2)
    with pytest.raises(ValueError, match="2-D"):
        kmeans_plusplus(np.ones(5), 2)


def test_agrees_with_sklearn_in_quality():
    """Not the same draws (kmgmm draws in an order fixed by the values), but
    the same algorithm: on blobs both give one centre a blob, and their
    potentials are of the same size on average."""
    from sklearn.cluster import kmeans_plusplus as sk_plusplus

    rng = np.random.RandomState(0)
    X = rng.standard_normal((2000, 8)) + rng.randint(0, 4, (2000, 1)) * 3.0

    def potential(C):
        return ((X[:, None, :] - C[None]) ** 2).sum(-1).min(1).sum()

    ours = np.mean([potential(kmeans_plusplus(X, 10, random_state=s)[0]) for s in range(10)])
    theirs = np.mean([potential(sk_plusplus(X, 10, random_state=s)[0]) for s in range(10)])
    assert 0.8 < ours / theirs < 1.25


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(1, 60),
       n_features=st.integers(1, 6), dtype=st.sampled_from([np.float32, np.float64]),
       sparse=st.booleans(), duplicates=st.booleans())
def test_properties(seed, n_samples, n_features, dtype, sparse, duplicates):
    """Whatever the data: rows of X at distinct indices of positive weight;
    permuting the rows and repeating a row as an integer weight choose the
    same centres."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features))
    if duplicates:
        X = X[rng.randint(0, max(1, n_samples // 3), n_samples)]
    X = X.astype(dtype)
    w = rng.randint(0, 4, n_samples).astype(float)
    w[rng.randint(n_samples)] = 1.0
    k = int(rng.randint(1, np.count_nonzero(w) + 1))
    Xin = sp.csr_matrix(X) if sparse else X
    centers, indices = kmeans_plusplus(Xin, k, sample_weight=w, random_state=seed)
    assert centers.dtype == dtype
    np.testing.assert_array_equal(centers, X[indices])
    assert len(set(indices.tolist())) == k and (w[indices] > 0).all()
    if k > len(np.unique(X[w > 0], axis=0)):
        # Beyond the distinct values the draws are among equal rows, whose
        # distances to their centres are rounding errors: any of them will do.
        return
    perm = rng.permutation(n_samples)
    c2, _ = kmeans_plusplus(sp.csr_matrix(X[perm]) if sparse else X[perm], k,
                             sample_weight=w[perm], random_state=seed)
    np.testing.assert_array_equal(c2, centers)
    # Integer weights as repeated rows (weight-0 rows dropped): the same
    # centres while no row is drawn twice; equal centres here means the same
    # values, since repeated rows are equal.
    if not duplicates:
        reps = w.astype(int)
        Xr = np.repeat(X, reps, axis=0)
        c3, _ = kmeans_plusplus(sp.csr_matrix(Xr) if sparse else Xr, k, random_state=seed)
        np.testing.assert_array_equal(c3, centers)
