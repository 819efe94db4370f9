"""The command line on the files people have: Parquet, Feather, compressed
CSV, standard input, column selection, delimiters and header names; its
defaults (a fixed seed) and knobs; Ctrl-C during a long fit.  Every command
runs in a subprocess."""
import bz2
import gzip
import inspect
import json
import lzma
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kmgmm
from cli_runs import interrupt_when, package_env

pd = pytest.importorskip("pandas")


def run(cwd, *args, stdin=None, check=0):
    proc = subprocess.run([sys.executable, "-m", "kmgmm", *map(str, args)],
                          input=stdin, capture_output=True, text=True, timeout=300,
                          env=package_env(), cwd=cwd, check=False)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def frame():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.standard_normal((200, 3)) + c for c in (0.0, 8.0, 16.0)])
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df.insert(0, "id", [f"row{i}" for i in range(len(df))])
    return df


@pytest.fixture()
def files(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    text = (tmp_path / "d.csv").read_bytes()
    for suffix, compress in (("gz", gzip.compress), ("bz2", bz2.compress),
                             ("xz", lzma.compress)):
        (tmp_path / f"d.csv.{suffix}").write_bytes(compress(text))
    frame.to_csv(tmp_path / "d.tsv", index=False, sep="\t")
    frame.to_csv(tmp_path / "semi.txt.csv", index=False, sep=";")
    return tmp_path


def numbers(frame, columns=("a", "b", "c")):
    return frame[list(columns)].to_numpy()


def reference(frame, columns=("a", "b", "c"), k=3):
    return kmgmm.KMeans(k, random_state=0).fit(numbers(frame, columns))


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz", "d.csv.bz2", "d.csv.xz", "d.tsv"])
def test_text_formats_with_columns_by_name_and_header_names(files, frame, name):
    run(files, "fit", name, "-k", 3, "--columns", "a,b,c", "-o", "m.npz", "-q")
    model = kmgmm.load(files / "m.npz")
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_allclose(model.cluster_centers_,
                               reference(frame).cluster_centers_, rtol=1e-12)
    info = run(files, "info", "m.npz").stdout
    assert "features: a, b, c" in info


def test_columns_by_index_delimiter_and_stdin(files, frame):
    run(files, "fit", "semi.txt.csv", "-k", 3, "--delimiter", ";", "--columns", "1,3",
        "-o", "m.npz", "-q")
    model = kmgmm.load(files / "m.npz")
    assert list(model.feature_names_in_) == ["a", "c"]
    np.testing.assert_allclose(model.cluster_centers_,
                               reference(frame, ("a", "c")).cluster_centers_, rtol=1e-12)
    csv = (files / "d.csv").read_text()
    proc = run(files, "fit", "-", "-k", 3, "--columns", "b,c", "-o", "s.npz", "--json",
               stdin=csv)
    summary = json.loads(proc.stdout)
    assert summary["n_features"] == 2 and summary["feature_names"] == ["b", "c"]
    np.testing.assert_allclose(kmgmm.load(files / "s.npz").cluster_centers_,
                               reference(frame, ("b", "c")).cluster_centers_, rtol=1e-12)
    # Without a header, names are none and indices still work.
    np.savetxt(files / "plain.csv", numbers(frame), delimiter=",")
    run(files, "fit", "plain.csv", "-k", 3, "--columns", "0,2", "-o", "p.npz", "-q")
    assert not hasattr(kmgmm.load(files / "p.npz"), "feature_names_in_")


def test_column_mistakes_are_one_line(files):
    for columns, words in (("a,x", "no column named 'x'; its columns are id, a, b, c"),
                           ("7", "out of range"), ("a,a", "twice")):
        proc = run(files, "fit", "d.csv", "-k", 3, "--columns", columns, "-o", "m.npz",
                   check=2)
        assert words in proc.stderr and proc.stderr.count("\n") == 1
    proc = run(files, "fit", "d.csv", "-k", 3, "-o", "m.npz", check=2)
    assert "could not convert string 'row0'" in proc.stderr


def test_parquet_and_feather(files, frame):
    pytest.importorskip("pyarrow")
    frame.to_parquet(files / "d.parquet")
    frame.astype({"a": np.float32, "b": np.float32, "c": np.float32}).to_feather(
        files / "d.feather")
    run(files, "fit", "d.parquet", "-k", 3, "--columns", "a,b,c", "-o", "m.npz", "-q")
    model = kmgmm.load(files / "m.npz")
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_allclose(model.cluster_centers_, reference(frame).cluster_centers_,
                               rtol=1e-12)
    run(files, "fit", "d.feather", "-k", 3, "--columns", "1,2,3", "-o", "f.npz", "-q")
    assert kmgmm.load(files / "f.npz").cluster_centers_.dtype == np.float32
    proc = run(files, "fit", "d.feather", "-k", 3, "-o", "f.npz", check=2)
    assert "column 'id' holds" in proc.stderr and "--columns" in proc.stderr
    # predict picks the model's columns by name from a file holding more.
    proc = run(files, "predict", "m.npz", "d.parquet", "-o", "labels.npy", "-q")
    np.testing.assert_array_equal(np.load(files / "labels.npy"),
                                  model.predict(frame[["a", "b", "c"]]))


def test_missing_pyarrow_is_a_clear_message(files, frame):
    pytest.importorskip("pyarrow")
    frame.to_parquet(files / "d.parquet")
    code = textwrap.dedent("""
        import sys
        sys.modules["pyarrow"] = None          # as if it were not installed
        from kmgmm import _cli
        sys.exit(_cli.main(sys.argv[1:]))
    """)
    proc = subprocess.run([sys.executable, "-c", code, "fit", "d.parquet", "-k", "3",
                           "-o", "m.npz"], capture_output=True, text=True, timeout=300,
                          env=package_env(), cwd=files, check=False)
    assert proc.returncode == 2
    assert "needs pyarrow; install it with pip install 'kmgmm[arrow]'" in proc.stderr


def test_predict_checks_the_columns_by_name(files, frame):
    run(files, "fit", "d.csv", "-k", 3, "--columns", "a,b,c", "-o", "m.npz", "-q")
    frame[["c", "a", "b", "id"]].to_csv(files / "shuffled.csv", index=False)
    run(files, "predict", "m.npz", "shuffled.csv", "-o", "l.npy", "-q")
    model = kmgmm.load(files / "m.npz")
    np.testing.assert_array_equal(np.load(files / "l.npy"),
                                  model.predict(frame[["a", "b", "c"]]))
    frame[["a", "b"]].to_csv(files / "fewer.csv", index=False)
    proc = run(files, "predict", "m.npz", "fewer.csv", "-o", "l2.npy", check=2)
    assert "has no column 'c'" in proc.stderr


def test_dtype_option(files):
    run(files, "fit", "d.csv", "-k", 3, "--columns", "a,b,c", "--dtype", "float32",
        "-o", "m.npz", "-q")
    assert kmgmm.load(files / "m.npz").cluster_centers_.dtype == np.float32


@pytest.mark.parametrize("model", ["kmeans", "gmm"])
def test_fit_is_reproducible_by_default_and_says_its_seed(files, model):
    args = ("fit", "d.csv", "-k", 3, "--columns", "a,b,c", "--model", model, "-q")
    first = run(files, *args, "-o", "one.npz")
    run(files, *args, "-o", "two.npz")
    assert (files / "one.npz").read_bytes() == (files / "two.npz").read_bytes()
    assert "seed 0" in first.stdout
    assert kmgmm.load(files / "one.npz").random_state == 0
    run(files, *args, "--seed", 5, "-o", "five.npz")
    assert kmgmm.load(files / "five.npz").random_state == 5


def test_knobs_reach_the_estimator(files):
    run(files, "fit", "d.csv", "-k", 3, "--columns", "a,b,c", "--algorithm", "elkan",
        "--init", "random", "--n-init", 2, "--max-iter", 7, "--tol", 0.5, "-o", "k.npz",
        "-q")
    km = kmgmm.load(files / "k.npz")
    assert (km.algorithm, km.init, km.n_init, km.max_iter, km.tol) == \
        ("elkan", "random", 2, 7, 0.5)
    run(files, "fit", "d.csv", "-k", 3, "--columns", "a,b,c", "--model", "gmm",
        "--init", "random_from_data", "--reg-covar", 1e-3, "--covariance-type", "diag",
        "-o", "g.npz", "-q")
    gm = kmgmm.load(files / "g.npz")
    assert (gm.init_params, gm.reg_covar, gm.covariance_type) == \
        ("random_from_data", 1e-3, "diag")
    for args, words in ((("--reg-covar", 1), "applies only to --model gmm"),
                        (("--model", "gmm", "--algorithm", "lloyd"),
                         "applies only to --model kmeans"),
                        (("--init", "kmeans"), "not a k-means initialisation")):
        proc = run(files, "fit", "d.csv", "-k", 3, "--columns", "a,b,c", *args,
                   "-o", "x.npz", check=2)
        assert words in proc.stderr


def test_help_shows_the_estimators_defaults(files):
    from kmgmm._cli_parser import GMM_DEFAULTS, KMEANS_DEFAULTS

    for cls, table in ((kmgmm.KMeans, KMEANS_DEFAULTS),
                       (kmgmm.GaussianMixture, GMM_DEFAULTS)):
        signature = inspect.signature(cls)
        for name, value in table.items():
            assert signature.parameters[name].default == value, (cls, name)
    text = " ".join(run(files, "fit", "--help").stdout.split())
    for words in ("(default auto)", "(default k-means++)", "(default kmeans)",
                  "default 300 for kmeans, 100 for gmm", "(default 1e-06)",
                  "default 0.0001", "0.001 of the log-likelihood", "default 0:"):
        assert words in text, words


def test_sigint_during_a_long_fit_writes_the_model_so_far(tmp_path):
    # A real fit, long enough to interrupt: a full-covariance mixture with
    # tol=0 on overlapping data, interrupted from outside once its progress
    # line shows EM iterations.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200_000, 6))
    np.save(tmp_path / "X.npy", X)
    returncode, out, err = interrupt_when(
        ["fit", "X.npy", "-k", "8", "--model", "gmm", "--tol", "0", "--max-iter",
         "100000", "-o", "m.npz", "--labels", "l.npy"],
        lambda seen: re.search(r"(?<!k-means )iteration ([2-9]|\d\d+)/100000", seen),
        env=package_env(), cwd=tmp_path)
    assert "initialising" in err            # the initialisation is shown too
    assert returncode == 130, (out, err)
    assert "Traceback" not in err
    assert "the model so far was written to m.npz, marked as not converged" in err
    model = kmgmm.load(tmp_path / "m.npz")
    assert model.converged_ is False and 2 <= model.n_iter_ < 100000
    assert f"{model.n_iter_} iterations" in out
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), model.predict(X))
