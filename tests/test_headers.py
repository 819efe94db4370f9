"""Compile checks of the C kernel headers for the builds this machine does not
make: an architecture without the x86-64 levels (aarch64: the baseline copy
only), a compiler without vector extensions (the portable loops), and a build
with -march=x86-64-v4.  Each must compile without a warning under -Wall."""
import os
import platform
import shutil
import subprocess

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
PROGRAM = """
#include <stddef.h>
#include "kmgmm_lloyd_simd.h"
#include "kmgmm_sqdist.h"
#include "kmgmm_em.h"
#include "kmgmm_sparse.h"
void *kernels[] = {
    (void *)kmgmm_argmin_f32, (void *)kmgmm_argmin2_f64, (void *)kmgmm_direct_f32,
    (void *)kmgmm_direct_f64, (void *)kmgmm_finish_f32, (void *)kmgmm_lanes_f64,
    (void *)kmgmm_sqdist_f32, (void *)kmgmm_sqdist_f64, (void *)kmgmm_axpy_f32,
    (void *)kmgmm_axpy_f64, (void *)kmgmm_responsibilities_f32,
    (void *)kmgmm_responsibilities_f64, (void *)kmgmm_cpu_best_level,
    (void *)kmgmm_have_vectors, (void *)&kmgmm_cpu_level, (void *)kmgmm_sparse_keys_f32,
    (void *)kmgmm_sparse_keys_f64,
};
"""


# (without vector extensions the headers use no GCC attribute, so static
# functions a module leaves unused are not marked as such)
@pytest.mark.parametrize("flags", [[], ["-DKMGMM_ONE_LEVEL"],
                                   ["-DKMGMM_NO_VECTORS", "-Wno-unused-function"],
                                   ["-march=x86-64-v4"]],
                         ids=["default", "one-level", "no-vectors", "x86-64-v4"])
def test_headers_compile_cleanly(flags, tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None or not os.path.isdir(SRC):
        pytest.skip("no C compiler or no source tree")
    if "-march=x86-64-v4" in flags and platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("x86-64 only")
    src = tmp_path / "kernels.c"
    src.write_text(PROGRAM)
    proc = subprocess.run([cc, "-O1", "-Wall", "-Werror", *flags, "-I", SRC, "-c", str(src),
                           "-o", str(tmp_path / "kernels.o")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
