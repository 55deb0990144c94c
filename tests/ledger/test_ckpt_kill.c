// tests/ledger: checkpoint atomicity under SIGKILL. A forked writer resumes the run (creates it
// the first time), continues from the checkpoint on disk and commits checkpoints in a loop,
// each with a counter, a payload whose length and bytes follow from the counter (growing), and
// a header with the counter, length and an independent checksum of the payload; it
// acknowledges each commit through a pipe. The test SIGKILLs it at a random moment, several
// rounds, and each time checks that `--resume` accepts the run and the checkpoint on disk is one
// whole version: consistent blobs, the step attribute equal to the counter, and the counter
// the last acknowledged one or the one committed just before the kill.
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "ledger_fixture.h"

enum { ROUNDS = 12 };
#define METHOD "darts-first"

typedef struct {
    int64_t counter;
    uint64_t bytes;
    uint64_t fnv;    // FNV-1a of the payload, computed apart from the checkpoint's own checksum
} ck_header;

static size_t payload_bytes(int64_t c) { return 4096 + (size_t)(c % 200) * 5120; }

static void payload_fill(unsigned char *p, size_t n, int64_t c) {
    for (size_t i = 0; i < n; i += 8) {
        uint64_t h = gh_hash64((uint64_t)c, i / 8);
        memcpy(p + i, &h, n - i < 8 ? n - i : 8);
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// The counter of the checkpoint beside run, after checking that it is one whole version;
// -1 when there is none yet.
static int64_t verify(const char *run, const char *why) {
    char ck[600];
    ledger_ckpt_path(run, ck, sizeof ck);
    if (access(ck, F_OK) < 0) return -1;
    ledger_ckpt_reader *r = NULL;
    int st = ledger_resume_check(run, METHOD, &r);
    CHECK_MSG(st == GH_OK, "%s: --resume refused: %s", why, gh_error_get());
    if (st) return -2;
    int64_t c = -2;
    ck_header h = {0};
    CHECK_OK(ledger_ckpt_get(r, "counter", &c, sizeof c));
    CHECK_OK(ledger_ckpt_get(r, "state/header", &h, sizeof h));
    size_t n = 0;
    CHECK_OK(ledger_ckpt_size(r, "state/payload", &n));
    unsigned char *got = malloc(n ? n : 1), *want = malloc(n ? n : 1);
    CHECK_OK(ledger_ckpt_get(r, "state/payload", got, n));
    payload_fill(want, n, c);
    CHECK_MSG(h.counter == c && ledger_ckpt_step(r) == c && h.bytes == n &&
                  n == payload_bytes(c) && h.fnv == fnv1a(got, n) && !memcmp(got, want, n),
              "%s: checkpoint mixes versions: counter %lld, step %lld, header counter %lld, "
              "payload %zu bytes (header %llu, expected %zu)", why, (long long)c,
              (long long)ledger_ckpt_step(r), (long long)h.counter, n,
              (unsigned long long)h.bytes, payload_bytes(c));
    free(got);
    free(want);
    ledger_ckpt_close(r);
    return c;
}

static int commit_one(ledger *l, int64_t c, unsigned char *buf) {
    size_t n = payload_bytes(c);
    payload_fill(buf, n, c);
    ck_header h = {c, n, fnv1a(buf, n)};
    ledger_ckpt_writer *w = NULL;
    int st = ledger_ckpt_begin(&w, l, METHOD, "[search]\nepochs = 3\n", c);
    if (st) return st;
    // payload first, header last: a mix of two versions would show in the header
    if (!(st = ledger_ckpt_put(w, "state/payload", buf, n)) &&
        !(st = ledger_ckpt_put(w, "counter", &c, sizeof c)))
        st = ledger_ckpt_put(w, "state/header", &h, sizeof h);
    if (st) {
        ledger_ckpt_abort(w);
        return st;
    }
    return ledger_ckpt_commit(w);
}

static void writer(const char *run, int first, int fd) {
    ledger *l = NULL;
    ledger_run_info info = fixture_info(METHOD, "cifar10", 3);
    int st = first ? ledger_create(&l, run, &info) : ledger_resume(&l, run);
    if (st) {
        fprintf(stderr, "writer: %s\n", gh_error_get());
        _exit(3);
    }
    int64_t c = 0;
    char ck[600];
    ledger_ckpt_path(run, ck, sizeof ck);
    ledger_ckpt_reader *r = NULL;
    if (!first && access(ck, F_OK) == 0) {
        if (ledger_ckpt_open(&r, ck) || ledger_ckpt_get(r, "counter", &c, sizeof c)) _exit(4);
        ledger_ckpt_close(r);
        c++;
    }
    unsigned char *buf = malloc(payload_bytes(199));
    int64_t ready = -1;
    if (!buf || write(fd, &ready, sizeof ready) != sizeof ready) _exit(5);
    for (;; c++) {
        if (commit_one(l, c, buf)) {
            fprintf(stderr, "writer: %s\n", gh_error_get());
            _exit(6);
        }
        if (write(fd, &c, sizeof c) != sizeof c) _exit(7);
    }
}

int main(void) {
    char dir[64], run[128];
    fixture_tmpdir(dir, sizeof dir, "ckpt_kill");
    snprintf(run, sizeof run, "%s/run.h5", dir);
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0);
    gh_rng rng;
    uint64_t seed = (uint64_t)t0.tv_nsec;
    gh_rng_seed(&rng, seed, GH_STREAM_SEARCH);
    printf("kill delays from seed %llu\n", (unsigned long long)seed);
    int64_t on_disk = -1;
    long commits = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        if (pipe(fds) < 0) return 1;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            writer(run, round == 0, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        int64_t v, last = -1;
        if (read(fds[0], &v, sizeof v) != sizeof v || v != -1) {
            CHECK_MSG(0, "round %d: the writer did not start", round);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        // 0..120 ms into the loop: a commit takes a few ms, so kills land in every phase
        double delay = 0.12 * gh_rng_uniform(&rng);
        struct timespec ts = {0, (long)(delay * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        while (read(fds[0], &v, sizeof v) == sizeof v) last = v;
        close(fds[0]);
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %d: the writer exited with status %d before the kill", round, status);
        char why[64];
        snprintf(why, sizeof why, "round %d", round);
        int64_t c = verify(run, why);
        // the acknowledged commit is on disk; at most the one in flight went further
        int64_t lo = last >= 0 ? last : on_disk;
        CHECK_MSG(c >= lo && c <= lo + 1 && c >= on_disk,
                  "round %d: checkpoint %lld on disk; last acknowledged %lld, before %lld", round,
                  (long long)c, (long long)last, (long long)on_disk);
        printf("round %2d: killed after %5.1f ms, last acknowledged %4lld, on disk %4lld\n",
               round, delay * 1e3, (long long)last, (long long)c);
        if (c > on_disk) commits += (long)(c - on_disk);
        on_disk = c;
    }
    CHECK_MSG(commits >= ROUNDS, "only %ld checkpoints committed over %d rounds", commits,
              ROUNDS);

    // a last clean session replaces any temporary file a kill left behind
    ledger *l = NULL;
    CHECK_OK(ledger_resume(&l, run));
    unsigned char *buf = malloc(payload_bytes(199));
    CHECK_OK(commit_one(l, on_disk + 1, buf));
    free(buf);
    CHECK_OK(ledger_close(l, "finished"));
    CHECK(verify(run, "clean session") == on_disk + 1);
    char tmp[700];
    ledger_ckpt_path(run, tmp, 600);
    strcat(tmp, ".partial");
    CHECK_MSG(access(tmp, F_OK) < 0 && errno == ENOENT, "%s left behind", tmp);
    return check_done("test_ckpt_kill");
}
