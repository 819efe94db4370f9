"""The Lloyd pass against a plain NumPy twin, at chunk boundaries."""
import numpy as np
import pytest

from kmgmm._kernels import lloyd


def lloyd_pass_twin(X, w, centers):
    """Plain NumPy: labels, squared distances, weighted sums, weights, inertia."""
    X64 = X.astype(np.float64)
    C64 = centers.astype(np.float64)
    d2 = ((X64[:, None, :] - C64[None, :, :]) ** 2).sum(-1)
    labels = d2.argmin(1)
    min_d2 = d2[np.arange(len(X)), labels]
    k = len(centers)
    sums = np.zeros_like(C64)
    np.add.at(sums, labels, w.astype(np.float64)[:, None] * X64)
    weights = np.bincount(labels, weights=w.astype(np.float64), minlength=k)
    inertia = float((w.astype(np.float64) * min_d2).sum())
    return labels, min_d2, sums, weights, inertia


def run_pass(X, w, centers, n_threads):
    n, d = X.shape
    k = centers.shape[0]
    labels = np.full(n, -7, dtype=np.int32)
    min_d2 = np.full(n, -1, dtype=X.dtype)
    sums = np.full((k, d), np.nan)
    weights = np.full(k, np.nan)
    inertia = lloyd.lloyd_pass(X, w, centers, labels, min_sqdist=min_d2, sums=sums,
                               weights=weights, n_threads=n_threads)
    return labels, min_d2, sums, weights, inertia


@pytest.mark.parametrize("n_samples", [1, 255, 256, 257, 10_000])
@pytest.mark.parametrize("n_features", [2, 3, 17])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_pass_matches_numpy_twin(n_samples, n_features, n_threads, weighted, dtype):
    rng = np.random.RandomState(n_samples + n_features)
    k = 7
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    centers = rng.standard_normal((k, n_features)).astype(dtype)
    w = (rng.uniform(0.1, 3, n_samples) if weighted else np.ones(n_samples)).astype(dtype)

    labels, min_d2, sums, weights, inertia = run_pass(X, w, centers, n_threads)
    t_labels, t_d2, t_sums, t_weights, t_inertia = lloyd_pass_twin(X, w, centers)

    rtol = 1e-4 if dtype == np.float32 else 1e-10
    # Labels may differ only where two centres are (numerically) equidistant.
    differ = labels != t_labels
    if differ.any():
        d2 = ((X[differ, None, :].astype(np.float64) - centers[None].astype(np.float64)) ** 2).sum(-1)
        gap = np.abs(d2[np.arange(differ.sum()), labels[differ]] - t_d2[differ])
        assert np.all(gap <= rtol * (1 + t_d2[differ])), "a label is not a nearest centre"
        # Re-derive the statistics from the kernel's own labels before comparing.
        t_sums = np.zeros_like(t_sums)
        np.add.at(t_sums, labels, w.astype(np.float64)[:, None] * X.astype(np.float64))
        t_weights = np.bincount(labels, weights=w.astype(np.float64), minlength=k)
    np.testing.assert_allclose(min_d2, t_d2, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(sums, t_sums, rtol=rtol, atol=rtol * 10)
    np.testing.assert_allclose(weights, t_weights, rtol=1e-12)
    np.testing.assert_allclose(inertia, t_inertia, rtol=rtol)


def test_pass_without_statistics_matches_fit_pass(dtype):
    rng = np.random.RandomState(3)
    X = rng.standard_normal((1000, 5)).astype(dtype)
    w = np.ones(1000, dtype=dtype)
    centers = X[:6].copy()
    labels_fit, _, _, _, inertia_fit = run_pass(X, w, centers, 2)
    labels = np.empty(1000, dtype=np.int32)
    inertia = lloyd.lloyd_pass(X, w, centers, labels, n_threads=2)
    np.testing.assert_array_equal(labels, labels_fit)
    assert inertia == inertia_fit


@pytest.mark.parametrize("shape", [(5_000, 2, 8), (3_000, 40, 33)])
def test_pass_bit_identical_for_any_thread_count(shape, dtype):
    n, d, k = shape
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, d)).astype(dtype)
    w = rng.uniform(0.5, 2, n).astype(dtype)
    centers = X[rng.choice(n, k, replace=False)].copy()
    ref = run_pass(X, w, centers, 1)
    for n_threads in (2, 3, 8):
        out = run_pass(X, w, centers, n_threads)
        for a, b in zip(ref, out):
            np.testing.assert_array_equal(a, b)


def test_float32_statistics_accumulate_in_float64():
    # 2**24 + 1 is not representable in float32: a float32 accumulator
    # would lose every unit added past 2**24.
    n = 40_000
    X = np.full((n, 1), 1000.0, dtype=np.float32)
    w = np.ones(n, dtype=np.float32)
    centers = np.array([[1000.0]], dtype=np.float32)
    _, _, sums, weights, _ = run_pass(X, w, centers, 2)
    assert sums[0, 0] == 1000.0 * n
    assert weights[0] == n


# Features: 1-4 take the direct kernel (d = 2 de-interleaved with shuffles,
# 3 and 4 through a small transpose), 5 and 17 the blocked micro-kernel.
# Clusters: 8 and 10 fit one block of one or two vectors, 33 spans several
# (blocks of two vectors, then one) and leaves a padded tail.  Sample counts
# cover the chunk boundaries and the rows past the last full vector (2 to 16
# rows, by path and dtype) and pair of vectors.
@pytest.mark.parametrize("n_samples", [1, 7, 255, 256, 257, 10_000])
@pytest.mark.parametrize("n_features", [1, 2, 3, 4, 5, 17])
@pytest.mark.parametrize("n_clusters", [8, 10, 33])
def test_pass_paths_match_numpy_twin(n_samples, n_features, n_clusters, dtype, cpu_path):
    rng = np.random.RandomState(n_samples * 7 + n_features * 3 + n_clusters)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    centers = rng.standard_normal((n_clusters, n_features)).astype(dtype)
    w = rng.uniform(0.1, 3, n_samples).astype(dtype)

    labels, min_d2, sums, weights, inertia = run_pass(X, w, centers, 1)
    for a, b in zip(run_pass(X, w, centers, 2), (labels, min_d2, sums, weights, inertia)):
        np.testing.assert_array_equal(a, b)
    t_labels, t_d2, t_sums, t_weights, t_inertia = lloyd_pass_twin(X, w, centers)

    rtol = 1e-4 if dtype == np.float32 else 1e-10
    X64, C64 = X.astype(np.float64), centers.astype(np.float64)
    d2_all = ((X64[:, None, :] - C64[None]) ** 2).sum(-1)
    chosen = d2_all[np.arange(n_samples), labels]
    # Every label is a nearest centre up to rounding.
    assert np.all(chosen - t_d2 <= rtol * (1 + t_d2))
    # The statistics are those of the kernel's own labels.
    own_sums = np.zeros_like(t_sums)
    np.add.at(own_sums, labels, w.astype(np.float64)[:, None] * X64)
    own_weights = np.bincount(labels, weights=w.astype(np.float64), minlength=n_clusters)
    np.testing.assert_allclose(min_d2, chosen, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(sums, own_sums, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights, own_weights, rtol=1e-12)
    np.testing.assert_allclose(inertia, (w.astype(np.float64) * chosen).sum(), rtol=rtol)
    assert (labels != t_labels).mean() < 0.01


def test_pass_paths_agree_on_labels(dtype):
    # Away from ties every CPU path (and the portable loops) gives the same
    # labels and statistics equal up to rounding.
    from kmgmm import _kernels
    rng = np.random.RandomState(5)
    paths = ["portable", *_kernels.supported_cpu_paths()]
    for d, k in [(2, 8), (3, 5), (32, 64), (40, 33), (100, 10)]:
        means = 10 * rng.standard_normal((k, d))
        X = (means[rng.randint(k, size=5_000)] + rng.standard_normal((5_000, d))).astype(dtype)
        w = np.ones(5_000, dtype=dtype)
        centers = means.astype(dtype)
        out = {}
        for path in paths:
            previous = _kernels._set_cpu_path(path)
            try:
                out[path] = run_pass(X, w, centers, 2)
            finally:
                _kernels._set_cpu_path(previous)
        for path in paths[1:]:
            np.testing.assert_array_equal(out[path][0], out["portable"][0])
            for a, b in zip(out[path][1:], out["portable"][1:]):
                np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_ties_go_to_the_lowest_index(dtype, cpu_path):
    # Duplicated centres: every row is equally near both copies.  (The
    # portable loop's gemm may round the two copies' dot products apart.)
    if cpu_path == "portable":
        pytest.skip("the gemm may round duplicated centres apart")
    rng = np.random.RandomState(1)
    for d in (2, 17):
        base = rng.standard_normal((20, d)).astype(dtype)
        centers = np.concatenate([base, base])
        X = rng.standard_normal((1_000, d)).astype(dtype)
        labels = run_pass(X, np.ones(1_000, dtype=dtype), centers, 2)[0]
        assert labels.max() < 20


@pytest.mark.parametrize("n_features", [2, 17])
def test_pass_without_inertia_gives_the_same_labels_and_sums(n_features, dtype, cpu_path):
    rng = np.random.RandomState(8)
    X = rng.standard_normal((3_000, n_features)).astype(dtype)
    w = rng.uniform(0.5, 2, 3_000).astype(dtype)
    centers = X[:9].copy()
    labels, _, sums, weights, inertia = run_pass(X, w, centers, 2)
    labels2 = np.empty(3_000, dtype=np.int32)
    sums2, weights2 = np.empty_like(sums), np.empty_like(weights)
    out = lloyd.lloyd_pass(X, w, centers, labels2, sums=sums2, weights=weights2,
                           want_inertia=False, n_threads=2)
    np.testing.assert_array_equal(labels2, labels)
    np.testing.assert_array_equal(sums2, sums)
    np.testing.assert_array_equal(weights2, weights)
    assert np.isnan(out) or out == inertia


@pytest.mark.parametrize("n_features", [1, 2, 3, 4, 17])
@pytest.mark.parametrize("want_inertia", [True, False])
def test_pass_counts_changed_labels(n_features, want_inertia, dtype, cpu_path):
    # 1 003 rows: the last chunk ends in rows the vector loops leave to the
    # scalar tail.
    rng = np.random.RandomState(9)
    X = rng.standard_normal((1_003, n_features)).astype(dtype)
    w = np.ones(1_003, dtype=dtype)
    centers = X[:6].copy()
    labels = run_pass(X, w, centers, 1)[0]
    before = labels.copy()
    before[::7] = (before[::7] + 1) % 6
    before[-1] = (before[-1] + 1) % 6
    for n_threads in (1, 3):
        buf = before.copy()
        changed = np.full(1, -1, dtype=np.int64)
        lloyd.lloyd_pass(X, w, centers, buf, sums=np.empty((6, n_features)),
                         weights=np.empty(6), want_inertia=want_inertia, n_changed=changed,
                         n_threads=n_threads)
        np.testing.assert_array_equal(buf, labels)
        assert changed[0] == np.count_nonzero(before != labels)


@pytest.mark.parametrize("n_features", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [1, 3, 4, 8, 9, 16, 17])
def test_direct_pass_few_centres_every_path(n_features, k, dtype, cpu_path):
    # At most one vector of centres: float32 looks the chosen centre's
    # coordinates up after the scan; more: they ride along with each compare.
    # Both must give the twin's labels, exact distances, sums and count.
    rng = np.random.RandomState(k * 10 + n_features)
    n = 1_037
    X = (rng.standard_normal((n, n_features)) * 50 + 1e3).astype(dtype)
    w = rng.uniform(0.5, 2, n).astype(dtype)
    centers = X[rng.choice(n, k, replace=False)] + dtype(0.25)
    labels, min_d2, sums, weights, inertia = run_pass(X, w, centers, 2)
    t_labels, t_d2, t_sums, t_weights, t_inertia = lloyd_pass_twin(X, w, centers)
    np.testing.assert_array_equal(labels, t_labels)
    # the chosen distance from the rounded difference of float32 coordinates
    diff = (X - centers[labels]).astype(np.float64)
    np.testing.assert_allclose(min_d2, (diff ** 2).sum(1), rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(sums, t_sums, rtol=1e-9)
    np.testing.assert_allclose(weights, t_weights, rtol=1e-9)
    np.testing.assert_allclose(inertia, float((w.astype(np.float64) * (diff ** 2).sum(1)).sum()),
                               rtol=1e-9)
    before = labels.copy()
    before[::5] = (before[::5] + 1) % k
    changed = np.zeros(1, dtype=np.int64)
    lloyd.lloyd_pass(X, w, centers, before, sums=np.empty((k, n_features)),
                     weights=np.empty(k), n_changed=changed, n_threads=2)
    assert changed[0] == (np.count_nonzero(labels[::5] != (labels[::5] + 1) % k))
