import numpy as np
import pytest

from kmgmm._metrics import adjusted_rand_score


def test_adjusted_rand_score_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.RandomState(0)
    for _ in range(100):
        n = rng.randint(1, 60)
        a = rng.randint(0, rng.randint(1, 6), n)
        b = rng.randint(0, rng.randint(1, 6), n)
        assert adjusted_rand_score(a, b) == pytest.approx(sk.adjusted_rand_score(a, b),
                                                          abs=1e-12)


def test_adjusted_rand_score_fixed_points():
    a = np.array([0, 0, 1, 1, 2, 2])
    assert adjusted_rand_score(a, a) == 1.0
    assert adjusted_rand_score(a, 5 - a) == 1.0  # renamed labels
    assert adjusted_rand_score([0, 0, 1, 1], [0, 1, 0, 1]) < 0
    with pytest.raises(ValueError, match="same length"):
        adjusted_rand_score([0, 1], [0, 1, 2])
