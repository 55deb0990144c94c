// tests/ledger: damaged run files (truncated at many lengths as by a full disk or a cut copy, a
// 4 KiB page zeroed as by a lost write) through every reader (open, summarize, trials, epochs,
// artifacts) and through resume: an error naming the file or a consistent read, never a crash,
// and no HDF5 object left open afterwards (an id left open made HDF5 print "infinite loop
// closing library" at exit and leaked under LeakSanitizer). Arbitrary byte edits are not
// tested: libhdf5 itself reads a corrupted global heap out of bounds (H5HG_read), which no
// caller can guard against.
#include <signal.h>
#include <sys/stat.h>
#include <sys/resource.h>

#include <hdf5.h>

#include "check.h"
#include "ledger_fixture.h"

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    if (b && fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

static void read_all(ledger *l) {
    ledger_summary s;
    ledger_summarize(l, &s);
    for (int64_t i = 0; i < ledger_num_trials(l); i++) {
        ledger_trial t;
        ledger_read_trial(l, i, &t);
    }
    for (int64_t i = 0; i < ledger_num_epochs(l); i++) {
        ledger_epoch e;
        ledger_read_epoch(l, i, &e);
    }
    for (int64_t i = 0; i < ledger_num_artifacts(l); i++) {
        const char *name = ledger_artifact_name(l, i), *text;
        int r, c;
        const float *m;
        if (name && ledger_get_text(l, name, &text)) ledger_get_matrix(l, name, &r, &c, &m);
    }
    (void)ledger_run_status(l);
}

// Disk full: writes past a file-size limit fail (EFBIG, as ENOSPC would); appends then report
// an error, close releases everything, and the trials flushed before stay readable.
static void disk_full(const char *dir) {
    char path[128];
    snprintf(path, sizeof path, "%s/full.h5", dir);
    signal(SIGXFSZ, SIG_IGN);
    ledger_run_info info = {.method = "darts-second", .dataset = "cifar10", .seed = 3,
                            .config_text = "order = 2\n", .workers = 1};
    ledger *l = NULL;
    int st = ledger_create(&l, path, &info);
    CHECK_OK(st);
    // room for some trials past what the new file holds
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)sb.st_size + 256 * 1024;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int64_t ok = 0;
    char arch[2048];
    for (int64_t i = 0; !st && i < 100000; i++) {
        ledger_trial t = fixture_trial(i, arch, sizeof arch);
        st = ledger_append_trial(l, &t);
        if (!st) ok++;
    }
    printf("disk full after %lld trials: %s\n", (long long)ok, gh_error_get());
    CHECK(st != GH_OK && ok > 0);
    CHECK(strstr(gh_error_get(), "full.h5") != NULL);
    ledger_trial t = fixture_trial(0, arch, sizeof arch);   // refused at once from now on
    CHECK(ledger_append_trial(l, &t) == GH_EIO && strstr(gh_error_get(), "earlier write failed"));
    CHECK(ledger_close(l, "failed") == GH_EIO);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK_MSG(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "%zd HDF5 objects left open "
              "after a write error", (ssize_t)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL));
    ledger *r = NULL;
    if (ok > 0 && ledger_open_read(&r, path) == GH_OK) {
        CHECK_MSG(ledger_num_trials(r) >= ok - 1, "%lld of %lld flushed trials readable",
                  (long long)ledger_num_trials(r), (long long)ok);
        read_all(r);
        ledger_close(r, NULL);
    } else if (ok > 0) {
        CHECK_MSG(0, "the run file is unreadable after a write error: %s", gh_error_get());
    }
    CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
}

int main(void) {
    char dir[] = "/tmp/gh_corrupt.XXXXXX", good[128], bad[128];
    if (!mkdtemp(dir)) return 1;
    snprintf(good, sizeof good, "%s/good.h5", dir);
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    ledger_run_info info = {.method = "darts-second", .dataset = "cifar10", .seed = 3,
                            .config_text = "order = 2\n", .workers = 1};
    ledger *l = NULL;
    CHECK_OK(ledger_create(&l, good, &info));
    char arch[2048];
    for (int64_t i = 0; i < 30 && l; i++) {
        ledger_trial t = fixture_trial(i, arch, sizeof arch);
        CHECK_OK(ledger_append_trial(l, &t));
        ledger_epoch e = {"search", i, (int)i, 1.0, 0.5, 1.1, 0.4, 0.025, t.cost};
        CHECK_OK(ledger_append_epoch(l, &e));
    }
    float m[6] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(ledger_put_matrix(l, "alphas", 2, 3, m));
    CHECK_OK(ledger_put_text(l, "genotype", "Genotype(normal=[])"));
    CHECK_OK(ledger_close(l, "finished"));
    size_t n = 0;
    unsigned char *orig = slurp(good, &n), *buf = malloc(n ? n : 1);
    CHECK(orig && n > 1024);
    if (!orig || !buf) return check_done("test_ledger_corrupt");
    gh_rng r;
    gh_rng_seed(&r, 11, 0);
    int opened = 0, refused = 0, leaks = 0;
    for (int v = 0; v < 240; v++) {
        size_t len = n;
        memcpy(buf, orig, n);
        if (v < 80) {
            len = n * (size_t)(v + 1) / 81;   // truncated
        } else {   // a 4 KiB page zeroed: a write the disk lost
            size_t at = (size_t)gh_rng_below(&r, (n + 4095) / 4096) * 4096;
            memset(buf + at, 0, at + 4096 <= n ? 4096 : n - at);
        }
        for (int resume = 0; resume < 2; resume++) {
            spit(bad, buf, len);
            ledger *x = NULL;
            int st = resume ? ledger_resume(&x, bad) : ledger_open_read(&x, bad);
            if (st == GH_OK) {
                opened++;
                read_all(x);
                ledger_close(x, resume ? "interrupted" : NULL);
            } else {
                refused++;
                CHECK_MSG(x == NULL, "variant %d: failed open returned a ledger", v);
                CHECK_MSG(strstr(gh_error_get(), "bad.h5") != NULL,
                          "variant %d: message does not name the file: %s", v, gh_error_get());
            }
            ssize_t left = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
            if (left != 0) {
                leaks++;
                CHECK_MSG(left == 0, "variant %d (%s, %s): %zd HDF5 objects left open: %s", v,
                          v < 80 ? "truncated" : "page zeroed", resume ? "resume" : "read",
                          (ssize_t)left, st ? gh_error_get() : "opened");
                // close them so the next variant is judged on its own
                hid_t ids[64];
                ssize_t k = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, 64, ids);
                for (ssize_t j = 0; j < k; j++) H5Oclose(ids[j]) < 0 ? H5Fclose(ids[j]) : 0;
            }
        }
    }
    printf("corrupted variants: %d opened, %d refused, %d left objects open\n", opened, refused,
           leaks);
    CHECK(refused > 0);
    free(orig);
    free(buf);
    disk_full(dir);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_ledger_corrupt");
}
