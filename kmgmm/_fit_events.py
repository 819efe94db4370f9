"""What a fit tells the outside while it runs: the public per-iteration
``callback`` of the estimators and the ``verbose`` messages, which go
through the ``logging`` module (logger ``"kmgmm"``).

A callback is called as ``callback(progress)`` with a ``FitProgress``:

* when an initialisation starts (``stage="init"``, ``n_iter=0``);
* after every iteration of the k-means that initialises a mixture
  (``init_params="kmeans"``: ``stage="init"``, ``n_iter`` out of that
  k-means' ``max_iter``);
* after every iteration of the fit itself (``stage="fit"``).

If it returns True the fit stops after that iteration: the estimator is
fitted with the parameters reached so far and ``converged_`` is False (an
initialisation asked to stop goes straight on to the fit's first
iteration, which stops there).  An exception it raises ends the fit and
propagates out of ``fit``.
"""
from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import Callable, Iterator
from typing import NamedTuple

logger = logging.getLogger("kmgmm")


class FitProgress(NamedTuple):
    """One report of a running fit to its ``callback``.

    stage : "init" while an initialisation runs (its seeding, and the
        k-means that starts a mixture), "fit" for the fit's iterations.
    run : which initialisation, from 1 to ``n_init``.
    n_init : how many initialisations the fit runs.
    n_iter : the iteration just done in this stage (0: the stage starts).
    max_iter : the most iterations this stage may take.
    objective : after an iteration, k-means' inertia (weighted sum of
        squared distances; lower is better) or a mixture's mean
        log-likelihood per sample (higher is better); NaN when n_iter is 0.
    change : the squared shift of the centres (k-means) or the change of
        the log-likelihood (a mixture) in this iteration; NaN when n_iter is 0.
    estimator : the name of the estimator's class.
    """

    stage: str
    run: int
    n_init: int
    n_iter: int
    max_iter: int
    objective: float
    change: float
    estimator: str


Callback = Callable[[FitProgress], bool | None]


def check_callback(value, name="callback"):
    if value is not None and not callable(value):
        raise TypeError(
            f"{name} must be None or a callable taking a kmgmm.FitProgress, got "
            f"{value!r}.")
    return value


class Reporter:
    """A fit's link to its callback: builds the ``FitProgress`` of each
    report and remembers whether the callback asked to stop."""

    def __init__(self, callback: Callback | None, estimator: str, n_init: int,
                 max_iter: int):
        self.callback = callback
        self.estimator = estimator
        self.n_init = n_init
        self.max_iter = max_iter
        self.run = 1
        self.stop_requested = False

    def _send(self, stage, n_iter, max_iter, objective, change):
        if self.callback is None:
            return False
        progress = FitProgress(stage, self.run, self.n_init, int(n_iter), int(max_iter),
                               float(objective), float(change), self.estimator)
        if self.callback(progress) is True:
            self.stop_requested = True
        return self.stop_requested

    def start_run(self, run: int) -> None:
        """Initialisation ``run`` (1-based) starts."""
        self.run = run
        self._send("init", 0, 0, math.nan, math.nan)

    def init_iterations(self, max_iter: int):
        """The three-argument callback for the iterations of an
        initialisation (None without a callback)."""
        if self.callback is None:
            return None

        def report(n_iter, objective, change):
            return self._send("init", n_iter, max_iter, objective, change)
        return report

    def iterations(self):
        """The three-argument callback ``(n_iter, objective, change)`` the
        algorithms call after each iteration; True asks them to stop."""
        if self.callback is None:
            return None

        def report(n_iter, objective, change):
            return self._send("fit", n_iter, self.max_iter, objective, change)
        return report


@contextlib.contextmanager
def verbose_logging(verbose: int) -> Iterator[None]:
    """While a fit with ``verbose > 0`` runs, its messages are logged at INFO
    on the ``"kmgmm"`` logger (which is set to INFO if it would drop them).
    When logging is not configured (no handler anywhere for ``"kmgmm"``)
    they are printed on stdout, as ``verbose`` output always was."""
    if not verbose:
        yield
        return
    handler = None
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)
        if handler is not None:
            logger.removeHandler(handler)
