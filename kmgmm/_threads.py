"""Thread counts for the OpenMP kernels, and BLAS held to one thread inside them."""
import contextlib
import os
import warnings

from . import _kernels
from ._validation import check_int

_controller = None

# An explicit n_threads above this many threads (or above the CPUs this
# process may use, when there are more) is lowered to it, with a warning.
# Every OpenMP thread reserves a stack; tens of thousands of them exhaust the
# address space and abort the process inside the OpenMP runtime, and past the
# core count more threads only add overhead.
THREAD_CAP = 256


def available_cores():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def max_threads():
    """The most threads an explicit ``n_threads`` may ask for.

    The larger of ``THREAD_CAP`` (256) and the CPUs this process may run on.
    """
    return max(THREAD_CAP, available_cores())


def effective_n_threads(n_threads):
    """Resolve the ``n_threads`` parameter to a positive thread count.

    None means every core allowed: the smaller of the OpenMP runtime's limit
    (``OMP_NUM_THREADS``, or a threadpoolctl limit on OpenMP) and the CPUs
    this process may use.  A positive integer is taken as is up to
    ``max_threads()`` (256, or the CPU count when larger); a larger one is
    lowered to that with a warning, since so many threads cannot help and
    enough of them crash the OpenMP runtime.
    """
    if n_threads is None:
        return max(1, min(_kernels.common.omp_max_threads(), available_cores()))
    n_threads = check_int(n_threads, "n_threads", low=1)
    cap = max_threads()
    if n_threads > cap:
        warnings.warn(
            f"n_threads={n_threads} is more threads than kmgmm starts; using {cap} "
            f"(at most {THREAD_CAP} or the number of CPUs, whichever is larger).",
            UserWarning, stacklevel=3)
        n_threads = cap
    return n_threads


def _threadpool_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def single_threaded_blas():
    """Hold BLAS to one thread while the kernels call it from OpenMP threads."""
    with _threadpool_controller().limit(limits=1, user_api="blas"):
        yield


def blas_info():
    """Descriptions of the BLAS libraries loaded in this process."""
    return [
        info for info in _threadpool_controller().info()
        if info.get("user_api") == "blas"
    ]
