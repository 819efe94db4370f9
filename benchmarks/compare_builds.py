"""One Lloyd pass of this build on each CPU path against another build's Lloyd
module (e.g. a checkout before a kernel change), loaded beside it in the same
process, the two taking turns; process CPU time, best of REPS (default 7).

    python benchmarks/compare_builds.py OTHER/kmgmm/_kernels/lloyd.*.so [shapes] [threads]

Shapes as in pass_timing.py.  Each CPU path of this build runs against the
other build on the same path (its module's own level switch).  Prints each
time and this build / the other, path by path.  An other build without a
level switch (one that chose its code per function at load, as before the
per-level kernels) runs its own choice once, and every path of this build
is compared with it.
"""
import importlib.util
import os
import sys
import time

import numpy as np

from kmgmm import _kernels
from kmgmm._kernels import lloyd

SHAPES = {"a": (1_000_000, 32, 64), "b": (200_000, 128, 256),
          "c": (2_000_000, 2, 8), "d": (100_000, 784, 10)}
REPS = int(os.environ.get("REPS", "7"))


def load_other(path):
    spec = importlib.util.spec_from_file_location("lloyd", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed_pass(module, path, X, w, C, n_threads, other=False):
    labels = np.empty(X.shape[0], np.int32)
    sums, weights = np.empty(C.shape), np.empty(C.shape[0])

    def run():
        if not other:
            _kernels._set_cpu_path(path)
        elif path is not None:
            module.set_cpu_level(_kernels.CPU_PATHS.index(path))
        t0 = time.process_time()
        module.lloyd_pass(X, w, C, labels, sums=sums, weights=weights, n_threads=n_threads)
        return time.process_time() - t0
    return run


def main(other, which="abcd", threads="1"):
    old = load_other(other)
    n_threads = int(threads)
    for key in which:
        n, d, k = SHAPES[key]
        rng = np.random.RandomState(0)
        X64 = rng.standard_normal((n, d)) + rng.standard_normal((k, d))[rng.randint(k, size=n)]
        C64 = X64[rng.choice(n, k, replace=False)].copy()
        for dtype in (np.float32, np.float64):
            X, C, w = X64.astype(dtype), C64.astype(dtype), np.ones(n, dtype)
            paths = _kernels.supported_cpu_paths()
            switch = hasattr(old, "set_cpu_level")
            cases = {}
            for path in paths:
                cases[path] = timed_pass(lloyd, path, X, w, C, n_threads)
                if switch:
                    cases["other " + path] = timed_pass(old, path, X, w, C, n_threads, other=True)
            if not switch:
                cases["other"] = timed_pass(old, None, X, w, C, n_threads, other=True)
            best = {name: np.inf for name in cases}
            for _ in range(REPS):
                for name, run in cases.items():
                    best[name] = min(best[name], run())
            print(f"{n}x{d} k{k} {np.dtype(dtype).name}: "
                  + " ".join(f"{name} {t * 1e3:.1f} ms" for name, t in best.items())
                  + "  this/other: "
                  + " ".join(f"{path} {best[path] / best['other ' + path if switch else 'other']:.2f}"
                             for path in paths), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
