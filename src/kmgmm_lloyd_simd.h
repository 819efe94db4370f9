/* The Lloyd pass's vector kernels (kmgmm_lloyd_tmpl.h), compiled for every
 * level and dtype (kmgmm_cpu.h); the Lloyd and Hamerly passes call them
 * when kmgmm_have_vectors(). */
#ifndef KMGMM_LLOYD_SIMD_H
#define KMGMM_LLOYD_SIMD_H
#include <stddef.h>

#define KMGMM_TEMPLATE "kmgmm_lloyd_tmpl.h"
#include "kmgmm_instances.h"
#undef KMGMM_TEMPLATE
#endif
