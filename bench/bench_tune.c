// bench_tune: every HPO searcher, several seeds, on the embedded Weka datasets; the best
// validation loss within 10%, 30% and 100% of a reference budget (read off each run's
// best-so-far curve, or separate runs with --separate), the fraction of random search's
// full-budget score that CFO reaches at 10%, and the budget promise: each tune_run's wall time
// (setup to the end of the final refit) against its budget, the worst overrun per dataset and
// searcher checked against max(1 s, 5%). Writes a CSV, prints tables, and with --write-splits
// the exact splits (and a manifest) that bench/peer_flaml.py runs FLAML on.
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "ledger/ledger.h"
#include "search/hpo/hpo.h"

#define MAX_SETS 32
#define MAX_SEARCHERS 8
#define MAX_SEEDS 16
static const double fracs[3] = {0.1, 0.3, 1.0};

typedef struct {
    const char *data_dir, *csv, *splits_dir, *learners;
    const char *keep_dir;     // --keep: every run's results file (trials, their seconds) here
    char datasets[2048], searchers[256];
    int seeds, separate, write_splits;
    int retrain;              // tune_options.refit: 0 never, 1 budget, 2 always
    double budget;
} bench_config;


// -D all: every .arff file of dir, sorted by name, as a comma list.
static int list_all_sets(const char *dir, char *buf, size_t n) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    char *names[MAX_SETS * 4];
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) && k < MAX_SETS * 4) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".arff")) {
            names[k] = strndup(e->d_name, len - 5);
            if (names[k]) k++;
        }
    }
    closedir(d);
    for (int i = 1; i < k; i++)   // insertion sort by name
        for (int j = i; j > 0 && strcmp(names[j], names[j - 1]) < 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < k; i++) {
        if (len < n) len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "", names[i]);
        free(names[i]);
    }
    return k;
}

// The learners of the list (or every learner of this build, "all") that support the task, as
// a comma list: a regression set drops the classifiers (lrl1, lrl2) and keeps the rest.
static int learners_for_task(const char *list, gh_task task, char *buf, size_t n) {
    const learner_def *defs[32];
    int k = learners_list(defs, 32, task);
    size_t len = 0;
    int used = 0;
    buf[0] = 0;
    for (int i = 0; i < k && i < 32; i++) {
        int want = !strcmp(list, "all");
        if (!want) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", list);
            for (char *p = strtok(tmp, ","); p && !want; p = strtok(NULL, ","))
                want = !strcmp(p, defs[i]->name);
        }
        if (want && len < n) {
            len += (size_t)snprintf(buf + len, n - len, "%s%s", used ? "," : "", defs[i]->name);
            used++;
        }
    }
    return used;
}

// The registry's searchers as a comma list: the default of --searchers.
static void searcher_list(char *buf, size_t n) {
    int k;
    const hpo_method *m = hpo_methods(&k);
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < k && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "", m[i].name);
}

static void usage(FILE *f, const char *all_searchers) {
    fprintf(f,
            "usage: bench_tune [options]\n\n"
            "Runs each searcher with several seeds on the Weka datasets (data/weka.sh puts them\n"
            "in .data/weka) at a reference budget and reports the best validation loss within\n"
            "10%%, 30%% and 100%% of it, and the fraction of random search's full-budget score\n"
            "that CFO reaches at 10%%. Every searcher sees the same split per (dataset, seed).\n\n"
            "options:\n"
            "  -d, --data-dir DIR     ARFF directory (default $GH_DATA_DIR or .data/weka)\n"
            "  -D, --datasets LIST    default credit-g,diabetes,ionosphere,segment-challenge;\n"
            "                         all: every .arff of the data directory (those that cannot\n"
            "                         be tuned, e.g. text-only sets, are skipped with a note)\n"
            "  -s, --searchers LIST   default %s\n"
            "  -n, --seeds N          seeds 1..N (default 2)\n"
            "  -b, --budget S         reference (100%%) budget per run in seconds (default 6)\n"
            "  -l, --learners LIST    default lgbm,rf,xgboost,extra_tree,xgb_limitdepth,lrl1,lrl2\n"
            "                         (FLAML's default estimator list without catboost, its\n"
            "                         order, plus lrl1/lrl2; lgbm, extra_tree need make deps);\n"
            "                         all: every learner of the task (tune's default); those\n"
            "                         without the dataset's task are left out per dataset\n"
            "      --retrain WHEN     always, budget or never (tune --retrain; default never:\n"
            "                         the search alone, as the loss tables compare searchers)\n"
            "      --keep DIR         keep every run's results file in DIR (its trials with\n"
            "                         their seconds and status, for `gpuhours ls`): where an\n"
            "                         overrun's time went\n"
            "      --separate         a separate run per budget instead of one run's curve\n"
            "      --write-splits DIR write each (dataset, seed) split as CSV + manifest.csv\n"
            "  -o, --csv FILE         results (default results/bench_tune.csv)\n"
            "  -h, --help             this help\n\n"
            "Default run: 4 datasets x 6 searchers x 2 seeds x 6 s, about 5 minutes.\n"
            "Every run's wall time (tune_run from start to end, the final refit included) is\n"
            "checked against its budget: the worst overrun per dataset and searcher, PASS when\n"
            "at most max(1 s, 5%% of the budget).\n",
            all_searchers);
}

static int split_list(char *s, char **out, int max) {
    int n = 0;
    for (char *p = strtok(s, ","); p && n < max; p = strtok(NULL, ",")) out[n++] = p;
    return n;
}

// Higher-is-better score for the "fraction of the score" ratio. Loss-type metrics use
// exp(-loss): for log_loss that is the geometric mean probability given to the true class, so
// the ratio still reads "1 = as good, < 1 = worse".
static double score_of(gh_metric m, double loss) {
    if (m == METRIC_LOGLOSS || m == METRIC_RMSE) return exp(-loss);
    return metric_value_from_loss(m, loss);
}

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

// One row per example: the features (nominal ones by level text, missing empty), the target
// by class name or value, and the fold (holdout: 0 train, 1 validation).
static int write_split(const char *path, const gh_dataset *ds, const resample_plan *plan) {
    FILE *f = fopen(path, "w");
    if (!f) return gh_fail(GH_EIO, "cannot write %s", path);
    for (int j = 0; j < ds->d; j++) {
        csv_field(f, ds->feat_names[j]);
        fputc(',', f);
    }
    fputs("__target,__fold\n", f);
    for (int i = 0; i < ds->n; i++) {
        for (int j = 0; j < ds->d; j++) {
            float v = ds->x[(size_t)i * ds->d + j];
            if (!isnan(v)) {
                if (ds->feat_levels[j] > 0 && ds->level_names && ds->level_names[j])
                    csv_field(f, ds->level_names[j][(int)v]);
                else
                    fprintf(f, "%.9g", v);
            }
            fputc(',', f);
        }
        if (ds->task == GH_TASK_REGRESSION) fprintf(f, "%.9g", ds->y[i]);
        else csv_field(f, ds->class_names[(int)ds->y[i]]);
        fprintf(f, ",%d\n", plan->fold[i]);
    }
    if (fclose(f)) return gh_fail(GH_EIO, "writing %s failed", path);
    return GH_OK;
}

// best loss of a curve at time t (INFINITY before the first result)
static double best_at(const tune_result *r, double t) {
    double best = INFINITY;
    for (int i = 0; i < r->n_curve && r->curve_t[i] <= t; i++) best = r->curve_loss[i];
    return best;
}

// The worst overrun of one (dataset, searcher) over its seeds (and budgets with --separate),
// with what the process got of the machine meanwhile: its CPU seconds (the search runs one trial
// at a time, so wall - cpu is time spent waiting for a core or blocked) and major page faults
// (blocked on the disk: a machine short of memory evicts the libraries' pages).
typedef struct {
    double over, wall, budget, search, refit, cpu;
    long majflt;
    int seed;
} overrun;

static void usage_now(double *cpu_s, long *majflt) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    *cpu_s = u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
             u.ru_stime.tv_usec * 1e-6;
    *majflt = u.ru_majflt;
}

// The budget promise per dataset and searcher: the worst run's wall time, search and refit
// seconds, and PASS/FAIL against max(1 s, 5%); a line with the overall verdict.
static void print_overruns(char **sets, int n_sets, char **searchers, int n_s,
                           overrun ov[MAX_SETS][MAX_SEARCHERS], const int *skipped,
                           const char *retrain) {
    printf("\nwall time vs budget (tune_run start to end, --retrain %s), the worst run per dataset "
           "and searcher; allowed overrun max(1 s, 5%%); cpu: the process's CPU seconds in that "
           "run (wall - cpu: waiting for a core or blocked), majflt: its major page faults\n",
           retrain);
    printf("%-18s %-12s %8s %8s %8s %8s %9s %5s %7s %7s %s\n", "dataset", "searcher", "budget",
           "wall", "search", "refit", "overrun", "seed", "cpu", "majflt", "check");
    int fails = 0, runs = 0;
    double worst = -INFINITY;
    for (int d = 0; d < n_sets; d++) {
        if (skipped[d]) continue;
        for (int s = 0; s < n_s; s++) {
            const overrun *o = &ov[d][s];
            int pass = o->over <= tune_budget_tolerance(o->budget);
            fails += !pass;
            runs++;
            if (o->over > worst) worst = o->over;
            printf("%-18s %-12s %8.1f %8.2f %8.2f %8.2f %+9.2f %5d %7.2f %7ld %s\n", sets[d],
                   searchers[s], o->budget, o->wall, o->search, o->refit, o->over, o->seed, o->cpu,
                   o->majflt, pass ? "PASS" : "FAIL");
        }
    }
    printf("budget promise: %s (%d of %d dataset x searcher cells within max(1 s, 5%%); worst "
           "overrun %+.2f s)\n", fails ? "FAIL" : "PASS", runs - fails, runs, worst);
}

int main(int argc, char **argv) {
    bench_config c = {.csv = "results/bench_tune.csv", .seeds = 2, .budget = 6,
                      .learners = "lgbm,rf,xgboost,extra_tree,xgb_limitdepth,lrl1,lrl2",
                      .retrain = 0};
    snprintf(c.datasets, sizeof c.datasets, "credit-g,diabetes,ionosphere,segment-challenge");
    searcher_list(c.searchers, sizeof c.searchers);
    char all_searchers[sizeof c.searchers];
    snprintf(all_searchers, sizeof all_searchers, "%s", c.searchers);
    c.data_dir = getenv("GH_DATA_DIR") ? getenv("GH_DATA_DIR") : ".data/weka";
    static const char *const retrain_names[] = {"never", "budget", "always"};
    enum { OPT_RETRAIN = 256, OPT_KEEP };
    static const struct option longs[] = {
        {"data-dir", required_argument, 0, 'd'}, {"datasets", required_argument, 0, 'D'},
        {"searchers", required_argument, 0, 's'}, {"seeds", required_argument, 0, 'n'},
        {"budget", required_argument, 0, 'b'},   {"learners", required_argument, 0, 'l'},
        {"separate", no_argument, 0, 'S'},       {"write-splits", required_argument, 0, 'W'},
        {"retrain", required_argument, 0, OPT_RETRAIN}, {"keep", required_argument, 0, OPT_KEEP},
        {"csv", required_argument, 0, 'o'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int opt, all_sets = 0;
    while ((opt = getopt_long(argc, argv, "d:D:s:n:b:l:o:h", longs, NULL)) != -1) {
        switch (opt) {
        case 'd': c.data_dir = optarg; break;
        case 'D':
            all_sets = !strcmp(optarg, "all");
            snprintf(c.datasets, sizeof c.datasets, "%s", optarg);
            break;
        case 's': snprintf(c.searchers, sizeof c.searchers, "%s", optarg); break;
        case 'n': c.seeds = atoi(optarg); break;
        case 'b': c.budget = atof(optarg); break;
        case 'l': c.learners = optarg; break;
        case 'S': c.separate = 1; break;
        case 'W': c.splits_dir = optarg; c.write_splits = 1; break;
        case OPT_RETRAIN:
            c.retrain = -1;
            for (int i = 0; i < 3; i++)
                if (!strcmp(optarg, retrain_names[i])) c.retrain = i;
            if (c.retrain < 0) {
                fprintf(stderr, "bench_tune: --retrain '%s': expected always, budget or never\n",
                        optarg);
                return 2;
            }
            break;
        case 'o': c.csv = optarg; break;
        case OPT_KEEP: c.keep_dir = optarg; break;
        case 'h': usage(stdout, all_searchers); return 0;
        default: usage(stderr, all_searchers); return 2;
        }
    }
    if (c.seeds < 1 || c.seeds > MAX_SEEDS || !(c.budget > 0)) {
        fprintf(stderr, "bench_tune: --seeds 1..%d and --budget > 0\n", MAX_SEEDS);
        return 2;
    }
    if (all_sets && list_all_sets(c.data_dir, c.datasets, sizeof c.datasets) <= 0) {
        fprintf(stderr, "bench_tune: no .arff files in %s (run data/weka.sh)\n", c.data_dir);
        return 1;
    }
    printf("bench_tune: datasets %s; searchers %s; seeds 1..%d; reference budget %.1f s (%s); "
           "learners %s; retrain %s\n", c.datasets, c.searchers, c.seeds, c.budget,
           c.separate ? "separate runs per budget" : "read off the best-so-far curve",
           c.learners, retrain_names[c.retrain]);
    char *sets[MAX_SETS], *searchers[MAX_SEARCHERS];
    int n_sets = split_list(c.datasets, sets, MAX_SETS);
    int n_s = split_list(c.searchers, searchers, MAX_SEARCHERS);
    int cfo_i = -1, random_i = -1;
    for (int s = 0; s < n_s; s++) {
        if (!strcmp(searchers[s], "cfo")) cfo_i = s;
        if (!strcmp(searchers[s], "random")) random_i = s;
    }
    FILE *csv = fopen(c.csv, "w");
    if (!csv) {
        fprintf(stderr, "bench_tune: cannot write %s (does its directory exist?)\n", c.csv);
        return 1;
    }
    fprintf(csv, "dataset,searcher,seed,budget_frac,budget_s,best_val_loss,metric,score,"
                 "trials,folds,run_budget_s,wall_s,search_s,refit_s,overrun_s,cpu_s,majflt\n");
    FILE *manifest = NULL;
    if (c.write_splits) {
        mkdir(c.splits_dir, 0755);
        char mp[1024];
        snprintf(mp, sizeof mp, "%s/manifest.csv", c.splits_dir);
        manifest = fopen(mp, "w");
        if (!manifest) {
            fprintf(stderr, "bench_tune: cannot write %s\n", mp);
            return 1;
        }
        fprintf(manifest, "dataset,seed,file,task,metric,folds,budget_s,learners\n");
    }
    // loss[set][searcher][seed][frac]
    static double loss[MAX_SETS][MAX_SEARCHERS][MAX_SEEDS][3];
    static overrun ov[MAX_SETS][MAX_SEARCHERS];
    gh_metric metrics[MAX_SETS];
    int skipped[MAX_SETS] = {0};
    int runs_total = n_sets * n_s * c.seeds * (c.separate ? 3 : 1), runs_done = 0;
    double t_start = gh_wall_seconds();
    for (int d = 0; d < n_sets; d++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.arff", c.data_dir, sets[d]);
        gh_table table;
        int st = table_read(&table, path);
        if (st) {
            fprintf(stderr, "bench_tune: %s: %s (run data/weka.sh to fetch the Weka sets)\n",
                    path, gh_error_get());
            return 1;
        }
        gh_dataset ds;
        st = dataset_from_table(&ds, &table, NULL, GH_TASK_AUTO);
        table_free(&table);
        char learners[512] = "";
        if (!st && !learners_for_task(c.learners, ds.task, learners, sizeof learners)) {
            dataset_free(&ds);
            st = gh_fail(GH_EINVAL, "none of the learners %s supports %s", c.learners,
                         gh_task_name(ds.task));
        }
        if (st) {
            // -D all takes what it finds: a set that cannot be tuned is skipped, not fatal
            fprintf(stderr, "bench_tune: %s: %s%s\n", path, gh_error_get(),
                    all_sets ? " (skipped)" : "");
            if (!all_sets) return 1;
            skipped[d] = 1;
            runs_total -= n_s * c.seeds * (c.separate ? 3 : 1);
            continue;
        }
        metrics[d] = metric_default(ds.task);
        for (int s = 0; s < n_s; s++) ov[d][s].over = -INFINITY;
        for (int seed = 1; seed <= c.seeds; seed++) {
            resample_plan plan;
            int k = resample_auto_k(ds.n, ds.d, c.budget);
            st = resample_make(&plan, &ds, k, 0, (uint64_t)seed);
            if (st) {
                fprintf(stderr, "bench_tune: %s: %s\n", sets[d], gh_error_get());
                return 1;
            }
            if (manifest) {
                char sp[1024];
                snprintf(sp, sizeof sp, "%s/%s-seed%d.csv", c.splits_dir, sets[d], seed);
                if (write_split(sp, &ds, &plan)) {
                    fprintf(stderr, "bench_tune: %s\n", gh_error_get());
                    return 1;
                }
                fprintf(manifest, "%s,%d,%s-seed%d.csv,%s,%s,%d,%g,\"%s\"\n", sets[d], seed,
                        sets[d], seed, gh_task_name(ds.task), metric_name(metrics[d]), plan.k,
                        c.budget, learners);
            }
            for (int s = 0; s < n_s; s++) {
                for (int f = 0; f < (c.separate ? 3 : 1); f++) {
                    double budget = c.separate ? c.budget * fracs[f] : c.budget;
                    tune_options o = {.searcher = searchers[s], .learners = learners,
                                      .metric = METRIC_AUTO, .budget_s = budget,
                                      .seed = (uint64_t)seed, .plan = &plan,
                                      .refit = c.retrain};
                    tune_result r;
                    ledger *led = NULL;
                    if (c.keep_dir) {
                        // outside the timed span: the file's creation is not the run's cost
                        char kp[1024];
                        snprintf(kp, sizeof kp, "%s/%s-%s-seed%d-b%g.h5", c.keep_dir, sets[d],
                                 searchers[s], seed, budget);
                        ledger_run_info info = {.method = searchers[s], .dataset = sets[d],
                                                .seed = (uint64_t)seed, .config_text = "",
                                                .argc = argc, .argv = argv, .workers = 1,
                                                .budget_s = budget};
                        if (ledger_create(&led, kp, &info)) {
                            fprintf(stderr, "bench_tune: %s\n", gh_error_get());
                            return 1;
                        }
                    }
                    double cpu0, cpu1;
                    long flt0, flt1;
                    usage_now(&cpu0, &flt0);
                    double t0 = gh_wall_seconds();
                    st = tune_run(&ds, &o, led, &r);
                    double wall = gh_wall_seconds() - t0;
                    usage_now(&cpu1, &flt1);
                    if (led) ledger_close(led, st ? "failed" : "finished");
                    if (st) {
                        fprintf(stderr, "bench_tune: %s %s seed %d: %s\n", sets[d],
                                searchers[s], seed, gh_error_get());
                        return 1;
                    }
                    double over = wall - budget;
                    if (over > ov[d][s].over)
                        ov[d][s] = (overrun){over,      wall,        budget,      r.search_s,
                                             r.refit_s, cpu1 - cpu0, flt1 - flt0, seed};
                    for (int g = 0; g < 3; g++) {
                        if (c.separate && g != f) continue;
                        double b = c.budget * fracs[g];
                        double l = c.separate ? r.best_loss : best_at(&r, b);
                        loss[d][s][seed - 1][g] = l;
                        fprintf(csv, "%s,%s,%d,%.2f,%.3f,%.6g,%s,%.6g,%lld,%d,%.3f,%.3f,%.3f,"
                                "%.3f,%.3f,%.3f,%ld\n", sets[d], searchers[s], seed, fracs[g], b,
                                l, metric_name(metrics[d]), score_of(metrics[d], l),
                                (long long)r.n_trials, plan.k, budget, wall, r.search_s,
                                r.refit_s, over, cpu1 - cpu0, flt1 - flt0);
                    }
                    fflush(csv);
                    runs_done++;
                    double el = gh_wall_seconds() - t_start;
                    printf("  [%3d/%d] %-18s %-12s seed %d  best loss %.4f  %4lld trials  "
                           "wall %.2f s (%+.2f)  ETA %.0f s\n", runs_done, runs_total, sets[d],
                           searchers[s], seed, r.best_loss, (long long)r.n_trials, wall, over,
                           el / runs_done * (runs_total - runs_done));
                    fflush(stdout);
                    tune_result_free(&r);
                }
            }
            resample_free(&plan);
        }
        dataset_free(&ds);
    }
    fclose(csv);
    if (manifest) fclose(manifest);

    printf("\nbest validation loss, mean over %d seeds (metric: roc_auc loss = 1 - AUC, "
           "log_loss as is, r2 loss = 1 - R2)\n", c.seeds);
    printf("%-18s %-12s %10s %10s %10s\n", "dataset", "searcher", "10%", "30%", "100%");
    for (int d = 0; d < n_sets; d++)
        for (int s = 0; s < n_s && !skipped[d]; s++) {
            printf("%-18s %-12s", sets[d], searchers[s]);
            for (int g = 0; g < 3; g++) {
                double m = 0;
                for (int k = 0; k < c.seeds; k++) m += loss[d][s][k][g] / c.seeds;
                printf(" %10.4f", m);
            }
            printf("\n");
        }
    if (cfo_i >= 0 && random_i >= 0) {
        printf("\nCFO at 10%% of the budget vs random search at 100%% (score = metric value, or "
               "exp(-loss) for log_loss; mean over seeds)\n");
        printf("%-18s %-10s %12s %12s %10s\n", "dataset", "metric", "cfo@10%", "random@100%",
               "fraction");
        double gm = 0;
        int n_gm = 0;
        for (int d = 0; d < n_sets; d++) {
            if (skipped[d]) continue;
            double a = 0, b = 0;
            for (int k = 0; k < c.seeds; k++) {
                a += score_of(metrics[d], loss[d][cfo_i][k][0]) / c.seeds;
                b += score_of(metrics[d], loss[d][random_i][k][2]) / c.seeds;
            }
            printf("%-18s %-10s %12.4f %12.4f %10.3f\n", sets[d], metric_name(metrics[d]), a, b,
                   a / b);
            if (a > 0 && b > 0) {
                gm += log(a / b);
                n_gm++;
            }
        }
        printf("geometric mean fraction: %.3f\n", n_gm ? exp(gm / n_gm) : NAN);
    }
    print_overruns(sets, n_sets, searchers, n_s, ov, skipped, retrain_names[c.retrain]);
    printf("csv: %s\n", c.csv);
    return 0;
}
