"""``kmgmm fit --model gmm --mini-batch``: online EM streamed from a data
file (``_gmm_stream``): the fit through a subprocess, its agreement with
``partial_fit`` in memory over the same batches, its blocks, usage errors
and Ctrl-C."""
import json
import sys

import numpy as np
import pytest

import kmgmm
from cli_runs import interrupt_when, package_env, run_kmgmm
from kmgmm import GaussianMixture
from kmgmm._gmm_stream import (
    batch_bounds,
    fit_gmm_stream,
    labels_and_score,
    seeding_rows,
)

PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")


def blobs(n, d, k, *, seed=0, dtype=np.float64):
    """Well-separated blobs: centres 12 apart along the first feature."""
    rng = np.random.RandomState(seed)
    means = np.zeros((k, d))
    means[:, 0] = 12.0 * np.arange(k)
    y = np.arange(n) % k
    X = means[y] + rng.standard_normal((n, d))
    return X.astype(dtype), y


def test_cli_online_em_fit(tmp_path):
    from sklearn.metrics import adjusted_rand_score

    X, y = blobs(12000, 3, 3, seed=1, dtype=np.float32)
    data, model, labels = tmp_path / "d.npy", tmp_path / "m.npz", tmp_path / "l.npy"
    np.save(data, X)
    out = run_kmgmm("fit", data, "-k", 3, "--model", "gmm", "--mini-batch", "--batch-size",
                 1000, "--passes", 2, "--covariance-type", "diag", "--learning-decay",
                 0.7, "--learning-offset", 1, "-o", model, "--labels", labels, "--json")
    assert out.returncode == 0, out.stderr
    assert "seeding  step 1/25" in out.stderr and "pass 2/2  step 25/25" in out.stderr
    summary = json.loads(out.stdout)
    gm = kmgmm.load(model)
    assert type(gm) is GaussianMixture and gm.covariance_type == "diag"
    assert gm.learning_decay == 0.7 and gm.learning_offset == 1.0
    assert gm.means_.dtype == np.float32
    assert gm.n_steps_ == summary["n_steps"] == 25 and hasattr(gm, "_online")
    assert summary["objective"] == "mean log-likelihood" and summary["objective_exact"]
    assert summary["objective_value"] == pytest.approx(gm.score(X), rel=1e-6)
    np.testing.assert_array_equal(np.load(labels), gm.predict(X))
    assert adjusted_rand_score(y, np.load(labels)) == 1.0
    # the same command again gives the same model, bit for bit
    again = run_kmgmm("fit", data, "-k", 3, "--model", "gmm", "--mini-batch", "--batch-size",
                   1000, "--passes", 2, "--covariance-type", "diag", "--learning-decay",
                   0.7, "--learning-offset", 1, "-o", tmp_path / "again.npz", "-q")
    assert again.returncode == 0 and again.stderr == ""
    assert "an estimate; --labels computes it exactly" in again.stdout
    twin = kmgmm.load(tmp_path / "again.npz")
    for name in PARAMS:
        assert np.array_equal(getattr(twin, name), getattr(gm, name)), name


def test_cli_online_em_with_weights_and_hard_assignment(tmp_path):
    X, _ = blobs(6000, 2, 2, seed=2)
    w = np.random.RandomState(3).uniform(0.5, 2.0, len(X))
    np.save(tmp_path / "d.npy", X)
    np.save(tmp_path / "w.npy", w)
    out = run_kmgmm("fit", tmp_path / "d.npy", "-k", 2, "--model", "gmm", "--mini-batch",
                 "--batch-size", 500, "--assignment", "hard", "--sample-weight",
                 tmp_path / "w.npy", "--labels", tmp_path / "l.npy", "-o",
                 tmp_path / "m.npz", "--json", "-q")
    assert out.returncode == 0, out.stderr
    gm = kmgmm.load(tmp_path / "m.npz")
    assert gm.assignment == "hard"
    assert json.loads(out.stdout)["objective_value"] == pytest.approx(
        gm.score(X, sample_weight=w), rel=1e-9)


@pytest.mark.parametrize("covariance_type, dtype", [("full", np.float64),
                                                    ("tied", np.float32),
                                                    ("spherical", np.float64)])
def test_stream_is_partial_fit_over_its_batches(tmp_path, monkeypatch, covariance_type,
                                                dtype):
    """The stream steps partial_fit through every row once per pass: the
    same batches in memory give the same model, bit for bit, and it never
    reads the file whole."""
    X, _ = blobs(5000, 3, 3, seed=4, dtype=dtype)
    w = np.random.RandomState(5).uniform(0.5, 2.0, len(X))
    w[::7] = 0.0
    np.save(tmp_path / "d.npy", X)
    mm = np.load(tmp_path / "d.npy", mmap_mode="r")
    reads, seen = [], []

    class Spy:
        shape, dtype = mm.shape, mm.dtype

        def __getitem__(self, key):
            reads.append(key)
            return mm[key]

    original = GaussianMixture.partial_fit

    def recording(self, X, y=None, sample_weight=None):
        seen.append((np.array(X), np.array(sample_weight)))
        return original(self, X, y, sample_weight=sample_weight)

    monkeypatch.setattr(GaussianMixture, "partial_fit", recording)
    streamed = GaussianMixture(3, covariance_type=covariance_type, random_state=7)
    result = fit_gmm_stream(streamed, Spy(), w, batch_size=300, passes=2, block_rows=1320)
    monkeypatch.setattr(GaussianMixture, "partial_fit", original)

    # blocks of 1320 rows (batches 300 x 3 + 420: a tail of 120 joins the
    # batch before it) and one of 1040 (300 x 2 + 440)
    per_pass = 3 * 4 + 3
    assert result["steps"] == streamed.n_steps_ == 1 + 2 * per_pass == len(seen)
    assert result["seeding_rows"] == seen[0][0].shape[0] <= 300
    slices = [r for r in reads if isinstance(r, slice)]
    assert len(reads) == 1 + len(slices) == 1 + 2 * 4
    assert all(r.stop - r.start <= 1320 for r in slices)
    for n_pass in range(2):
        batches = seen[1 + n_pass * per_pass:1 + (n_pass + 1) * per_pass]
        assert sorted(len(b) for b, _ in batches) == [300] * 11 + [420] * 3 + [440]
        rows = np.concatenate([b for b, _ in batches])
        weights = np.concatenate([bw for _, bw in batches])
        key = np.lexsort(rows.T)
        expected = np.lexsort(X.T)
        np.testing.assert_array_equal(rows[key], X[expected])
        np.testing.assert_array_equal(weights[key], w[expected])

    in_memory = GaussianMixture(3, covariance_type=covariance_type, random_state=7)
    for batch, bw in seen:
        in_memory.partial_fit(batch, sample_weight=bw)
    for name in PARAMS:
        assert np.array_equal(getattr(in_memory, name), getattr(streamed, name)), name
    assert in_memory.lower_bounds_ == streamed.lower_bounds_
    expected = np.average([lb for lb in streamed.lower_bounds_[-per_pass:]],
                          weights=[bw.sum() for _, bw in seen[-per_pass:]])
    assert result["estimate"] == pytest.approx(expected, rel=1e-12)

    labels, score = labels_and_score(streamed, mm, w, chunk_rows=999)
    np.testing.assert_array_equal(labels, streamed.predict(X))
    assert score == pytest.approx(streamed.score(X, sample_weight=w), rel=1e-10)


@pytest.mark.parametrize("assignment", ["soft", "hard"])
def test_labels_and_score_is_the_mixture_s_score_on_overlapping_data(assignment):
    # Overlapping components: a row's log-likelihood (log-sum-exp over the
    # components) is well above its best component's log-density, so the
    # final pass must ask for the former.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((5000, 2))
    X[:2500] += 1.0
    w = rng.uniform(0.5, 2.0, X.shape[0])
    gm = GaussianMixture(3, assignment=assignment, random_state=0).fit(X)
    labels, score = labels_and_score(gm, X, w, chunk_rows=999)
    np.testing.assert_array_equal(labels, gm.predict(X))
    assert score == pytest.approx(gm.score(X, sample_weight=w), rel=1e-12)


def test_batches_and_seeding_rows():
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(9, 4) == [(0, 4), (4, 9)]       # a tail under half a batch joins
    assert batch_bounds(3, 4) == [(0, 3)]
    assert batch_bounds(8, 4) == [(0, 4), (4, 8)]
    rng = np.random.RandomState(0)
    assert np.array_equal(seeding_rows(5, None, 10, rng), np.arange(5))
    w = np.array([0.0, 1.0, 0.0, 2.0, 1.0])
    assert np.array_equal(seeding_rows(5, w, 10, rng), [1, 3, 4])
    rows = seeding_rows(100_000, None, 500, rng)
    assert 450 < len(rows) <= 500 and np.all(np.diff(rows) > 0)
    w = np.zeros(100_000)
    w[50_000:] = 1.0
    rows = seeding_rows(100_000, w, 500, rng)
    assert rows.min() >= 50_000 and np.all(np.diff(rows) > 0)


def test_cli_online_em_bad_rows_and_usage_errors(tmp_path):
    X, _ = blobs(3000, 2, 2, seed=6)
    X[2345, 1] = np.nan
    np.save(tmp_path / "bad.npy", X)
    out = run_kmgmm("fit", tmp_path / "bad.npy", "-k", 2, "--model", "gmm", "--mini-batch",
                 "--batch-size", 100, "-o", tmp_path / "m.npz", "-q")
    assert out.returncode == 2 and "NaN" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "m.npz").exists()

    np.save(tmp_path / "d.npy", np.random.RandomState(0).standard_normal((100, 2)))
    gmm = ["--model", "gmm", "--mini-batch"]
    for extra, message in [
            ([*gmm, "--max-iter", 3], "--max-iter does not apply to --mini-batch --model gmm"),
            ([*gmm, "--tol", 0.1], "--tol does not apply"),
            ([*gmm, "--algorithm", "lloyd"], "--algorithm applies only to --model kmeans"),
            ([*gmm, "--covariance-type", "fixed"], "--variance"),
            ([*gmm, "--learning-decay", 0.5], "must be in (0.5, 1]"),
            ([*gmm, "--learning-decay", "x"], "is not a number"),
            ([*gmm, "--learning-offset", -1], ">= 0"),
            (["--model", "gmm", "--learning-decay", 0.7], "only with --mini-batch"),
            (["--learning-offset", 2], "only with --mini-batch"),
            (["--mini-batch", "--learning-decay", 0.7], "does not apply to --mini-batch k-means"),
            (["--mini-batch", "--reg-covar", 0.1], "--reg-covar does not apply")]:
        out = run_kmgmm("fit", tmp_path / "d.npy", "-k", 2, "-o", tmp_path / "m.npz", *extra)
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)
        assert not (tmp_path / "m.npz").exists()


def test_help_says_how_the_stream_is_seeded():
    out = run_kmgmm("fit", "--help")
    text = " ".join(out.stdout.split())
    assert "online EM (GaussianMixture.partial_fit)" in text
    assert "drawn at random from the whole file" in text and "--seed makes it" in text
    assert "--learning-decay KAPPA" in text and "(default 0.6)" in text


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_cli_online_em_ctrl_c_keeps_the_model_so_far(tmp_path):
    X, _ = blobs(20000, 2, 3, seed=8, dtype=np.float32)
    np.save(tmp_path / "d.npy", X)
    model = tmp_path / "m.npz"
    returncode, _, err = interrupt_when(
        ["fit", tmp_path / "d.npy", "-k", "3", "--model", "gmm", "--mini-batch",
         "--batch-size", "50", "--passes", "1000", "-o", model,
         "--labels", tmp_path / "l.npy"],
        lambda seen: "kmgmm fit: seeding  step 1/" in seen, env=package_env(OMP_NUM_THREADS="1"), cwd=tmp_path,
        delay=0.5)
    assert returncode == 130, err
    assert "Traceback" not in err
    assert "steps done is written" in err and "marked not converged" in err
    gm = kmgmm.load(model)
    assert gm.converged_ is False and 1 <= gm.n_steps_ < 1 + 1000 * 400
    assert len(gm.lower_bounds_) == gm.n_steps_ and hasattr(gm, "_online")
    assert gm.predict(X).shape == (20000,)
    assert not (tmp_path / "l.npy").exists()       # no labels for a stopped fit


def test_cli_resume_continues_a_saved_model(tmp_path):
    X, _ = blobs(6000, 2, 3, seed=9, dtype=np.float32)
    data, first, second = tmp_path / "d.npy", tmp_path / "a.npz", tmp_path / "b.npz"
    np.save(data, X)
    common = ["-k", 3, "--model", "gmm", "--mini-batch", "--batch-size", 500, "-q"]
    out = run_kmgmm("fit", data, *common, "-o", first)
    assert out.returncode == 0, out.stderr
    out = run_kmgmm("fit", data, *common, "--resume", first, "--seed", 4,
                 "--learning-decay", 0.9, "-o", second, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["resumed_from"] == str(first) and summary["seeding_rows"] == 0
    saved = kmgmm.load(first)
    assert summary["n_steps_before"] == saved.n_steps_ == 13
    resumed = kmgmm.load(second)
    assert resumed.n_steps_ == 13 + 12 and resumed.learning_decay == 0.9
    # The same continuation in memory: the saved model, the same passes.
    saved.set_params(learning_decay=0.9)
    fit_gmm_stream(saved, np.load(data, mmap_mode="r"), batch_size=500, random_state=4)
    for name in PARAMS:
        assert np.array_equal(getattr(resumed, name), getattr(saved, name)), name
    assert resumed.lower_bounds_ == saved.lower_bounds_
    # -o may overwrite the model it continues
    out = run_kmgmm("fit", data, *common, "--resume", second, "-o", second)
    assert out.returncode == 0, out.stderr
    assert kmgmm.load(second).n_steps_ == 25 + 12


def test_cli_resume_usage_errors(tmp_path):
    X, _ = blobs(2000, 2, 2, seed=10)
    np.save(tmp_path / "d.npy", X)
    np.save(tmp_path / "d3.npy", np.c_[X, X[:, :1]])
    GaussianMixture(2, random_state=0).fit(X).save(tmp_path / "g.npz")
    kmgmm.KMeans(2, random_state=0).fit(X).save(tmp_path / "k.npz")
    gmm = ["--model", "gmm", "--mini-batch", "--resume"]
    for data, extra, message in [
            ("d.npy", ["-k", 3, *gmm, tmp_path / "g.npz"], "-k 3 does not match the 2"),
            ("d.npy", ["-k", 2, *gmm, tmp_path / "k.npz"], "holds a KMeans"),
            ("d.npy", ["-k", 2, *gmm, tmp_path / "d.npy"], "not a kmgmm model file"),
            ("d.npy", ["-k", 2, *gmm, tmp_path / "none.npz"], "no such file"),
            ("d.npy", ["-k", 2, "--covariance-type", "diag", *gmm, tmp_path / "g.npz"],
             "--covariance-type does not apply with --resume"),
            ("d3.npy", ["-k", 2, *gmm, tmp_path / "g.npz"], "has 3 features"),
            ("d.npy", ["-k", 2, "--resume", tmp_path / "g.npz"], "only with --mini-batch"),
            ("d.npy", ["-k", 2, "--mini-batch", "--resume", tmp_path / "g.npz"],
             "--resume does not apply to --mini-batch k-means")]:
        out = run_kmgmm("fit", tmp_path / data, *extra, "-o", tmp_path / "m.npz")
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)
        assert not (tmp_path / "m.npz").exists()


def test_cli_resume_of_a_fit_model_restarts_the_averages(tmp_path):
    """A model from fit (or an older file) has no online-EM state: the
    stream continues from its parameters, its step count from 1."""
    X, _ = blobs(3000, 2, 2, seed=11)
    np.save(tmp_path / "d.npy", X)
    GaussianMixture(2, random_state=0).fit(X).save(tmp_path / "g.npz")
    out = run_kmgmm("fit", tmp_path / "d.npy", "-k", 2, "--model", "gmm", "--mini-batch",
                 "--batch-size", 1000, "--resume", tmp_path / "g.npz", "-o",
                 tmp_path / "m.npz", "-q")
    assert out.returncode == 0, out.stderr
    assert "(0 steps before)" in out.stdout
    assert kmgmm.load(tmp_path / "m.npz").n_steps_ == 3
