"""SphericalKMeans: against a NumPy twin of the whole algorithm, dense against
CSR, zero rows, invariances (row scaling, permutation, weights, threads),
float32, scikit-learn's estimator checks and the model files."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import kmgmm
from kmgmm import SphericalKMeans
from kmgmm._exceptions import ConvergenceWarning

RTOL = {np.float32: 2e-5, np.float64: 1e-12}


# ----------------------------------------------------------------- the data
def directions(n_samples, n_features, n_clusters, *, seed=0, spread=0.15,
               dtype=np.float64, scales=True):
    """Rows around ``n_clusters`` random unit directions, of random lengths.

    Returns (X, y, first) with ``first`` one row index of each cluster.
    """
    rng = np.random.RandomState(seed)
    mu = rng.standard_normal((n_clusters, n_features))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    y = np.arange(n_samples) % n_clusters
    rng.shuffle(y)
    X = mu[y] + spread * rng.standard_normal((n_samples, n_features)) / np.sqrt(n_features)
    if scales:
        X *= 10.0 ** rng.uniform(-2, 2, n_samples)[:, None]
    first = np.array([np.flatnonzero(y == j)[0] for j in range(n_clusters)])
    return X.astype(dtype), y, first


def documents(n_samples, n_features, n_clusters, *, seed=0, density=0.05,
              dtype=np.float64):
    """TF-IDF-like CSR rows: each cluster draws most of its terms from its own
    part of the vocabulary.  Every row has at least one term."""
    rng = np.random.RandomState(seed)
    y = np.arange(n_samples) % n_clusters
    rng.shuffle(y)
    per = n_features // n_clusters
    rows, cols, vals = [], [], []
    n_terms = max(2, int(density * n_features))
    for i in range(n_samples):
        own = y[i] * per + rng.randint(0, per, n_terms)
        other = rng.randint(0, n_features, max(1, n_terms // 4))
        c = np.unique(np.concatenate([own, other]))
        rows.append(np.full(c.size, i))
        cols.append(c)
        vals.append(rng.exponential(1.0, c.size) + 0.1)
    X = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n_samples, n_features), dtype=dtype)
    first = np.array([np.flatnonzero(y == j)[0] for j in range(n_clusters)])
    return X, y, first


# -------------------------------------------------------------- NumPy twin
def unit(A):
    A = np.asarray(A, dtype=np.float64)
    return A / np.linalg.norm(A, axis=1, keepdims=True)


def twin(X, init, *, sample_weight=None, max_iter=300, tol=1e-4):
    """Spherical k-means written plainly: (labels, centers, objective, n_iter).

    Rows and centres normalised and rounded to X's dtype as the estimator
    stores them; the tolerance is relative to the mean variance of the
    features of the unit rows.  No empty clusters (the test data has none).
    """
    dtype = X.dtype
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X)
    U = unit(Xd).astype(dtype).astype(np.float64)
    w = np.ones(len(U)) if sample_weight is None else np.asarray(sample_weight, float)
    mean = w @ U / w.sum()
    tol_abs = tol * max(1 - mean @ mean, 0) / U.shape[1]
    C = unit(init).astype(dtype)
    previous = None
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        labels = np.argmax(U @ C.astype(np.float64).T, axis=1)
        sums = np.zeros(C.shape)
        np.add.at(sums, labels, w[:, None] * U)
        assert (np.bincount(labels, minlength=len(C)) > 0).all(), "twin: empty cluster"
        new = unit(sums).astype(dtype)
        shift = float(((new.astype(np.float64) - C) ** 2).sum())
        C = new
        if previous is not None and np.array_equal(labels, previous):
            break
        if shift <= tol_abs:
            break
        previous = labels
    cos = U @ C.astype(np.float64).T
    labels = np.argmax(cos, axis=1)
    objective = float(w @ (1 - cos[np.arange(len(U)), labels]))
    return labels, C, objective, n_iter


def fit(X, n_clusters, sample_weight=None, **kw):
    return SphericalKMeans(n_clusters, **{"n_threads": 1, **kw}).fit(
        X, sample_weight=sample_weight)


def assert_centers_close(a, b, dtype):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=0, atol=10 * RTOL[dtype])


# ============================================================== the twin
@pytest.mark.parametrize("n_samples", [3, 255, 256, 257, 2000])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_numpy_twin(n_samples, n_threads, weighted, dtype):
    k = 3
    X, _, first = directions(n_samples, 12, k, seed=n_samples, dtype=dtype)
    w = np.random.RandomState(1).uniform(0.5, 2, n_samples) if weighted else None
    init = X[first]
    km = SphericalKMeans(k, init=init, n_threads=n_threads, tol=1e-4).fit(
        X, sample_weight=w)
    labels, C, objective, n_iter = twin(X, init, sample_weight=w, tol=1e-4)
    np.testing.assert_array_equal(km.labels_, labels)
    assert_centers_close(km.cluster_centers_, C, dtype)
    assert km.n_iter_ == n_iter
    # Per row, 1 - cos is computed to a few units of the dtype's rounding.
    eps = float(np.finfo(dtype).eps)
    assert km.inertia_ == pytest.approx(objective, rel=1e-9, abs=64 * eps * n_samples)
    assert km.cluster_centers_.dtype == dtype
    np.testing.assert_allclose(np.linalg.norm(km.cluster_centers_.astype(float), axis=1),
                               1, atol=RTOL[dtype])


def test_matches_twin_on_overlapping_directions(dtype):
    """Heavily overlapping clusters take many iterations: the twin must follow
    every one of them."""
    X, _, first = directions(3000, 6, 5, seed=3, spread=1.5, dtype=dtype)
    init = X[first]
    km = fit(X, 5, init=init, tol=0)
    labels, C, _, n_iter = twin(X, init, tol=0)
    assert n_iter > 5
    np.testing.assert_array_equal(km.labels_, labels)
    assert_centers_close(km.cluster_centers_, C, dtype)
    assert km.n_iter_ == n_iter


def test_csr_matches_twin_and_dense(dtype):
    X, y, first = documents(600, 400, 4, dtype=dtype)
    init = X[first].toarray()
    km_sparse = fit(X, 4, init=init)
    km_dense = fit(X.toarray(), 4, init=init)
    labels, C, _, n_iter = twin(X, init)
    np.testing.assert_array_equal(km_sparse.labels_, labels)
    np.testing.assert_array_equal(km_dense.labels_, labels)
    assert_centers_close(km_sparse.cluster_centers_, C, dtype)
    assert_centers_close(km_dense.cluster_centers_, km_sparse.cluster_centers_, dtype)
    assert km_sparse.n_iter_ == km_dense.n_iter_ == n_iter
    assert km_sparse.inertia_ == pytest.approx(km_dense.inertia_, rel=1e-4)
    np.testing.assert_array_equal(km_sparse.predict(X), km_dense.predict(X.toarray()))
    np.testing.assert_allclose(km_sparse.transform(X), km_dense.transform(X.toarray()),
                               atol=10 * RTOL[dtype])
    # The clusters are the planted ones.
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(y, km_sparse.labels_) == 1.0


def test_caller_arrays_untouched():
    X, _, first = directions(300, 5, 3)
    Xs = sp.csr_matrix(X)
    before, data_before = X.copy(), Xs.data.copy()
    w = np.ones(300)
    init = X[first].copy()
    fit(X, 3, init=init, sample_weight=w)
    fit(Xs, 3, init=init)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(Xs.data, data_before)
    np.testing.assert_array_equal(init, X[first])


# ====================================================== what fit returns
def test_predict_transform_score_agree(dtype):
    X, _, _ = directions(500, 8, 4, seed=2, dtype=dtype)
    km = fit(X, 4, random_state=0)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    D = km.transform(X)
    assert D.dtype == dtype and D.shape == (500, 4)
    expected = 1 - unit(X) @ km.cluster_centers_.astype(np.float64).T
    np.testing.assert_allclose(D, expected, atol=10 * RTOL[dtype])
    np.testing.assert_array_equal(np.argmin(expected, axis=1), km.labels_)
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-5)
    assert km.inertia_ == pytest.approx(expected.min(axis=1).sum(), rel=1e-4)
    w = np.random.RandomState(0).uniform(0, 3, 500)
    assert km.score(X, sample_weight=w) == pytest.approx(
        -(w * expected.min(axis=1)).sum(), rel=1e-4)
    np.testing.assert_allclose(fit(X, 4, random_state=0).fit_transform(X), D)
    np.testing.assert_array_equal(fit(X, 4, random_state=0).fit_predict(X), km.labels_)


def test_planted_clusters_found_from_seeding(dtype):
    from sklearn.metrics import adjusted_rand_score
    X, y, _ = directions(2000, 16, 6, seed=5, dtype=dtype)
    for init in ("k-means++", "random"):
        km = SphericalKMeans(6, init=init, random_state=0, n_threads=1).fit(X)
        assert adjusted_rand_score(y, km.labels_) == 1.0, init


def test_empty_cluster_relocated():
    """Two equal initial centres: one cluster is empty after the first pass
    and takes the row of least cosine to its centre, as KMeans relocates."""
    X, y, first = directions(400, 6, 3, seed=4)
    init = X[[first[0], first[0], first[1]]]
    km = fit(X, 3, init=init)
    assert np.bincount(km.labels_, minlength=3).min() > 0
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(y, km.labels_) == 1.0


def test_fewer_directions_than_clusters_warns():
    base = np.array([[1.0, 0.0], [0.0, 1.0]])
    X = np.repeat(base, 5, axis=0) * np.arange(1, 11)[:, None]
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        km = SphericalKMeans(3, random_state=0, n_threads=1).fit(X)
    assert len(np.unique(km.labels_)) == 2


# ======================================================== zero rows, input
def test_zero_row_is_an_error_naming_it():
    X, _, _ = directions(50, 4, 2)
    X[7] = 0
    X[20] = 0
    with pytest.raises(ValueError, match=r"X row 7 is all zeros \(2 such row"):
        SphericalKMeans(2).fit(X)
    with pytest.raises(ValueError, match="X row 7 is all zeros"):
        SphericalKMeans(2).fit(sp.csr_matrix(X))
    Xs = sp.csr_matrix(directions(50, 4, 2)[0])
    Xs.data[Xs.indptr[3]:Xs.indptr[4]] = 0          # stored zeros only
    with pytest.raises(ValueError, match="X row 3 is all zeros"):
        SphericalKMeans(2).fit(Xs)
    good, _, first = directions(50, 4, 2)
    km = SphericalKMeans(2, random_state=0).fit(good)
    for method in (km.predict, km.transform, km.score):
        with pytest.raises(ValueError, match="X row 7 is all zeros"):
            method(X)
    # A zero row far from the start of the data, past the first block.
    big = np.ones((300_000, 4))
    big[299_999] = 0
    with pytest.raises(ValueError, match="X row 299999 is all zeros"):
        km.predict(big)
    init = good[first].copy()
    init[1] = 0
    with pytest.raises(ValueError, match="init row 1 is all zeros"):
        SphericalKMeans(2, init=init).fit(good)


def test_tiny_and_huge_rows_normalise():
    """Rows whose squares underflow or overflow float64 still have a direction."""
    X, _, first = directions(200, 5, 2, seed=9)
    ref = fit(X, 2, init=X[first])
    scaled = X * np.where(np.arange(200) % 2 == 0, 1e-200, 1e200)[:, None]
    km = fit(scaled, 2, init=X[first])
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    assert_centers_close(km.cluster_centers_, ref.cluster_centers_, np.float64)


@pytest.mark.parametrize("params, match", [
    ({"n_clusters": 0}, "n_clusters"),
    ({"init": "kmeans"}, "init"),
    ({"n_init": 0}, "n_init"),
    ({"max_iter": 0}, "max_iter"),
    ({"tol": -1.0}, "tol"),
    ({"n_threads": 0}, "n_threads"),
])
def test_bad_parameters(params, match):
    X, _, _ = directions(20, 3, 2)
    with pytest.raises(ValueError, match=match):
        SphericalKMeans(**params).fit(X)


def test_bad_input():
    X, _, _ = directions(20, 3, 2)
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SphericalKMeans(2).fit(bad)
    with pytest.raises(ValueError, match="n_samples=20 should be >= n_clusters=30"):
        SphericalKMeans(30).fit(X)
    with pytest.raises(ValueError, match="init array has shape"):
        SphericalKMeans(2, init=np.ones((2, 4))).fit(X)
    with pytest.raises(ValueError, match="sample_weight"):
        SphericalKMeans(2).fit(X, sample_weight=-np.ones(20))
    km = SphericalKMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but SphericalKMeans"):
        km.predict(X[:, :2])


def test_dask_input_refused_clearly():
    da = pytest.importorskip("dask.array")
    X, _, _ = directions(20, 3, 2)
    with pytest.raises(TypeError, match="compute"):
        SphericalKMeans(2).fit(da.from_array(X, chunks=10))
    with pytest.raises(TypeError, match="compute"):
        kmgmm.kmeans_plusplus(da.from_array(X, chunks=10), 2)


# ============================================================ invariances
@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), n_clusters=st.integers(2, 4),
       n_features=st.one_of(st.integers(2, 4), st.integers(5, 12)),
       log_scale=st.floats(-6, 6), dtype=st.sampled_from([np.float32, np.float64]),
       sparse=st.booleans())
def test_row_scaling_and_permutation_change_nothing(seed, n_clusters, n_features,
                                                    log_scale, dtype, sparse):
    X, _, first = directions(60 + 17 * n_clusters, n_features, n_clusters, seed=seed % 10**6,
                             spread=0.1, dtype=dtype)
    rng = np.random.RandomState(seed % 10**6)
    init = X[first].astype(np.float64)
    w = rng.uniform(0.5, 2, len(X))
    scale = 10.0 ** (log_scale + rng.uniform(-1, 1, len(X)))
    perm = rng.permutation(len(X))
    X2 = (X.astype(np.float64) * scale[:, None]).astype(dtype)[perm]
    if sparse:
        X, X2 = sp.csr_matrix(X), sp.csr_matrix(X2)
    ref = fit(X, n_clusters, init=init, sample_weight=w)
    got = fit(X2, n_clusters, init=init * 7.5, sample_weight=w[perm] * 3.0)
    np.testing.assert_array_equal(got.labels_, ref.labels_[perm])
    assert_centers_close(got.cluster_centers_, ref.cluster_centers_, dtype)
    assert got.inertia_ == pytest.approx(3.0 * ref.inertia_, rel=1e-3, abs=1e-4)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), sparse=st.booleans())
def test_integer_weights_are_repeated_rows(seed, sparse):
    X, _, first = directions(90, 5, 3, seed=seed % 10**6)
    reps = np.random.RandomState(seed % 10**6).randint(1, 4, len(X))
    Xr = np.repeat(X, reps, axis=0)
    if sparse:
        X, Xr = sp.csr_matrix(X), sp.csr_matrix(Xr)
    a = fit(X, 3, init=X[first].toarray() if sparse else X[first], sample_weight=reps)
    b = fit(Xr, 3, init=X[first].toarray() if sparse else X[first])
    np.testing.assert_array_equal(np.repeat(a.labels_, reps), b.labels_)
    assert_centers_close(a.cluster_centers_, b.cluster_centers_, np.float64)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-9)


@pytest.mark.parametrize("sparse", [False, True])
def test_thread_count_changes_no_bit(sparse, dtype):
    if sparse:
        X, _, _ = documents(3000, 300, 5, seed=1, dtype=dtype)
    else:
        X, _, _ = directions(20_000, 24, 8, seed=1, spread=0.8, dtype=dtype)
    fits = [SphericalKMeans(8, random_state=3, n_threads=t, max_iter=30).fit(X)
            for t in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.labels_, fits[0].labels_)
        np.testing.assert_array_equal(other.cluster_centers_, fits[0].cluster_centers_)
        assert other.inertia_ == fits[0].inertia_
        assert other.n_iter_ == fits[0].n_iter_


def test_float32_close_to_float64():
    X, _, first = directions(3000, 16, 5, seed=8)
    a = fit(X, 5, init=X[first])
    b = fit(X.astype(np.float32), 5, init=X[first])
    assert b.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, atol=1e-5)
    assert b.inertia_ == pytest.approx(a.inertia_, rel=1e-4)
    assert b.transform(X.astype(np.float32)).dtype == np.float32


# ============================================== scikit-learn, model files
# The data of these checks holds all-zero rows (integers 0-2 in 5 columns;
# sparse matrices with most entries zeroed), which SphericalKMeans refuses by
# design with a ValueError naming the row.  What they check otherwise (integer
# dtypes, every sparse format) is tested below on data without zero rows.
ZERO_ROW_CHECKS = {
    name: "its data holds all-zero rows, which have no direction: a ValueError"
    for name in ("check_estimators_dtypes", "check_estimator_sparse_tag",
                 "check_estimator_sparse_array", "check_estimator_sparse_matrix")
}


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(SphericalKMeans(), expected_failed_checks=ZERO_ROW_CHECKS)


def test_zero_row_checks_fail_only_for_zero_rows():
    """The checks left out above fail on their zero rows and nothing else."""
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SphericalKMeans(), on_fail=None)
    failed = {r["check_name"]: r["exception"] for r in results if r["status"] == "failed"}
    assert set(failed) == set(ZERO_ROW_CHECKS)
    for exc in failed.values():
        assert "is all zeros" in str(exc) + str(exc.__cause__) + str(exc.__context__)


@pytest.mark.parametrize("fmt", ["csr_matrix", "csr_array", "csc_matrix", "coo_matrix",
                                 "lil_matrix", "dok_array", "bsr_matrix"])
@pytest.mark.parametrize("int_dtype", [np.int32, np.int64, np.float32])
def test_sparse_formats_and_integer_data(fmt, int_dtype):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, (40, 6)).astype(int_dtype)
    X[:, 0] += 1                                    # no zero row
    ref = SphericalKMeans(3, random_state=0).fit(X.astype(np.float64))
    km = SphericalKMeans(3, random_state=0).fit(getattr(sp, fmt)(X))
    want = np.float32 if int_dtype == np.float32 else np.float64
    assert km.cluster_centers_.dtype == want
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_array_equal(km.predict(getattr(sp, fmt)(X)), ref.labels_)
    assert_centers_close(km.cluster_centers_, ref.cluster_centers_, want)


def test_sklearn_pipeline_and_clone():
    from sklearn.base import clone
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    docs = ["the cat sat on the mat", "a cat and a kitten", "dogs and a puppy",
            "the dog barked at the puppy", "a kitten purred", "puppy and dog play"]
    pipe = make_pipeline(TfidfVectorizer(), SphericalKMeans(2, random_state=0))
    labels = pipe.fit_predict(docs)
    assert labels.shape == (6,)
    est = clone(SphericalKMeans(3, init="random", tol=0.5))
    assert est.get_params()["tol"] == 0.5 and not hasattr(est, "cluster_centers_")


def test_save_and_load(tmp_path, dtype):
    X, _, first = directions(300, 6, 3, dtype=dtype)
    km = SphericalKMeans(3, init=X[first], random_state=0).fit(X)
    path = km.save(tmp_path / "sph.npz")
    loaded = kmgmm.load(path)
    assert isinstance(loaded, SphericalKMeans)
    np.testing.assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)
    assert loaded.cluster_centers_.dtype == dtype
    assert loaded.inertia_ == km.inertia_ and loaded.n_iter_ == km.n_iter_
    np.testing.assert_array_equal(loaded.predict(X), km.labels_)
    np.testing.assert_array_equal(loaded.init, km.init.astype(np.float64))


def test_model_file_with_non_unit_centres_refused(tmp_path):
    X, _, _ = directions(100, 4, 2)
    km = SphericalKMeans(2, random_state=0).fit(X)
    km.cluster_centers_ = km.cluster_centers_ * 2
    with pytest.raises(ValueError, match="unit-norm"):
        km.save(tmp_path / "bad.npz")


def test_command_line_predicts_with_a_saved_model(tmp_path, capsys):
    from kmgmm._cli import main

    X, _, first = directions(500, 6, 3, dtype=np.float32)
    km = SphericalKMeans(3, init=X[first], n_threads=1).fit(X)
    km.save(tmp_path / "sph.npz")
    np.save(tmp_path / "X.npy", X)
    assert main(["predict", str(tmp_path / "sph.npz"), str(tmp_path / "X.npy"),
                 "-o", str(tmp_path / "labels.npy"), "-q"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), km.labels_)
    assert main(["info", str(tmp_path / "sph.npz")]) == 0
    assert "SphericalKMeans model" in capsys.readouterr().out
