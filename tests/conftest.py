import os

import numpy as np
import pytest
from hypothesis import Phase, settings

# Property tests draw the same examples on every run (derandomize) and keep no
# example database, so a run in CI is reproducible.  They report the first
# failing example as drawn, without shrinking it (shrinking a failing fit can
# take minutes); HYPOTHESIS_PROFILE=dev draws fresh examples and shrinks
# failures to a minimal one.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def make_mixture(n_samples, n_features, n_clusters, *, spread=1.0, dtype=np.float64, seed=0):
    """Rows from a seeded Gaussian mixture with well-spaced means; returns (X, y, means)."""
    rng = np.random.RandomState(seed)
    means = rng.uniform(-10, 10, size=(n_clusters, n_features))
    y = rng.randint(n_clusters, size=n_samples)
    X = means[y] + spread * rng.standard_normal((n_samples, n_features))
    return X.astype(dtype), y, means


@pytest.fixture(scope="session")
def package_env():
    """The environment for a subprocess that must import the kmgmm under test
    (a worktree's in-place build, or the installed package) whatever else is
    installed: its parent directory first on PYTHONPATH.  Run such a
    subprocess from a directory without a kmgmm/ source tree."""
    from cli_runs import package_env

    return package_env()


@pytest.fixture(scope="session")
def mixture():
    return make_mixture


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


CPU_PATHS = ["portable", "baseline", "avx2", "avx512"]


def use_cpu_path(name):
    """Switch the kernels to CPU path ``name`` (skip the test where this CPU
    or build lacks it); returns the previous path."""
    from kmgmm import _kernels
    if name != "portable" and name not in _kernels.supported_cpu_paths():
        pytest.skip(f"this CPU or build has no {name} path")
    return _kernels._set_cpu_path(name)


@pytest.fixture(params=CPU_PATHS)
def cpu_path(request):
    """Run a test on every CPU path of the kernels this machine runs (and the
    portable Cython loops of a build without vector extensions)."""
    from kmgmm import _kernels
    previous = use_cpu_path(request.param)
    yield request.param
    _kernels._set_cpu_path(previous)
