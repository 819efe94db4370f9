"""What every kmgmm estimator shares: parameters, repr, scikit-learn tags."""
import inspect

from ._exceptions import not_fitted_error


class BaseEstimator:
    """get_params/set_params/repr following scikit-learn's conventions.

    scikit-learn is not needed at run time; when it is installed, the
    estimators work with its ``clone``, ``Pipeline`` and model selection.
    """

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(
            p.name for p in sig.parameters.values()
            if p.name != "self" and p.kind != p.VAR_KEYWORD
        )

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}; "
                    f"valid parameters are {valid}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self):
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = default is value or bool(default == value)
            except Exception:  # arrays and other objects without a plain ==
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def save(self, path):
        """Write the fitted model to ``path`` as a kmgmm model file (.npz).

        The file holds NumPy arrays and a JSON header, nothing executable;
        ``kmgmm.load(path)`` reads it back.  What is written is what was
        fitted (the number of clusters comes from the fitted arrays); the
        training labels (``labels_``) are not saved: ``predict`` on the
        training data gives them again.  Returns the path written.
        """
        from ._model_files import save_model

        return save_model(self, path)

    def _check_is_fitted(self, method, attribute):
        if not hasattr(self, attribute):
            raise not_fitted_error(self, method)

    def __sklearn_is_fitted__(self):
        return hasattr(self, self._fitted_attribute)

    def _sklearn_tags(self, *, transformer=False, estimator_type="clusterer"):
        # Only scikit-learn calls __sklearn_tags__, so it is importable here.
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=estimator_type,
            target_tags=TargetTags(required=False),
            transformer_tags=(
                TransformerTags(preserves_dtype=["float64", "float32"])
                if transformer else None
            ),
            input_tags=InputTags(two_d_array=True, allow_nan=False, sparse=False),
        )
