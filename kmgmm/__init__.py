"""kmgmm: fast k-means and Gaussian-mixture clustering.

Typed Cython kernels with OpenMP threads behind scikit-learn-compatible
estimators.
"""
__version__ = "0.1.0"

from ._bayesian import BayesianGaussianMixture
from ._config import show_config
from ._gmm import GaussianMixture
from ._exceptions import ConvergenceWarning, NotFittedError
from ._kmeans import KMeans
from ._minibatch import MiniBatchKMeans
from ._model_files import load
from ._plusplus import kmeans_plusplus
from ._selection import MixtureSelection
from ._spherical import SphericalKMeans

__all__ = ["KMeans", "MiniBatchKMeans", "SphericalKMeans", "GaussianMixture",
           "BayesianGaussianMixture", "MixtureSelection", "kmeans_plusplus", "load",
           "show_config", "ConvergenceWarning", "NotFittedError", "__version__"]
