"""Exact accelerated k-means (Hamerly, Elkan): the same result as Lloyd.

The pass kernels against NumPy twins (labels, statistics, bounds that are
really bounds), whole fits against Lloyd at chunk boundaries for both dtypes
and several thread counts, empty clusters, and the ``auto`` rule.
"""
import numpy as np
import pytest

from kmgmm import KMeans
from kmgmm._kernels import common, elkan, hamerly
from kmgmm._algorithms.geometry import (
    LLOYD_ROWS_PER_CLUSTER, center_geometry, choose_algorithm, elkan_bounds_bytes,
    elkan_fits, geometry_rows, half_separations, largest_other_move,
)

BOUNDED = ("hamerly", "elkan")


def blobs(n, d, k, *, spread=1.0, offset=0.0, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    means = rng.uniform(-10, 10, size=(k, d))
    y = rng.randint(k, size=n)
    X = means[y] + spread * rng.standard_normal((n, d)) + offset
    return X.astype(dtype)


def pass_twin(X, w, centers):
    """Plain NumPy: labels, squared distances to all centres, sums, weights, inertia."""
    X64, C64, w64 = X.astype(np.float64), centers.astype(np.float64), w.astype(np.float64)
    d2 = ((X64[:, None, :] - C64[None, :, :]) ** 2).sum(-1)
    labels = d2.argmin(1)
    sums = np.zeros_like(C64)
    np.add.at(sums, labels, w64[:, None] * X64)
    weights = np.bincount(labels, weights=w64, minlength=len(C64))
    inertia = float((w64 * d2[np.arange(len(X)), labels]).sum())
    return labels, d2, sums, weights, inertia


def run_hamerly(X, w, centers, state, half_sep, move, first, n_threads, exact=True,
                tighten=True, x_sqnorm=None, stats_budget=None):
    """One Hamerly pass on ``state`` (labels, upper, lower, sums, weights, counts)."""
    n = len(X)
    labels, upper, lower, sums, weights, counts = state
    out = hamerly.hamerly_pass(
        X, w, centers, half_sep=half_sep, move=move, lower_drop=largest_other_move(move),
        labels=labels, upper=upper, lower=lower, sums=sums, weights=weights, counts=counts,
        first=first, exact=exact, n_threads=n_threads, x_sqnorm=x_sqnorm, tighten=tighten,
        stats_budget=stats_budget)
    md = np.empty(n, dtype=X.dtype)
    common.label_sqdist(X, centers, labels, out=md, n_threads=n_threads)
    return out, md


def hamerly_state(n, k, d):
    return (np.full(n, -1, dtype=np.int32), np.empty(n), np.zeros(n),
            np.full((k, d), np.nan), np.full(k, np.nan), np.zeros(k, dtype=np.int64))


def run_elkan(X, w, centers, labels, lower, stamp, drops, now, first, n_threads):
    k, d = centers.shape
    half_cc, half_sep = center_geometry(centers)
    md = np.empty(len(X), dtype=X.dtype)
    sums, weights = np.full((k, d), np.nan), np.full(k, np.nan)
    out = elkan.elkan_pass(X, w, centers, half_sep=half_sep, half_cc=half_cc, drops=drops,
                           now=now, labels=labels, lower=lower, stamp=stamp, min_sqdist=md,
                           sums=sums, weights=weights, first=first, n_threads=n_threads)
    return out, md, sums, weights


def check_pass(X, w, centers, labels, md, sums, weights, inertia):
    t_labels, d2, t_sums, t_weights, t_inertia = pass_twin(X, w, centers)
    np.testing.assert_array_equal(labels, t_labels)
    rtol = 1e-5 if X.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(md, d2[np.arange(len(X)), t_labels], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(sums, t_sums, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(weights, t_weights, rtol=1e-12)
    np.testing.assert_allclose(inertia, t_inertia, rtol=rtol)
    return d2


# --------------------------------------------------------- kernels vs twins
@pytest.mark.parametrize("n_samples", [1, 255, 256, 257, 3_000])
@pytest.mark.parametrize("n_features", [2, 3, 17])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("k, stats_budget", [(7, None), (20, None), (7, 0)])
def test_hamerly_pass_matches_twin_and_bounds_hold(n_samples, n_features, n_threads, k,
                                                   stats_budget, dtype, cpu_path):
    # k = 20 spans several blocks of the SIMD kernel, so the second-nearest
    # key is tracked across blocks and lanes; a zero budget makes the first
    # pass move every row into the statistics instead of adding up blocks.
    rng = np.random.RandomState(n_samples + n_features)
    X = blobs(n_samples, n_features, k, spread=2.0, offset=50.0, dtype=dtype, seed=n_samples)
    w = rng.uniform(0.1, 3, n_samples).astype(dtype)
    w[::5] = 0   # rows of zero weight are not counted
    centers = X[rng.randint(n_samples, size=k)] + rng.standard_normal((k, n_features)).astype(dtype)
    state = hamerly_state(n_samples, k, n_features)
    labels, upper, lower, sums, weights, counts = state
    half_cc, half_sep = center_geometry(centers)
    x_sqnorm = np.full(n_samples, np.nan)
    (inertia, evals, changed, n_failed, _), md = run_hamerly(
        X, w, centers, state, half_sep, np.zeros(k), True, n_threads, x_sqnorm=x_sqnorm,
        stats_budget=stats_budget)
    d2 = check_pass(X, w, centers, labels, md, sums, weights, inertia)
    assert evals == n_samples * k and changed == n_samples and n_failed == n_samples
    if n_features > 4:   # the first pass fills in the row norms the gemm keys need
        X64 = X.astype(np.float64)
        np.testing.assert_allclose(x_sqnorm, np.einsum("ij,ij->i", X64, X64), rtol=1e-13)
    np.testing.assert_array_equal(counts, np.bincount(labels[w > 0], minlength=k))
    own = np.sqrt(d2[np.arange(n_samples), labels])
    other = np.sqrt(np.where(np.arange(k) == labels[:, None], np.inf, d2).min(1))
    assert np.all(lower <= other) and np.all(upper >= own)

    # Move the centres a little, three times: passes from these bounds stay
    # exact, with and without exact distances for every row, with and
    # without tightening the failing rows first, and the running statistics
    # follow the rows that change cluster.
    for exact, tighten in ((False, True), (False, False), (True, False)):
        new = (centers + 0.3 * rng.standard_normal(centers.shape)).astype(dtype)
        move = np.sqrt(((new.astype(np.float64) - centers) ** 2).sum(1)) * (1 + 1e-12)
        centers = new
        half_cc, half_sep = center_geometry(centers)
        (inertia, evals, changed, n_failed, n_clear), md = run_hamerly(
            X, w, centers, state, half_sep, move, False, n_threads, exact=exact,
            tighten=tighten)
        assert 0 <= n_clear <= n_failed <= n_samples
        if not exact:
            assert np.isnan(inertia)
            inertia = float(w.astype(np.float64) @ md.astype(np.float64))
        d2 = check_pass(X, w, centers, labels, md, sums, weights, inertia)
        np.testing.assert_array_equal(counts, np.bincount(labels[w > 0], minlength=k))
        own = np.sqrt(d2[np.arange(n_samples), labels])
        other = np.sqrt(np.where(np.arange(k) == labels[:, None], np.inf, d2).min(1))
        assert np.all(lower <= other) and np.all(upper >= own)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_cluster_statistics_match_twin_for_any_thread_count(n_threads, dtype):
    rng = np.random.RandomState(3)
    X = blobs(5_000, 9, 6, dtype=dtype, seed=2)
    w = rng.uniform(0.0, 2.0, len(X)).astype(dtype)
    w[::7] = 0
    labels = rng.randint(6, size=len(X)).astype(np.int32)
    labels[labels == 4] = 5            # an empty cluster
    sums, weights = np.full((6, 9), np.nan), np.full(6, np.nan)
    counts = np.full(6, -1, dtype=np.int64)
    common.cluster_statistics(X, w, labels, sums=sums, weights=weights, counts=counts,
                              n_threads=n_threads)
    w64 = w.astype(np.float64)
    twin = np.zeros((6, 9))
    np.add.at(twin, labels, w64[:, None] * X.astype(np.float64))
    np.testing.assert_allclose(sums, twin, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(weights, np.bincount(labels, weights=w64, minlength=6),
                               rtol=1e-12)
    np.testing.assert_array_equal(counts, np.bincount(labels[w > 0], minlength=6))
    one = [np.empty((6, 9)), np.empty(6), np.empty(6, dtype=np.int64)]
    common.cluster_statistics(X, w, labels, sums=one[0], weights=one[1], counts=one[2],
                              n_threads=1)
    np.testing.assert_array_equal(sums, one[0])


@pytest.mark.parametrize("n_samples", [1, 255, 256, 257, 3_000])
@pytest.mark.parametrize("n_features", [2, 3, 17])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_elkan_pass_matches_twin_and_bounds_hold(n_samples, n_features, n_threads, dtype):
    rng = np.random.RandomState(n_samples + n_features + 1)
    k = 7
    X = blobs(n_samples, n_features, k, spread=2.0, offset=50.0, dtype=dtype, seed=n_samples)
    w = rng.uniform(0.1, 3, n_samples).astype(dtype)
    centers = X[rng.randint(n_samples, size=k)] + rng.standard_normal((k, n_features)).astype(dtype)
    labels = np.full(n_samples, -1, dtype=np.int32)
    lower = np.zeros((n_samples, k), dtype=np.float32)
    stamp = np.zeros(n_samples, dtype=np.int32)
    drops = np.zeros((4, k))
    (inertia, evals, changed), md, sums, weights = run_elkan(
        X, w, centers, labels, lower, stamp, drops, 0, True, n_threads)
    d2 = check_pass(X, w, centers, labels, md, sums, weights, inertia)
    assert evals == n_samples * k and changed == n_samples
    assert np.all(lower <= np.sqrt(d2))

    # Two moves; the bounds are brought up to date lazily and stay bounds.
    cur = centers
    for now in (1, 2):
        new = (cur + 0.3 * rng.standard_normal(cur.shape)).astype(dtype)
        drops[now] = drops[now - 1] + np.sqrt(((new.astype(np.float64) - cur) ** 2).sum(1)) * (1 + 1e-12)
        cur = new
        (inertia, evals, changed), md, sums, weights = run_elkan(
            X, w, cur, labels, lower, stamp, drops, now, False, n_threads)
        d2 = check_pass(X, w, cur, labels, md, sums, weights, inertia)
        # A row's bounds (other than its own centre's, which is never read)
        # are current as of its stamp.
        for i in range(0, n_samples, max(1, n_samples // 50)):
            behind = drops[now] - drops[stamp[i]]
            other = np.arange(k) != labels[i]
            assert np.all((lower[i] - behind)[other] <= np.sqrt(d2[i])[other])


def test_geometry_gives_lower_bounds_far_from_origin():
    rng = np.random.RandomState(0)
    C = (rng.standard_normal((20, 30)) * 1e-3 + 1e4).astype(np.float32)
    half_cc, half_sep = center_geometry(C)
    C64 = C.astype(np.float64)
    exact = 0.5 * np.sqrt(((C64[:, None] - C64[None]) ** 2).sum(-1))
    off = ~np.eye(20, dtype=bool)
    assert np.all(half_cc[off] <= exact[off])
    np.testing.assert_array_equal(half_sep, half_cc.min(1))
    for n_threads in (1, 2):
        sep = half_separations(C, n_threads)
        assert np.all(sep <= np.where(off, exact, np.inf).min(1))
        np.testing.assert_allclose(sep, half_sep, rtol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 7, 300, 700])
def test_half_separations_in_blocks_match_the_full_geometry(k):
    # 700 centres take two blocks of geometry_rows.
    assert geometry_rows(700) < 700
    rng = np.random.RandomState(k)
    C = rng.standard_normal((k, 6)) * 3 + 5
    half_cc, half_sep = center_geometry(C)
    exact = 0.5 * np.sqrt(((C[:, None] - C[None]) ** 2).sum(-1))
    np.fill_diagonal(exact, np.inf)
    assert np.all(half_cc <= exact)
    for n_threads in (1, 2, 3):
        sep = half_separations(C, n_threads)
        np.testing.assert_allclose(sep, half_sep, rtol=1e-12)
        assert np.all(sep <= exact.min(1))
        np.testing.assert_array_equal(sep, half_separations(C, 1))
    # The same values written into a given array.
    out = np.empty((k, k))
    again, sep2 = center_geometry(C, out=out)
    assert again is out
    np.testing.assert_array_equal(again, half_cc)
    np.testing.assert_array_equal(sep2, half_sep)


# ------------------------------------------------------ fits against Lloyd
def fit_pair(X, k, algorithm, n_threads, seed=2, **kw):
    init = X[np.random.RandomState(seed).choice(len(X), k, replace=False)]
    ref = KMeans(k, init=init, algorithm="lloyd", n_threads=n_threads, **kw).fit(X)
    km = KMeans(k, init=init, algorithm=algorithm, n_threads=n_threads, **kw).fit(X)
    return ref, km


def assert_same_fit(ref, km, dtype):
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    rtol = 1e-10 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(km.inertia_, ref.inertia_, rtol=rtol)
    assert km.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("algorithm", BOUNDED)
@pytest.mark.parametrize("n_samples", [255, 256, 257, 5_000])
@pytest.mark.parametrize("n_features", [2, 3, 20])
def test_fit_matches_lloyd(algorithm, n_samples, n_features, dtype, cpu_path):
    X = blobs(n_samples, n_features, 9, spread=3.0, dtype=dtype, seed=n_samples)
    ref, km = fit_pair(X, 9, algorithm, 2, tol=0, max_iter=100)
    assert_same_fit(ref, km, dtype)


@pytest.mark.parametrize("algorithm", BOUNDED)
def test_fit_matches_lloyd_weighted(algorithm, dtype):
    X = blobs(6_000, 12, 15, spread=0.7, dtype=dtype, seed=5)
    w = np.random.RandomState(1).uniform(0.2, 4, len(X))
    init = X[:15]
    ref = KMeans(15, init=init, algorithm="lloyd", tol=0, max_iter=60).fit(X, sample_weight=w)
    km = KMeans(15, init=init, algorithm=algorithm, tol=0, max_iter=60).fit(X, sample_weight=w)
    assert_same_fit(ref, km, dtype)


def test_bounds_hold_far_from_origin_float32(cpu_path):
    # At 1e4 in float32 the Lloyd keys carry rounding errors far larger than
    # the gaps between distances; the bounds derived from them must still
    # be lower bounds.  (Labels are compared with Lloyd only where Lloyd's
    # own float32 keys resolve the nearest centre.)
    rng = np.random.RandomState(0)
    X = blobs(3_000, 12, 6, spread=1.0, offset=1e4, dtype=np.float32, seed=5)
    k = 6
    centers = X[rng.randint(len(X), size=k)]
    state = hamerly_state(len(X), k, 12)
    labels, lower = state[0], state[2]
    half_cc, half_sep = center_geometry(centers)
    run_hamerly(X, np.ones(len(X), np.float32), centers, state, half_sep, np.zeros(k),
                True, 2)
    _, d2, _, _, _ = pass_twin(X, np.ones(len(X)), centers)
    other = np.sqrt(np.where(np.arange(k) == labels[:, None], np.inf, d2).min(1))
    assert np.all(lower <= other)
    lower32 = np.zeros((len(X), k), dtype=np.float32)
    run_elkan(X, np.ones(len(X), np.float32), centers, labels, lower32,
              np.zeros(len(X), np.int32), np.zeros((1, k)), 0, True, 2)
    assert np.all(lower32 <= np.sqrt(d2))


@pytest.mark.parametrize("algorithm", BOUNDED)
def test_fit_bit_identical_for_thread_counts(algorithm, dtype):
    X = blobs(9_000, 10, 12, spread=4.0, dtype=dtype, seed=3)
    fits = [KMeans(12, random_state=0, algorithm=algorithm, n_threads=t).fit(X)
            for t in (1, 2, 3)]
    for km in fits[1:]:
        np.testing.assert_array_equal(km.cluster_centers_, fits[0].cluster_centers_)
        np.testing.assert_array_equal(km.labels_, fits[0].labels_)
        assert km.inertia_ == fits[0].inertia_ and km.n_iter_ == fits[0].n_iter_


@pytest.mark.parametrize("algorithm", BOUNDED)
def test_stops_on_tolerance_like_lloyd(algorithm):
    X = blobs(4_000, 5, 6, spread=6.0, seed=8)
    ref, km = fit_pair(X, 6, algorithm, 2, tol=1e-2, max_iter=300)
    assert_same_fit(ref, km, np.float64)
    ref, km = fit_pair(X, 6, algorithm, 2, tol=0, max_iter=3)
    assert_same_fit(ref, km, np.float64)


@pytest.mark.parametrize("algorithm", ("lloyd",) + BOUNDED)
def test_empty_cluster_relocated_under_every_algorithm(algorithm):
    X = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [50.0]])
    init = np.array([[0.1], [10.0], [1000.0]])
    km = KMeans(3, init=init, max_iter=1, algorithm=algorithm).fit(X)
    assert 50.0 in km.cluster_centers_[:, 0]
    assert len(np.unique(km.labels_)) == 3


@pytest.mark.parametrize("algorithm", BOUNDED)
def test_empty_clusters_mid_fit_match_lloyd(algorithm, dtype):
    # Several far centres attract nothing: they jump onto far rows and the
    # bounds must follow them.
    X = blobs(3_000, 4, 5, spread=1.0, dtype=dtype, seed=4)
    init = np.vstack([X[:5], np.full((3, 4), 500.0), np.full((1, 4), -700.0)]).astype(dtype)
    ref = KMeans(9, init=init, algorithm="lloyd", tol=0, max_iter=100).fit(X)
    km = KMeans(9, init=init, algorithm=algorithm, tol=0, max_iter=100).fit(X)
    assert_same_fit(ref, km, dtype)
    assert len(np.unique(km.labels_)) == 9


@pytest.mark.parametrize("algorithm", BOUNDED)
def test_single_cluster(algorithm):
    X = blobs(500, 3, 2, seed=1)
    ref, km = fit_pair(X, 1, algorithm, 1)
    assert_same_fit(ref, km, np.float64)


@pytest.mark.parametrize("algorithm", BOUNDED)
def test_verbose_reports_skipped_distances(algorithm, caplog):
    X = blobs(4_000, 3, 4, spread=0.5, seed=2)
    with caplog.at_level("INFO", logger="kmgmm"):
        KMeans(4, random_state=0, algorithm=algorithm, verbose=1).fit(X)
    out = caplog.text
    assert f"Algorithm: {algorithm}." in out
    assert "skipped" in out


def test_auto_falls_back_to_lloyd_when_bounds_do_not_pay(caplog):
    # One blob in 16-D cut into clusters: nearly every row is near a boundary.
    X = np.random.RandomState(0).standard_normal((4_000, 16))
    init = X[:8]
    ref = KMeans(8, init=init, algorithm="lloyd", tol=0, max_iter=40).fit(X)
    with caplog.at_level("INFO", logger="kmgmm"):
        km = KMeans(8, init=init, algorithm="auto", tol=0, max_iter=40, verbose=1).fit(X)
    assert "Lloyd passes from here" in caplog.text
    assert_same_fit(ref, km, np.float64)


@pytest.mark.parametrize("report", ["verbose", "callback"])
def test_auto_keeps_hamerly_on_separated_data_while_reporting(report, caplog,
                                                              monkeypatch):
    # A verbose fit or one with an iteration callback (the command line's
    # progress) computes every row's distance for the inertia; rows whose
    # bounds hold must still count as holding, or "auto" would fall back.
    import kmgmm._algorithms.bounds as bounds
    handed_over = []

    def lloyd(*args, **kwargs):
        handed_over.append(kwargs["first_iter"])
        return bounds_lloyd(*args, **kwargs)

    bounds_lloyd = bounds.lloyd
    monkeypatch.setattr(bounds, "lloyd", lloyd)
    X = blobs(20_000, 8, 8, spread=0.3, seed=3)
    init = X[:8]
    seen = []
    km = KMeans(8, init=init, algorithm="auto", tol=0, max_iter=30,
                verbose=int(report == "verbose"))
    if report == "callback":
        km.set_params(callback=lambda p: seen.append(p.n_iter) if p.n_iter else None)
    with caplog.at_level("INFO", logger="kmgmm"):
        km.fit(X)
    out = caplog.text
    assert km._algorithm == "hamerly" and km.n_iter_ >= 5
    assert handed_over == [] and "Lloyd passes from here" not in out
    ref = KMeans(8, init=init, algorithm="lloyd", tol=0, max_iter=30).fit(X)
    assert_same_fit(ref, km, np.float64)
    if report == "callback":
        assert seen == list(range(1, km.n_iter_ + 1))


def test_auto_keeps_hamerly_where_rows_are_much_work(caplog):
    # 300 features and 20 clusters: a failing row's bookkeeping is small
    # against its distances, so even on one blob Hamerly runs to the end.
    X = np.random.RandomState(0).standard_normal((3_000, 300))
    init = X[:20]
    ref = KMeans(20, init=init, algorithm="lloyd", tol=0, max_iter=15).fit(X)
    with caplog.at_level("INFO", logger="kmgmm"):
        km = KMeans(20, init=init, algorithm="auto", tol=0, max_iter=15, verbose=1).fit(X)
    out = caplog.text
    assert "Algorithm: hamerly." in out and "Lloyd passes from here" not in out
    assert_same_fit(ref, km, np.float64)


# -------------------------------------------------------------- the rule
def test_auto_rule():
    for shape in [(10**6, 32, 64), (10**5, 784, 10), (2 * 10**5, 128, 256), (10**4, 5, 2)]:
        for dtype in (np.float32, np.float64):
            assert choose_algorithm(*shape, dtype) == "hamerly"
    # Few features: the direct Lloyd kernel; one cluster: nothing to bound.
    for shape in [(10**6, 2, 8), (10**6, 4, 256), (1000, 5, 1)]:
        for dtype in (np.float32, np.float64):
            assert choose_algorithm(*shape, dtype) == "lloyd"
    # Clusters of a few rows each: the k x k centre geometry does not pay.
    for n, d, k in [(20_000, 8, 10_000), (4_000, 8, 2_000), (8_000, 64, 1_001),
                    (100, 5, 13)]:
        for dtype in (np.float32, np.float64):
            assert choose_algorithm(n, d, k, dtype) == "lloyd"
    for n, d, k in [(8_000, 64, 1_000), (100, 5, 12)]:
        assert k * LLOYD_ROWS_PER_CLUSTER == n - n % LLOYD_ROWS_PER_CLUSTER
        assert choose_algorithm(n, d, k, np.float64) == "hamerly"
    # Elkan's bounds must fit comfortably in memory.
    assert elkan_fits(10**5, 10, memory=elkan_bounds_bytes(10**5, 10) * 4)
    assert not elkan_fits(10**5, 10, memory=elkan_bounds_bytes(10**5, 10) * 2)
    # The n_clusters x n_clusters distances between centres count too.
    assert elkan_bounds_bytes(4_000, 2_000) >= 8 * 2_000**2 + 4 * 4_000 * 2_000
    rows_only = 4 * (4 * 4_000 * 2_000 + 4 * 4_000)
    assert not elkan_fits(4_000, 2_000, memory=rows_only)


def test_elkan_too_big_runs_hamerly(monkeypatch):
    import kmgmm._kmeans as km_mod
    monkeypatch.setattr(km_mod, "elkan_fits", lambda *a, **k: False)
    X = blobs(2_000, 3, 4, seed=1)
    with pytest.warns(RuntimeWarning, match="hamerly"):
        km = KMeans(4, random_state=0, algorithm="elkan").fit(X)
    assert km._algorithm == "hamerly"


@pytest.mark.parametrize("shape", [(3_000, 2, 4), (1_000, 70, 5)])
def test_auto_runs_what_the_rule_says(shape):
    n, d, k = shape
    X = blobs(n, d, k, seed=0)
    km = KMeans(k, random_state=0).fit(X)
    assert km.algorithm == "auto"
    assert km._algorithm == choose_algorithm(n, d, k, X.dtype)
    ref = KMeans(k, random_state=0, algorithm="lloyd").fit(X)
    assert_same_fit(ref, km, np.float64)


# ---------------------------------------------------- memory with many clusters
def traced_fit(X, k, init, algorithm):
    """(fit, peak bytes traced by tracemalloc during the fit)."""
    import tracemalloc
    tracemalloc.start()
    try:
        km = KMeans(k, init=init, algorithm=algorithm, max_iter=2, tol=0).fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return km, peak


def test_many_clusters_memory_stays_near_lloyds():
    # 2 000 centres: a k x k float64 array is 32 MB, Lloyd's whole fit a few.
    k = 2_000
    X = np.random.RandomState(0).standard_normal((4_000, 8))
    init = X[np.random.RandomState(1).choice(len(X), k, replace=False)]
    ref, lloyd_peak = traced_fit(X, k, init, "lloyd")
    assert lloyd_peak < 8 * k * k / 4
    for algorithm in ("auto", "hamerly"):
        km, peak = traced_fit(X, k, init, algorithm)
        assert peak <= 3 * lloyd_peak, (algorithm, peak, lloyd_peak)
        assert peak < 8 * k * k / 4
        assert_same_fit(ref, km, np.float64)
    # Elkan keeps its n x k bounds and one k x k array, no more.
    km, peak = traced_fit(X, k, init, "elkan")
    assert peak <= elkan_bounds_bytes(4_000, k) + 2 * lloyd_peak + (8 << 20)
    assert_same_fit(ref, km, np.float64)
