"""Input validation edge cases: pandas' NA and NumPy structured arrays."""
import numpy as np
import pytest

import kmgmm

pd = pytest.importorskip("pandas")

ESTIMATORS = [
    pytest.param(lambda: kmgmm.KMeans(2, n_init=1, random_state=0), id="KMeans"),
    pytest.param(lambda: kmgmm.GaussianMixture(2, random_state=0), id="GaussianMixture"),
]

X_PLAIN = np.array([[0.0, 0.0], [0.1, 0.2], [5.0, 5.0], [5.2, 4.9]])


def _frames_with_na():
    ints = pd.DataFrame({"a": pd.array([1, pd.NA, 3, 4], dtype="Int64"),
                         "b": [1.0, 2.0, 3.0, 4.0]})
    floats = pd.DataFrame({"a": pd.array([1.0, 2.0, pd.NA, 4.0], dtype="Float64"),
                           "b": pd.array([1, 2, 3, 4], dtype="Int64")})
    objects = np.array([[1.0, 2.0], [pd.NA, 3.0], [4.0, 5.0], [6.0, 7.0]], dtype=object)
    as_list = [[1.0, 2.0], [3.0, pd.NA], [4.0, 5.0], [6.0, 7.0]]
    return {"Int64 frame": ints, "Float64 frame": floats, "object array": objects,
            "list": as_list}


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("kind", list(_frames_with_na()))
def test_fit_with_pandas_na_is_a_missing_value_error(make, kind):
    X = _frames_with_na()[kind]
    with pytest.raises(ValueError, match=r"X contains missing values \(NA\)") as info:
        make().fit(X)
    message = str(info.value)
    assert "impute" in message and "NAType" not in message


@pytest.mark.parametrize("make", ESTIMATORS)
def test_predict_with_pandas_na_is_a_missing_value_error(make):
    est = make().fit(X_PLAIN)
    X = np.array([[1.0, pd.NA]], dtype=object)
    with pytest.raises(ValueError, match=r"X contains missing values \(NA\)"):
        est.predict(X)


@pytest.mark.parametrize("make", ESTIMATORS)
def test_sample_weight_with_pandas_na_names_sample_weight(make):
    w = np.array([1.0, pd.NA, 1.0, 1.0], dtype=object)
    with pytest.raises(ValueError, match=r"sample_weight contains missing values \(NA\)"):
        make().fit(X_PLAIN, sample_weight=w)


def test_other_non_numeric_objects_are_still_a_type_error():
    X = np.array([[1.0, {}], [2.0, 3.0]], dtype=object)
    with pytest.raises(TypeError, match="must contain only numbers"):
        kmgmm.KMeans(1).fit(X)


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("as_rec", [False, True], ids=["structured", "recarray"])
def test_structured_array_is_reported_as_such(make, as_rec):
    X = np.zeros(4, dtype=[("a", "f8"), ("b", "f8")])
    X["a"], X["b"] = X_PLAIN[:, 0], X_PLAIN[:, 1]
    if as_rec:
        X = X.view(np.recarray)
    with pytest.raises(ValueError, match="structured") as info:
        make().fit(X)
    message = str(info.value)
    assert "strings" not in message
    assert "structured_to_unstructured" in message and "['a', 'b']" in message
    # The advice works.
    from numpy.lib import recfunctions
    est = make().fit(recfunctions.structured_to_unstructured(np.asarray(X)))
    assert est.n_features_in_ == 2


def test_structured_sample_weight_names_sample_weight():
    w = np.ones(4, dtype=[("w", "f8")])
    with pytest.raises(ValueError, match="sample_weight is a structured"):
        kmgmm.KMeans(2, n_init=1, random_state=0).fit(X_PLAIN, sample_weight=w)


def test_strings_are_still_reported_as_strings():
    with pytest.raises(ValueError, match="X contains strings"):
        kmgmm.KMeans(1).fit(np.array([["a", "b"], ["c", "d"]]))
