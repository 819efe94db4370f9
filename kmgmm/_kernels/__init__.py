"""The compiled kernels: one module per Cython source in ``src/``.

=========  =======================  ==========================================
module     source                   what it holds
=========  =======================  ==========================================
common     ``src/_common.pyx``      per-cluster statistics of given labels,
                                    distances to the labelled centres, row
                                    norms; whether OpenMP is compiled in
lloyd      ``src/_lloyd.pyx``       the Lloyd pass (nearest centre, sums,
                                    inertia)
hamerly    ``src/_hamerly.pyx``     the Hamerly pass
elkan      ``src/_elkan.pyx``       the Elkan pass
em         ``src/_em.pyx``          the EM pass of a Gaussian mixture
infer      ``src/_infer.pyx``       applying a fitted k-means model: nearest
                                    centre, distances to every centre
seeding    ``src/_seeding.pyx``     candidate potentials for k-means++
sparse     ``src/_sparse_lloyd.pyx``  the passes and seeding steps over CSR
=========  =======================  ==========================================

Calling convention: the data (X or its CSR arrays, the sample weights) and
the centres are positional; outputs, options and ``n_threads`` are keyword
arguments, and an optional output is skipped by leaving it None.  Every
result is bit-for-bit the same for any ``n_threads``.  The kernel modules
import nothing from one another: what they share is compiled into each of
them from the ``src/*.pxd`` files and C headers.

CPU paths: the vector kernels are compiled for three levels (``src/kmgmm_cpu.h``):
``baseline`` (any CPU of the architecture), ``avx2`` (x86-64-v3: AVX2, FMA)
and ``avx512`` (x86-64-v4: AVX-512 F/BW/DQ/VL).  At import every module is set
to the widest level the CPU runs, or to the one the environment variable
``KMGMM_CPU`` names when the CPU runs it (else a warning and the widest).
"""
import os
import warnings
from importlib.machinery import EXTENSION_SUFFIXES

if not any(os.path.exists(os.path.join(os.path.dirname(__file__), "common" + suffix))
           for suffix in EXTENSION_SUFFIXES):
    # A source tree without its compiled modules (imported in place of the
    # installed package, e.g. by 'python -m pytest' from the repository root).
    raise ImportError(
        f"kmgmm's compiled kernels are not built in {os.path.dirname(__file__)}: "
        "build them there with 'python setup.py build_ext --inplace', or run from "
        "another directory to use the installed kmgmm")

# Compiled modules: a type checker sees them only at run time.
from . import (  # type: ignore[attr-defined]  # noqa: E402
    common,
    elkan,
    em,
    hamerly,
    infer,
    lloyd,
    seeding,
    sparse,
)

__all__ = ["CPU_PATHS", "common", "cpu_path", "elkan", "em", "hamerly", "infer", "lloyd", "seeding",
           "sparse", "supported_cpu_paths"]

#: The CPU paths by level; ``portable`` (level -1) runs the Cython loops that a
#: build without vector extensions uses, for tests only.
CPU_PATHS = ("baseline", "avx2", "avx512")
_PORTABLE = "portable"
# The modules with a copy of their kernels per level; they switch together
# (the Hamerly pass's labels agree with the Lloyd pass's only at one level).
_LEVELLED = (common, elkan, em, hamerly, infer, lloyd, sparse)


def supported_cpu_paths():
    """The CPU paths this build and this CPU run, narrowest first."""
    return CPU_PATHS[:common.cpu_best_level() + 1]


def _level_from_env(value):
    supported = supported_cpu_paths()
    if not value:
        return len(supported) - 1
    name = value.strip().lower()
    if name not in CPU_PATHS:
        warnings.warn(f"KMGMM_CPU={value!r} is not one of {', '.join(CPU_PATHS)}; "
                      f"using {supported[-1]}", RuntimeWarning, stacklevel=3)
        return len(supported) - 1
    if name not in supported:
        warnings.warn(f"KMGMM_CPU={value!r}: this CPU (or build) does not run the "
                      f"{name} kernels; using {supported[-1]}", RuntimeWarning,
                      stacklevel=3)
        return len(supported) - 1
    return CPU_PATHS.index(name)


def _set_level(level):
    global _level
    previous = _level
    for module in _LEVELLED:
        module.set_cpu_level(level)
    _level = level
    return previous


def cpu_path():
    """The name of the CPU path the kernels run."""
    if _level < 0:
        return _PORTABLE
    if not common.have_vectors():
        return CPU_PATHS[0] + " (portable loops: built without vector extensions)"
    return CPU_PATHS[_level]


def _set_cpu_path(name):
    """Run the kernels of path ``name`` (one of supported_cpu_paths(), or
    ``portable``); returns the previous path's name.  For tests and
    benchmarks that compare paths."""
    previous = CPU_PATHS[_level] if _level >= 0 else _PORTABLE
    if name == _PORTABLE:
        _set_level(-1)
    elif name in supported_cpu_paths():
        _set_level(CPU_PATHS.index(name))
    else:
        raise ValueError(f"cpu path {name!r} is not one of {supported_cpu_paths()} "
                         f"or {_PORTABLE!r}")
    return previous


_level = 0
_set_level(_level_from_env(os.environ.get("KMGMM_CPU")))
