// ledger: the tables of a run file as HDF5 compound types (the on-disk schema, results/SCHEMA.md),
// and the in-memory row blocks that back ledger_read_*.
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "ledger_internal.h"

#define COST_UNITS "wall_s=s;cpu_s=s;device_s=GPU-s (wall x GPUs held);busy_gpu_s=s;" \
                   "energy_j=J (NaN: not measured);peak_mem_bytes=bytes;run_time_s=s"

const ledger_table_spec ledger_table_specs[TAB_COUNT] = {
    [TAB_TRIALS] = {"trials", sizeof(ledger_trial_row), 64,
                    "fidelity=epochs or training samples;madds=multiply-adds per example;"
                    "params=count;acc=fraction in [0,1];" COST_UNITS, "worker"},
    [TAB_EPOCHS] = {"epochs", sizeof(ledger_epoch_row), 256,
                    "acc=fraction in [0,1];lr=learning rate;cost=cumulative within phase;"
                    COST_UNITS ";comm_s=s (in gradient all-reduce, cumulative)", "comm_s"},
    [TAB_PHASES] = {"phase_costs", sizeof(ledger_phase_row), 16,
                    COST_UNITS ";comm_s=s (in gradient all-reduce)", "comm_s"},
    [TAB_ARTIFACTS] = {"artifacts", sizeof(ledger_artifact_row), 64,
                       "offset,length=bytes into artifact_text (text) or floats into "
                       "artifact_data (matrix, row-major);run_time_s=s"},
    [TAB_SESSIONS] = {"sessions", sizeof(ledger_session_row), 8, "times=ISO 8601 UTC"},
    [TAB_TEXT] = {"artifact_text", 1, 16384, "bytes (UTF-8)"},
    [TAB_DATA] = {"artifact_data", sizeof(float), 4096, "float32"},
};

static hid_t str_type(size_t cap) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    H5Tset_size(t, cap);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

#define D(T, f) H5Tinsert(t, #f, HOFFSET(T, f), H5T_NATIVE_DOUBLE)
#define S(T, f, cap)                                 \
    do {                                             \
        hid_t s_ = str_type(cap);                    \
        H5Tinsert(t, #f, HOFFSET(T, f), s_);         \
        H5Tclose(s_);                                \
    } while (0)
#define COST(T)                                                                     \
    do {                                                                            \
        H5Tinsert(t, "wall_s", HOFFSET(T, cost.wall_s), H5T_NATIVE_DOUBLE);         \
        H5Tinsert(t, "cpu_s", HOFFSET(T, cost.cpu_s), H5T_NATIVE_DOUBLE);           \
        H5Tinsert(t, "device_s", HOFFSET(T, cost.device_s), H5T_NATIVE_DOUBLE);     \
        H5Tinsert(t, "busy_gpu_s", HOFFSET(T, cost.busy_gpu_s), H5T_NATIVE_DOUBLE); \
        H5Tinsert(t, "energy_j", HOFFSET(T, cost.energy_j), H5T_NATIVE_DOUBLE);     \
        H5Tinsert(t, "peak_mem_bytes", HOFFSET(T, cost.peak_mem_bytes),             \
                  H5T_NATIVE_DOUBLE);                                               \
    } while (0)

hid_t ledger_table_type(ledger_table_id id) {
    hid_t t = -1;
    switch (id) {
    case TAB_TRIALS:
        t = H5Tcreate(H5T_COMPOUND, sizeof(ledger_trial_row));
        H5Tinsert(t, "id", HOFFSET(ledger_trial_row, id), H5T_NATIVE_INT64);
        S(ledger_trial_row, arch, LEDGER_ARCH_CAP);
        S(ledger_trial_row, learner, LEDGER_LEARNER_CAP);
        D(ledger_trial_row, fidelity);
        D(ledger_trial_row, train_acc);
        D(ledger_trial_row, val_acc);
        D(ledger_trial_row, test_acc);
        D(ledger_trial_row, train_loss);
        D(ledger_trial_row, val_loss);
        D(ledger_trial_row, test_loss);
        D(ledger_trial_row, madds);
        D(ledger_trial_row, params);
        COST(ledger_trial_row);
        D(ledger_trial_row, run_time_s);
        S(ledger_trial_row, status, LEDGER_STATUS_CAP);
        H5Tinsert(t, "worker", HOFFSET(ledger_trial_row, worker), H5T_NATIVE_INT32);
        H5Tinsert(t, "committed", HOFFSET(ledger_trial_row, committed), H5T_NATIVE_UINT8);
        break;
    case TAB_EPOCHS:
        t = H5Tcreate(H5T_COMPOUND, sizeof(ledger_epoch_row));
        S(ledger_epoch_row, phase, LEDGER_PHASE_CAP);
        H5Tinsert(t, "trial_id", HOFFSET(ledger_epoch_row, trial_id), H5T_NATIVE_INT64);
        H5Tinsert(t, "epoch", HOFFSET(ledger_epoch_row, epoch), H5T_NATIVE_INT32);
        D(ledger_epoch_row, train_loss);
        D(ledger_epoch_row, train_acc);
        D(ledger_epoch_row, val_loss);
        D(ledger_epoch_row, val_acc);
        D(ledger_epoch_row, lr);
        COST(ledger_epoch_row);
        D(ledger_epoch_row, run_time_s);
        D(ledger_epoch_row, comm_s);
        H5Tinsert(t, "committed", HOFFSET(ledger_epoch_row, committed), H5T_NATIVE_UINT8);
        break;
    case TAB_PHASES:
        t = H5Tcreate(H5T_COMPOUND, sizeof(ledger_phase_row));
        S(ledger_phase_row, phase, LEDGER_PHASE_CAP);
        COST(ledger_phase_row);
        D(ledger_phase_row, run_time_s);
        D(ledger_phase_row, comm_s);
        H5Tinsert(t, "committed", HOFFSET(ledger_phase_row, committed), H5T_NATIVE_UINT8);
        break;
    case TAB_ARTIFACTS:
        t = H5Tcreate(H5T_COMPOUND, sizeof(ledger_artifact_row));
        S(ledger_artifact_row, name, LEDGER_NAME_CAP);
        S(ledger_artifact_row, kind, 8);
        H5Tinsert(t, "rows", HOFFSET(ledger_artifact_row, rows), H5T_NATIVE_INT32);
        H5Tinsert(t, "cols", HOFFSET(ledger_artifact_row, cols), H5T_NATIVE_INT32);
        H5Tinsert(t, "offset", HOFFSET(ledger_artifact_row, offset), H5T_NATIVE_INT64);
        H5Tinsert(t, "length", HOFFSET(ledger_artifact_row, length), H5T_NATIVE_INT64);
        D(ledger_artifact_row, run_time_s);
        H5Tinsert(t, "committed", HOFFSET(ledger_artifact_row, committed), H5T_NATIVE_UINT8);
        break;
    case TAB_SESSIONS:
        t = H5Tcreate(H5T_COMPOUND, sizeof(ledger_session_row));
        H5Tinsert(t, "session", HOFFSET(ledger_session_row, session), H5T_NATIVE_INT32);
        S(ledger_session_row, start_time, LEDGER_TIME_CAP);
        S(ledger_session_row, end_time, LEDGER_TIME_CAP);
        S(ledger_session_row, status, LEDGER_STATUS_CAP);
        S(ledger_session_row, host, LEDGER_HOST_CAP);
        H5Tinsert(t, "pid", HOFFSET(ledger_session_row, pid), H5T_NATIVE_INT64);
        S(ledger_session_row, command_line, LEDGER_CMDLINE_CAP);
        H5Tinsert(t, "committed", HOFFSET(ledger_session_row, committed), H5T_NATIVE_UINT8);
        break;
    case TAB_TEXT: t = H5Tcopy(H5T_NATIVE_UINT8); break;
    case TAB_DATA: t = H5Tcopy(H5T_NATIVE_FLOAT); break;
    default: break;
    }
    return t;
}

enum { BLOCK_ROWS = 256 };

void *ledger_table_row(ledger_table *t, int64_t i) {
    return t->blocks[i / BLOCK_ROWS] + (size_t)(i % BLOCK_ROWS) * t->row_size;
}

int ledger_table_keep(ledger_table *t, const void *row) {
    int64_t b = t->n / BLOCK_ROWS;
    if (b >= t->nblocks) {
        char **nb = realloc(t->blocks, (size_t)(b + 1) * sizeof *nb);
        if (!nb) return gh_fail(GH_ENOMEM, "ledger: no memory for table rows");
        t->blocks = nb;
        t->blocks[b] = malloc((size_t)BLOCK_ROWS * t->row_size);
        if (!t->blocks[b]) return gh_fail(GH_ENOMEM, "ledger: no memory for table rows");
        t->nblocks = b + 1;
    }
    memcpy(ledger_table_row(t, t->n), row, t->row_size);
    t->n++;
    return GH_OK;
}

int ledger_strlcpy(char *dst, const char *s, size_t cap) {
    if (!s) s = "";
    size_t n = strlen(s);
    int cut = n >= cap;
    if (cut) n = cap - 1;
    memcpy(dst, s, n);
    memset(dst + n, 0, cap - n); // deterministic bytes on disk
    return cut;
}
