"""MixtureSelection: the choice on data from known mixtures, ICL against BIC,
results_ against a plain loop of GaussianMixture fits, failed grid points,
Dask input, invariances, scikit-learn's checks."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmgmm import ConvergenceWarning, GaussianMixture, MixtureSelection
from kmgmm._criteria import expected_complete_loglik
from kmgmm._gaussian import KernelModel

pytestmark = pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
TYPES = ("full", "tied", "diag", "spherical")


def known_mixture(covariance_type, n=3000, seed=0):
    """Three well separated components in 2-D of the given covariance type."""
    rng = np.random.RandomState(seed)
    means = np.array([[0.0, 0.0], [7.0, 1.0], [1.0, 8.0]])
    if covariance_type == "full":
        covs = [[[2.0, 1.2], [1.2, 1.0]], [[1.0, -0.7], [-0.7, 1.0]],
                [[0.3, 0.0], [0.0, 2.0]]]
    elif covariance_type == "tied":
        covs = [[[1.5, 0.9], [0.9, 1.0]]] * 3
    elif covariance_type == "diag":
        covs = [np.diag([2.0, 0.3]), np.diag([0.4, 1.5]), np.diag([1.0, 0.2])]
    else:
        covs = [np.eye(2) * s for s in (0.3, 1.0, 2.0)]
    y = rng.choice(3, size=n, p=[0.3, 0.3, 0.4])
    return np.vstack([rng.multivariate_normal(means[j], covs[j]) for j in y]), y


@pytest.mark.parametrize("covariance_type", TYPES)
def test_picks_the_true_k_and_type(covariance_type):
    X, _ = known_mixture(covariance_type)
    sel = MixtureSelection(range(1, 7), random_state=0).fit(X)
    assert sel.best_params_ == {"n_components": 3, "covariance_type": covariance_type}
    assert isinstance(sel.best_estimator_, GaussianMixture)
    assert sel.best_estimator_.n_components == 3


def test_icl_prefers_fewer_components_than_bic_on_overlapping_clusters():
    rng = np.random.RandomState(1)
    # Two components two standard deviations apart: the likelihood wants
    # both, but their responsibilities overlap heavily.
    X = np.vstack([rng.standard_normal((2500, 2)),
                   rng.standard_normal((2500, 2)) + [2.0, 0.0]])
    common = {"n_components": range(1, 5), "covariance_types": ("full", "diag"),
                  "random_state": 0}
    bic = MixtureSelection(criterion="bic", **common).fit(X)
    icl = MixtureSelection(criterion="icl", **common).fit(X)
    assert bic.best_params_["n_components"] == 2
    assert icl.best_params_["n_components"] == 1
    # ICL = BIC + 2 x entropy: never below BIC, equal for one component.
    r = icl.results_
    assert np.all(r["icl"] >= r["bic"])
    one = r["n_components"] == 1
    np.testing.assert_allclose(r["icl"][one], r["bic"][one], rtol=1e-12)


def _entropy_direct(gm, X):
    resp = gm.predict_proba(X).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(resp > 0, resp * np.log(resp), 0.0))


def test_results_equal_a_loop_of_gaussian_mixture_fits(mixture):
    X, _, _ = mixture(1500, 3, 3, spread=2.5, seed=4)
    ks, types = [1, 2, 3, 4], ["full", "diag", "spherical"]
    sel = MixtureSelection(ks, covariance_types=types, criterion="icl",
                           random_state=3).fit(X)
    r = sel.results_
    keys = {"n_components", "covariance_type", "bic", "icl", "aic", "log_likelihood",
            "n_iter", "converged", "fit_time", "message"}
    assert set(r) == keys
    assert all(len(v) == len(ks) * len(types) for v in r.values())
    np.testing.assert_array_equal(r["n_components"], np.repeat(ks, len(types)))
    np.testing.assert_array_equal(r["covariance_type"], types * len(ks))
    assert np.all(r["fit_time"] > 0) and np.all(r["converged"])
    assert np.all(r["message"] == "")
    n = X.shape[0]
    for i, (k, t) in enumerate(zip(r["n_components"], r["covariance_type"])):
        gm = GaussianMixture(int(k), covariance_type=str(t), random_state=3).fit(X)
        assert r["n_iter"][i] == gm.n_iter_
        np.testing.assert_allclose(r["bic"][i], gm.bic(X), rtol=1e-10)
        np.testing.assert_allclose(r["aic"][i], gm.aic(X), rtol=1e-10)
        np.testing.assert_allclose(r["log_likelihood"][i], gm.score(X), rtol=1e-10)
        # ICL's entropy from the pass statistics = the entropy of predict_proba.
        np.testing.assert_allclose(r["icl"][i] - r["bic"][i],
                                   2 * _entropy_direct(gm, X), rtol=1e-6, atol=1e-6 * n)
    best = int(np.argmin(r["icl"]))
    assert sel.best_index_ == best
    assert sel.best_params_ == {"n_components": int(r["n_components"][best]),
                                "covariance_type": str(r["covariance_type"][best])}
    gm = GaussianMixture(**{k: v for k, v in sel.best_params_.items()},
                         random_state=3).fit(X)
    np.testing.assert_allclose(sel.best_estimator_.means_, gm.means_, rtol=1e-10)
    np.testing.assert_array_equal(sel.predict(X), gm.predict(X))
    np.testing.assert_allclose(sel.predict_proba(X), gm.predict_proba(X), rtol=1e-10)
    np.testing.assert_allclose(sel.score(X), gm.score(X), rtol=1e-12)
    assert sel.n_features_in_ == 3


@pytest.mark.parametrize("covariance_type", TYPES)
def test_expected_complete_loglik_equals_numpy(mixture, dtype, covariance_type):
    """The entropy's other half from the pass statistics, against the sum over
    the responsibilities in NumPy, far from the origin."""
    from sklearn.mixture import GaussianMixture as SkGMM

    X, _, _ = mixture(800, 3, 3, spread=3.0, dtype=dtype, seed=7)
    X = X + np.asarray(1e4 if dtype == np.float64 else 1e2, dtype)
    sk = SkGMM(3, covariance_type=covariance_type, random_state=0).fit(X.astype(np.float64))
    model = KernelModel(sk.weights_, sk.means_, sk.precisions_cholesky_, covariance_type,
                        X.astype(np.float64).mean(axis=0), X.dtype)
    model.prec_chol = sk.precisions_cholesky_
    _, (nk, _, s2) = model.run(X, np.ones(X.shape[0], X.dtype), hard=False, n_threads=2,
                               stats=True)
    got = expected_complete_loglik(model, nk, s2, covariance_type)
    log_p = sk._estimate_weighted_log_prob(X.astype(np.float64))
    resp = np.exp(sk._estimate_log_prob_resp(X.astype(np.float64))[1])
    want = np.sum(resp * log_p)
    np.testing.assert_allclose(got, want, rtol=1e-9 if dtype == np.float64 else 1e-4)


def test_degenerate_grid_points_are_recorded_and_never_win():
    # Five distinct points, repeated: no covariance of more than one of them
    # can be estimated without regularisation.
    rng = np.random.RandomState(0)
    points = rng.standard_normal((5, 2)) * 3
    X = points[rng.randint(5, size=60)]
    sel = MixtureSelection([1, 2, 5, 80], covariance_types=("full", "diag"),
                           reg_covar=0.0, random_state=0).fit(X)
    r = sel.results_
    failed = ~np.isfinite(r["bic"])
    assert failed.any() and not failed.all()
    assert np.all(~r["converged"][failed])
    assert np.all(np.isinf(r["icl"][failed]) & np.isinf(r["aic"][failed]))
    assert all(m for m in r["message"][failed])
    assert np.all(failed[r["n_components"] == 80])       # more components than rows
    assert np.any("80 exceeds the 60 rows" in m for m in r["message"])
    assert np.isfinite(r["bic"][sel.best_index_])
    assert np.isfinite(sel.score(X))


def test_every_point_failing_is_an_error():
    X = np.repeat(np.random.RandomState(0).standard_normal((3, 2)), 10, axis=0)
    with pytest.raises(ValueError, match="Every grid point failed"):
        MixtureSelection([3, 50], reg_covar=0.0, random_state=0).fit(X)


@pytest.mark.parametrize("params, error, match", [
    ({"n_components": []}, ValueError, "n_components is empty"),
    ({"n_components": [0, 2]}, ValueError, "every count must be >= 1"),
    ({"n_components": [1.5]}, TypeError, "must hold integers"),
    ({"covariance_types": ("full", "fixed")}, ValueError, "covariance_types holds 'fixed'"),
    ({"covariance_types": ()}, ValueError, "covariance_types is empty"),
    ({"criterion": "likelihood"}, ValueError, "criterion"),
    ({"n_init": 0}, ValueError, "n_init"),
])
def test_bad_parameters(params, error, match):
    X = np.random.RandomState(0).standard_normal((30, 2))
    with pytest.raises(error, match=match):
        MixtureSelection(**params).fit(X)


def test_bad_input_is_refused_before_any_fit():
    X = np.random.RandomState(0).standard_normal((30, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MixtureSelection([1, 2]).fit(X)


def test_n_init_keeps_the_best_run_of_each_point(mixture):
    X, _, _ = mixture(600, 2, 4, spread=3.0, seed=8)
    one = MixtureSelection([4], covariance_types=("full",), random_state=5).fit(X)
    three = MixtureSelection([4], covariance_types=("full",), n_init=3,
                             random_state=5).fit(X)
    gm = GaussianMixture(4, n_init=3, random_state=5).fit(X)
    np.testing.assert_allclose(three.results_["bic"][0], gm.bic(X), rtol=1e-10)
    assert three.results_["log_likelihood"][0] >= one.results_["log_likelihood"][0] - 1e-12


@settings(max_examples=6)
@given(seed=st.integers(0, 2**16), shift=st.sampled_from([0.0, 1e3, -1e5]),
       scale=st.sampled_from([1.0, 2.0 ** -10, 1e3]))
def test_choice_invariant_to_translation_and_scaling(seed, shift, scale):
    X, _ = known_mixture("diag", n=600, seed=seed % 7)
    w = np.random.RandomState(seed).uniform(0.5, 2.0, X.shape[0])
    kw = {"n_components": [1, 2, 3, 4], "covariance_types": ("diag", "spherical"),
              "random_state": seed}
    ref = MixtureSelection(**kw).fit(X, sample_weight=w)
    # reg_covar is in X's units squared: it scales with X.
    moved = MixtureSelection(reg_covar=1e-6 * scale ** 2, **kw).fit(
        X * scale + shift, sample_weight=w)
    assert moved.best_params_ == ref.best_params_
    # Scaling X by s adds n d log(s) to every -2 log L: differences stay.
    diff_ref = ref.results_["bic"] - ref.results_["bic"][0]
    diff = moved.results_["bic"] - moved.results_["bic"][0]
    np.testing.assert_allclose(diff, diff_ref, rtol=1e-5, atol=1e-6 * abs(ref.results_["bic"][0]))


def test_integer_weights_are_repeated_rows(mixture):
    X, _, _ = mixture(300, 2, 2, seed=9)
    reps = np.random.RandomState(0).randint(0, 4, X.shape[0])
    kw = {"n_components": [1], "covariance_types": ("full", "diag")}
    a = MixtureSelection(**kw).fit(X, sample_weight=reps)
    b = MixtureSelection(**kw).fit(np.repeat(X, reps, axis=0))
    for key in ("log_likelihood", "bic", "icl", "aic"):
        np.testing.assert_allclose(a.results_[key], b.results_[key], rtol=1e-10)


def test_dask_input_matches_a_loop_on_dask():
    da = pytest.importorskip("dask.array")
    X, _ = known_mixture("full", n=1200, seed=2)
    Xd = da.from_array(X, chunks=(300, 2))
    sel = MixtureSelection([2, 3, 4], covariance_types=("full", "diag"),
                           random_state=0).fit(Xd)
    assert sel.best_params_ == {"n_components": 3, "covariance_type": "full"}
    r = sel.results_
    for i, (k, t) in enumerate(zip(r["n_components"], r["covariance_type"])):
        gm = GaussianMixture(int(k), covariance_type=str(t), random_state=0).fit(Xd)
        np.testing.assert_allclose(r["bic"][i], gm.bic(Xd), rtol=1e-9)
    labels = sel.predict(Xd)
    assert hasattr(labels, "compute")
    np.testing.assert_array_equal(labels.compute(), sel.best_estimator_.predict(X))


def test_resp_init_on_dask_matches_in_memory():
    da = pytest.importorskip("dask.array")
    X, y = known_mixture("diag", n=900, seed=3)
    ref = GaussianMixture(3, covariance_type="diag", resp_init=y, max_iter=4).fit(X)
    got = GaussianMixture(3, covariance_type="diag", resp_init=y, max_iter=4).fit(
        da.from_array(X, chunks=(250, 2)))
    np.testing.assert_allclose(got.means_, ref.means_, rtol=1e-10)
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=1e-10)


def test_unfitted_and_wrong_features():
    from kmgmm import NotFittedError

    X = np.random.RandomState(0).standard_normal((40, 3))
    with pytest.raises(NotFittedError):
        MixtureSelection().predict(X)
    sel = MixtureSelection([1, 2]).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but MixtureSelection"):
        sel.predict(X[:, :2])


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(MixtureSelection(n_components=(1, 2, 3)), expected_failed_checks={})


# ------------------------------------------------------------- command line
def run_kmgmm(*args, cwd):
    """``python -m kmgmm *args`` in a subprocess, on this checkout's package."""
    import os
    import pathlib
    import subprocess
    import sys

    import kmgmm

    root = str(pathlib.Path(kmgmm.__file__).resolve().parents[1])
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "kmgmm", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env, check=False)


def test_cli_select_table_plot_and_model(tmp_path):
    pytest.importorskip("matplotlib")
    import kmgmm

    X, _ = known_mixture("full", n=1200, seed=5)
    np.save(tmp_path / "data.npy", X)
    proc = run_kmgmm("select", "data.npy", "-k", "1-5", "--covariance-types", "full,diag",
                     "--criterion", "bic", "--seed", "0", "--plot", "bic.png",
                     "-o", "best.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rows = [line for line in lines if line[:1] in (" ", "*") and line[1:6].strip().isdigit()]
    assert len(rows) == 10
    best = [line for line in rows if line.startswith("*")]
    assert len(best) == 1 and best[0].split()[1:3] == ["3", "full"]
    assert "best: k=3, covariance_type=full" in proc.stdout
    png = (tmp_path / "bic.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    model = kmgmm.load(tmp_path / "best.npz")
    ref = MixtureSelection(range(1, 6), covariance_types=("full", "diag"),
                           random_state=0).fit(X)
    np.testing.assert_allclose(model.means_, ref.best_estimator_.means_, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), ref.predict(X))


def test_cli_select_json_and_mistakes(tmp_path):
    import json

    X, _ = known_mixture("spherical", n=600, seed=6)
    np.save(tmp_path / "data.npy", X)
    proc = run_kmgmm("select", "data.npy", "-k", "2,3", "--covariance-types", "spherical",
                     "--criterion", "icl", "--seed", "1", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["best"]["n_components"] == 3
    assert out["results"]["n_components"] == [2, 3]
    for args, message in [
        (("-k", "0-3"), "k must be at least 1"),
        (("--covariance-types", "full,fixed"), "comma-separated types"),
        (("-o", "data.npy"), "is the same file as the data"),
        (("--criterion", "nll"), "invalid choice"),
    ]:
        proc = run_kmgmm("select", "data.npy", *args, cwd=tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_cli_select_plot_without_matplotlib(tmp_path):
    import pathlib
    import subprocess
    import sys

    import kmgmm

    np.save(tmp_path / "data.npy", known_mixture("diag", n=300)[0])
    code = ("import sys; sys.modules['matplotlib'] = None; "
            f"sys.path.insert(0, {str(pathlib.Path(kmgmm.__file__).resolve().parents[1])!r}); "
            "from kmgmm._cli import main; "
            "sys.exit(main(['select', 'data.npy', '-k', '2', '--plot', 'p.png']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 2
    assert "--plot needs matplotlib; install it with pip install 'kmgmm[plot]'" in proc.stderr
    assert not (tmp_path / "p.png").exists()


def test_dask_cluster_matches_in_process_scheduler():
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    X, _ = known_mixture("diag", n=900, seed=4)
    Xd = da.from_array(X, chunks=(200, 2))
    kw = {"n_components": [2, 3], "covariance_types": ("diag", "spherical"),
          "criterion": "icl", "random_state": 0}
    local = MixtureSelection(**kw).fit(Xd)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        remote = MixtureSelection(**kw).fit(Xd)
        resp = GaussianMixture(3, covariance_type="diag", resp_init=known_mixture(
            "diag", n=900, seed=4)[1], max_iter=3).fit(Xd)
    for key in ("bic", "icl", "aic", "log_likelihood"):
        np.testing.assert_allclose(remote.results_[key], local.results_[key], rtol=1e-10)
    assert remote.best_params_ == local.best_params_ == {"n_components": 3,
                                                         "covariance_type": "diag"}
    ref = GaussianMixture(3, covariance_type="diag", resp_init=known_mixture(
        "diag", n=900, seed=4)[1], max_iter=3).fit(X)
    np.testing.assert_allclose(resp.means_, ref.means_, rtol=1e-10)


def test_no_n_by_k_array_during_the_sweep():
    import tracemalloc

    rng = np.random.RandomState(0)
    n, k = 100_000, 40
    X = rng.standard_normal((n, 2))
    sel = MixtureSelection([k], covariance_types=("full", "spherical"), max_iter=3,
                           random_state=0)
    tracemalloc.start()
    try:
        sel.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * k * 8 / 3, f"peak {peak / 1e6:.1f} MB"


def test_collapsed_components_never_win():
    # Three rows carry all the weight: a component per row would have only
    # reg_covar for a covariance and a likelihood spike that wins any criterion.
    X = np.random.RandomState(0).standard_normal((30, 2))
    w = np.zeros(30)
    w[:3] = 1.0
    sel = MixtureSelection([1, 2, 3, 5], covariance_types=("diag",),
                           random_state=0).fit(X, sample_weight=w)
    r = sel.results_
    assert sel.best_params_["n_components"] == 1
    assert np.all(np.isinf(r["bic"][1:])) and not r["converged"][1:].any()
    assert all("less than two rows" in m or "seeding failed" in m for m in r["message"][1:])
