// tune (private): what the tuning loop (tune.c) and its trial executor (tune_workers.c) share:
// the folds, one trial's outcome and the call that runs it, and the messages between the
// coordinator and the worker processes. Nothing outside search/hpo includes this.
#pragma once
#include <stdint.h>

#include "../../cost/cost.h"
#include "hpo.h"

typedef struct {
    int k;
    gh_dataset train[16], val[16];
} tune_folds;

typedef struct {
    double loss;          // mean validation loss over the folds; INFINITY when failed
    int rows;             // training rows per fold
    int stopped_early;
    const char *status;   // "ok", "failed", "timeout", "nan", "skipped"
    char error[256];
} trial_outcome;

// The folds of o->plan, or of a split made from o (FLAML's rule for k unless o->folds): the
// same on every process given the same data and options.
int tune_folds_split(tune_folds *f, const gh_dataset *data, const tune_options *o);
void tune_folds_free(tune_folds *f);
// A fingerprint of the folds (sizes and every value), to check that workers built the same.
uint64_t tune_folds_signature(const tune_folds *f);
// tune.c's run_trial: one trial on the folds, fit within deadline (this process's clock).
int tune_run_trial(const tune_folds *f, const learner_def *def, const double *cfg,
                   double fidelity, uint64_t seed, gh_metric metric, double deadline,
                   trial_outcome *out);

// ---- messages between the coordinator and the workers (tune_workers.c) ---------------------
// Fixed-size structs sent as bytes: every process runs the same binary (the magic includes
// the struct sizes, so a mismatch is detected, not misread). A worker builds the folds itself
// from the same data and options, so a trial goes out as (learner, cfg, fidelity, seed,
// seconds left) and comes back as its outcome, seconds and cost. Seconds left, not a deadline:
// clocks differ across machines.
#define TUNE_MSG_MAGIC (0x67687477u ^ (uint32_t)(sizeof(double) * HPO_MAX_DIM))
enum { TUNE_MSG_RUN = 1, TUNE_MSG_QUIT, TUNE_MSG_HELLO, TUNE_MSG_RESULT };

typedef struct {
    uint32_t magic;
    int32_t kind;             // TUNE_MSG_RUN or TUNE_MSG_QUIT
    int64_t ticket;           // the coordinator's number of this dispatch, echoed back
    char learner[32];         // learner_def.name
    double cfg[HPO_MAX_DIM];
    double fidelity;
    uint64_t seed;
    int32_t metric;           // gh_metric
    int32_t pad_;
    double seconds_left;      // of the search's budget, when sent
} tune_request;

typedef struct {
    uint32_t magic;
    int32_t kind;             // TUNE_MSG_HELLO or TUNE_MSG_RESULT
    int32_t worker;           // 1..n: the rank, or the local worker's index
    int32_t st;               // a status that ends the run (run_trial's GH_ENOMEM, a setup
                              // failure); the error text says why
    int64_t ticket;           // the request's; -1 in a HELLO or for a worker that died idle
    double loss;
    int32_t rows, stopped_early;
    char status[16];
    char error[256];
    double seconds;           // the trial's wall seconds on the worker
    cost_totals cost;         // the trial's cost, from the worker's own meter
    uint64_t folds_signature; // HELLO: tune_folds_signature of the worker's folds
    int32_t pid, pad_;
    char host[64];
} tune_reply;

_Static_assert(sizeof(tune_request) < 4096 && sizeof(tune_reply) < 4096,
               "messages fit a pipe's atomic write");

// The coordinator's side. send: one request to worker w (1..n), which must be idle; it gets
// the next ticket (rq->ticket, unique over the workers' lifetime), and magic. wait: the
// next reply within timeout_s: GH_OK with *out, TUNE_WORKERS_TIMEOUT, or a status. A worker
// process that died gives a reply of its own making: status "failed", the reason in error,
// ticket the trial it was running (-1 when idle), and the worker is not alive any more.
#define TUNE_WORKERS_TIMEOUT (-1)
int tune_workers_alive(const tune_workers *w, int worker);
int tune_workers_send(tune_workers *w, int worker, tune_request *rq);
int tune_workers_wait(tune_workers *w, double timeout_s, tune_reply *out);
// The coordinator stops waiting for worker's trial: a local worker is killed, a rank is sent
// nothing more (its late reply is dropped). It is not alive any more.
void tune_workers_give_up(tune_workers *w, int worker);
