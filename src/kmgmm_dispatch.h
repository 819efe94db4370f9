/* The one way the kernels choose their AVX2/FMA code.
 *
 * The default build has no -march flag, so it runs on any x86-64.  Code for
 * AVX2 and FMA carries its own target attribute (KMGMM_AVX2) and runs only
 * where the CPU has both, which is asked once, when the module loads
 * (kmgmm_has_avx2_fma).  Two kinds of code use it:
 *
 * - hand-written intrinsics (kmgmm_lloyd_simd.h), which the Cython code
 *   calls only when kmgmm_simd_available() -- this CPU check, plus a switch
 *   for tests;
 * - portable C defined by KMGMM_DISPATCHED(RET, NAME, PARAMS, ARGS, BODY):
 *   built twice, for AVX2/FMA (NAME_avx2, which the compiler vectorises with
 *   wide vectors and FMA) and for the baseline (NAME_base), behind NAME,
 *   which calls the one this CPU runs.
 *
 * With another compiler or CPU only the baseline is built.
 */
#ifndef KMGMM_DISPATCH_H
#define KMGMM_DISPATCH_H

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define KMGMM_X86_SIMD 1
#include <immintrin.h>
#define KMGMM_AVX2 __attribute__((target("avx2,fma"), unused))
#define KMGMM_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* 1 when the CPU runs AVX2 and FMA; set as the module loads. */
static int kmgmm_has_avx2_fma = 0;

__attribute__((constructor, unused)) static void kmgmm_detect_cpu(void)
{
    __builtin_cpu_init();
    kmgmm_has_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#define KMGMM_DISPATCHED(RET, NAME, PARAMS, ARGS, ...)                          \
    KMGMM_AVX2 static RET NAME##_avx2 PARAMS __VA_ARGS__                        \
    __attribute__((unused)) static RET NAME##_base PARAMS __VA_ARGS__           \
    __attribute__((unused)) static inline RET NAME PARAMS                       \
    {                                                                           \
        return kmgmm_has_avx2_fma ? NAME##_avx2 ARGS : NAME##_base ARGS;        \
    }
#else
#define KMGMM_X86_SIMD 0
#define kmgmm_has_avx2_fma 0
#define KMGMM_DISPATCHED(RET, NAME, PARAMS, ARGS, ...)                          \
    __attribute__((unused)) static RET NAME PARAMS __VA_ARGS__
#endif
#endif
