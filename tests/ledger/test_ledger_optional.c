// tests/ledger: a run file written before an optional field existed (trials.worker): made here
// by rewriting a new file's trials table without the field, as an older gpuhours wrote it. It
// opens read-only with every other field intact and worker 0, resumes, takes new trials (their
// worker not stored), and reads back again; a missing required field is still refused. The same
// for phase_costs.comm_s.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <hdf5.h>

#include "check.h"
#include "ledger_fixture.h"

// Rewrites table `tab` of path without the member `drop` (the other fields and rows as they were).
static int drop_field_in(const char *path, const char *tab, const char *drop) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 1;
    hid_t d = H5Dopen2(f, tab, H5P_DEFAULT), ft = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t n = 0, unlim = H5S_UNLIMITED, chunk = 64;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    // the same members packed, less `drop`
    int nm = H5Tget_nmembers(ft);
    size_t size = 0;
    for (int i = 0; i < nm; i++) {
        char *name = H5Tget_member_name(ft, (unsigned)i);
        hid_t mt = H5Tget_member_type(ft, (unsigned)i);
        if (strcmp(name, drop)) size += H5Tget_size(mt);
        H5Tclose(mt);
        H5free_memory(name);
    }
    hid_t rt = H5Tcreate(H5T_COMPOUND, size);
    size_t off = 0;
    for (int i = 0; i < nm; i++) {
        char *name = H5Tget_member_name(ft, (unsigned)i);
        hid_t mt = H5Tget_member_type(ft, (unsigned)i);
        if (strcmp(name, drop)) {
            H5Tinsert(rt, name, off, mt);
            off += H5Tget_size(mt);
        }
        H5Tclose(mt);
        H5free_memory(name);
    }
    char *rows = malloc(size * (n ? n : 1));
    int bad = H5Dread(d, rt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0;
    H5Dclose(d);
    H5Sclose(sp);
    bad |= H5Ldelete(f, tab, H5P_DEFAULT) < 0;
    hid_t nsp = H5Screate_simple(1, &n, &unlim), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    hid_t nd = H5Dcreate2(f, tab, rt, nsp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    bad |= nd < 0 || H5Dwrite(nd, rt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0;
    free(rows);
    H5Dclose(nd);
    H5Pclose(dcpl);
    H5Sclose(nsp);
    H5Tclose(rt);
    H5Tclose(ft);
    H5Fclose(f);
    return bad;
}

static int drop_field(const char *path, const char *drop) {
    return drop_field_in(path, "trials", drop);
}

static int has_field_in(const char *path, const char *tab, const char *field) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, tab, H5P_DEFAULT), ft = H5Dget_type(d);
    int have = H5Tget_member_index(ft, field) >= 0;
    H5Tclose(ft);
    H5Dclose(d);
    H5Fclose(f);
    return have;
}

static int has_field(const char *path, const char *field) {
    return has_field_in(path, "trials", field);
}

// phase_costs.comm_s and epochs.comm_s (added with data parallelism): a file without them reads
// 0 and takes rows.
static void comm_s_optional(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/old_phases.h5", dir);
    ledger_run_info info = fixture_info("darts", "cifar10", 1);
    ledger *l = NULL;
    cost_totals c = {10, 5, 0, NAN, NAN, 1e6};
    CHECK_OK(ledger_create(&l, path, &info));
    if (!l) return;
    CHECK_OK(ledger_add_phase_cost_comm(l, "search", &c, 1.5));
    CHECK_OK(ledger_add_phase_cost(l, "final", &c));
    CHECK(ledger_phase_comm_s(l, "search") == 1.5 && ledger_phase_comm_s(l, NULL) == 1.5);
    ledger_epoch ep = {.phase = "search", .trial_id = 0, .epoch = 0, .train_loss = 1, .cost = c};
    CHECK_OK(ledger_append_epoch_comm(l, &ep, 0.75));
    CHECK(ledger_epoch_comm_s(l, 0) == 0.75);
    CHECK_OK(ledger_close(l, "finished"));
    CHECK(has_field_in(path, "phase_costs", "comm_s") && has_field_in(path, "epochs", "comm_s"));
    CHECK(drop_field_in(path, "phase_costs", "comm_s") == 0);
    CHECK(drop_field_in(path, "epochs", "comm_s") == 0);
    CHECK(!has_field_in(path, "phase_costs", "comm_s") && !has_field_in(path, "epochs", "comm_s"));
    cost_totals got;
    CHECK_OK(ledger_open_read(&l, path));
    if (l) {
        CHECK(ledger_phase_comm_s(l, NULL) == 0 && ledger_epoch_comm_s(l, 0) == 0);
        ledger_epoch back;
        CHECK_OK(ledger_read_epoch(l, 0, &back));
        CHECK(back.train_loss == 1 && back.cost.wall_s == 10);
        CHECK(ledger_phase_cost(l, "search", &got) == 1 && got.wall_s == 10 && got.cpu_s == 5);
        ledger_close(l, NULL);
    }
    CHECK_OK(ledger_resume(&l, path));
    if (l) {
        CHECK_OK(ledger_add_phase_cost_comm(l, "search", &c, 2.0));   // not stored: no field
        CHECK(ledger_phase_comm_s(l, "search") == 0);
        CHECK(ledger_phase_cost(l, "search", &got) == 2 && got.wall_s == 20);
        CHECK_OK(ledger_close(l, "finished"));
    }
    CHECK(!has_field_in(path, "phase_costs", "comm_s"));
}

int main(void) {
    char dir[64], path[256], why[256];
    fixture_tmpdir(dir, sizeof dir, "optional");
    snprintf(path, sizeof path, "%s/old.h5", dir);
    ledger_run_info info = fixture_info("cfo", "credit-g", 3);
    ledger *l = NULL;
    CHECK_OK(ledger_create(&l, path, &info));
    if (!l) return check_done("test_ledger_optional");
    char arch[4096];
    enum { NT = 9 };
    for (int i = 0; i < NT; i++) {
        ledger_trial t = fixture_trial(i, arch, sizeof arch);
        CHECK_OK(ledger_append_trial(l, &t));
    }
    CHECK_OK(ledger_close(l, "finished"));
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    CHECK(drop_field(path, "worker") == 0);
    CHECK(!has_field(path, "worker"));

    // read-only: every row, every other field as written, worker 0
    CHECK_OK(ledger_open_read(&l, path));
    if (l) {
        CHECK(ledger_num_trials(l) == NT);
        for (int i = 0; i < NT; i++) {
            ledger_trial t;
            CHECK_OK(ledger_read_trial(l, i, &t));
            CHECK_MSG(t.worker == 0, "trial %d: worker %d from a file without the field", i,
                      t.worker);
            t.worker = (int)(t.id % 3);   // the fixture's value, to compare the rest
            CHECK_MSG(fixture_check_trial(&t, why, sizeof why), "%s", why);
        }
        ledger_close(l, NULL);
    }
    // resumed: appends without the field, and the new row reads as a reader will see it
    CHECK_OK(ledger_resume(&l, path));
    if (l) {
        ledger_trial t = fixture_trial(NT, arch, sizeof arch);
        t.worker = 2;
        CHECK_OK(ledger_append_trial(l, &t));
        ledger_trial back;
        CHECK_OK(ledger_read_trial(l, NT, &back));
        CHECK(back.worker == 0 && back.id == NT);
        CHECK_OK(ledger_close(l, "finished"));
    }
    CHECK(!has_field(path, "worker"));
    CHECK_OK(ledger_open_read(&l, path));
    if (l) {
        CHECK(ledger_num_trials(l) == NT + 1);
        ledger_trial t;
        CHECK_OK(ledger_read_trial(l, NT, &t));
        t.worker = (int)(t.id % 3);
        CHECK_MSG(fixture_check_trial(&t, why, sizeof why), "%s", why);
        ledger_close(l, NULL);
    }
    comm_s_optional(dir);
    // a required field is still required
    CHECK(drop_field(path, "val_loss") == 0);
    int st = ledger_open_read(&l, path);
    CHECK_MSG(st == GH_EFORMAT && strstr(gh_error_get(), "val_loss"),
              "a file without val_loss: status %d (%s)", st, gh_error_get());
    if (!st) ledger_close(l, NULL);
    return check_done("test_ledger_optional");
}
