// kernels/cpu private header: argument checks shared by the _ref and _cpu ops, the
// thread policy of the fast path (OpenMP outside, single-threaded OpenBLAS inside) and the
// attribute that compiles hot loops for AVX-512, AVX2 and baseline x86-64 in one binary.
#pragma once
#include <stddef.h>

#include "../kernels.h"

// Hot loops are cloned per ISA and picked at load time (GCC ifunc), so that a portable
// -O3 build still uses AVX-512/AVX2+FMA where the machine has them.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define GH_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GH_CPU_CLONES
#endif

// Serial below this many elements: an OpenMP fork/join costs a few microseconds.
#define GH_CPU_PAR_MIN 32768

// The _cpu path parallelises with OpenMP and calls sgemm from inside parallel regions, so
// OpenBLAS must not start its own threads there (two pools spinning on the same cores, and
// nested calls into the pthreads build's thread server). Called before the first sgemm of
// every op; sets OpenBLAS to one thread once per process.
void gh_cpu_blas_init(void);

// Threads the _cpu path uses (omp_get_max_threads, at least 1).
int gh_cpu_nthreads(void);

// Deterministic double sum of x[i]*y[i] (y NULL: x[i]^2) over fixed 4096-element chunks whose
// partial sums are added in chunk order: the result does not depend on the thread count.
double gh_cpu_dot_fixed(size_t n, const float *x, const float *y);

// Returns GH_EINVAL naming op and argument when p is NULL.
#define GH_NEED(op, p)                                                        \
    do {                                                                      \
        if (!(p)) return gh_fail(GH_EINVAL, "%s: argument %s is NULL", op, #p); \
    } while (0)
