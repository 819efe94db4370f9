/* The sparse pass's nearest-centre kernel (kmgmm_sparse_tmpl.h:
 * kmgmm_sparse_keys_f32/_f64), compiled for every level and dtype
 * (kmgmm_cpu.h). */
#ifndef KMGMM_SPARSE_H
#define KMGMM_SPARSE_H
#include <stddef.h>

#ifndef KMGMM_SPARSE_UNROLL
#define KMGMM_SPARSE_PRAGMA_(x) _Pragma(#x)
#define KMGMM_SPARSE_UNROLL KMGMM_SPARSE_PRAGMA_(GCC unroll 8)
#endif

#define KMGMM_TEMPLATE "kmgmm_sparse_tmpl.h"
#include "kmgmm_instances.h"
#undef KMGMM_TEMPLATE
#endif
