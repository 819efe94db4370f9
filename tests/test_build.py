"""The installed build: OpenMP must be compiled in, and show_config must say so."""
import io

import kmgmm
from kmgmm._kernels import common


def test_build_has_openmp():
    # A build that silently fell back to single-threaded kernels fails here.
    assert common.openmp_enabled(), (
        "kmgmm was built without OpenMP; rebuild with a compiler that supports it")


def test_show_config_reports_openmp_and_threads():
    buf = io.StringIO()
    kmgmm.show_config(file=buf)
    text = buf.getvalue()
    assert "OpenMP: enabled" in text
    assert "threads:" in text
    assert kmgmm.__version__ in text


def test_default_threads_follow_omp_and_threadpoolctl_limits():
    from threadpoolctl import threadpool_limits

    from kmgmm._threads import available_cores, effective_n_threads

    assert 1 <= effective_n_threads(None) <= available_cores()
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads(None) == 1
    assert effective_n_threads(3) == 3
