"""KMeans: parity with scikit-learn, determinism, the estimator contract."""
import pickle
import warnings

import numpy as np
import pytest

from kmgmm import ConvergenceWarning, KMeans

sklearn = pytest.importorskip("sklearn")
from sklearn.cluster import KMeans as SKKMeans  # noqa: E402


@pytest.mark.parametrize("shape", [(5_000, 2, 5), (4_000, 20, 12), (3_001, 64, 30)])
def test_parity_with_sklearn_lloyd(mixture, shape):
    n, d, k = shape
    X, _, _ = mixture(n, d, k, spread=4.0, seed=1)
    init = X[np.random.RandomState(2).choice(n, k, replace=False)]
    sk = SKKMeans(k, init=init, n_init=1, algorithm="lloyd", max_iter=300, tol=1e-4).fit(X)
    km = KMeans(k, init=init, max_iter=300, tol=1e-4).fit(X)
    np.testing.assert_array_equal(km.labels_, sk.labels_)
    np.testing.assert_allclose(km.cluster_centers_, sk.cluster_centers_, rtol=1e-10, atol=1e-12)
    assert km.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(km.inertia_, sk.inertia_, rtol=1e-10)


def test_parity_with_sklearn_weighted(mixture):
    X, _, _ = mixture(3_000, 6, 8, spread=3.0, seed=4)
    w = np.random.RandomState(0).uniform(0.1, 5, len(X))
    init = X[:8]
    sk = SKKMeans(8, init=init, n_init=1, algorithm="lloyd", tol=0, max_iter=50).fit(X, sample_weight=w)
    km = KMeans(8, init=init, tol=0, max_iter=50).fit(X, sample_weight=w)
    np.testing.assert_array_equal(km.labels_, sk.labels_)
    np.testing.assert_allclose(km.cluster_centers_, sk.cluster_centers_, rtol=1e-10)
    np.testing.assert_allclose(km.inertia_, sk.inertia_, rtol=1e-10)


@pytest.mark.parametrize("shape", [(20_000, 2, 8), (6_000, 33, 20)])
def test_fit_bit_identical_for_thread_counts(mixture, shape, dtype):
    n, d, k = shape
    X, _, _ = mixture(n, d, k, spread=5.0, dtype=dtype, seed=3)
    fits = [KMeans(k, random_state=0, n_threads=t).fit(X) for t in (1, 2, 3, 8)]
    for km in fits[1:]:
        np.testing.assert_array_equal(km.cluster_centers_, fits[0].cluster_centers_)
        np.testing.assert_array_equal(km.labels_, fits[0].labels_)
        assert km.inertia_ == fits[0].inertia_
        assert km.n_iter_ == fits[0].n_iter_


def test_float32_in_float32_out(mixture):
    X, y, _ = mixture(2_000, 4, 3, dtype=np.float32)
    km = KMeans(3, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X).dtype == np.float32
    assert km.labels_.dtype == np.int32


def test_recovers_separated_clusters(mixture):
    X, y, means = mixture(3_000, 5, 4, spread=0.5, seed=7)
    km = KMeans(4, random_state=0).fit(X)
    # A perfect partition up to a relabelling.
    table = np.zeros((4, 4), dtype=int)
    np.add.at(table, (y, km.labels_), 1)
    assert (table > 0).sum() == 4
    order = np.argmax(table, axis=0)
    np.testing.assert_allclose(km.cluster_centers_, means[order], atol=0.1)


def test_labels_and_inertia_match_final_centres(mixture):
    X, _, _ = mixture(5_000, 3, 6, spread=6.0, seed=5)
    km = KMeans(6, random_state=1, max_iter=3).fit(X)  # stops before convergence
    d2 = ((X[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(km.labels_, d2.argmin(1))
    np.testing.assert_allclose(km.inertia_, d2.min(1).sum(), rtol=1e-10)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    np.testing.assert_allclose(km.score(X), -km.inertia_, rtol=1e-12)
    np.testing.assert_allclose(km.transform(X) ** 2, d2, rtol=1e-8, atol=1e-8)


def test_empty_cluster_relocated_to_farthest_point():
    X = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [50.0]])
    init = np.array([[0.1], [10.0], [1000.0]])  # the third centre attracts nothing
    km = KMeans(3, init=init, max_iter=1).fit(X)
    # After one pass the empty cluster took the row farthest from its centre.
    assert 50.0 in km.cluster_centers_[:, 0]
    assert len(np.unique(km.labels_)) == 3
    d2 = ((X[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(km.labels_, d2.argmin(1))


def test_integer_weights_equal_repeated_rows(mixture):
    X, _, _ = mixture(60, 3, 4, spread=2.0, seed=11)
    w = np.random.RandomState(1).randint(0, 4, len(X))
    perm = np.random.RandomState(2).permutation(len(X))
    a = KMeans(4, random_state=3).fit(np.repeat(X, w, axis=0))
    b = KMeans(4, random_state=3).fit(X[perm], sample_weight=w[perm])
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-10)


def test_zero_weight_rows_never_become_centres():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 2))
    w = np.zeros(200)
    w[:20] = 1
    for seed in range(5):
        for init in ("k-means++", "random"):
            km = KMeans(5, init=init, random_state=seed, max_iter=1, n_init=1).fit(X, sample_weight=w)
            assert km.inertia_ >= 0
    centers, _ = __import__("kmgmm._algorithms.seeding", fromlist=["x"]).kmeans_plusplus(
        X, 5, w, np.random.RandomState(0), np.arange(200))
    member = (centers[:, None, :] == X[None, :20, :]).all(-1).any(1)
    assert member.all()


def test_n_init_keeps_best(mixture):
    X, _, _ = mixture(2_000, 2, 10, spread=3.0, seed=8)
    single = [KMeans(10, init="random", n_init=1, random_state=s).fit(X).inertia_ for s in range(3)]
    best = KMeans(10, init="random", n_init=10, random_state=0).fit(X)
    assert best.inertia_ <= min(single) + 1e-9 or best.inertia_ <= single[0]


def test_callable_init(mixture):
    X, _, _ = mixture(500, 3, 4)
    calls = []

    def init(X, n_clusters, random_state):
        calls.append(n_clusters)
        return X[:n_clusters]

    km = KMeans(4, init=init).fit(X)
    ref = KMeans(4, init=X[:4]).fit(X)
    assert calls == [4]
    np.testing.assert_array_equal(km.cluster_centers_, ref.cluster_centers_)


def test_accepts_list_dataframe_memmap_fortran_strided(tmp_path, mixture):
    pd = pytest.importorskip("pandas")
    X, _, _ = mixture(1_000, 4, 3, seed=2)
    ref = KMeans(3, random_state=0).fit(X)
    df = pd.DataFrame(X, columns=list("abcd"))
    path = tmp_path / "X.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    wide = np.zeros((1_000, 8))
    wide[:, ::2] = X
    for data in (X.tolist(), df, mm, np.asfortranarray(X), wide[:, ::2]):
        km = KMeans(3, random_state=0).fit(data)
        np.testing.assert_array_equal(km.cluster_centers_, ref.cluster_centers_)
    km = KMeans(3, random_state=0).fit(df)
    np.testing.assert_array_equal(km.feature_names_in_, list("abcd"))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        km.predict(X)


def test_input_is_never_modified(mixture):
    X, _, _ = mixture(1_000, 3, 4)
    w = np.random.RandomState(0).uniform(0.5, 2, 1_000)
    init = X[:4].copy()
    X0, w0, init0 = X.copy(), w.copy(), init.copy()
    km = KMeans(4, init=init).fit(X, sample_weight=w)
    km.predict(X)
    km.transform(X)
    km.score(X, sample_weight=w)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(init, init0)
    X.setflags(write=False)
    KMeans(4, random_state=0).fit(X)  # read-only input is fine


def test_pickle_round_trip(mixture):
    X, _, _ = mixture(500, 3, 4)
    km = KMeans(4, random_state=0).fit(X)
    again = pickle.loads(pickle.dumps(km))
    np.testing.assert_array_equal(again.predict(X), km.predict(X))
    assert again.get_params() == km.get_params()


def test_works_in_pipeline_and_grid_search(mixture):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _, _ = mixture(600, 3, 4)
    pipe = make_pipeline(StandardScaler(), KMeans(4, random_state=0))
    assert pipe.fit_predict(X).shape == (600,)
    search = GridSearchCV(KMeans(random_state=0), {"n_clusters": [2, 4]}, cv=3).fit(X)
    assert search.best_params_["n_clusters"] == 4
    assert clone(KMeans(5, tol=1e-3)).get_params()["n_clusters"] == 5


def test_feature_names_out(mixture):
    X, _, _ = mixture(300, 3, 3)
    km = KMeans(3, random_state=0).fit(X)
    assert list(km.get_feature_names_out()) == ["kmeans0", "kmeans1", "kmeans2"]


def test_verbose_logs_iterations(mixture, caplog):
    X, _, _ = mixture(500, 2, 3)
    with caplog.at_level("INFO", logger="kmgmm"):
        KMeans(3, random_state=0, verbose=1).fit(X)
    assert "Iteration 1: inertia" in caplog.text


def test_fewer_distinct_points_than_clusters_warns():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 5, axis=0)
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        KMeans(3, random_state=0).fit(X)


@pytest.mark.parametrize("name", ["KMeans", "SphericalKMeans"])
def test_fewer_distinct_clusters_warning_points_at_the_callers_line(name):
    import kmgmm
    X = np.repeat(np.array([[1.0, 2.0], [3.0, 1.0]]), 5, axis=0)
    with pytest.warns(ConvergenceWarning, match="distinct clusters") as record:
        getattr(kmgmm, name)(3, n_init=1, random_state=0).fit(X)
    assert record[0].filename == __file__


# ------------------------------------------------------------- bad input
GOOD = np.random.RandomState(0).standard_normal((20, 3))


@pytest.mark.parametrize(
    "X, kwargs, exc, match",
    [
        (np.array([[1.0, np.nan]] * 10), {}, ValueError, "X contains NaN"),
        (np.array([[1.0, np.inf]] * 10), {}, ValueError, "X contains infinity"),
        (np.arange(10.0), {}, ValueError, "Expected a 2-D array for X.*reshape"),
        (np.empty((0, 3)), {}, ValueError, "0 sample"),
        (np.empty((5, 0)), {}, ValueError, "0 feature"),
        ([["a", "b"], ["c", "d"]], {}, ValueError, "X contains strings"),
        (np.array([[1, {}]] * 5, dtype=object), {}, TypeError, "X must contain only numbers"),
        (GOOD + 1j, {}, ValueError, "complex"),
        (GOOD[:2], {"n_clusters": 3}, ValueError, "n_samples=2 should be >= n_clusters=3"),
        (GOOD, {"n_clusters": 0}, ValueError, "n_clusters=0"),
        (GOOD, {"n_clusters": 2.5}, TypeError, "n_clusters must be an integer"),
        (GOOD, {"init": np.zeros((2, 3)), "n_clusters": 3}, ValueError, r"init array has shape \(2, 3\)"),
        (GOOD, {"init": np.zeros((3, 2)), "n_clusters": 3}, ValueError, "n_features"),
        (GOOD, {"init": "nope"}, ValueError, "init='nope'"),
        (GOOD, {"algorithm": "elkan2"}, ValueError, "algorithm='elkan2'"),
        (GOOD, {"max_iter": 0}, ValueError, "max_iter=0"),
        (GOOD, {"tol": -1.0}, ValueError, "tol=-1.0"),
        (GOOD, {"n_init": 0}, ValueError, "n_init=0"),
        (GOOD, {"n_threads": 0}, ValueError, "n_threads=0"),
        (GOOD, {"random_state": "x"}, ValueError, "random_state"),
    ],
)
def test_bad_input(X, kwargs, exc, match):
    params = {"n_clusters": 2, **kwargs}
    with pytest.raises(exc, match=match):
        KMeans(**params).fit(X)


@pytest.mark.parametrize(
    "sw, match",
    [
        (np.full(20, np.nan), "sample_weight contains NaN"),
        (np.full(20, -1.0), "negative"),
        (np.zeros(20), "sums to zero"),
        (np.ones(19), r"sample_weight.shape == \(19,\), expected \(20,\)"),
    ],
)
def test_bad_sample_weight(sw, match):
    with pytest.raises(ValueError, match=match):
        KMeans(2).fit(GOOD, sample_weight=sw)


def test_predict_before_fit_and_wrong_width():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        KMeans(2).predict(GOOD)
    km = KMeans(2, random_state=0).fit(GOOD)
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3"):
        km.predict(GOOD[:, :2])


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(KMeans(), expected_failed_checks={})
