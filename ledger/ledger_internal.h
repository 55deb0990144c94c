// ledger (private): the row layouts of the tables, the ledger handle, and the helpers that the
// ledger's files share. Nothing outside ledger/ includes this.
#pragma once
#include <hdf5.h>
#include <stdint.h>

#include "ledger.h"

// ---- one foreign-API check: HDF5 calls return < 0 on failure --------------------------------
// Records the statement, file and line, and the innermost HDF5 message, then jumps to `fail`.
// HDF5 prints its error stack to stderr by default; the ledger reports through gh_error
// instead: every public entry point saves, silences and restores it.
typedef struct {
    H5E_auto2_t fn;
    void *data;
} quiet;
static inline quiet quiet_on(void) {
    quiet q;
    H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}
static inline void quiet_off(quiet q) { H5Eset_auto2(H5E_DEFAULT, q.fn, q.data); }

#define H5_CHECK(stmt)                                                      \
    do {                                                                    \
        if ((stmt) < 0) {                                                   \
            st = ledger_h5_fail(GH_EIO, #stmt, __FILE__, __LINE__, l_path); \
            goto fail;                                                      \
        }                                                                   \
    } while (0)
int ledger_h5_fail(int status, const char *stmt, const char *file, int line, const char *path);
// The innermost message of this thread's HDF5 error stack ("" if none), into buf.
void ledger_h5_message(char *buf, size_t len);

// Row layouts. Fixed-size strings only: an SWMR writer may not append variable-length data
// (its global-heap objects have no flush ordering with the rows that point at them).
enum {
    LEDGER_ARCH_CAP = 1024,   // trials.arch bytes, NUL included; longer text spills (below)
    LEDGER_LEARNER_CAP = 32,
    LEDGER_STATUS_CAP = 16,
    LEDGER_PHASE_CAP = 16,
    LEDGER_NAME_CAP = 128,
    LEDGER_TIME_CAP = 32,
    LEDGER_HOST_CAP = 64,
    LEDGER_CMDLINE_CAP = 1024,
};

typedef struct { // cost_totals, flattened with units in the names
    double wall_s, cpu_s, device_s, busy_gpu_s, energy_j, peak_mem_bytes;
} ledger_cost_row;

typedef struct {
    int64_t id;
    char arch[LEDGER_ARCH_CAP];
    char learner[LEDGER_LEARNER_CAP];
    double fidelity;
    double train_acc, val_acc, test_acc;
    double train_loss, val_loss, test_loss;
    double madds, params;
    ledger_cost_row cost;
    double run_time_s; // wall seconds since the run began (all sessions) when recorded
    char status[LEDGER_STATUS_CAP];
    int32_t worker;    // optional (added after schema 1's first files): 0 when absent
    uint8_t committed; // 1 in every written row; 0 (the fill value) marks a row in flight
} ledger_trial_row;

typedef struct {
    char phase[LEDGER_PHASE_CAP];
    int64_t trial_id;
    int32_t epoch;
    double train_loss, train_acc, val_loss, val_acc, lr;
    ledger_cost_row cost;
    double run_time_s;
    double comm_s;     // optional (added with data parallelism): 0 when absent
    uint8_t committed;
} ledger_epoch_row;

typedef struct {
    char phase[LEDGER_PHASE_CAP];
    ledger_cost_row cost;
    double run_time_s;
    double comm_s;     // optional (added with data parallelism): 0 when absent
    uint8_t committed;
} ledger_phase_row;

typedef struct {
    char name[LEDGER_NAME_CAP];
    char kind[8];   // "text" or "matrix"
    int32_t rows, cols;
    int64_t offset; // into artifact_text (bytes) or artifact_data (floats)
    int64_t length; // bytes or floats
    double run_time_s;
    uint8_t committed;
} ledger_artifact_row;

typedef struct {
    int32_t session;
    char start_time[LEDGER_TIME_CAP];
    char end_time[LEDGER_TIME_CAP];
    char status[LEDGER_STATUS_CAP];
    char host[LEDGER_HOST_CAP];
    int64_t pid;
    char command_line[LEDGER_CMDLINE_CAP];
    uint8_t committed;
} ledger_session_row;

typedef enum { TAB_TRIALS, TAB_EPOCHS, TAB_PHASES, TAB_ARTIFACTS, TAB_SESSIONS, TAB_TEXT,
               TAB_DATA, TAB_COUNT } ledger_table_id;

// One appendable 1-D dataset and its rows in memory. Rows are kept in blocks that never move,
// so that pointers handed out by ledger_read_* stay valid until ledger_close.
typedef struct {
    hid_t dset, ftype, mtype;   // mtype: the in-memory layout; ftype owned only when created
    size_t row_size;
    int64_t n;                  // committed rows
    char **blocks;
    int64_t nblocks;
    // optional fields the file's table lacks (an older file): left out of mtype, and 0 in
    // the rows in memory
    int n_absent;
    size_t absent_off[4], absent_len[4];
} ledger_table;

typedef struct {
    const char *name;           // dataset name
    size_t row_size;
    hsize_t chunk_rows;
    const char *units;          // the table's "units" attribute
    // Fields added to the table after files without them were written, space-separated: a
    // file that lacks them is read (they read as 0) and appended to (they are not stored).
    // Every other field is required.
    const char *optional;
} ledger_table_spec;
extern const ledger_table_spec ledger_table_specs[TAB_COUNT];

// Builds the HDF5 compound type (memory layout == file layout) of one table.
hid_t ledger_table_type(ledger_table_id t);
// Element `i` of a table's memory rows.
void *ledger_table_row(ledger_table *t, int64_t i);
// Copies one row into the memory blocks (row n).
int ledger_table_keep(ledger_table *t, const void *row);

struct ledger {
    char *path;
    hid_t file, vfd;            // vfd: the registered driver (writers), else -1
    int writer;
    int io_failed;   // a write failed: nothing more is written (the file keeps what it had)
    ledger_table tab[TAB_COUNT];
    int32_t session;            // this writer's row in sessions
    double wall0, run_time0;    // this session's start, and run time before it
    char *attrs_text;           // "name\0value\0..." of the run attributes (readers)
    size_t attrs_len;
    char **owned;               // strings handed out (resolved arch text, ...)
    int64_t nowned;
    char status_buf[32];
};

// Provenance of the run (ledger_provenance.c): fills a writer's run attributes.
int ledger_write_provenance(hid_t root, const char *path);
// Writes a scalar string attribute (variable-length UTF-8 when cap == 0, else fixed cap bytes).
int ledger_attr_put(hid_t loc, const char *name, const char *value, size_t cap,
                    const char *path);

// The file driver (ledger_vfd.c).
hid_t ledger_vfd_register(void);
int ledger_writer_alive(const char *path);
uint32_t ledger_lookup3(const void *key, size_t length, uint32_t initval);

// Copies s into a fixed-size field, always NUL-terminated; returns 1 when s was cut.
int ledger_strlcpy(char *dst, const char *s, size_t cap);
