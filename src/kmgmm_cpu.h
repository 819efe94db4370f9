/* The one way the kernels choose code for the CPU.
 *
 * Every kernel that pays for wide vectors is written once, in a template
 * header (kmgmm_*_tmpl.h), for an element type KT and a vector of VB bytes
 * (GCC/clang vector extensions), and kmgmm_instances.h compiles it for each
 * level and dtype in the same translation unit:
 *
 *   level  name       target                                       VB
 *   0      baseline   the compiler's default (x86-64: SSE2)          16
 *   1      avx2       x86-64-v3 (AVX2, FMA)                           32
 *   2      avx512     x86-64-v4 (AVX-512 F/BW/DQ/VL)                  64
 *
 * Levels 1 and 2 exist only on x86-64.  The build itself has no -march flag
 * (a wheel runs on any CPU of its architecture); the wider code carries a
 * target attribute.  An entry point NAME_f32 / NAME_f64 calls the copy of
 * the level in kmgmm_cpu_level, which Python sets once at import
 * (kmgmm._kernels: the best level this CPU runs, kmgmm_cpu_best_level, or the
 * one KMGMM_CPU asks for) in every kernel module.
 *
 * Without vector extensions (MSVC) no template is compiled,
 * KMGMM_HAVE_VECTORS is 0 and the kernels' portable Cython loops run.
 */
#ifndef KMGMM_CPU_H
#define KMGMM_CPU_H

/* KMGMM_NO_VECTORS and KMGMM_ONE_LEVEL (defined on the command line) build
 * as a compiler without vector extensions, or a CPU architecture without
 * the x86-64 levels, would: for compile checks of those builds. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(KMGMM_NO_VECTORS)
#define KMGMM_HAVE_VECTORS 1
#define KMGMM_UNUSED __attribute__((unused))
#define KMGMM_INLINE static inline __attribute__((always_inline, unused))
#else
#define KMGMM_HAVE_VECTORS 0
#define KMGMM_UNUSED
#define KMGMM_INLINE static __inline
#endif
#define KMGMM_STATIC static KMGMM_UNUSED

#if KMGMM_HAVE_VECTORS && defined(__x86_64__) && !defined(KMGMM_ONE_LEVEL)
#define KMGMM_N_LEVELS 3
#else
#define KMGMM_N_LEVELS 1
#endif

/* The level the entry points run; set by set_cpu_level (in each module). */
KMGMM_STATIC int kmgmm_cpu_level = 0;

/* The widest level this CPU and this build run. */
KMGMM_STATIC int kmgmm_cpu_best_level(void)
{
#if KMGMM_N_LEVELS == 3
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 2;
    return 1;
#else
    return 0;
#endif
}

/* Whether the template kernels exist in this build (else the Cython loops). */
KMGMM_STATIC int kmgmm_have_vectors(void) { return KMGMM_HAVE_VECTORS; }

#define KMGMM_CAT3_(a, b, c) a##_##b##_##c
#define KMGMM_CAT3(a, b, c) KMGMM_CAT3_(a, b, c)
#define KMGMM_CAT2_(a, b) a##_##b
#define KMGMM_CAT2(a, b) KMGMM_CAT2_(a, b)

/* Entry point RET NAME_<dtype> PARAMS: the copy of kmgmm_cpu_level. */
#if KMGMM_N_LEVELS == 3
#define KMGMM_ENTRY(RET, NAME, PARAMS, ARGS)                                    \
    KMGMM_STATIC RET KMGMM_CAT2(NAME, KSUF) PARAMS           \
    {                                                                           \
        switch (kmgmm_cpu_level) {                                              \
        case 2: return KMGMM_CAT3(NAME, KSUF, v4) ARGS;                        \
        case 1: return KMGMM_CAT3(NAME, KSUF, v3) ARGS;                        \
        default: return KMGMM_CAT3(NAME, KSUF, v1) ARGS;                       \
        }                                                                       \
    }
#else
#define KMGMM_ENTRY(RET, NAME, PARAMS, ARGS)                                    \
    KMGMM_STATIC RET KMGMM_CAT2(NAME, KSUF) PARAMS           \
    {                                                                           \
        return KMGMM_CAT3(NAME, KSUF, v1) ARGS;                                \
    }
#endif
#endif
