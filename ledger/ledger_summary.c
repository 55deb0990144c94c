// ledger: the summary of one run (result trial, accuracy, GPU-hours by phase, energy) that ls,
// plot and report all show, so that the three never disagree on what a run achieved.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "ledger_internal.h"

int ledger_summarize(ledger *l, ledger_summary *s) {
    memset(s, 0, sizeof *s);
    s->chosen = -1;
    s->acc = s->params = s->madds = s->energy_j = NAN;
    const char *g = ledger_attr(l, "gpus_held");
    s->gpus = g ? atoi(g) : 0;
    const char *b = ledger_attr(l, "budget_s");
    s->budget_s = b ? strtod(b, NULL) : NAN;
    s->trials = ledger_num_trials(l);

    // The result. Test accuracy is measured only on final models (a NAS run's final trainings,
    // one per seed), never used to choose: when trials carry one, the result is their mean.
    // Otherwise the trial with the best validation accuracy is chosen (ties: the later one,
    // more training).
    int n_test = 0;
    double test_sum = 0.0;
    ledger_trial t;
    for (int64_t i = 0; i < s->trials; i++)
        if (ledger_read_trial(l, i, &t) == GH_OK && !strcmp(t.status, "ok") &&
            isfinite(t.test_acc)) {
            n_test++;
            test_sum += t.test_acc;
        }
    double best = -INFINITY;
    cost_totals trial_sum = {0, 0, 0, NAN, NAN, 0};
    for (int64_t i = 0; i < s->trials; i++) {
        if (ledger_read_trial(l, i, &t)) return gh_fail(GH_EFORMAT, "%s: trial %lld unreadable",
                                                       ledger_path(l), (long long)i);
        trial_sum = cost_add(trial_sum, t.cost);
        if (strcmp(t.status, "ok")) continue;
        double key = n_test ? (isfinite(t.test_acc) ? 0.0 : NAN) : t.val_acc;
        if (isfinite(key) && key >= best) {
            best = key;
            s->chosen = i;
        }
    }
    if (s->chosen >= 0) {
        ledger_read_trial(l, s->chosen, &t);
        s->acc_is_test = n_test > 0;
        s->acc = n_test ? test_sum / n_test : t.val_acc;
        s->params = t.params;
        s->madds = t.madds;
    }
    cost_totals c;
    if (ledger_phase_cost(l, NULL, &c) > 0) {
        s->gpu_hours = c.device_s / 3600;
        s->wall_hours = c.wall_s / 3600;
        s->energy_j = c.energy_j;
        ledger_phase_cost(l, "search", &c);
        s->search_gpu_hours = c.device_s / 3600;
        s->search_wall_hours = c.wall_s / 3600;
        ledger_phase_cost(l, "selection", &c);
        s->selection_gpu_hours = c.device_s / 3600;
        ledger_phase_cost(l, "final", &c);
        s->final_gpu_hours = c.device_s / 3600;
        s->final_wall_hours = c.wall_s / 3600;
    } else {
        s->gpu_hours = s->search_gpu_hours = trial_sum.device_s / 3600;
        s->wall_hours = s->search_wall_hours = trial_sum.wall_s / 3600;
        s->energy_j = trial_sum.energy_j;
    }
    return GH_OK;
}
