"""show_config: how this build of kmgmm was made and what it will use."""
from __future__ import annotations

import platform
import sys
from typing import TextIO

import numpy as np

from . import _kernels
from ._threads import available_cores, blas_info, effective_n_threads


def config():
    """The build and runtime facts that show_config prints, as a dict."""
    from . import __version__

    return {
        "kmgmm": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "openmp": _kernels.common.openmp_enabled(),
        "omp_max_threads": _kernels.common.omp_max_threads(),
        "cpu_path": _kernels.cpu_path(),
        "cpu_paths_supported": list(_kernels.supported_cpu_paths()),
        "available_cores": available_cores(),
        "default_n_threads": effective_n_threads(None),
        "blas": [
            {k: info.get(k) for k in
             ("internal_api", "version", "num_threads", "threading_layer",
              "architecture", "filepath")}
            for info in blas_info()
        ],
    }


def show_config(file: TextIO | None = None) -> None:
    """Print OpenMP status, the kernels' CPU path, BLAS libraries and thread counts."""
    cfg = config()
    out = file or sys.stdout
    print(f"kmgmm {cfg['kmgmm']} (Python {cfg['python']}, NumPy {cfg['numpy']})", file=out)
    print(f"platform: {cfg['platform']}", file=out)
    status = "enabled" if cfg["openmp"] else "DISABLED (kernels run single-threaded)"
    print(f"OpenMP: {status}", file=out)
    print(f"kernels: {cfg['cpu_path']} (this CPU runs: "
          f"{', '.join(cfg['cpu_paths_supported'])}; KMGMM_CPU chooses)", file=out)
    print(f"threads: OpenMP limit {cfg['omp_max_threads']}, cores available "
          f"{cfg['available_cores']}, kernels use {cfg['default_n_threads']} by default",
          file=out)
    if not cfg["blas"]:
        print("BLAS: none loaded yet", file=out)
    for info in cfg["blas"]:
        print(f"BLAS: {info['internal_api']} {info['version']} "
              f"({info['threading_layer']}, {info['architecture']}, "
              f"{info['num_threads']} threads) at {info['filepath']}", file=out)
