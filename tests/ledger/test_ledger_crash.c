// tests/ledger: crash safety. A forked writer appends trials (and epochs, phase costs, artifacts)
// and reports each completed trial id through a pipe; the test SIGKILLs it at a random moment,
// then opens the file with plain HDF5 (no SWMR, no h5clear), with h5dump when installed, and
// with the ledger reader, and checks that every acknowledged trial is there intact. Then a
// second writer resumes the file and is killed too, and finally the test resumes it itself,
// appends, closes and checks that the ids run 0..n-1 without a gap.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <hdf5.h>

#include "check.h"
#include "ledger_fixture.h"

// The child: create (or resume) the run, then append trials first_id, first_id+1, ... forever,
// acknowledging each one after ledger_append_trial has returned.
static void writer(const char *path, int resume, int64_t first_id, int ack_fd) {
    ledger *l = NULL;
    ledger_run_info info = fixture_info("random-ws", "cifar10", 7);
    int st = resume ? ledger_resume(&l, path) : ledger_create(&l, path, &info);
    if (st) {
        fprintf(stderr, "writer: %s\n", gh_error_get());
        _exit(3);
    }
    int64_t n = resume ? ledger_num_trials(l) : 0;
    if (n != first_id) _exit(4);
    char arch[4096];
    for (int64_t id = first_id;; id++) {
        ledger_trial t = fixture_trial(id, arch, sizeof arch);
        if (ledger_append_trial(l, &t)) _exit(5);
        if (write(ack_fd, &id, sizeof id) != sizeof id) _exit(6);
        if (id % 5 == 0) {
            ledger_epoch e = {"search", id, (int)id, 1, 0.5, 1, 0.5, 0.01, {1, 1, 0, NAN, NAN, 0}};
            if (ledger_append_epoch(l, &e)) _exit(7);
        }
        if (id % 17 == 0) {
            float a[8] = {(float)id, 1, 2, 3, 4, 5, 6, 7};
            if (ledger_put_matrix(l, "alpha", 2, 4, a) || ledger_put_text(l, "best", arch))
                _exit(8);
            cost_totals c = {1, 1, 0, NAN, NAN, 0};
            if (ledger_add_phase_cost(l, "search", &c)) _exit(9);
        }
    }
}

// Starts a writer, kills it after a random delay once `min_acks` trials are acknowledged
// (min_acks = 0: possibly during ledger_create itself). Returns the last acknowledged id
// (-1: none).
static int64_t run_and_kill(const char *path, int resume, int64_t first_id, int min_acks,
                            double delay_s) {
    int fds[2];
    if (pipe(fds) < 0) exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        writer(path, resume, first_id, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    int64_t last = -1, id;
    for (int got = 0; got < min_acks; got++) {
        if (read(fds[0], &id, sizeof id) != sizeof id) break;
        last = id;
    }
    struct timespec ts = {(time_t)delay_s, (long)((delay_s - (time_t)delay_s) * 1e9)};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    while (read(fds[0], &id, sizeof id) == sizeof id) last = id; // drain acks sent before
    close(fds[0]);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fprintf(stderr, "writer exited on its own (status %d) before the kill\n", status);
    return last;
}

// Every check a reader can make on a file after a kill: returns the trials it holds.
static int64_t check_after_kill(const char *path, int64_t last_acked, const char *what) {
    struct stat sb;
    if (stat(path, &sb) < 0) {
        // Killed before ledger_create published the file: allowed only with nothing acked.
        CHECK_MSG(last_acked < 0, "%s: file missing but trial %lld was acknowledged", what,
                  (long long)last_acked);
        return -1;
    }
    // 1. plain HDF5, read-only, default driver, no SWMR flag: what h5py does by default.
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK_MSG(f >= 0, "%s: plain H5Fopen failed after the kill", what);
    if (f >= 0) {
        hid_t d = H5Dopen2(f, "trials", H5P_DEFAULT);
        CHECK(d >= 0);
        if (d >= 0) H5Dclose(d);
        H5Fclose(f);
    }
    // 2. h5dump reads every dataset
    if (system("command -v h5dump >/dev/null 2>&1") == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "h5dump '%s' >/dev/null 2>h5dump.err", path);
        CHECK_MSG(system(cmd) == 0, "%s: h5dump failed after the kill (see h5dump.err)", what);
    }
    // 3. the ledger reader: every acknowledged trial, intact; at most one more (the trial
    //    whose append had returned but whose acknowledgement had not been sent)
    ledger *l = NULL;
    CHECK_OK(ledger_open_read(&l, path));
    if (!l) return -1;
    int64_t n = ledger_num_trials(l);
    CHECK_MSG(n >= last_acked + 1 && n <= last_acked + 2, "%s: %lld trials, last acked %lld",
              what, (long long)n, (long long)last_acked);
    int bad = 0;
    char arch[4096];
    for (int64_t i = 0; i < n; i++) {
        ledger_trial t;
        char why[256] = "";
        if (ledger_read_trial(l, i, &t) || t.id != i || !fixture_check_trial(&t, why, sizeof why)) {
            if (!bad++) fprintf(stderr, "%s: trial %lld: %s\n", what, (long long)i, why);
        }
    }
    CHECK_MSG(bad == 0, "%s: %d damaged trials", what, bad);
    CHECK(!strcmp(ledger_run_status(l), "interrupted")); // says running, no writer holds it
    (void)arch;
    ledger_close(l, NULL);
    return n;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 6;
    unsigned seed = argc > 2 ? (unsigned)atoi(argv[2]) : (unsigned)time(NULL);
    printf("test_ledger_crash: %d rounds, seed %u (rerun: test_ledger_crash %d %u)\n", rounds,
           seed, rounds, seed);
    gh_rng rng;
    gh_rng_seed(&rng, seed, 0);
    char dir[64];
    fixture_tmpdir(dir, sizeof dir, "crash");
    for (int r = 0; r < rounds; r++) {
        char path[256], what[64];
        snprintf(path, sizeof path, "%s/run%d.h5", dir, r);
        // round 0 may die inside ledger_create; the others after 1..200 acknowledged trials
        int min_acks = r == 0 ? 0 : 1 + (int)gh_rng_below(&rng, 200);
        double delay = gh_rng_uniform(&rng) * (r == 0 ? 0.05 : 0.02);
        int64_t last = run_and_kill(path, 0, 0, min_acks, delay);
        snprintf(what, sizeof what, "round %d (create, kill after %d acks + %.1f ms)", r,
                 min_acks, delay * 1e3);
        int64_t n = check_after_kill(path, last, what);
        printf("%s: last acked %lld, file holds %lld\n", what, (long long)last, (long long)n);
        if (n < 0) continue;

        // a resumed writer, killed too
        int64_t last2 = run_and_kill(path, 1, n, 1 + (int)gh_rng_below(&rng, 100),
                                     gh_rng_uniform(&rng) * 0.02);
        snprintf(what, sizeof what, "round %d (resumed, killed)", r);
        int64_t n2 = check_after_kill(path, last2 < 0 ? n - 1 : last2, what);
        printf("%s: last acked %lld, file holds %lld\n", what, (long long)last2, (long long)n2);
        if (n2 < 0) continue;

        // resumed here, appended, closed properly
        ledger *l = NULL;
        CHECK_OK(ledger_resume(&l, path));
        if (!l) continue;
        CHECK(ledger_num_trials(l) == n2);
        char arch[4096];
        for (int64_t id = n2; id < n2 + 5; id++) {
            ledger_trial t = fixture_trial(id, arch, sizeof arch);
            CHECK_OK(ledger_append_trial(l, &t));
        }
        CHECK_OK(ledger_close(l, "finished"));
        CHECK_OK(ledger_open_read(&l, path));
        if (!l) continue;
        CHECK(ledger_num_trials(l) == n2 + 5);
        for (int64_t i = 0; i < ledger_num_trials(l); i++) {
            ledger_trial t;
            char why[256];
            CHECK_OK(ledger_read_trial(l, i, &t));
            CHECK_MSG(t.id == i && fixture_check_trial(&t, why, sizeof why), "%s", why);
        }
        CHECK(!strcmp(ledger_run_status(l), "finished"));
        ledger_close(l, NULL);
    }
    return check_done("test_ledger_crash");
}
