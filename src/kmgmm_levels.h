/* Part of kmgmm_instances.h: the template KMGMM_TEMPLATE for one dtype at
 * every level (kmgmm_level.h compiles one), then its entry points. */
#define KLEV v1
#define VB 16
#define KR 6
#include "kmgmm_level.h"

#if KMGMM_N_LEVELS == 3
#define KLEV v3
#define VB 32
#define KR 6
#define KMGMM_TARGET_ target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt")
#include "kmgmm_level.h"

#define KLEV v4
#define VB 64
#define KR 8
#define KMGMM_TARGET_ target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt," \
                             "avx512f,avx512bw,avx512dq,avx512vl")
#include "kmgmm_level.h"
#endif

#define KMGMM_ENTRIES
#include KMGMM_TEMPLATE
#undef KMGMM_ENTRIES
