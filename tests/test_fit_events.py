"""The public per-iteration callback and the verbose messages through logging."""
import itertools
import logging
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

from kmgmm import FitProgress, GaussianMixture, KMeans


def blobs(n=1000, d=3, k=3, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-6, 6, (k, d))
    return centers[rng.randint(k, size=n)] + rng.standard_normal((n, d))


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan"])
def test_kmeans_callback_sees_every_iteration(algorithm):
    X = blobs()
    seen = []
    km = KMeans(3, n_init=2, random_state=0, algorithm=algorithm,
                callback=seen.append).fit(X)
    assert all(isinstance(p, FitProgress) for p in seen)
    starts = [p for p in seen if p.stage == "init"]
    assert [(p.run, p.n_init, p.n_iter) for p in starts] == [(1, 2, 0), (2, 2, 0)]
    assert all(math.isnan(p.objective) for p in starts)
    last_run = [p for p in seen if p.stage == "fit" and p.run == 2]
    assert [p.n_iter for p in last_run] == list(range(1, len(last_run) + 1))
    assert all(p.max_iter == 300 and p.estimator == "KMeans" for p in last_run)
    # The inertia reported is the inertia of that pass's assignment: it never rises.
    inertias = [p.objective for p in last_run]
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(inertias))
    assert km.converged_


def test_kmeans_callback_stop_keeps_the_model_reached():
    X = blobs(5000, k=6)
    full = KMeans(6, random_state=0, tol=0, algorithm="lloyd").fit(X)
    assert full.n_iter_ > 3
    stopped = KMeans(6, random_state=0, tol=0, algorithm="lloyd",
                     callback=lambda p: p.stage == "fit" and p.n_iter == 2).fit(X)
    assert stopped.n_iter_ == 2 and not stopped.converged_
    again = KMeans(6, random_state=0, tol=0, algorithm="lloyd", max_iter=2).fit(X)
    np.testing.assert_array_equal(stopped.cluster_centers_, again.cluster_centers_)
    np.testing.assert_array_equal(stopped.labels_, stopped.predict(X))
    assert not again.converged_


def test_mixture_callback_covers_the_initialisation_and_can_stop():
    X = blobs()
    seen = []

    def callback(progress):
        seen.append(progress)
        return progress.stage == "fit" and progress.n_iter == 3

    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a requested stop is no warning
        gm = GaussianMixture(3, random_state=0, tol=0, callback=callback).fit(X)
    stages = [p.stage for p in seen]
    assert stages[0] == "init" and seen[0].n_iter == 0
    init_iters = [p for p in seen if p.stage == "init" and p.n_iter > 0]
    assert init_iters and all(p.max_iter == 300 for p in init_iters)
    assert stages.index("fit") > stages.index("init")
    fits = [p for p in seen if p.stage == "fit"]
    assert [p.n_iter for p in fits] == [1, 2, 3]
    assert all(p.max_iter == 100 for p in fits)
    assert gm.n_iter_ == 3 and not gm.converged_
    assert gm.lower_bound_ == fits[-1].objective


def test_callback_is_a_parameter_checked_and_not_saved(tmp_path):
    with pytest.raises(TypeError, match="callback must be None or a callable"):
        KMeans(2, callback=3).fit(blobs())
    km = KMeans(2, random_state=0, callback=lambda p: None).fit(blobs())
    import kmgmm

    loaded = kmgmm.load(km.save(tmp_path / "m.npz"))
    assert loaded.callback is None and loaded.converged_ == km.converged_
    from kmgmm._model_files import load_model_and_header

    header = load_model_and_header(tmp_path / "m.npz")[1]
    assert "callback" not in header["params"]
    assert "callback" not in header.get("params_not_saved", [])


def test_an_exception_from_the_callback_ends_the_fit():
    def boom(progress):
        if progress.stage == "fit":
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        GaussianMixture(2, random_state=0, callback=boom).fit(blobs())


def test_verbose_goes_to_the_kmgmm_logger(caplog):
    X = blobs()
    with caplog.at_level(logging.INFO, logger="kmgmm"):
        GaussianMixture(2, random_state=0, verbose=1).fit(X)
    records = [r for r in caplog.records if r.name == "kmgmm"]
    assert any("iteration 1: log-likelihood" in r.getMessage() for r in records)
    assert all(r.levelno == logging.INFO for r in records)
    caplog.clear()
    KMeans(2, random_state=0).fit(X)          # verbose=0 logs nothing
    assert not [r for r in caplog.records if r.name == "kmgmm"]


def test_verbose_prints_on_stdout_when_logging_is_not_configured(tmp_path,
                                                                package_env):
    code = ("import numpy as np, kmgmm; X = np.random.RandomState(0).randn(300, 2); "
            "kmgmm.KMeans(2, random_state=0, verbose=1).fit(X)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env=package_env)
    assert "Iteration 1: inertia" in out.stdout
    code_routed = ("import logging, io, numpy as np, kmgmm; s = io.StringIO(); "
                   "logging.getLogger('kmgmm').addHandler(logging.StreamHandler(s)); "
                   "X = np.random.RandomState(0).randn(300, 2); "
                   "kmgmm.KMeans(2, random_state=0, verbose=1).fit(X); "
                   "assert 'Iteration 1' in s.getvalue()")
    out = subprocess.run([sys.executable, "-c", code_routed], capture_output=True,
                         text=True, check=True, cwd=tmp_path, env=package_env)
    assert "Iteration" not in out.stdout
