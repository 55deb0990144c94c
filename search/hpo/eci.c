// eci: learner selection by estimated cost for improvement (Wang, Wu, Weimer, Zhu, MLSys
// 2021, sec. 3; flaml/automl AutoML._select_estimator and state.py SearchState). Untried
// learners are ranked by their initial relative cost scaled by the first learner's measured
// ECI; tried ones are sampled with probability proportional to 1/ECI. Also FLAML's rule for
// when training on a growing sample (MIN_SAMPLE_TRAIN rows, x4) is worth it.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpo.h"

#define ECI_MIN_SAMPLE_TRAIN 10000.0   // flaml/config.py MIN_SAMPLE_TRAIN
#define ECI_SAMPLE_MULTIPLY 4.0        // SAMPLE_MULTIPLY_FACTOR

int eci_init(eci_state *e, const double *init_costs, int n, double data_size, uint64_t seed) {
    memset(e, 0, sizeof *e);
    if (n < 1) return gh_fail(GH_EINVAL, "eci: no learners");
    e->l = calloc((size_t)n, sizeof *e->l);
    e->eci = calloc((size_t)n, sizeof *e->eci);
    if (!e->l || !e->eci) {
        eci_free(e);
        return gh_fail(GH_ENOMEM, "eci: %d learners", n);
    }
    e->n = n;
    for (int i = 0; i < n; i++) {
        eci_learner *l = &e->l[i];
        l->init_eci = init_costs[i] > 0 ? init_costs[i] : 1.0;
        l->best_loss = l->best_loss_old = INFINITY;
    }
    e->best_loss = INFINITY;
    e->best = -1;
    e->data_size = data_size;
    e->sample_factor = ECI_SAMPLE_MULTIPLY;
    gh_rng_seed(&e->rng, seed, GH_STREAM_SEARCH + 300);
    return GH_OK;
}

void eci_free(eci_state *e) {
    free(e->l);
    free(e->eci);
    e->l = NULL;
    e->eci = NULL;
    e->n = 0;
}

// SearchState.estimated_cost4improvement
static double eci_base(const eci_learner *l) {
    return fmax(l->time_best_found - l->time_best_found_old, l->total_time_used - l->time_best_found);
}

double eci_estimated_cost(const eci_state *e, int i) {
    const eci_learner *l = &e->l[i];
    if (!l->tried) return e->eci[i];
    double est = eci_base(l);
    if (l->sample_size < e->data_size)   // retraining at the next sample size bounds the cost
        est = fmin(est, l->time2eval_best * fmin(e->sample_factor, e->data_size / l->sample_size));
    double gap = l->best_loss - e->best_loss;
    if (gap > 0) {   // behind the best learner: time to close the gap at its recent speed
        double delta_loss = l->best_loss_old - l->best_loss;
        if (!delta_loss) delta_loss = l->best_loss;
        double delta_time = l->total_time_used - l->time_best_found_old;
        if (!delta_time) delta_time = 1e-10;
        double speed = delta_loss / delta_time;
        if (speed) est = fmax(2 * gap / speed, est);
    }
    return est == 0 ? 1e-10 : est;
}

int eci_select(eci_state *e, double time_left) {
    if (!e->started) return 0;   // FLAML starts with the first learner of the list
    double min_est = INFINITY, inv_sum = 0;
    int selected = -1, untried = 0;
    double *inv = calloc((size_t)e->n, sizeof *inv);
    if (!inv) return 0;
    for (int i = 0; i < e->n; i++) {
        const eci_learner *l = &e->l[i];
        double est;
        if (l->disabled) continue;
        if (l->tried) {
            if (l->time2eval_best > time_left) continue;   // cannot finish another trial
            est = eci_estimated_cost(e, i);
            inv[i] = 1.0 / est;
            inv_sum += inv[i];
        } else {
            est = e->eci[i];
            untried = 1;
        }
        if (est < min_est) {
            min_est = est;
            selected = i;
        }
    }
    // an untried learner whose scaled initial cost is the smallest goes first
    if ((untried || selected < 0) && (selected < 0 || !e->l[selected].tried)) {
        free(inv);
        return selected;
    }
    double p = gh_rng_uniform(&e->rng), q = 0;
    int pick = selected;
    for (int i = 0; i < e->n; i++) {
        if (!inv[i]) continue;
        q += inv[i] / inv_sum;
        if (p < q) {
            pick = i;
            break;
        }
    }
    free(inv);
    return pick;
}

int eci_disable(eci_state *e, int i) {
    e->l[i].disabled = 1;
    int left = 0;
    for (int j = 0; j < e->n; j++) left += !e->l[j].disabled;
    return left;
}

void eci_update(eci_state *e, int i, double loss, double time2eval, double time_used,
                double sample_size) {
    eci_learner *l = &e->l[i];
    l->tried = 1;
    l->sample_size = sample_size;
    l->total_time_used += time_used;
    l->n_trials++;
    if (isfinite(loss) && loss < l->best_loss) {
        l->best_loss_old = isfinite(l->best_loss) ? l->best_loss : 2 * loss;
        l->best_loss = loss;
        l->time_best_found_old = l->time_best_found;
        l->time_best_found = l->total_time_used;
        if (time2eval > 0) {
            l->time2eval_best_old = l->time2eval_best;
            l->time2eval_best = time2eval;
        }
    }
    if (!e->started) {
        // _eci: the first learner's measured ECI, the others scaled by their relative costs
        e->started = 1;
        double first = eci_base(l);
        for (int j = 0; j < e->n; j++) e->eci[j] = e->l[j].init_eci / l->init_eci * first;
    }
    if (isfinite(loss) && loss < e->best_loss) {
        e->best_loss = loss;
        e->best = i;
    }
}

double eci_min_sample_fraction(double data_size) {
    // AutoML: sample only when MIN_SAMPLE_TRAIN * SAMPLE_MULTIPLY_FACTOR < rows
    if (!(ECI_MIN_SAMPLE_TRAIN * ECI_SAMPLE_MULTIPLY < data_size)) return 1.0;
    return ECI_MIN_SAMPLE_TRAIN / data_size;
}
