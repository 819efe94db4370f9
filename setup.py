"""Build the compiled kernels; all metadata lives in pyproject.toml.

OpenMP is detected by compiling and running a tiny program.  When that fails
the extensions are built single-threaded and a warning says so (the test suite
then fails on ``test_build_has_openmp``, so a silent serial build is caught).

Environment switches:
  KMGMM_NATIVE=1      add -march=native (the default build runs on any x86-64)
  KMGMM_NO_OPENMP=1   build without OpenMP on purpose
"""
import glob
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d\\n", n > 0);
        return 0;
    }
    """
)

# The compiled modules, all in the package kmgmm._kernels, and their sources
# in src/ (kmgmm/_kernels/__init__.py lists what each one holds).
KERNELS = {
    "common": "_common.pyx",
    "elkan": "_elkan.pyx",
    "em": "_em.pyx",
    "hamerly": "_hamerly.pyx",
    "lloyd": "_lloyd.pyx",
    "seeding": "_seeding.pyx",
    "sparse": "_sparse_lloyd.pyx",
}


def _compiler():
    return os.environ.get("CC", "cc")


def openmp_flags():
    """Return (compile_args, link_args) for OpenMP, or ([], []) if unusable."""
    if os.environ.get("KMGMM_NO_OPENMP"):
        warnings.warn("KMGMM_NO_OPENMP is set: building kmgmm single-threaded")
        return [], []
    flags = ["-fopenmp"]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(src, "w") as fh:
            fh.write(OPENMP_PROBE)
        try:
            subprocess.run(
                [_compiler(), *flags, src, "-o", exe],
                check=True, capture_output=True, timeout=120,
            )
            out = subprocess.run([exe], check=True, capture_output=True, timeout=60)
            if out.stdout.strip() == b"1":
                return flags, flags
        except (OSError, subprocess.SubprocessError):
            pass
    warnings.warn(
        "kmgmm: the compiler could not build and run an OpenMP program; the "
        "kernels are built SINGLE-THREADED. Install a compiler with OpenMP "
        "support (e.g. gcc, or clang with libomp) and rebuild."
    )
    return [], []


def extensions():
    omp_compile, omp_link = openmp_flags()
    compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math", *omp_compile]
    if os.environ.get("KMGMM_NATIVE"):
        compile_args.append("-march=native")
    unlisted = sorted(set(map(os.path.basename, glob.glob(os.path.join("src", "*.pyx"))))
                      - set(KERNELS.values()))
    if unlisted:
        raise RuntimeError(f"setup.py: add {unlisted} to KERNELS")
    exts = []
    for name, pyx in sorted(KERNELS.items()):
        exts.append(
            Extension(
                "kmgmm._kernels." + name,
                [os.path.join("src", pyx)],
                include_dirs=[np.get_include(), "src"],
                depends=sorted(glob.glob(os.path.join("src", "*.h"))
                               + glob.glob(os.path.join("src", "*.pxd"))),
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
                extra_compile_args=compile_args,
                extra_link_args=omp_link,
            )
        )
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


setup(ext_modules=extensions())
