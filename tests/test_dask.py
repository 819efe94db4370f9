"""KMeans and GaussianMixture on a Dask cluster against the in-memory fit.

One ``distributed.LocalCluster`` (2 worker processes, 1 thread each) serves
the whole module.
"""
import concurrent.futures
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import kmgmm  # noqa: E402
from kmgmm._engines import dask as dask_engine, dask_bounds, dask_runner  # noqa: E402


RTOL = 1e-10

# Short fits on purpose: equality with the in-memory fit, not convergence.
pytestmark = pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical", "fixed"]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def data(mixture):
    X, _, means = mixture(2_000, 4, 5, spread=3.0, seed=3)
    w = np.random.RandomState(4).uniform(0.2, 3.0, X.shape[0])
    return X, w, means


def _as_dask(X, w, chunks):
    Xd = da.from_array(X, chunks=(chunks, X.shape[1]))
    wd = None if w is None else da.from_array(w, chunks=(Xd.chunks[0],))
    return Xd, wd


def _close(a, b, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=0)


def test_import_kmgmm_does_not_import_dask(tmp_path, package_env):
    code = ("import kmgmm, sys; kmgmm.KMeans, kmgmm.GaussianMixture, kmgmm.load; "
            "assert 'dask' not in sys.modules, 'dask imported'")
    # From an empty directory: the package under test, not a source checkout.
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path,
                   env=package_env)


# ------------------------------------------------------------------ KMeans
@pytest.mark.parametrize("tol", [0.0, 1e-4])
@pytest.mark.parametrize("chunks", [(600, 3, 700, 697), 2_000], ids=["irregular", "single"])
def test_kmeans_matches_in_memory(client, data, tol, chunks):
    X, w, _ = data
    init = X[[0, 1, 2, 3, 4]]
    ref = kmgmm.KMeans(5, init=init, tol=tol).fit(X, sample_weight=w)
    Xd, wd = _as_dask(X, w, chunks)
    km = kmgmm.KMeans(5, init=init, tol=tol).fit(Xd, sample_weight=wd)
    assert isinstance(km.labels_, da.Array)
    np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
    _close(km.cluster_centers_, ref.cluster_centers_)
    _close(km.inertia_, ref.inertia_)
    assert km.n_iter_ == ref.n_iter_
    assert km.cluster_centers_.dtype == np.float64


def test_kmeans_relocates_empty_clusters_as_in_memory(client, data):
    X, w, _ = data
    # Two centres far from every row: they start empty and are relocated.
    init = np.vstack([X[:3], [[1e3] * 4, [-1e3] * 4]])
    ref = kmgmm.KMeans(5, init=init, tol=0).fit(X, sample_weight=w)
    Xd, wd = _as_dask(X, w, 450)
    km = kmgmm.KMeans(5, init=init, tol=0).fit(Xd, sample_weight=wd)
    np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
    _close(km.cluster_centers_, ref.cluster_centers_)
    assert km.n_iter_ == ref.n_iter_


def test_kmeans_block_smaller_than_k_and_float32(client, mixture):
    X, _, _ = mixture(1_500, 3, 8, spread=0.5, dtype=np.float32, seed=5)
    init = X[:8]
    ref = kmgmm.KMeans(8, init=init, tol=0).fit(X)
    Xd = da.from_array(X, chunks=((5, 2, 600, 893), (3,)))
    km = kmgmm.KMeans(8, init=init, tol=0).fit(Xd)
    assert km.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
    _close(km.cluster_centers_, ref.cluster_centers_, rtol=1e-6)
    _close(km.inertia_, ref.inertia_, rtol=1e-6)


def test_kmeans_predictions_are_lazy_and_match(client, data):
    X, w, _ = data
    ref = kmgmm.KMeans(5, init=X[:5]).fit(X)
    Xd, wd = _as_dask(X, w, 700)
    labels = ref.predict(Xd)
    distances = ref.transform(Xd)
    assert isinstance(labels, da.Array) and isinstance(distances, da.Array)
    np.testing.assert_array_equal(labels.compute(), ref.predict(X))
    _close(distances.compute(), ref.transform(X))
    _close(ref.score(Xd), ref.score(X))
    _close(ref.score(Xd, sample_weight=wd), ref.score(X, sample_weight=w))


def test_kmeans_parallel_seeding_is_as_good_as_kmeans_plusplus(client, mixture):
    X, _, _ = mixture(20_000, 6, 20, spread=0.3, seed=7)
    Xd = da.from_array(X, chunks=5_000)
    local = [kmgmm.KMeans(20, random_state=s, max_iter=1).fit(X) for s in range(4)]
    dist = [kmgmm.KMeans(20, random_state=s, max_iter=1).fit(Xd) for s in range(4)]
    # Inertia after one Lloyd step from the seeds, averaged over four seeds.
    mean_local = np.mean([m.inertia_ for m in local])
    mean_dist = np.mean([m.inertia_ for m in dist])
    assert mean_dist <= 1.05 * mean_local
    fitted = kmgmm.KMeans(20, random_state=0).fit(Xd)
    assert fitted.inertia_ <= 1.03 * kmgmm.KMeans(20, random_state=0).fit(X).inertia_


@pytest.mark.parametrize("init", ["k-means++-sample", "random"])
def test_kmeans_sample_seedings(client, data, init):
    X, w, _ = data
    Xd, wd = _as_dask(X, w, 500)
    km = kmgmm.KMeans(5, init=init, random_state=0, n_init=2).fit(Xd, sample_weight=wd)
    ref = kmgmm.KMeans(5, random_state=0, n_init=5).fit(X, sample_weight=w)
    assert km.inertia_ <= 1.2 * ref.inertia_


def test_kmeans_dask_dataframe(client, data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, _, _ = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    ddf = dd.from_pandas(frame, npartitions=3)
    km = kmgmm.KMeans(5, init=X[:5]).fit(ddf)
    ref = kmgmm.KMeans(5, init=X[:5]).fit(frame)
    np.testing.assert_array_equal(km.feature_names_in_, ref.feature_names_in_)
    np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
    np.testing.assert_array_equal(km.predict(ddf).compute(), ref.labels_)


def test_block_tasks_use_their_workers_threads(client):
    # The nanny sets OMP_NUM_THREADS=1; the count comes from the worker.
    assert client.submit(dask_runner.task_threads, None, pure=False).result() == 1
    assert client.submit(dask_runner.task_threads, 3, pure=False).result() == 3


def test_without_client_the_default_scheduler_is_used(data, monkeypatch):
    monkeypatch.setattr(dask_engine, "runner", dask_runner.LocalRunner)
    X, w, _ = data
    ref = kmgmm.KMeans(5, init=X[:5], tol=0).fit(X, sample_weight=w)
    Xd, wd = _as_dask(X, w, 512)
    km = kmgmm.KMeans(5, init=X[:5], tol=0).fit(Xd, sample_weight=wd)
    np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
    _close(km.cluster_centers_, ref.cluster_centers_)


# ------------------------------------------------------- Gaussian mixture
def _gmm_kwargs(cov_type, assignment, means):
    return dict(covariance_type=cov_type, assignment=assignment,
                variance=4.0 if cov_type == "fixed" else None,
                means_init=means, tol=1e-9, max_iter=15)


def _assert_same_mixture(g, ref, rtol=RTOL):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        _close(getattr(g, name), getattr(ref, name), rtol=rtol)
    _close(g.lower_bound_, ref.lower_bound_, rtol=rtol)
    assert g.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("assignment", ["soft", "hard"])
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_gmm_matches_in_memory(client, data, cov_type, assignment):
    X, w, means = data
    kwargs = _gmm_kwargs(cov_type, assignment, means + 0.5)
    ref = kmgmm.GaussianMixture(5, **kwargs)
    ref_labels = ref.fit_predict(X, sample_weight=w)
    Xd, wd = _as_dask(X, w, (300, 1000, 700))
    g = kmgmm.GaussianMixture(5, **kwargs)
    labels = g.fit_predict(Xd, sample_weight=wd)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), ref_labels)
    _assert_same_mixture(g, ref)


@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_gmm_from_given_parameters_single_block_float32(client, data, cov_type):
    X, w, means = data
    X = X.astype(np.float32)
    prec = {"full": np.stack([np.eye(4) * 0.2] * 5), "diag": np.full((5, 4), 0.2)}
    kwargs = dict(covariance_type=cov_type, weights_init=np.full(5, 0.2),
                  means_init=means, precisions_init=prec[cov_type], max_iter=10,
                  tol=1e-9)
    ref = kmgmm.GaussianMixture(5, **kwargs).fit(X)
    g = kmgmm.GaussianMixture(5, **kwargs).fit(da.from_array(X, chunks=-1))
    assert g.means_.dtype == np.float32
    _assert_same_mixture(g, ref, rtol=1e-5)


def test_gmm_predictions_are_lazy_and_match(client, data):
    X, w, means = data
    ref = kmgmm.GaussianMixture(5, covariance_type="full", means_init=means).fit(X)
    Xd, wd = _as_dask(X, w, 800)
    for method in ("predict", "predict_proba", "score_samples"):
        out = getattr(ref, method)(Xd)
        assert isinstance(out, da.Array)
        _close(out.compute(), getattr(ref, method)(X), rtol=1e-12)
    _close(ref.score(Xd), ref.score(X), rtol=1e-12)
    _close(ref.score(Xd, sample_weight=wd), ref.score(X, sample_weight=w), rtol=1e-12)


def test_gmm_kmeans_initialisation_on_the_cluster(client, data):
    X, _, _ = data
    g = kmgmm.GaussianMixture(5, covariance_type="diag", random_state=0)
    g.fit(da.from_array(X, chunks=500))
    ref = kmgmm.GaussianMixture(5, covariance_type="diag", random_state=0).fit(X)
    assert g.converged_
    assert abs(g.lower_bound_ - ref.lower_bound_) < 1e-3 * abs(ref.lower_bound_)


# ------------------------------------------------------------ bad input
def test_nan_in_a_block_names_X(client, data):
    X, _, _ = data
    X = X.copy()
    X[1500, 2] = np.nan
    Xd = da.from_array(X, chunks=500)
    with pytest.raises(ValueError, match="X contains NaN"):
        kmgmm.KMeans(5, init=X[:5]).fit(Xd)
    with pytest.raises(ValueError, match="X contains NaN"):
        kmgmm.GaussianMixture(5, means_init=X[:5]).fit(Xd)


def test_bad_input_errors_match_in_memory(client, data):
    X, w, _ = data
    Xd, wd = _as_dask(X, -w, 500)
    with pytest.raises(ValueError, match="sample_weight contains negative"):
        kmgmm.KMeans(5).fit(Xd, sample_weight=wd)
    with pytest.raises(ValueError, match="n_samples=4 should be >= n_clusters=5"):
        kmgmm.KMeans(5).fit(Xd[:4])
    with pytest.raises(ValueError, match="Expected a 2-D array for X"):
        kmgmm.KMeans(5).fit(Xd[:, 0])
    with pytest.raises(ValueError, match="sample_weight.shape"):
        kmgmm.KMeans(5).fit(Xd, sample_weight=wd[:10])
    with pytest.raises(ValueError, match="init='bogus' is not supported"):
        kmgmm.KMeans(5, init="bogus").fit(Xd)
    fitted = kmgmm.KMeans(5, init=X[:5]).fit(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        fitted.predict(Xd[:, :3])


# --------------------------------------------------------- fault tolerance
def _fit_within(est, X, seconds=180):
    # In a thread, so that a fit that never finishes fails the test.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(est.fit, X).result(timeout=seconds)


def _kill_one_worker_at(client, iteration):
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]

    def callback(progress):
        if progress.stage == "fit" and progress.n_iter == iteration:
            os.kill(pids[victim], signal.SIGKILL)
    return callback, pids[victim]


@pytest.mark.parametrize("estimator", ["kmeans", "gmm"])
def test_fit_survives_a_killed_worker(client, estimator, mixture):
    X, _, means = mixture(40_000, 6, 6, spread=4.0, seed=11)
    if estimator == "kmeans":
        make = lambda: kmgmm.KMeans(6, init=X[:6], tol=0, max_iter=8)  # noqa: E731
    else:
        make = lambda: kmgmm.GaussianMixture(  # noqa: E731
            6, covariance_type="diag", means_init=means + 1.0, tol=0, max_iter=8)
    ref = make().fit(X)
    Xd = da.from_array(X, chunks=5_000)
    est = make()
    callback, killed_pid = _kill_one_worker_at(client, 2)
    est.set_params(callback=callback)
    _fit_within(est, Xd)
    est.set_params(callback=None)
    if estimator == "kmeans":
        np.testing.assert_array_equal(est.labels_.compute(), ref.labels_)
        _close(est.cluster_centers_, ref.cluster_centers_)
        assert est.n_iter_ == ref.n_iter_
    else:
        _assert_same_mixture(est, ref)
    _assert_replaced(client, killed_pid)


def _assert_replaced(client, killed_pid):
    # The killed worker really died (and the nanny started another): wait
    # until the scheduler has dropped it, then ask every worker its pid.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pids = client.run(os.getpid)
        except OSError:     # CommClosedError: a broadcast to the dead worker
            pids = None
        if pids is not None and len(pids) == 2:
            break
        time.sleep(0.5)
    assert pids is not None and len(pids) == 2
    assert killed_pid not in pids.values()


def test_hamerly_on_the_cluster_relocates_beside_each_blocks_state(client):
    # Empty clusters mid-fit make Hamerly move rows and recount its statistics
    # block by block: those tasks must run where each block's bounds are.
    rng = np.random.RandomState(5)
    means = rng.uniform(-20, 20, size=(6, 8))
    X = means[rng.randint(6, size=6000)] + rng.standard_normal((6000, 8))
    init = np.vstack([X[:4], np.full((2, 8), 500.0)])
    ref = kmgmm.KMeans(6, init=init, algorithm="hamerly", tol=0).fit(X)
    Xd, _ = _as_dask(X, None, 600)
    km = kmgmm.KMeans(6, init=init, algorithm="hamerly", tol=0, verbose=1).fit(Xd)
    np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
    _close(km.cluster_centers_, ref.cluster_centers_)


# ------------------------------------------------- Hamerly's state on the cluster
def _relocating_data():
    rng = np.random.RandomState(5)
    means = rng.uniform(-20, 20, size=(6, 8))
    X = means[rng.randint(6, size=6000)] + rng.standard_normal((6000, 8))
    # Two centres far from every row: empty at once, relocated.
    return X, np.vstack([X[:4], np.full((2, 8), 500.0)])


def test_hamerly_tasks_stay_beside_their_state_while_a_worker_is_busy():
    # One worker kept busy and eager work stealing: a task that reads a
    # block's state must still run where the state is (no block rebuilt).
    X, init = _relocating_data()
    ref = kmgmm.KMeans(6, init=init, algorithm="hamerly", tol=0, max_iter=12).fit(X)
    chunks = (300, 900, 150, 1200, 450, 600, 150, 1050, 300, 750, 50, 100)
    config = {"distributed.scheduler.work-stealing": True,
              "distributed.scheduler.work-stealing-interval": "5ms"}
    with dask.config.set(config), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        busy_worker = min(c.scheduler_info()["workers"])
        busy = []

        def keep_busy(progress):
            if progress.stage == "fit":
                busy.append(c.submit(time.sleep, 0.2, workers=[busy_worker], pure=False))

        Xd, _ = _as_dask(X, None, chunks)
        km = kmgmm.KMeans(6, init=init, algorithm="hamerly", tol=0, max_iter=12,
                          callback=keep_busy)
        _fit_within(km, Xd)
        distributed.wait(busy, timeout=60)
        labels = km.labels_.compute()
        rebuilt = c.run(dask_bounds.rebuilt_blocks)
    assert len(busy) == ref.n_iter_
    assert sum(rebuilt.values()) == 0
    np.testing.assert_array_equal(labels, ref.labels_)
    _close(km.cluster_centers_, ref.cluster_centers_)
    assert km.n_iter_ == ref.n_iter_


def test_hamerly_rebuilds_lost_state_as_it_was(data, monkeypatch):
    # Every block's state dropped after every iteration (as a lost worker
    # drops it): the relocation's tasks rebuild it, the passes start over,
    # and the fit is the in-memory one, iteration for iteration.
    monkeypatch.setattr(dask_engine, "runner", dask_runner.LocalRunner)
    X, init = _relocating_data()
    for max_iter in (3, 30):
        ref = kmgmm.KMeans(6, init=init, algorithm="hamerly", tol=0,
                           max_iter=max_iter).fit(X)
        before = dask_bounds.rebuilt_blocks()
        km = kmgmm.KMeans(6, init=init, algorithm="hamerly", tol=0, max_iter=max_iter,
                          callback=lambda progress: dask_bounds._BLOCK_STATES.clear())
        km.fit(_as_dask(X, None, 700)[0])
        assert dask_bounds.rebuilt_blocks() > before
        np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
        _close(km.cluster_centers_, ref.cluster_centers_)
        assert km.n_iter_ == ref.n_iter_


def test_hamerly_survives_a_worker_killed_before_relocating(client):
    # The worker dies just before the relocation's tasks, which are pinned
    # to it: they run elsewhere and rebuild the state instead of waiting.
    X, init = _relocating_data()
    ref = kmgmm.KMeans(6, init=init, algorithm="hamerly", tol=0).fit(X)
    Xd, _ = _as_dask(X, None, 600)
    callback, killed_pid = _kill_one_worker_at(client, 1)
    km = kmgmm.KMeans(6, init=init, algorithm="hamerly", tol=0, callback=callback)
    _fit_within(km, Xd)
    km.set_params(callback=None)
    np.testing.assert_array_equal(km.labels_.compute(timeout=60), ref.labels_)
    _close(km.cluster_centers_, ref.cluster_centers_)
    assert km.n_iter_ == ref.n_iter_
    _assert_replaced(client, killed_pid)
