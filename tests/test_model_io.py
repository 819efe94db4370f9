"""Model files (model.save / kmgmm.load) and pickling."""
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import kmgmm
from kmgmm import KMeans
from kmgmm._model_files import FORMAT_VERSION, HEADER_KEY, read_header

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical", "fixed")


@pytest.fixture
def GaussianMixture():
    if not hasattr(kmgmm, "GaussianMixture"):
        pytest.skip("kmgmm.GaussianMixture is not in this build")
    return kmgmm.GaussianMixture


@pytest.fixture
def X(mixture):
    return mixture(600, 3, 4, seed=1)[0]


@pytest.fixture
def kmeans_file(X, tmp_path):
    km = KMeans(4, random_state=0).fit(X)
    path = tmp_path / "km.npz"
    km.save(path)
    return km, path


def _members(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _header(members):
    return json.loads(members[HEADER_KEY].tobytes().decode())


def _write(path, members, header=None):
    if header is not None:
        members = dict(members)
        members[HEADER_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **members)


# ------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_round_trip(mixture, tmp_path, dtype):
    X = mixture(500, 3, 4, dtype=dtype, seed=2)[0]
    km = KMeans(4, random_state=0, n_init=2, tol=1e-3).fit(X)
    path = km.save(tmp_path / "model.npz")
    assert os.path.exists(path)
    loaded = kmgmm.load(path)
    assert type(loaded) is KMeans
    assert loaded.get_params() == km.get_params()
    assert loaded.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)
    assert loaded.inertia_ == km.inertia_ and loaded.n_iter_ == km.n_iter_
    assert loaded.n_features_in_ == 3
    np.testing.assert_array_equal(loaded.predict(X), km.predict(X))
    assert loaded.score(X) == km.score(X)


def test_save_writes_exactly_the_name_given_and_leaves_no_temporary(X, tmp_path):
    KMeans(2, random_state=0).fit(X).save(tmp_path / "model")
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_array_init_is_saved_and_unsaveable_params_are_listed(X, tmp_path):
    init = X[:4].copy()
    km = KMeans(4, init=init, random_state=np.random.RandomState(0)).fit(X)
    km.save(tmp_path / "m.npz")
    loaded = kmgmm.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.init, init)
    assert loaded.random_state is None
    assert read_header(tmp_path / "m.npz")["params_not_saved"] == ["random_state"]
    np.testing.assert_array_equal(loaded.predict(X), km.predict(X))


def test_feature_names_survive(X, tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    km = KMeans(3, random_state=0).fit(df)
    km.save(tmp_path / "m.npz")
    loaded = kmgmm.load(tmp_path / "m.npz")
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.predict(df), km.predict(df))


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        KMeans(3).save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)


def test_kmeans_pickle_round_trip(X):
    km = KMeans(4, random_state=0).fit(X)
    again = pickle.loads(pickle.dumps(km))
    assert again.get_params() == km.get_params()
    np.testing.assert_array_equal(again.cluster_centers_, km.cluster_centers_)
    np.testing.assert_array_equal(again.labels_, km.labels_)
    np.testing.assert_array_equal(again.predict(X), km.predict(X))
    unfitted = pickle.loads(pickle.dumps(KMeans(5, tol=0.5)))
    assert unfitted.get_params() == KMeans(5, tol=0.5).get_params()


# -------------------------------------------------------- broken and hostile
def test_future_format_version_is_refused(kmeans_file, tmp_path):
    _, path = kmeans_file
    members = _members(path)
    header = _header(members)
    header["format_version"] = FORMAT_VERSION + 1
    _write(tmp_path / "future.npz", members, header)
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}.*upgrade"):
        kmgmm.load(tmp_path / "future.npz")


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.99])
def test_truncated_file_is_refused(kmeans_file, tmp_path, keep):
    _, path = kmeans_file
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="truncated|damaged"):
        kmgmm.load(cut)


@pytest.mark.parametrize("content", [b"", b"hello world", b"\x93NUMPY\x01\x00",
                                     pickle.dumps({"a": 1})])
def test_not_a_model_file(tmp_path, content):
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a kmgmm model"):
        kmgmm.load(path)


def test_plain_npz_and_npy_are_not_models(X, tmp_path):
    np.savez(tmp_path / "plain.npz", X=X)
    with pytest.raises(ValueError, match="not a kmgmm model"):
        kmgmm.load(tmp_path / "plain.npz")
    np.save(tmp_path / "plain.npy", X)
    with pytest.raises(ValueError, match="not a kmgmm model"):
        kmgmm.load(tmp_path / "plain.npy")


def test_arrays_disagreeing_in_shape_are_refused(kmeans_file, tmp_path):
    km, path = kmeans_file
    members = _members(path)
    header = _header(members)
    members["cluster_centers_"] = np.zeros((3, 3))  # n_clusters is 4
    header["arrays"]["cluster_centers_"]["shape"] = [3, 3]
    _write(tmp_path / "bad.npz", members, header)
    with pytest.raises(ValueError, match="disagree in shape.*cluster_centers_"):
        kmgmm.load(tmp_path / "bad.npz")
    header["scalars"]["n_features_in_"] = 5  # centres have 3 columns
    members["cluster_centers_"] = np.zeros((4, 3))
    header["arrays"]["cluster_centers_"]["shape"] = [4, 3]
    _write(tmp_path / "bad2.npz", members, header)
    with pytest.raises(ValueError, match="disagree in shape"):
        kmgmm.load(tmp_path / "bad2.npz")


def test_header_and_array_out_of_step_are_refused(kmeans_file, tmp_path):
    _, path = kmeans_file
    members = _members(path)
    header = _header(members)
    members["cluster_centers_"] = np.zeros((4, 3), dtype=np.float32)
    _write(tmp_path / "bad.npz", members, header)
    with pytest.raises(ValueError, match="does not match its header"):
        kmgmm.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("change", ["unknown estimator", "unknown param", "extra member",
                                    "missing array", "bad scalar", "non-finite centres"])
def test_malformed_contents_are_refused(kmeans_file, tmp_path, change):
    _, path = kmeans_file
    members = _members(path)
    header = _header(members)
    if change == "unknown estimator":
        header["estimator"] = "os.system"
        match = "does not know"
    elif change == "unknown param":
        header["params"]["evil"] = 1
        match = "does not take"
    elif change == "extra member":
        members["payload"] = np.zeros(3)
        match = "unexpected"
    elif change == "missing array":
        del members["cluster_centers_"]
        match = "missing"
    elif change == "bad scalar":
        header["scalars"]["n_iter_"] = "many"
        match = "n_iter_"
    else:
        members["cluster_centers_"] = np.full((4, 3), np.nan)
        match = "finite"
    _write(tmp_path / "bad.npz", members, header)
    with pytest.raises(ValueError, match=match):
        kmgmm.load(tmp_path / "bad.npz")


class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def _pickled_object_array(marker):
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(str(marker))
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


@pytest.mark.parametrize("where", ["centres", "header", "extra", "param"])
def test_pickle_payload_is_never_executed(kmeans_file, tmp_path, where):
    _, path = kmeans_file
    marker = tmp_path / "marker"
    members = _members(path)
    header = _header(members)
    evil = tmp_path / "evil.npz"
    # Build the archive by hand so one member is a pickled object array.
    with zipfile.ZipFile(evil, "w") as zf:
        for key, value in members.items():
            if key == HEADER_KEY:
                value = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
            buf = io.BytesIO()
            np.save(buf, value)
            name = {"centres": "cluster_centers_", "header": HEADER_KEY}.get(where)
            if key == name:
                zf.writestr(key + ".npy", _pickled_object_array(marker))
            else:
                zf.writestr(key + ".npy", buf.getvalue())
        if where == "extra":
            zf.writestr("payload.npy", _pickled_object_array(marker))
        if where == "param":
            header["arrays"]["param.init"] = {"shape": [1], "dtype": "|O"}
            zf.writestr("param.init.npy", _pickled_object_array(marker))
    with pytest.raises(ValueError):
        kmgmm.load(evil)
    assert not marker.exists()
    # The payload really would run if unpickled: the test is not vacuous.
    with zipfile.ZipFile(evil) as zf:
        name = next(n for n in zf.namelist()
                    if zf.read(n) == _pickled_object_array(marker))
        np.load(io.BytesIO(zf.read(name)), allow_pickle=True)
    assert marker.exists()


def test_raw_pickle_named_npz_is_never_executed(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError, match="not a kmgmm model"):
        kmgmm.load(path)
    assert not marker.exists()


# --------------------------------------------------------- GaussianMixture
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gaussian_mixture_round_trip(GaussianMixture, X, tmp_path, covariance_type):
    params = {"variance": 1.0} if covariance_type == "fixed" else {}
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0,
                          **params).fit(X)
    gmm.save(tmp_path / "g.npz")
    loaded = kmgmm.load(tmp_path / "g.npz")
    assert type(loaded) is GaussianMixture
    assert loaded.get_params() == gmm.get_params()
    for attr in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(loaded, attr), getattr(gmm, attr))
    assert loaded.converged_ == gmm.converged_ and loaded.n_iter_ == gmm.n_iter_
    np.testing.assert_array_equal(loaded.predict(X), gmm.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), gmm.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), gmm.score_samples(X))


def test_gaussian_mixture_pickle_round_trip(GaussianMixture, X):
    gmm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    again = pickle.loads(pickle.dumps(gmm))
    np.testing.assert_array_equal(again.means_, gmm.means_)
    np.testing.assert_array_equal(again.predict_proba(X), gmm.predict_proba(X))


def test_gaussian_mixture_covariance_shape_checked(GaussianMixture, X, tmp_path):
    GaussianMixture(3, covariance_type="full", random_state=0).fit(X).save(
        tmp_path / "g.npz")
    members = _members(tmp_path / "g.npz")
    header = _header(members)
    header["params"]["covariance_type"] = "diag"  # arrays are (3, 3, 3), not (3, 3)
    _write(tmp_path / "bad.npz", members, header)
    with pytest.raises(ValueError, match="disagree in shape"):
        kmgmm.load(tmp_path / "bad.npz")


# ------------------------------------------------- saving what was fitted
def test_save_after_set_params_writes_what_was_fitted(X, tmp_path):
    km = KMeans(4, random_state=0).fit(X)
    km.set_params(n_clusters=5)
    km.save(tmp_path / "m.npz")
    loaded = kmgmm.load(tmp_path / "m.npz")
    assert loaded.n_clusters == 4 and km.n_clusters == 5  # the estimator is untouched
    np.testing.assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)
    np.testing.assert_array_equal(loaded.predict(X), km.predict(X))


def test_mixture_save_after_set_params_writes_what_was_fitted(GaussianMixture, X,
                                                             tmp_path):
    gmm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    proba = gmm.predict_proba(X)
    gmm.set_params(n_components=7, tol=0.5)
    gmm.save(tmp_path / "g.npz")
    loaded = kmgmm.load(tmp_path / "g.npz")
    assert loaded.n_components == 3 and loaded.tol == 0.5
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)


@pytest.mark.parametrize("change, words", [
    ({"covariance_type": "full"}, ["cannot save", "set_params", "covariances_"]),
    ({"covariance_type": "fixed", "variance": 1.0}, ["cannot save"]),
    ({"tol": -1.0}, ["cannot save", "tol"]),
    ({"assignment": "bogus"}, ["cannot save", "assignment"]),
])
def test_save_refuses_parameters_that_no_longer_fit_the_arrays(GaussianMixture, X,
                                                               tmp_path, change, words):
    gmm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    gmm.set_params(**change)
    with pytest.raises(ValueError) as info:
        gmm.save(tmp_path / "g.npz")
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert not os.listdir(tmp_path)


def test_invalid_kmeans_parameter_set_after_fit_is_not_saved(X, tmp_path):
    km = KMeans(4, random_state=0).fit(X)
    km.set_params(algorithm="bogus")
    with pytest.raises(ValueError, match="cannot save.*algorithm"):
        km.save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)


def test_loaded_kmeans_has_no_training_labels(X, tmp_path):
    km = KMeans(4, random_state=0).fit(X)
    km.save(tmp_path / "m.npz")
    loaded = kmgmm.load(tmp_path / "m.npz")
    assert not hasattr(loaded, "labels_")
    np.testing.assert_array_equal(loaded.predict(X), km.labels_)
    assert "labels_" in kmgmm.load.__doc__
