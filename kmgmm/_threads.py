"""Thread counts for the OpenMP kernels, and BLAS held to one thread inside them."""
import contextlib
import os

from . import _kernels
from ._validation import check_int

_controller = None


def available_cores():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def effective_n_threads(n_threads):
    """Resolve the ``n_threads`` parameter to a positive thread count.

    None means every core allowed: the smaller of the OpenMP runtime's limit
    (``OMP_NUM_THREADS``, or a threadpoolctl limit on OpenMP) and the CPUs
    this process may use.  A positive integer is taken as is.
    """
    if n_threads is None:
        return max(1, min(_kernels.common.omp_max_threads(), available_cores()))
    return check_int(n_threads, "n_threads", low=1)


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
