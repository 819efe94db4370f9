"""Every estimator's parameters and what they may be, declared once as data.

Each estimator has a table ``PARAMETERS[name]``: parameter -> constraint. A
constraint is a small function ``check(value, name)`` that returns the value
(normalised) or raises a ``TypeError``/``ValueError`` naming the parameter and
what it may be.  ``validate`` runs an estimator's table; the estimator then
checks what depends on the data (an initial array's shape) or on other
parameters.  The same tables validate a fit in memory, on Dask, and a model
file's header.
"""
import numbers

import numpy as np

from ._covariance import COVARIANCE_TYPES
from ._fit_events import check_callback
from ._validation import check_bool, check_choice, check_int, check_real, check_verbose


def integer(low=None, high=None, *, none=False):
    def check(value, name):
        return check_int(value, name, low=low, high=high, allow_none=none)
    return check


def real(low=None, *, low_inclusive=True, high=None, none=False):
    def check(value, name):
        if value is None and none:
            return None
        return check_real(value, name, low=low, low_inclusive=low_inclusive, high=high)
    return check


def one_of(*options):
    def check(value, name):
        return check_choice(value, name, options)
    return check


def boolean(value, name):
    return check_bool(value, name)


def verbosity(value, name):
    return check_verbose(value)


def seed(value, name):
    """None, an int in [0, 2**32), a RandomState or a Generator."""
    ok = (value is None or isinstance(value, (np.random.RandomState, np.random.Generator))
          or (isinstance(value, numbers.Integral) and not isinstance(value, bool)
              and 0 <= value < 2**32))
    if not ok:
        raise ValueError(
            f"{name}={value!r} cannot seed a random generator; use None, an integer "
            "in [0, 2**32) or a numpy.random.RandomState.")
    return value


def function(value, name):
    """None or a callable."""
    return check_callback(value, name)


def anything(value, name):
    """Checked where the data is known (initial arrays, callables)."""
    return value


KMEANS_ALGORITHMS = ("lloyd", "elkan", "hamerly", "auto")
ASSIGNMENTS = ("soft", "hard")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")

PARAMETERS = {
    "KMeans": {
        "n_clusters": integer(1),
        "init": anything,              # a name, an array or a callable: KMeans
        "n_init": anything,            # "auto" or an int >= 1: KMeans
        "max_iter": integer(1),
        "tol": real(0),
        "random_state": seed,
        "copy_x": boolean,
        "algorithm": one_of(*KMEANS_ALGORITHMS),
        "n_threads": integer(1, none=True),
        "verbose": verbosity,
        "callback": function,
    },
    "SphericalKMeans": {
        "n_clusters": integer(1),
        "init": anything,              # a name, an array or a callable: SphericalKMeans
        "n_init": anything,            # "auto" or an int >= 1: SphericalKMeans
        "max_iter": integer(1),
        "tol": real(0),
        "random_state": seed,
        "n_threads": integer(1, none=True),
        "verbose": verbosity,
    },
    "MiniBatchKMeans": {
        "n_clusters": integer(1),
        "init": anything,              # a name, an array or a callable: MiniBatchKMeans
        "max_iter": integer(1),
        "batch_size": integer(1),
        "verbose": verbosity,
        "compute_labels": boolean,
        "random_state": seed,
        "tol": real(0),
        "max_no_improvement": integer(0, none=True),
        "init_size": integer(1, none=True),
        "n_init": anything,            # "auto" or an int >= 1: MiniBatchKMeans
        "reassignment_ratio": real(0),
        "n_threads": integer(1, none=True),
    },
    "GaussianMixture": {
        "n_components": integer(1),
        "covariance_type": one_of(*COVARIANCE_TYPES),
        "variance": real(0, low_inclusive=False, none=True),
        "assignment": one_of(*ASSIGNMENTS),
        "estimate_weights": boolean,
        "tol": real(0),
        "reg_covar": real(0),
        "max_iter": integer(0),
        "n_init": integer(1),
        "init_params": one_of(*INIT_PARAMS),
        "weights_init": anything,      # arrays: checked against the data
        "means_init": anything,
        "precisions_init": anything,
        "resp_init": anything,         # checked against X: _resp_init
        "random_state": seed,
        "warm_start": boolean,
        "learning_decay": real(0.5, low_inclusive=False, high=1.0),   # partial_fit
        "learning_offset": real(0),
        "n_threads": integer(1, none=True),
        "verbose": verbosity,
        "callback": function,
    },
    "MixtureSelection": {
        "n_components": anything,      # ints: _selection.check_grid
        "covariance_types": anything,
        "criterion": one_of("bic", "icl", "aic"),
        "n_init": integer(1),
        "init_params": one_of("kmeans", "k-means++", "random_from_data"),
        "tol": real(0),
        "reg_covar": real(0),
        "max_iter": integer(1),
        "random_state": seed,
        "n_threads": integer(1, none=True),
        "verbose": verbosity,
    },
    "BayesianGaussianMixture": {
        "n_components": integer(1),
        "covariance_type": one_of("full", "tied", "diag", "spherical"),
        "tol": real(0),
        "reg_covar": real(0),
        "max_iter": integer(0),
        "n_init": integer(1),
        "init_params": one_of(*INIT_PARAMS),
        "weight_concentration_prior_type": one_of(*WEIGHT_PRIOR_TYPES),
        "weight_concentration_prior": real(0, low_inclusive=False, none=True),
        "mean_precision_prior": real(0, low_inclusive=False, none=True),
        "mean_prior": anything,        # arrays: checked against the data
        "degrees_of_freedom_prior": real(0, low_inclusive=False, none=True),
        "covariance_prior": anything,
        "resp_init": anything,         # checked against X: _resp_init
        "random_state": seed,
        "warm_start": boolean,
        "n_threads": integer(1, none=True),
        "verbose": verbosity,
    },
}


def validate(estimator):
    """Check every parameter of ``estimator`` against its table; returns the
    normalised values by name."""
    # The first class in the MRO with a table: a subclass checks as its base.
    table = next(PARAMETERS[c.__name__] for c in type(estimator).__mro__
                 if c.__name__ in PARAMETERS)
    return {name: check(getattr(estimator, name), name) for name, check in table.items()}
