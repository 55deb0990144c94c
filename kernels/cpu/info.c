// The host backend's runtime: how many OpenMP threads the _cpu ops use, the OpenBLAS build
// they call, and the one-time switch of OpenBLAS to a single thread (see cpu.h for why).
#include <cblas.h>
#include <dirent.h>
#include <omp.h>
#include <stdio.h>

#include "cpu.h"

// Checked on every call, not once: a caller (a benchmark, another library) may have raised
// OpenBLAS's thread count since the last op.
void gh_cpu_blas_init(void) {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

int gh_cpu_nthreads(void) {
    int nt = omp_get_max_threads();
    return nt > 0 ? nt : 1;
}

// The build string and the kernel set OpenBLAS picked at run time: "Prescott" on a newer CPU
// means its detection fell back to SSE3 (see gemm.c), worth having in every record.
const char *gh_blas_info(void) {
    static _Thread_local char buf[256];   // per thread, like base's error message
    const char *cfg = openblas_get_config(), *core = openblas_get_corename();
    snprintf(buf, sizeof buf, "%s; core %s", cfg ? cfg : "OpenBLAS", core ? core : "unknown");
    return buf;
}

int gh_cpu_threads(void) { return gh_cpu_nthreads(); }

void gh_cpu_set_threads(int n) { omp_set_num_threads(n > 0 ? n : 1); }

int gh_cpu_fork_safe(int *threads) {
    *threads = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) *threads += e->d_name[0] != '.';
    closedir(d);
    // OpenBLAS's pthreads build starts num_threads - 1 server threads when it loads; until the
    // _cpu path lowers its count (gh_cpu_blas_init, only once an op ran) that is all there is.
    int blas = openblas_get_num_threads();
    return *threads >= 1 && *threads <= (blas > 1 ? blas : 1);
}
