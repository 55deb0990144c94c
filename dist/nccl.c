// nccl: the group's NCCL communicator for GPU data parallelism: the device chosen by local
// rank, ncclCommInitRank bootstrapped by broadcasting ncclGetUniqueId over MPI, all-reduces on
// a stream of its own ordered after the caller's stream by events (no host wait).
#include <stdint.h>

#include "base/base.h"
#include "dist.h"

#ifdef GH_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

// Process-wide like MPI's state: one communicator per process, created once by pg_nccl_init.
static struct {
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t ready, done;   // the caller's work queued; the reduction finished
    int device;
} nc = {.device = -1};

#define CUDA_CHECK(stmt)                                                                   \
    do {                                                                                   \
        cudaError_t e_ = (stmt);                                                           \
        if (e_ != cudaSuccess)                                                             \
            return gh_fail(GH_EIO, "%s:%d: %s failed: %s", __FILE__, __LINE__, #stmt,      \
                           cudaGetErrorString(e_));                                        \
    } while (0)
#define NCCL_CHECK(stmt)                                                                   \
    do {                                                                                   \
        ncclResult_t r_ = (stmt);                                                          \
        if (r_ != ncclSuccess)                                                             \
            return gh_fail(GH_EIO, "%s:%d: %s failed: %s", __FILE__, __LINE__, #stmt,      \
                           ncclGetErrorString(r_));                                        \
    } while (0)

int pg_nccl_available(void) { return 1; }

int pg_nccl_device(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) return -1;
    // the devices CUDA_VISIBLE_DEVICES leaves are numbered 0..count-1 here: local rank i takes
    // the i-th (mod count, so that oversubscribed ranks share)
    return pg_world()->local_rank % count;
}

int pg_nccl_init(void) {
    if (nc.comm) return GH_OK;
    const pg_info *pg = pg_world();
    int dev = pg_nccl_device();
    if (dev < 0)
        return gh_fail(GH_ENODEV, "nccl: rank %d sees no CUDA device (CUDA_VISIBLE_DEVICES?)",
                       pg->rank);
    CUDA_CHECK(cudaSetDevice(dev));
    ncclUniqueId id;
    if (pg->rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    int st = pg->size > 1 ? pg_bcast(&id, sizeof id, 0) : GH_OK;
    if (st) return st;
    CUDA_CHECK(cudaStreamCreateWithFlags(&nc.stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&nc.ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&nc.done, cudaEventDisableTiming));
    NCCL_CHECK(ncclCommInitRank(&nc.comm, pg->size, id, pg->rank));
    nc.device = dev;
    return GH_OK;
}

// Queues the all-reduce on the communicator's stream after the work queued so far on `after`.
static int start(float *dev, size_t n, ncclRedOp_t op, void *after) {
    if (!nc.comm) {
        int st = pg_nccl_init();
        if (st) return st;
    }
    CUDA_CHECK(cudaEventRecord(nc.ready, (cudaStream_t)after));
    CUDA_CHECK(cudaStreamWaitEvent(nc.stream, nc.ready, 0));
    NCCL_CHECK(ncclAllReduce(dev, dev, n, ncclFloat32, op, nc.comm, nc.stream));
    return GH_OK;
}

int pg_nccl_join(void *after) {
    if (!nc.comm) return GH_OK;
    CUDA_CHECK(cudaEventRecord(nc.done, nc.stream));
    CUDA_CHECK(cudaStreamWaitEvent((cudaStream_t)after, nc.done, 0));
    return GH_OK;
}

int pg_nccl_allreduce_avg_start(float *dev, size_t n, void *after) {
    return start(dev, n, ncclAvg, after);
}

static int allreduce(float *dev, size_t n, ncclRedOp_t op, void *after) {
    int st = start(dev, n, op, after);
    return st ? st : pg_nccl_join(after);
}

int pg_nccl_allreduce_avg_f32(float *dev, size_t n, void *after) {
    // ncclAvg (NCCL >= 2.10): the sum divided by the rank count inside the collective
    return allreduce(dev, n, ncclAvg, after);
}

int pg_nccl_allreduce_sum_f32(float *dev, size_t n, void *after) {
    return allreduce(dev, n, ncclSum, after);
}

int pg_nccl_sync(void) {
    if (nc.comm) CUDA_CHECK(cudaStreamSynchronize(nc.stream));
    return GH_OK;
}

void pg_nccl_finalize(void) {
    if (!nc.comm) return;
    cudaStreamSynchronize(nc.stream);
    ncclCommDestroy(nc.comm);
    cudaEventDestroy(nc.ready);
    cudaEventDestroy(nc.done);
    cudaStreamDestroy(nc.stream);
    nc.comm = NULL;
}
#else
static int no_nccl(void) {
    return gh_fail(GH_EUNSUP, "nccl: this build has no CUDA and NCCL (Debian: libnccl-dev; "
                   "configure with GH_CUDA=ON)");
}
int pg_nccl_available(void) { return 0; }
int pg_nccl_device(void) { return -1; }
int pg_nccl_init(void) { return no_nccl(); }
int pg_nccl_allreduce_avg_f32(float *dev, size_t n, void *after) {
    return (void)dev, (void)n, (void)after, no_nccl();
}
int pg_nccl_allreduce_sum_f32(float *dev, size_t n, void *after) {
    return (void)dev, (void)n, (void)after, no_nccl();
}
int pg_nccl_allreduce_avg_start(float *dev, size_t n, void *after) {
    return (void)dev, (void)n, (void)after, no_nccl();
}
int pg_nccl_join(void *after) { return (void)after, GH_OK; }
int pg_nccl_sync(void) { return GH_OK; }
void pg_nccl_finalize(void) {}
#endif
