"""The per-iteration hook the command line uses for progress and Ctrl-C."""
import io
import pickle

import numpy as np
import pytest

import kmgmm
from kmgmm import KMeans
from kmgmm._progress import IterationClock, Interrupted, ProgressLine, StopRequest, watch


def test_kmeans_calls_the_hook_once_per_iteration(mixture):
    X = mixture(2000, 2, 5, spread=3.0, seed=4)[0]
    calls = []
    km = KMeans(5, random_state=0, tol=0)
    with watch(km, lambda *args: calls.append(args)):
        km.fit(X)
    assert km.callback is None
    assert [c[0] for c in calls] == list(range(1, km.n_iter_ + 1))
    assert all(isinstance(v, float) and change >= 0 for _, v, change in calls)
    assert calls[-1][2] == 0.0  # strict convergence: the centres stop moving
    plain = KMeans(5, random_state=0, tol=0).fit(X)  # no hook: the same fit
    np.testing.assert_array_equal(plain.cluster_centers_, km.cluster_centers_)
    assert plain.n_iter_ == km.n_iter_
    pickle.dumps(km)


def test_an_exception_from_the_hook_ends_the_fit(mixture):
    X = mixture(500, 2, 3, seed=5)[0]
    km = KMeans(3, random_state=0)

    def stop(n_iter, objective, change):
        raise Interrupted(f"iteration {n_iter}")

    with pytest.raises(Interrupted, match="iteration 1"), watch(km, stop):
        km.fit(X)
    assert not hasattr(km, "cluster_centers_")


def test_gaussian_mixture_calls_the_hook(mixture):
    if not hasattr(kmgmm, "GaussianMixture"):
        pytest.skip("kmgmm.GaussianMixture is not in this build")
    X = mixture(2000, 2, 3, seed=6)[0]
    calls = []
    gmm = kmgmm.GaussianMixture(3, random_state=0, tol=1e-6, max_iter=50)
    with watch(gmm, lambda *args: calls.append(args)):
        gmm.fit(X)
    assert [c[0] for c in calls] == list(range(1, gmm.n_iter_ + 1))
    assert calls[-1][1] == pytest.approx(gmm.lower_bound_)


def test_stop_request_raises_only_after_a_request():
    with StopRequest() as stop:
        stop.check("anywhere")
        stop.requested = True
        with pytest.raises(Interrupted):
            stop.check("iteration 3")


def test_progress_line_throttles_and_can_be_silenced():
    out = io.StringIO()
    line = ProgressLine(out)
    for i in range(100):
        line.update(f"step {i}")
    line.update("last", force=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "step 0" and lines[-1] == "last" and len(lines) < 10
    quiet = io.StringIO()
    ProgressLine(quiet, enabled=False).update("x", force=True)
    assert quiet.getvalue() == ""


def test_iteration_clock_counts_only_consecutive_iterations(monkeypatch):
    import kmgmm._progress as progress

    now = iter([0.0, 10.0, 11.0, 12.0, 50.0, 52.0])  # two runs, n_init=2
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(now))
    clock = IterationClock()
    for n_iter in (1, 2, 3, 4, 1, 2):
        clock.tick(n_iter)
    assert clock.count == 4
    assert clock.seconds_per_iteration(99.0, 6) == pytest.approx((10 + 1 + 1 + 2) / 4)
    assert IterationClock().seconds_per_iteration(6.0, 3) == 2.0
