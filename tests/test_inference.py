"""Applying a fitted k-means model: the kernels of ``kmgmm._kernels.infer``
against their NumPy twins, and ``KMeans.predict``, ``score`` and
``transform`` against scikit-learn on the same centres."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans as SkKMeans

import kmgmm
from kmgmm import _kernels
from kmgmm._conditioning import for_centers
from kmgmm._kernels import infer, lloyd

DTYPES = [np.float32, np.float64]
EPS = {np.float32: float(np.finfo(np.float32).eps), np.float64: float(np.finfo(np.float64).eps)}


def blobs(n, d, k, dtype, seed=0, offset=0.0, spread=10.0):
    """Rows around k well-separated centres (labels unambiguous), shifted by ``offset``."""
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-spread, spread, (k, d)) * np.sqrt(k)
    y = rng.randint(k, size=n)
    X = centres[y] + rng.standard_normal((n, d)) * 0.5 + offset
    return X.astype(dtype), (centres + offset).astype(dtype)


def twin_sqdist(X, C):
    """Squared distances in long double, from the differences."""
    Xl = np.asarray(X, dtype=np.longdouble)
    Cl = np.asarray(C, dtype=np.longdouble)
    return ((Xl[:, None, :] - Cl[None, :, :]) ** 2).sum(axis=2)


def fitted(C, n_threads=None, cls=kmgmm.KMeans):
    """A fitted estimator holding the centres C (fit on C itself, one pass)."""
    km = cls(C.shape[0], init=C, n_init=1, max_iter=1, n_threads=n_threads).fit(C)
    km.cluster_centers_ = C.copy()
    return km


def piece_sizes(d, k, dtype, distances):
    p = infer.piece_rows(d, k, np.dtype(dtype).itemsize, distances)
    return sorted({1, 7, p - 1, p, p + 1, 2 * p + 3})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [2, 4, 5, 33])
@pytest.mark.parametrize("k", [1, 10, 37])
def test_nearest_kernel_against_twin(dtype, d, k):
    if not infer.vectors_on():
        pytest.skip("built without vector extensions")
    for n in piece_sizes(d, k, dtype, False):
        X, C = blobs(n, d, k, dtype, seed=n)
        w = np.random.RandomState(1).uniform(0.5, 2.0, n).astype(dtype)
        sq = twin_sqdist(X, C)
        labels = np.empty(n, np.int32)
        inertia, finite = infer.nearest(X, C, labels, sample_weight=w, want_inertia=True,
                                        n_threads=2)
        assert finite
        np.testing.assert_array_equal(labels, sq.argmin(axis=1))
        ref = float((w.astype(np.longdouble) * sq.min(axis=1)).sum())
        assert abs(inertia - ref) <= 4 * (d + 2) * EPS[dtype] * ref
        # unit weights without an array; no inertia asked
        one = np.empty(n, np.int32)
        nan, finite = infer.nearest(X, C, one, n_threads=1)
        assert finite and np.isnan(nan)
        np.testing.assert_array_equal(one, labels)
        # the labels of the fit's own pass, bit for bit
        fit_labels = np.empty(n, np.int32)
        lloyd.lloyd_pass(X, np.ones(n, dtype), C, fit_labels, n_threads=1)
        np.testing.assert_array_equal(one, fit_labels)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_kernel_conditions_each_piece(dtype):
    """shift and scale inside the kernel: the labels and inertia of the
    transformed copy (``Conditioning.apply``)."""
    if not infer.vectors_on():
        pytest.skip("built without vector extensions")
    offset = 1e6 if dtype == np.float32 else 1e13
    for d in (3, 16):
        X, C = blobs(5000, d, 12, dtype, offset=offset)
        cond = for_centers(C, dtype)
        assert cond.shift is not None
        cond = type(cond)(shift=cond.shift, scale=4.0)
        Ct = np.ascontiguousarray(cond.to_model(C), dtype=dtype)
        Xt = cond.apply(X)
        w = np.ones(len(X), dtype)
        a, b = np.empty(len(X), np.int32), np.empty(len(X), np.int32)
        got, _ = infer.nearest(X, Ct, a, shift=cond.shift, scale=cond.scale,
                               want_inertia=True, n_threads=2)
        ref = lloyd.lloyd_pass(Xt, w, Ct, b, n_threads=1)
        np.testing.assert_array_equal(a, b)
        assert got == ref


@pytest.mark.parametrize("d", [5, 32])
@pytest.mark.parametrize("k", [1, 2, 9, 64])
def test_float64_screen_keeps_the_float64_labels(d, k):
    """float64 rows are screened in float32; rows on or within rounding of
    the midplane of two centres (exact ties, and ties broken by 1e-7 to
    1e-15 of their distance: beyond float32's resolution but not
    float64's), rows too large for float32's squares and rows with
    subnormal coordinates get exactly the float64 micro-kernel's labels,
    those of the fit's own pass, on every piece size."""
    if not infer.vectors_on():
        pytest.skip("built without vector extensions")
    rng = np.random.RandomState(d * 100 + k)
    C = rng.standard_normal((k, d)) * 3
    for n in piece_sizes(d, k, np.float64, False):
        X = rng.standard_normal((n, d)) * 3
        if k > 1:
            a, b = rng.randint(k, size=n), rng.randint(k, size=n)
            mid = (C[a] + C[b]) / 2
            step = (C[b] - C[a]) * rng.choice([0, 1e-7, -1e-9, 1e-12, -1e-15], size=(n, 1))
            ties = rng.uniform(size=n) < 0.5
            X[ties] = (mid + step)[ties]
        X[::11] *= 1e13                               # squares beyond float32
        X[1::13] = rng.standard_normal(d) * 1e-42     # float32 subnormals and zeros
        labels = np.empty(n, np.int32)
        inertia, finite = infer.nearest(X, C, labels, want_inertia=True, n_threads=2)
        assert finite
        fit_labels = np.empty(n, np.int32)
        ref = lloyd.lloyd_pass(X, np.ones(n), C, fit_labels, n_threads=1)
        np.testing.assert_array_equal(labels, fit_labels)
        np.testing.assert_allclose(inertia, ref, rtol=1e-12)   # (summed in other blocks)
        Xbad = X.copy()
        Xbad[n // 2, d // 2] = np.nan
        assert not infer.nearest(Xbad, C, labels, n_threads=2)[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 3, 8, 33])
@pytest.mark.parametrize("k", [1, 5, 16, 37])
def test_distance_kernel_against_twin(dtype, d, k):
    if not infer.vectors_on():
        pytest.skip("built without vector extensions")
    for n in piece_sizes(d, k, dtype, True):
        X, C = blobs(n, d, k, dtype, seed=n + k)
        out = np.full((n, k), np.nan, dtype)
        assert infer.distances(X, C, out, n_threads=2)
        ref = np.sqrt(twin_sqdist(X, C))
        # a sum of d squares of rounded differences: (d + 2) eps relative
        tol = (d + 3) * EPS[dtype] * ref
        assert np.all(np.abs(out - ref) <= tol)
        half = np.empty_like(out)
        assert infer.distances(X, C, half, mode=1, n_threads=1)
        assert np.all(np.abs(half - np.minimum(ref * ref / 2, 2)) <= 2 * tol * ref + 1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
def test_distance_kernel_reports_non_finite(dtype):
    if not infer.vectors_on():
        pytest.skip("built without vector extensions")
    X, C = blobs(300, 6, 5, dtype)
    out = np.empty((300, 5), dtype)
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[123, 2] = bad
        assert not infer.distances(Xb, C, out, n_threads=2)
        labels = np.empty(300, np.int32)
        assert not infer.nearest(Xb, C, labels, n_threads=2)[1]
        assert not infer.nearest(Xb[:, :3].copy(), C[:, :3].copy(), labels, n_threads=2)[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [3, 20])
def test_kmeans_methods_match_sklearn(dtype, d):
    X, C = blobs(4000, d, 9, dtype, seed=3)
    km = fitted(C)
    sk = SkKMeans(9, init=C, n_init=1, max_iter=1).fit(C)
    sk.cluster_centers_ = C.copy()
    w = np.random.RandomState(2).uniform(0, 3, len(X))
    np.testing.assert_array_equal(km.predict(X), sk.predict(X))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(km.score(X), sk.score(X), rtol=rtol)
    np.testing.assert_allclose(km.score(X, sample_weight=w), sk.score(X, sample_weight=w),
                               rtol=rtol)
    T = km.transform(X)
    assert T.dtype == dtype and T.flags.c_contiguous
    # scikit-learn expands ||x||^2 - 2 x.c + ||c||^2 (in float64): its
    # error is absolute, about eps times the squared norms
    ref = sk.transform(X)
    np.testing.assert_allclose(T, ref, rtol=rtol, atol=100 * (d + 2) * EPS[dtype] * ref.max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_transform_far_from_origin_against_longdouble(dtype):
    """Data far from the origin compared with its spread: the distances of
    the data as stored, to the dtype's rounding; a row equal to a centre is
    at exactly 0."""
    offset = 1e6 if dtype == np.float32 else 1e13
    for d in (2, 7, 40):
        X, C = blobs(3000, d, 6, dtype, seed=d, offset=offset, spread=0.5)
        X[17] = C[4]
        km = fitted(C)
        T = km.transform(X)
        ref = np.sqrt(twin_sqdist(X, C))
        assert np.all(np.abs(T - ref) <= (d + 3) * EPS[dtype] * ref)
        assert T[17, 4] == 0
        np.testing.assert_array_equal(km.predict(X), ref.argmin(axis=1))
        ref_inertia = float((ref ** 2).min(axis=1).sum())
        assert abs(-km.score(X) - ref_inertia) <= 4 * (d + 2) * EPS[dtype] * ref_inertia


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_does_not_change_anything(dtype):
    X, C = blobs(20_011, 12, 23, dtype, seed=5)
    w = np.random.RandomState(0).uniform(0.1, 2, len(X))
    one, two = fitted(C, n_threads=1), fitted(C, n_threads=2)
    np.testing.assert_array_equal(one.predict(X), two.predict(X))
    assert one.score(X, sample_weight=w) == two.score(X, sample_weight=w)
    assert np.array_equal(one.transform(X), two.transform(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_and_callers_array(dtype):
    """Fortran-ordered, strided and integer input give the C-contiguous
    result; the caller's array is never written to."""
    X, C = blobs(3000, 6, 5, dtype, seed=8)
    km = fitted(C)
    ref = km.predict(X), km.score(X), km.transform(X)
    before = X.copy()
    X.setflags(write=False)
    for variant in (np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2]):
        assert np.array_equal(km.predict(variant), ref[0])
        assert km.score(variant) == ref[1]
        assert np.array_equal(km.transform(variant), ref[2])
    km.predict(X), km.score(X), km.transform(X)
    np.testing.assert_array_equal(X, before)


def test_csr_input_still_works():
    X, C = blobs(2000, 8, 4, np.float64, seed=9)
    km = fitted(C)
    Xs = sp.csr_matrix(X)
    np.testing.assert_array_equal(km.predict(Xs), km.predict(X))
    np.testing.assert_allclose(km.score(Xs), km.score(X), rtol=1e-9)
    np.testing.assert_allclose(km.transform(Xs), km.transform(X), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rows_are_refused(dtype, bad):
    X, C = blobs(500, 6, 4, dtype)
    km = fitted(C)
    X[321, 1] = bad
    for method in (km.predict, km.score, km.transform):
        with pytest.raises(ValueError, match="X contains"):
            method(X)


def test_rows_far_beyond_the_centres():
    """float32 rows whose squared distances to centres near the origin
    overflow: the rows are assigned again under their own conditioning and
    their distances computed again in float64."""
    X, C = blobs(400, 5, 3, np.float32, seed=4)
    far = np.full((1, 5), 3e19, np.float32)
    Xf = np.vstack([X, far])
    km = fitted(C)
    labels = km.predict(Xf)
    ref = np.sqrt(twin_sqdist(Xf, C))
    np.testing.assert_array_equal(labels[:-1], ref[:-1].argmin(axis=1))
    assert labels[-1] == ref[-1].argmin()
    T = km.transform(Xf)
    assert np.all(np.isfinite(T))
    np.testing.assert_allclose(T, ref.astype(np.float64), rtol=1e-6)


def test_portable_path_agrees():
    """The NumPy code that runs without the vector kernels gives the same
    labels and distances to rounding."""
    X, C = blobs(3000, 9, 7, np.float32, seed=6)
    km = fitted(C)
    ref = km.predict(X), km.score(X), km.transform(X)
    previous = _kernels._set_cpu_path("portable")
    try:
        assert not infer.vectors_on()
        np.testing.assert_array_equal(km.predict(X), ref[0])
        np.testing.assert_allclose(km.score(X), ref[1], rtol=1e-6)
        np.testing.assert_allclose(km.transform(X), ref[2], rtol=1e-6)
        X[5, 5] = np.nan
        with pytest.raises(ValueError, match="X contains"):
            km.transform(X)
    finally:
        _kernels._set_cpu_path(previous)


@pytest.mark.parametrize("dtype", DTYPES)
def test_minibatch_and_fit_transform_keep_the_dtype(dtype):
    X, _ = blobs(3000, 5, 4, dtype, seed=7)
    mb = kmgmm.MiniBatchKMeans(4, random_state=0, n_init=1).fit(X)
    T = mb.transform(X)
    assert T.dtype == dtype
    np.testing.assert_allclose(T, np.sqrt(twin_sqdist(X, mb.cluster_centers_)).astype(float),
                               rtol=20 * EPS[dtype])
    km = kmgmm.KMeans(4, random_state=0, n_init=1)
    Tf = km.fit_transform(X)
    assert Tf.dtype == dtype
    np.testing.assert_array_equal(Tf, km.transform(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_spherical_transform_against_twin(dtype):
    """1 - cos in X's dtype, against the long-double twin; a row along a
    centre (any length) at 0; the portable path agrees."""
    X, _ = blobs(3000, 12, 5, dtype, seed=11)
    sk = kmgmm.SphericalKMeans(5, random_state=0, n_init=1).fit(X)
    X[9] = 3 * sk.cluster_centers_[2]
    T = sk.transform(X)
    assert T.dtype == dtype
    Xl = X.astype(np.longdouble)
    Xl /= np.sqrt((Xl ** 2).sum(axis=1))[:, None]
    Cl = sk.cluster_centers_.astype(np.longdouble)
    Cl /= np.sqrt((Cl ** 2).sum(axis=1))[:, None]
    ref = (1 - Xl @ Cl.T).astype(np.float64)
    assert np.all(np.abs(T - ref) <= 40 * EPS[dtype])
    assert T[9, 2] <= 4 * EPS[dtype]
    previous = _kernels._set_cpu_path("portable")
    try:
        np.testing.assert_allclose(sk.transform(X), T, atol=40 * EPS[dtype])
    finally:
        _kernels._set_cpu_path(previous)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_mixture_predict_is_the_argmax_of_the_posterior(dtype, cov):
    """predict runs the pass without responsibilities: the most likely
    component all the same, scikit-learn's on the same parameters; NaN and
    infinity are refused without a pass of their own."""
    from sklearn.mixture import GaussianMixture as SkGM
    X, _ = blobs(3000, 6, 4, dtype, seed=12, spread=1.0)
    gm = kmgmm.GaussianMixture(4, covariance_type=cov, random_state=0).fit(X)
    labels = gm.predict(X)
    np.testing.assert_array_equal(labels, gm.predict_proba(X).argmax(axis=1))
    sk = SkGM(4, covariance_type=cov)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        setattr(sk, name, getattr(gm, name).astype(np.float64))
    np.testing.assert_array_equal(labels, sk.predict(X.astype(np.float64)))
    bgm = kmgmm.BayesianGaussianMixture(n_components=4, covariance_type=cov,
                                        random_state=0).fit(X)
    np.testing.assert_array_equal(bgm.predict(X), bgm.predict_proba(X).argmax(axis=1))
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[77, 3] = bad
        for method in (gm.predict, gm.predict_proba, gm.score_samples, bgm.predict,
                       bgm.score_samples):
            with pytest.raises(ValueError, match="X contains"):
                method(Xb)
