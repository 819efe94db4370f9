"""The warnings and exceptions kmgmm raises, in one place.

scikit-learn is not imported here (importing it takes seconds).  When the
caller has imported ``sklearn.exceptions``, the warning or error kmgmm raises
is of a class that derives from both kmgmm's class and scikit-learn's of the
same name, so a filter or an ``except`` clause written for scikit-learn
applies to kmgmm too (a filter on scikit-learn's class can only be written
after importing it).
"""
import sys
import warnings


class ConvergenceWarning(UserWarning):
    """The fit ended in a state the user should know about."""


class UsageError(Exception):
    """A mistake in the command line or the files it names (the ``kmgmm``
    command exits with status 2)."""


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted estimator is called before fit."""


_compatible = {}


def _with_sklearn_base(cls):
    """``cls``, or a subclass of it and of scikit-learn's class of the same
    name when ``sklearn.exceptions`` is loaded."""
    base = getattr(sys.modules.get("sklearn.exceptions"), cls.__name__, None)
    if base is None or issubclass(cls, base):
        return cls
    key = (cls, base)
    both = _compatible.get(key)
    if both is None:
        both = type(cls.__name__, (cls, base), {})
        both.__module__ = "kmgmm"
        both.__qualname__ = cls.__qualname__
        _compatible[key] = both
    return both


def warn_convergence(message, stacklevel=2):
    """Issue a ConvergenceWarning (scikit-learn's too, when it is loaded)."""
    warnings.warn(message, _with_sklearn_base(ConvergenceWarning),
                  stacklevel=stacklevel + 1)


def not_fitted_error(estimator, method):
    """The NotFittedError for calling ``method`` on an unfitted ``estimator``."""
    message = (
        f"This {type(estimator).__name__} instance is not fitted yet; call "
        f"'fit' with appropriate arguments before using '{method}'."
    )
    return _with_sklearn_base(NotFittedError)(message)
