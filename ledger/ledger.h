// ledger: one HDF5 file per run under results/: run attributes, and tables (trials, epochs,
// phase costs, artifacts) appended as work completes, flushed so that a kill -9 loses at
// most the record in flight; a run can resume from it. Schema: results/SCHEMA.md.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../cost/cost.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LEDGER_SCHEMA_VERSION 1

typedef struct ledger ledger;

// What produced the run; the ledger adds host, build commit (+dirty), device names and count,
// library versions and the start time itself.
typedef struct {
    const char *method;      // "darts-first", "darts-second", "random-ws", "cfo", "random", ...
    const char *dataset;     // "fashion-mnist", "cifar10", "credit-g", ...
    uint64_t seed;
    const char *config_text; // the full resolved config, as echoed at start
    int argc;
    char **argv;
    int gpus;                // GPUs held by the run
    int workers;             // processes that run its trials (attribute `workers`); 0 = 1
    double budget_s;         // the search's budget in wall seconds (attribute `budget_s`); 0:
                             // none (the method ran its epochs, children or trials)
    const char *precision;   // the convs' arithmetic (attribute `precision`): "fp32", "tf32",
                             // "bf16"; NULL: "fp32" (runs that train no network, tabular)
} ledger_run_info;

typedef struct {
    int64_t id;
    const char *arch;        // genotype text or config JSON
    const char *learner;     // tabular: "xgboost", "rf", "lrl1", ...; NAS: "" 
    double fidelity;         // epochs, or training samples
    double train_acc, val_acc, test_acc;     // NAN when not measured
    double train_loss, val_loss, test_loss;  // NAN when not measured
    double madds;            // multiply-adds per example, NAN if unknown
    double params;           // parameter count
    cost_totals cost;
    const char *status;      // "ok", "failed", "timeout", "nan"
    int worker;              // who ran it: an MPI rank or local worker index (1..); 0 the
                             // process itself (a serial loop; every trial of older files)
} ledger_trial;

typedef struct {
    const char *phase;       // "search", "selection", "final"
    int64_t trial_id;        // -1 when not tied to a trial
    int epoch;
    double train_loss, train_acc, val_loss, val_acc, lr;
    cost_totals cost;        // cumulative within the phase
} ledger_epoch;

// Creates path (its directory too); fails with GH_EIO if it exists.
int ledger_create(ledger **out, const char *path, const ledger_run_info *info);
// Opens an existing run to continue it (--resume): status back to "running".
// Fails with GH_EFORMAT naming the problem for a non-HDF5 file, another tool's file, or a
// newer schema version, and writes nothing then.
int ledger_resume(ledger **out, const char *path);
int ledger_open_read(ledger **out, const char *path);   // read-only, for ls/plot/report
int ledger_append_trial(ledger *l, const ledger_trial *t);
int ledger_append_epoch(ledger *l, const ledger_epoch *ep);
// The same with comm_s: seconds in data-parallel gradient all-reduce, cumulative within the
// phase's session, mean over the ranks (field comm_s of epochs; ledger_append_epoch: 0).
int ledger_append_epoch_comm(ledger *l, const ledger_epoch *ep, double comm_s);
int ledger_add_phase_cost(ledger *l, const char *phase, const cost_totals *c);
// The same with comm_s: seconds inside data-parallel gradient reduction in the phase (field
// comm_s of phase_costs; ledger_add_phase_cost records 0: one process reduces nothing).
int ledger_add_phase_cost_comm(ledger *l, const char *phase, const cost_totals *c,
                               double comm_s);
// Named artifacts: text (genotypes, configs, JSON) or a float matrix (alphas).
int ledger_put_text(ledger *l, const char *name, const char *text);
int ledger_put_matrix(ledger *l, const char *name, int rows, int cols, const float *data);
// status: "finished", "failed", "interrupted". Frees l.
int ledger_close(ledger *l, const char *status);

// Reading back (for resume, ls, plot, report).
int64_t ledger_num_trials(const ledger *l);
// Fills t for row i; the strings point into l and live until ledger_close.
int ledger_read_trial(ledger *l, int64_t i, ledger_trial *t);
const char *ledger_attr(const ledger *l, const char *name);  // run attribute text or NULL
// NCCL's version ("2.28.9"), asked of libnccl.so.2 loaded at run time; "unknown" when absent.
void ledger_nccl_version(char *out, size_t len);

// ---- reading back for ls, plot and report (added with the ledger implementation) ------------
// Per-epoch rows, in the order recorded. Strings point into l and live until ledger_close.
int64_t ledger_num_epochs(const ledger *l);
int ledger_read_epoch(ledger *l, int64_t i, ledger_epoch *ep);
// Wall seconds from the start of the run (summed over resumed sessions) to when trial i was
// recorded: the x axis of "best so far vs wall-clock" plots.
double ledger_trial_run_time(const ledger *l, int64_t i);
// Sum (cost_add) of the rows recorded for one phase ("search", "selection", "final"); NULL
// phase: every phase. Returns the number of rows summed (0: none recorded, *out all zero
// with NAN busy time and energy).
int ledger_phase_cost(const ledger *l, const char *phase, cost_totals *out);
// Sum of comm_s over the rows of one phase (NULL: every phase); 0 in files written before the
// field (read as absent: one process).
double ledger_phase_comm_s(const ledger *l, const char *phase);
// comm_s of epoch row i (0 in files written before the field; NAN: no such row).
double ledger_epoch_comm_s(const ledger *l, int64_t i);
// Artifacts: the latest one recorded under `name`. The text/data live until ledger_close.
// GH_EINVAL when there is none of that name and kind.
int ledger_get_text(ledger *l, const char *name, const char **text);
int ledger_get_matrix(ledger *l, const char *name, int *rows, int *cols, const float **data);
int64_t ledger_num_artifacts(const ledger *l);
const char *ledger_artifact_name(const ledger *l, int64_t i);
// The run's status for display: the status attribute, except "interrupted" for a run that
// says "running" while no process holds it open for writing (a killed run).
const char *ledger_run_status(ledger *l);
const char *ledger_path(const ledger *l);
// Records the command line of this writing session (sessions table); ledger_create records it
// from ledger_run_info, a resumed run should call this after ledger_resume.
int ledger_set_session_command(ledger *l, int argc, char **argv);

// What a run amounts to, for ls, plot and report.
typedef struct {
    int64_t trials;
    int64_t chosen;          // the result trial: the last tested "ok" trial, else best validation
                             // (best test accuracy when no trial has a validation accuracy);
                             // -1 when no trial has an accuracy
    double acc;              // mean test accuracy of the tested trials, else chosen's validation
    int acc_is_test;         // 1 when acc is a test accuracy
    double params, madds;    // of the chosen trial (NAN when unknown)
    int gpus;                // GPUs held (run attribute gpus_held)
    double gpu_hours;        // device hours over the whole run (0 on a CPU run)
    double wall_hours;
    double energy_j;         // NAN when never measured
    double search_gpu_hours, selection_gpu_hours, final_gpu_hours; // from phase costs
    double search_wall_hours, final_wall_hours;
    double budget_s;         // the search's budget given (attribute budget_s): 0 none, NAN when
                             // the file predates the attribute; what it used: search_wall_hours
} ledger_summary;
// Totals come from the phase costs when the run recorded any, else from the trials' costs
// (all of which count as search).
int ledger_summarize(ledger *l, ledger_summary *s);

// Expands command-line paths into run files: a directory gives its *.h5 files (not recursive),
// sorted by name; a file is taken as is. *files is a NULL-terminated array; free it with
// ledger_free_files. GH_EIO for a path that does not exist.
int ledger_find_files(int npaths, char **paths, char ***files, int *nfiles);
void ledger_free_files(char **files);

// Text of the arch field longer than this (bytes, NUL excluded) is kept whole as artifact
// "arch/<id>"; the trials table then holds "@artifact:arch/<id> " and its first bytes.
#define LEDGER_ARCH_INLINE_MAX 1023

// ---- checkpoints (ledger_checkpoint.c) ---------------------------------------------------------
// A run's checkpoint is one HDF5 file beside the run file, "<run file>" LEDGER_CKPT_SUFFIX
// (not ending in .h5, so ls/plot/report never take it for a run), holding named binary blobs
// (the engine state, a method's own state, the trainer's position) and what identifies the run,
// the method, the config text and the step. Each commit writes the whole file to
// "<checkpoint>.partial", fsyncs it, renames it over the previous checkpoint and fsyncs the
// directory: a kill at any instant leaves the old checkpoint or the new one. Layout:
// results/SCHEMA.md. Errors name the file and the blob or attribute.
#define LEDGER_CKPT_FORMAT_VERSION 1
#define LEDGER_CKPT_SUFFIX ".ckpt"
typedef struct ledger_ckpt_writer ledger_ckpt_writer;
typedef struct ledger_ckpt_reader ledger_ckpt_reader;

// The checkpoint path of a run file into out.
int ledger_ckpt_path(const char *run_path, char *out, size_t len);
// The run's identity as a checkpoint records it: "<start_time> host=<host> pid=<pid of the
// creating process> seed=<seed>", from what the run file records at creation.
int ledger_run_id(const ledger *l, char *out, size_t len);

// Writing: begin, put each blob, commit (publishes and frees w) or abort (frees w, keeps the
// previous checkpoint). run: the open run (writer or reader). A failed put abandons the
// checkpoint: commit then refuses and keeps the previous one. Blob names: 1..127 bytes of
// [A-Za-z0-9_.-] in '/'-separated components ("engine/data/weights", "darts/state").
int ledger_ckpt_begin(ledger_ckpt_writer **out, const ledger *run, const char *method,
                      const char *config_text, int64_t step);
int ledger_ckpt_put(ledger_ckpt_writer *w, const char *name, const void *data, size_t bytes);
int ledger_ckpt_commit(ledger_ckpt_writer *w);
void ledger_ckpt_abort(ledger_ckpt_writer *w);
// ledger_ckpt_put for a void *ctx store callback (gh_state_put in engine/engine.h).
int ledger_ckpt_put_cb(void *w, const char *name, const void *data, size_t bytes);

// Reading. open checks the file (HDF5, creator, format version, attributes, blob count) but
// not the blobs' contents; get reads one blob of exactly `bytes` bytes and checks its checksum
// (GH_EFORMAT naming the blob when it is missing, of another size or corrupt); verify checks
// every blob. Strings live until close.
int ledger_ckpt_open(ledger_ckpt_reader **out, const char *ckpt_path);
const char *ledger_ckpt_method(const ledger_ckpt_reader *r);
const char *ledger_ckpt_config_text(const ledger_ckpt_reader *r);
const char *ledger_ckpt_run_id(const ledger_ckpt_reader *r);
int64_t ledger_ckpt_step(const ledger_ckpt_reader *r);
int ledger_ckpt_has(ledger_ckpt_reader *r, const char *name);       // 1 when the blob exists
int ledger_ckpt_size(ledger_ckpt_reader *r, const char *name, size_t *bytes);
int ledger_ckpt_get(ledger_ckpt_reader *r, const char *name, void *data, size_t bytes);
// ledger_ckpt_get for a void *ctx store callback (gh_state_get in engine/engine.h).
int ledger_ckpt_get_cb(void *r, const char *name, void *data, size_t bytes);
int ledger_ckpt_verify(ledger_ckpt_reader *r);
void ledger_ckpt_close(ledger_ckpt_reader *r);

// What `--resume FILE` checks before anything is written: FILE is a gpuhours run this version
// reads (ledger_open_read), of `method`, that no live process is writing, with a checkpoint
// beside it that belongs to it (run id), is of the same method and format this version reads,
// and whose every blob is intact. Refusals: GH_EINVAL another method's run; GH_EIO no checkpoint
// yet, or a live writer; GH_EFORMAT not a run file, a truncated or damaged run or checkpoint, a
// checkpoint of another run. Opens both files read-only only, so a refused FILE is left
// byte-identical. On success *out (when out is not NULL) is the open checkpoint.
int ledger_resume_check(const char *run_path, const char *method, ledger_ckpt_reader **out);
// Continues run_path (ledger_resume) from checkpoint r, which ledger_resume_check accepted: the
// rows recorded after r was written (the checkpoint records the run's row counts, attribute
// run_rows) are removed first, since the resumed work records them again; the sessions table
// keeps every session. Refuses a checkpoint that records more rows than the run holds.
int ledger_resume_from(ledger **out, const char *run_path, const ledger_ckpt_reader *r);

#ifdef __cplusplus
}
#endif
