/* The inference kernels (kmgmm_infer_tmpl.h), compiled for every level and
 * dtype (kmgmm_cpu.h); src/_infer.pyx calls them when kmgmm_have_vectors(). */
#ifndef KMGMM_INFER_H
#define KMGMM_INFER_H
#include <stddef.h>
#include "kmgmm_cpu.h"
#if KMGMM_HAVE_VECTORS && defined(__x86_64__)
#include <immintrin.h>      /* streaming stores, each in its level's copy */
#endif

#define KMGMM_TEMPLATE "kmgmm_infer_tmpl.h"
#include "kmgmm_instances.h"
#undef KMGMM_TEMPLATE
#endif
