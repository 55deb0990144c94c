// hpo: hyperparameter search on tabular data. Searchers (FLOW2/CFO, BlendSearch, random, grid,
// TPE, ASHA) are ask/tell over a normalised space, own a private seeded RNG and have an
// explicit stopping rule; ECI picks the learner (FLAML); tune.c is the loop over learners/.
//
// How to add a searcher: write search/hpo/NAME.c with a struct that starts with hpo_searcher,
// an hpo_vtable (ask, tell, optional seen, destroy; every failure inside them, an allocation
// too, is returned as a gh_status, never dropped) and `int hpo_NAME_create(hpo_searcher **)`;
// add one line HPO_SEARCHER(NAME, fidelity use, help) to hpo_searchers.def. That is all: the
// registry, `gpuhours tune --searcher NAME`, its --help, `--searcher all`, bench_tune's default
// and the test library (tests/hpo globs search/hpo) follow the table. Tests: test_hpo_searchers
// and test_hpo_tune run every row (ask/tell contract, also with HPO_MAX_PENDING / 2 asks in
// flight told out of order, as the parallel loop does: a searcher keeps what it needs per ask
// by trial id; tune_run end to end); add a case with
// its hash to test_hpo_golden (record it with --print) and a test of what is particular to the
// method (as asha_promotes, grid_enumerates). tune's JSON (configs in the ledger, tune/best)
// is written and read in tune_json.c only; a change to it is tested in test_hpo_json.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../base/base.h"
#include "../../learners/learners.h"
#include "../../ledger/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

// HPO searchers are generic over a list of hp_domain (learners.h): they see a normalised
// [0,1]^d space and a loss to minimise, so they are tested on plain functions. A trial may
// carry a fidelity (fraction of the full resource: training rows, rounds) for the searchers
// that use low fidelity (FLOW2's growing sample size, ASHA's rungs).

#define HPO_MAX_DIM 32

// ---- the normalised space (hpo_space.c) ---------------------------------------------------
// float/int: (v-lo)/(hi-lo), or log(v/lo)/log(hi/lo) when log; ints rounded on the way back;
// categorical index i <-> (i+0.5)/n. hi is inclusive for ints. A domain with lo == hi is a
// constant (u = 0).
typedef struct {
    int d;
    hp_domain hps[HPO_MAX_DIM];   // copies; names and choices are borrowed
} hpo_space;

// GH_EINVAL naming the hp for lo > hi, log with lo <= 0, a categorical without choices, d too big.
int hpo_space_init(hpo_space *s, const hp_domain *hps, int d);
double hpo_to_unit(const hp_domain *h, double v);
double hpo_from_unit(const hp_domain *h, double u);   // clamps to [0,1], rounds ints, cat index
void hpo_space_to_unit(const hpo_space *s, const double *cfg, double *u);
void hpo_space_from_unit(const hpo_space *s, const double *u, double *cfg);
void hpo_space_init_cfg(const hpo_space *s, double *cfg);      // FLAML's init_value point
void hpo_space_low_cost_cfg(const hpo_space *s, double *cfg);  // low_cost_init_value point
void hpo_space_random_cfg(const hpo_space *s, gh_rng *r, double *cfg);
// The dedupe key: ints and categories exact, floats to 7 significant digits, plus fidelity.
uint64_t hpo_signature(const hpo_space *s, const double *cfg, double fidelity);
// "name=value, ..." with category names; returns the length written (snprintf rules).
int hpo_cfg_format(const hpo_space *s, const double *cfg, char *buf, size_t n);
// A results cache keyed by signature: drops duplicate proposals (FLAML's config_signature).
typedef struct {
    size_t cap, n;
    uint64_t *key;            // 0 = empty slot
    double *loss, *cost;      // NAN loss: proposed, no result yet
} hpo_cache;
int hpo_cache_init(hpo_cache *c);
void hpo_cache_free(hpo_cache *c);
// 0: unknown; 1: asked, no result yet; 2: has a result (*loss, *cost filled).
int hpo_cache_get(const hpo_cache *c, uint64_t key, double *loss, double *cost);
int hpo_cache_put(hpo_cache *c, uint64_t key, double loss, double cost);

// ---- the ask/tell interface (hpo_searcher.c) ------------------------------------------------
#define HPO_STOP (-1)    // hpo_ask: the stopping rule fired; nothing was proposed
// Asks of one searcher that may be awaiting their tell at once (the parallel tuning loop
// waits rather than ask more): the size of the searchers' pending-trial tables.
#define HPO_MAX_PENDING 16
#define HPO_RETRY (-2)   // internal: a searcher has no proposal this round; ask it again

typedef struct {
    int64_t id;               // unique within a searcher, assigned by hpo_ask
    double cfg[HPO_MAX_DIM];  // one value per hp (learner_fit's layout)
    double fidelity;          // (0, 1]: fraction of the full resource
} hpo_trial;

typedef struct {
    uint64_t seed;
    double min_fidelity;      // (0, 1]; 1 (or 0 = default): always the full resource
    double fidelity_factor;   // FLOW2's resource multiplier (FLAML: 4); ASHA's eta (3)
    double cost_budget;       // the cost (s) the caller will spend; 0 = unknown
    int64_t max_trials;       // stopping rule; 0 = none
    int grid_points;          // grid: levels per numeric hp (0 = 5)
    int tpe_startup;          // TPE: random trials before the model (0 = 10)
} hpo_options;

typedef struct hpo_searcher hpo_searcher;

// ---- the registry (hpo_searchers.def, hpo_searcher.c): one row per searcher ---------------
// How a searcher uses the fidelity of a trial; the tuning loop picks min_fidelity and
// fidelity_factor from it.
typedef enum {
    HPO_FIDELITY_NONE,     // every trial at the full resource
    HPO_FIDELITY_SAMPLE,   // FLOW2's growing sample size: from min_fidelity, x fidelity_factor
    HPO_FIDELITY_RUNGS,    // successive-halving rungs min_fidelity * eta^k (eta: fidelity_factor)
} hpo_fidelity_use;

typedef struct {
    const char *name;
    int (*create)(hpo_searcher **out);   // allocates the searcher with vt set; hpo_create fills the base
    hpo_fidelity_use fidelity;
    const char *help;                    // one line for --help
} hpo_method;

#define HPO_SEARCHER(name, fidelity, help) int hpo_##name##_create(hpo_searcher **out);
#include "hpo_searchers.def"
#undef HPO_SEARCHER

// The table, in hpo_searchers.def order; *n rows.
const hpo_method *hpo_methods(int *n);
// The row named name; NULL when there is none.
const hpo_method *hpo_method_find(const char *name);
// The same as a status: GH_EINVAL with a message naming the known searchers.
int hpo_method_lookup(const char *name, const hpo_method **out);

typedef struct {
    const char *name;
    // GH_OK with t->cfg and t->fidelity filled (t->id set by the caller), HPO_STOP, HPO_RETRY,
    // or a gh_status.
    int (*ask)(hpo_searcher *s, hpo_trial *t);
    // loss NAN or INFINITY: the trial failed. cost: its seconds (or other cost units).
    // GH_OK, or the gh_status of a failure inside the searcher (an allocation): hpo_tell
    // returns it and the searcher is not used again but destroyed.
    int (*tell)(hpo_searcher *s, const hpo_trial *t, double loss, double cost);
    // The proposal t repeats one with a known result (FLAML passes the cached result on);
    // NULL: just ask again. Its status as tell's; a failure is returned by hpo_ask.
    int (*seen)(hpo_searcher *s, const hpo_trial *t, double loss, double cost);
    void (*destroy)(hpo_searcher *s);
} hpo_vtable;

// Every searcher starts with this base; its private RNG is seeded from opt.seed.
struct hpo_searcher {
    const hpo_vtable *vt;
    hpo_space space;
    hpo_options opt;
    gh_rng rng;
    hpo_cache cache;
    int64_t n_asked, n_told, next_id;
    double cost_used;
    hpo_trial best;
    double best_loss;         // INFINITY until a trial succeeds
};

// method: a name of the registry (hpo_methods); GH_EINVAL naming the known ones otherwise.
int hpo_create(hpo_searcher **out, const char *method, const hp_domain *hps, int d,
               const hpo_options *opt);
// The same from a registry row (or a row of the caller's own, as the tests' failing searcher).
int hpo_create_method(hpo_searcher **out, const hpo_method *m, const hp_domain *hps, int d,
                      const hpo_options *opt);
// Proposes a trial that was never proposed before (its signature is new): GH_OK, HPO_STOP
// (max_trials reached, space exhausted, or 1000 proposals in a row were duplicates), or the
// gh_status of a failure in the searcher (its ask, or its seen on a duplicate).
int hpo_ask(hpo_searcher *s, hpo_trial *t);
// Every ask is told once. The serial tuning loop tells each before the next ask (FLAML's
// n_concurrent_trials=1); the parallel one keeps up to HPO_MAX_PENDING asks of one searcher
// in flight and tells them in the order they finish (n_concurrent_trials > 1): every
// searcher matches a tell to its ask by t->id, and a proposal that repeats one still in
// flight is dropped and passed to seen as a failure (loss INFINITY). GH_OK, or the gh_status
// of a failure in the cache or the searcher's tell; after a failure the searcher is only
// destroyed.
int hpo_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost);
void hpo_destroy(hpo_searcher *s);
// A result from an earlier session (--resume): the config at that fidelity is never proposed
// again. Only the dedupe cache learns it: the searcher's own state, its best and its counts
// start afresh.
int hpo_remember(hpo_searcher *s, const double *cfg, double fidelity, double loss, double cost);
// The searcher's normalised space (the hps it was created with), for formatting its configs.
const hpo_space *hpo_searcher_space(const hpo_searcher *s);
// Called by hpo_create after the constructor: fills the base.
int hpo_base_init(hpo_searcher *s, const hp_domain *hps, int d, const hpo_options *opt);

// TPE's proposal from a set of observations (shared with BlendSearch's global thread).
typedef struct tpe_model tpe_model;
int tpe_model_create(tpe_model **out, const hpo_space *space, uint64_t seed, int n_startup);
void tpe_model_free(tpe_model *m);
int tpe_model_observe(tpe_model *m, const double *cfg, double loss);
int tpe_model_propose(tpe_model *m, double *cfg);   // GH_OK

// ---- FLOW2 (flow2.c): FLAML's randomized direct search, one local thread ----------------
// Wang, Wu, Huang, Amizadeh (AAAI 2021) "Frugal Optimization for Cost-related
// Hyperparameters"; follows flaml/tune/searcher/flow2.py step by step.
typedef struct flow2 flow2;
typedef struct {
    double min_resource, max_resource;   // fidelity range; both 1: no resource dimension
    double resource_factor;              // FLAML's SAMPLE_MULTIPLY_FACTOR (4)
    uint64_t seed;
} flow2_options;
// start: the init config; best_loss/cost: its known result (INFINITY/0 when unknown).
int flow2_create(flow2 **out, const hpo_space *space, const double *start, double start_fidelity,
                 double best_loss, double cost, const flow2_options *o);
void flow2_free(flow2 *f);
// 1: proposed (cfg, *fidelity filled); 0: none (stuck: step below its lower bound).
int flow2_suggest(flow2 *f, int64_t trial_id, double *cfg, double *fidelity);
void flow2_complete(flow2 *f, int64_t trial_id, double loss, double cost);
int flow2_can_suggest(const flow2 *f);
int flow2_converged(const flow2 *f);
int flow2_reach(const flow2 *f, const flow2 *other);  // other's incumbent within f's step
double flow2_step(const flow2 *f);
double flow2_resource(const flow2 *f);
double flow2_best_loss(const flow2 *f);
double flow2_cost_incumbent(const flow2 *f);
const double *flow2_incumbent(const flow2 *f);    // normalised [d]
const double *flow2_best_config(const flow2 *f);  // [d]
// Which hps are in FLAML's low_cost_partial_config (cost-related: restarts perturb them around
// the low-cost point; the others restart uniformly at random). hp_domain has no flag for it:
// an hp counts as cost-related when its low_cost_init differs from its init, or when it is an
// int whose low_cost_init is its lower bound (n_estimators=4, max_leaves=4, max_depth=1, ...),
// which is where FLAML's low-cost values are.
void hpo_space_cost_related(const hpo_space *s, int *mask);
// space.py complete_config for a restart of the local search: the low-cost point (disturb 0),
// or with Gaussian noise of std (ub - lb) (or STEPSIZE) within [lb - STEPSIZE, ub + STEPSIZE]
// on the cost-related hps (disturb 1); the other hps uniform. lb, ub: normalised, [d].
void flow2_restart_config(const hpo_space *s, const int *cost_related, const double *lb,
                          const double *ub, int disturb, gh_rng *rng, double *cfg);

// ---- learner selection by estimated cost for improvement (eci.c) ------------------------
// FLAML's AutoML._select_estimator and SearchState (flaml/automl/state.py): per-learner
// progress, ECI = max(time between the last two improvements, time since the last), bounded
// by the cost of retraining at a larger sample, and 2*gap/speed when behind the best.
typedef struct {
    double init_eci;          // learner_def.init_cost
    int tried;                // has a result
    double sample_size;       // rows of the last trial
    double best_loss, best_loss_old;
    double total_time_used, time_best_found, time_best_found_old;
    double time2eval_best, time2eval_best_old;
    int64_t n_trials;
    int disabled;             // its searcher stopped (grid exhausted, ...): never selected
} eci_learner;

typedef struct {
    int n;
    eci_learner *l;
    double *eci;              // FLAML's _eci: init ECIs scaled by the first learner's result
    int started;              // the first trial has been told
    double best_loss;
    int best;                 // index of the best learner, -1 none
    double data_size;         // full training rows
    double sample_factor;     // SAMPLE_MULTIPLY_FACTOR
    gh_rng rng;
} eci_state;

int eci_init(eci_state *e, const double *init_costs, int n, double data_size, uint64_t seed);
void eci_free(eci_state *e);
// Next learner to try given the time left (s); -1 when none fits.
int eci_select(eci_state *e, double time_left);
// Learner i's searcher stopped: it is never selected again. Returns how many remain.
int eci_disable(eci_state *e, int i);
// A trial of learner i: loss, its fit+eval seconds (time2eval), the wall seconds of the whole
// iteration (time_used), and the rows it trained on.
void eci_update(eci_state *e, int i, double loss, double time2eval, double time_used,
                double sample_size);
double eci_estimated_cost(const eci_state *e, int i);  // the current ECI of learner i
// FLAML's sample-size plan: start at MIN_SAMPLE_TRAIN (10000) rows when the data has more than
// 4x that, else full data. Returns the smallest fraction (1 when no sampling).
double eci_min_sample_fraction(double data_size);

// ---- the tuning loop (tune.c) -----------------------------------------------------------
// FLAML's retrain_full: the best config refit on every row after the search (the model that
// `gpuhours predict` uses). The values keep tune_options.refit's old meaning: 0 no refit,
// nonzero a refit (now planned into the budget).
typedef enum {
    TUNE_RETRAIN_NEVER = 0,   // FLAML False: no refit; tune_result.model stays NULL
    TUNE_RETRAIN_BUDGET = 1,  // FLAML "budget": the refit counts against the budget. The search
                              // ends while the best config's estimated refit (its trial seconds
                              // per fold x all rows / its training rows, FLAML's
                              // est_retrain_time; twice that for a learner that cannot be
                              // stopped) still fits; the refit gets the time left as
                              // its limit, and is skipped (no model) when it cannot fit nor be
                              // stopped (a forest, a liblinear solve)
    TUNE_RETRAIN_ALWAYS = 2,  // FLAML True: refit after the search, unlimited; the wall time can
                              // exceed the budget by the refit
} tune_retrain;
const char *tune_retrain_name(tune_retrain r);   // "never", "budget", "always"
// The budget promise (issue 9): tune_run's wall time, setup to the end of a budget-planned refit,
// is at most budget_s + tune_budget_tolerance(budget_s) = max(1 s, 5%). The refit may use half
// of it (see tune_finish), estimation errors and a loaded machine the rest.
double tune_budget_tolerance(double budget_s);

// A trial of an earlier session of the same run (--resume): it counts for the best, for ECI,
// and its config is never proposed again.
typedef struct {
    const learner_def *learner;
    double cfg[HPO_MAX_DIM];
    int rows;                 // training rows per fold
    double loss;              // INFINITY: failed
    double seconds;
    double at_s;              // when it finished, in search seconds from the run's start
} tune_prior;

// Runs trials in other processes (tune_workers.c); NULL in tune_options: in this process.
typedef struct tune_workers tune_workers;
#define TUNE_MAX_WORKERS 256

typedef struct {
    const char *searcher;     // a registry name (hpo_methods)
    const hpo_method *method; // NULL: the registry row of searcher; else this row (tests)
    const char *learners;     // comma list, NULL: every learner compiled in for the task
    gh_metric metric;         // METRIC_AUTO: metric_default(task)
    double budget_s;          // wall seconds for the search
    uint64_t seed;
    int folds;                // resampling: 0 = FLAML's rule (auto), 1 = holdout, k
    double holdout_ratio;     // 0 = 0.1 (FLAML's SPLIT_RATIO)
    const char *space_file;   // overrides, NULL none
    tune_retrain refit;       // after the search (TUNE_RETRAIN_BUDGET is the CLI's default)
    int verbose;              // progress line per improvement
    double sample_factor;     // FLOW2 resource growth (0 = 4)
    const resample_plan *plan;// fixed split (bench: the same for every searcher); NULL: make one
    double min_sample_fraction; // 0 (or out of (0,1]): FLAML's rule; else forced
    const tune_prior *prior;  // --resume: the trials recorded so far
    int n_prior;
    double time_used_s;       // --resume: search seconds already spent
    tune_workers *workers;    // NULL: trials one at a time in this process; else the workers
                              // run them, as many at once as there are workers
} tune_options;

typedef struct {
    int best_learner_index;
    const learner_def *best_learner;
    double best_cfg[HPO_MAX_DIM];
    double best_loss;         // validation loss (metric_loss convention)
    double best_fidelity;
    int64_t n_trials;
    double search_s;          // wall seconds of the search phase
    double refit_s;
    double refit_est_s;       // the best config's estimated refit seconds when the search ended
    int refit_stopped;        // retrain budget: the refit's time limit cut it short (fewer
                              // rounds or epochs than the config)
    int refit_skipped;        // retrain budget: the refit fit neither in the time left nor could
                              // be stopped there, so none was made (model NULL)
    double time_to_best_s;
    learner_model *model;     // the refit (or best search) model; caller frees; NULL if none
    // loss by time: best-so-far after each trial (for bench curves); caller frees
    int n_curve;
    double *curve_t, *curve_loss;
    int n_workers;            // processes that ran this session's trials (1: this one)
    int64_t worker_trials[TUNE_MAX_WORKERS + 1];   // this session's trials by worker id
} tune_result;

// The checks tune_run makes before it starts (budget finite and > 0, searcher known, metric
// for the task, learners known and for the task), with no side effects: a command calls it
// before creating the run file.
int tune_validate(const gh_dataset *data, const tune_options *o);
// Runs the search on data; records each trial into led when non-NULL. Four phases (tune.c):
// setup (learners, folds, one searcher per learner), replay of o->prior, the loop, finish
// (refit, the best into the ledger). The budget is wall time from the call (less
// o->time_used_s): a trial is started only when its estimated cost fits in what is left (the
// part a time limit cannot stop: a forest, a liblinear solve, a first boosting round or epoch,
// for each of its folds; estimated from the folds measured on that learner, before any from the
// seconds per learner_fit_units unit of another learner, or a default); one that does not fit
// is recorded with status "skipped" and told to its searcher as failed, and a learner with 8
// such in a row is not selected again. Stoppable fits get the time left as their limit. A
// failure anywhere, a searcher's tell included, is
// returned; *out then holds what was found so far and is freed by the caller as always.
int tune_run(const gh_dataset *data, const tune_options *o, ledger *led,
             tune_result *out);
void tune_result_free(tune_result *r);

// ---- parallel trials (tune_workers.c) -------------------------------------------------------
// An asynchronous tuning loop (FLAML's n_concurrent_trials on Ray): the coordinator runs the
// searchers, ECI, the ledger (the one writer of the results file), the progress lines and the
// refit; workers only run trials (tune.c's run_trial) on folds they build themselves. Whenever
// a worker is free the coordinator picks a learner, asks its searcher and sends the trial;
// results are told as they come back. The budget stays the wall time of the search. A local
// worker that dies has its trial recorded as failed and the run goes on with the others; an
// MPI rank that dies ends the whole job (mpirun's rule), the results file then shows the run
// as interrupted with every trial recorded until then.
// Open the workers of a run, before any learner or CUDA has run in this process (a forked
// worker inherits neither safely):
// - under a launcher with several ranks (dist.h, pg_world), on rank 0: ranks 1..size-1 are
//   the workers (they call tune_worker_serve); n_local must be 0 or 1.
// - otherwise, n_local >= 2: n_local worker processes forked from this one, each with
//   OpenMP threads / n_local threads, talking over socket pairs.
// data and o (o->plan, o->seed, o->folds, o->holdout_ratio) must be those of every run that
// uses the workers: the workers' folds are checked against the coordinator's. GH_EINVAL for
// n_local out of 2..TUNE_MAX_WORKERS; GH_EIO when a worker cannot be started or reached.
int tune_workers_open(tune_workers **out, const gh_dataset *data, const tune_options *o,
                      int n_local);
int tune_workers_count(const tune_workers *w);
// Tells every worker to quit and waits for the local ones; frees w. NULL: nothing.
int tune_workers_close(tune_workers *w);
// A rank > 0 of the group: builds the folds of (data, o) and runs the trials rank 0 sends
// until it says quit (every run of the command). Returns the first failure.
int tune_worker_serve(const gh_dataset *data, const tune_options *o);

// ---- tune's JSON records (tune_json.c, cJSON): written and read there only ------------------
// A learner config as one JSON object {"hp": value, ...}: a number for a float or int hp (ints
// rounded), the choice's name for a categorical; numbers read back to the same double. It is
// each trial's `arch` in the ledger. NULL (gh_error set) when out of memory; free with free().
char *tune_cfg_json(const learner_def *def, const double *cfg);
// Reads such a text into cfg ([def->n_hp]). GH_EFORMAT with a message that starts with where
// (the file and record it came from) and names the line and column of a syntax error, or the
// field that is missing, unknown, of the wrong type, or not a choice.
int tune_cfg_parse(const learner_def *def, const char *text, const char *where, double *cfg);
// The best result of a run (the ledger's "tune/best" text); r->best_learner must be set.
char *tune_best_json(const tune_result *r, gh_metric metric, double budget_s, int folds);
// --resume: the trials recorded in l as priors (*out, caller frees) and the search seconds they
// used. Trials of learners this build lacks are left out; a config that does not parse is an
// error naming the file and the trial.
int tune_prior_read(ledger *l, tune_prior **out, int *n, double *used_s);

#ifdef __cplusplus
}
#endif
