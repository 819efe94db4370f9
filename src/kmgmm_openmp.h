/* Whether the kernels were compiled with OpenMP, and the runtime's thread limit. */
#ifndef KMGMM_OPENMP_H
#define KMGMM_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
static inline int kmgmm_openmp_enabled(void) { return 1; }
static inline int kmgmm_omp_max_threads(void) { return omp_get_max_threads(); }
#else
static inline int kmgmm_openmp_enabled(void) { return 0; }
static inline int kmgmm_omp_max_threads(void) { return 1; }
#endif
#endif
