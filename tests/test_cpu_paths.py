"""The CPU paths of the kernels: KMGMM_CPU, show_config, and agreement of
every path this machine runs on a whole fit and an EM pass."""
import os
import subprocess
import sys

import numpy as np
import pytest

import kmgmm
from kmgmm import _kernels


def _path_in_subprocess(value):
    """(cpu path, stderr) of a fresh interpreter with KMGMM_CPU=value."""
    env = dict(os.environ)
    env.pop("KMGMM_CPU", None)
    if value is not None:
        env["KMGMM_CPU"] = value
    out = subprocess.run(
        [sys.executable, "-c", "import kmgmm._kernels as k; print(k.cpu_path())"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
        cwd=os.path.dirname(os.path.dirname(kmgmm.__file__)))
    return out.stdout.strip(), out.stderr


def test_default_path_is_the_widest_the_cpu_runs():
    path, err = _path_in_subprocess(None)
    assert path == _kernels.supported_cpu_paths()[-1]
    assert "Warning" not in err


@pytest.mark.parametrize("name", _kernels.CPU_PATHS)
def test_kmgmm_cpu_forces_a_path_the_cpu_runs(name):
    path, err = _path_in_subprocess(name.upper() if name == "avx2" else name)
    if name in _kernels.supported_cpu_paths():
        assert path == name
        assert "Warning" not in err
    else:
        # never a path the CPU lacks: a warning and the best available
        assert path == _kernels.supported_cpu_paths()[-1]
        assert "does not run" in err


def test_kmgmm_cpu_unknown_name_warns_and_takes_the_best():
    path, err = _path_in_subprocess("sse9")
    assert path == _kernels.supported_cpu_paths()[-1]
    assert "KMGMM_CPU='sse9' is not one of baseline, avx2, avx512" in err


def test_show_config_names_the_path():
    import io
    buf = io.StringIO()
    kmgmm.show_config(file=buf)
    assert f"kernels: {_kernels.cpu_path()}" in buf.getvalue()


def test_private_setter_refuses_a_path_the_cpu_lacks():
    with pytest.raises(ValueError, match="cpu path 'sse9'"):
        _kernels._set_cpu_path("sse9")


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_every_path_fits_the_same_model(algorithm, dtype):
    # Well-separated blobs (no near-ties): the same labels on every path,
    # centres equal to rounding.
    rng = np.random.RandomState(3)
    means = 8 * rng.standard_normal((10, 24))
    X = (means[rng.randint(10, size=4_000)] + rng.standard_normal((4_000, 24))).astype(dtype)
    fits = {}
    for path in ["portable", *_kernels.supported_cpu_paths()]:
        previous = _kernels._set_cpu_path(path)
        try:
            fits[path] = kmgmm.KMeans(10, init=X[:10].copy(), max_iter=20, tol=0,
                                      algorithm=algorithm, n_threads=2).fit(X)
        finally:
            _kernels._set_cpu_path(previous)
    ref = fits.pop("portable")
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for path, km in fits.items():
        np.testing.assert_array_equal(km.labels_, ref.labels_, err_msg=path)
        np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=rtol,
                                   atol=rtol * np.abs(X).max(), err_msg=path)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_every_path_gives_the_same_mixture(covariance_type):
    rng = np.random.RandomState(4)
    means = 6 * rng.standard_normal((4, 5))
    X = means[rng.randint(4, size=3_000)] + rng.standard_normal((3_000, 5))
    out = {}
    for path in _kernels.supported_cpu_paths():
        previous = _kernels._set_cpu_path(path)
        try:
            gm = kmgmm.GaussianMixture(4, covariance_type=covariance_type, max_iter=10,
                                       tol=0, random_state=0, n_threads=2).fit(X)
            out[path] = (gm.means_, gm.score_samples(X))
        finally:
            _kernels._set_cpu_path(previous)
    ref = out.pop("baseline")
    for path, (means_, scores) in out.items():
        np.testing.assert_allclose(means_, ref[0], rtol=1e-9, atol=1e-9, err_msg=path)
        np.testing.assert_allclose(scores, ref[1], rtol=1e-9, atol=1e-9, err_msg=path)
