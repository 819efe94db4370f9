/* Part of kmgmm_levels.h: the template KMGMM_TEMPLATE at one level, given
 * KLEV, VB, KR and (for a level above the baseline) the target attribute
 * KMGMM_TARGET_; the macros of the level are cleared afterwards. */
#define KW (VB / (KF64 ? 8 : 4))
#ifdef KMGMM_TARGET_
#define KFN static inline __attribute__((always_inline, unused, KMGMM_TARGET_))
#define KAPI static __attribute__((unused, KMGMM_TARGET_))
#else
#define KFN KMGMM_INLINE
#define KAPI KMGMM_STATIC
#endif
#include KMGMM_TEMPLATE
#undef KLEV
#undef VB
#undef KR
#undef KW
#undef KFN
#undef KAPI
#undef KMGMM_TARGET_
