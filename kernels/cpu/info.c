// The host backend's runtime: how many OpenMP threads the _cpu ops use, the OpenBLAS build
// they call, and the one-time switch of OpenBLAS to a single thread (see cpu.h for why).
#include <cblas.h>
#include <omp.h>
#include <pthread.h>

#include "cpu.h"

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single_thread(void) { openblas_set_num_threads(1); }

void gh_cpu_blas_init(void) { pthread_once(&blas_once, blas_single_thread); }

int gh_cpu_nthreads(void) {
    int nt = omp_get_max_threads();
    return nt > 0 ? nt : 1;
}

const char *gh_blas_info(void) {
    const char *cfg = openblas_get_config();
    return cfg ? cfg : "none";
}

int gh_cpu_threads(void) { return gh_cpu_nthreads(); }
