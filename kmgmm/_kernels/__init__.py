"""The compiled kernels: one module per Cython source in ``src/``.

=========  =======================  ==========================================
module     source                   what it holds
=========  =======================  ==========================================
common     ``src/_common.pyx``      per-cluster statistics of given labels,
                                    distances to the labelled centres, row
                                    norms; whether OpenMP is compiled in
lloyd      ``src/_lloyd.pyx``       the Lloyd pass (nearest centre, sums,
                                    inertia); the AVX2/FMA switch
hamerly    ``src/_hamerly.pyx``     the Hamerly pass
elkan      ``src/_elkan.pyx``       the Elkan pass
em         ``src/_em.pyx``          the EM pass of a Gaussian mixture
seeding    ``src/_seeding.pyx``     candidate potentials for k-means++
sparse     ``src/_sparse_lloyd.pyx``  the passes and seeding steps over CSR
=========  =======================  ==========================================

Calling convention: the data (X or its CSR arrays, the sample weights) and
the centres are positional; outputs, options and ``n_threads`` are keyword
arguments, and an optional output is skipped by leaving it None.  Every
result is bit-for-bit the same for any ``n_threads``.  The kernel modules
import nothing from one another: what they share is compiled into each of
them from the ``src/*.pxd`` files and C headers.
"""
import os
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
from . import (  # type: ignore[attr-defined]
    common,
    elkan,
    em,
    hamerly,
    lloyd,
    seeding,
    sparse,
)

__all__ = ["common", "elkan", "em", "hamerly", "lloyd", "seeding", "sparse", "set_simd"]


def set_simd(enabled):
    """Run the AVX2/FMA paths where the CPU has them (True) or the portable
    loops, in the Lloyd and Hamerly passes alike (the Hamerly pass's labels
    agree with the Lloyd pass's only under the same setting).  Returns the
    previous setting.  For tests and benchmarks."""
    previous = lloyd.set_simd(enabled)
    hamerly.set_simd(enabled)
    return previous
