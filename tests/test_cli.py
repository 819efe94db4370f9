"""The kmgmm command end to end, through ``python -m kmgmm`` in a subprocess."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kmgmm
from cli_runs import package_env
from kmgmm import KMeans

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical", "fixed")


NEUTRAL_DIR = None


@pytest.fixture(scope="module", autouse=True)
def neutral_cwd(tmp_path_factory):
    """Run commands from an empty directory, so the installed package is imported.

    From the repository root, ``-m`` and ``-c`` would import the kmgmm/ sources,
    which hold no compiled kernels after a plain ``pip install .``.
    """
    global NEUTRAL_DIR
    NEUTRAL_DIR = str(tmp_path_factory.mktemp("cwd"))


def run(*args, check=None, env=None):
    """Run ``python -m kmgmm *args``; returns the CompletedProcess."""
    # One OpenMP thread: these tests are about the command, not the threading,
    # and a busy machine makes idle OpenMP threads slow to wake.
    full_env = package_env(OMP_NUM_THREADS="1", **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "kmgmm", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=full_env,
                          cwd=NEUTRAL_DIR)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def run_script(code, *args):
    """Run a Python snippet in a subprocess (to patch the command from inside)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=NEUTRAL_DIR,
                          env=package_env())


def assert_usage_error(proc, *words):
    """Exit status 2, one line on stderr naming the problem, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("kmgmm: ")
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two blobs, 400 x 3, saved as .npy; returns (X, path)."""
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(200, 3), rng.randn(200, 3) + 6.0]
    path = tmp_path_factory.mktemp("data") / "X.npy"
    np.save(path, X)
    return X, path


@pytest.fixture
def GaussianMixture():
    if not hasattr(kmgmm, "GaussianMixture"):
        pytest.skip("kmgmm.GaussianMixture is not in this build")
    return kmgmm.GaussianMixture


# ------------------------------------------------------------------ fit
def test_fit_writes_model_and_labels(data, tmp_path):
    X, path = data
    model, labels = tmp_path / "m.npz", tmp_path / "labels.npy"
    proc = run("fit", path, "-k", 2, "--seed", 0, "-o", model, "--labels", labels,
               check=0)
    assert "KMeans with 2 clusters on 400 x 3" in proc.stdout
    assert "kmgmm fit: iteration 1" in proc.stderr  # the progress line
    live = KMeans(2, random_state=0).fit(X)
    saved = kmgmm.load(model)
    np.testing.assert_array_equal(saved.cluster_centers_, live.cluster_centers_)
    np.testing.assert_array_equal(np.load(labels), live.labels_)


def test_fit_json_and_quiet(data, tmp_path):
    _, path = data
    proc = run("fit", path, "-k", 3, "--seed", 1, "--max-iter", 50, "--threads", 1,
               "-o", tmp_path / "m.npz", "--json", "-q", check=0)
    assert proc.stderr == ""
    summary = json.loads(proc.stdout)
    assert summary["model"] == "KMeans"
    assert summary["n_samples"] == 400 and summary["n_features"] == 3
    assert summary["params"]["n_clusters"] == 3 and summary["params"]["max_iter"] == 50
    assert summary["objective"] == "inertia" and summary["objective_value"] > 0
    assert summary["n_iter"] >= 1
    assert summary["model_file"] == str(tmp_path / "m.npz")


def test_fit_with_sample_weight(data, tmp_path):
    X, path = data
    w = np.linspace(0.5, 2.0, len(X))
    np.save(tmp_path / "w.npy", w)
    run("fit", path, "-k", 2, "--seed", 0, "--sample-weight", tmp_path / "w.npy",
        "-o", tmp_path / "m.npz", "-q", check=0)
    live = KMeans(2, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_allclose(kmgmm.load(tmp_path / "m.npz").inertia_, live.inertia_)
    np.save(tmp_path / "w_short.npy", w[:10])
    proc = run("fit", path, "-k", 2, "--sample-weight", tmp_path / "w_short.npy",
               "-o", tmp_path / "m2.npz")
    assert_usage_error(proc, "w_short.npy", "one weight per row")


# -------------------------------------------------------------- formats
def test_csv_with_and_without_header_and_tsv(data, tmp_path):
    X, _ = data
    with_header = tmp_path / "with.csv"
    np.savetxt(with_header, X, delimiter=",", header="x,y,z", comments="")
    without_header = tmp_path / "without.csv"
    np.savetxt(without_header, X, delimiter=",")
    tsv = tmp_path / "data.tsv"
    np.savetxt(tsv, X, delimiter="\t", header='"x"\t"y"\t"z"', comments="")
    centers = []
    for path in (with_header, without_header, tsv):
        model = tmp_path / (path.name + ".npz")
        proc = run("fit", path, "-k", 2, "--seed", 0, "-o", model, "--json", "-q",
                   check=0)
        assert json.loads(proc.stdout)["n_samples"] == 400  # the header is not a row
        centers.append(kmgmm.load(model).cluster_centers_)
    live = KMeans(2, random_state=0).fit(X).cluster_centers_
    for c in centers:
        np.testing.assert_allclose(c, live, rtol=1e-7)


def test_npz_with_one_array_and_with_two(data, tmp_path):
    X, _ = data
    np.savez(tmp_path / "one.npz", X=X)
    run("fit", tmp_path / "one.npz", "-k", 2, "-o", tmp_path / "m.npz", "-q", check=0)
    np.savez(tmp_path / "two.npz", X=X, y=X[:, 0])
    proc = run("fit", tmp_path / "two.npz", "-k", 2, "-o", tmp_path / "m2.npz")
    assert_usage_error(proc, "two.npz", "2 arrays", "exactly one")


def test_predict_matches_the_live_model_and_writes_csv(data, tmp_path):
    X, path = data
    model = tmp_path / "m.npz"
    run("fit", path, "-k", 2, "--seed", 0, "-o", model, "-q", check=0)
    proc = run("predict", model, path, "-o", tmp_path / "p.npy", check=0)
    live = KMeans(2, random_state=0).fit(X)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), live.predict(X))
    assert "cluster sizes: 200 200" in proc.stdout
    run("predict", model, path, "-o", tmp_path / "p.csv", "-q", check=0)
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "p.csv", dtype=np.int64),
                                  live.predict(X))


def test_predict_streams_a_memory_mapped_file_larger_than_the_chunk(tmp_path):
    rng = np.random.RandomState(3)
    X = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32,
                                  shape=(5003, 4))
    X[:] = rng.randn(5003, 4) + 5.0 * rng.randint(3, size=(5003, 1))
    X.flush()
    km = KMeans(3, random_state=0).fit(np.asarray(X))
    km.save(tmp_path / "m.npz")
    proc = run("predict", tmp_path / "m.npz", tmp_path / "big.npy", "--chunk-size", 500,
               "-o", tmp_path / "labels.npy", "--json", check=0)
    out = np.load(tmp_path / "labels.npy", mmap_mode="r")
    assert out.shape == (5003,)
    np.testing.assert_array_equal(out, km.predict(np.asarray(X)))
    summary = json.loads(proc.stdout)
    assert summary["n_samples"] == 5003 and sum(summary["cluster_sizes"]) == 5003
    # The chunk loop reports progress row by row, ending at the last row.
    assert "5003/5003 rows" in proc.stderr


def test_predict_reads_the_npy_as_a_memory_map(data, tmp_path):
    # Loading must not read the file into memory: predict a model on a file
    # the chunk loop slices, and check the loader returns a memmap.
    from kmgmm._data_files import load_data

    _, path = data
    assert isinstance(load_data(path), np.memmap)


# ------------------------------------------------------------------ info
def test_info_text_and_json(data, tmp_path):
    _, path = data
    model = tmp_path / "m.npz"
    run("fit", path, "-k", 2, "--seed", 0, "-o", model, "-q", check=0)
    proc = run("info", model, check=0)
    assert "KMeans model, written by kmgmm " + kmgmm.__version__ in proc.stdout
    assert "cluster_centers_  shape (2, 3)  float64" in proc.stdout
    info = json.loads(run("info", model, "--json", check=0).stdout)
    assert info["model"] == "KMeans" and info["kmgmm_version"] == kmgmm.__version__
    assert info["arrays"]["cluster_centers_"]["shape"] == [2, 3]
    assert info["params"]["n_clusters"] == 2 and info["params"]["random_state"] == 0


# ---------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def model_file(data, tmp_path_factory):
    X, _ = data
    path = tmp_path_factory.mktemp("model") / "m.npz"
    KMeans(2, random_state=0).fit(X).save(path)
    return path


def run_in_process(capsys, *args):
    """``kmgmm *args`` through ``main`` in this process (cheaper than a subprocess)."""
    from kmgmm._cli import main

    capsys.readouterr()
    returncode = main([str(a) for a in args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, returncode, captured.out, captured.err)


def test_user_mistakes_through_the_real_command(data, model_file, tmp_path):
    _, path = data
    assert_usage_error(run("fit", tmp_path / "missing.npy", "-k", 2, "-o",
                           tmp_path / "m.npz"),
                       "missing.npy", "no such file")
    assert_usage_error(run("fit", path, "-k", 401, "-o", tmp_path / "m.npz"),
                       "-k 401", "400")
    assert_usage_error(run("predict", model_file, path, "--proba", "-o",
                           tmp_path / "p.npy"), "--proba")
    assert not os.listdir(tmp_path)


def test_user_mistakes_exit_2_with_one_line(data, model_file, tmp_path, capsys):
    X, path = data
    out = tmp_path / "out.npy"
    (tmp_path / "words.csv").write_text("a,b\n1,2\n3,oops\n")
    (tmp_path / "nan.csv").write_text("1,2\nnan,3\n4,5\n")
    np.save(tmp_path / "two_features.npy", X[:, :2])
    nan3 = X[:9].copy()
    nan3[7, 1] = np.nan  # in the last chunk: earlier chunks are written, then dropped
    np.save(tmp_path / "nan3.npy", nan3)
    np.save(tmp_path / "strings.npy", np.array([["a", "b"], ["c", "d"]]))
    (tmp_path / "data.parquet").write_text("x")
    (tmp_path / "data.xlsx").write_text("x")
    cases = [
        (("fit", tmp_path / "missing.npy", "-k", 2, "-o", out), ["missing.npy", "no such file"]),
        (("fit", tmp_path / "words.csv", "-k", 1, "-o", out), ["words.csv", "not numeric"]),
        (("fit", tmp_path / "nan.csv", "-k", 1, "-o", out), ["nan.csv", "NaN"]),
        (("fit", tmp_path / "strings.npy", "-k", 1, "-o", out), ["strings.npy"]),
        (("fit", tmp_path / "data.xlsx", "-k", 1, "-o", out), ["unsupported", ".xlsx"]),
        (("fit", tmp_path / "data.parquet", "-k", 1, "-o", out),
         ["data.parquet", "not a readable Parquet file"]),
        (("fit", path, "-k", 401, "-o", out), ["-k 401", "400"]),
        (("fit", path, "-k", 0, "-o", out), ["-k"]),
        (("fit", path, "-k", "two", "-o", out), ["-k", "two"]),
        (("fit", path, "-k", 2), ["-o"]),
        (("fit", path, "-k", 2, "--threads", 0, "-o", out), ["--threads"]),
        (("fit", path, "-k", 2, "--model", "dbscan", "-o", out), ["--model", "dbscan"]),
        (("fit", path, "-k", 2, "--covariance-type", "diag", "-o", out),
         ["--covariance-type", "gmm"]),
        (("fit", path, "-k", 2, "-o", tmp_path / "no" / "dir" / "m.npz"), ["does not exist"]),
        (("fit", path, "-k", 2, "-o", out, "--labels", tmp_path / "l.txt"), ["l.txt", "unsupported"]),
        (("predict", model_file, tmp_path / "two_features.npy", "-o", out),
         ["two_features.npy", "2 features", "fitted on 3"]),
        (("predict", model_file, path, "--proba", "-o", out), ["--proba", "KMeans"]),
        (("predict", model_file, tmp_path / "nan3.npy", "--chunk-size", 2, "-o", out,
          "-q"), ["nan3.npy", "rows 6 to 7", "NaN"]),
        (("predict", path, path, "-o", out), ["not a kmgmm model"]),
        (("predict", model_file, path, "-o", tmp_path / "out.json"), ["unsupported"]),
        (("info", tmp_path / "missing.npz"), ["missing.npz", "no such file"]),
        (("info", tmp_path / "words.csv"), ["not a kmgmm model"]),
        (("demo", "--n-samples", 5), ["--n-samples"]),
        (("nonsense",), ["nonsense"]),
        ((), []),
    ]
    for args, words in cases:
        proc = run_in_process(capsys, *args)
        if not args:  # no command: the help, and status 2
            assert proc.returncode == 2 and "usage" in proc.stderr
            continue
        assert_usage_error(proc, *words)
    assert not out.exists()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".part")]


def test_internal_failure_exits_1_with_a_traceback(model_file):
    proc = run_script("""
        import sys
        from kmgmm import _cli
        def broken(args):
            raise RuntimeError("a bug")
        _cli.COMMANDS["info"] = broken
        sys.exit(_cli.main(["info", sys.argv[1]]))
    """, model_file)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == \
        "kmgmm: internal error: RuntimeError: a bug"


def test_ctrl_c_stops_between_iterations_and_keeps_the_model(tmp_path):
    # A real SIGINT, delivered while the fit runs (at its second iteration),
    # must end the fit at that iteration: status 130, a short message, no
    # traceback, the model reached so far written (not converged) with its
    # labels.
    rng = np.random.RandomState(0)
    np.save(tmp_path / "X.npy", rng.rand(3000, 2))
    proc = run_script("""
        import os, signal, sys
        from kmgmm import _cli, _progress
        update = _progress.ProgressLine.update
        def update_and_interrupt(self, text, force=False):
            update(self, text, force)
            if "iteration 2/" in text:
                os.kill(os.getpid(), signal.SIGINT)
        _progress.ProgressLine.update = update_and_interrupt
        sys.exit(_cli.main(sys.argv[1:]))
    """, "fit", tmp_path / "X.npy", "-k", 20, "--tol", 0, "--max-iter", 1000,
        "--algorithm", "lloyd", "-o", tmp_path / "m.npz", "--labels", tmp_path / "l.npy")
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    # The SIGINT arrives during iteration 2's callback, so the fit stops there.
    assert "interrupted by Ctrl-C after 2 iterations" in proc.stderr
    assert "NOT converged" in proc.stdout
    model = kmgmm.load(tmp_path / "m.npz")
    assert model.n_iter_ == 2 and model.converged_ is False
    X = np.load(tmp_path / "X.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), model.predict(X))


def test_version_and_console_script_entry_point():
    proc = run("--version", check=0)
    assert proc.stdout.strip() == f"kmgmm {kmgmm.__version__}"
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "kmgmm"]
    assert ep.value == "kmgmm.__main__:main"
    from kmgmm.__main__ import main

    assert main is ep.load()


# ---------------------------------------------------------- demo, bench
def test_demo_small(tmp_path):
    proc = run("demo", "--n-samples", 3000, "--seed", 1, "-q", check=0)
    assert "k-means (Lloyd)" in proc.stdout and "|m1-m2|" in proc.stdout
    result = json.loads(run("demo", "--n-samples", 3000, "--json", "-q", check=0).stdout)
    assert result["n_samples"] == 3000 and result["true_overlap_distance"] == 2.0
    kmeans_row = result["rows"][0]
    assert kmeans_row["model"] == "k-means (Lloyd)"
    assert 0.3 < kmeans_row["ari"] <= 1.0
    # k-means cuts the overlapping pair and pushes their centres apart.
    assert kmeans_row["overlap_distance"] > 2.1
    if hasattr(kmgmm, "GaussianMixture"):
        assert len(result["rows"]) == 1 + 2 * len(COVARIANCE_TYPES)


def test_demo_plot(tmp_path):
    pytest.importorskip("matplotlib")
    run("demo", "--n-samples", 2000, "-q", "--plot", tmp_path / "demo.png", check=0)
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_smoke():
    proc = run("bench", "--quick", "--scale", 0.002, "--json", "-q", check=0)
    result = json.loads(proc.stdout)
    engines = {(r["task"], r["engine"]) for r in result["rows"]}
    assert ("k-means", "kmgmm") in engines
    assert all(r["seconds_per_iteration"] > 0 for r in result["rows"]
               if r["engine"] == "kmgmm")
    assert not [r for r in result["rows"] if r["engine"] == "kmgmm" and "error" in r]
    if result["engines_available"]["scikit-learn"]:
        assert ("k-means", "scikit-learn") in engines


# ------------------------------------------------------- GaussianMixture
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_and_predict_gaussian_mixture(GaussianMixture, data, tmp_path,
                                          covariance_type):
    X, path = data
    model = tmp_path / "g.npz"
    extra = ["--variance", 1.0] if covariance_type == "fixed" else []
    proc = run("fit", path, "-k", 2, "--model", "gmm", "--covariance-type",
               covariance_type, *extra, "--seed", 0, "-o", model, "--labels",
               tmp_path / "l.npy", "--json", check=0)
    summary = json.loads(proc.stdout)
    assert summary["model"] == "GaussianMixture" and summary["objective"] == "lower bound"
    live = GaussianMixture(2, covariance_type=covariance_type, random_state=0,
                           **({"variance": 1.0} if extra else {})).fit(X)
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), live.predict(X))
    run("predict", model, path, "--proba", "--chunk-size", 64, "-o",
        tmp_path / "p.npy", "-q", check=0)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), live.predict_proba(X),
                               rtol=1e-10, atol=1e-12)
    if covariance_type == "full":  # info is the same code for every type
        info = json.loads(run("info", model, "--json", check=0).stdout)
        assert info["model"] == "GaussianMixture"
        assert info["params"]["covariance_type"] == covariance_type
        assert info["arrays"]["covariances_"]["shape"] == [2, 3, 3]


def test_gaussian_mixture_option_mistakes(GaussianMixture, data, tmp_path):
    _, path = data
    out = tmp_path / "g.npz"
    assert_usage_error(run("fit", path, "-k", 2, "--model", "gmm", "--covariance-type",
                           "fixed", "-o", out), "--variance")
    assert_usage_error(run("fit", path, "-k", 2, "--model", "gmm", "--variance", 1,
                           "-o", out), "--variance")
    assert_usage_error(run("fit", path, "-k", 2, "--model", "gmm", "--variance", -1,
                           "--covariance-type", "fixed", "-o", out), "--variance")
    run("fit", path, "-k", 2, "--model", "gmm", "--assignment", "hard", "-o", out,
        "-q", check=0)
