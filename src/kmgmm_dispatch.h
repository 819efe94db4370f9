/* KMGMM_DISPATCH: build a function twice, for x86-64-v3 (AVX2, FMA) and for
 * the baseline, and pick one when the module loads (GCC on x86-64 Linux;
 * elsewhere the baseline build alone).  So a portable wheel still runs the
 * wide code on a CPU that has it. */
#ifndef KMGMM_DISPATCH_H
#define KMGMM_DISPATCH_H
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KMGMM_DISPATCH __attribute__((target_clones("arch=x86-64-v3", "default"), unused))
#else
#define KMGMM_DISPATCH __attribute__((unused))
#endif
#endif
