"""Property tests for model files: any bytes load or fail cleanly, and every
fitted configuration survives a save/load round trip exactly."""
import io
import json
import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kmgmm
from kmgmm import GaussianMixture, KMeans
from kmgmm._model_files import HEADER_KEY

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def _data(n_features, dtype, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-8, 8, size=(4, n_features))
    X = centres[rng.randint(4, size=80)] + rng.randn(80, n_features)
    return X.astype(dtype)


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as d:
        yield d


@pytest.fixture(scope="module")
def seeds(workdir):
    """Real model files (bytes) to mutate: a KMeans and each kind of mixture."""
    X = _data(3, np.float64)
    models = [KMeans(3, random_state=0, n_init=1).fit(X),
              KMeans(2, init=X[:2].copy(), n_init=1).fit(X.astype(np.float32))]
    for cov in ("full", "tied", "diag", "spherical", "fixed"):
        extra = {"variance": 1.0} if cov == "fixed" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models.append(GaussianMixture(2, covariance_type=cov, random_state=0,
                                          max_iter=5, **extra).fit(X))
    out = []
    for i, model in enumerate(models):
        path = os.path.join(workdir, f"seed{i}.npz")
        model.save(path)
        with open(path, "rb") as fh:
            out.append(fh.read())
    return out


def _members(blob):
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _pack(members):
    buf = io.BytesIO()
    np.savez(buf, **members)
    return buf.getvalue()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) |
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) |
    st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)


@st.composite
def hostile_files(draw, seeds):
    """Random bytes, or a real model file damaged in one of several ways."""
    kind = draw(st.sampled_from(["bytes", "bit flips", "zip fields", "truncate",
                                 "overwrite", "header bits", "header value",
                                 "deep header", "array"]))
    if kind == "bytes":
        return draw(st.binary(max_size=512))
    blob = draw(st.sampled_from(seeds))
    if kind == "zip fields":
        # Bits of the fixed part of a local or central directory header: the
        # flags, compression method, sizes and offsets.  The central
        # directory has no CRC, so zipfile trusts what it says.
        starts = [i for i in range(len(blob) - 4)
                  if blob[i:i + 4] in (b"PK\x03\x04", b"PK\x01\x02")]
        data = bytearray(blob)
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.sampled_from(starts)) + draw(st.integers(4, 45))
            data[at] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if kind == "bit flips":
        data = bytearray(blob)
        for bit in draw(st.lists(st.integers(0, len(data) * 8 - 1), min_size=1,
                                 max_size=8)):
            data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)
    if kind == "truncate":
        return blob[:draw(st.integers(0, len(blob) - 1))]
    if kind == "overwrite":
        at = draw(st.integers(0, len(blob) - 1))
        return blob[:at] + draw(st.binary(min_size=1, max_size=16)) + blob[at + 16:]
    # The rest rebuild a valid archive, so the damage reaches past the CRCs.
    members = _members(blob)
    text = members[HEADER_KEY].tobytes()
    if kind == "header bits":
        data = bytearray(text)
        for bit in draw(st.lists(st.integers(0, len(data) * 8 - 1), min_size=1,
                                 max_size=4)):
            data[bit // 8] ^= 1 << (bit % 8)
        members[HEADER_KEY] = np.frombuffer(bytes(data), dtype=np.uint8)
    elif kind == "deep header":
        depth = draw(st.sampled_from([50, 5000, 100_000]))
        deep = b"[" * depth + b"]" * depth
        where = draw(st.sampled_from([b'"params": {', b'"scalars": {', b'"arrays": {']))
        text = text.replace(where, where + b'"deep": ' + deep + b", ", 1)
        members[HEADER_KEY] = np.frombuffer(text, np.uint8)
    elif kind == "header value":
        header = json.loads(text)
        section = draw(st.sampled_from(["params", "scalars", "arrays", None]))
        target = header if section is None else header[section]
        key = draw(st.sampled_from(sorted(target)) | st.text(max_size=8))
        target[key] = draw(json_values)
        members[HEADER_KEY] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    else:
        key = draw(st.sampled_from(sorted(k for k in members if k != HEADER_KEY)))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.uint8,
                                      np.complex64, np.bool_]))
        values = draw(st.sampled_from([0.0, 1.0, -1.0, np.nan, np.inf, 1e300]))
        with np.errstate(all="ignore"):
            members[key] = np.full(shape, values).astype(dtype)
    return _pack(members)


def test_any_bytes_load_cleanly_or_give_a_model_that_predicts(seeds, workdir):
    path = os.path.join(workdir, "hostile.npz")

    @SETTINGS
    @given(blob=hostile_files(seeds))
    def check(blob):
        with open(path, "wb") as fh:
            fh.write(blob)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = kmgmm.load(path)
        except ValueError as exc:
            assert path in str(exc)
            return
        X = np.zeros((3, model.n_features_in_))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels = model.predict(X)
        assert labels.shape == (3,)
        k = model.n_clusters if isinstance(model, KMeans) else model.n_components
        assert ((0 <= labels) & (labels < k)).all()

    check()


def _assert_same_model(loaded, model, X):
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    attrs = (["cluster_centers_"] if isinstance(model, KMeans) else
             ["weights_", "means_", "covariances_", "precisions_",
              "precisions_cholesky_"])
    for attr in attrs:
        got, want = getattr(loaded, attr), getattr(model, attr)
        assert got.dtype == want.dtype and got.shape == want.shape, attr
        np.testing.assert_array_equal(got, want)
    for attr in ("n_iter_", "n_features_in_", "inertia_", "lower_bound_", "converged_"):
        if hasattr(model, attr):
            assert getattr(loaded, attr) == getattr(model, attr), attr
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
        assert loaded.lower_bounds_ == model.lower_bounds_


ROUND_TRIP = settings(max_examples=30, deadline=None, derandomize=True)


def test_kmeans_round_trip_for_any_configuration(workdir):
    path = os.path.join(workdir, "km.npz")

    @ROUND_TRIP
    @given(k=st.integers(1, 6), d=st.integers(1, 5),
           dtype=st.sampled_from([np.float32, np.float64]),
           algorithm=st.sampled_from(["auto", "lloyd", "hamerly", "elkan"]),
           init=st.sampled_from(["k-means++", "random", "array"]),
           seed=st.integers(0, 2**32 - 1), tol=st.sampled_from([0.0, 1e-4, 0.5]))
    def check(k, d, dtype, algorithm, init, seed, tol):
        X = _data(d, dtype, seed % 7)
        if init == "array":
            init = X[:k].copy()
        model = KMeans(k, init=init, n_init=1, algorithm=algorithm, random_state=seed,
                       tol=tol, max_iter=20, n_threads=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)
        model.save(path)
        loaded = kmgmm.load(path)
        if isinstance(model.init, np.ndarray):
            np.testing.assert_array_equal(loaded.init, model.init)
            loaded.init = model.init  # get_params compares arrays by identity
        _assert_same_model(loaded, model, X)

    check()


def test_mixture_round_trip_for_any_configuration(workdir):
    path = os.path.join(workdir, "gmm.npz")

    @ROUND_TRIP
    @given(k=st.integers(1, 4), d=st.integers(1, 4),
           dtype=st.sampled_from([np.float32, np.float64]),
           covariance_type=st.sampled_from(["full", "tied", "diag", "spherical",
                                            "fixed"]),
           assignment=st.sampled_from(["soft", "hard"]),
           variance=st.floats(0.1, 10.0), seed=st.integers(0, 2**32 - 1),
           estimate_weights=st.booleans())
    def check(k, d, dtype, covariance_type, assignment, variance, seed,
              estimate_weights):
        X = _data(d, dtype, seed % 7)
        model = GaussianMixture(
            k, covariance_type=covariance_type, assignment=assignment,
            variance=variance if covariance_type == "fixed" else None,
            estimate_weights=estimate_weights, random_state=seed, max_iter=5,
            n_threads=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model.fit(X)
            except ValueError:  # an ill-defined covariance on this draw
                return
        model.save(path)
        _assert_same_model(kmgmm.load(path), model, X)

    check()
