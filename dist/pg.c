// pg: the process group from the launcher's environment, and MPI (when the build has it and
// the group has more than one rank) for byte messages, a barrier, host all-reduces and a
// group-wide abort.
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "dist.h"

#ifdef GH_HAVE_MPI
#include <mpi.h>
#endif

// Set once by pg_init; a group of one until then (see dist.h on why it is process-wide).
static pg_info world = {0, 1, 0, 1, "none", 0};

const pg_info *pg_world(void) { return &world; }

// *out from the variable's text: digits only, within [lo, hi]. 0: absent; 1: set; GH_EINVAL.
static int env_int(const char *name, int lo, int hi, int *out) {
    const char *s = getenv(name);
    if (!s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -gh_fail(GH_EINVAL, "process group: %s='%s', expected an integer in %d..%d", name,
                        s, lo, hi);
    *out = (int)v;
    return 1;
}

// One launcher's variables: size (required to count), rank (required with it), local rank
// and local size (optional). 1: this launcher set them; 0: it did not; < 0: -status.
static int from_launcher(pg_info *p, const char *launcher, const char *size_var,
                         const char *rank_var, const char *local_var, const char *local_size_var) {
    int size = 1, rank = 0, local = 0, local_size = 1;
    int st = env_int(size_var, 1, INT_MAX, &size);
    if (st <= 0) return st;
    st = env_int(rank_var, 0, size - 1, &rank);
    if (st < 0) return st;
    if (st == 0)
        return -gh_fail(GH_EINVAL, "process group: %s=%d is set but %s is not", size_var, size,
                        rank_var);
    if (local_var && (st = env_int(local_var, 0, INT_MAX, &local)) < 0) return st;
    if (local_size_var && (st = env_int(local_size_var, 1, size, &local_size)) < 0) return st;
    *p = (pg_info){rank, size, local, local_size, launcher, 0};
    return 1;
}

int pg_info_from_env(pg_info *out) {
    *out = (pg_info){0, 1, 0, 1, "none", 0};
    // OpenMPI first: mpirun inside a Slurm allocation sets both, and its own are the truth.
    int st = from_launcher(out, "openmpi", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                           "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE");
    if (st == 0)
        st = from_launcher(out, "pmi", "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS");
    // srun sets SLURM_STEP_NUM_TASKS for the tasks it starts. SLURM_NTASKS is not enough: a
    // batch script of an allocation of N tasks has it (and SLURM_PROCID=0) but is one process.
    if (st == 0)
        st = from_launcher(out, "slurm", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "SLURM_LOCALID",
                           NULL);
    if (st < 0) {
        *out = (pg_info){0, 1, 0, 1, "none", 0};
        return -st;
    }
    return GH_OK;
}

#ifdef GH_HAVE_MPI
// The one check of MPI calls (errors return, MPI_ERRORS_RETURN): statement, file, line and
// MPI's own message.
static int mpi_fail(int rc, const char *stmt, const char *file, int line) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return gh_fail(GH_EIO, "%s:%d: %s failed: %s", file, line, stmt, msg);
}
#define MPI_CHECK(stmt)                                               \
    do {                                                              \
        int rc_ = (stmt);                                             \
        if (rc_ != MPI_SUCCESS) return mpi_fail(rc_, #stmt, __FILE__, __LINE__); \
    } while (0)
#endif

int pg_init(int *argc, char ***argv) {
    pg_info p;
    int st = pg_info_from_env(&p);
    if (st) return st;
    if (p.size == 1) {
        world = p;
        return GH_OK;
    }
#ifdef GH_HAVE_MPI
    MPI_CHECK(MPI_Init(argc, argv));
    world = p;
    world.mpi = 1;   // from here pg_abort can end the group, whatever fails next
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    int size, rank;
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    if (size != p.size || rank != p.rank)
        return gh_fail(GH_EIO, "process group: the %s environment says rank %d of %d, MPI says "
                       "rank %d of %d (a launcher of another MPI than this build's?)",
                       p.launcher, p.rank, p.size, rank, size);
    MPI_Comm node;   // the ranks that share this host's memory
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_rank(node, &world.local_rank));
    MPI_CHECK(MPI_Comm_size(node, &world.local_size));
    MPI_CHECK(MPI_Comm_free(&node));
    return GH_OK;
#else
    (void)argc, (void)argv;
    return gh_fail(GH_EUNSUP, "process group: started by %s as rank %d of %d, but this build has "
                   "no MPI; install an MPI (Debian: libopenmpi-dev) and rebuild, or run without "
                   "the launcher", p.launcher, p.rank, p.size);
#endif
}

#ifdef GH_HAVE_MPI
static int need_mpi(const char *what) {
    if (world.mpi) return GH_OK;
    return gh_fail(GH_EINVAL, "%s: no process group (world size %d, MPI not initialised)", what,
                   world.size);
}

int pg_send(int dst, int tag, const void *buf, size_t n) {
    int st = need_mpi("pg_send");
    if (st) return st;
    if (dst < 0 || dst >= world.size || n > INT_MAX)
        return gh_fail(GH_EINVAL, "pg_send: rank %d of %d, %zu bytes", dst, world.size, n);
    MPI_CHECK(MPI_Send(buf, (int)n, MPI_BYTE, dst, tag, MPI_COMM_WORLD));
    return GH_OK;
}

int pg_recv(int tag, void *buf, size_t cap, int *src, size_t *n, double timeout_s) {
    int st = need_mpi("pg_recv");
    if (st) return st;
    double t0 = gh_wall_seconds();
    long nap_ns = 20000;   // 20 us, doubling to 2 ms: quick replies stay quick, idle waits cheap
    for (;;) {
        int flag = 0;
        MPI_Status s;
        MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, &s));
        if (flag) {
            int count = 0;
            MPI_CHECK(MPI_Get_count(&s, MPI_BYTE, &count));
            if ((size_t)count > cap)
                return gh_fail(GH_EINVAL, "pg_recv: a message of %d bytes from rank %d (tag %d), "
                               "expected at most %zu", count, s.MPI_SOURCE, tag, cap);
            MPI_CHECK(MPI_Recv(buf, count, MPI_BYTE, s.MPI_SOURCE, tag, MPI_COMM_WORLD,
                               MPI_STATUS_IGNORE));
            *src = s.MPI_SOURCE;
            *n = (size_t)count;
            return GH_OK;
        }
        double left = timeout_s - (gh_wall_seconds() - t0);
        if (timeout_s >= 0 && left <= 0) return PG_TIMEOUT;
        long ns = nap_ns;
        if (timeout_s >= 0 && left * 1e9 < ns) ns = (long)(left * 1e9) + 1;
        nanosleep(&(struct timespec){0, ns}, NULL);
        if (nap_ns < 2000000) nap_ns *= 2;
    }
}

int pg_barrier(void) {
    int st = need_mpi("pg_barrier");
    if (st) return st;
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    return GH_OK;
}

int pg_bcast(void *buf, size_t n, int root) {
    int st = need_mpi("pg_bcast");
    if (st) return st;
    if (n > INT_MAX || root < 0 || root >= world.size)
        return gh_fail(GH_EINVAL, "pg_bcast: %zu bytes from rank %d of %d", n, root, world.size);
    MPI_CHECK(MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD));
    return GH_OK;
}

void pg_abort(int code) {
    if (world.mpi) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

// MPI counts are ints: chunks of 2^30 elements
static int allreduce_op(void *buf, size_t n, MPI_Datatype t, size_t elem, MPI_Op op) {
    int st = need_mpi("pg_allreduce");
    if (st) return st;
    const size_t chunk = (size_t)1 << 30;
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, (int)k, t, op,
                                MPI_COMM_WORLD));
    }
    return GH_OK;
}

static int allreduce(void *buf, size_t n, MPI_Datatype t, size_t elem) {
    return allreduce_op(buf, n, t, elem, MPI_SUM);
}

int pg_allreduce_max_f64(double *buf, size_t n) {
    return world.size == 1 ? GH_OK : allreduce_op(buf, n, MPI_DOUBLE, sizeof(double), MPI_MAX);
}

int pg_allreduce_sum_f32(float *buf, size_t n) {
    return world.size == 1 ? GH_OK : allreduce(buf, n, MPI_FLOAT, sizeof(float));
}

int pg_allreduce_avg_f32(float *buf, size_t n) {
    if (world.size == 1) return GH_OK;
    int st = allreduce(buf, n, MPI_FLOAT, sizeof(float));
    const float inv = 1.0f / (float)world.size;
    for (size_t i = 0; !st && i < n; i++) buf[i] *= inv;
    return st;
}

int pg_allreduce_sum_f64(double *buf, size_t n) {
    return world.size == 1 ? GH_OK : allreduce(buf, n, MPI_DOUBLE, sizeof(double));
}

int pg_gather_f64(const double *mine, size_t n, double *all, int root) {
    if (world.size == 1) {
        for (size_t i = 0; i < n; i++) all[i] = mine[i];
        return GH_OK;
    }
    int st = need_mpi("pg_gather_f64");
    if (st) return st;
    if (n > INT_MAX || root < 0 || root >= world.size)
        return gh_fail(GH_EINVAL, "pg_gather_f64: %zu values to rank %d of %d", n, root,
                       world.size);
    MPI_CHECK(MPI_Gather(mine, (int)n, MPI_DOUBLE, world.rank == root ? all : NULL, (int)n,
                         MPI_DOUBLE, root, MPI_COMM_WORLD));
    return GH_OK;
}

int pg_finalize(void) {
    if (!world.mpi) return GH_OK;
    world.mpi = 0;
    MPI_CHECK(MPI_Finalize());
    return GH_OK;
}
#else
static int no_mpi(const char *what) {
    return gh_fail(GH_EUNSUP, "%s: this build has no MPI", what);
}
int pg_send(int dst, int tag, const void *buf, size_t n) {
    (void)dst, (void)tag, (void)buf, (void)n;
    return no_mpi("pg_send");
}
int pg_recv(int tag, void *buf, size_t cap, int *src, size_t *n, double timeout_s) {
    (void)tag, (void)buf, (void)cap, (void)src, (void)n, (void)timeout_s;
    return no_mpi("pg_recv");
}
int pg_barrier(void) { return no_mpi("pg_barrier"); }
int pg_bcast(void *buf, size_t n, int root) {
    (void)buf, (void)n, (void)root;
    return no_mpi("pg_bcast");
}
// a group of one is the only group without MPI (pg_init refuses more)
int pg_allreduce_sum_f32(float *buf, size_t n) { return (void)buf, (void)n, GH_OK; }
int pg_allreduce_avg_f32(float *buf, size_t n) { return (void)buf, (void)n, GH_OK; }
int pg_allreduce_sum_f64(double *buf, size_t n) { return (void)buf, (void)n, GH_OK; }
int pg_allreduce_max_f64(double *buf, size_t n) { return (void)buf, (void)n, GH_OK; }
int pg_gather_f64(const double *mine, size_t n, double *all, int root) {
    (void)root;
    for (size_t i = 0; i < n; i++) all[i] = mine[i];
    return GH_OK;
}
void pg_abort(int code) { (void)code; }
int pg_finalize(void) { return GH_OK; }
#endif

int pg_recv_fixed(int tag, void *buf, size_t n, int *src, double timeout_s) {
    size_t got = 0;
    int st = pg_recv(tag, buf, n, src, &got, timeout_s);
    if (!st && got != n)
        st = gh_fail(GH_EIO, "a message of %zu bytes (tag %d) from rank %d, expected %zu: "
                     "another build on that rank?", got, tag, *src, n);
    return st;
}
