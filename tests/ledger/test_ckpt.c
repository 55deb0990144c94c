// tests/ledger: checkpoint files beside a run. Round trip of named blobs (nested names, empty and
// large blobs) and of an engine state through the store callbacks; a failed or aborted
// checkpoint keeps the previous one; then `--resume` checking: accepted for an interrupted run
// of the right method, refused for a file that is not HDF5, another tool's HDF5 file, a
// truncated run, another method's run, a run being written, a run without a checkpoint, a
// truncated, corrupt or foreign checkpoint, and a checkpoint of another method. After every
// refusal the run file and its checkpoint are byte-identical and nothing was created beside.
#include <dirent.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "check.h"
#include "engine/engine.h"
#include "ledger_fixture.h"

static char *slurp(const char *path, long *n) {
    *n = -1;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)*n + 1);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) *n = -1;
    fclose(f);
    return b;
}

static void spit(const char *path, const char *data, long n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void copy_file(const char *from, const char *to, long keep /* -1: all */) {
    long n;
    char *b = slurp(from, &n);
    if (!b) {
        perror(from);
        exit(1);
    }
    spit(to, b, keep >= 0 && keep < n ? keep : n);
    free(b);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static void payload(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(gh_hash64(seed, i) >> 56);
}

// A checkpoint of run l: step, a nested header blob, an empty blob and a payload of n bytes.
static int write_ckpt(ledger *l, const char *method, int64_t step, size_t n) {
    ledger_ckpt_writer *w = NULL;
    int st = ledger_ckpt_begin(&w, l, method, "[search]\nepochs = 3\n", step);
    if (st) return st;
    unsigned char *p = malloc(n ? n : 1);
    payload(p, n, (unsigned)step);
    int64_t hdr[2] = {step, (int64_t)n};
    st = ledger_ckpt_put(w, "method/header", hdr, sizeof hdr);
    if (!st) st = ledger_ckpt_put(w, "method/empty", NULL, 0);
    if (!st) st = ledger_ckpt_put(w, "payload", p, n);
    free(p);
    if (st) {
        ledger_ckpt_abort(w);
        return st;
    }
    return ledger_ckpt_commit(w);
}

// Reads back what write_ckpt(step, n) wrote.
static void check_ckpt(const char *ck, int64_t step, size_t n) {
    ledger_ckpt_reader *r = NULL;
    CHECK_OK(ledger_ckpt_open(&r, ck));
    if (!r) return;
    CHECK(ledger_ckpt_step(r) == step);
    CHECK(!strcmp(ledger_ckpt_method(r), "darts-first"));
    CHECK(!strcmp(ledger_ckpt_config_text(r), "[search]\nepochs = 3\n"));
    int64_t hdr[2] = {0};
    CHECK_OK(ledger_ckpt_get(r, "method/header", hdr, sizeof hdr));
    CHECK(hdr[0] == step && hdr[1] == (int64_t)n);
    size_t sz = 1;
    CHECK_OK(ledger_ckpt_size(r, "method/empty", &sz));
    CHECK(sz == 0);
    CHECK_OK(ledger_ckpt_get(r, "method/empty", NULL, 0));
    CHECK_OK(ledger_ckpt_size(r, "payload", &sz));
    CHECK(sz == n);
    unsigned char *got = malloc(n), *want = malloc(n);
    payload(want, n, (unsigned)step);
    CHECK_OK(ledger_ckpt_get(r, "payload", got, n));
    CHECK(!memcmp(got, want, n));
    CHECK(ledger_ckpt_has(r, "payload") && ledger_ckpt_has(r, "method/header"));
    CHECK(!ledger_ckpt_has(r, "method") && !ledger_ckpt_has(r, "nope/header"));
    // a wrong size and a missing name are refused, naming the blob and the file
    CHECK(ledger_ckpt_get(r, "payload", got, n - 1) == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "'payload' holds") && strstr(gh_error_get(), ck));
    CHECK(ledger_ckpt_get(r, "method/state", got, 4) == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "no blob 'method/state'") && strstr(gh_error_get(), ck));
    CHECK_OK(ledger_ckpt_verify(r));
    free(got);
    free(want);
    ledger_ckpt_close(r);
}

static void roundtrip(const char *dir) {
    printf("-- round trip\n");
    char run[512], ck[600], id[512];
    snprintf(run, sizeof run, "%s/run.h5", dir);
    ledger_run_info info = fixture_info("darts-first", "cifar10", 1);
    ledger *l = NULL;
    CHECK_OK(ledger_create(&l, run, &info));
    CHECK_OK(ledger_ckpt_path(run, ck, sizeof ck));
    CHECK_OK(ledger_run_id(l, id, sizeof id));
    printf("run id: %s\n", id);

    CHECK_OK(write_ckpt(l, "darts-first", 10, 100000));
    check_ckpt(ck, 10, 100000);
    CHECK_OK(write_ckpt(l, "darts-first", 20, 300001));   // replaces it whole
    check_ckpt(ck, 20, 300001);
    ledger_ckpt_reader *r = NULL;
    CHECK_OK(ledger_ckpt_open(&r, ck));
    CHECK(r && !strcmp(ledger_ckpt_run_id(r), id));
    ledger_ckpt_close(r);

    // bad names and a duplicate abandon the checkpoint; commit keeps the previous one
    const char *bad[] = {"", "/x", "x/", "a//b", "a/../b", "a b", "./x", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ledger_ckpt_writer *w = NULL;
        CHECK_OK(ledger_ckpt_begin(&w, l, "darts-first", "", 30));
        CHECK_MSG(ledger_ckpt_put(w, bad[i], "x", 1) == GH_EINVAL, "name '%s' accepted", bad[i]);
        CHECK(ledger_ckpt_put(w, "fine", "x", 1) == GH_EINVAL);   // abandoned
        CHECK(ledger_ckpt_commit(w) == GH_EINVAL);
        CHECK(strstr(gh_error_get(), "previous checkpoint is kept") != NULL);
    }
    ledger_ckpt_writer *w = NULL;
    CHECK_OK(ledger_ckpt_begin(&w, l, "darts-first", "", 30));
    CHECK_OK(ledger_ckpt_put(w, "a/b", "x", 1));
    CHECK(ledger_ckpt_put(w, "a/b", "y", 1) == GH_EINVAL);
    printf("duplicate: %s\n", gh_error_get());
    CHECK(ledger_ckpt_commit(w) == GH_EINVAL);
    CHECK_OK(ledger_ckpt_begin(&w, l, "darts-first", "", 40));
    CHECK_OK(ledger_ckpt_put(w, "a", "x", 1));
    ledger_ckpt_abort(w);
    check_ckpt(ck, 20, 300001);
    CHECK_MSG(count_entries(dir) == 2, "temporary files left in %s", dir);   // run + checkpoint
    CHECK_OK(ledger_close(l, "interrupted"));
}

// The engine state goes through the checkpoint callbacks as gh_state_put/get.
static int tiny_net(gh_engine **e, uint64_t seed) {
    gh_engine_config cfg = {.backend = GH_BACKEND_REF, .arena_bytes = 1 << 20, .seed = seed};
    int st = gh_engine_create(e, &cfg);
    if (st) return st;
    gh_param(*e, GH_GROUP_WEIGHTS, "w", 2, (int[]){3, 4}, GH_INIT_KAIMING_UNIFORM, 4);
    gh_param(*e, GH_GROUP_ARCH, "alpha", 1, (int[]){5}, GH_INIT_NORMAL_1E3, 0);
    return gh_params_alloc(*e);
}

static void engine_state(const char *dir) {
    printf("-- engine state through a checkpoint\n");
    char run[512], ck[600];
    snprintf(run, sizeof run, "%s/engine.h5", dir);
    ledger_run_info info = fixture_info("darts-first", "cifar10", 2);
    ledger *l = NULL;
    gh_engine *a = NULL, *b = NULL;
    CHECK_OK(ledger_create(&l, run, &info));
    CHECK_OK(tiny_net(&a, 1));
    CHECK_OK(tiny_net(&b, 2));
    CHECK_OK(gh_group_zero_grad(a, GH_GROUP_WEIGHTS));
    CHECK_OK(gh_sgd_step(a, GH_GROUP_WEIGHTS, 0.1f, 0.9f, 0.0f));
    ledger_ckpt_writer *w = NULL;
    CHECK_OK(ledger_ckpt_begin(&w, l, "darts-first", "", 1));
    CHECK_OK(gh_engine_state_save(a, ledger_ckpt_put_cb, w));
    CHECK_OK(ledger_ckpt_commit(w));
    CHECK_OK(ledger_close(l, "interrupted"));
    ledger_ckpt_reader *r = NULL;
    CHECK_OK(ledger_resume_check(run, "darts-first", &r));
    CHECK_OK(ledger_ckpt_path(run, ck, sizeof ck));
    if (r) {
        CHECK(ledger_ckpt_has(r, "engine/opt/weights") && !ledger_ckpt_has(r, "engine/opt/arch"));
        CHECK_OK(gh_engine_state_load(b, ledger_ckpt_get_cb, r));
        ledger_ckpt_close(r);
    }
    float wa[12], wb[12];
    CHECK_OK(gh_tensor_to_host(a, gh_param_at(a, 0), wa));
    CHECK_OK(gh_tensor_to_host(b, gh_param_at(b, 0), wb));
    CHECK(!memcmp(wa, wb, sizeof wa));
    CHECK(gh_engine_dropout_seed(a) == gh_engine_dropout_seed(b));
    gh_engine_destroy(a);
    gh_engine_destroy(b);
}

// ledger_resume_check must refuse with `status` and a message holding `needle`, and leave
// every file in dir as it was.
static void refused(const char *dir, const char *run, const char *method, int status,
                    const char *needle) {
    char ck[600];
    long n0, n1, c0, c1;
    ledger_ckpt_path(run, ck, sizeof ck);
    char *before = slurp(run, &n0), *cbefore = slurp(ck, &c0);
    int entries = count_entries(dir);
    ledger_ckpt_reader *r = (ledger_ckpt_reader *)&r;   // must come back NULL
    int st = ledger_resume_check(run, method, &r);
    printf("  %s\n", gh_error_get());
    CHECK_MSG(st == status && r == NULL, "%s: status %d (want %d)", run, st, status);
    CHECK_MSG(strstr(gh_error_get(), needle) != NULL, "message lacks '%s'", needle);
    char *after = slurp(run, &n1), *cafter = slurp(ck, &c1);
    CHECK_MSG(n0 == n1 && (!before || !memcmp(before, after, (size_t)n0)), "%s changed", run);
    CHECK_MSG(c0 == c1 && (!cbefore || !memcmp(cbefore, cafter, (size_t)c0)), "%s changed", ck);
    CHECK_MSG(count_entries(dir) == entries, "files were created in %s", dir);
    free(before);
    free(after);
    free(cbefore);
    free(cafter);
}

// Offset of the first occurrence of needle in the file's bytes, or -1.
static long find_bytes(const char *path, const unsigned char *needle, size_t n) {
    long len;
    char *b = slurp(path, &len);
    long at = -1;
    for (long i = 0; b && at < 0 && i + (long)n <= len; i++)
        if (!memcmp(b + i, needle, n)) at = i;
    free(b);
    return at;
}

static void resume_checks(const char *dir) {
    printf("-- --resume checks\n");
    char run[512], ck[600], p[600], pc[700];
    snprintf(run, sizeof run, "%s/a.h5", dir);
    ledger_ckpt_path(run, ck, sizeof ck);
    ledger_run_info info = fixture_info("darts-first", "cifar10", 11);
    ledger *l = NULL;
    CHECK_OK(ledger_create(&l, run, &info));
    refused(dir, run, "darts-first", GH_EIO, "another gpuhours process is writing");
    CHECK_OK(ledger_close(l, "interrupted"));
    refused(dir, run, "darts-first", GH_EIO, "no checkpoint yet");
    // a resumed session keeps the run id
    CHECK_OK(ledger_resume(&l, run));
    CHECK_OK(write_ckpt(l, "darts-first", 5, 5000));
    CHECK_OK(ledger_close(l, "interrupted"));

    ledger_ckpt_reader *r = NULL;
    CHECK_OK(ledger_resume_check(run, "darts-first", &r));
    CHECK(r && ledger_ckpt_step(r) == 5);
    ledger_ckpt_close(r);
    CHECK_OK(ledger_resume_check(run, "darts-first", NULL));

    refused(dir, run, "random-ws", GH_EINVAL, "a run of method 'darts-first'");

    // not HDF5; another tool's HDF5 file (with a checkpoint beside it that would pass)
    snprintf(p, sizeof p, "%s/text.h5", dir);
    spit(p, "not a run\n", 10);
    refused(dir, p, "darts-first", GH_EFORMAT, "not an HDF5 file");
    snprintf(p, sizeof p, "%s/other.h5", dir);
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    ledger_ckpt_path(p, pc, sizeof pc);
    copy_file(ck, pc, -1);
    refused(dir, p, "darts-first", GH_EFORMAT, "not a gpuhours ledger");

    // a truncated copy of the run, its checkpoint intact beside it
    long n;
    free(slurp(run, &n));
    snprintf(p, sizeof p, "%s/trunc.h5", dir);
    ledger_ckpt_path(p, pc, sizeof pc);
    copy_file(run, p, n / 2);
    copy_file(ck, pc, -1);
    refused(dir, p, "darts-first", GH_EFORMAT, "trunc.h5");

    // an intact copy of the run (same run id) with a truncated, then a corrupt checkpoint
    snprintf(p, sizeof p, "%s/copy.h5", dir);
    ledger_ckpt_path(p, pc, sizeof pc);
    copy_file(run, p, -1);
    copy_file(ck, pc, -1);
    CHECK_OK(ledger_resume_check(p, "darts-first", NULL));
    free(slurp(ck, &n));
    long cuts[] = {0, 100, n / 2, n - 1};
    for (int i = 0; i < 4; i++) {
        copy_file(ck, pc, cuts[i]);
        refused(dir, p, "darts-first", GH_EFORMAT, "copy.h5.ckpt");
    }
    unsigned char pat[64];
    payload(pat, sizeof pat, 5);
    long at = find_bytes(ck, pat, sizeof pat);
    CHECK(at > 0);
    if (at > 0) {
        char *b = slurp(ck, &n);
        b[at + 7] ^= 0x10;
        spit(pc, b, n);
        free(b);
        refused(dir, p, "darts-first", GH_EFORMAT, "blob 'payload' is corrupt");
    }

    // another run's checkpoint (another seed: another run id), and another method's
    snprintf(p, sizeof p, "%s/b.h5", dir);
    ledger_ckpt_path(p, pc, sizeof pc);
    info.seed = 12;
    CHECK_OK(ledger_create(&l, p, &info));
    CHECK_OK(write_ckpt(l, "random-ws", 1, 10));
    CHECK_OK(ledger_close(l, "interrupted"));
    refused(dir, p, "darts-first", GH_EFORMAT, "a checkpoint of method 'random-ws'");
    copy_file(ck, pc, -1);
    refused(dir, p, "darts-first", GH_EFORMAT, "belongs to another run");
}

int main(void) {
    char dir[64];
    fixture_tmpdir(dir, sizeof dir, "ckpt");
    roundtrip(dir);
    fixture_tmpdir(dir, sizeof dir, "ckpt_engine");
    engine_state(dir);
    fixture_tmpdir(dir, sizeof dir, "ckpt_resume");
    resume_checks(dir);
    return check_done("test_ckpt");
}
