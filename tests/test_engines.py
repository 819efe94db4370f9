"""The same algorithm on every engine it applies to gives the same fit.

Each test runs one behaviour on the in-memory engine (dense and CSR) and on
the Dask engine without a Client (Dask's default scheduler in this process;
``test_dask.py`` covers a real cluster), from the same initial centres.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from kmgmm import ConvergenceWarning, GaussianMixture, KMeans
from kmgmm._engines import dask_bounds

da = pytest.importorskip("dask.array")

ENGINES = ["dense", "csr", "dask"]


def as_engine_input(X, engine):
    if engine == "csr":
        return sp.csr_matrix(X)
    if engine == "dask":
        return da.from_array(X, chunks=(97, X.shape[1]))
    return X


def labels_of(est):
    labels = est.labels_
    return labels.compute() if hasattr(labels, "compute") else labels


def blobs(n=600, d=6, k=5, spread=0.6, seed=0):
    rng = np.random.RandomState(seed)
    means = rng.uniform(-8, 8, size=(k, d))
    y = rng.randint(k, size=n)
    return means[y] + spread * rng.standard_normal((n, d))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan", "auto"])
def test_kmeans_is_the_same_on_every_engine(engine, algorithm):
    X = blobs()
    init = X[:5]
    ref = KMeans(5, init=init, algorithm="lloyd", tol=0, max_iter=50).fit(X)
    km = KMeans(5, init=init, algorithm=algorithm, tol=0, max_iter=50).fit(
        as_engine_input(X, engine))
    np.testing.assert_array_equal(labels_of(km), ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-12,
                               atol=1e-12)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)
    assert km.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_clusters_are_relocated_alike_on_every_engine(engine):
    X = blobs(seed=1)
    # Two initial centres far from all data: their clusters start empty.
    init = np.vstack([X[:3], np.full((2, X.shape[1]), 1e3)])
    ref = KMeans(5, init=init, algorithm="lloyd", tol=0).fit(X)
    km = KMeans(5, init=init, tol=0).fit(as_engine_input(X, engine))
    np.testing.assert_array_equal(labels_of(km), ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
    assert np.count_nonzero(np.bincount(ref.labels_, minlength=5)) == 5


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_rows_stop_alike_on_every_engine(engine):
    rows = np.random.RandomState(2).standard_normal((4, 3)) * 5
    X = np.repeat(rows, 50, axis=0)
    init = np.vstack([rows, rows[:2] + 0.5, rows[2:] - 0.5, rows[:2] * 2])
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        km = KMeans(10, init=init, tol=0).fit(as_engine_input(X, engine))
    assert km.n_iter_ <= 5
    assert len(np.unique(labels_of(km))) == 4


@pytest.mark.parametrize("engine", ["dense", "dask"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_mixture_is_the_same_on_every_engine(engine, covariance_type):
    X = blobs(n=400, d=3, k=3, spread=1.0, seed=3)
    kw = dict(covariance_type=covariance_type, means_init=X[:3], tol=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = GaussianMixture(3, **kw).fit(X)
        gm = GaussianMixture(3, **kw).fit(as_engine_input(X, engine))
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(gm, name), getattr(ref, name), rtol=1e-10,
                                   atol=1e-12)
    assert gm.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-12)


def test_dask_hamerly_restarts_a_block_whose_bounds_are_lost(monkeypatch):
    # A block task that finds no state beside its block (its worker was
    # lost) starts that block over: more distance evaluations, same fit.
    X = blobs(n=900, d=6, k=6, seed=4)
    init = X[:6]
    ref = KMeans(6, init=init, algorithm="hamerly", tol=0).fit(X)
    pass_block = dask_bounds._pass_block
    lost = []

    def forgetful(x, w, key, known, params, n_pass, *args):
        if n_pass == 3 and key[1] == 2:
            dask_bounds._BLOCK_STATES.pop(key, None)
            lost.append(key)
        return pass_block(x, w, key, known, params, n_pass, *args)

    monkeypatch.setattr(dask_bounds, "_pass_block", forgetful)
    km = KMeans(6, init=init, algorithm="hamerly", tol=0).fit(
        as_engine_input(X, "dask"))
    assert lost and km.n_iter_ >= 3
    np.testing.assert_array_equal(labels_of(km), ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
    assert km.n_iter_ == ref.n_iter_
    assert not dask_bounds._BLOCK_STATES     # released at the end of the fit


def computed(value):
    return value.compute() if hasattr(value, "compute") else value


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_kmeans_is_the_same_on_every_engine(engine, dtype):
    X = blobs(seed=5).astype(dtype)
    w = np.random.RandomState(5).uniform(0.1, 10.0, X.shape[0]).astype(dtype)
    kw = dict(init=X[:5], algorithm="lloyd", tol=0, max_iter=20)
    ref = KMeans(5, **kw).fit(X, sample_weight=w)
    sw = da.from_array(w, chunks=97) if engine == "dask" else w
    km = KMeans(5, **kw).fit(as_engine_input(X, engine), sample_weight=sw)
    assert km.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(labels_of(km), ref.labels_)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=rtol,
                               atol=rtol)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=rtol)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_inference_is_the_same_on_every_engine(engine, dtype):
    # One fitted model applied to rows held by each engine: the same labels,
    # distances (in X's dtype) and score as NumPy computes them.
    X = blobs(seed=6).astype(dtype)
    km = KMeans(5, init=X[:5], tol=0).fit(X)
    C = km.cluster_centers_.astype(np.float64)
    ref_dist = np.sqrt(((X.astype(np.float64)[:, None, :] - C[None]) ** 2).sum(-1))
    Xe = as_engine_input(X, engine)
    labels = computed(km.predict(Xe))
    np.testing.assert_array_equal(labels, ref_dist.argmin(1))
    dist = computed(km.transform(Xe))
    assert dist.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(dist, ref_dist, rtol=rtol, atol=rtol)
    assert km.score(Xe) == pytest.approx(-(ref_dist.min(1) ** 2).sum(), rel=rtol)


@pytest.mark.parametrize("engine", ["dense", "dask"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_mixture_inference_is_the_same_on_every_engine(engine, covariance_type):
    X = blobs(n=400, d=3, k=3, spread=1.0, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=covariance_type, means_init=X[:3],
                             max_iter=5).fit(X)
    # scikit-learn's mixture with the same parameters is the reference.
    from sklearn.mixture import GaussianMixture as SKGaussianMixture
    ref = SKGaussianMixture(3, covariance_type=covariance_type)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        setattr(ref, name, getattr(gm, name))
    Xe = as_engine_input(X, engine)
    ref_logp = ref.score_samples(X)
    np.testing.assert_allclose(computed(gm.score_samples(Xe)), ref_logp, rtol=1e-10)
    np.testing.assert_allclose(computed(gm.predict_proba(Xe)), ref.predict_proba(X),
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(computed(gm.predict(Xe)), ref.predict(X))
    assert gm.score(Xe) == pytest.approx(ref_logp.mean(), rel=1e-10)
