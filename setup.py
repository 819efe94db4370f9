"""Build the compiled kernels; all metadata lives in pyproject.toml.

The build has no -march flag: the kernels carry a copy per CPU level
(src/kmgmm_cpu.h) and choose at import, so a wheel runs on any CPU of its
architecture.  OpenMP is detected by compiling and running a tiny program
with the compiler that builds the extensions.  When that fails
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
from setuptools.command.build_ext import build_ext

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
    "infer": "_infer.pyx",
    "lloyd": "_lloyd.pyx",
    "seeding": "_seeding.pyx",
    "sparse": "_sparse_lloyd.pyx",
}


def _probe(compiler, compile_args, link_args):
    """True when ``compiler`` builds and runs the OpenMP probe with these flags."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(OPENMP_PROBE)
        try:
            objects = compiler.compile([src], output_dir=tmp, extra_postargs=compile_args)
            exe = os.path.join(tmp, "probe")
            compiler.link_executable(objects, "probe", output_dir=tmp,
                                     extra_postargs=link_args)
            if sys.platform == "win32":
                exe += ".exe"
            out = subprocess.run([exe], check=True, capture_output=True, timeout=60)
            return out.stdout.strip() == b"1"
        except Exception:  # a compile, link or run failure: this flag set is out
            return False


def openmp_flags(compiler):
    """Return (compile_args, link_args) for OpenMP, or ([], []) if unusable.

    MSVC takes /openmp; gcc and LLVM clang -fopenmp; Apple clang
    -Xpreprocessor -fopenmp with libomp (its include and library directories
    in CPPFLAGS/LDFLAGS, see [tool.cibuildwheel.macos] in pyproject.toml).
    """
    if os.environ.get("KMGMM_NO_OPENMP"):
        warnings.warn("KMGMM_NO_OPENMP is set: building kmgmm single-threaded")
        return [], []
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"]),
                      (["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    for compile_args, link_args in candidates:
        if _probe(compiler, compile_args, link_args):
            return compile_args, link_args
    warnings.warn(
        "kmgmm: the compiler could not build and run an OpenMP program; the "
        "kernels are built SINGLE-THREADED. Install a compiler with OpenMP "
        "support (e.g. gcc, or clang with libomp) and rebuild."
    )
    return [], []


class BuildExt(build_ext):
    """Flags by compiler: optimisation, OpenMP (probed), KMGMM_NATIVE."""

    def build_extensions(self):
        omp_compile, omp_link = openmp_flags(self.compiler)
        if self.compiler.compiler_type == "msvc":
            compile_args = ["/O2", *omp_compile]
        else:
            compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math", *omp_compile]
            if os.environ.get("KMGMM_NATIVE"):
                compile_args.append("-march=native")
        for ext in self.extensions:
            ext.extra_compile_args = compile_args
            ext.extra_link_args = omp_link
        super().build_extensions()


def extensions():
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
                               + glob.glob(os.path.join("src", "*.pxd"))
                               + glob.glob(os.path.join("src", "*.pxi"))),
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
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


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
