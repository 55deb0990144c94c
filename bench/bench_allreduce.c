// bench_allreduce: the data-parallel all-reduce (dist/) as nccl-tests reports it: for each size,
// the time of one in-place float32 sum over the group, algbw = bytes / time and busbw = algbw x
// 2(n-1)/n (the bytes each link carries in a ring all-reduce, so that busbw is comparable
// across rank counts and with the hardware's link bandwidth). MPI_Allreduce on host buffers;
// with --gpu, NCCL on device buffers (one GPU per rank by local rank).
// usage: mpirun -np N bench_allreduce [--gpu] [--min-bytes B] [--max-bytes B] [--iters K]
//        bench_allreduce alone is a group of one (time 0, nothing moves: the 1-rank baseline).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "dist/dist.h"

#ifdef GH_HAVE_CUDA_RT
#include <cuda_runtime.h>
#endif

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int st = pg_init(&argc, &argv);
    if (st) {
        fprintf(stderr, "bench_allreduce: %s\n", gh_error_get());
        pg_abort(1);
        return 1;
    }
    size_t min_b = 4096, max_b = (size_t)64 << 20;
    int iters = 20, warm = 3, gpu = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--gpu")) gpu = 1;
        else if (!strcmp(argv[i], "--min-bytes") && i + 1 < argc)
            min_b = strtoull(argv[++i], 0, 10);
        else if (!strcmp(argv[i], "--max-bytes") && i + 1 < argc)
            max_b = strtoull(argv[++i], 0, 10);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: [mpirun -np N] bench_allreduce [--gpu] [--min-bytes B] "
                    "[--max-bytes B] [--iters K]\n");
            pg_abort(2);
            return 2;
        }
    }
    if (iters < 1) iters = 1;
    const pg_info *pg = pg_world();
    int n = pg->size;
    if (gpu && !pg_nccl_available()) {
        if (pg->rank == 0) fprintf(stderr, "bench_allreduce: --gpu: this build has no NCCL\n");
        pg_abort(2);
        return 2;
    }
    if (gpu && (st = pg_nccl_init())) {
        fprintf(stderr, "bench_allreduce: rank %d: %s\n", pg->rank, gh_error_get());
        pg_abort(1);
        return 1;
    }
    float *host = malloc(max_b), *dev = NULL;
    double *t = malloc(sizeof(double) * (size_t)iters);
    if (!host || !t) return 1;
#ifdef GH_HAVE_CUDA_RT
    if (gpu && cudaMalloc((void **)&dev, max_b) != cudaSuccess) {
        fprintf(stderr, "bench_allreduce: cudaMalloc of %zu bytes failed\n", max_b);
        pg_abort(1);
        return 1;
    }
#endif
    if (pg->rank == 0) {
        printf("# bench_allreduce: %s float32 sum, in place, %d rank(s) (%s), %d iterations "
               "after %d warm-up, median time\n", gpu ? "NCCL" : "MPI_Allreduce", n,
               pg->launcher, iters, warm);
        printf("%12s %12s %10s %10s %10s %10s\n", "bytes", "floats", "time_us", "algbw_GBs",
               "busbw_GBs", "spread");
    }
    for (size_t bytes = min_b; bytes <= max_b; bytes *= 4) {
        size_t cnt = bytes / sizeof(float);
        for (size_t i = 0; i < cnt; i++) host[i] = (float)(i % 7);
#ifdef GH_HAVE_CUDA_RT
        if (gpu) cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice);
#endif
        for (int k = -warm; k < iters && !st; k++) {
            if (n > 1 && (st = pg_barrier())) break;
            double t0 = gh_wall_seconds();
            if (gpu) {
                st = pg_nccl_allreduce_sum_f32(dev, cnt, NULL);
                if (!st) st = pg_nccl_sync();
            } else {
                st = pg_allreduce_sum_f32(host, cnt);
            }
            if (k >= 0) t[k] = gh_wall_seconds() - t0;
        }
        if (st) break;
        qsort(t, (size_t)iters, sizeof *t, cmp);
        double med = t[iters / 2], spread = t[iters - 1] / fmax(t[0], 1e-12);
        // nccl-tests' convention; a group of one moves nothing (busbw factor 0)
        double algbw = med > 0 ? bytes / med / 1e9 : INFINITY;
        double busbw = algbw * 2.0 * (n - 1) / n;
        if (pg->rank == 0 && n == 1)   // nothing crosses a link: only the call's overhead
            printf("%12zu %12zu %10.2f %10s %10s %10.2f\n", bytes, cnt, med * 1e6, "-", "-",
                   spread);
        else if (pg->rank == 0)
            printf("%12zu %12zu %10.1f %10.3f %10.3f %10.2f\n", bytes, cnt, med * 1e6, algbw,
                   busbw, spread);
    }
    if (st) {
        fprintf(stderr, "bench_allreduce: rank %d: %s\n", pg->rank, gh_error_get());
        pg_abort(1);
        return 1;
    }
    free(host);
    free(t);
#ifdef GH_HAVE_CUDA_RT
    if (dev) cudaFree(dev);
#endif
    pg_nccl_finalize();
    pg_finalize();
    return 0;
}
