"""What every kmgmm estimator shares: scikit-learn's ``BaseEstimator`` (its
``get_params``/``set_params``, repr, HTML repr, metadata routing and pickling
with version checks), model files, and the tags kmgmm's validation implies.

Estimators also take scikit-learn's mixins for what they are: ``KMeans`` is a
``ClusterMixin`` and ``TransformerMixin`` (so ``set_output`` works),
``GaussianMixture`` a ``DensityMixin``, as in scikit-learn.
"""
from __future__ import annotations

import os

from sklearn.base import BaseEstimator as _SklearnBaseEstimator
from sklearn.utils import Tags, TransformerTags

from ._exceptions import not_fitted_error


class BaseEstimator(_SklearnBaseEstimator):
    """scikit-learn's ``BaseEstimator`` with kmgmm's model files and tags."""

    # The attribute whose presence means "fitted" (set by each estimator).
    _fitted_attribute: str = ""

    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's parameter names, sorted (as ``get_params`` has them)."""
        return list(cls._get_param_names())

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the fitted model to ``path`` as a kmgmm model file (.npz).

        The file holds NumPy arrays and a JSON header, nothing executable;
        ``kmgmm.load(path)`` reads it back.  What is written is what was
        fitted (the number of clusters comes from the fitted arrays); the
        training labels (``labels_``) are not saved: ``predict`` on the
        training data gives them again.  Returns the path written.
        """
        from ._model_files import save_model

        return save_model(self, path)

    def _check_is_fitted(self, method: str, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise not_fitted_error(self, method)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._fitted_attribute)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.two_d_array = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    def _sklearn_tags(self, *, transformer: bool = False,
                      estimator_type: str | None = "clusterer") -> Tags:
        """This estimator's tags, for an estimator that does not take the
        mixin of its kind: ``estimator_type`` and, with ``transformer``,
        transformer tags that keep float32 and float64."""
        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = estimator_type
        if transformer:
            tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        return tags
