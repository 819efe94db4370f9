"""Session fixtures and the closing table for the benchmarks.

The table gives each library's time per Lloyd iteration, its multiple of the
machine's floor, and the ratios of kmgmm to the peers.
"""
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not any(os.path.exists(os.path.join(_ROOT, "kmgmm", "_kernels", "common" + suffix))
           for suffix in EXTENSION_SUFFIXES):
    # 'python -m pytest benchmarks/...' from the repository root puts the
    # source tree first on sys.path; without compiled kernels there, the
    # installed kmgmm is the one to benchmark.
    sys.path[:] = [p for p in sys.path
                   if os.path.abspath(p or os.curdir) != _ROOT]

sys.path.insert(0, os.path.dirname(__file__))
import benchsupport as bench  # noqa: E402
from benchsupport import (  # noqa: E402
    RESULTS, SHAPES, _ceilings, floor_seconds, shape_id,
)


@pytest.fixture(scope="session")
def mixture_data():
    """``get(shape, dtype) -> (X, init)``, built once per session."""
    return bench.mixture_data


@pytest.fixture(scope="session")
def ceilings():
    """gemm rates and read bandwidth of this machine, measured once."""
    return _ceilings()


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    tr = terminalreporter
    c = _ceilings()
    tr.section("machine ceilings")
    for (name, t), rate in sorted(c["gemm"].items()):
        tr.write_line(f"{name} gemm, {t} thread(s): {rate / 1e9:7.1f} GFLOP/s")
    for t, bw in sorted(c["bandwidth"].items()):
        tr.write_line(f"read bandwidth, {t} thread(s): {bw / 1e9:7.1f} GB/s")
    tr.section("seconds per Lloyd iteration (median; min in brackets)")
    header = (f"{'shape':<22}{'dtype':<8}{'thr':>3}  {'floor':>8}  "
              f"{'kmgmm':>17}  {'sklearn':>17}  {'faiss':>17}  "
              f"{'km/floor':>8}  {'km/sk':>6}  {'km/faiss':>8}")
    tr.write_line(header)
    for key in sorted(RESULTS, key=lambda k: (SHAPES.index(k[0]), k[1], k[2])):
        shape, name, t = key
        res = RESULTS[key]
        floor = floor_seconds(shape, name, t)

        def cell(lib):
            if lib not in res:
                return f"{'-':>17}"
            lo, med = res[lib]
            return f"{med:8.4f} [{lo:6.4f}]"

        def ratio(a, b, width):
            if a not in res or b not in res:
                return f"{'-':>{width}}"
            return f"{res[a][1] / res[b][1]:{width}.2f}"

        km_floor = (f"{res['kmgmm'][1] / floor:8.2f}" if "kmgmm" in res
                    else f"{'-':>8}")
        tr.write_line(
            f"{shape_id(shape):<22}{name:<8}{t:>3}  {floor:8.4f}  "
            f"{cell('kmgmm')}  {cell('sklearn')}  {cell('faiss')}  "
            f"{km_floor}  {ratio('kmgmm', 'sklearn', 6)}  {ratio('kmgmm', 'faiss', 8)}"
        )
