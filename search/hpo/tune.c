// tune: the tuning loop behind `gpuhours tune` (FLAML's AutoML._search_sequential): one HPO
// searcher per learner, the learner of each trial chosen by estimated cost for improvement,
// every trial fit within the time left and scored on the validation folds, recorded to the
// ledger with its cost, a progress line per improvement, and the best config refit on all
// rows once the budget is spent.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/kernels.h"
#include "hpo.h"

#define TUNE_MAX_LEARNERS 16
#define TUNE_MIN_ROWS 32   // a sampled fit never trains on fewer rows than this

typedef struct {
    const learner_def *def;
    hp_domain hps[HPO_MAX_DIM];
    hpo_searcher *s;
} tune_learner;

typedef struct {
    int k;
    gh_dataset train[16], val[16];
} tune_folds;

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
            if (!def)
                return gh_fail(GH_EINVAL, "--learners: '%s' is not a learner of this build", p);
            if (!def->supports_task[task])
                return gh_fail(GH_EINVAL, "--learners: '%s' does not support %s", p,
                               gh_task_name(task));
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

typedef struct {
    double loss;          // mean validation loss over the folds; INFINITY when failed
    int rows;             // training rows per fold
    int stopped_early;
    const char *status;   // "ok", "failed", "timeout", "nan"
    char error[256];
} trial_outcome;

// One trial: fit on each fold's first `rows` training rows within the time left, score on
// its validation rows. FLAML's time limit for a sampled fit: half the time left, scaled by
// the sample fraction.
static int run_trial(const tune_folds *f, const learner_def *def, const double *cfg,
                     double fidelity, uint64_t seed, gh_metric metric, double deadline,
                     trial_outcome *out) {
    memset(out, 0, sizeof *out);
    out->status = "ok";
    double sum = 0;
    for (int i = 0; i < f->k; i++) {
        const gh_dataset *full = &f->train[i];
        int rows = (int)llround(fidelity * full->n);
        if (rows < TUNE_MIN_ROWS) rows = TUNE_MIN_ROWS;
        if (rows > full->n || fidelity >= 1) rows = full->n;
        out->rows = rows;
        gh_dataset view = *full;   // the first rows: x and y are row-major, so a prefix view
        view.n = rows;
        double left = deadline - now_s();
        if (left <= 0) {
            out->status = "timeout";
            out->loss = INFINITY;
            return GH_OK;
        }
        double limit = rows == full->n ? left : left / 2 * rows / full->n;
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
                        const trial_outcome *t, gh_metric metric, const cost_totals *c) {
    if (!led) return GH_OK;
    char *json = learner_cfg_json(def, cfg);
    if (!json) return gh_fail(GH_ENOMEM, "tune: config text of trial %lld", (long long)id);
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
    };
    if (metric == METRIC_ACCURACY && isfinite(t->loss)) lt.val_acc = 1 - t->loss;
    int st = ledger_append_trial(led, &lt);
    free(json);
    return st;
}

int tune_run(const gh_dataset *data, const tune_options *o, ledger *led, tune_result *out) {
    memset(out, 0, sizeof *out);
    out->best_loss = INFINITY;
    out->best_learner_index = -1;
    if (!(o->budget_s > 0)) return gh_fail(GH_EINVAL, "tune: budget %g s, expected > 0", o->budget_s);
    if (!o->searcher) return gh_fail(GH_EINVAL, "tune: no searcher");
    gh_task task = data->task;
    gh_metric metric = o->metric == METRIC_AUTO ? metric_default(task) : o->metric;

    const learner_def *defs[TUNE_MAX_LEARNERS];
    int n_learners = 0;
    int st = pick_learners(o->learners, task, defs, &n_learners);
    if (st) return st;

    double used = o->time_used_s > 0 ? o->time_used_s : 0;
    double t0 = now_s() - used, deadline = t0 + o->budget_s;
    resample_plan own = {0};
    const resample_plan *plan = o->plan;
    if (!plan) {
        int k = o->folds > 0 ? o->folds : resample_auto_k(data->n, data->d, o->budget_s);
        st = resample_make(&own, data, k, o->holdout_ratio, o->seed);
        if (st) return st;
        plan = &own;
    }
    tune_folds folds;
    st = folds_make(&folds, data, plan, o->seed);
    if (plan == &own) resample_free(&own);
    if (st) return st;

    // FLAML samples only with holdout; ASHA always has its rungs (down to a few dozen rows)
    int n_train = folds.train[0].n;
    double min_fid = o->min_sample_fraction > 0 && o->min_sample_fraction <= 1
                         ? o->min_sample_fraction
                         : (folds.k == 1 ? eci_min_sample_fraction(n_train) : 1.0);
    int is_asha = !strcmp(o->searcher, "asha");
    if (is_asha) min_fid = fmin(1.0, fmax(1.0 / 27, 100.0 / n_train));

    tune_learner L[TUNE_MAX_LEARNERS];
    memset(L, 0, sizeof L);
    double init_costs[TUNE_MAX_LEARNERS];
    for (int i = 0; i < n_learners && !st; i++) {
        L[i].def = defs[i];
        init_costs[i] = defs[i]->init_cost;
        if (defs[i]->n_hp > HPO_MAX_DIM) {
            st = gh_fail(GH_EINVAL, "tune: %s has %d hyperparameters (max %d)", defs[i]->name,
                         defs[i]->n_hp, HPO_MAX_DIM);
            break;
        }
        st = learner_space(defs[i], n_train, data->d, task, L[i].hps);
        if (!st && o->space_file) st = learner_space_override(defs[i], L[i].hps, o->space_file);
        if (st) break;
        hpo_options ho = {
            .seed = o->seed + 7919u * (uint64_t)(i + 1),
            .min_fidelity = min_fid,
            .fidelity_factor = is_asha ? 3.0 : (o->sample_factor > 1 ? o->sample_factor : 4.0),
            .cost_budget = o->budget_s,
        };
        st = hpo_create(&L[i].s, o->searcher, L[i].hps, defs[i]->n_hp, &ho);
    }
    eci_state eci = {0};
    if (!st) st = eci_init(&eci, init_costs, n_learners, n_train, o->seed);
    if (!st && o->verbose)
        printf("tune: %s, %d learners, %d-fold%s, %d training rows, metric %s, budget %.0f s%s\n",
               o->searcher, n_learners, folds.k, folds.k == 1 ? " (holdout)" : "", n_train,
               metric_name(metric), o->budget_s,
               min_fid < 1 ? ", growing sample sizes" : "");

    // an earlier session's trials: the best, ECI's state and the dedupe caches (--resume)
    for (int p = 0; p < o->n_prior && !st; p++) {
        const tune_prior *pr = &o->prior[p];
        int li = -1;
        for (int i = 0; i < n_learners; i++)
            if (L[i].def == pr->learner) li = i;
        if (li < 0) continue;
        double fid = pr->rows >= n_train ? 1.0 : (double)pr->rows / n_train;
        st = hpo_cache_put(&L[li].s->cache, hpo_signature(&L[li].s->space, pr->cfg, fid),
                           pr->loss, pr->seconds);
        eci_update(&eci, li, pr->loss, pr->seconds, pr->seconds, pr->rows);
        if (isfinite(pr->loss) && pr->loss < out->best_loss) {
            out->best_loss = pr->loss;
            out->best_learner_index = li;
            out->best_learner = pr->learner;
            memcpy(out->best_cfg, pr->cfg, sizeof pr->cfg);
            out->best_fidelity = fid;
            out->time_to_best_s = pr->at_s;
        }
        out->n_trials++;
    }
    if (!st && o->verbose && o->n_prior)
        printf("tune: resumed %d trials, %.1f s of the budget used, best loss %.4f\n", o->n_prior,
               used, out->best_loss);
    cost_meter *meter = cost_meter_create(gh_cuda_device_count() > 0 ? 1 : 0);
    cost_meter *phase = cost_meter_create(gh_cuda_device_count() > 0 ? 1 : 0);
    cost_meter_start(phase);
    int64_t trial_id = out->n_trials;
    while (!st) {
        double start = now_s();
        if (start >= deadline) break;
        int li = eci_select(&eci, deadline - start);
        if (li < 0) break;   // no learner can finish a trial in the time left
        tune_learner *tl = &L[li];
        hpo_trial t;
        int ask = hpo_ask(tl->s, &t);
        if (ask == HPO_STOP) {
            eci.l[li].disabled = 1;
            int any = 0;
            for (int i = 0; i < n_learners; i++) any |= !eci.l[i].disabled;
            if (!any) break;
            continue;
        }
        if (ask) {
            st = ask;
            break;
        }
        cost_meter_start(meter);
        double t_fit = now_s();
        trial_outcome r;
        st = run_trial(&folds, tl->def, t.cfg, t.fidelity, o->seed, metric, deadline, &r);
        if (st) break;
        double trial_s = now_s() - t_fit;
        cost_totals c = cost_meter_read(meter);
        st = hpo_tell(tl->s, &t, r.loss, trial_s);
        if (st) break;
        eci_update(&eci, li, r.loss, trial_s, now_s() - start, r.rows);
        st = record_trial(led, trial_id, tl->def, t.cfg, &r, metric, &c);
        if (st) break;
        double elapsed = now_s() - t0;
        if (isfinite(r.loss) && r.loss < out->best_loss) {
            out->best_loss = r.loss;
            out->best_learner_index = li;
            out->best_learner = tl->def;
            memcpy(out->best_cfg, t.cfg, sizeof t.cfg);
            out->best_fidelity = t.fidelity;
            out->time_to_best_s = elapsed;
            if (o->verbose) {
                char cfgtxt[512];
                hpo_cfg_format(&tl->s->space, t.cfg, cfgtxt, sizeof cfgtxt);
                printf("tune %7.1fs  trial %-4lld %-14s %s %.4f (loss %.4f)  rows %-6d  "
                       "ETA %.0fs  %s\n",
                       elapsed, (long long)trial_id, tl->def->name, metric_name(metric),
                       metric_value_from_loss(metric, r.loss), r.loss, r.rows,
                       fmax(0, deadline - now_s()), cfgtxt);
                fflush(stdout);
            }
        } else if (o->verbose && !strcmp(r.status, "failed")) {
            fprintf(stderr, "tune: trial %lld (%s) failed: %s\n", (long long)trial_id,
                    tl->def->name, r.error);
        }
        st = curve_push(out, elapsed, out->best_loss);
        out->n_trials = ++trial_id;
    }
    out->search_s = now_s() - t0;
    cost_totals search_cost = cost_meter_read(phase);
    if (!st && led) st = ledger_add_phase_cost(led, "search", &search_cost);

    if (!st && out->best_learner && o->refit) {
        // FLAML's retrain_full: the best config on every row, after the search
        cost_meter_start(phase);
        double r0 = now_s();
        int stopped = 0;
        st = learner_fit(out->best_learner, data, out->best_cfg, o->seed, 0, &out->model,
                         &stopped);
        out->refit_s = now_s() - r0;
        cost_totals final_cost = cost_meter_read(phase);
        if (!st && led) st = ledger_add_phase_cost(led, "final", &final_cost);
    }
    if (!st && led && out->best_learner) {
        char *json = learner_cfg_json(out->best_learner, out->best_cfg);
        char buf[1024];
        snprintf(buf, sizeof buf,
                 "{\"learner\": \"%s\", \"config\": %s, \"val_loss\": %.10g, \"metric\": \"%s\", "
                 "\"metric_value\": %.10g, \"sample_fraction\": %.6g, \"budget_s\": %.6g, "
                 "\"search_s\": %.6g, \"time_to_best_s\": %.6g, \"refit_s\": %.6g, "
                 "\"trials\": %lld, \"folds\": %d}",
                 out->best_learner->name, json ? json : "null", out->best_loss,
                 metric_name(metric), metric_value_from_loss(metric, out->best_loss),
                 out->best_fidelity, o->budget_s, out->search_s, out->time_to_best_s,
                 out->refit_s, (long long)out->n_trials, folds.k);
        free(json);
        st = ledger_put_text(led, "tune/best", buf);
    }
    cost_meter_destroy(meter);
    cost_meter_destroy(phase);
    for (int i = 0; i < n_learners; i++) hpo_destroy(L[i].s);
    eci_free(&eci);
    folds_free(&folds);
    return st;
}
