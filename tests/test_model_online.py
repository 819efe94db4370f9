"""A GaussianMixture's online-EM state in its model file: ``load`` then
``partial_fit`` continues bit for bit as the saved estimator would; files
without the state (older, or from ``fit``) still load; a file's state is
checked like every other field."""
import json
import warnings

import numpy as np
import pytest

import kmgmm
from kmgmm import GaussianMixture
from kmgmm._model_files import HEADER_KEY, read_header

PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")
ONLINE = ("online.weights", "online.means", "online.covariances", "online.nk",
          "online.s1", "online.s2", "online.frame", "online.scale")


def data(n=3000, seed=0):
    rng = np.random.RandomState(seed)
    X = np.r_[rng.randn(n // 2, 3), rng.randn(n - n // 2, 3) * 0.5 + [5, 0, 1]]
    return X[rng.permutation(n)], rng.uniform(0.5, 2.0, n)


def batches(X, w, start, stop, size=400):
    for b in range(start, stop):
        yield X[b * size:(b + 1) * size], w[b * size:(b + 1) * size]


def members_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def header_of(members):
    return json.loads(members[HEADER_KEY].tobytes().decode())


def write_members(path, members, header):
    members = dict(members)
    members[HEADER_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **members)


def assert_same(a, b):
    for name in PARAMS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.lower_bounds_ == b.lower_bounds_ and a.lower_bound_ == b.lower_bound_
    assert a.n_steps_ == b.n_steps_ and a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "fixed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_then_partial_fit_continues_bit_for_bit(tmp_path, covariance_type, dtype):
    X, w = data()
    X = X.astype(dtype)
    kw = {"variance": 0.5} if covariance_type == "fixed" else {}
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0,
                         learning_decay=0.7, learning_offset=2.0, **kw)
    for xb, wb in batches(X, w, 0, 3):
        gm.partial_fit(xb, sample_weight=wb)
    path = gm.save(tmp_path / "online.npz")
    assert read_header(path)["format_version"] == 2
    loaded = kmgmm.load(path)
    assert_same(loaded, gm)
    for xb, wb in batches(X, w, 3, 7):
        gm.partial_fit(xb, sample_weight=wb)
        loaded.partial_fit(xb, sample_weight=wb)
    assert gm.n_steps_ == 7
    assert_same(loaded, gm)


def test_many_features_continue_bit_for_bit(tmp_path):
    """Factors of 128 x 128 covariances: LAPACK's blocked Cholesky, which a
    threaded BLAS may round differently, is computed as partial_fit does."""
    rng = np.random.RandomState(2)
    X = rng.randn(3000, 128) + 1e4 + 3.0 * rng.randint(4, size=(3000, 1))
    gm = GaussianMixture(4, covariance_type="full", random_state=0)
    gm.partial_fit(X[:1000])
    gm.partial_fit(X[1000:2000])
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the state is saved, not dropped
        loaded = kmgmm.load(gm.save(tmp_path / "wide.npz"))
    gm.partial_fit(X[2000:])
    loaded.partial_fit(X[2000:])
    assert_same(loaded, gm)


def test_hard_assignment_and_feature_names_continue(tmp_path):
    pd = pytest.importorskip("pandas")
    X, _ = data(seed=1)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    gm = GaussianMixture(2, assignment="hard", random_state=0)
    gm.partial_fit(frame[:500])
    gm.partial_fit(frame[500:1000])
    loaded = kmgmm.load(gm.save(tmp_path / "m.npz"))
    for part in (frame[1000:1500], frame[1500:2000]):
        gm.partial_fit(part)
        loaded.partial_fit(part)
    assert_same(loaded, gm)
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]


def test_fit_models_and_older_files_have_no_state(tmp_path):
    X, _ = data()
    fitted = GaussianMixture(2, random_state=0).fit(X)
    path = fitted.save(tmp_path / "fit.npz")
    header = read_header(path)
    assert header["format_version"] == 1
    assert not any(key.startswith("online.") for key in header["arrays"])

    # A file as a kmgmm before the state wrote it: the same model, no state.
    gm = GaussianMixture(2, random_state=0)
    for xb, _ in batches(X, np.ones(len(X)), 0, 3):
        gm.partial_fit(xb)
    members = members_of(gm.save(tmp_path / "new.npz"))
    header = header_of(members)
    for key in ONLINE:
        del members[key], header["arrays"][key]
    del header["scalars"]["n_steps_"]
    header["format_version"] = 1
    old = tmp_path / "old.npz"
    write_members(old, members, header)
    loaded = kmgmm.load(old)
    assert not hasattr(loaded, "n_steps_") and not hasattr(loaded, "_online")
    for name in PARAMS:
        assert np.array_equal(getattr(loaded, name), getattr(gm, name))
    # partial_fit restarts its averages from the fitted parameters (step 1),
    # as the estimator does when it forgets its state.
    del gm._online, gm.n_steps_
    batch = X[1200:1600]
    gm.partial_fit(batch)
    loaded.partial_fit(batch)
    assert loaded.n_steps_ == 1
    assert_same(loaded, gm)


def test_an_older_kmgmm_asks_for_an_upgrade(tmp_path, monkeypatch):
    from kmgmm import _model_spec

    X, _ = data()
    path = GaussianMixture(2, random_state=0).partial_fit(X).save(tmp_path / "m.npz")
    monkeypatch.setattr(_model_spec, "FORMAT_VERSION", 1)
    with pytest.raises(ValueError, match="format version 2.*upgrade"):
        kmgmm.load(path)


def test_a_stale_state_is_not_saved(tmp_path):
    X, _ = data()
    gm = GaussianMixture(2, random_state=0).partial_fit(X[:500])
    gm.means_ = gm.means_ + 1.0     # set by hand: the state is not its source
    with pytest.warns(UserWarning, match="online-EM state is not saved"):
        path = gm.save(tmp_path / "m.npz")
    header = read_header(path)
    assert header["format_version"] == 1 and "n_steps_" not in header["scalars"]
    assert not hasattr(kmgmm.load(path), "_online")
