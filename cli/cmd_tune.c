// cli: `gpuhours tune DATA --target COL --budget S`: FLAML-style search over learners and
// their hyperparameters (CFO with ECI learner selection by default), or one of the baselines,
// or all of them in turn on the same split and budget; one HDF5 ledger per searcher and the
// refit best model saved for `gpuhours predict`. Trials run one at a time here, or several at
// once on worker processes (--workers N) or MPI ranks (mpirun -np N: rank 0 coordinates).
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist/dist.h"
#include "kernels/kernels.h"
#include "search/hpo/hpo.h"

typedef struct {
    const char *data, *target, *searcher, *learners, *space, *out, *model, *metric, *task;
    double budget_s, holdout;
    gh_metric metric_id;      // --metric parsed once (METRIC_AUTO: the task's default)
    uint64_t seed;
    int folds, quiet, resume;
    tune_retrain retrain;
    int workers;              // --workers N; 0: not given (1, or the ranks under mpirun)
} tune_config;

static void usage(FILE *f) {
    fprintf(f,
            "usage: gpuhours tune DATA [options]\n\n"
            "Searches learners and their hyperparameters on DATA (.csv or .arff) the way FLAML\n"
            "does (Wang et al., MLSys 2021): CFO local search per learner, learners chosen by\n"
            "estimated cost for improvement, growing sample sizes on large data. Prints a line per\n"
            "improvement; every trial and its cost goes to an HDF5 file; the best config is refit\n"
            "on all rows and saved for `gpuhours predict MODEL DATA`. The budget is wall time,\n"
            "the refit included by default: a trial whose unstoppable part (a forest, a linear\n"
            "solve, a first boosting round or epoch, for each fold) is estimated not to fit in\n"
            "the time left is not started (recorded as skipped).\n\n"
            "options:\n"
            "  -t, --target COL      target column (default: the last column)\n"
            "  -b, --budget S        search time budget in seconds, 1..1e7 (default 60)\n"
            "  -s, --searcher NAME   one of the searchers below (default cfo), or all (each in\n"
            "                        turn, same split and budget, one file each)\n"
            "  -l, --learners LIST   comma list of the learners below (default: every usable\n"
            "                        one that supports the task)\n"
            "  -m, --metric NAME     accuracy, log_loss, roc_auc, macro_f1, r2, rmse\n"
            "                        (default: roc_auc binary, log_loss multiclass, r2 regression)\n"
            "      --task TASK       binary, multiclass or regression (default: inferred from the\n"
            "                        target: nominal, text or true/false -> classification;\n"
            "                        numbers that are all integers with at most max(20, 1%% of\n"
            "                        the rows) distinct values -> multiclass (2 values: binary);\n"
            "                        other numbers -> regression; the echo says which rule\n"
            "                        applied, and a choice close to the limit is warned about)\n"
            "  -k, --folds K         1 = holdout, K-fold otherwise (default: FLAML's rule)\n"
            "      --holdout R       validation fraction of a holdout split (default 0.1)\n"
            "  -S, --seed N          seed of the split, the searchers and the learners, 0..2^53\n"
            "                        (default 1)\n"
            "      --space FILE      search-space overrides: LEARNER.HP = LO..HI [log],\n"
            "                        LEARNER.HP = VALUE, LEARNER.HP.init = VALUE\n"
            "  -o, --out FILE        results file (default results/tune-DATA-SEARCHER-TIME.h5;\n"
            "                        with --searcher all, -SEARCHER is added before .h5)\n"
            "      --model FILE      where the best model goes (default: the results file with\n"
            "                        .model for .h5)\n"
            "      --retrain WHEN    the refit of the best config on all rows (FLAML's\n"
            "                        retrain_full), the model `predict` uses:\n"
            "                        budget (default): counts against the budget: the search\n"
            "                        stops early enough for the refit's estimate (the best\n"
            "                        trial's seconds scaled to all rows) and the refit gets the\n"
            "                        time left as its limit (boosting rounds and epochs stop\n"
            "                        there, said on output); when it can neither fit nor stop,\n"
            "                        no model is written, said on stderr;\n"
            "                        always: refit after the search, unlimited: the run can\n"
            "                        exceed the budget by the refit;\n"
            "                        never: no refit and no model file (--model is refused)\n"
            "      --no-refit        the same as --retrain never\n"
            "      --resume          continue the run in --out: its trials count against the\n"
            "                        budget and its best is kept\n"
            "  -w, --workers N       run N trials at once in N worker processes on this machine,\n"
            "                        1..%d (default 1: one at a time in this process); the\n"
            "                        budget stays the wall time of the search\n"
            "  -q, --quiet           no progress lines\n"
            "  -h, --help            this help\n\n"
            "Across machines: `mpirun -np N gpuhours tune DATA ...` (or srun): rank 0 runs the\n"
            "searchers and writes the results file, ranks 1..N-1 run trials (so -np 3 gives 2\n"
            "workers), each reading DATA itself (the same file on every machine, checked); leave\n"
            "--workers out then. Every trial records the worker that ran it (trials.worker).\n\n"
            "searchers:\n", TUNE_MAX_WORKERS);
    int n;
    const hpo_method *m = hpo_methods(&n);
    for (int i = 0; i < n; i++) fprintf(f, "  %-12s %s\n", m[i].name, m[i].help);
    // every learner of the registry, so that one whose library is absent is listed as such
    fprintf(f, "\nlearners (name, initial cost relative to lgbm as FLAML's cost_relative2lgbm, tasks):\n");
    const learner_def *defs[32];
    int nl = learners_registered(defs, 32);
    for (int i = 0; i < nl && i < 32; i++) {
        const learner_def *d = defs[i];
        fprintf(f, "  %-14s %5g  %s%s%s\n", d->name, d->init_cost,
                d->supports_task[GH_TASK_BINARY] ? "binary " : "",
                d->supports_task[GH_TASK_MULTICLASS] ? "multiclass " : "",
                d->supports_task[GH_TASK_REGRESSION] ? "regression" : "");
        const char *why = learner_unavailable(d);
        if (why) fprintf(f, "  %-14s unavailable: %s\n", "", why);
    }
}

static const char *base_name(const char *path, char *buf, size_t n) {
    static const char *const exts[] = {".gz", ".arff", ".csv"};
    const char *b = strrchr(path, '/');
    snprintf(buf, n, "%s", b ? b + 1 : path);
    for (int i = 0; i < 3; i++) {
        size_t lb = strlen(buf), le = strlen(exts[i]);
        if (lb > le && !strcmp(buf + lb - le, exts[i])) buf[lb - le] = 0;
    }
    return buf;
}

static int parse_task(const char *s, gh_task *t) {
    if (!s) *t = GH_TASK_AUTO;
    else if (!strcmp(s, "binary")) *t = GH_TASK_BINARY;
    else if (!strcmp(s, "multiclass")) *t = GH_TASK_MULTICLASS;
    else if (!strcmp(s, "regression")) *t = GH_TASK_REGRESSION;
    else return gh_fail(GH_EINVAL, "--task: '%s', expected binary, multiclass or regression", s);
    return GH_OK;
}

static int parse_retrain(const char *s, tune_retrain *r) {
    for (tune_retrain k = TUNE_RETRAIN_NEVER; k <= TUNE_RETRAIN_ALWAYS; k++)
        if (!strcmp(s, tune_retrain_name(k))) {
            *r = k;
            return 0;
        }
    return -1;
}

static void config_text(const tune_config *c, const gh_dataset *data, const char *searcher,
                        const char *out, const char *model, char *buf, size_t n) {
    snprintf(buf, n,
             "data = %s\ntarget = %s\nsearcher = %s\nbudget_s = %g\nlearners = %s\n"
             "metric = %s\ntask = %s (%s)\nfolds = %d\nholdout = %g\nseed = %llu\nspace = %s\n"
             "out = %s\nmodel = %s\nretrain = %s\nresume = %d\nworkers = %d\n",
             c->data, c->target ? c->target : "(last column)", searcher, c->budget_s,
             c->learners ? c->learners : "(all for the task)", c->metric ? c->metric : "auto",
             gh_task_name(data->task), c->task ? "given by --task" : data->task_reason, c->folds,
             c->holdout, (unsigned long long)c->seed,
             c->space ? c->space : "(FLAML defaults)", out,
             c->retrain != TUNE_RETRAIN_NEVER ? model : "(none)", tune_retrain_name(c->retrain),
             c->resume, c->workers);
}

static int run_one(const tune_config *c, const char *searcher, const gh_dataset *data,
                   const resample_plan *plan, const char *dataset, const char *out_path,
                   const char *model_path, int argc, char **argv, tune_workers *pool,
                   tune_result *res) {
    char text[4096];
    config_text(c, data, searcher, out_path, model_path, text, sizeof text);
    if (!c->quiet) printf("%s", text);
    gh_metric metric = c->metric_id;
    ledger *led = NULL;
    tune_prior *prior = NULL;
    int n_prior = 0;
    double used = 0;
    int st;
    if (c->resume) {
        st = ledger_resume(&led, out_path);
        if (!st) st = tune_prior_read(led, &prior, &n_prior, &used);
    } else {
        ledger_run_info info = {.method = searcher, .dataset = dataset, .seed = c->seed,
                                .config_text = text, .argc = argc, .argv = argv,
                                .gpus = gh_cuda_device_count() > 0 ? 1 : 0,
                                .workers = pool ? tune_workers_count(pool) : 1,
                                .budget_s = c->budget_s};
        st = ledger_create(&led, out_path, &info);
    }
    if (st) {
        free(prior);
        if (led) ledger_close(led, "failed");
        return cli_fail("tune", st);
    }
    tune_options o = {
        .searcher = searcher, .learners = c->learners, .metric = metric,
        .budget_s = c->budget_s, .seed = c->seed, .folds = c->folds, .holdout_ratio = c->holdout,
        .space_file = c->space, .refit = c->retrain, .verbose = !c->quiet, .plan = plan,
        .prior = prior, .n_prior = n_prior, .time_used_s = used, .workers = pool,
    };
    st = tune_run(data, &o, led, res);
    free(prior);
    if (!st && res->model) {
        st = learner_save(res->model, model_path);
        if (!st) st = ledger_put_text(led, "tune/model_path", model_path);
    }
    ledger_close(led, st ? "failed" : "finished");
    if (st) return cli_fail("tune", st);
    if (!res->best_learner) {
        fprintf(stderr, "gpuhours tune: no trial finished within %g s (results in %s)\n",
                c->budget_s, out_path);
        return 1;
    }
    char cfgtxt[1024];
    hpo_space sp;
    hp_domain hps[HPO_MAX_DIM];
    learner_space(res->best_learner, plan->n_train ? plan->n_train : data->n, data->d, data->task,
                  hps);
    hpo_space_init(&sp, hps, res->best_learner->n_hp);
    hpo_cfg_format(&sp, res->best_cfg, cfgtxt, sizeof cfgtxt);
    gh_metric m = metric == METRIC_AUTO ? metric_default(data->task) : metric;
    printf("best learner: %s\nbest config: %s\nvalidation %s: %.5f (loss %.5f)\n"
           "trials: %lld in %.1f s (budget %.0f s), best found at %.1f s, refit %.1f s\n"
           "results: %s\n",
           res->best_learner->name, cfgtxt, metric_name(m), metric_value_from_loss(m, res->best_loss),
           res->best_loss, (long long)res->n_trials, res->search_s, c->budget_s,
           res->time_to_best_s, res->refit_s, out_path);
    if (res->n_workers > 1) {
        printf("workers: %d, trials by worker:", res->n_workers);
        for (int k = 1; k <= res->n_workers && k <= TUNE_MAX_WORKERS; k++)
            printf(" %lld", (long long)res->worker_trials[k]);
        printf("\n");
    }
    if (res->model) printf("model: %s\n", model_path);
    if (res->refit_stopped)
        printf("note: the refit of %s (estimated %.1f s) was stopped at the end of the budget "
               "with fewer rounds or epochs than its config; --retrain always fits it whole\n",
               res->best_learner->name, res->refit_est_s);
    if (res->refit_skipped)
        fprintf(stderr, "gpuhours tune: no model: the refit of %s (estimated %.1f s) did not fit "
                "in the %.1f s left of the %g s budget (or could not be stopped part way); "
                "--retrain always refits after the budget\n", res->best_learner->name,
                res->refit_est_s, fmax(0, c->budget_s - res->search_s), c->budget_s);
    return 0;
}

int cmd_tune(int argc, char **argv) {
    tune_config c = {.searcher = "cfo", .budget_s = 60, .seed = 1,
                     .retrain = TUNE_RETRAIN_BUDGET, .metric_id = METRIC_AUTO};
    enum { OPT_TASK = 256, OPT_HOLDOUT, OPT_SPACE, OPT_MODEL, OPT_NOREFIT, OPT_RESUME,
           OPT_RETRAIN };
    const pg_info *pg = pg_world();
    static const struct option longs[] = {
        {"target", required_argument, 0, 't'},   {"budget", required_argument, 0, 'b'},
        {"searcher", required_argument, 0, 's'}, {"learners", required_argument, 0, 'l'},
        {"metric", required_argument, 0, 'm'},   {"task", required_argument, 0, OPT_TASK},
        {"folds", required_argument, 0, 'k'},    {"holdout", required_argument, 0, OPT_HOLDOUT},
        {"seed", required_argument, 0, 'S'},     {"space", required_argument, 0, OPT_SPACE},
        {"out", required_argument, 0, 'o'},      {"model", required_argument, 0, OPT_MODEL},
        {"no-refit", no_argument, 0, OPT_NOREFIT}, {"resume", no_argument, 0, OPT_RESUME},
        {"retrain", required_argument, 0, OPT_RETRAIN},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {"workers", required_argument, 0, 'w'},
        {0, 0, 0, 0}};
    optind = 1;
    int opt, rc = 0;
    long lv;
    while ((opt = getopt_long(argc, argv, "t:b:s:l:m:k:S:o:w:qh", longs, NULL)) != -1) {
        switch (opt) {
        case 't': c.target = optarg; break;
        case 'b': rc = cli_double("tune", "--budget", optarg, 1, 1e7, &c.budget_s); break;
        case 's': c.searcher = optarg; break;
        case 'l': c.learners = optarg; break;
        case 'm': c.metric = optarg; break;
        case OPT_TASK: c.task = optarg; break;
        case 'k':
            rc = cli_int("tune", "--folds", optarg, 1, 16, &lv);
            c.folds = (int)lv;
            break;
        case OPT_HOLDOUT:
            rc = cli_double("tune", "--holdout", optarg, 0.001, 0.999, &c.holdout);
            break;
        case 'S': rc = cli_seed("tune", "--seed", optarg, &c.seed); break;
        case OPT_SPACE: c.space = optarg; break;
        case 'o': c.out = optarg; break;
        case OPT_MODEL: c.model = optarg; break;
        case OPT_NOREFIT: c.retrain = TUNE_RETRAIN_NEVER; break;
        case OPT_RETRAIN:
            if (parse_retrain(optarg, &c.retrain)) {
                fprintf(stderr, "gpuhours tune: --retrain '%s': expected always, budget or "
                        "never\n", optarg);
                return 2;
            }
            break;
        case OPT_RESUME: c.resume = 1; break;
        case 'w':
            rc = cli_int("tune", "--workers", optarg, 1, TUNE_MAX_WORKERS, &lv);
            c.workers = (int)lv;
            break;
        case 'q': c.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc) return rc;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "gpuhours tune: expected one DATA file\n\n");
        usage(stderr);
        return 2;
    }
    c.data = argv[optind];
    int all = !strcmp(c.searcher, "all");
    int n_methods;
    const hpo_method *methods = hpo_methods(&n_methods);
    if (!all && !hpo_method_find(c.searcher)) {
        fprintf(stderr, "gpuhours tune: --searcher '%s': expected ", c.searcher);
        for (int i = 0; i < n_methods; i++) fprintf(stderr, "%s%s", i ? ", " : "", methods[i].name);
        fprintf(stderr, " or all\n");
        return 2;
    }
    if (c.resume && !c.out) {
        fprintf(stderr, "gpuhours tune: --resume needs --out FILE (the run to continue)\n");
        return 2;
    }
    gh_task task = GH_TASK_AUTO;
    if (parse_task(c.task, &task)) return cli_fail("tune", GH_EINVAL);
    if (c.metric && metric_parse(c.metric, &c.metric_id)) {
        fprintf(stderr, "gpuhours tune: --metric: %s\n", gh_error_get());
        return 2;
    }
    if (pg->size > 1 && c.workers > 1) {
        fprintf(stderr, "gpuhours tune: --workers %d under a launcher of %d ranks: the ranks are "
                "the workers (%d here); leave --workers out\n", c.workers, pg->size,
                pg->size - 1);
        return 2;
    }
    int worker_rank = pg->size > 1 && pg->rank > 0;   // runs trials only: writes no file
    if (!worker_rank && c.out && cli_out_path("tune", "--out", c.out)) return 2;
    if (c.model && c.retrain == TUNE_RETRAIN_NEVER) {
        fprintf(stderr, "gpuhours tune: --model: no model is made with --retrain never\n");
        return 2;
    }
    if (!worker_rank && c.model && cli_out_path("tune", "--model", c.model)) return 2;

    gh_table table;
    int st = table_read(&table, c.data);
    if (st) return cli_fail("tune", st);
    gh_dataset data;
    st = dataset_from_table(&data, &table, c.target, task);
    table_free(&table);
    if (st) return cli_fail("tune", st);
    if (task == GH_TASK_AUTO && data.task_warning[0])
        fprintf(stderr, "gpuhours tune: warning: %s\n", data.task_warning);
    // every argument checked against the data before a run file exists
    tune_options chk = {.searcher = all ? methods[0].name : c.searcher, .learners = c.learners,
                        .metric = c.metric_id, .budget_s = c.budget_s};
    if ((st = tune_validate(&data, &chk))) {
        dataset_free(&data);
        return cli_fail("tune", st);
    }
    // one split for every searcher, so `all` compares them on identical data
    resample_plan plan;
    int k = c.folds ? c.folds : resample_auto_k(data.n, data.d, c.budget_s);
    st = resample_make(&plan, &data, k, c.holdout, c.seed);
    if (st) {
        dataset_free(&data);
        return cli_fail("tune", st);
    }
    // the workers: forked now, before any learner or CUDA has run in this process; their folds
    // come from the same plan and seed as every run's
    tune_options pool_o = {.plan = &plan, .seed = c.seed, .budget_s = c.budget_s,
                           .verbose = !c.quiet && !worker_rank};
    tune_workers *pool = NULL;
    if (worker_rank) {
        st = tune_worker_serve(&data, &pool_o);
        resample_free(&plan);
        dataset_free(&data);
        return st ? cli_fail("tune", st) : 0;
    }
    if ((pg->size > 1 || c.workers > 1) && (st = tune_workers_open(&pool, &data, &pool_o,
                                                                   c.workers))) {
        resample_free(&plan);
        dataset_free(&data);
        return cli_fail("tune", st);
    }
    c.workers = pool ? tune_workers_count(pool) : 1;
    char dataset[256], stamp[32], base[1024];
    base_name(c.data, dataset, sizeof dataset);
    gh_utc_iso8601(stamp);
    int n_runs = all ? n_methods : 1;
    tune_result *results = calloc((size_t)n_runs, sizeof *results);
    const char **ran = calloc((size_t)n_runs, sizeof *ran);
    if (!results || !ran) {
        free(results);
        free(ran);
        tune_workers_close(pool);
        resample_free(&plan);
        dataset_free(&data);
        return cli_fail("tune", gh_fail(GH_ENOMEM, "tune: %d results", n_runs));
    }
    int n_ran = 0;
    for (int i = 0; i < n_runs && rc == 0; i++) {
        const char *searcher = all ? methods[i].name : c.searcher;
        char out_path[1200], model_path[1200];
        if (c.out) {
            snprintf(base, sizeof base, "%s", c.out);
            size_t lb = strlen(base);
            if (lb > 3 && !strcmp(base + lb - 3, ".h5")) base[lb - 3] = 0;
            if (all) snprintf(out_path, sizeof out_path, "%s-%s.h5", base, searcher);
            else snprintf(out_path, sizeof out_path, "%s.h5", base);
        } else {
            snprintf(base, sizeof base, "results/tune-%s-%s-%s", dataset, searcher, stamp);
            snprintf(out_path, sizeof out_path, "%s.h5", base);
        }
        if (c.model && !all) snprintf(model_path, sizeof model_path, "%s", c.model);
        else snprintf(model_path, sizeof model_path, "%.*s.model", (int)(strlen(out_path) - 3),
                      out_path);
        rc = run_one(&c, searcher, &data, &plan, dataset, out_path, model_path, argc, argv, pool,
                     &results[n_ran]);
        ran[n_ran++] = searcher;
    }
    if (all && rc == 0) {
        gh_metric m = c.metric_id == METRIC_AUTO ? metric_default(data.task) : c.metric_id;
        printf("\n%-12s %-14s %10s %10s %8s %10s\n", "searcher", "best learner", metric_name(m),
               "val loss", "trials", "to best s");
        for (int i = 0; i < n_ran; i++)
            printf("%-12s %-14s %10.5f %10.5f %8lld %10.1f\n", ran[i],
                   results[i].best_learner ? results[i].best_learner->name : "-",
                   metric_value_from_loss(m, results[i].best_loss), results[i].best_loss,
                   (long long)results[i].n_trials, results[i].time_to_best_s);
    }
    for (int i = 0; i < n_ran; i++) tune_result_free(&results[i]);
    free(results);
    free(ran);
    if ((st = tune_workers_close(pool)) && rc == 0) rc = cli_fail("tune", st);
    resample_free(&plan);
    dataset_free(&data);
    return rc;
}
