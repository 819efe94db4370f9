"""MiniBatchKMeans: one step against a NumPy twin, partial_fit against fit and
against scikit-learn, validation of bad batches, thread and input-format
invariance, Hypothesis invariances, model files and the command line."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import kmgmm
from kmgmm._algorithms.minibatch import (
    EarlyStopping, MiniBatchState, minibatch_step, small_clusters,
)
from kmgmm._engines.batches import Batch, SampledBatches
from kmgmm._conditioning import Conditioning

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def MBK(n_clusters, **kw):
    return kmgmm.MiniBatchKMeans(n_clusters, **{"n_threads": 1, **kw})


def blobs(n, d, k, *, seed=0, dtype=np.float64, spread=1.0, gap=12.0):
    rng = np.random.RandomState(seed)
    means = gap * rng.randint(-3, 4, size=(k, d)).astype(np.float64)
    means[:, 0] = gap * np.arange(k)           # distinct centres
    y = np.arange(n) % k
    X = means[y] + spread * rng.standard_normal((n, d))
    return X.astype(dtype), y, means


# ------------------------------------------------------------ NumPy twins
def twin_step(X, w, centers, counts, ratio=0.0, rng=None, reassign=False):
    """One mini-batch step in plain NumPy, float64: nearest centre, the
    per-centre learning-rate update, then (optionally) the reassignment."""
    X = X.astype(np.float64)
    w = np.asarray(w, dtype=np.float64)
    C = centers.astype(np.float64).copy()
    W = counts.astype(np.float64).copy()
    d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    labels = d2.argmin(axis=1)
    inertia = float((w * d2[np.arange(len(X)), labels]).sum())
    for j in range(C.shape[0]):
        mine = labels == j
        wb = float(w[mine].sum())
        if wb > 0:
            s = (w[mine, None] * X[mine]).sum(axis=0)
            W[j] += wb
            C[j] = C[j] * (1 - wb / W[j]) + s / W[j]
    if reassign and ratio > 0:
        small = W < ratio * W.max()
        positive = np.flatnonzero(w > 0)
        if small.sum() > int(0.5 * len(positive)):
            small[np.argsort(W, kind="stable")[int(0.5 * len(positive)):]] = False
        if small.any():
            picked = rng.choice(len(positive), size=int(small.sum()), replace=False)
            C[small] = X[positive[picked]]
            W[small] = W[~small].min()
    return C, W, labels, inertia


@pytest.mark.parametrize("n", [1, 255, 256, 257, 1000])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_step_matches_numpy_twin(dtype, n, n_threads):
    rng = np.random.RandomState(n)
    d, k = 5, 7
    X = rng.standard_normal((n, d)).astype(dtype)
    w = rng.uniform(0.1, 3.0, n).astype(dtype)
    centers = rng.standard_normal((k, d))
    counts = rng.uniform(0, 50, k)
    counts[0] = 0.0
    state = MiniBatchState(centers, counts)
    state.since_reassign = -10**9      # no reassignment in this step
    batch = Batch(X, w, n_threads)
    inertia, _ = minibatch_step(batch, state, dtype, reassignment_ratio=0.0,
                                random_state=np.random.RandomState(0))
    C, W, labels, twin_inertia = twin_step(X, w.astype(np.float64),
                                           centers.astype(dtype), counts)
    np.testing.assert_array_equal(batch.labels, labels)
    np.testing.assert_allclose(state.counts, W, rtol=1e-12)
    np.testing.assert_allclose(state.centers, C, rtol=TOL[dtype], atol=TOL[dtype])
    assert inertia == pytest.approx(twin_inertia, rel=10 * TOL[dtype])


def test_step_with_reassignment_matches_twin(dtype):
    rng = np.random.RandomState(3)
    X = rng.standard_normal((300, 3)).astype(dtype)
    w = rng.uniform(0.5, 1.5, 300).astype(dtype)
    w[::7] = 0                                   # never picked for a centre
    centers = rng.standard_normal((6, 3))
    centers[5] += 40.0                           # far away: gets no row
    counts = np.array([100.0, 80, 90, 120, 0.5, 0.0])
    state = MiniBatchState(centers, counts)
    batch = Batch(X, w, 1)
    minibatch_step(batch, state, dtype, reassignment_ratio=0.05,
                   random_state=np.random.RandomState(7))
    C, W, _, _ = twin_step(X, w.astype(np.float64), centers.astype(dtype), counts,
                           ratio=0.05, rng=np.random.RandomState(7), reassign=True)
    np.testing.assert_allclose(state.counts, W, rtol=1e-12)
    np.testing.assert_allclose(state.centers, C, rtol=TOL[dtype], atol=TOL[dtype])
    # the far centre moved onto a row of positive weight
    assert np.linalg.norm(state.centers[5]) < 10


def test_small_clusters_takes_at_most_half_the_batch():
    counts = np.array([100.0, 1, 2, 3, 4, 0])
    small = small_clusters(counts, 0.5, n_rows=4)
    assert small.sum() == 2 and small[5] and small[1]


def test_early_stopping_follows_the_smoothed_inertia():
    stop = EarlyStopping(1000, 100, max_no_improvement=2, tol=0.0)
    assert not stop.update(1, 50, 9.0, 0.0)       # the first step is not counted
    assert not stop.update(2, 50, 5.0, 0.0)
    assert stop.ewa == 5.0
    assert not stop.update(3, 50, 6.0, 0.0)       # ewa rises: no improvement 1
    assert stop.update(4, 50, 6.0, 0.0)           # 2 in a row: stop
    alpha = 100 * 2.0 / 1001
    assert stop.ewa == pytest.approx((5.0 * (1 - alpha) + 6.0 * alpha) * (1 - alpha)
                                     + 6.0 * alpha)
    tol_stop = EarlyStopping(1000, 100, max_no_improvement=None, tol=1e-3)
    tol_stop.update(1, 50, 1.0, 0.0)
    assert tol_stop.update(2, 50, 1.0, 1e-3)


def test_batches_cover_each_pass_without_repeats():
    X = np.arange(50.0).reshape(25, 2)
    batches = SampledBatches(X, np.ones(25), Conditioning(), 8, np.random.RandomState(0), 1)
    seen = np.concatenate([batches.next().X[:, 0] / 2 for _ in range(3)])
    assert len(np.unique(seen)) == 24            # 3 batches of 8, 1 row left over
    assert batches.next().X.shape == (8, 2)      # a new pass


# ------------------------------------------------- partial_fit against fit
def test_one_batch_of_all_rows_is_one_step_of_fit(dtype):
    X, _, _ = blobs(600, 3, 4, dtype=dtype)
    w = np.random.RandomState(1).uniform(0.5, 2, 600)
    init = X[:4] + 0.5
    fit = MBK(4, init=init, batch_size=600, max_iter=1, random_state=0).fit(
        X, sample_weight=w)
    part = MBK(4, init=init, random_state=0).partial_fit(X, sample_weight=w)
    assert fit.n_steps_ == part.n_steps_ == 1
    np.testing.assert_allclose(fit.cluster_centers_, part.cluster_centers_,
                               rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(fit.counts_, part.counts_, rtol=1e-12)
    np.testing.assert_array_equal(fit.labels_, part.labels_)
    assert fit.inertia_ == pytest.approx(part.inertia_, rel=TOL[dtype])
    # and both are the twin's step from the same centres
    C, W, _, _ = twin_step(X, w.astype(dtype), init, np.zeros(4))
    np.testing.assert_allclose(part.cluster_centers_, C, rtol=TOL[dtype],
                               atol=10 * TOL[dtype])
    np.testing.assert_allclose(part.counts_, W, rtol=1e-12)


def test_partial_fit_over_batches_is_the_twin_sequence(dtype):
    X, _, _ = blobs(900, 4, 3, dtype=dtype, seed=2)
    w = np.random.RandomState(5).uniform(0.2, 4, 900)
    init = X[:3].copy()
    km = MBK(3, init=init, reassignment_ratio=0.0)
    C, W = init.astype(np.float64), np.zeros(3)
    for start in range(0, 900, 200):
        sl = slice(start, start + 200)
        km.partial_fit(X[sl], sample_weight=w[sl])
        C, W, _, _ = twin_step(X[sl], w[sl].astype(dtype), C.astype(dtype), W)
    assert km.n_steps_ == 5
    assert km.cluster_centers_.dtype == dtype
    np.testing.assert_allclose(km.cluster_centers_, C, rtol=TOL[dtype],
                               atol=10 * TOL[dtype])
    np.testing.assert_allclose(km.counts_, W, rtol=1e-12)


def test_partial_fit_sequence_matches_scikit_learn():
    from sklearn.cluster import MiniBatchKMeans as SkMBK

    X, _, _ = blobs(1000, 3, 4, seed=4)
    w = np.random.RandomState(2).uniform(0.5, 2, 1000)
    init = X[:4] + 1.0
    ours = MBK(4, init=init, reassignment_ratio=0.0)
    theirs = SkMBK(4, init=init, n_init=1, reassignment_ratio=0.0)
    for start in range(0, 1000, 250):
        sl = slice(start, start + 250)
        ours.partial_fit(X[sl], sample_weight=w[sl])
        theirs.partial_fit(X[sl], sample_weight=w[sl])
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_,
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.counts_, theirs._counts, rtol=1e-12)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)


def test_fit_is_as_good_as_scikit_learn_from_the_same_start():
    from sklearn.cluster import MiniBatchKMeans as SkMBK

    X, _, _ = blobs(20000, 6, 8, seed=1, dtype=np.float32, spread=3.0)
    init = X[np.random.RandomState(0).choice(20000, 8, replace=False)]
    ours = MBK(8, init=init, batch_size=512, random_state=0).fit(X)
    theirs = SkMBK(8, init=init, n_init=1, batch_size=512, random_state=0).fit(X)
    exact = -kmgmm.KMeans(8, init=ours.cluster_centers_, max_iter=1).fit(X).score(X)
    assert ours.inertia_ == pytest.approx(-ours.score(X), rel=1e-5)
    assert ours.inertia_ <= 1.02 * theirs.inertia_
    assert exact <= ours.inertia_ * (1 + 1e-5)       # one Lloyd step only improves
    assert ours.n_iter_ == int(np.ceil(ours.n_steps_ * 512 / 20000))


# --------------------------------------------------------------- behaviour
def test_attributes_predict_transform_score():
    X, _, _ = blobs(3000, 2, 3, seed=7)
    km = MBK(3, random_state=0, batch_size=256).fit(X)
    assert km.cluster_centers_.shape == (3, 2) and km.counts_.shape == (3,)
    assert km.n_steps_ >= 1 and km.n_iter_ >= 1
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert km.transform(X).shape == (3000, 3)
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-9)
    np.testing.assert_array_equal(MBK(3, random_state=0, batch_size=256).fit_predict(X),
                                  km.labels_)
    lazy = MBK(3, random_state=0, batch_size=256, compute_labels=False).fit(X)
    assert not hasattr(lazy, "labels_")
    np.testing.assert_allclose(lazy.cluster_centers_, km.cluster_centers_)
    assert lazy.inertia_ == pytest.approx(km.inertia_, rel=0.2)   # the estimate
    np.testing.assert_array_equal(
        MBK(3, random_state=0, batch_size=256, compute_labels=False).fit_predict(X),
        km.labels_)


def test_float32_end_to_end():
    X, _, _ = blobs(2000, 3, 3, dtype=np.float32)
    km = MBK(3, random_state=0, batch_size=200).fit(X)
    assert km.cluster_centers_.dtype == np.float32
    km.partial_fit(X[:100].astype(np.float64))
    assert km.cluster_centers_.dtype == np.float32


def test_far_from_the_origin_float32():
    X, y, _ = blobs(4000, 3, 3, dtype=np.float64, seed=3)
    Xf = (X + 1e6).astype(np.float32)
    km = MBK(3, random_state=0, batch_size=300).fit(Xf)
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(y, km.labels_) == 1.0


def test_max_no_improvement_and_tol_stop_early():
    X, _, _ = blobs(20000, 2, 3, seed=5)
    full = MBK(3, random_state=0, batch_size=100, max_no_improvement=None, max_iter=2).fit(X)
    assert full.n_steps_ == 2 * 20000 // 100
    early = MBK(3, random_state=0, batch_size=100, max_no_improvement=3, max_iter=2).fit(X)
    assert early.n_steps_ < full.n_steps_
    tol = MBK(3, random_state=0, batch_size=100, max_no_improvement=None, tol=1e-2,
              max_iter=2).fit(X)
    assert tol.n_steps_ < full.n_steps_


def test_reassignment_moves_a_stranded_centre():
    X, _, means = blobs(4000, 2, 3, seed=6)
    init = np.vstack([means[:2], [[1e3, 1e3]]])        # the third gets no row
    km = MBK(3, init=init, batch_size=500, random_state=0, max_iter=3).fit(X)
    assert np.all(np.abs(km.cluster_centers_) < 100)
    stuck = MBK(3, init=init, batch_size=500, random_state=0, max_iter=3,
                reassignment_ratio=0.0).fit(X)
    np.testing.assert_array_equal(stuck.cluster_centers_[2], [1e3, 1e3])


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_seeding_with_n_init(init):
    X, _, _ = blobs(5000, 2, 4, seed=8)
    km = MBK(4, init=init, n_init=3, random_state=0, batch_size=500).fit(X)
    assert np.unique(km.labels_).size == 4


def test_callable_init_gets_a_sample():
    X, _, _ = blobs(5000, 2, 3, seed=9)
    seen = {}

    def init(sample, n_clusters, random_state):
        seen["sample"] = sample
        return sample[:n_clusters]
    far = X + 1e7                       # fitted shifted: the function sees X's rows
    MBK(3, init=init, init_size=120, n_init=1, batch_size=100, random_state=0).fit(far)
    assert seen["sample"].shape == (120, 2)
    assert np.isin(seen["sample"][:, 0], far[:, 0]).all()


def test_sample_weight_zero_rows_do_not_pull():
    X, _, _ = blobs(2000, 2, 2, seed=10)
    w = np.ones(2000)
    Xo = np.vstack([X, np.full((50, 2), 500.0)])
    wo = np.concatenate([w, np.zeros(50)])
    init = X[:2]
    a = MBK(2, init=init, batch_size=2050, max_iter=1).fit(Xo, sample_weight=wo)
    b = MBK(2, init=init, batch_size=2000, max_iter=1).fit(X, sample_weight=w)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)


# ---------------------------------------------------- same errors as fit
def _error(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except (ValueError, TypeError) as exc:
        return type(exc), str(exc)
    raise AssertionError("no error raised")


BAD = {
    "empty": np.empty((0, 3)),
    "nan": np.array([[0.0, 1, 2], [np.nan, 1, 2], [3, 4, 5]]),
    "inf": np.array([[0.0, 1, 2], [np.inf, 1, 2], [3, 4, 5]]),
    "strings": np.array([["a", "b", "c"], ["d", "e", "f"]]),
    "complex": np.ones((3, 3), dtype=complex),
    "one-d": np.ones(3),
    "three-d": np.ones((2, 3, 1)),
}


@pytest.mark.parametrize("name", sorted(BAD))
@pytest.mark.parametrize("fitted", [False, True])
def test_bad_batches_give_the_errors_of_fit(name, fitted):
    bad = BAD[name]
    km = MBK(2, random_state=0)
    if fitted:
        km.partial_fit(np.random.RandomState(0).standard_normal((20, 3)))
    assert _error(lambda: km.partial_fit(bad)) == _error(lambda: MBK(2).fit(bad))


def test_bad_weights_give_the_errors_of_fit():
    X = np.random.RandomState(0).standard_normal((20, 3))
    km = MBK(2, random_state=0).partial_fit(X)
    for w in (-np.ones(20), np.ones(19), np.full(20, np.nan)):
        assert (_error(lambda w=w: km.partial_fit(X, sample_weight=w))
                == _error(lambda w=w: MBK(2).fit(X, sample_weight=w)))


def test_wrong_width_gives_the_error_of_predict():
    X = np.random.RandomState(0).standard_normal((20, 3))
    km = MBK(2, random_state=0).partial_fit(X)
    assert _error(lambda: km.partial_fit(X[:, :2])) == _error(lambda: km.predict(X[:, :2]))
    assert "X has 2 features, but MiniBatchKMeans is expecting 3" in \
        _error(lambda: km.partial_fit(X[:, :2]))[1]


def test_bad_parameters():
    X = np.random.RandomState(0).standard_normal((50, 2))
    for params, message in [({"batch_size": 0}, "batch_size"),
                            ({"reassignment_ratio": -1}, "reassignment_ratio"),
                            ({"max_no_improvement": -1}, "max_no_improvement"),
                            ({"init_size": 0}, "init_size"),
                            ({"n_init": 0}, "n_init"),
                            ({"init": "nope"}, "init"),
                            ({"compute_labels": "yes"}, "compute_labels")]:
        with pytest.raises((ValueError, TypeError), match=message):
            MBK(2, **params).fit(X)
    with pytest.raises(ValueError, match="n_samples=1 should be >= n_clusters=2"):
        MBK(2).partial_fit(X[:1])


def test_caller_arrays_unchanged():
    X, _, _ = blobs(1000, 2, 2, seed=11)
    X += 1e7                                      # conditioned: shifted copies
    w = np.linspace(1, 2, 1000)
    X0, w0 = X.copy(), w.copy()
    MBK(2, random_state=0, batch_size=100).fit(X, sample_weight=w).partial_fit(
        X, sample_weight=w)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(w, w0)


# ------------------------------------------------------------- invariance
@pytest.mark.parametrize("sparse", [False, True])
def test_thread_count_does_not_change_the_fit(sparse):
    X, _, _ = blobs(6000, 5, 6, seed=12, dtype=np.float32)
    if sparse:
        X[X < 3] = 0
        X = sp.csr_matrix(X)
    w = np.random.RandomState(0).uniform(0.5, 2, 6000)
    fits = [kmgmm.MiniBatchKMeans(6, random_state=0, batch_size=700, n_threads=t).fit(
        X, sample_weight=w) for t in (1, 2)]
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    assert fits[0].n_steps_ == fits[1].n_steps_
    assert fits[0].inertia_ == fits[1].inertia_


def test_csr_equals_dense(dtype):
    X, _, _ = blobs(3000, 6, 4, seed=13, dtype=dtype)
    X[np.abs(X) < 4] = 0
    w = np.random.RandomState(1).uniform(0.5, 2, 3000)
    init = X[:4].copy()
    dense = MBK(4, init=init, batch_size=256, random_state=0).fit(X, sample_weight=w)
    csr = MBK(4, init=init, batch_size=256, random_state=0).fit(sp.csr_matrix(X),
                                                               sample_weight=w)
    assert dense.n_steps_ == csr.n_steps_
    np.testing.assert_array_equal(dense.labels_, csr.labels_)
    np.testing.assert_allclose(dense.cluster_centers_, csr.cluster_centers_,
                               rtol=50 * TOL[dtype], atol=50 * TOL[dtype])
    part_d = MBK(4, init=init).partial_fit(X[:500]).partial_fit(X[500:900])
    part_s = MBK(4, init=init).partial_fit(sp.csr_matrix(X[:500])).partial_fit(
        sp.csr_matrix(X[500:900]))
    np.testing.assert_allclose(part_d.cluster_centers_, part_s.cluster_centers_,
                               rtol=50 * TOL[dtype], atol=50 * TOL[dtype])


def _invariance_fit(X, w, init, dtype):
    # No early stopping and no reassignment: a comparison of near-equal smoothed
    # inertias, or of a centre's weight with 1% of the largest, may fall either
    # way under rounding; the steps themselves must agree.
    return MBK(3, init=init, batch_size=64, max_iter=3, random_state=0,
               max_no_improvement=None).fit(X.astype(dtype), sample_weight=w)


@settings(max_examples=15)
@given(seed=st.integers(0, 10**6), dtype=st.sampled_from([np.float32, np.float64]),
       offset_exp=st.integers(-2, 6), scale_exp=st.integers(-12, 12),
       weight_scale=st.floats(1e-30, 1e30), d=st.integers(1, 6))
def test_translation_and_scaling_invariance(seed, dtype, offset_exp, scale_exp,
                                            weight_scale, d):
    X, _, means = blobs(400, d, 3, seed=seed % 1000)
    rng = np.random.RandomState(seed)
    w = rng.uniform(0.5, 2, 400)
    init = means + 0.3
    base = _invariance_fit(X, w, init, dtype)
    sd = 1.0                                                # the blobs' spread
    eps = float(np.finfo(dtype).eps)
    fit_tol = 1e-3 if dtype == np.float32 else 1e-9

    offset = 10.0 ** offset_exp * rng.choice([-1, 1], size=d)
    moved = _invariance_fit(X + offset, w, init + offset, dtype)
    tol = fit_tol + 50 * eps * (np.abs(offset).max() + 40) / sd
    np.testing.assert_allclose(moved.cluster_centers_.astype(np.float64) - offset,
                               base.cluster_centers_, atol=tol * sd)
    np.testing.assert_array_equal(moved.labels_, base.labels_)

    scale = 10.0 ** scale_exp
    scaled = _invariance_fit(X * scale, w, init * scale, dtype)
    np.testing.assert_allclose(scaled.cluster_centers_.astype(np.float64) / scale,
                               base.cluster_centers_, atol=fit_tol, rtol=fit_tol)
    np.testing.assert_array_equal(scaled.labels_, base.labels_)

    heavy = _invariance_fit(X, w * weight_scale, init, dtype)
    np.testing.assert_allclose(heavy.cluster_centers_, base.cluster_centers_,
                               atol=fit_tol, rtol=fit_tol)
    # (the weights are rounded to X's dtype)
    np.testing.assert_allclose(heavy.counts_ / weight_scale, base.counts_,
                               rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert heavy.inertia_ / weight_scale == pytest.approx(base.inertia_, rel=1e-6)


# ------------------------------------------------------ scikit-learn API
# A mini-batch fit draws its batches among the rows: a row of weight 2 is one
# draw, its two copies two.  scikit-learn expects the same failures of its own
# MiniBatchKMeans.
NOT_EQUIVALENT = "sample_weight is not equivalent to removing/repeating samples."


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(kmgmm.MiniBatchKMeans(), expected_failed_checks={
            "check_sample_weight_equivalence_on_dense_data": NOT_EQUIVALENT,
            "check_sample_weight_equivalence_on_sparse_data": NOT_EQUIVALENT,
        })


def test_clone_pipeline_and_params():
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    km = kmgmm.MiniBatchKMeans(3, batch_size=64, random_state=0)
    assert clone(km).get_params() == km.get_params()
    X, _, _ = blobs(500, 2, 3)
    make_pipeline(StandardScaler(), km).fit(X)
    assert "batch_size=64" in repr(km)


# ------------------------------------------------------------ model files
def test_save_load_predicts_the_same_and_continues(tmp_path, dtype):
    X, _, _ = blobs(3000, 3, 3, seed=14, dtype=dtype)
    km = MBK(3, random_state=0, batch_size=256).fit(X)
    path = km.save(tmp_path / "mb.npz")
    loaded = kmgmm.load(path)
    assert type(loaded) is kmgmm.MiniBatchKMeans
    assert loaded.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(loaded.predict(X), km.predict(X))
    np.testing.assert_array_equal(loaded.counts_, km.counts_)
    assert loaded.n_steps_ == km.n_steps_ and loaded.batch_size == 256
    # partial_fit continues from the saved centres and weights
    loaded.set_params(reassignment_ratio=0.0).partial_fit(X[:200])
    C, _, _, _ = twin_step(X[:200], np.ones(200), km.cluster_centers_, km.counts_)
    np.testing.assert_allclose(loaded.cluster_centers_, C, rtol=TOL[dtype],
                               atol=10 * TOL[dtype])
    assert loaded.n_steps_ == km.n_steps_ + 1
    # a partial_fit-only model (no n_iter_, no inertia_) saves and loads
    part = MBK(3, compute_labels=False, random_state=0).partial_fit(X[:300])
    again = kmgmm.load(part.save(tmp_path / "part.npz"))
    assert again.n_steps_ == 1 and not hasattr(again, "n_iter_")


def test_damaged_counts_are_refused(tmp_path):
    X, _, _ = blobs(500, 2, 2)
    km = MBK(2, random_state=0, batch_size=100).fit(X)
    km.counts_ = -km.counts_
    with pytest.raises(ValueError, match="counts_"):
        km.save(tmp_path / "bad.npz")


def test_fit_on_a_memory_map_reads_batches_in_file_order(tmp_path):
    X, _, _ = blobs(5000, 3, 3, seed=18, dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    a = MBK(3, random_state=0, batch_size=300).fit(mapped)
    b = MBK(3, random_state=0, batch_size=300).fit(X)
    # the same batches, their rows in another order: equal to rounding
    assert a.n_steps_ == b.n_steps_
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_thread_choice_keeps_the_faster_count():
    from kmgmm._engines.batches import ThreadChoice

    choice = ThreadChoice(4)
    seconds = {1: 0.001, 4: 0.003}          # one thread is faster here
    picks = []
    for _ in range(ThreadChoice.REPROBE + 10):
        n = choice.pick()
        picks.append(n)
        choice.record(n, seconds[n])
    probe = ThreadChoice.PROBE * 2
    assert picks[:probe] == [1, 4] * ThreadChoice.PROBE
    assert set(picks[probe:ThreadChoice.REPROBE]) == {1}
    assert picks[ThreadChoice.REPROBE:ThreadChoice.REPROBE + 2] == [1, 4]  # probed again
    assert ThreadChoice(1).pick() == 1


def test_verbose_reports_steps_and_the_stop(capsys):
    X, _, _ = blobs(5000, 2, 3, seed=19)
    MBK(3, random_state=0, batch_size=100, verbose=1, max_no_improvement=2).fit(X)
    out = capsys.readouterr().out
    assert "Minibatch step 1/" in out and "ewa inertia" in out
    assert "Converged (lack of improvement in inertia)" in out


def test_dask_input_is_refused_with_advice():
    da = pytest.importorskip("dask.array")
    X = da.from_array(np.zeros((100, 2)), chunks=50)
    with pytest.raises(TypeError, match="kmgmm.KMeans"):
        MBK(2).fit(X)
