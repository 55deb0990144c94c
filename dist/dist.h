// dist: the process group a gpuhours run belongs to: its rank, world size and local rank as
// the launcher (mpirun, srun, a PMI launcher) set them, and byte messages between ranks over
// MPI. A process started without a launcher is a group of one and never touches MPI.
// Users: `gpuhours tune` (rank 0 coordinates, the others run trials); data-parallel training
// (all-reduce over MPI on the CPU, NCCL on GPUs; the bucketed gradient reducer in dp.h).
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int rank, size;          // 0..size-1; size 1 without a launcher
    int local_rank;          // rank among the processes of this host (device choice)
    int local_size;          // processes of the group on this host (threads per process)
    const char *launcher;    // "none", "openmpi", "pmi", "slurm": where the numbers came from
    int mpi;                 // 1 when pg_init initialised MPI (size > 1 in an MPI build)
} pg_info;

// The group from the environment only, MPI not touched: OpenMPI's OMPI_COMM_WORLD_SIZE /
// _RANK / _LOCAL_RANK, then PMI_SIZE / PMI_RANK (MPICH, Intel MPI; MPI_LOCALRANKID), then
// Slurm's SLURM_STEP_NUM_TASKS / SLURM_PROCID / SLURM_LOCALID as srun sets them (a batch
// script's SLURM_NTASKS alone is not a group: it is one process); local size
// from OMPI_COMM_WORLD_LOCAL_SIZE or MPI_LOCALNRANKS, else 1. GH_EINVAL naming the variable
// when one is not a number in range.
int pg_info_from_env(pg_info *out);

// Once per process, before anything else runs (cli/main.c): reads the environment and, when
// the world size is > 1, initialises MPI and checks that MPI agrees with it; the local rank and
// size then come from MPI (the ranks sharing this host's memory). GH_EUNSUP when
// the launcher started several ranks but this build has no MPI; GH_EIO when MPI fails.
int pg_init(int *argc, char ***argv);
// The group pg_init found (a group of one before pg_init). MPI's state is process-wide, so is
// this handle: written once by pg_init, only read afterwards.
const pg_info *pg_world(void);

// Point-to-point byte messages on MPI_COMM_WORLD. A tag keeps the users of the group apart
// (tune uses PG_TAG_TUNE + 0..9). Sends are blocking; messages are small.
#define PG_TAG_TUNE 100
#define PG_TAG_NAS 200    // NAS children trained by worker ranks (search/nas/nas_workers.c)
#define PG_TIMEOUT (-1)   // pg_recv: nothing arrived in time
int pg_send(int dst, int tag, const void *buf, size_t n);
// One message of `tag` from any rank: GH_OK with *src and *n set, PG_TIMEOUT when none came
// within timeout_s (< 0: wait for ever), GH_EINVAL when the message is larger than cap.
// Waiting polls with a short sleep instead of blocking in MPI_Recv: OpenMPI's blocking
// receive spins a core, which a rank waiting for work would take from the ranks training.
int pg_recv(int tag, void *buf, size_t cap, int *src, size_t *n, double timeout_s);
// pg_recv of a fixed-size message (a request or reply struct): GH_EIO naming the sizes and the
// sender when one of another size came (another build on that rank).
int pg_recv_fixed(int tag, void *buf, size_t n, int *src, double timeout_s);
int pg_barrier(void);
int pg_bcast(void *buf, size_t n, int root);   // bytes from root to every rank
// Ends every rank of the group (MPI_Abort) after a fatal error on one of them, so that none
// waits for ever on a dead peer. Returns only when MPI is not in use.
void pg_abort(int code);
// MPI_Finalize when pg_init initialised MPI; GH_OK otherwise.
int pg_finalize(void);

// ---- collectives: data-parallel gradient reduction (dp.c) and cost gathering --------------------
// In place over every rank of the group, host memory, MPI_Allreduce. A group of one returns at
// once without touching the buffer (a run without a launcher is bit-identical to one without
// this module). avg is the sum times 1/size (exact for a power-of-two size).
int pg_allreduce_sum_f32(float *buf, size_t n);
int pg_allreduce_avg_f32(float *buf, size_t n);
int pg_allreduce_sum_f64(double *buf, size_t n);   // cost totals (busy time summed over ranks)
int pg_allreduce_max_f64(double *buf, size_t n);   // peak memory over ranks
// Each rank's n doubles to root, which receives them in rank order in all[size * n] (all is
// not read on the other ranks and may be NULL there): the per-rank cost records.
int pg_gather_f64(const double *mine, size_t n, double *all, int root);

// NCCL (nccl.c; GH_EUNSUP in a build without CUDA and NCCL): one communicator over the group,
// bootstrapped by broadcasting ncclGetUniqueId from rank 0 over MPI, and its own stream.
// pg_nccl_device: the device this rank uses, local_rank % device_count over the devices
// CUDA_VISIBLE_DEVICES leaves visible (-1 without CUDA). pg_nccl_init makes it current and
// creates the communicator (once; later calls return GH_OK). pg_nccl_allreduce_avg_f32 averages
// a device buffer after the work already queued on `after` (the caller's stream, NULL: legacy
// default), on the communicator's stream, and makes `after` wait for it (no host wait).
int pg_nccl_available(void);                 // 1 when the build has NCCL
int pg_nccl_device(void);
int pg_nccl_init(void);
int pg_nccl_allreduce_avg_f32(float *dev, size_t n, void *after);
int pg_nccl_allreduce_sum_f32(float *dev, size_t n, void *after);
// The same without the wait: the reduction is queued after `after`'s work so far, and `after`
// goes on (DDP's overlap); pg_nccl_join makes `after` wait for everything queued since.
int pg_nccl_allreduce_avg_start(float *dev, size_t n, void *after);
int pg_nccl_join(void *after);
int pg_nccl_sync(void);                      // waits for the communicator's stream
void pg_nccl_finalize(void);

// ---- the data-parallel gradient reducer (dp.c) -------------------------------------------------
// Averages a flat gradient over the group in buckets of at most bucket_bytes (DDP's 25 MiB by
// default), last bucket first: backward finishes the gradients of the parameters declared last
// first, so that order is the one in which buckets become final. dp_reduce is a gh_reduce_fn
// (gh_step_def.reduce): alone, it reduces the buckets after backward; with dp_grad_ready as the
// step's ready hook, backward starts each bucket as soon as its parameters' gradients are final
// (DDP's overlap: on CUDA the NCCL stream runs while backward's kernels go on; on the CPU each
// MPI_Allreduce runs at that point, blocking). dp_reduce_buf reduces any backend buffer after
// the fact (DARTS's v and architecture gradients).
// A group of one never creates a reducer: the step's reduce hook stays NULL.
struct gh_engine;
typedef struct dp_reducer dp_reducer;
#define DP_BUCKET_BYTES_DEFAULT ((size_t)25 << 20)
int dp_reducer_create(dp_reducer **out, size_t bucket_bytes);   // 0: the default
void dp_reducer_free(dp_reducer *r);
int dp_reduce(void *reducer, struct gh_engine *e, int group);
// A gh_grad_ready_fn (gh_step_def.ready, with reduce_ctx the reducer): starts each bucket's
// all-reduce during backward as soon as every parameter overlapping it is final, in reduction
// order; dp_reduce then starts any left and (NCCL) makes the engine's stream wait for them.
void dp_grad_ready(void *reducer, struct gh_engine *e, int group, int param);
int dp_reduce_buf(dp_reducer *r, struct gh_engine *e, float *grad, size_t n);
// Wall time inside reductions so far: the gradients' (not hidden by backward), the buffers'
// (dp_average_buffers) and synchronized batch norm's (dp_bn_sync with this reducer as ctx).
double dp_comm_seconds(const dp_reducer *r);
double dp_bn_seconds(const dp_reducer *r);     // the synchronized batch norm part of it
// A gh_bn_sync_fn (gh_set_bn_sync, synchronized batch norm): n host doubles summed in place
// over the group (MPI_Allreduce). ctx: NULL, or the run's reducer, whose comm_s then counts
// the call's wall time (a blocking collective: none of it is hidden). Host doubles on every
// backend: the engine brings a layer's per-channel sums to the host, so NCCL is not needed for
// a few hundred values and the sums keep double precision.
int dp_bn_sync(void *ctx, double *buf, size_t n);
// The engine's GH_GROUP_BUFFERS (batch norm's running statistics) averaged over the group in
// place (as dp_reduce_buf): with per-rank batch norm each rank's running statistics follow its
// own shard; averaged, every rank holds the same model for evaluation and checkpoints.
int dp_average_buffers(dp_reducer *r, struct gh_engine *e);
// The plan, in reduction order: bucket i of a buffer of n floats is [*off, *off + *len).
size_t dp_bucket_count(size_t n, size_t bucket_elems);
void dp_bucket_at(size_t n, size_t bucket_elems, size_t i, size_t *off, size_t *len);
// Tests: fn sees every bucket before it is reduced (grad is the whole buffer).
void dp_reducer_observe(dp_reducer *r, void (*fn)(void *ctx, const float *grad, size_t off,
                                                  size_t len), void *ctx);

#ifdef __cplusplus
}
#endif
