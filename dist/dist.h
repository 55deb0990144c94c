// dist: the process group a gpuhours run belongs to: its rank, world size and local rank as
// the launcher (mpirun, srun, a PMI launcher) set them, and byte messages between ranks over
// MPI. A process started without a launcher is a group of one and never touches MPI.
// Users: `gpuhours tune` (rank 0 coordinates, the others run trials); planned: the NAS
// workers and NCCL data-parallel training, which will take their ranks from here too.
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
// Ends every rank of the group (MPI_Abort) after a fatal error on one of them, so that none
// waits for ever on a dead peer. Returns only when MPI is not in use.
void pg_abort(int code);
// MPI_Finalize when pg_init initialised MPI; GH_OK otherwise.
int pg_finalize(void);

#ifdef __cplusplus
}
#endif
