"""Model files built to hurt: bombs, damaged archives, invalid parameters.

Every unreadable file must be a ValueError naming the file from kmgmm.load,
and exit status 2 with one line from ``kmgmm info`` / ``kmgmm predict``.
"""
import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest

import kmgmm
from kmgmm import GaussianMixture, KMeans
from kmgmm._model_files import HEADER_KEY, MAX_MODEL_BYTES
from kmgmm._threads import max_threads


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return np.r_[rng.randn(100, 3), rng.randn(100, 3) + 5.0]


@pytest.fixture(scope="module")
def model_path(X, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "km.npz"
    KMeans(4, random_state=0, n_init=1).fit(X).save(path)
    return path


def members_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def header_of(members):
    return json.loads(members[HEADER_KEY].tobytes().decode())


def npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def npy_head(descr, shape):
    """A version 1.0 .npy header declaring ``descr`` and ``shape``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def header_blob(header):
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def raw_zip(entries):
    """A zip archive written field by field, so any field can be anything.

    ``entries``: dicts with ``name``, ``data`` (the bytes as stored), and
    optionally ``method`` (0 stored), ``crc``, ``size`` (uncompressed, as
    stated) and ``flags``.
    """
    out = io.BytesIO()
    central = []
    for e in entries:
        name = e["name"].encode()
        data = e["data"]
        method = e.get("method", 0)
        crc = e.get("crc", zlib.crc32(data) if method == 0 else 0)
        size = e.get("size", len(data))
        flags = e.get("flags", 0)
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21,
                              crc, len(data), size, len(name), 0))
        out.write(name)
        out.write(data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags,
                                   method, 0, 0x21, crc, len(data), size, len(name), 0,
                                   0, 0, 0, 0, offset) + name)
    start = out.tell()
    for c in central:
        out.write(c)
    size = out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                          size, start, 0))
    return out.getvalue()


def model_zip(members, header=None, replace=None):
    """A model file's bytes: ``members`` as stored .npy entries, ``replace``
    maps a key to an entry dict overriding its stored form."""
    members = dict(members)
    if header is not None:
        members[HEADER_KEY] = header_blob(header)
    entries = []
    for key, value in members.items():
        entry = {"name": key + ".npy", "data": npy_bytes(value)}
        entry.update((replace or {}).get(key, {}))
        entries.append(entry)
    return raw_zip(entries)


def assert_refused(path, *words):
    with pytest.raises(ValueError) as info:
        kmgmm.load(path)
    message = str(info.value)
    assert str(path) in message, message
    for word in words:
        assert word in message, (word, message)
    return message


def assert_cli_refuses(path, X, tmp_path, *words):
    """``kmgmm info`` and ``kmgmm predict`` exit 2 with one line naming the file."""
    from kmgmm._cli import main

    data = tmp_path / "X.npy"
    np.save(data, X)
    for args in (["info", str(path)],
                 ["predict", str(path), str(data), "-o", str(tmp_path / "out.npy")]):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            status = main(args)
        lines = stderr.getvalue().strip().splitlines()
        assert status == 2, (args, status, stderr.getvalue())
        assert len(lines) == 1 and "Traceback" not in stderr.getvalue(), stderr.getvalue()
        assert lines[0].startswith("kmgmm: ") and str(path) in lines[0]
        for word in words:
            assert word in lines[0], (word, lines[0])
    assert not (tmp_path / "out.npy").exists()


# -------------------------------------------------- parameters in the header
@pytest.mark.parametrize("change, words", [
    ({"algorithm": "bogus"}, ["algorithm"]),
    ({"tol": -1}, ["tol"]),
    ({"tol": float("nan")}, ["tol"]),
    ({"max_iter": 0}, ["max_iter"]),
    ({"n_init": "many"}, ["n_init"]),
    ({"n_init": 0}, ["n_init"]),
    ({"init": "bogus"}, ["init"]),
    ({"verbose": -3}, ["verbose"]),
    ({"n_threads": 0}, ["n_threads"]),
    ({"n_threads": "all"}, ["n_threads"]),
    ({"random_state": -1}, ["random_state"]),
    ({"random_state": 2 ** 40}, ["random_state"]),
    ({"n_clusters": True}, ["n_clusters"]),
])
def test_invalid_kmeans_parameters_are_refused(model_path, tmp_path, change, words):
    members = members_of(model_path)
    header = header_of(members)
    header["params"].update(change)
    path = tmp_path / "bad.npz"
    path.write_bytes(model_zip(members, header))
    assert_refused(path, "invalid", *words)


@pytest.mark.parametrize("change, words", [
    ({"assignment": "bogus"}, ["assignment"]),
    ({"init_params": "bogus"}, ["init_params"]),
    ({"reg_covar": -1.0}, ["reg_covar"]),
    ({"warm_start": 3}, ["warm_start"]),
    ({"variance": 2.0}, ["variance"]),          # only with covariance_type="fixed"
    ({"covariance_type": "bogus"}, ["covariances_"]),
])
def test_invalid_mixture_parameters_are_refused(X, tmp_path, change, words):
    GaussianMixture(2, covariance_type="diag", random_state=0).fit(X).save(
        tmp_path / "g.npz")
    members = members_of(tmp_path / "g.npz")
    header = header_of(members)
    header["params"].update(change)
    path = tmp_path / "bad.npz"
    path.write_bytes(model_zip(members, header))
    assert_refused(path, *words)


def test_fixed_mixture_without_its_variance_is_refused(X, tmp_path):
    GaussianMixture(2, covariance_type="fixed", variance=1.0, random_state=0).fit(X) \
        .save(tmp_path / "g.npz")
    members = members_of(tmp_path / "g.npz")
    header = header_of(members)
    header["params"]["variance"] = None
    path = tmp_path / "bad.npz"
    path.write_bytes(model_zip(members, header))
    assert_refused(path, "variance")


def test_huge_n_threads_in_a_file_is_lowered_with_a_warning(model_path, X, tmp_path):
    members = members_of(model_path)
    header = header_of(members)
    header["params"]["n_threads"] = 100_000
    path = tmp_path / "threads.npz"
    path.write_bytes(model_zip(members, header))
    with pytest.warns(UserWarning, match="n_threads=100000"):
        model = kmgmm.load(path)
    assert model.n_threads == max_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(X[:10])


def test_unexpected_fitted_values_and_mixed_dtypes_are_refused(model_path, tmp_path):
    members = members_of(model_path)
    header = header_of(members)
    header["scalars"]["payload"] = [[[1]]]
    path = tmp_path / "bad.npz"
    path.write_bytes(model_zip(members, header))
    assert_refused(path, "unexpected fitted values")

    header = header_of(members)
    header["params_not_saved"] = ["__class__"]
    path.write_bytes(model_zip(members, header))
    assert_refused(path, "params_not_saved")


@pytest.mark.parametrize("dtype", ["|O", "<i8", "<c16", "|S8", "<U4", "|V8"])
def test_only_float_arrays_are_accepted(model_path, tmp_path, dtype):
    members = members_of(model_path)
    header = header_of(members)
    header["arrays"]["cluster_centers_"]["dtype"] = dtype
    path = tmp_path / "bad.npz"
    path.write_bytes(model_zip(members, header))
    assert_refused(path, "float32 or float64")


def test_mixture_arrays_in_two_dtypes_are_refused(X, tmp_path):
    GaussianMixture(2, covariance_type="diag", random_state=0).fit(X).save(
        tmp_path / "g.npz")
    members = members_of(tmp_path / "g.npz")
    header = header_of(members)
    members["means_"] = members["means_"].astype(np.float32)
    header["arrays"]["means_"]["dtype"] = "<f4"
    path = tmp_path / "bad.npz"
    path.write_bytes(model_zip(members, header))
    assert_refused(path, "float32", "float64")


# ------------------------------------------------------- decompression bombs
BOMB_ROWS = 40 << 21  # 640 MiB of float64 zeros, about 0.6 MB deflated


@pytest.fixture(scope="module")
def bomb():
    """A deflated .npy member of BOMB_ROWS float64 zeros: (stored bytes, size, crc)."""
    head = npy_head("<f8", (BOMB_ROWS,))
    chunk = bytes(1 << 24)
    n_chunks, tail = divmod(BOMB_ROWS * 8, len(chunk))
    assert tail == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    # After a full flush the compressor starts afresh, so every zero chunk
    # compresses to the same bytes: deflate one and repeat it.
    start = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    data = start + block * n_chunks + c.flush()
    crc = zlib.crc32(head)
    for _ in range(n_chunks):
        crc = zlib.crc32(chunk, crc)
    size = len(head) + BOMB_ROWS * 8
    return {"data": data, "method": zipfile.ZIP_DEFLATED, "crc": crc, "size": size}


def test_the_bomb_is_real(bomb):
    out = zlib.decompressobj(-15)
    first = out.decompress(bomb["data"], 1 << 20)
    assert np.lib.format.read_magic(io.BytesIO(first)) == (1, 0)
    assert len(bomb["data"]) < 1 << 20 and bomb["size"] > 600 << 20


def peak_bytes_while(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("kind", ["shape differs from the header",
                                  "header asks for too much",
                                  "stated size differs from the shape"])
def test_decompression_bomb_is_refused_before_it_is_inflated(model_path, tmp_path,
                                                             bomb, kind):
    members = members_of(model_path)
    header = header_of(members)
    replace = {"cluster_centers_": bomb}
    words = ["cluster_centers_"]
    if kind == "header asks for too much":
        rows = MAX_MODEL_BYTES // 24 + 1
        header["params"]["n_clusters"] = rows
        header["arrays"]["cluster_centers_"]["shape"] = [rows, 3]
        words = [f"{MAX_MODEL_BYTES >> 20} MiB"]
    elif kind == "stated size differs from the shape":
        # The .npy header says (4, 3) as the header does; the archive says
        # (and the stream holds) 640 MB.
        good = npy_bytes(members["cluster_centers_"])
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        stream = c.compress(good) + c.flush(zlib.Z_FULL_FLUSH)
        zeros = c.compress(bytes(1 << 24)) + c.flush(zlib.Z_FULL_FLUSH)
        stream += zeros * 40 + c.flush()
        replace = {"cluster_centers_": {"data": stream, "method": zipfile.ZIP_DEFLATED,
                                        "size": len(good) + (40 << 24), "crc": 0}}
        words = ["cluster_centers_", "stores"]
    else:
        words = ["cluster_centers_", "does not match its header"]
    path = tmp_path / "bomb.npz"
    path.write_bytes(model_zip(members, header, replace))
    assert path.stat().st_size < 1 << 20
    peak = peak_bytes_while(lambda: assert_refused(path, *words))
    assert peak < 16 << 20, f"loading allocated {peak >> 20} MiB"


# -------------------------------------------------------------- damaged files
def damaged(members, kind):
    if kind == "compression method":
        return model_zip(members, replace={"cluster_centers_": {"method": 99}})
    if kind == "encrypted flag":
        return model_zip(members, replace={"cluster_centers_": {"flags": 0x1}})
    if kind == "deep JSON header":
        deep = b"[" * 100_000 + b"]" * 100_000
        return model_zip({**members, HEADER_KEY: np.frombuffer(deep, np.uint8)})
    if kind == "member declares shape 1e12":
        big = npy_head("<f8", (10 ** 12,)) + bytes(96)
        return model_zip(members, replace={"cluster_centers_": {"data": big}})
    if kind == "bad CRC":
        return model_zip(members, replace={"cluster_centers_": {"crc": 12345}})
    if kind == "object member":
        data = npy_head("|O", (4, 3)) + b"\x80\x04N." * 12
        return model_zip(members, replace={"cluster_centers_": {"data": data}})
    if kind == "duplicate member":
        entries = [{"name": k + ".npy", "data": npy_bytes(v)} for k, v in members.items()]
        return raw_zip(entries + entries[-1:])
    if kind == "member not .npy":
        entries = [{"name": k + ".npy", "data": npy_bytes(v)} for k, v in members.items()]
        return raw_zip(entries + [{"name": "README.txt", "data": b"hello"}])
    if kind == "npy format 3":
        data = npy_bytes(members["cluster_centers_"])
        data = data[:6] + b"\x03\x00" + data[8:]
        return model_zip(members, replace={"cluster_centers_": {"data": data}})
    raise AssertionError(kind)


DAMAGE = ["compression method", "encrypted flag", "deep JSON header",
          "member declares shape 1e12", "bad CRC", "object member", "duplicate member",
          "member not .npy", "npy format 3"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_file_is_a_value_error_naming_the_file(model_path, tmp_path, kind):
    path = tmp_path / "damaged.npz"
    path.write_bytes(damaged(members_of(model_path), kind))
    assert_refused(path)


@pytest.mark.parametrize("kind", ["compression method", "encrypted flag",
                                  "deep JSON header", "member declares shape 1e12"])
def test_damaged_file_on_the_command_line_is_one_line(model_path, X, tmp_path, kind):
    path = tmp_path / "damaged.npz"
    path.write_bytes(damaged(members_of(model_path), kind))
    assert_cli_refuses(path, X, tmp_path)


def test_fifo_and_directory_are_not_model_files(tmp_path):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    assert_refused(fifo, "not a regular file")   # and does not block reading it
    assert_refused(tmp_path, "directory")


def test_model_file_in_a_subprocess_cli_is_one_line(model_path, tmp_path, package_env):
    path = tmp_path / "damaged.npz"
    path.write_bytes(damaged(members_of(model_path), "encrypted flag"))
    proc = subprocess.run([sys.executable, "-m", "kmgmm", "info", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=package_env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_running_out_of_memory_while_loading_is_a_value_error(model_path, monkeypatch):
    import kmgmm._model_files as model_files

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(model_files.np, "empty", no_memory)
    assert_refused(model_path, "too large to load")


# ------------------------------------------------------------ hostile files
# A GaussianMixture's online-EM state (tests/test_model_online.py has the rest).
ONLINE = ("online.weights", "online.means", "online.covariances", "online.nk",
          "online.s1", "online.s2", "online.frame", "online.scale")


@pytest.fixture(scope="module")
def online_file(X, tmp_path_factory):
    gm = GaussianMixture(2, covariance_type="full", random_state=0)
    for rows in np.array_split(np.arange(len(X)), 3):
        gm.partial_fit(X[rows])
    return gm.save(tmp_path_factory.mktemp("online") / "m.npz"), X


def _edit(members, key, fn):
    members = dict(members)
    members[key] = fn(members[key].copy())
    return members


def _nan(a):
    a.reshape(-1)[0] = np.nan
    return a


def _negate_first(a):
    a.reshape(-1)[0] = -abs(a.reshape(-1)[0]) - 1.0
    return a


@pytest.mark.parametrize("key, change, words", [
    ("online.s1", _nan, ["online.s1", "finite"]),
    ("online.s2", _nan, ["online.s2", "finite"]),
    ("online.frame", lambda a: a * np.inf, ["online.frame", "finite"]),
    ("online.scale", _nan, ["online.scale", "finite"]),
    ("online.nk", _negate_first, ["online.nk", "non-negative"]),
    ("online.nk", lambda a: a * 0, ["online.nk", "positive sum"]),
    ("online.weights", _negate_first, ["online.weights", "non-negative"]),
    ("online.scale", lambda a: a * 0, ["online.scale", "positive"]),
    ("online.scale", lambda a: -a, ["online.scale", "positive"]),
    ("online.covariances", lambda a: -a, ["online.covariances", "positive definite"]),
    ("online.means", lambda a: a + 1.0, ["online-EM state", "means_"]),
    ("online.weights", lambda a: a[::-1].copy(), ["online-EM state", "weights_"]),
])
def test_invalid_state_values_are_refused(online_file, tmp_path, key, change, words):
    path, _ = online_file
    members = _edit(members_of(path), key, change)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(model_zip(members, header_of(members)))
    assert_refused(bad, *words)


def test_invalid_state_on_the_command_line_is_one_line(online_file, tmp_path):
    path, X = online_file
    members = _edit(members_of(path), "online.nk", _nan)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(model_zip(members, header_of(members)))
    assert_cli_refuses(bad, X, tmp_path, "online.nk")


def test_incomplete_or_mistyped_state_is_refused(online_file, tmp_path):
    path, _ = online_file
    bad = tmp_path / "bad.npz"
    original = members_of(path)

    members, header = dict(original), header_of(original)
    del members["online.s2"], header["arrays"]["online.s2"]
    bad.write_bytes(model_zip(members, header))
    assert_refused(bad, "online-EM state lacks", "online.s2")

    members, header = dict(original), header_of(original)
    del header["scalars"]["n_steps_"]
    bad.write_bytes(model_zip(members, header))
    assert_refused(bad, "online-EM state lacks", "n_steps_")

    for steps, words in ((0, ["at least 1"]), (-1, ["n_steps_"]), (1.5, ["n_steps_"]),
                         ("3", ["n_steps_"])):
        header = header_of(original)
        header["scalars"]["n_steps_"] = steps
        bad.write_bytes(model_zip(original, header))
        assert_refused(bad, *words)

    members, header = dict(original), header_of(original)
    for key in ONLINE:
        del members[key], header["arrays"][key]
    bad.write_bytes(model_zip(members, header))
    assert_refused(bad, "'n_steps_' but no online-EM state")

    members, header = dict(original), header_of(original)
    members["online.s1"] = members["online.s1"].astype(np.float32)
    header["arrays"]["online.s1"]["dtype"] = "<f4"
    bad.write_bytes(model_zip(members, header))
    assert_refused(bad, "online.s1", "float64")

    members, header = dict(original), header_of(original)
    members["online.s2"] = members["online.s2"][:1]
    header["arrays"]["online.s2"]["shape"] = [1, 3, 3]
    bad.write_bytes(model_zip(members, header))
    assert_refused(bad, "online.s2", "disagree in shape")

    members, header = dict(original), header_of(original)
    members["online.bogus"] = members["online.nk"]
    header["arrays"]["online.bogus"] = header["arrays"]["online.nk"]
    bad.write_bytes(model_zip(members, header))
    assert_refused(bad, "unexpected array")


def test_a_valid_edited_state_loads(online_file, tmp_path):
    """The checks refuse what is wrong, not every change: a file whose
    averages are scaled (the M-step does not depend on their units) loads
    and continues."""
    path, X = online_file
    members = dict(members_of(path))
    for key in ("online.nk", "online.s1", "online.s2", "online.scale"):
        members[key] = members[key] * 4.0
    good = tmp_path / "good.npz"
    good.write_bytes(model_zip(members, header_of(members)))
    reference = kmgmm.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = kmgmm.load(good)
    reference.partial_fit(X[::3])
    scaled.partial_fit(X[::3])
    np.testing.assert_allclose(scaled.means_, reference.means_, rtol=1e-12)
