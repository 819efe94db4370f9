"""kmgmm's estimators are scikit-learn estimators: its base class and mixins,
exceptions, output containers (set_output), HTML repr and data frames."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    DensityMixin,
    TransformerMixin,
    clone,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import kmgmm
from kmgmm import GaussianMixture, KMeans


def blobs(n=300, d=3, k=4, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-10, 10, (k, d))
    return centers[rng.randint(k, size=n)] + rng.standard_normal((n, d))


def test_classes_are_scikit_learns():
    import sklearn.exceptions

    assert kmgmm.ConvergenceWarning is sklearn.exceptions.ConvergenceWarning
    assert kmgmm.NotFittedError is sklearn.exceptions.NotFittedError
    for mixin in (BaseEstimator, ClusterMixin, TransformerMixin,
                  ClassNamePrefixFeaturesOutMixin):
        assert issubclass(KMeans, mixin)
    assert issubclass(GaussianMixture, BaseEstimator)
    assert issubclass(GaussianMixture, DensityMixin)
    assert issubclass(KMeans, kmgmm._base.BaseEstimator)
    assert sklearn.base.is_clusterer(KMeans())
    assert sklearn.utils.get_tags(GaussianMixture()).estimator_type == "density_estimator"


@pytest.mark.parametrize("estimator", [KMeans(), GaussianMixture()],
                         ids=["KMeans", "GaussianMixture"])
def test_check_estimator_says_nothing_about_the_base_class(estimator):
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_estimator(estimator, expected_failed_checks={})
    about_base = [str(w.message) for w in caught if "inherit" in str(w.message)]
    assert about_base == []


def test_unfitted_errors_and_convergence_warnings_are_scikit_learns():
    from sklearn.exceptions import ConvergenceWarning, NotFittedError

    X = blobs()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        KMeans(2).predict(X)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianMixture(2).score_samples(X)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        GaussianMixture(4, max_iter=1, tol=0, random_state=0).fit(X)


def test_set_output_pandas_in_a_pipeline():
    X = blobs()
    pipe = make_pipeline(StandardScaler(), KMeans(4, random_state=0)).set_output(
        transform="pandas")
    out = pipe.fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["kmeans0", "kmeans1", "kmeans2", "kmeans3"]
    np.testing.assert_allclose(out.to_numpy(), pipe.transform(X).to_numpy())
    labels = pipe.fit_predict(X)
    assert labels.shape == (300,)


def test_global_transform_output_is_followed():
    X = blobs()
    km = KMeans(4, random_state=0).fit(X)
    with sklearn.config_context(transform_output="pandas"):
        out = km.transform(pd.DataFrame(X, index=np.arange(300) + 1000))
        assert isinstance(out, pd.DataFrame)
        assert list(out.index[:2]) == [1000, 1001]
    assert isinstance(km.transform(X), np.ndarray)


def test_html_repr_and_text_repr():
    html = KMeans(4, tol=1e-3)._repr_html_()
    assert "KMeans" in html and "<div" in html
    assert repr(KMeans(4, tol=1e-3)) == "KMeans(n_clusters=4, tol=0.001)"
    assert repr(GaussianMixture(2, covariance_type="diag")) == \
        "GaussianMixture(covariance_type='diag', n_components=2)"


def test_clone_and_set_params_go_through_scikit_learn():
    km = clone(KMeans(5, tol=1e-3).set_params(max_iter=7))
    assert km.get_params()["max_iter"] == 7 and km.n_clusters == 5
    with pytest.raises(ValueError, match="Invalid parameter"):
        KMeans().set_params(n_cluster=3)


def test_import_kmgmm_does_not_import_scikit_learn(tmp_path, package_env):
    code = ("import sys, kmgmm; assert 'sklearn' not in sys.modules, 'sklearn'; "
            "kmgmm.KMeans; assert 'sklearn' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path,
                   env=package_env)


# ------------------------------------------------------------------ polars
def _polars():
    return pytest.importorskip("polars")


@pytest.mark.parametrize("cls", [KMeans, GaussianMixture])
def test_polars_dataframe_has_feature_names_and_renames_are_caught(cls):
    pl = _polars()
    X = blobs()
    df = pl.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    est = cls(3, random_state=0).fit(df)
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    reference = cls(3, random_state=0).fit(X)
    np.testing.assert_array_equal(est.predict(df), reference.predict(X))
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        est.predict(df.rename({"a": "z"}))
    with pytest.raises(ValueError, match="same order"):
        est.predict(df.select(["b", "a", "c"]))


def test_polars_float32_keeps_its_dtype_and_nulls_are_refused():
    pl = _polars()
    X = blobs().astype(np.float32)
    df = pl.DataFrame({"a": X[:, 0], "b": X[:, 1]})
    assert KMeans(2, random_state=0).fit(df).cluster_centers_.dtype == np.float32
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(pl.DataFrame({"a": [1.0, None, 3.0], "b": [1.0, 2.0, 3.0]}))
    with pytest.raises(ValueError, match="only numbers"):
        KMeans(2).fit(pl.DataFrame({"a": ["x", "y", "z"], "b": [1.0, 2.0, 3.0]}))


@pytest.mark.parametrize("method", ["fit", "predict"])
def test_polars_lazyframe_is_refused_with_collect_advice(method):
    pl = _polars()
    X = blobs()
    lazy = pl.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]}).lazy()
    km = KMeans(2, random_state=0)
    if method == "predict":
        km.fit(X)
    with pytest.raises(TypeError, match=r"LazyFrame.*\.collect\(\)"):
        getattr(km, method)(lazy)


def test_pyarrow_table_is_a_data_frame():
    pa = pytest.importorskip("pyarrow")
    X = blobs()
    table = pa.table({"x": X[:, 0], "y": X[:, 1], "z": X[:, 2]})
    km = KMeans(3, random_state=0).fit(table)
    assert list(km.feature_names_in_) == ["x", "y", "z"]
    np.testing.assert_array_equal(km.labels_, KMeans(3, random_state=0).fit(X).labels_)


def test_polars_output_container():
    pl = _polars()
    X = blobs()
    km = KMeans(3, random_state=0).set_output(transform="polars").fit(X)
    out = km.transform(X)
    assert isinstance(out, pl.DataFrame) and out.columns == ["kmeans0", "kmeans1",
                                                             "kmeans2"]
