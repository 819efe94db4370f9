/* Compile the template KMGMM_TEMPLATE for every level and dtype (see
 * kmgmm_cpu.h), then its entry points.  Inside the template:
 *
 *   KT      float or double           KSUF   f32 or f64
 *   KF64    1 for double              VB     vector bytes of the level
 *   KW      lanes of KT per vector    KLEV   v1, v3 or v4
 *   KR      rows per micro-kernel tile (what the level's registers hold)
 *   KFN     static, always inlined, with the level's target attribute
 *   KN(n)   n_KSUF_KLEV: a name private to this copy
 *
 * and, when KMGMM_ENTRIES is defined, the template declares its entry
 * points (KMGMM_ENTRY) instead.  The includer undefines KMGMM_TEMPLATE.
 * Without vector extensions only v1 is compiled, and a template keeps its
 * vector code behind #if KMGMM_HAVE_VECTORS.
 */
#include "kmgmm_cpu.h"

#define KN(n) KMGMM_CAT3(n, KSUF, KLEV)

#define KT float
#define KSUF f32
#define KF64 0
#include "kmgmm_levels.h"
#undef KT
#undef KSUF
#undef KF64

#define KT double
#define KSUF f64
#define KF64 1
#include "kmgmm_levels.h"
#undef KT
#undef KSUF
#undef KF64
#undef KN
