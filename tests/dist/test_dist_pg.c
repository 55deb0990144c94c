// tests/dist: the process group. Alone (no argument): the launchers' variables give the rank,
// size and local rank (OpenMPI before PMI before Slurm; a batch script is no group), a
// bad value is refused naming the variable, and no launcher is a group of one in which the
// MPI calls refuse. Under `mpirun -np 2 test_dist_pg mpi` (mpi_launch.py): messages both ways,
// a receive that times out and keeps its deadline, a message too big for the buffer refused,
// the barrier.
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "check.h"
#include "dist/dist.h"

static const char *const vars[] = {
    "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE", "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS",
    "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID"};

static void clear_env(void) {
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static void from_env(void) {
    pg_info p;
    clear_env();
    CHECK_OK(pg_info_from_env(&p));
    CHECK(p.size == 1 && p.rank == 0 && p.local_rank == 0 && p.local_size == 1 &&
          !strcmp(p.launcher, "none") && !p.mpi);

    setenv("SLURM_NTASKS", "8", 1);   // a batch script of an 8-task allocation: one process
    setenv("SLURM_PROCID", "0", 1);
    CHECK_OK(pg_info_from_env(&p));
    CHECK(p.size == 1 && p.rank == 0 && !strcmp(p.launcher, "none"));
    setenv("SLURM_STEP_NUM_TASKS", "4", 1);   // a task srun started
    setenv("SLURM_PROCID", "3", 1);
    setenv("SLURM_LOCALID", "1", 1);
    CHECK_OK(pg_info_from_env(&p));
    CHECK(p.size == 4 && p.rank == 3 && p.local_rank == 1 && !strcmp(p.launcher, "slurm"));

    setenv("PMI_SIZE", "6", 1);
    setenv("PMI_RANK", "5", 1);
    CHECK_OK(pg_info_from_env(&p));
    CHECK(p.size == 6 && p.rank == 5 && p.local_rank == 0 && !strcmp(p.launcher, "pmi"));

    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    setenv("OMPI_COMM_WORLD_RANK", "2", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "2", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "3", 1);
    CHECK_OK(pg_info_from_env(&p));
    CHECK(p.size == 3 && p.rank == 2 && p.local_rank == 2 && p.local_size == 3 &&
          !strcmp(p.launcher, "openmpi"));

    // refused, naming the variable: a rank out of range, text, a size without a rank
    setenv("OMPI_COMM_WORLD_RANK", "3", 1);
    int st = pg_info_from_env(&p);
    CHECK_MSG(st == GH_EINVAL && strstr(gh_error_get(), "OMPI_COMM_WORLD_RANK='3'") &&
                  p.size == 1, "rank 3 of 3: status %d (%s)", st, gh_error_get());
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    setenv("OMPI_COMM_WORLD_SIZE", "three", 1);
    st = pg_info_from_env(&p);
    CHECK_MSG(st == GH_EINVAL && strstr(gh_error_get(), "OMPI_COMM_WORLD_SIZE"),
              "size 'three': status %d (%s)", st, gh_error_get());
    clear_env();
    setenv("PMI_SIZE", "2", 1);
    st = pg_info_from_env(&p);
    CHECK_MSG(st == GH_EINVAL && strstr(gh_error_get(), "PMI_RANK"), "no PMI_RANK: %d (%s)",
              st, gh_error_get());
    clear_env();

    // a group of one: no MPI, its calls refuse
    CHECK_OK(pg_init(NULL, NULL));
    CHECK(pg_world()->size == 1 && !pg_world()->mpi);
    char b = 0;
    CHECK(pg_send(0, 1, &b, 1) != GH_OK);
    CHECK(pg_barrier() != GH_OK);
    CHECK_OK(pg_finalize());
}

static void two_ranks(void) {
    CHECK_OK(pg_init(NULL, NULL));
    const pg_info *p = pg_world();
    CHECK_MSG(p->size == 2 && p->mpi && !strcmp(p->launcher, "openmpi") && p->local_size == 2,
              "size %d mpi %d launcher %s local size %d", p->size, p->mpi, p->launcher,
              p->local_size);
    if (p->size != 2) return;
    int other = 1 - p->rank, src = -1;
    size_t n = 0;
    char buf[64];
    if (p->rank == 0) {
        double t0 = gh_wall_seconds();
        int st = pg_recv(7, buf, sizeof buf, &src, &n, 0.2);   // rank 1 sends only later
        double waited = gh_wall_seconds() - t0;
        CHECK_MSG(st == PG_TIMEOUT && waited >= 0.2 && waited < 1.0,
                  "nothing sent: status %d after %.3f s", st, waited);
        CHECK_OK(pg_send(other, 5, "go", 3));
        CHECK_OK(pg_recv(7, buf, sizeof buf, &src, &n, 10));
        CHECK(src == 1 && n == 6 && !strcmp(buf, "hello"));
        CHECK_OK(pg_recv(8, buf, sizeof buf, &src, &n, 10));   // the other tag, sent first
        CHECK(src == 1 && n == 4 && !strcmp(buf, "tag"));
        int st2 = pg_recv(9, buf, 4, &src, &n, 10);            // 10 bytes for 4
        CHECK_MSG(st2 == GH_EINVAL && strstr(gh_error_get(), "10 bytes"), "%d (%s)", st2,
                  gh_error_get());
        CHECK_OK(pg_recv(9, buf, sizeof buf, &src, &n, 10));   // still there to read
        CHECK(n == 10);
    } else {
        CHECK_OK(pg_recv(5, buf, sizeof buf, &src, &n, -1));
        CHECK(src == 0 && n == 3 && !strcmp(buf, "go"));
        CHECK_OK(pg_send(other, 8, "tag", 4));
        CHECK_OK(pg_send(other, 7, "hello", 6));
        CHECK_OK(pg_send(other, 9, "0123456789", 10));
    }
    CHECK_OK(pg_barrier());
    CHECK_OK(pg_finalize());
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "mpi")) two_ranks();
    else from_env();
    return check_done(argc > 1 ? "test_dist_pg (2 ranks)" : "test_dist_pg");
}
