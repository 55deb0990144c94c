// tune: the tuning loop behind `gpuhours tune` (FLAML's AutoML._search_sequential): one HPO
// searcher per learner, the learner of each trial chosen by estimated cost for improvement,
// every trial fit within the time left and scored on the validation folds, recorded to the
// ledger with its cost, a progress line per improvement, and the best config refit on all
// rows (FLAML's retrain_full, planned into the budget by default). A trial whose estimated
// unstoppable cost does not fit in the time left is not started (a per-learner cost model
// over learner_fit_units, learned from the folds run). tune_run is four phases over one
// tune_state: tune_setup, tune_replay (--resume), tune_loop (tune_trial per proposal),
// tune_finish. Searchers are used only through hpo.h's ask/tell, their registry row and its
// fidelity use. With workers (tune_workers.c) tune_loop_workers replaces tune_loop: several
// trials in flight at once.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/kernels.h"
#include "hpo.h"
#include "tune_internal.h"

#define TUNE_MAX_LEARNERS 16
#define TUNE_MIN_ROWS 32   // a sampled fit never trains on fewer rows than this
#define TUNE_MAX_SKIPS 8   // a learner with this many skipped trials in a row is done
#define TUNE_COST_HISTORY 16   // folds a learner's cost model remembers

typedef struct {
    double units, seconds;    // learner_fit_units of a fold's fit; its fit + predict seconds
    int whole;                // the fit ran its whole config (not cut by its limit)
} tune_cost_point;

typedef struct {
    const learner_def *def;
    hp_domain hps[HPO_MAX_DIM];
    hpo_searcher *s;
    // cost model (cost_at): the last folds that ran their whole config, and before any, a
    // prior in seconds per unit borrowed from another learner (cost_prior; 0: none)
    tune_cost_point cost[TUNE_COST_HISTORY];
    int n_cost;               // folds measured (the last TUNE_COST_HISTORY kept)
    double prior_per_unit_s;
    int skips;                // trials skipped in a row: their estimate did not fit
} tune_learner;

static double now_s(void) { return gh_wall_seconds(); }

// --learners "a,b,c" (kept in that order: the first is tried first, as FLAML's list), or
// every learner of the task sorted by initial cost, cheapest first.
static int pick_learners(const char *list, gh_task task, const learner_def **out, int *n) {
    *n = 0;
    if (list && *list) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", list);
        for (char *p = strtok(buf, ", "); p; p = strtok(NULL, ", ")) {
            const learner_def *def = learner_find(p);
            if (!def) {
                const learner_def *all[TUNE_MAX_LEARNERS];
                int k = learners_list(all, TUNE_MAX_LEARNERS, task);
                char known[256] = "";
                for (int i = 0; i < k && i < TUNE_MAX_LEARNERS; i++)
                    snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                             i ? ", " : "", all[i]->name);
                return gh_fail(GH_EINVAL, "--learners: '%s' is not a learner of this build (for "
                               "%s: %s)", p, gh_task_name(task), known);
            }
            if (!def->supports_task[task])
                return gh_fail(GH_EINVAL, "--learners: '%s' does not support %s", p,
                               gh_task_name(task));
            const char *why = learner_unavailable(def);   // asked for by name: never dropped
            if (why) return gh_fail(GH_EUNSUP, "--learners: '%s': %s", p, why);
            if (*n == TUNE_MAX_LEARNERS)
                return gh_fail(GH_EINVAL, "--learners: more than %d", TUNE_MAX_LEARNERS);
            out[(*n)++] = def;
        }
    } else {
        *n = learners_list(out, TUNE_MAX_LEARNERS, task);
        if (*n > TUNE_MAX_LEARNERS) *n = TUNE_MAX_LEARNERS;
        for (int i = 1; i < *n; i++)   // stable insertion sort by init_cost
            for (int j = i; j > 0 && out[j]->init_cost < out[j - 1]->init_cost; j--) {
                const learner_def *t = out[j];
                out[j] = out[j - 1];
                out[j - 1] = t;
            }
    }
    if (*n == 0) return gh_fail(GH_EUNSUP, "no learner for task %s in this build", gh_task_name(task));
    return GH_OK;
}

static void folds_free(tune_folds *f) {
    for (int i = 0; i < f->k; i++) {
        dataset_free(&f->train[i]);
        dataset_free(&f->val[i]);
    }
    f->k = 0;
}

// Training rows of each fold in a seeded random order, so that a sample (FLAML's
// X_train[:sample_size]) is a random subset whatever the order of the file.
static int folds_make(tune_folds *f, const gh_dataset *data, const resample_plan *plan,
                      uint64_t seed) {
    memset(f, 0, sizeof *f);
    int k = plan->k < 1 ? 1 : plan->k;
    if (k > 16) return gh_fail(GH_EINVAL, "tune: %d folds, at most 16", k);
    int *tr = malloc(sizeof(int) * (size_t)data->n), *va = malloc(sizeof(int) * (size_t)data->n);
    if (!tr || !va) {
        free(tr);
        free(va);
        return gh_fail(GH_ENOMEM, "tune: fold index of %d rows", data->n);
    }
    gh_rng rng;
    gh_rng_seed(&rng, seed, GH_STREAM_DATA);
    int st = GH_OK;
    for (int fold = 0; fold < k && !st; fold++) {
        int nt = 0, nv = 0;
        for (int i = 0; i < data->n; i++) {
            int is_val = k == 1 ? plan->fold[i] == 1 : plan->fold[i] == fold;
            if (is_val) va[nv++] = i;
            else tr[nt++] = i;
        }
        if (nt == 0 || nv == 0) {
            st = gh_fail(GH_EINVAL, "tune: fold %d has %d training and %d validation rows", fold,
                         nt, nv);
            break;
        }
        gh_rng_shuffle(&rng, tr, (size_t)nt);
        f->k = fold + 1;
        st = dataset_subset(&f->train[fold], data, tr, nt);
        if (!st) st = dataset_subset(&f->val[fold], data, va, nv);
    }
    free(tr);
    free(va);
    if (st) folds_free(f);
    return st;
}

// Training rows of a fold of n at a fidelity.
static int fold_rows(int n, double fidelity) {
    int rows = (int)llround(fidelity * n);
    if (rows < TUNE_MIN_ROWS) rows = TUNE_MIN_ROWS;
    if (rows > n || fidelity >= 1) rows = n;
    return rows;
}

// Estimated seconds of a fold of `units` (0: no estimate). Cost grows with the units, so a
// config is taken to cost no more than the cheapest measured one of at least as many units
// (the fixed cost of a fit, data copies and threads, is then included); beyond every measured
// config, the largest is scaled up in proportion, twice over: units are a rough model (a
// forest's cost per unit varied 2x between configs of one data set), and an underestimate
// breaks the budget where an overestimate only skips a trial near its end.
// A prior borrowed from another learner gets twice that margin (a forest's first
// trial at random, priced from liblinear's folds, took 3 s against an estimate of 1 s).
#define TUNE_COST_EXTRAPOLATE 2.0
#define TUNE_COST_PRIOR 4.0
static double cost_at(const tune_learner *tl, double units) {
    int n = tl->n_cost < TUNE_COST_HISTORY ? tl->n_cost : TUNE_COST_HISTORY;
    if (n == 0) return TUNE_COST_PRIOR * tl->prior_per_unit_s * units;
    double above = INFINITY, top_u = 0, top_s = 0;
    for (int i = 0; i < n; i++) {
        const tune_cost_point *p = &tl->cost[i];
        if (p->units >= units && p->seconds < above) above = p->seconds;
        if (p->units > top_u) top_u = p->units, top_s = p->seconds;
    }
    return isfinite(above) ? above : TUNE_COST_EXTRAPOLATE * top_s * units / top_u;
}

// Estimated seconds of the part of a fold of cfg on `rows` rows that a time limit cannot stop
// (the whole fit for a forest or a liblinear solve; one round or epoch otherwise).
static double cost_first(const tune_learner *tl, const double *cfg, const gh_dataset *shape,
                         int rows) {
    double first;
    learner_fit_units(tl->def, cfg, shape, rows, &first);
    return cost_at(tl, first);
}

// Remembers a fold: `units` done in fold_s seconds. A fit cut by its limit did fewer units than
// planned but at least its unstoppable part, so the caller passes that part's units: a bound
// still (its seconds include rounds beyond it), where the planned units would make the learner
// look cheaper than it is.
static void cost_learn(tune_learner *tl, double fold_s, double units, int whole) {
    if (!(units > 0) || !(fold_s > 0)) return;
    tl->cost[tl->n_cost++ % TUNE_COST_HISTORY] = (tune_cost_point){units, fold_s, whole};
}

// Whether a trial of cfg on `rows` rows per fold is skipped: the part of its k fits that a
// limit cannot stop is estimated (*first, for one fold) to take longer than the `left`
// seconds. Then *out is its "skipped" outcome and tl counts the skip; else the learner's
// streak of skips ends. The serial loop decides in run_trial, the parallel one before sending.
static int trial_skip(tune_learner *tl, const double *cfg, const tune_folds *f, int rows,
                      double left, double *first, trial_outcome *out) {
    *first = cost_first(tl, cfg, &f->train[0], rows);
    if (!(*first > 0 && f->k * *first > left)) {
        tl->skips = 0;
        return 0;
    }
    out->status = "skipped";
    out->loss = INFINITY;
    out->rows = rows;
    snprintf(out->error, sizeof out->error, "estimated %.3g s for %d fold%s, %.3g s left",
             f->k * *first, f->k, f->k > 1 ? "s" : "", left);
    tl->skips++;
    return 1;
}

// One trial: fit on each fold's first `rows` training rows within the time left, score on
// its validation rows. Not started ("skipped") when the part of its k fits that a limit cannot
// stop is estimated to take longer than the time left. Each fold's limit is its share of the
// time left (the time left over the folds still to run, so that all k finish); FLAML's limit
// for a sampled fit: half the time left, scaled by the sample fraction.
static int run_trial(const tune_folds *f, tune_learner *tl, const double *cfg, double fidelity,
                     uint64_t seed, gh_metric metric, double deadline, trial_outcome *out) {
    const learner_def *def = tl->def;
    memset(out, 0, sizeof *out);
    out->status = "ok";
    out->rows = fold_rows(f->train[0].n, fidelity);
    double first;
    if (trial_skip(tl, cfg, f, out->rows, deadline - now_s(), &first, out)) return GH_OK;
    double sum = 0;
    for (int i = 0; i < f->k; i++) {
        const gh_dataset *full = &f->train[i];
        int rows = fold_rows(full->n, fidelity);
        out->rows = rows;
        gh_dataset view = *full;   // the first rows: x and y are row-major, so a prefix view
        view.n = rows;
        double fold0 = now_s(), left = deadline - fold0;
        // the folds still to run must fit (a k-fold trial cut short has no comparable score)
        if (left <= 0 || (i > 0 && first > 0 && (f->k - i) * first > left)) {
            out->status = "timeout";
            out->loss = INFINITY;
            return GH_OK;
        }
        double limit = rows == full->n ? left / (f->k - i) : left / 2 * rows / full->n;
        learner_model *m = NULL;
        int stopped = 0;
        int st = learner_fit(def, &view, cfg, seed, limit, &m, &stopped);
        if (st == GH_ENOMEM) return st;
        if (st) {
            out->status = "failed";
            out->loss = INFINITY;
            snprintf(out->error, sizeof out->error, "%s", gh_error_get());
            return GH_OK;
        }
        out->stopped_early |= stopped;
        const gh_dataset *val = &f->val[i];
        int width = val->task == GH_TASK_REGRESSION ? 1 : val->n_classes;
        float *pred = malloc(sizeof(float) * (size_t)val->n * (size_t)width);
        if (!pred) {
            learner_free(m);
            return gh_fail(GH_ENOMEM, "tune: predictions for %d rows", val->n);
        }
        st = learner_predict(m, val, pred);
        double loss = st ? INFINITY : metric_loss(metric, val, pred);
        free(pred);
        learner_free(m);
        if (!st) {
            double one, units = learner_fit_units(def, cfg, full, rows, &one);
            cost_learn(tl, now_s() - fold0, stopped ? one : units, !stopped);
        }
        if (st) {
            out->status = "failed";
            out->loss = INFINITY;
            snprintf(out->error, sizeof out->error, "%s", gh_error_get());
            return GH_OK;
        }
        if (!isfinite(loss)) {
            out->status = "nan";
            out->loss = INFINITY;
            return GH_OK;
        }
        sum += loss;
        // a k-fold trial cut by the deadline before its last fold has no comparable score
        if (i + 1 < f->k && now_s() >= deadline) {
            out->status = "timeout";
            out->loss = INFINITY;
            return GH_OK;
        }
    }
    out->loss = sum / f->k;
    if (out->stopped_early) out->status = "timeout";   // fit cut short, its score still counts
    return GH_OK;
}

// A worker's trial: the coordinator has decided with its cost model that the trial fits (it
// records the skipped ones itself), so the worker runs it with no model of its own (no skip,
// each fold's limit its share of the seconds left).
int tune_run_trial(const tune_folds *f, const learner_def *def, const double *cfg,
                   double fidelity, uint64_t seed, gh_metric metric, double deadline,
                   trial_outcome *out) {
    tune_learner tl = {.def = def};
    return run_trial(f, &tl, cfg, fidelity, seed, metric, deadline, out);
}

static int curve_push(tune_result *r, double t, double loss) {
    if ((r->n_curve & (r->n_curve - 1)) == 0) {   // grow at powers of two
        size_t cap = r->n_curve ? 2 * (size_t)r->n_curve : 16;
        double *a = realloc(r->curve_t, cap * sizeof *a);
        if (!a) return gh_fail(GH_ENOMEM, "tune: curve of %d points", r->n_curve);
        r->curve_t = a;
        double *b = realloc(r->curve_loss, cap * sizeof *b);
        if (!b) return gh_fail(GH_ENOMEM, "tune: curve of %d points", r->n_curve);
        r->curve_loss = b;
    }
    r->curve_t[r->n_curve] = t;
    r->curve_loss[r->n_curve++] = loss;
    return GH_OK;
}

void tune_result_free(tune_result *r) {
    learner_free(r->model);
    free(r->curve_t);
    free(r->curve_loss);
    memset(r, 0, sizeof *r);
}

static int record_trial(ledger *led, int64_t id, const learner_def *def, const double *cfg,
                        const trial_outcome *t, gh_metric metric, const cost_totals *c,
                        int worker) {
    if (!led) return GH_OK;
    char *json = tune_cfg_json(def, cfg);
    if (!json) return GH_ENOMEM;
    ledger_trial lt = {
        .id = id,
        .arch = json,
        .learner = def->name,
        .fidelity = t->rows,
        .train_acc = NAN, .val_acc = NAN, .test_acc = NAN,
        .train_loss = NAN, .val_loss = isfinite(t->loss) ? t->loss : NAN, .test_loss = NAN,
        .madds = NAN, .params = NAN,
        .cost = *c,
        .status = t->status,
        .worker = worker,
    };
    if (metric == METRIC_ACCURACY && isfinite(t->loss)) lt.val_acc = 1 - t->loss;
    int st = ledger_append_trial(led, &lt);
    free(json);
    return st;
}

// ---- one tuning run: setup, resume replay, the loop, finish ---------------------------------
// ASHA-style rungs (HPO_FIDELITY_RUNGS) go down to 1/27 of the rows (three rungs below the
// full data at eta 3) but never below 100 rows; FLOW2's growing sample follows FLAML's rule.
#define TUNE_RUNG_ETA 3.0
#define TUNE_RUNG_MIN_FRACTION (1.0 / 27)
#define TUNE_RUNG_MIN_ROWS 100.0

typedef struct {
    const tune_options *o;
    const hpo_method *method;
    gh_metric metric;
    tune_folds folds;
    int n_train;
    double min_fid, fid_factor;
    int n_learners;
    tune_learner L[TUNE_MAX_LEARNERS];
    eci_state eci;
    double used, t0, end;          // search seconds already spent (--resume), start, budget end
    double deadline;               // of the trial in flight (trial_deadline)
    int n_all;                     // rows of the whole data (the refit's)
    cost_meter *meter, *phase;     // per trial; per phase (search, final)
    int64_t trial_id;
    int64_t skipped_here;          // trials the parallel loop recorded as skipped, unsent
} tune_state;

static void tune_state_free(tune_state *ts) {
    cost_meter_destroy(ts->meter);
    cost_meter_destroy(ts->phase);
    for (int i = 0; i < ts->n_learners; i++) hpo_destroy(ts->L[i].s);
    eci_free(&ts->eci);
    folds_free(&ts->folds);
}

// The smallest fidelity and its growth factor, from how the searcher uses fidelity.
static void fidelity_plan(tune_state *ts) {
    const tune_options *o = ts->o;
    if (ts->method->fidelity == HPO_FIDELITY_RUNGS) {
        ts->min_fid = fmin(1.0, fmax(TUNE_RUNG_MIN_FRACTION, TUNE_RUNG_MIN_ROWS / ts->n_train));
        ts->fid_factor = TUNE_RUNG_ETA;
        return;
    }
    // FLAML samples only with holdout
    ts->min_fid = o->min_sample_fraction > 0 && o->min_sample_fraction <= 1
                      ? o->min_sample_fraction
                      : (ts->folds.k == 1 ? eci_min_sample_fraction(ts->n_train) : 1.0);
    ts->fid_factor = o->sample_factor > 1 ? o->sample_factor : 4.0;
}

// One searcher per learner, each over the learner's space for this data, with its own seed.
static int searchers_create(tune_state *ts, const gh_dataset *data, const learner_def **defs) {
    const tune_options *o = ts->o;
    for (int i = 0; i < ts->n_learners; i++) {
        tune_learner *tl = &ts->L[i];
        tl->def = defs[i];
        if (defs[i]->n_hp > HPO_MAX_DIM)
            return gh_fail(GH_EINVAL, "tune: %s has %d hyperparameters (max %d)", defs[i]->name,
                           defs[i]->n_hp, HPO_MAX_DIM);
        int st = learner_space(defs[i], ts->n_train, data->d, data->task, tl->hps);
        if (!st && o->space_file) st = learner_space_override(defs[i], tl->hps, o->space_file);
        if (st) return st;
        hpo_options ho = {
            .seed = o->seed + 7919u * (uint64_t)(i + 1),
            .min_fidelity = ts->min_fid,
            .fidelity_factor = ts->fid_factor,
            .cost_budget = o->budget_s,
        };
        st = hpo_create_method(&tl->s, ts->method, tl->hps, defs[i]->n_hp, &ho);
        if (st) return st;
    }
    return GH_OK;
}

int tune_folds_split(tune_folds *f, const gh_dataset *data, const tune_options *o) {
    resample_plan own = {0};
    const resample_plan *plan = o->plan;
    if (!plan) {
        int k = o->folds > 0 ? o->folds : resample_auto_k(data->n, data->d, o->budget_s);
        int st = resample_make(&own, data, k, o->holdout_ratio, o->seed);
        if (st) return st;
        plan = &own;
    }
    int st = folds_make(f, data, plan, o->seed);
    if (plan == &own) resample_free(&own);
    return st;
}

void tune_folds_free(tune_folds *f) { folds_free(f); }

// The folds of o->plan, or of a split made here (FLAML's rule for k unless o->folds).
static int split_data(tune_state *ts, const gh_dataset *data) {
    int st = tune_folds_split(&ts->folds, data, ts->o);
    if (st) return st;
    ts->n_train = ts->folds.train[0].n;
    return GH_OK;
}

// Checks the options, picks the learners, splits the data into folds and creates the
// searchers and the learner selection; the clock starts here.
int tune_validate(const gh_dataset *data, const tune_options *o) {
    if (!(o->budget_s > 0) || !isfinite(o->budget_s))
        return gh_fail(GH_EINVAL, "tune: budget %g s, expected a finite number > 0", o->budget_s);
    if (!o->searcher && !o->method) return gh_fail(GH_EINVAL, "tune: no searcher");
    const hpo_method *m;
    int st = o->method ? GH_OK : hpo_method_lookup(o->searcher, &m);
    if (!st) st = metric_check(o->metric, data->task);
    const learner_def *defs[TUNE_MAX_LEARNERS];
    int n;
    if (!st) st = pick_learners(o->learners, data->task, defs, &n);
    return st;
}

static int tune_setup(tune_state *ts, const gh_dataset *data, const tune_options *o) {
    memset(ts, 0, sizeof *ts);
    ts->o = o;
    int st = tune_validate(data, o);
    if (st) return st;
    ts->method = o->method;
    if (!ts->method && (st = hpo_method_lookup(o->searcher, &ts->method))) return st;
    ts->metric = o->metric == METRIC_AUTO ? metric_default(data->task) : o->metric;
    const learner_def *defs[TUNE_MAX_LEARNERS];
    st = pick_learners(o->learners, data->task, defs, &ts->n_learners);
    if (st) return st;

    ts->used = o->time_used_s > 0 ? o->time_used_s : 0;
    ts->t0 = now_s() - ts->used;
    ts->end = ts->deadline = ts->t0 + o->budget_s;
    ts->n_all = data->n;
    st = split_data(ts, data);
    if (st) return st;
    fidelity_plan(ts);
    st = searchers_create(ts, data, defs);   // on failure tune_state_free destroys those made
    if (st) return st;
    double init_costs[TUNE_MAX_LEARNERS];
    for (int i = 0; i < ts->n_learners; i++) init_costs[i] = defs[i]->init_cost;
    st = eci_init(&ts->eci, init_costs, ts->n_learners, ts->n_train, o->seed);
    if (st) return st;
    int gpus = gh_cuda_device_count() > 0 ? 1 : 0;
    ts->meter = cost_meter_create(gpus);
    ts->phase = cost_meter_create(gpus);
    if (!ts->meter || !ts->phase) return gh_fail(GH_ENOMEM, "tune: cost meters");
    if (o->verbose)
        printf("tune: %s, %d learners, %d-fold%s, %d training rows, metric %s, budget %.0f s%s, "
               "retrain %s\n", ts->method->name, ts->n_learners, ts->folds.k,
               ts->folds.k == 1 ? " (holdout)" : "", ts->n_train, metric_name(ts->metric),
               o->budget_s, ts->min_fid < 1 ? ", growing sample sizes" : "",
               tune_retrain_name(o->refit));
    return GH_OK;
}

// Keeps the best result so far; 1 when (learner li, cfg) improved on it.
static int best_update(tune_result *out, int li, const learner_def *def, const double *cfg,
                       double fidelity, double loss, double at_s) {
    if (!(isfinite(loss) && loss < out->best_loss)) return 0;
    out->best_loss = loss;
    out->best_learner_index = li;
    out->best_learner = def;
    memcpy(out->best_cfg, cfg, sizeof out->best_cfg);
    out->best_fidelity = fidelity;
    out->time_to_best_s = at_s;
    return 1;
}

// --resume: an earlier session's trials count for the best and for ECI, and their configs are
// never proposed again; the searchers themselves start afresh.
static int tune_replay(tune_state *ts, tune_result *out) {
    const tune_options *o = ts->o;
    for (int p = 0; p < o->n_prior; p++) {
        const tune_prior *pr = &o->prior[p];
        int li = -1;
        for (int i = 0; i < ts->n_learners; i++)
            if (ts->L[i].def == pr->learner) li = i;
        if (li < 0) continue;
        double fid = pr->rows >= ts->n_train ? 1.0 : (double)pr->rows / ts->n_train;
        int st = hpo_remember(ts->L[li].s, pr->cfg, fid, pr->loss, pr->seconds);
        if (st) return st;
        eci_update(&ts->eci, li, pr->loss, pr->seconds, pr->seconds, pr->rows);
        best_update(out, li, pr->learner, pr->cfg, fid, pr->loss, pr->at_s);
        out->n_trials++;
    }
    if (o->verbose && o->n_prior)
        printf("tune: resumed %d trials, %.1f s of the budget used, best loss %.4f\n", o->n_prior,
               ts->used, out->best_loss);
    ts->trial_id = out->n_trials;
    return GH_OK;
}

// The result r of trial t of learner li, run by `worker` in trial_s seconds at cost c: tell
// its searcher and ECI, record it, and report an improvement. start: when this round of the
// loop began (the serial loop), or when the trial was sent (the parallel one).
static int tune_told(tune_state *ts, int li, const hpo_trial *t, const trial_outcome *rp,
                     double trial_s, const cost_totals *cp, int worker, double start,
                     ledger *led, tune_result *out) {
    const tune_options *o = ts->o;
    tune_learner *tl = &ts->L[li];
    const trial_outcome r = *rp;
    const cost_totals c = *cp;
    int st = hpo_tell(tl->s, t, r.loss, trial_s);
    if (st) return st;
    eci_update(&ts->eci, li, r.loss, trial_s, now_s() - start, r.rows);
    st = record_trial(led, ts->trial_id, tl->def, t->cfg, &r, ts->metric, &c, worker);
    if (st) return st;
    if (worker >= 0 && worker <= TUNE_MAX_WORKERS) out->worker_trials[worker]++;
    double elapsed = now_s() - ts->t0;
    if (best_update(out, li, tl->def, t->cfg, t->fidelity, r.loss, elapsed)) {
        if (o->verbose) {
            char cfgtxt[512];
            hpo_cfg_format(hpo_searcher_space(tl->s), t->cfg, cfgtxt, sizeof cfgtxt);
            printf("tune %7.1fs  trial %-4lld %-14s %s %.4f (loss %.4f)  rows %-6d  "
                   "ETA %.0fs  %s\n",
                   elapsed, (long long)ts->trial_id, tl->def->name, metric_name(ts->metric),
                   metric_value_from_loss(ts->metric, r.loss), r.loss, r.rows,
                   fmax(0, ts->end - now_s()), cfgtxt);
            fflush(stdout);
        }
    } else if (o->verbose && !strcmp(r.status, "failed")) {
        fprintf(stderr, "tune: trial %lld (%s) failed: %s\n", (long long)ts->trial_id,
                tl->def->name, r.error);
    }
    st = curve_push(out, elapsed, out->best_loss);
    out->n_trials = ++ts->trial_id;
    return st;
}

// One proposed trial of learner li, in this process: fit and score it, then tune_told.
// start: when this round of the loop began.
static int tune_trial(tune_state *ts, int li, const hpo_trial *t, double start, ledger *led,
                      tune_result *out) {
    const tune_options *o = ts->o;
    tune_learner *tl = &ts->L[li];
    cost_meter_start(ts->meter);
    double t_fit = now_s();
    trial_outcome r;
    int st = run_trial(&ts->folds, tl, t->cfg, t->fidelity, o->seed, ts->metric, ts->deadline,
                       &r);
    if (st) return st;
    double trial_s = now_s() - t_fit;
    cost_totals c = cost_meter_read(ts->meter);
    return tune_told(ts, li, t, &r, trial_s, &c, 0, start, led, out);
}


// FLAML's est_retrain_time: the best trial's seconds per fold, scaled from its training rows
// to all rows (0 before any result); twice that for a learner that cannot be stopped (a forest
// or a liblinear solve), whose refit cannot be cut at the budget should it take longer (as on a
// loaded machine).
static double refit_estimate(const tune_state *ts, const tune_result *out) {
    if (!out->best_learner) return 0;
    const eci_learner *l = &ts->eci.l[out->best_learner_index];
    int rows = fold_rows(ts->n_train, out->best_fidelity);
    double first, units = learner_fit_units(out->best_learner, out->best_cfg, &ts->folds.train[0],
                                            ts->n_all, &first);
    double margin = first < units ? 1 : TUNE_COST_EXTRAPOLATE;
    return margin * l->time2eval_best / ts->folds.k * ts->n_all / rows;
}

// Search seconds left at `now`: to the end of the budget, less (retrain budget) the best
// config's estimated refit, which must still fit after the search. A refit that does not fit
// even now (a best found on a small sample, an expensive forest) reserves nothing: stopping the
// search would not make it fit, and a later best may; tune_finish then stops or skips it.
static double search_left(const tune_state *ts, const tune_result *out, double now) {
    double left = ts->end - now;
    double refit = ts->o->refit == TUNE_RETRAIN_BUDGET ? refit_estimate(ts, out) : 0;
    return refit < left ? left - refit : left;
}

// The deadline of trial t: the search's, and (retrain budget) early enough that its own refit
// fits after it should it become the best: its k folds get k / (k + n/rows) of the time to the
// end, a fold's seconds times n/rows being its refit estimate.
static double trial_deadline(const tune_state *ts, const hpo_trial *t, double now, double left) {
    if (ts->o->refit != TUNE_RETRAIN_BUDGET) return now + left;
    double k = ts->folds.k, scale = (double)ts->n_all / fold_rows(ts->n_train, t->fidelity);
    return now + fmin(left, (ts->end - now) * k / (k + scale));
}

// A learner never measured borrows a cost model: the seconds per unit of the largest whole fold
// measured on any learner, the one least dominated by a fit's fixed cost (learner_fit_units are
// roughly comparable across learners; FLAML's relative init_cost is about the initial configs
// only and misjudged our MLP by 30x); before any whole fold, TUNE_COST_DEFAULT_S_PER_UNIT.
// Without it the first trial of an expensive learner (a forest proposed at random, an MLP
// whose first epoch alone takes seconds) could not be estimated.
#define TUNE_COST_DEFAULT_S_PER_UNIT 20e-9   // the slowest learner measured here (a forest)
static void cost_prior(tune_state *ts, int li) {
    tune_learner *tl = &ts->L[li];
    if (tl->n_cost) return;
    const tune_cost_point *top = NULL;
    for (int j = 0; j < ts->n_learners; j++)
        for (int i = 0; i < ts->L[j].n_cost && i < TUNE_COST_HISTORY; i++)
            if (ts->L[j].cost[i].whole && (!top || ts->L[j].cost[i].units > top->units))
                top = &ts->L[j].cost[i];
    tl->prior_per_unit_s = top ? top->seconds / top->units : TUNE_COST_DEFAULT_S_PER_UNIT;
}

// The search: until the budget (less a planned refit) is spent, no learner can finish a trial
// in the time left, or every learner's searcher has stopped or keeps proposing trials that do
// not fit.
static int tune_loop(tune_state *ts, ledger *led, tune_result *out) {
    cost_meter_start(ts->phase);
    int st = GH_OK;
    while (!st) {
        double start = now_s();
        double left = search_left(ts, out, start);
        if (left <= 0) break;
        int li = eci_select(&ts->eci, left);
        if (li < 0) break;   // no learner can finish a trial in the time left
        hpo_trial t;
        int ask = hpo_ask(ts->L[li].s, &t);
        if (ask == HPO_STOP) {
            if (eci_disable(&ts->eci, li) == 0) break;
            continue;
        }
        if (!ask) {
            cost_prior(ts, li);
            ts->deadline = trial_deadline(ts, &t, start, left);
        }
        st = ask ? ask : tune_trial(ts, li, &t, start, led, out);
        if (!st && ts->L[li].skips >= TUNE_MAX_SKIPS && eci_disable(&ts->eci, li) == 0) break;
    }
    out->search_s = now_s() - ts->t0;
    cost_totals search_cost = cost_meter_read(ts->phase);
    if (!st && led) st = ledger_add_phase_cost(led, "search", &search_cost);
    return st;
}

// ---- the parallel loop: several trials in flight on the workers (tune_workers.c) ------------
// After the budget the trials in flight get this long to come back (they were sent the seconds
// left and stop on their own, as a serial trial does; this only bounds a worker that does
// not): inside the max(1 s, 5%) by which a search may overrun its budget.
static double tune_grace_s(double budget_s) { return fmax(0.75, 0.04 * budget_s); }

typedef struct {
    int busy, li;
    hpo_trial t;
    int64_t ticket;
    double sent;              // when it was sent (ECI's time used by the trial)
} tune_slot;

// Sends the next trial to idle worker k: *sent 1; or none, with *done set when no learner can
// finish a trial in the time left or every searcher stopped (as the serial loop ends), or
// unset when the chosen learner has HPO_MAX_PENDING trials in flight already (the worker
// waits for one of them). The budget's planning is the serial loop's, on the coordinator: the
// search's time left less the best config's refit (search_left), the trial's own deadline
// (trial_deadline), and a trial whose unstoppable part does not fit in it is recorded here as
// skipped (worker 0) instead of being sent; the workers have no cost model of their own.
static int tune_dispatch(tune_state *ts, tune_slot *sl, int k, int *in_flight_of, int *done,
                         int *sent, ledger *led, tune_result *out) {
    *sent = 0;
    for (;;) {
        double now = now_s(), left = search_left(ts, out, now);
        int li = left > 0 ? eci_select(&ts->eci, left) : -1;
        if (li < 0) {
            *done = 1;
            return GH_OK;
        }
        if (in_flight_of[li] >= HPO_MAX_PENDING) return GH_OK;
        tune_learner *tl = &ts->L[li];
        hpo_trial t;
        int ask = hpo_ask(tl->s, &t);
        if (ask == HPO_STOP) {
            if (eci_disable(&ts->eci, li) == 0) *done = 1;
            if (*done) return GH_OK;
            continue;
        }
        if (ask) return ask;
        cost_prior(ts, li);
        double deadline = trial_deadline(ts, &t, now, left);
        double first;
        trial_outcome r = {0};
        if (trial_skip(tl, t.cfg, &ts->folds, fold_rows(ts->n_train, t.fidelity), deadline - now,
                       &first, &r)) {
            cost_totals c = {0};
            ts->skipped_here++;
            int st = tune_told(ts, li, &t, &r, 0, &c, 0, now, led, out);
            if (st) return st;
            if (tl->skips >= TUNE_MAX_SKIPS && eci_disable(&ts->eci, li) == 0) {
                *done = 1;
                return GH_OK;
            }
            continue;
        }
        tune_request rq = {.kind = TUNE_MSG_RUN, .fidelity = t.fidelity, .seed = ts->o->seed,
                           .metric = ts->metric, .seconds_left = deadline - now_s()};
        snprintf(rq.learner, sizeof rq.learner, "%s", tl->def->name);
        memcpy(rq.cfg, t.cfg, sizeof rq.cfg);
        int st = tune_workers_send(ts->o->workers, k, &rq);
        if (st) return st;
        *sl = (tune_slot){1, li, t, rq.ticket, now_s()};
        in_flight_of[li]++;
        *sent = 1;
        return GH_OK;
    }
}

// A reply (or the coordinator giving up on worker k) for the trial in slot sl: the trial is
// told and recorded as any other, with the worker that ran it.
static int tune_reply_told(tune_state *ts, tune_slot *sl, int k, const tune_reply *rp,
                           ledger *led, tune_result *out) {
    trial_outcome r = {.loss = rp->loss, .rows = rp->rows, .stopped_early = rp->stopped_early,
                       .status = rp->status};
    snprintf(r.error, sizeof r.error, "%s", rp->error);
    if (!isfinite(r.loss)) r.loss = INFINITY;
    sl->busy = 0;
    // the coordinator's cost model learns from the worker's seconds, a fold's share of them
    // (run_trial learns from each fold itself in the serial loop)
    if (r.rows > 0 && (!strcmp(r.status, "ok") || r.stopped_early)) {
        double one, units = learner_fit_units(ts->L[sl->li].def, sl->t.cfg, &ts->folds.train[0],
                                              r.rows, &one);
        cost_learn(&ts->L[sl->li], rp->seconds / ts->folds.k, r.stopped_early ? one : units,
                   !r.stopped_early);
    }
    return tune_told(ts, sl->li, &sl->t, &r, rp->seconds, &rp->cost, k, sl->sent, led, out);
}

// The search as tune_loop's, with a trial on every free worker: when a result comes back it
// is told, and the worker gets the next trial; no trial is sent once none can finish in the
// time left, and the search ends when the trials in flight are back.
static int tune_loop_workers(tune_state *ts, ledger *led, tune_result *out) {
    tune_workers *w = ts->o->workers;
    int n = tune_workers_count(w);
    tune_slot *slot = calloc((size_t)n + 1, sizeof *slot);   // by worker id 1..n
    if (!slot) return gh_fail(GH_ENOMEM, "tune: %d worker slots", n);
    int in_flight_of[TUNE_MAX_LEARNERS] = {0};
    int in_flight = 0, done = 0, st = GH_OK;
    int64_t sent_total = 0, first_id = ts->trial_id;
    double workers_cpu_s = 0, grace = tune_grace_s(ts->o->budget_s);
    out->n_workers = n;
    cost_meter_start(ts->phase);
    while (!st) {
        for (int k = 1; k <= n && !done && !st; k++) {
            if (slot[k].busy || !tune_workers_alive(w, k)) continue;
            int sent;
            st = tune_dispatch(ts, &slot[k], k, in_flight_of, &done, &sent, led, out);
            if (!sent) break;
            in_flight++;
            sent_total++;
        }
        if (st) break;
        int alive = 0;
        for (int k = 1; k <= n; k++) alive += tune_workers_alive(w, k);
        if (in_flight == 0) {
            if (!done && !alive) st = gh_fail(GH_EIO, "tune: every worker has died");
            break;
        }
        double now = now_s(), until = done ? ts->end + grace : ts->end;
        if (done && now >= until) {   // give up on the trials still out
            for (int k = 1; k <= n && !st; k++) {
                if (!slot[k].busy) continue;
                tune_workers_give_up(w, k);
                tune_reply rp = {.loss = INFINITY, .seconds = now - slot[k].sent};
                snprintf(rp.status, sizeof rp.status, "timeout");
                fprintf(stderr, "tune: no result from worker %d %.1f s after the budget: its "
                        "trial %lld is recorded as timed out\n", k, grace,
                        (long long)ts->trial_id);
                in_flight_of[slot[k].li]--;
                in_flight--;
                st = tune_reply_told(ts, &slot[k], k, &rp, led, out);
            }
            break;
        }
        tune_reply rp;
        int got = tune_workers_wait(w, until - now, &rp);
        if (got == TUNE_WORKERS_TIMEOUT) {
            if (now_s() >= ts->end) done = 1;
            continue;
        }
        if (got) {
            st = got;
            break;
        }
        int k = rp.worker;
        int ours = k >= 1 && k <= n && slot[k].busy && slot[k].ticket == rp.ticket;
        if (!tune_workers_alive(w, k))
            fprintf(stderr, "tune: %s; %s (%d workers left)\n", rp.error,
                    ours ? "its trial is recorded as failed" : "it was idle", alive - 1);
        if (!ours) continue;   // a worker that died idle, or a reply given up on
        if (rp.st) {
            st = gh_fail(rp.st, "tune: worker %d: %s", k, rp.error);
            break;
        }
        in_flight_of[slot[k].li]--;
        in_flight--;
        if (isfinite(rp.cost.cpu_s)) workers_cpu_s += rp.cost.cpu_s;
        st = tune_reply_told(ts, &slot[k], k, &rp, led, out);
    }
    free(slot);
    // every trial sent is recorded, once (and the skipped ones, recorded without being sent)
    if (!st && ts->trial_id - first_id != sent_total + ts->skipped_here)
        st = gh_fail(GH_EIO, "tune: %lld trials sent to workers and %lld skipped, %lld recorded",
                     (long long)sent_total, (long long)ts->skipped_here,
                     (long long)(ts->trial_id - first_id));
    out->search_s = now_s() - ts->t0;
    cost_totals search_cost = cost_meter_read(ts->phase);
    search_cost.cpu_s += workers_cpu_s;   // the phase's CPU: the coordinator's and the trials'
    if (!st && led) st = ledger_add_phase_cost(led, "search", &search_cost);
    return st;
}

// FLAML's retrain_full: the best config on every row, after the search; then the best result
// into the ledger.

double tune_budget_tolerance(double budget_s) { return fmax(1.0, 0.05 * budget_s); }

const char *tune_retrain_name(tune_retrain r) {
    switch (r) {
    case TUNE_RETRAIN_NEVER: return "never";
    case TUNE_RETRAIN_BUDGET: return "budget";
    case TUNE_RETRAIN_ALWAYS: return "always";
    }
    return "unknown";
}

// retrain budget: whether the refit fits in `left` seconds: its estimate does, or the learner
// can be stopped (it gets `left` as its limit) and its unstoppable part (one round, one epoch)
// fits. Otherwise it is skipped rather than overrun.
static int refit_fits(const tune_state *ts, const gh_dataset *data, const tune_result *out,
                      double left) {
    if (left <= 0) return 0;
    if (out->refit_est_s <= left) return 1;
    double first, total = learner_fit_units(out->best_learner, out->best_cfg, data, data->n,
                                            &first);
    if (!(first < total)) return 0;   // cannot be stopped
    double est = cost_at(&ts->L[out->best_learner_index], first);
    return est > 0 && est <= left;
}

// FLAML's retrain_full: the best config on every row, after the search (never, always, or
// within the budget: see tune_retrain); then the best result into the ledger.
static int tune_finish(tune_state *ts, const gh_dataset *data, ledger *led, tune_result *out) {
    const tune_options *o = ts->o;
    if (!out->best_learner) return GH_OK;
    int st = GH_OK;
    out->refit_est_s = refit_estimate(ts, out);
    // the refit may end up to half the promise's tolerance past the budget: a search whose last
    // trial overran a little (a loaded machine) still ends with a model
    double left = ts->end + 0.5 * tune_budget_tolerance(o->budget_s) - now_s();
    int budget = o->refit == TUNE_RETRAIN_BUDGET;
    out->refit_skipped = budget && !refit_fits(ts, data, out, left);
    if (o->refit != TUNE_RETRAIN_NEVER && !out->refit_skipped) {
        cost_meter_start(ts->phase);
        double r0 = now_s();
        st = learner_fit(out->best_learner, data, out->best_cfg, o->seed, budget ? left : 0,
                         &out->model, &out->refit_stopped);
        out->refit_s = now_s() - r0;
        cost_totals final_cost = cost_meter_read(ts->phase);
        if (!st && led) st = ledger_add_phase_cost(led, "final", &final_cost);
    }
    if (!st && led) {
        char *json = tune_best_json(out, ts->metric, o->budget_s, ts->folds.k);
        st = json ? ledger_put_text(led, "tune/best", json) : GH_ENOMEM;
        free(json);
    }
    return st;
}

int tune_run(const gh_dataset *data, const tune_options *o, ledger *led, tune_result *out) {
    memset(out, 0, sizeof *out);
    out->best_loss = INFINITY;
    out->best_learner_index = -1;
    out->n_workers = 1;
    tune_state ts;
    int st = tune_setup(&ts, data, o);
    if (!st) st = tune_replay(&ts, out);
    if (!st) st = o->workers ? tune_loop_workers(&ts, led, out) : tune_loop(&ts, led, out);
    if (!st) st = tune_finish(&ts, data, led, out);
    tune_state_free(&ts);
    return st;
}
