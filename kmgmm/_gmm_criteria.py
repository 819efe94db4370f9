"""What a fitted Gaussian mixture offers beside its fit and predictions: its
parameter count, BIC and AIC on data, and samples drawn from it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._gaussian import n_parameters, sample_mixture
from ._validation import check_int, check_random_state


class MixtureCriteria:
    """For an estimator with ``weights_``, ``means_``, ``covariances_``,
    ``covariance_type``, ``estimate_weights``, ``random_state`` and ``score``."""

    if TYPE_CHECKING:       # what the estimator brings
        weights_: np.ndarray
        means_: np.ndarray
        covariances_: np.ndarray
        covariance_type: str
        estimate_weights: bool
        random_state: Any

        def score(self, X: ArrayLike, y: object = None,
                  sample_weight: ArrayLike | None = None) -> float: ...

        def _check_is_fitted(self, method: str, attribute: str) -> None: ...

    def _n_parameters(self):
        n_features = self.means_.shape[1]
        k = self.means_.shape[0]
        n = n_parameters(getattr(self, "_fitted_covariance_type", self.covariance_type),
                         k, n_features)
        if not self.estimate_weights:
            n -= k - 1
        return n

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion of the model on X (lower is better)."""
        self._check_is_fitted("bic", "means_")
        n = np.shape(X)[0]
        return -2 * self.score(X) * n + self._n_parameters() * np.log(n)

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion of the model on X (lower is better)."""
        self._check_is_fitted("aic", "means_")
        n = np.shape(X)[0]
        return -2 * self.score(X) * n + 2 * self._n_parameters()

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples from the fitted mixture: returns (X, component labels)."""
        self._check_is_fitted("sample", "means_")
        if isinstance(n_samples, (float, np.floating)) and float(n_samples).is_integer():
            n_samples = int(n_samples)      # scikit-learn accepts 2.0
        n_samples = check_int(n_samples, "n_samples", low=1)
        return sample_mixture(self.weights_, self.means_, self.covariances_,
                              self.covariance_type, n_samples,
                              check_random_state(self.random_state))

