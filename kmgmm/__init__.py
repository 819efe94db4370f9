"""kmgmm: fast k-means and Gaussian-mixture clustering.

Typed Cython kernels with OpenMP threads behind scikit-learn-compatible
estimators.
"""
__version__ = "0.1.0"

from ._config import show_config
from ._gmm import GaussianMixture
from ._exceptions import ConvergenceWarning, NotFittedError
from ._kmeans import KMeans
from ._minibatch import MiniBatchKMeans
from ._model_files import load

__all__ = ["KMeans", "MiniBatchKMeans", "GaussianMixture", "ConvergenceWarning",
           "NotFittedError", "load", "show_config", "__version__"]
