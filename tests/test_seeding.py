"""k-means++ seeding: the potentials kernel against NumPy, and the draws."""
import numpy as np
import pytest

from kmgmm._kernels import seeding
from kmgmm._algorithms.seeding import canonical_order, kmeans_plusplus, row_sqnorms


@pytest.mark.parametrize("n_samples", [1, 255, 256, 257, 3_000])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_candidate_potentials_match_numpy(n_samples, n_threads, dtype):
    rng = np.random.RandomState(n_samples)
    X = (rng.standard_normal((n_samples, 9)) + 100).astype(dtype)
    w = rng.uniform(0, 2, n_samples).astype(dtype)
    closest = rng.uniform(0, 30, n_samples)
    cand = X[rng.randint(n_samples, size=4)].astype(np.float64)
    X64 = X.astype(np.float64)
    d2 = ((X64[:, None, :] - cand[None]) ** 2).sum(-1)
    expected = (w.astype(np.float64)[:, None] * np.minimum(closest[:, None], d2)).sum(0)
    before = closest.copy()
    pot = seeding.candidate_potentials(X, w, row_sqnorms(X), closest, cand,
                                       n_threads=n_threads)
    np.testing.assert_array_equal(closest, before)
    np.testing.assert_allclose(pot, expected, rtol=1e-9, atol=1e-9)
    pot1 = seeding.candidate_potentials(X, w, row_sqnorms(X), closest, cand[:1],
                                        update_closest=True, n_threads=n_threads)
    np.testing.assert_allclose(closest, np.minimum(before, d2[:, 0]), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pot1, expected[:1], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n_samples", [1, 1023, 1024, 1025, 5_000])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_kept_distances_are_those_of_each_candidate_alone(n_samples, n_threads, dtype):
    """``kept`` row j: what ``update_closest`` with candidate j alone leaves
    in ``closest`` (to rounding: the BLAS may take another path for a single
    candidate), its weighted sum the candidate's potential; the potentials
    are those without ``kept``, and ``closest`` is not written."""
    rng = np.random.RandomState(n_samples)
    X = (rng.standard_normal((n_samples, 11)) + 50).astype(dtype)
    w = rng.uniform(0, 2, n_samples).astype(dtype)
    closest = rng.uniform(0, 40, n_samples)
    closest[::3] = np.inf
    cand = X[rng.randint(n_samples, size=5)].astype(np.float64)
    sq = row_sqnorms(X)
    before = closest.copy()
    kept = np.full((5, n_samples), np.nan)
    pot = seeding.candidate_potentials(X, w, sq, closest, cand, kept=kept,
                                       n_threads=n_threads)
    np.testing.assert_array_equal(closest, before)
    np.testing.assert_array_equal(
        pot, seeding.candidate_potentials(X, w, sq, closest, cand, n_threads=n_threads))
    for j in range(5):
        alone = before.copy()
        pot_j = seeding.candidate_potentials(X, w, sq, alone, cand[j:j + 1],
                                             update_closest=True, n_threads=n_threads)
        np.testing.assert_allclose(kept[j], alone, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(pot_j[0], pot[j], rtol=1e-12)
        expected = np.minimum(before, ((X.astype(np.float64) - cand[j]) ** 2).sum(1))
        np.testing.assert_allclose(kept[j], expected, rtol=1e-9, atol=1e-6)
    # a strided view of a wider array (the row blocks of X take such views)
    wide = np.full((5, n_samples + 7), np.nan)
    seeding.candidate_potentials(X, w, sq, closest, cand, kept=wide[:, 3:3 + n_samples],
                                 n_threads=n_threads)
    np.testing.assert_array_equal(wide[:, 3:3 + n_samples], kept)
    assert np.isnan(wide[:, :3]).all() and np.isnan(wide[:, 3 + n_samples:]).all()


def test_canonical_order_ignores_row_order_and_repeats():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((50, 4))
    perm = rng.permutation(50)
    a = X[canonical_order(X)]
    b = X[perm][canonical_order(X[perm])]
    np.testing.assert_array_equal(a, b)
    rep = np.repeat(X, 3, axis=0)
    np.testing.assert_array_equal(rep[canonical_order(rep)][::3], a)


def test_kmeans_plusplus_spreads_centres():
    rng = np.random.RandomState(0)
    means = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], dtype=float)
    X = np.repeat(means, 100, axis=0) + rng.standard_normal((400, 2))
    w = np.ones(400)
    for seed in range(5):
        centers, idx = kmeans_plusplus(X, 4, w, np.random.RandomState(seed), canonical_order(X))
        np.testing.assert_array_equal(centers, X[idx])
        # One centre in each well-separated blob.
        assert len(set(np.argmin(((centers[:, None] - means) ** 2).sum(-1), 1))) == 4
