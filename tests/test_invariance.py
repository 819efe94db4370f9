"""Invariance properties of KMeans and GaussianMixture, checked with Hypothesis.

Each property poses the same clustering problem in two ways that must give
the same answer: translated data, scaled data, scaled sample weights,
permuted rows, integer weights against repeated rows, another thread count.

The data are well-separated blobs: centres on an integer lattice of spacing
``SEPARATION`` = 12, within-cluster standard deviations in [0.5, 1], so that
neighbouring centres are at least 12 sd apart and every row's label is
defined with a wide margin.  Hypothesis draws the seed, the number of
clusters, the number of features (2-4 and 5-10: different kernels run) and
the transformation; the arrays are built from the seed.  Every compared pair
of fits starts from the same initial parameters (an ``init`` array, or
``means_init``, ``weights_init`` and ``precisions_init``), so the comparison
is of the algorithm, not of the seeding.

Tolerances are in units of the spread of the data (within-cluster sd, about
1 here), never relative to an offset.  Data translated by ``offset`` and
stored in a float type is rounded at about ``eps * |offset|``; that is the
accuracy any fit of it can have, so the tolerance is a few times that plus
the tolerance of an ordinary fit (``FIT``): for centres and means directly,
for covariances and the log-likelihood through the error it makes in
``x - mean``.  The reference for a translated problem is the same (rounded)
data solved in float64 about its mean.

Data scaled so far that float32 cannot hold its squared distances may be
refused with a ValueError that says why; any fit that is returned must be
the right one, with finite parameters.
"""
import re
import warnings
from typing import NamedTuple

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, note, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

import kmgmm

ALGORITHMS = ["lloyd", "hamerly", "elkan", "auto"]
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical", "fixed"]
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]

SEPARATION = 12.0
EPS = {np.float32: float(np.finfo(np.float32).eps), np.float64: float(np.finfo(np.float64).eps)}
# Error of an ordinary fit, in units of the spread (centres, means) or
# relative (covariances, inertia, log-likelihood).
FIT = {np.float32: 1e-4, np.float64: 1e-9}
# Largest offset exponent: offsets up to 10**OFFSET_EXP x the spread.
OFFSET_EXP = {np.float32: 6, np.float64: 13}
# float32 holds the squares of data scaled by 10**e for |e| <= 15 (data
# extent ~50, squared distances summed over 10 features); beyond that the
# library may refuse the data with a ValueError that says why.
FLOAT32_SAFE_SCALE_EXP = 15
SCALE_ERROR = re.compile(r"overflow|underflow|too large|too small|float64|scale|range",
                         re.IGNORECASE)


# One OpenMP thread but in the thread-count tests, which check that results do
# not depend on it: short fits on several threads cost more in start-up than
# they gain, and far more on a busy machine.
def KMeans(n_clusters, **kw):
    return kmgmm.KMeans(n_clusters, **{"n_threads": 1, **kw})


def GaussianMixture(n_components, **kw):
    return kmgmm.GaussianMixture(n_components, **{"n_threads": 1, **kw})


# ----------------------------------------------------------------- the data
class Blobs(NamedTuple):
    X: np.ndarray          # (n, d) float64
    y: np.ndarray          # planted cluster of each row
    centres: np.ndarray    # (k, d) planted centres
    sd: np.ndarray         # (k,) within-cluster standard deviations
    first: np.ndarray      # (k,) index of the first row of each cluster
    rng: np.random.RandomState  # for the test's own draws, after the data

    @property
    def n_clusters(self):
        return len(self.centres)

    @property
    def extent(self):
        return float(np.abs(self.X).max())


class BlobSpec(NamedTuple):
    """What Hypothesis draws; ``make()`` builds the arrays."""
    seed: int
    n_clusters: int
    n_features: int
    n_max: int
    sd_max: float = 1.0
    n_min: int = 5

    def make(self):
        rng = np.random.RandomState(self.seed)
        k, d = self.n_clusters, self.n_features
        lattice = []
        while len(lattice) < k:
            point = rng.randint(-2, 3, d)
            if not any(np.array_equal(point, p) for p in lattice):
                lattice.append(point)
        centres = SEPARATION * np.array(lattice, dtype=np.float64)
        sizes = rng.randint(self.n_min, self.n_max + 1, k)
        y = rng.permutation(np.repeat(np.arange(k), sizes))
        sd = rng.uniform(0.5 * self.sd_max, self.sd_max, k)
        X = centres[y] + sd[y, None] * rng.standard_normal((len(y), d))
        first = np.array([np.flatnonzero(y == j)[0] for j in range(k)])
        return Blobs(X, y, centres, sd, first, rng)


FEATURES = st.one_of(st.integers(2, 4), st.integers(5, 10))


def blob_specs(max_clusters=4, n_max=40, sd_max=1.0, n_min=5):
    return st.builds(BlobSpec, seed=st.integers(0, 2**32 - 1),
                     n_clusters=st.integers(2, max_clusters), n_features=FEATURES,
                     n_max=st.integers(n_min, n_max), sd_max=st.just(sd_max),
                     n_min=st.just(n_min))


# Mixtures: 30-60 rows a cluster, so that even a full covariance in 10
# features is well conditioned and its log-determinant well defined.
GMM_SPECS = blob_specs(n_min=30, n_max=60)


# ------------------------------------------------------------- comparisons
def assert_same_labels(actual, expected, what):
    """Same partition (adjusted Rand index 1) and the same cluster numbers."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    ari = adjusted_rand_score(expected, actual)
    n_diff = int(np.count_nonzero(actual != expected))
    assert ari == 1.0, f"{what}: different partition (ARI {ari:.6f}, {n_diff} rows differ)"
    assert n_diff == 0, f"{what}: same partition, clusters numbered differently"


def assert_close(actual, expected, atol, what):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: not finite: {actual}"
    err = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    assert err <= atol, f"{what}: max error {err:.3g} > tolerance {atol:.3g}"


def assert_rel_close(actual, expected, rtol, what):
    """Close relative to the largest magnitude of ``expected``."""
    scale = float(np.max(np.abs(np.asarray(expected, dtype=np.float64))))
    assert_close(actual, expected, rtol * scale, what)


def assert_finite_kmeans(km):
    assert np.all(np.isfinite(km.cluster_centers_)), f"non-finite centres {km.cluster_centers_}"
    assert np.isfinite(km.inertia_), f"non-finite inertia {km.inertia_}"


GMM_PARAMS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def assert_finite_gmm(gm):
    for name in GMM_PARAMS:
        value = getattr(gm, name)
        assert np.all(np.isfinite(value)), f"non-finite {name}: {value}"
    assert np.isfinite(gm.lower_bound_), (
        f"lower_bound_ {gm.lower_bound_} (converged_={gm.converged_})")


def gmm_kwargs(b, cov_type, means, scale=1.0):
    """Initial parameters for a GaussianMixture on blobs ``b`` scaled by
    ``scale``: the given means, the true weights, unit precisions (and the
    regularisation) scaled to the data."""
    k, d = b.centres.shape
    s2 = scale * scale
    kw = dict(covariance_type=cov_type, means_init=np.asarray(means, dtype=np.float64),
              weights_init=np.bincount(b.y, minlength=k) / len(b.y),
              reg_covar=1e-6 * s2)
    if cov_type == "fixed":
        kw["variance"] = s2
    else:
        kw["precisions_init"] = {
            "full": np.tile(np.eye(d), (k, 1, 1)),
            "tied": np.eye(d),
            "diag": np.ones((k, d)),
            "spherical": np.ones(k),
        }[cov_type] / s2
    return kw


# ============================================================ translation
def offsets(dtype):
    """None (no offset) or the exponent of an offset of 10**e x the spread."""
    return st.sampled_from([None] + list(range(OFFSET_EXP[dtype] + 1)))


def translate(b, exponent, dtype):
    """(X + offset rounded to dtype, offset, data rounding ``delta``)."""
    d = b.X.shape[1]
    if exponent is None:
        offset = np.zeros(d)
    else:
        offset = 10.0 ** exponent * b.rng.uniform(0.5, 1.0, d) * b.rng.choice([-1, 1], d)
    Xt = (b.X + offset).astype(dtype)
    delta = EPS[dtype] * (float(np.abs(offset).max()) + b.extent)
    note(f"offset 10**{exponent}, data rounding {delta:.3g}")
    return Xt, offset, delta


def kmeans_reference(X, init, **kw):
    """The same problem in float64 about the data mean: (labels, centres, inertia)."""
    X64 = np.asarray(X, dtype=np.float64)
    mean = X64.mean(axis=0)
    init64 = np.asarray(init, dtype=np.float64) - mean
    km = KMeans(len(init64), init=init64, algorithm="lloyd", **kw).fit(X64 - mean)
    return km.labels_, km.cluster_centers_ + mean, km.inertia_


def check_kmeans_translation(b, Xt, Xfit, delta, algorithm, dtype):
    """``Xfit`` is ``Xt`` or a Dask array of it."""
    k = b.n_clusters
    n, d = Xt.shape
    ref_labels, ref_centres, ref_inertia = kmeans_reference(Xt, Xt[b.first])
    assert adjusted_rand_score(b.y, ref_labels) == 1.0, "reference misses the planted blobs"

    km = KMeans(k, init=Xt[b.first], algorithm=algorithm).fit(Xfit)
    assert_finite_kmeans(km)
    assert km.cluster_centers_.dtype == dtype
    assert_same_labels(km.labels_, ref_labels, "labels_ against the float64 reference")
    plain = KMeans(k, init=b.X[b.first].astype(dtype), algorithm=algorithm).fit(
        b.X.astype(dtype))
    assert_same_labels(km.labels_, plain.labels_, "labels_ against the untranslated fit")
    assert_same_labels(km.predict(Xfit), km.labels_, "predict(X + offset)")
    assert_same_labels(np.asarray(km.transform(Xfit)).argmin(axis=1), km.labels_,
                       "transform(X + offset).argmin(1)")
    assert_close(km.cluster_centers_, ref_centres, 4 * delta + FIT[dtype], "cluster_centers_")
    # The fitted centres are rounded at delta: the inertia can exceed the
    # reference's by n d delta**2 (first-order terms cancel at the means).
    tol = FIT[dtype] * ref_inertia + 4 * n * d * delta**2
    assert abs(km.inertia_ - ref_inertia) <= tol, (
        f"inertia_ {km.inertia_:.9g} against {ref_inertia:.9g} (tolerance {tol:.3g})")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=25)
@given(spec=blob_specs(), data=st.data())
def test_kmeans_translation(algorithm, dtype, spec, data):
    b = spec.make()
    Xt, _, delta = translate(b, data.draw(offsets(dtype), label="offset exponent"), dtype)
    check_kmeans_translation(b, Xt, Xt, delta, algorithm, dtype)


def model_with_centres(X, centres):
    """A KMeans fitted on X, then given ``centres``: what it applies is theirs."""
    km = KMeans(len(centres), init=centres, n_init=1, max_iter=1).fit(X)
    km.cluster_centers_ = centres.copy()
    return km


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25)
@given(spec=blob_specs(), data=st.data())
def test_kmeans_transform_translation(dtype, spec, data):
    """``transform``, ``predict`` and ``score`` of translated rows and
    centres: the distances of the data as stored (a long-double twin), to
    the dtype's rounding, whatever the offset; within the data's rounding of
    the untranslated problem's; a row equal to a centre at 0."""
    b = spec.make()
    Xt, offset, delta = translate(b, data.draw(offsets(dtype), label="offset exponent"),
                                  dtype)
    d = Xt.shape[1]
    Ct = (b.centres + offset).astype(dtype)
    Xt[b.first[0]] = Ct[0]
    km = model_with_centres(Xt, Ct)
    T = km.transform(Xt)
    assert T.dtype == dtype
    diff = Xt.astype(np.longdouble)[:, None, :] - Ct.astype(np.longdouble)[None]
    ref = np.sqrt((diff ** 2).sum(axis=2)).astype(np.float64)
    assert_close(T, ref, (d + 3) * EPS[dtype] * float(ref.max()), "transform against the twin")
    assert T[b.first[0], 0] == 0, "a row equal to a centre"
    assert_same_labels(km.predict(Xt), ref.argmin(axis=1), "predict(X + offset)")
    inertia = float((ref ** 2).min(axis=1).sum())
    assert abs(-km.score(Xt) - inertia) <= 4 * (d + 2) * EPS[dtype] * inertia + 1e-300
    X0 = b.X.astype(dtype)
    X0[b.first[0]] = b.centres[0].astype(dtype)
    plain = model_with_centres(X0, b.centres.astype(dtype)).transform(X0)
    # each coordinate of a row and of a centre moved by at most delta
    assert_close(T, plain, 2 * delta * np.sqrt(d) + (d + 3) * EPS[dtype] * float(ref.max()),
                 "transform(X + offset) against transform(X)")


def gmm_reference(X, kw):
    """The same mixture fitted in float64 about the data mean, with the same
    initial parameters: (labels, fitted model, mean)."""
    X64 = np.asarray(X, dtype=np.float64)
    mean = X64.mean(axis=0)
    kw = dict(kw, means_init=kw["means_init"] - mean)
    gm = GaussianMixture(len(kw["means_init"]), **kw)
    return gm.fit_predict(X64 - mean), gm, mean


def check_gmm_translation(b, Xt, Xfit, offset, delta, cov_type, dtype):
    k, d = b.centres.shape
    kw = gmm_kwargs(b, cov_type, b.centres + offset)
    ref_labels, ref, mean = gmm_reference(Xt, kw)
    assert adjusted_rand_score(b.y, ref_labels) == 1.0, "reference misses the planted blobs"

    gm = GaussianMixture(k, **kw)
    labels = gm.fit_predict(Xfit)
    assert_finite_gmm(gm)
    assert gm.means_.dtype == dtype
    assert gm.converged_
    assert_same_labels(labels, ref_labels, "fit_predict against the float64 reference")
    assert_same_labels(gm.predict(Xfit), labels, "predict(X + offset)")
    assert_close(gm.means_, ref.means_ + mean, 4 * delta + FIT[dtype], "means_")
    # An error of delta in x - mean moves a covariance by about delta * sd
    # and the log-likelihood per row by about d * delta / sd.
    sd_min, sd_max = float(np.min(b.sd)), float(np.max(b.sd))
    cov_scale = float(np.abs(ref.covariances_).max())
    assert_close(gm.covariances_, ref.covariances_,
                 FIT[dtype] * cov_scale + 4 * delta * sd_max, "covariances_")
    assert_close(gm.weights_, ref.weights_, FIT[dtype], "weights_")
    assert_close(gm.lower_bound_, ref.lower_bound_,
                 FIT[dtype] * (1 + abs(ref.lower_bound_)) + 4 * d * delta / sd_min,
                 "lower_bound_")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@settings(max_examples=20)
@given(spec=GMM_SPECS, data=st.data())
def test_gmm_translation(cov_type, dtype, spec, data):
    b = spec.make()
    Xt, offset, delta = translate(b, data.draw(offsets(dtype), label="offset exponent"), dtype)
    check_gmm_translation(b, Xt, Xt, offset, delta, cov_type, dtype)


# Dask's default scheduler in this process (no distributed Client): few
# examples, Dask is slow.
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=5)
@given(spec=blob_specs(), data=st.data(), n_chunks=st.integers(1, 3))
def test_kmeans_translation_dask(dtype, spec, data, n_chunks):
    da = pytest.importorskip("dask.array")
    b = spec.make()
    Xt, _, delta = translate(b, data.draw(offsets(dtype), label="offset exponent"), dtype)
    Xd = da.from_array(Xt, chunks=(-(-len(Xt) // n_chunks), Xt.shape[1]))
    check_kmeans_translation(b, Xt, Xd, delta, "lloyd", dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=5)
@given(spec=GMM_SPECS, data=st.data(), n_chunks=st.integers(1, 3))
def test_gmm_translation_dask(dtype, spec, data, n_chunks):
    da = pytest.importorskip("dask.array")
    b = spec.make()
    Xt, offset, delta = translate(b, data.draw(offsets(dtype), label="offset exponent"), dtype)
    Xd = da.from_array(Xt, chunks=(-(-len(Xt) // n_chunks), Xt.shape[1]))
    check_gmm_translation(b, Xt, Xd, offset, delta, "diag", dtype)


# ================================================================== scale
# Exponents of the scale s = 10**e: the whole range, with the ends (where
# float32 squares over- or underflow) drawn as often as the middle.
SCALE_EXPONENTS = st.one_of(st.floats(-20, -15), st.floats(-15, 15), st.floats(15, 20))


def scale_data(b, exponent, dtype):
    s = 10.0 ** exponent
    X = b.X.astype(dtype)
    Xs = (X.astype(np.float64) * s).astype(dtype)
    must_fit = dtype == np.float64 or abs(exponent) <= FLOAT32_SAFE_SCALE_EXP
    note(f"scale 10**{exponent:.4g}, must fit: {must_fit}")
    return X, Xs, s, must_fit


def fit_or_explain(est, X, must_fit):
    """``est.fit_predict(X)``, or None where a ValueError says why it can't."""
    try:
        return est.fit_predict(X)
    except ValueError as exc:
        if must_fit:
            raise
        assert SCALE_ERROR.search(str(exc)), f"ValueError without a reason: {exc}"
        return None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=30)
@given(spec=blob_specs(), exponent=SCALE_EXPONENTS)
def test_kmeans_scale(algorithm, dtype, spec, exponent):
    b = spec.make()
    X, Xs, s, must_fit = scale_data(b, exponent, dtype)
    k = b.n_clusters
    base = KMeans(k, init=X[b.first], algorithm=algorithm).fit(X)
    km = KMeans(k, init=Xs[b.first], algorithm=algorithm)
    labels = fit_or_explain(km, Xs, must_fit)
    if labels is None:
        return
    assert_finite_kmeans(km)
    assert_same_labels(labels, base.labels_, "labels_ of X * s")
    assert_same_labels(km.predict(Xs), base.labels_, "predict(X * s)")
    atol = 4 * EPS[dtype] * b.extent + FIT[dtype]
    assert_close(km.cluster_centers_.astype(np.float64) / s, base.cluster_centers_, atol,
                 "cluster_centers_ / s")
    assert_close(km.inertia_ / s**2, base.inertia_, FIT[dtype] * base.inertia_,
                 "inertia_ / s**2")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@settings(max_examples=25)
@given(spec=GMM_SPECS, exponent=SCALE_EXPONENTS)
def test_gmm_scale(cov_type, dtype, spec, exponent):
    b = spec.make()
    X, Xs, s, must_fit = scale_data(b, exponent, dtype)
    k, d = b.centres.shape
    base = GaussianMixture(k, **gmm_kwargs(b, cov_type, b.centres))
    base_labels = base.fit_predict(X)
    gm = GaussianMixture(k, **gmm_kwargs(b, cov_type, b.centres * s, scale=s))
    labels = fit_or_explain(gm, Xs, must_fit)
    if labels is None:
        return
    assert_finite_gmm(gm)
    assert gm.converged_
    assert_same_labels(labels, base_labels, "fit_predict of X * s")
    assert_same_labels(gm.predict(Xs), base_labels, "predict(X * s)")
    atol = 4 * EPS[dtype] * b.extent + FIT[dtype]
    assert_close(gm.means_.astype(np.float64) / s, base.means_, atol, "means_ / s")
    assert_rel_close(gm.covariances_.astype(np.float64) / s**2, base.covariances_,
                     FIT[dtype], "covariances_ / s**2")
    assert_close(gm.weights_, base.weights_, FIT[dtype], "weights_")
    # The density scales by s**-d.
    assert_close(gm.lower_bound_ + d * np.log(s), base.lower_bound_,
                 FIT[dtype] * (1 + abs(base.lower_bound_) + d * abs(np.log(s))),
                 "lower_bound_ + d log s")


# ===================================================== scale of the weights
WEIGHT_SCALE_EXPONENTS = st.one_of(st.floats(-300, -30), st.floats(-30, 30),
                                   st.floats(30, 300))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=30)
@given(spec=blob_specs(), exponent=WEIGHT_SCALE_EXPONENTS)
def test_kmeans_weight_scale(algorithm, dtype, spec, exponent):
    b = spec.make()
    c = 10.0 ** exponent
    X = b.X.astype(dtype)
    w = b.rng.uniform(0.5, 2.0, len(X))
    k = b.n_clusters
    base = KMeans(k, init=X[b.first], algorithm=algorithm).fit(X, sample_weight=w)
    km = KMeans(k, init=X[b.first], algorithm=algorithm).fit(X, sample_weight=w * c)
    assert_finite_kmeans(km)
    assert_same_labels(km.labels_, base.labels_, "labels_ with weights * c")
    assert_close(km.cluster_centers_, base.cluster_centers_,
                 4 * EPS[dtype] * b.extent + FIT[dtype] * 1e-2, "cluster_centers_")
    assert_close(km.inertia_ / c, base.inertia_, FIT[dtype] * base.inertia_, "inertia_ / c")
    assert km.score(X, sample_weight=w * c) / c == pytest.approx(
        base.score(X, sample_weight=w), rel=FIT[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@settings(max_examples=25)
@given(spec=GMM_SPECS, exponent=WEIGHT_SCALE_EXPONENTS)
def test_gmm_weight_scale(cov_type, dtype, spec, exponent):
    b = spec.make()
    c = 10.0 ** exponent
    X = b.X.astype(dtype)
    w = b.rng.uniform(0.5, 2.0, len(X))
    k = b.n_clusters
    kw = gmm_kwargs(b, cov_type, b.centres)
    base = GaussianMixture(k, **kw)
    base_labels = base.fit_predict(X, sample_weight=w)
    gm = GaussianMixture(k, **kw)
    labels = gm.fit_predict(X, sample_weight=w * c)
    assert_finite_gmm(gm)
    assert_same_labels(labels, base_labels, "fit_predict with weights * c")
    rtol = max(1e-6, FIT[dtype])
    for name in ("means_", "covariances_", "weights_"):
        assert_rel_close(getattr(gm, name), getattr(base, name), rtol, name)
    assert_close(gm.lower_bound_, base.lower_bound_, rtol * (1 + abs(base.lower_bound_)),
                 "lower_bound_")
    assert gm.n_iter_ == base.n_iter_


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [
    pytest.param(lambda k, init: KMeans(k, init=init), id="KMeans"),
    pytest.param(lambda k, init: GaussianMixture(k, means_init=init), id="GaussianMixture"),
])
@pytest.mark.parametrize("weights", [
    pytest.param(lambda n: np.full(n, 1e308), id="all-1e308"),
    pytest.param(lambda n: np.r_[np.full(2, 1.7e308), np.ones(n - 2)], id="two-1.7e308"),
])
def test_weights_whose_sum_overflows_are_refused(make, dtype, weights):
    b = BlobSpec(seed=0, n_clusters=2, n_features=3, n_max=10).make()
    X = b.X.astype(dtype)
    w = weights(len(X))
    assert np.all(np.isfinite(w)) and not np.isfinite(w.sum())
    with pytest.raises(ValueError, match="sample_weight"):
        make(2, X[b.first]).fit(X, sample_weight=w)


# ============================================================ permutation
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=30)
@given(spec=blob_specs())
def test_kmeans_row_permutation(algorithm, dtype, spec):
    b = spec.make()
    X = b.X.astype(dtype)
    w = b.rng.uniform(0.5, 2.0, len(X))
    perm = b.rng.permutation(len(X))
    k = b.n_clusters
    base = KMeans(k, init=X[b.first], algorithm=algorithm).fit(X, sample_weight=w)
    km = KMeans(k, init=X[b.first], algorithm=algorithm).fit(X[perm], sample_weight=w[perm])
    assert_same_labels(km.labels_, base.labels_[perm], "labels_ of the permuted rows")
    # Sums in another order, and a shift (the data's mean, rounded to the
    # dtype) that may differ in its last bit: tens of units of rounding.
    assert_close(km.cluster_centers_, base.cluster_centers_, 16 * EPS[dtype] * b.extent,
                 "cluster_centers_")
    assert_close(km.inertia_, base.inertia_, 32 * EPS[dtype] * base.inertia_, "inertia_")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("init", ["k-means++", "random"])
@settings(max_examples=30)
@given(spec=blob_specs(max_clusters=6), random_state=st.integers(0, 2**32 - 1),
       weighted=st.booleans())
def test_kmeans_seeding_ignores_row_order(init, dtype, spec, random_state, weighted):
    """The docs: every draw is made "in an order fixed by the data values"."""
    b = spec.make()
    X = b.X.astype(dtype)
    w = b.rng.uniform(0.5, 2.0, len(X)) if weighted else None
    perm = b.rng.permutation(len(X))
    k = b.n_clusters
    with warnings.catch_warnings():
        # A seeding may leave a cluster empty; both orders must still agree.
        warnings.simplefilter("ignore")
        base = KMeans(k, init=init, random_state=random_state, algorithm="lloyd").fit(
            X, sample_weight=w)
        km = KMeans(k, init=init, random_state=random_state, algorithm="lloyd").fit(
            X[perm], sample_weight=None if w is None else w[perm])
    assert_close(km.cluster_centers_, base.cluster_centers_, 4 * EPS[dtype] * b.extent,
                 "cluster_centers_ after permuting the rows")
    assert_same_labels(km.labels_, base.labels_[perm], "labels_ of the permuted rows")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@settings(max_examples=25)
@given(spec=GMM_SPECS)
def test_gmm_row_permutation(cov_type, dtype, spec):
    b = spec.make()
    X = b.X.astype(dtype)
    w = b.rng.uniform(0.5, 2.0, len(X))
    perm = b.rng.permutation(len(X))
    k = b.n_clusters
    kw = gmm_kwargs(b, cov_type, b.centres)
    base = GaussianMixture(k, **kw)
    base_labels = base.fit_predict(X, sample_weight=w)
    gm = GaussianMixture(k, **kw)
    labels = gm.fit_predict(X[perm], sample_weight=w[perm])
    assert_same_labels(labels, base_labels[perm], "fit_predict of the permuted rows")
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for name in ("means_", "covariances_", "weights_"):
        assert_rel_close(getattr(gm, name), getattr(base, name), rtol, name)
    assert_close(gm.lower_bound_, base.lower_bound_, rtol * (1 + abs(base.lower_bound_)),
                 "lower_bound_")


# ======================================== integer weights == repeated rows
def integer_weights(b):
    """Weights 0-3, at least 1 on every init row (each cluster keeps a row)."""
    w = b.rng.randint(0, 4, len(b.X))
    w[b.first] = np.maximum(w[b.first], 1)
    return w


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=30)
@given(spec=blob_specs())
def test_kmeans_integer_weights_repeat_rows(algorithm, dtype, spec):
    b = spec.make()
    X = b.X.astype(dtype)
    w = integer_weights(b)
    k = b.n_clusters
    weighted = KMeans(k, init=X[b.first], algorithm=algorithm).fit(X, sample_weight=w)
    repeated = KMeans(k, init=X[b.first], algorithm=algorithm).fit(np.repeat(X, w, axis=0))
    check_kmeans_repeated(weighted, repeated, X, w, dtype, b.extent)


def check_kmeans_repeated(weighted, repeated, X, w, dtype, extent):
    assert_same_labels(repeated.labels_, np.repeat(weighted.labels_, w),
                       "labels_ of the repeated rows")
    assert_same_labels(repeated.predict(X), weighted.labels_, "labels_ of the weighted rows")
    # Means of the same rows summed in another order: a few units of rounding
    # of the data's extent.
    assert_close(weighted.cluster_centers_, repeated.cluster_centers_, 16 * EPS[dtype] * extent,
                 "cluster_centers_")
    # A sum over a few hundred rows in another order, with centres equal to
    # the last bit: a few tens of units of rounding.
    assert_close(weighted.inertia_, repeated.inertia_, 32 * EPS[dtype] * repeated.inertia_,
                 "inertia_")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("init", ["k-means++", "random"])
@settings(max_examples=30)
@given(spec=blob_specs(max_clusters=6), random_state=st.integers(0, 2**32 - 1))
def test_kmeans_seeding_integer_weights_repeat_rows(init, dtype, spec, random_state):
    """The docs: an integer sample weight is exactly equivalent to repeating the row."""
    b = spec.make()
    X = b.X.astype(dtype)
    w = integer_weights(b)
    k = b.n_clusters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = KMeans(k, init=init, random_state=random_state).fit(X, sample_weight=w)
        repeated = KMeans(k, init=init, random_state=random_state).fit(np.repeat(X, w, axis=0))
    check_kmeans_repeated(weighted, repeated, X, w, dtype, b.extent)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@settings(max_examples=25)
@given(spec=GMM_SPECS)
def test_gmm_integer_weights_repeat_rows(cov_type, dtype, spec):
    b = spec.make()
    X = b.X.astype(dtype)
    w = integer_weights(b)
    k = b.n_clusters
    kw = gmm_kwargs(b, cov_type, b.centres)
    weighted = GaussianMixture(k, **kw)
    labels = weighted.fit_predict(X, sample_weight=w)
    repeated = GaussianMixture(k, **kw)
    rep_labels = repeated.fit_predict(np.repeat(X, w, axis=0))
    assert_same_labels(rep_labels, np.repeat(labels, w), "labels of the repeated rows")
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    for name in ("means_", "covariances_", "weights_"):
        assert_rel_close(getattr(weighted, name), getattr(repeated, name), rtol, name)
    assert_close(weighted.lower_bound_, repeated.lower_bound_,
                 rtol * (1 + abs(repeated.lower_bound_)), "lower_bound_")
    assert weighted.n_iter_ == repeated.n_iter_


# ============================================================ thread count
THREADS = (1, 2, 3)
# Overlapping blobs (sd up to 6 against a spacing of 12), over several
# 256-row chunks, so the fits run many iterations across every thread.
THREAD_SPECS = blob_specs(max_clusters=6, n_max=500, sd_max=6.0, n_min=150)


def sparse_version(b, dtype):
    """X with about 60% of its entries zero, as CSR."""
    X = b.X.copy()
    X[b.rng.uniform(size=X.shape) < 0.6] = 0.0
    return sp.csr_matrix(X.astype(dtype))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=6)
@given(spec=THREAD_SPECS, random_state=st.integers(0, 2**32 - 1))
def test_kmeans_thread_count(algorithm, dtype, sparse, spec, random_state):
    b = spec.make()
    X = sparse_version(b, dtype) if sparse else b.X.astype(dtype)
    w = b.rng.uniform(0.5, 2.0, X.shape[0])
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n_threads in THREADS:
            fits.append(KMeans(b.n_clusters, random_state=random_state, algorithm=algorithm,
                               n_threads=n_threads).fit(X, sample_weight=w))
    one = fits[0]
    labels = one.predict(X)
    for n_threads, km in zip(THREADS[1:], fits[1:]):
        what = f"n_threads={n_threads} against 1"
        assert np.array_equal(km.cluster_centers_, one.cluster_centers_), f"{what}: centres"
        assert np.array_equal(km.labels_, one.labels_), f"{what}: labels_"
        assert km.inertia_ == one.inertia_, f"{what}: inertia_ {km.inertia_!r} {one.inertia_!r}"
        assert km.n_iter_ == one.n_iter_, f"{what}: n_iter_"
        km.n_threads = n_threads
        assert np.array_equal(km.predict(X), labels), f"{what}: predict"
        assert np.array_equal(km.transform(X), one.transform(X)), f"{what}: transform"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@settings(max_examples=6)
@given(spec=THREAD_SPECS, random_state=st.integers(0, 2**32 - 1))
def test_gmm_thread_count(cov_type, dtype, spec, random_state):
    b = spec.make()
    X = b.X.astype(dtype)
    w = b.rng.uniform(0.5, 2.0, len(X))
    kw = dict(covariance_type=cov_type, random_state=random_state, max_iter=30)
    if cov_type == "fixed":
        kw["variance"] = 4.0
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n_threads in THREADS:
            gm = GaussianMixture(b.n_clusters, n_threads=n_threads, **kw)
            fits.append((gm, gm.fit_predict(X, sample_weight=w)))
    one, one_labels = fits[0]
    for n_threads, (gm, labels) in zip(THREADS[1:], fits[1:]):
        what = f"n_threads={n_threads} against 1"
        for name in GMM_PARAMS:
            assert np.array_equal(getattr(gm, name), getattr(one, name)), f"{what}: {name}"
        assert gm.lower_bound_ == one.lower_bound_, f"{what}: lower_bound_"
        assert gm.lower_bounds_ == one.lower_bounds_, f"{what}: lower_bounds_"
        assert gm.n_iter_ == one.n_iter_, f"{what}: n_iter_"
        assert np.array_equal(labels, one_labels), f"{what}: fit_predict"
        assert np.array_equal(gm.score_samples(X), one.score_samples(X)), (
            f"{what}: score_samples")
