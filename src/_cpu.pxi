# Included in every kernel module whose kernels have a copy per CPU level
# (kmgmm_cpu.h): the module's own level switch.  kmgmm._kernels sets every
# module to the same level once, at import.
cdef extern from "kmgmm_cpu.h":
    int kmgmm_cpu_level
    int kmgmm_have_vectors() noexcept nogil

# Whether the vector kernels run; False: the portable Cython loops.
cdef bint _use_vectors = kmgmm_have_vectors() != 0


def set_cpu_level(int level):
    """Run the kernels' copy for ``level`` (0 baseline, 1 AVX2/FMA, 2 AVX-512),
    or, for -1, the portable Cython loops where a kernel has them (the path
    of a build without vector extensions).  The caller checks that the CPU
    runs the level.  Returns the previous level."""
    global kmgmm_cpu_level, _use_vectors
    previous = kmgmm_cpu_level if _use_vectors else -1
    _use_vectors = level >= 0 and kmgmm_have_vectors() != 0
    kmgmm_cpu_level = level if level > 0 else 0
    return previous
