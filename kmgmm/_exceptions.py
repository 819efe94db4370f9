"""The warnings and exceptions kmgmm raises, in one place.

``ConvergenceWarning`` and ``NotFittedError`` are scikit-learn's own classes
(``kmgmm.ConvergenceWarning is sklearn.exceptions.ConvergenceWarning``), so
a filter or an ``except`` clause written for scikit-learn applies to kmgmm.
They are looked up on first use (PEP 562): importing scikit-learn takes far
longer than the rest of kmgmm, and the command line's parser and ``kmgmm
--help`` need neither.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = ["ConvergenceWarning", "NotFittedError", "UsageError", "not_fitted_error",
           "warn_convergence"]


class UsageError(Exception):
    """A mistake in the command line or the files it names (the ``kmgmm``
    command exits with status 2)."""


def __getattr__(name: str) -> Any:
    if name in ("ConvergenceWarning", "NotFittedError"):
        from sklearn import exceptions

        return getattr(exceptions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def warn_convergence(message: str, stacklevel: int = 2) -> None:
    """Issue scikit-learn's ConvergenceWarning from the caller's caller."""
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel + 1)


def not_fitted_error(estimator: object, method: str) -> Exception:
    """scikit-learn's NotFittedError for calling ``method`` on an unfitted
    ``estimator``."""
    from sklearn.exceptions import NotFittedError

    return NotFittedError(
        f"This {type(estimator).__name__} instance is not fitted yet; call "
        f"'fit' with appropriate arguments before using '{method}'.")
