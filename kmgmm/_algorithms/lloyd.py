"""Lloyd's algorithm, once, for every engine (dense, CSR, Dask)."""
import numpy as np

from .steps import end_iteration, relocate_empty_clusters


def lloyd(engine, centers, *, max_iter, tol, verbose=0, callback=None, first_iter=1,
          status=None):
    """Run Lloyd's algorithm on ``engine`` from ``centers``.

    Stops when an iteration leaves every label unchanged (strict convergence)
    or the squared centre shift is at most ``tol`` (absolute, already scaled).
    ``callback``, when given, is called once per iteration, after the update,
    as ``callback(n_iter, inertia, shift)``; when it returns True the run
    stops after that iteration, and an exception it raises ends the fit.
    ``status``, a dict when given, gets ``status["stop"]``: why the run
    stopped ("strict", "tol", "callback", or None at ``max_iter``).  A run that takes
    over from another algorithm on the same engine (whose labels are those
    of its last pass) passes the number of its next iteration
    (``first_iter``).

    Returns (inertia, centers, n_iter); the engine holds the labels, those of
    the returned centres, as is the inertia.
    """
    centers = np.array(centers, dtype=engine.dtype, order="C")
    # The inertia of a pass is needed only to report it (the returned one
    # comes from the last assignment).
    report = bool(verbose) or callback is not None
    strict = False
    stop = None
    inertia = np.nan
    n_iter = first_iter - 1
    for n_iter in range(first_iter, max_iter + 1):
        sums, weights, inertia, n_changed = engine.lloyd_pass(centers, want_inertia=report)
        moves = relocate_empty_clusters(engine, centers, sums, weights)
        centers, shift, stop = end_iteration(
            n_iter, centers, sums, weights, engine.dtype, inertia=inertia,
            labels_unchanged=n_changed == 0, n_moved=len(moves), tol=tol,
            verbose=verbose, callback=callback)
        if stop:
            strict = stop == "strict"
            break
    if status is not None:
        status["stop"] = stop
    if not (strict and report and engine.keeps_labels):
        # One more assignment so that labels and inertia match the centres
        # (after strict convergence it gives the same labels, and the
        # inertia the last iteration did not compute).
        inertia = engine.assign(centers)
    return inertia, centers, n_iter
