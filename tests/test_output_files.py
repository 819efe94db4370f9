"""Writing outputs: full disks, non-regular targets, links, modes, and outputs
that are inputs.  Model saves and every command-line output."""
import contextlib
import io
import os
import stat
import subprocess
import sys
import uuid

import numpy as np
import pytest

import kmgmm
from kmgmm import GaussianMixture, KMeans


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return np.r_[rng.randn(2000, 3), rng.randn(2000, 3) + 6.0]


@pytest.fixture(scope="module")
def files(X, tmp_path_factory):
    """The data as .npy and a KMeans and a mixture model fitted to it."""
    d = tmp_path_factory.mktemp("files")
    np.save(d / "X.npy", X)
    KMeans(2, random_state=0, n_init=1).fit(X).save(d / "km.npz")
    GaussianMixture(2, covariance_type="diag", random_state=0).fit(X).save(d / "g.npz")
    return d


def cli(*args):
    """``kmgmm *args`` in this process: (status, stdout, stderr)."""
    from kmgmm._cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def cli_subprocess(*args, cwd):
    # The kmgmm under test, whatever else is installed.
    root = os.path.dirname(os.path.dirname(os.path.abspath(kmgmm.__file__)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-m", "kmgmm", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line(status, err, expected_status, *words):
    assert status == expected_status, (status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("kmgmm: ")
    for word in words:
        assert word in lines[0], (word, lines[0])


def snapshot(directory):
    return {name: (directory / name).read_bytes() for name in os.listdir(directory)
            if (directory / name).is_file()}


# ------------------------------------------------------------- a full disk
@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs: writing more than that fails with ENOSPC."""
    where = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                               str(where)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs to fill up ({exc})")
    if proc.returncode != 0:
        pytest.skip("cannot mount a small tmpfs to fill up (mount needs root): "
                    + proc.stderr.strip())
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True, timeout=30)


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_predict_on_a_full_disk_exits_1_and_leaves_nothing(files, full_disk, suffix):
    # 4000 labels: 16 KB as int32 .npy; with a 60 KB file filling most of
    # the disk, the output cannot fit.  Through a memory map this was a SIGBUS.
    (full_disk / "filler").write_bytes(bytes(60 << 10))
    (full_disk / ("old" + suffix)).write_bytes(b"previous output")
    for name in ("out" + suffix, "old" + suffix):
        status, _, err = cli_subprocess("predict", files / "km.npz", files / "X.npy",
                                        "-o", full_disk / name, "-q", cwd=files)
        assert_one_line(status, err, 1, name, "No space left", "nothing was written")
    assert sorted(os.listdir(full_disk)) == ["filler", "old" + suffix]
    assert (full_disk / ("old" + suffix)).read_bytes() == b"previous output"


def test_predict_proba_on_a_full_disk(files, full_disk):
    (full_disk / "filler").write_bytes(bytes(32 << 10))  # 64 KB of probabilities
    status, _, err = cli_subprocess("predict", files / "g.npz", files / "X.npy",
                                    "--proba", "-o", full_disk / "p.npy", "-q", cwd=files)
    assert_one_line(status, err, 1, "p.npy", "No space left")
    assert os.listdir(full_disk) == ["filler"]


def test_fit_labels_on_a_full_disk_write_neither_output(files, full_disk, tmp_path):
    (full_disk / "filler").write_bytes(bytes(60 << 10))
    status, _, err = cli_subprocess("fit", files / "X.npy", "-k", 2, "--seed", 0,
                                    "-o", tmp_path / "m.npz", "--labels",
                                    full_disk / "labels.npy", "-q", cwd=files)
    assert_one_line(status, err, 1, "labels.npy", "No space left")
    assert os.listdir(full_disk) == ["filler"]
    assert not (tmp_path / "m.npz").exists()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


def test_fit_model_on_a_full_disk(files, full_disk):
    wide = np.random.RandomState(1).randn(40, 500)  # 20 centres: 80 KB of model
    np.save(files / "wide.npy", wide)
    status, _, err = cli("fit", files / "wide.npy", "-k", 20, "--seed", 0, "-o",
                         full_disk / "m.npz", "-q")
    assert_one_line(status, err, 1, "m.npz", "No space left")
    assert os.listdir(full_disk) == []


def test_save_on_a_full_disk_raises_oserror_and_leaves_nothing(full_disk):
    km = KMeans(20, random_state=0, n_init=1).fit(np.random.RandomState(1).randn(40, 500))
    with pytest.raises(OSError, match="m.npz.*No space left"):
        km.save(full_disk / "m.npz")
    assert os.listdir(full_disk) == []
    (full_disk / "m.npz").write_bytes(b"old model")
    with pytest.raises(OSError):
        km.save(full_disk / "m.npz")
    assert os.listdir(full_disk) == ["m.npz"]
    assert (full_disk / "m.npz").read_bytes() == b"old model"


# ------------------------------------------------- what an output may be
def make_target(tmp_path, kind):
    """A path of the given kind; returns (path, check it is unchanged)."""
    path = tmp_path / f"target-{kind}.npy"
    if kind == "fifo":
        os.mkfifo(path)
        return path, lambda: stat.S_ISFIFO(os.lstat(path).st_mode)
    if kind == "char device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
        except PermissionError:
            pytest.skip("creating a device node needs root")
        return path, lambda: stat.S_ISCHR(os.lstat(path).st_mode)
    if kind == "symlink":
        target = tmp_path / "linked.npy"
        target.write_bytes(b"linked")
        os.symlink(target, path)
        return path, lambda: (os.path.islink(path) and
                              target.read_bytes() == b"linked")
    if kind == "hard link":
        other = tmp_path / "other-name.npy"
        other.write_bytes(b"shared")
        os.link(other, path)
        return path, lambda: (os.stat(path).st_ino == os.stat(other).st_ino and
                              other.read_bytes() == b"shared")
    if kind == "directory":
        path.mkdir()
        return path, lambda: path.is_dir()
    raise AssertionError(kind)


KINDS = ["fifo", "char device", "symlink", "hard link", "directory"]
WORDS = {"fifo": "FIFO", "char device": "character device", "symlink": "symbolic link",
         "hard link": "hard links", "directory": "directory"}


@pytest.mark.parametrize("kind", KINDS)
def test_save_refuses_a_target_that_is_not_a_plain_file(X, tmp_path, kind):
    km = KMeans(2, random_state=0, n_init=1).fit(X[:100])
    path, unchanged = make_target(tmp_path, kind)
    with pytest.raises(ValueError, match=WORDS[kind]):
        km.save(path)
    assert unchanged()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", ["fit -o", "fit --labels", "predict -o"])
def test_command_line_refuses_a_target_that_is_not_a_plain_file(files, tmp_path, kind,
                                                                 option):
    path, unchanged = make_target(tmp_path, kind)
    if option == "fit -o":
        args = ("fit", files / "X.npy", "-k", 2, "-o", path, "-q")
    elif option == "fit --labels":
        args = ("fit", files / "X.npy", "-k", 2, "-o", tmp_path / "m.npz", "--labels",
                path, "-q")
    else:
        args = ("predict", files / "km.npz", files / "X.npy", "-o", path, "-q")
    status, _, err = cli(*args)
    assert_one_line(status, err, 2, str(path), WORDS[kind])
    assert unchanged()
    assert not (tmp_path / "m.npz").exists()


def test_rewriting_a_file_keeps_its_mode(X, files, tmp_path):
    km = KMeans(2, random_state=0, n_init=1).fit(X[:100])
    path = tmp_path / "private.npz"
    km.save(path)
    os.chmod(path, 0o600)
    km.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    kmgmm.load(path)
    out = tmp_path / "labels.csv"
    out.write_text("old\n")
    os.chmod(out, 0o640)
    status, _, err = cli("predict", path, files / "X.npy", "-o", out, "-q")
    assert status == 0, err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640
    assert out.read_text().splitlines()[0] in ("0", "1")


def test_new_files_follow_the_umask(X, tmp_path):
    km = KMeans(2, random_state=0, n_init=1).fit(X[:100])
    old = os.umask(0o027)
    try:
        km.save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o640


def test_npy_output_is_a_real_npy_file(files, tmp_path, X):
    """Written by ordinary writes (header, then blocks), readable by NumPy."""
    for proba, model in ((False, "km.npz"), (True, "g.npz")):
        out = tmp_path / f"out-{proba}.npy"
        args = ["predict", files / model, files / "X.npy", "-o", out, "-q",
                "--chunk-size", 300]
        status, _, err = cli(*args, *(["--proba"] if proba else []))
        assert status == 0, err
        got = np.load(out)
        live = kmgmm.load(files / model)
        expected = live.predict_proba(X) if proba else live.predict(X)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == (np.float64 if proba else np.int32)


# ------------------------------------------------- outputs that are inputs
def test_fit_refuses_to_overwrite_its_input(files, tmp_path, X):
    data = tmp_path / "data.npy"
    np.save(data, X)
    before = data.read_bytes()
    weights = tmp_path / "w.npy"
    np.save(weights, np.ones(len(X)))
    cases = [
        (("-o", data), ["-o", "same file", "the data"]),
        (("-o", tmp_path / "m.npz", "--labels", data), ["--labels", "the data"]),
        (("-o", tmp_path / "same.npy", "--labels", tmp_path / "same.npy"),
         ["--labels", "same file", "-o"]),
        (("-o", tmp_path / "same.npy", "--labels", tmp_path / "." / "same.npy"),
         ["--labels", "same file"]),
        (("-o", tmp_path / "m.npz", "--sample-weight", weights, "--labels", weights),
         ["--labels", "sample weights"]),
    ]
    for extra, words in cases:
        status, _, err = cli("fit", data, "-k", 2, "-q", *extra)
        assert_one_line(status, err, 2, *words)
    assert data.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["data.npy", "w.npy"]


def test_same_file_through_another_path_is_refused(files, tmp_path, X):
    data = tmp_path / "data.npy"
    np.save(data, X)
    sub = tmp_path / "sub"
    sub.mkdir()
    os.symlink(tmp_path, sub / "up")
    status, _, err = cli("fit", data, "-k", 2, "-q", "-o", sub / "up" / "data.npy")
    assert_one_line(status, err, 2, "same file")
    status, _, err = cli("fit", data, "-k", 2, "-q", "-o", sub / "up" / "new.npz",
                         "--labels", tmp_path / "new.npz")
    assert_one_line(status, err, 2, "same file")


def test_predict_refuses_to_overwrite_its_inputs(files, tmp_path, X):
    data = tmp_path / "data.npy"
    np.save(data, X)
    model = tmp_path / "km.npz"
    model.write_bytes((files / "km.npz").read_bytes())
    before = snapshot(tmp_path)
    for out, words in ((data, ["-o", "the data"]), (model, ["-o", "the model"])):
        status, _, err = cli("predict", model, data, "-o", out, "-q")
        assert_one_line(status, err, 2, "same file", *words)
    assert snapshot(tmp_path) == before
