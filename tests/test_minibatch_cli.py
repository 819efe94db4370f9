"""``kmgmm fit --mini-batch`` through a subprocess: the fit, its blocks, bad
rows, usage errors and Ctrl-C."""
import sys

import numpy as np
import pytest

import kmgmm
from cli_runs import interrupt_when, package_env, run_kmgmm


def blobs(n, d, k, *, seed=0, dtype=np.float64):
    """Well-separated blobs: centres 12 apart along the first feature."""
    rng = np.random.RandomState(seed)
    means = np.zeros((k, d))
    means[:, 0] = 12.0 * np.arange(k)
    y = np.arange(n) % k
    X = means[y] + rng.standard_normal((n, d))
    return X.astype(dtype), y, means


def test_cli_mini_batch_fit(tmp_path):
    X, y, _ = blobs(20000, 4, 3, seed=15, dtype=np.float32)
    data = tmp_path / "data.npy"
    np.save(data, X)
    model, labels = tmp_path / "model.npz", tmp_path / "labels.npy"
    out = run_kmgmm("fit", data, "-k", 3, "--mini-batch", "--batch-size", 500, "--passes", 2,
                 "--seed", 0, "-o", model, "--labels", labels)
    assert out.returncode == 0, out.stderr
    assert "pass 2/2" in out.stderr and "step 80/80" in out.stderr
    km = kmgmm.load(model)
    assert type(km) is kmgmm.MiniBatchKMeans and km.n_steps_ == 80 and km.n_iter_ == 2
    np.testing.assert_array_equal(np.load(labels), km.predict(X))
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(y, np.load(labels)) == 1.0
    assert f"inertia {km.inertia_:.6g}" in out.stdout
    assert km.inertia_ == pytest.approx(-km.score(X), rel=1e-5)
    # the same options again reproduce the model
    again = run_kmgmm("fit", data, "-k", 3, "--mini-batch", "--batch-size", 500,
                   "--passes", 2, "--seed", 0, "-o", tmp_path / "again.npz", "-q")
    assert again.returncode == 0
    np.testing.assert_array_equal(kmgmm.load(tmp_path / "again.npz").cluster_centers_,
                                  km.cluster_centers_)


def test_cli_mini_batch_reads_blocks_and_reports_bad_rows(tmp_path, monkeypatch):
    from kmgmm import _minibatch_stream as stream

    X, _, _ = blobs(5000, 2, 2, seed=16)
    bad = X.copy()
    bad[4321, 1] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    out = run_kmgmm("fit", tmp_path / "bad.npy", "-k", 2, "--mini-batch", "--batch-size", 100,
                 "-o", tmp_path / "m.npz", "-q")
    assert out.returncode == 2 and "NaN" in out.stderr
    assert not (tmp_path / "m.npz").exists()
    # never the whole file at once: every read is one block (or the seeding sample)
    mm = np.load(tmp_path / "bad.npy", mmap_mode="r")[:4000]
    reads = []

    class Spy:
        shape, dtype = mm.shape, mm.dtype

        def __getitem__(self, key):
            reads.append(key)
            return mm[key]
    km = kmgmm.MiniBatchKMeans(2, batch_size=100, random_state=0, n_threads=1)
    stream.fit_stream(km, Spy(), passes=2, block_rows=1000)
    slices = [r for r in reads if isinstance(r, slice)]
    assert len(slices) == 8 and all(r.stop - r.start <= 1000 for r in slices)
    assert km.n_steps_ == 80 and km.n_iter_ == 2


def test_cli_mini_batch_usage_errors(tmp_path):
    np.save(tmp_path / "d.npy", np.random.RandomState(0).standard_normal((100, 2)))
    for extra, message in [(["--passes", 2], "only with --mini-batch"),
                           (["--mini-batch", "--assignment", "hard"], "--assignment"),
                           (["--mini-batch", "--max-iter", 3], "--max-iter"),
                           (["--mini-batch", "--batch-size", 0], "at least 1")]:
        out = run_kmgmm("fit", tmp_path / "d.npy", "-k", 2, "-o", tmp_path / "m.npz", *extra)
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_cli_ctrl_c_keeps_the_model_so_far(tmp_path):
    X, _, _ = blobs(20000, 2, 3, seed=17, dtype=np.float32)
    np.save(tmp_path / "d.npy", X)
    model = tmp_path / "m.npz"
    env = package_env(OMP_NUM_THREADS="1")
    returncode, _, err = interrupt_when(
        ["fit", tmp_path / "d.npy", "-k", "3", "--mini-batch", "--batch-size", "10",
         "--passes", "1000", "-o", model],
        lambda seen: "kmgmm fit: pass 1/1000" in seen, env=env, cwd=tmp_path, delay=0.5)
    assert returncode == 130, err
    assert "the model of the" in err and "steps done is written" in err
    km = kmgmm.load(model)
    assert 1 <= km.n_steps_ < 1000 * 2000
    assert km.predict(X).shape == (20000,)
