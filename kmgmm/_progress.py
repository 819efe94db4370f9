"""Per-iteration progress and a clean stop on Ctrl-C, for long fits.

The command line follows a fit through the estimators' public ``callback``
parameter (``kmgmm._fit_events``): ``FitLine`` shows each report, and a
``StopRequest`` turns Ctrl-C into the callback's request to stop, so the
fit ends with the model reached so far.
"""
import contextlib
import math
import signal
import sys
import threading
import time


class Interrupted(Exception):
    """Ctrl-C was pressed; the loop stopped between two iterations."""

    def __init__(self, where=""):
        super().__init__(where)
        self.where = where


@contextlib.contextmanager
def watch(estimator, callback):
    """Inside the block, call ``callback(n_iter, objective, change)`` after
    each iteration of ``estimator``'s fit (its ``callback`` parameter is
    restored afterwards); True from it stops the fit.  An estimator without
    a ``callback`` parameter gets the three-argument hook as the attribute
    ``_iteration_callback`` for the block, as before the parameter existed."""
    if "callback" not in estimator.get_params(deep=False):
        estimator._iteration_callback = callback
        try:
            yield estimator
        finally:
            try:
                del estimator._iteration_callback
            except AttributeError:
                pass
        return
    previous = estimator.callback

    def on_progress(progress):
        if progress.stage == "fit" and progress.n_iter:
            return callback(progress.n_iter, progress.objective, progress.change)
        return None

    estimator.set_params(callback=on_progress)
    try:
        yield estimator
    finally:
        estimator.set_params(callback=previous)


class StopRequest:
    """Turns the first Ctrl-C into a flag the loops check between iterations.

    A second Ctrl-C falls back to the default action and ends the process at
    once (for a kernel pass that takes too long to wait for).
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            sys.stderr.write("\nkmgmm: stopping at the next iteration "
                             "(Ctrl-C again to stop at once)\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def check(self, where=""):
        if self.requested:
            raise Interrupted(where)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False


class IterationClock:
    """Times iterations from the callbacks: the gaps between consecutive calls.

    A gap is counted only from iteration i to i + 1 of the same run, so the
    initialisation (before iteration 1, and between runs when n_init > 1)
    is left out.
    """

    def __init__(self):
        self._last = None
        self.total = 0.0
        self.count = 0
        self.calls = 0

    def tick(self, n_iter):
        now = time.perf_counter()
        if self._last is not None and n_iter == self._last[0] + 1:
            self.total += now - self._last[1]
            self.count += 1
        self._last = (n_iter, now)
        self.calls += 1

    def seconds_per_iteration(self, fallback_seconds, n_iter):
        """Mean gap; without two consecutive calls, fallback_seconds / n_iter."""
        if self.count:
            return self.total / self.count
        return fallback_seconds / max(int(n_iter), 1)


class ProgressLine:
    """One status line on stderr, rewritten in place on a terminal.

    On a terminal it is redrawn at most 10 times a second; otherwise (a log
    file, a pipe) a full line is printed at most once a second.  The first
    update is always shown.
    """

    def __init__(self, stream=None, enabled=True):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.1 if self.tty else 1.0
        self._last = None
        self._width = 0
        self.start = time.perf_counter()

    def elapsed(self):
        return time.perf_counter() - self.start

    def update(self, text, force=False):
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self):
        if self.enabled and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def describe(progress, objective_name):
    """One status line for a ``FitProgress``: the stage, the initialisation,
    the iteration out of its maximum and the objective."""
    run = (f"initialisation {progress.run}/{progress.n_init}, "
           if progress.n_init > 1 else "")
    if progress.stage == "init":
        if progress.n_iter == 0:
            return f"{run}initialising (seeding)"
        return (f"{run}initialising: k-means iteration {progress.n_iter}/"
                f"{progress.max_iter}  inertia {progress.objective:.6g}")
    text = (f"{run}iteration {progress.n_iter}/{progress.max_iter}  "
            f"{objective_name} {progress.objective:.6g}")
    if not math.isnan(progress.change):
        text += f"  change {progress.change:.3g}"
    return text
