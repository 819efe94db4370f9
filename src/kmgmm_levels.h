/* Part of kmgmm_instances.h: the template KMGMM_TEMPLATE for one dtype at
 * every level, then its entry points.  (The per-level macros are set and
 * cleared here; they are listed in kmgmm_instances.h.) */

#define KLEV v1
#define VB 16
#if KF64
#define KW 2
#else
#define KW 4
#endif
#define KR 6
#define KFN KMGMM_INLINE
#define KAPI KMGMM_STATIC
#include KMGMM_TEMPLATE
#undef KLEV
#undef VB
#undef KW
#undef KR
#undef KFN
#undef KAPI

#if KMGMM_N_LEVELS == 3
#define KLEV v3
#define VB 32
#if KF64
#define KW 4
#else
#define KW 8
#endif
#define KR 6
#define KMGMM_TARGET_ target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt")
#define KFN static inline __attribute__((always_inline, unused, KMGMM_TARGET_))
#define KAPI static __attribute__((unused, KMGMM_TARGET_))
#include KMGMM_TEMPLATE
#undef KLEV
#undef VB
#undef KW
#undef KR
#undef KFN
#undef KAPI
#undef KMGMM_TARGET_

#define KLEV v4
#define VB 64
#if KF64
#define KW 8
#else
#define KW 16
#endif
#define KR 12
#define KMGMM_TARGET_ target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt," \
                             "avx512f,avx512bw,avx512dq,avx512vl")
#define KFN static inline __attribute__((always_inline, unused, KMGMM_TARGET_))
#define KAPI static __attribute__((unused, KMGMM_TARGET_))
#include KMGMM_TEMPLATE
#undef KLEV
#undef VB
#undef KW
#undef KR
#undef KFN
#undef KAPI
#undef KMGMM_TARGET_
#endif

#define KMGMM_ENTRIES
#include KMGMM_TEMPLATE
#undef KMGMM_ENTRIES
