"""The README's examples run as written: its Python API blocks, its Dask
block and its command-line block, each on small data made beforehand in an
empty directory, in a subprocess that imports the kmgmm under test."""
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest

import kmgmm
from cli_runs import package_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")

pytestmark = pytest.mark.skipif(not os.path.exists(README),
                                reason="the README is not beside the tests")


def blocks(section, language):
    """The ``language`` code blocks of the README section titled ``section``."""
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    (body,) = [p for p in parts if p.startswith(section + "\n")]
    found = re.findall(rf"^```{language}\n(.*?)^```", body, flags=re.MULTILINE | re.DOTALL)
    assert found, (section, language)
    return found


def env():
    return package_env(OMP_NUM_THREADS="1")


def run_python(code, cwd):
    script = cwd / "example.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=cwd, env=env(), timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_python_api_examples(tmp_path):
    proc = run_python("\n".join(blocks("Python API", "python")), tmp_path)
    assert "fit" in proc.stdout                     # the callback printed
    assert (tmp_path / "model.npz").exists()


def test_dask_example(tmp_path):
    pytest.importorskip("distributed")
    zarr = pytest.importorskip("zarr")
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((40, 3)) + 6 * rng.standard_normal(3)
                   for _ in range(64)])
    for name, data in (("points.zarr", X), ("weights.zarr", rng.uniform(0.5, 2, len(X)))):
        stored = zarr.open_array(str(tmp_path / name), mode="w", shape=data.shape,
                                 chunks=(640,) + data.shape[1:], dtype="f8")
        stored[:] = data
    (code,) = blocks("On a Dask cluster", "python")
    run_python(code, tmp_path)


def test_command_line_examples(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((150, 3)) + 6 * rng.standard_normal(3)
                   for _ in range(16)])
    np.save(tmp_path / "data.npy", X)
    np.save(tmp_path / "big.npy", X[::-1].copy())
    np.save(tmp_path / "huge.npy", X)
    frame = pd.DataFrame(X, columns=["x", "y", "z"])
    frame.to_csv(tmp_path / "data.csv", index=False)
    frame.to_csv(tmp_path / "data.csv.gz", index=False)
    frame.assign(id=[f"p{i}" for i in range(len(frame))]).to_parquet(
        tmp_path / "table.parquet")
    # 'kmgmm' on the PATH runs the kmgmm under test.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "kmgmm"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kmgmm "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    (code,) = blocks("Command line", "bash")
    environment = env()
    environment["PATH"] = f"{bin_dir}{os.pathsep}{environment['PATH']}"
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code],
                          capture_output=True, text=True, cwd=tmp_path, env=environment,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("model.npz", "labels.npy", "gmm.npz", "parquet.npz", "stdin.npz",
                 "proba.npy", "best.npz", "bic.png", "online.npz"):
        assert (tmp_path / name).exists(), name
    assert list(kmgmm.load(tmp_path / "parquet.npz").feature_names_in_) == ["x", "y", "z"]
