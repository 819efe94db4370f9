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


def real(low=None, *, low_inclusive=True, none=False):
    def check(value, name):
        if value is None and none:
            return None
        return check_real(value, name, low=low, low_inclusive=low_inclusive)
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
        "random_state": seed,
        "warm_start": boolean,
        "n_threads": integer(1, none=True),
        "verbose": verbosity,
        "callback": function,
    },
}


def validate(estimator):
    """Check every parameter of ``estimator`` against its table; returns the
    normalised values by name."""
    table = PARAMETERS[type(estimator).__name__]
    return {name: check(getattr(estimator, name), name) for name, check in table.items()}
