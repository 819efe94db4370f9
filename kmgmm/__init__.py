"""kmgmm: fast k-means and Gaussian-mixture clustering.

Typed Cython kernels with OpenMP threads behind scikit-learn estimators.

The public names are imported on first use (PEP 562): ``import kmgmm`` stays
quick, and scikit-learn, which the estimators build on, is imported with
them.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "KMeans": "._kmeans",
    "MiniBatchKMeans": "._minibatch",
    "SphericalKMeans": "._spherical",
    "GaussianMixture": "._gmm",
    "BayesianGaussianMixture": "._bayesian",
    "MixtureSelection": "._selection",
    "kmeans_plusplus": "._plusplus",
    "ConvergenceWarning": "._exceptions",
    "FitProgress": "._fit_events",
    "NotFittedError": "._exceptions",
    "load": "._model_files",
    "show_config": "._config",
}

if TYPE_CHECKING:
    from ._bayesian import BayesianGaussianMixture as BayesianGaussianMixture
    from ._config import show_config as show_config
    from ._exceptions import ConvergenceWarning as ConvergenceWarning
    from ._exceptions import NotFittedError as NotFittedError
    from ._fit_events import FitProgress as FitProgress
    from ._gmm import GaussianMixture as GaussianMixture
    from ._kmeans import KMeans as KMeans
    from ._minibatch import MiniBatchKMeans as MiniBatchKMeans
    from ._model_files import load as load
    from ._plusplus import kmeans_plusplus as kmeans_plusplus
    from ._selection import MixtureSelection as MixtureSelection
    from ._spherical import SphericalKMeans as SphericalKMeans

__all__ = ["BayesianGaussianMixture", "ConvergenceWarning", "FitProgress",
           "GaussianMixture", "KMeans", "MiniBatchKMeans", "MixtureSelection",
           "NotFittedError", "SphericalKMeans", "__version__", "kmeans_plusplus", "load",
           "show_config"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'kmgmm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
