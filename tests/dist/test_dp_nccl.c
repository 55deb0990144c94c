// test_dp_nccl: the NCCL all-reduce against MPI's on the same buffers (a build with CUDA and
// NCCL; exit 77, skipped, without a GPU or with fewer GPUs than ranks). Small integers make
// every sum exact, so the two must agree bit for bit (nccl-tests' habit); then the average of
// real-valued buffers (ncclAvg against the MPI sum times 1/n) within one fp32 rounding.
// Alone: a group of one (the communicator of one rank must leave buffers unchanged); under
// `mpirun -np N` with N GPUs: N ranks, one GPU each by local rank.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "base/base.h"
#include "check.h"
#include "dist/dist.h"

int main(int argc, char **argv) {
    CHECK_OK(pg_init(&argc, &argv));
    const pg_info *pg = pg_world();
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < pg->size) {
        if (pg->rank == 0)
            printf("test_dp_nccl: %d GPU(s) for %d rank(s): skipped\n", ndev, pg->size);
        pg_finalize();
        return 77;
    }
    CHECK_OK(pg_nccl_init());
    enum { N = (1 << 20) + 3 };   // not a multiple of anything NCCL chunks by
    float *h = malloc(sizeof(float) * N), *mpi = malloc(sizeof(float) * N), *got = malloc(
        sizeof(float) * N), *d = NULL;
    CHECK(cudaMalloc((void **)&d, sizeof(float) * N) == cudaSuccess);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++)   // integers, then real values
            h[i] = pass ? (float)sin(0.001 * i + pg->rank) : (float)((i % 97) * (pg->rank + 1));
        memcpy(mpi, h, sizeof(float) * N);
        CHECK(cudaMemcpy(d, h, sizeof(float) * N, cudaMemcpyHostToDevice) == cudaSuccess);
        if (pass == 0) {
            CHECK_OK(pg_allreduce_sum_f32(mpi, N));
            CHECK_OK(pg_nccl_allreduce_sum_f32(d, N, NULL));
        } else {
            CHECK_OK(pg_allreduce_avg_f32(mpi, N));
            CHECK_OK(pg_nccl_allreduce_avg_f32(d, N, NULL));
        }
        CHECK_OK(pg_nccl_sync());
        CHECK(cudaMemcpy(got, d, sizeof(float) * N, cudaMemcpyDeviceToHost) == cudaSuccess);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double tol = pass ? 1e-7 + 2.4e-7 * fabs(mpi[i]) : 0.0;   // exact; ~2 ulps
            double r = fabs((double)got[i] - mpi[i]) / (tol > 0 ? tol : 1e-30);
            if (r > worst) worst = r;
        }
        if (pg->rank == 0)
            printf("%s over %d rank(s), %d floats: NCCL vs MPI worst |diff|/threshold %.3g\n",
                   pass ? "average" : "integer sum", pg->size, N, worst);
        CHECK(worst <= 1);
    }
    cudaFree(d);
    free(h);
    free(mpi);
    free(got);
    pg_nccl_finalize();
    int rc = check_done("test_dp_nccl");
    if (rc) pg_abort(rc);
    pg_finalize();
    return rc;
}
