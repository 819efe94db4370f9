"""The package is typed: a py.typed marker ships with it, the public API has
annotations, and mypy (when installed, as the test extra installs it) finds
no error in the sources."""
import inspect
import os
import subprocess
import sys

import pytest

import kmgmm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_py_typed_marker_ships_with_the_package():
    assert os.path.isfile(os.path.join(os.path.dirname(kmgmm.__file__), "py.typed"))


@pytest.mark.parametrize("name", ["KMeans", "GaussianMixture"])
def test_public_estimators_are_annotated(name):
    cls = getattr(kmgmm, name)
    for method in ("__init__", "fit", "predict", "fit_predict", "score"):
        signature = inspect.signature(getattr(cls, method))
        missing = [p.name for p in signature.parameters.values()
                   if p.name != "self" and p.annotation is inspect.Parameter.empty]
        assert not missing, (name, method, missing)
        assert signature.return_annotation is not inspect.Signature.empty
    assert inspect.signature(kmgmm.load).return_annotation is not inspect.Signature.empty


def test_mypy_is_clean_on_the_package():
    pytest.importorskip("mypy")
    if not os.path.isdir(os.path.join(ROOT, "kmgmm")):
        pytest.skip("the sources are not beside the tests")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
