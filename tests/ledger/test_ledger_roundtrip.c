// tests/ledger: every field written through the ledger API reads back identically: run
// attributes, trials (NAN kept as NAN, long arch text spilled and resolved), epochs, phase
// costs, text and matrix artifacts, sessions; plus the create/read-only misuse errors.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "check.h"
#include "ledger_fixture.h"

static int iso_utc(const char *s) {
    int y, mo, d, h, mi, se;
    return s && strlen(s) == 20 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &mo, &d, &h, &mi,
                                          &se) == 6 && y >= 2020 && mo >= 1 && mo <= 12;
}

int main(void) {
    char dir[64], path[256];
    fixture_tmpdir(dir, sizeof dir, "roundtrip");
    snprintf(path, sizeof path, "%s/sub/run.h5", dir); // the directory is created too

    ledger_run_info info = fixture_info("darts-second", "fashion-mnist", 12345678901234ull);
    info.gpus = 2;
    ledger *l = NULL;
    CHECK_OK(ledger_create(&l, path, &info));
    if (!l) return check_done("test_ledger_roundtrip");
    CHECK(!strcmp(ledger_run_status(l), "running"));

    enum { NT = 40, NE = 25 };
    char arch[4096];
    for (int64_t i = 0; i < NT; i++) {
        ledger_trial t = fixture_trial(i, arch, sizeof arch);
        CHECK_OK(ledger_append_trial(l, &t));
    }
    for (int i = 0; i < NE; i++) {
        ledger_epoch e = {i < 20 ? "search" : "final", i < 20 ? -1 : 7, i, 2.0 - 0.05 * i,
                          0.1 + 0.03 * i, 2.1 - 0.05 * i, i == 3 ? NAN : 0.09 + 0.03 * i,
                          0.025 * (1 + i),
                          {1.0 * i, 2.0 * i, 2.0 * i, NAN, i % 2 ? NAN : 10.0 * i, 5e8}};
        CHECK_OK(ledger_append_epoch(l, &e));
    }
    cost_totals s1 = {100, 150, 200, 90, NAN, 1e9}, s2 = {50, 60, 100, 40, 1234.5, 2e9},
                f1 = {300, 310, 600, NAN, NAN, 3e9};
    CHECK_OK(ledger_add_phase_cost(l, "search", &s1));
    CHECK_OK(ledger_add_phase_cost(l, "search", &s2));
    CHECK_OK(ledger_add_phase_cost(l, "final", &f1));
    float alpha[14 * 8];
    for (int i = 0; i < 14 * 8; i++) alpha[i] = (float)i * 0.125f - 3.0f;
    CHECK_OK(ledger_put_matrix(l, "alpha_normal", 14, 8, alpha));
    CHECK_OK(ledger_put_text(l, "best_genotype", "old"));
    CHECK_OK(ledger_put_text(l, "best_genotype", "Genotype(normal=[('sep_conv_3x3', 0)]) ü"));
    CHECK_OK(ledger_put_text(l, "empty", ""));

    // misuse: an existing path is never overwritten
    ledger *dup = NULL;
    CHECK(ledger_create(&dup, path, &info) == GH_EIO && dup == NULL);
    CHECK_OK(ledger_close(l, "finished"));

    // ---- read back
    CHECK_OK(ledger_open_read(&l, path));
    if (!l) return check_done("test_ledger_roundtrip");
    CHECK(!strcmp(ledger_attr(l, "creator"), "gpuhours"));
    CHECK(atoi(ledger_attr(l, "schema_version")) == LEDGER_SCHEMA_VERSION);
    CHECK(!strcmp(ledger_attr(l, "method"), "darts-second"));
    CHECK(!strcmp(ledger_attr(l, "dataset"), "fashion-mnist"));
    CHECK(!strcmp(ledger_attr(l, "seed"), "12345678901234"));
    CHECK(!strcmp(ledger_attr(l, "config_text"), info.config_text));
    CHECK_MSG(!strcmp(ledger_attr(l, "command_line"),
                      "gpuhours search --method darts --note 'it'\\''s quoted'"),
              "command_line = %s", ledger_attr(l, "command_line"));
    CHECK(!strcmp(ledger_attr(l, "gpus_held"), "2"));
    const char *commit = ledger_attr(l, "build_commit"), *dirty = ledger_attr(l, "build_dirty");
    CHECK(commit && (strlen(commit) == 40 || !strcmp(commit, "unknown")));
    CHECK(dirty && (!strcmp(dirty, "true") || !strcmp(dirty, "false") ||
                    !strcmp(dirty, "unknown")));
    CHECK(ledger_attr(l, "host") && ledger_attr(l, "host")[0]);
    CHECK(ledger_attr(l, "device_count") && ledger_attr(l, "device_names"));
    CHECK(ledger_attr(l, "cuda_driver_version") && ledger_attr(l, "cuda_runtime_version"));
    CHECK(ledger_attr(l, "cudnn_version") && ledger_attr(l, "nccl_version"));
    unsigned maj, min, rel;
    char hv[32];
    H5get_libversion(&maj, &min, &rel);
    snprintf(hv, sizeof hv, "%u.%u.%u", maj, min, rel);
    CHECK(!strcmp(ledger_attr(l, "hdf5_version"), hv));
    CHECK(iso_utc(ledger_attr(l, "start_time")));
    CHECK(iso_utc(ledger_attr(l, "end_time")));
    CHECK(!strcmp(ledger_attr(l, "status"), "finished"));
    CHECK(!strcmp(ledger_run_status(l), "finished"));
    CHECK(ledger_attr(l, "no_such_attribute") == NULL);
    printf("provenance: commit %s dirty %s host %s devices %s (%s) cuda %s/%s cudnn %s nccl %s "
           "hdf5 %s\n", commit, dirty, ledger_attr(l, "host"), ledger_attr(l, "device_count"),
           ledger_attr(l, "device_names"), ledger_attr(l, "cuda_driver_version"),
           ledger_attr(l, "cuda_runtime_version"), ledger_attr(l, "cudnn_version"),
           ledger_attr(l, "nccl_version"), hv);

    CHECK(ledger_num_trials(l) == NT);
    double prev_rt = -1;
    int spilled = 0;
    for (int64_t i = 0; i < ledger_num_trials(l); i++) {
        ledger_trial t;
        CHECK_OK(ledger_read_trial(l, i, &t));
        char why[256];
        CHECK_MSG(t.id == i && fixture_check_trial(&t, why, sizeof why), "%s", why);
        double rt = ledger_trial_run_time(l, i);
        CHECK(rt >= prev_rt && rt >= 0);
        prev_rt = rt;
        spilled += strlen(t.arch) > LEDGER_ARCH_INLINE_MAX;
    }
    CHECK(spilled >= 5);
    ledger_trial t;
    CHECK(ledger_read_trial(l, NT, &t) == GH_EINVAL);

    CHECK(ledger_num_epochs(l) == NE);
    for (int i = 0; i < NE && i < ledger_num_epochs(l); i++) {
        ledger_epoch e;
        CHECK_OK(ledger_read_epoch(l, i, &e));
        CHECK(!strcmp(e.phase, i < 20 ? "search" : "final"));
        CHECK(e.trial_id == (i < 20 ? -1 : 7) && e.epoch == i);
        CHECK(e.train_loss == 2.0 - 0.05 * i && e.train_acc == 0.1 + 0.03 * i);
        CHECK(e.val_loss == 2.1 - 0.05 * i);
        CHECK(i == 3 ? isnan(e.val_acc) : e.val_acc == 0.09 + 0.03 * i);
        CHECK(e.lr == 0.025 * (1 + i));
        CHECK(e.cost.wall_s == 1.0 * i && e.cost.cpu_s == 2.0 * i && e.cost.device_s == 2.0 * i);
        CHECK(isnan(e.cost.busy_gpu_s) && e.cost.peak_mem_bytes == 5e8);
        CHECK(i % 2 ? isnan(e.cost.energy_j) : e.cost.energy_j == 10.0 * i);
    }

    cost_totals c;
    CHECK(ledger_phase_cost(l, "search", &c) == 2);
    CHECK(c.wall_s == 150 && c.cpu_s == 210 && c.device_s == 300 && c.busy_gpu_s == 130);
    CHECK(c.energy_j == 1234.5);          // NAN + x = x: the measured part
    CHECK(c.peak_mem_bytes == 2e9);       // a maximum, not a sum
    CHECK(ledger_phase_cost(l, "final", &c) == 1);
    CHECK(c.wall_s == 300 && isnan(c.energy_j) && isnan(c.busy_gpu_s));
    CHECK(ledger_phase_cost(l, "selection", &c) == 0 && c.wall_s == 0 && isnan(c.energy_j));
    CHECK(ledger_phase_cost(l, NULL, &c) == 3 && c.wall_s == 450);

    int rows = 0, cols = 0;
    const float *m = NULL;
    CHECK_OK(ledger_get_matrix(l, "alpha_normal", &rows, &cols, &m));
    CHECK(rows == 14 && cols == 8 && m && !memcmp(m, alpha, sizeof alpha));
    const char *txt = NULL;
    CHECK_OK(ledger_get_text(l, "best_genotype", &txt));
    CHECK(txt && !strcmp(txt, "Genotype(normal=[('sep_conv_3x3', 0)]) ü"));
    CHECK_OK(ledger_get_text(l, "empty", &txt));
    CHECK(txt && !strcmp(txt, ""));
    CHECK(ledger_get_text(l, "alpha_normal", &txt) == GH_EINVAL); // a matrix, not a text
    CHECK(ledger_get_text(l, "nothing", &txt) == GH_EINVAL);
    CHECK(ledger_num_artifacts(l) >= 5);

    // read-only handles refuse writes
    ledger_trial w = fixture_trial(99, arch, sizeof arch);
    CHECK(ledger_append_trial(l, &w) == GH_EINVAL);
    CHECK_OK(ledger_close(l, NULL));

    // h5dump (when installed) opens and reads the whole file
    if (system("command -v h5dump >/dev/null 2>&1") == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "h5dump '%s' >/dev/null 2>&1", path);
        CHECK_MSG(system(cmd) == 0, "h5dump could not read %s", path);
    }

    // resume appends to the same tables and keeps the run's attributes
    CHECK_OK(ledger_resume(&l, path));
    if (l) {
        char *argv[] = {"gpuhours", "search", "--resume", path};
        CHECK_OK(ledger_set_session_command(l, 4, argv));
        CHECK(ledger_num_trials(l) == NT);
        ledger_trial t2 = fixture_trial(NT, arch, sizeof arch);
        CHECK_OK(ledger_append_trial(l, &t2));
        CHECK_OK(ledger_close(l, "interrupted"));
        CHECK_OK(ledger_open_read(&l, path));
        CHECK(ledger_num_trials(l) == NT + 1);
        CHECK(!strcmp(ledger_attr(l, "status"), "interrupted"));
        CHECK(ledger_trial_run_time(l, NT) >= ledger_trial_run_time(l, NT - 1));
        CHECK_OK(ledger_close(l, NULL));
    }
    return check_done("test_ledger_roundtrip");
}
