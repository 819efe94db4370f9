"""The installed build: OpenMP must be compiled in, and show_config must say so."""
import io

import kmgmm
from kmgmm import _lloyd


def test_build_has_openmp():
    # A build that silently fell back to single-threaded kernels fails here.
    assert _lloyd.openmp_enabled(), (
        "kmgmm was built without OpenMP; rebuild with a compiler that supports it")


def test_show_config_reports_openmp_and_threads():
    buf = io.StringIO()
    kmgmm.show_config(file=buf)
    text = buf.getvalue()
    assert "OpenMP: enabled" in text
    assert "threads:" in text
    assert kmgmm.__version__ in text
