// tpe: the Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio, Kegl, NeurIPS 2011).
// Observations split at the gamma = 0.25 quantile of the loss into good (l) and bad (g);
// each hp gets a Parzen density per side (independent per hp, as hyperopt's default); 24
// candidates drawn from l, the one maximising l(x)/g(x) (equivalent to EI, eq. 4) wins.
// Works in the normalised space, so log-scaled hps get log-space kernels.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpo.h"

#define TPE_GAMMA 0.25
#define TPE_CANDIDATES 24
#define TPE_PRIOR_WEIGHT 1.0   // hyperopt's prior_weight: one pseudo-observation
#define TPE_PRIOR_SIGMA 1.0    // the prior kernel spans the whole [0,1] range

struct tpe_model {
    hpo_space space;
    gh_rng rng;
    int n_startup;
    int n, cap;
    double *u;      // [cap x d] normalised observations
    double *loss;   // [cap]
};

int tpe_model_create(tpe_model **out, const hpo_space *space, uint64_t seed, int n_startup) {
    tpe_model *m = calloc(1, sizeof *m);
    if (!m) return gh_fail(GH_ENOMEM, "tpe: %zu bytes", sizeof *m);
    m->space = *space;
    gh_rng_seed(&m->rng, seed, GH_STREAM_SEARCH + 100);
    m->n_startup = n_startup;
    *out = m;
    return GH_OK;
}

void tpe_model_free(tpe_model *m) {
    if (!m) return;
    free(m->u);
    free(m->loss);
    free(m);
}

int tpe_model_observe(tpe_model *m, const double *cfg, double loss) {
    if (!isfinite(loss)) return GH_OK;   // failed trials carry no density information
    int d = m->space.d;
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 64;
        double *u = realloc(m->u, (size_t)cap * d * sizeof *u);
        if (!u) return gh_fail(GH_ENOMEM, "tpe: %d observations", cap);
        m->u = u;
        double *l = realloc(m->loss, (size_t)cap * sizeof *l);
        if (!l) return gh_fail(GH_ENOMEM, "tpe: %d observations", cap);
        m->loss = l;
        m->cap = cap;
    }
    hpo_space_to_unit(&m->space, cfg, m->u + (size_t)m->n * d);
    m->loss[m->n++] = loss;
    return GH_OK;
}

// One side's 1-d Parzen estimator: kernels at the points plus the prior at 0.5. Bandwidths
// as hyperopt's adaptive_parzen_normal: the larger gap to the sorted neighbours, clipped to
// [prior_sigma / min(100, n + 1), prior_sigma].
typedef struct {
    int n;            // kernels including the prior
    double *mu, *sigma, *w;
} parzen;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void parzen_fit(parzen *p, const double *x, int n) {
    // sorted points with the prior inserted at 0.5
    p->n = n + 1;
    for (int i = 0; i < n; i++) p->mu[i] = x[i];
    p->mu[n] = 0.5;
    qsort(p->mu, (size_t)p->n, sizeof *p->mu, cmp_double);
    double lo = TPE_PRIOR_SIGMA / fmin(100.0, p->n);
    int prior_seen = 0;
    for (int i = 0; i < p->n; i++) {
        double left = i > 0 ? p->mu[i] - p->mu[i - 1] : p->mu[i] - 0.0;
        double right = i + 1 < p->n ? p->mu[i + 1] - p->mu[i] : 1.0 - p->mu[i];
        double s = fmax(left, right);
        p->sigma[i] = fmin(fmax(s, lo), TPE_PRIOR_SIGMA);
        p->w[i] = 1.0;
        if (!prior_seen && p->mu[i] == 0.5) {   // the prior keeps its wide kernel
            prior_seen = 1;
            p->sigma[i] = TPE_PRIOR_SIGMA;
            p->w[i] = TPE_PRIOR_WEIGHT;
        }
    }
}

// Normal CDF for the truncation to [0, 1].
static double phi_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

static double parzen_logpdf(const parzen *p, double x) {
    double wsum = 0, acc = 0;
    for (int i = 0; i < p->n; i++) {
        double s = p->sigma[i], z = (x - p->mu[i]) / s;
        double mass = phi_cdf((1.0 - p->mu[i]) / s) - phi_cdf((0.0 - p->mu[i]) / s);
        acc += p->w[i] * exp(-0.5 * z * z) / (s * sqrt(2 * M_PI) * fmax(mass, 1e-12));
        wsum += p->w[i];
    }
    return log(fmax(acc / wsum, 1e-300));
}

static double parzen_sample(const parzen *p, gh_rng *r) {
    double wsum = 0;
    for (int i = 0; i < p->n; i++) wsum += p->w[i];
    double pick = gh_rng_uniform(r) * wsum;
    int k = 0;
    for (; k < p->n - 1; k++) {
        pick -= p->w[k];
        if (pick < 0) break;
    }
    for (int tries = 0; tries < 100; tries++) {   // truncated normal by rejection
        double x = p->mu[k] + p->sigma[k] * gh_rng_normal(r);
        if (x >= 0 && x <= 1) return x;
    }
    return gh_rng_uniform(r);
}

// Categorical side: counts plus the prior spread evenly (hyperopt's categorical posterior).
static void cat_fit(double *prob, int k, const double *x, int n) {
    for (int c = 0; c < k; c++) prob[c] = TPE_PRIOR_WEIGHT / k;
    for (int i = 0; i < n; i++) {
        int c = (int)floor(x[i] * k);
        prob[c < k ? c : k - 1] += 1.0;
    }
    double s = 0;
    for (int c = 0; c < k; c++) s += prob[c];
    for (int c = 0; c < k; c++) prob[c] /= s;
}

typedef struct {
    double u, loss;
    int idx;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    double x = ((const ranked *)a)->loss, y = ((const ranked *)b)->loss;
    return (x > y) - (x < y);
}

int tpe_model_propose(tpe_model *m, double *cfg) {
    const hpo_space *sp = &m->space;
    int d = sp->d, n = m->n;
    if (n < m->n_startup) {
        hpo_space_random_cfg(sp, &m->rng, cfg);
        return GH_OK;
    }
    int n_good = (int)ceil(TPE_GAMMA * n);   // y* at the gamma quantile (the paper's split)
    if (n_good < 1) n_good = 1;
    int n_bad = n - n_good;
    ranked *order = malloc((size_t)n * sizeof *order);
    double *xs = malloc((size_t)2 * n * sizeof *xs);
    if (!order || !xs) {
        free(order);
        free(xs);
        return gh_fail(GH_ENOMEM, "tpe: %d observations", n);
    }
    for (int i = 0; i < n; i++) order[i] = (ranked){0, m->loss[i], i};
    qsort(order, (size_t)n, sizeof *order, cmp_ranked);
    double *good = xs, *bad = xs + n;
    // scratch for the two estimators: mu, sigma, w of n+1 kernels each
    double *scratch = malloc((size_t)6 * (n + 1) * sizeof *scratch);
    if (!scratch) {
        free(order);
        free(xs);
        return gh_fail(GH_ENOMEM, "tpe: %d observations", n);
    }
    parzen pl = {0, scratch, scratch + (n + 1), scratch + 2 * (n + 1)};
    parzen pg = {0, scratch + 3 * (n + 1), scratch + 4 * (n + 1), scratch + 5 * (n + 1)};
    double cand[TPE_CANDIDATES][HPO_MAX_DIM];
    double score[TPE_CANDIDATES];
    for (int c = 0; c < TPE_CANDIDATES; c++) score[c] = 0;
    for (int j = 0; j < d; j++) {
        for (int i = 0; i < n_good; i++) good[i] = m->u[(size_t)order[i].idx * d + j];
        for (int i = 0; i < n_bad; i++) bad[i] = m->u[(size_t)order[n_good + i].idx * d + j];
        const hp_domain *h = &sp->hps[j];
        if (h->kind == HP_CAT) {
            int k = h->n_choices;
            double pgood[256], pbad[256];
            if (k > 256) k = 256;
            cat_fit(pgood, k, good, n_good);
            cat_fit(pbad, k, bad, n_bad);
            for (int c = 0; c < TPE_CANDIDATES; c++) {
                double r = gh_rng_uniform(&m->rng);
                int pick = 0;
                for (; pick < k - 1; pick++) {
                    r -= pgood[pick];
                    if (r < 0) break;
                }
                cand[c][j] = (pick + 0.5) / k;
                score[c] += log(pgood[pick]) - log(pbad[pick]);
            }
            continue;
        }
        parzen_fit(&pl, good, n_good);
        parzen_fit(&pg, bad, n_bad);
        for (int c = 0; c < TPE_CANDIDATES; c++) {
            double x = parzen_sample(&pl, &m->rng);
            // ints: score the value that will be run, not the continuous draw
            if (h->kind == HP_INT) x = hpo_to_unit(h, hpo_from_unit(h, x));
            cand[c][j] = x;
            score[c] += parzen_logpdf(&pl, x) - parzen_logpdf(&pg, x);
        }
    }
    int best = 0;
    for (int c = 1; c < TPE_CANDIDATES; c++)
        if (score[c] > score[best]) best = c;
    hpo_space_from_unit(sp, cand[best], cfg);
    free(order);
    free(xs);
    free(scratch);
    return GH_OK;
}

// ---- the searcher ---------------------------------------------------------------------------
typedef struct {
    hpo_searcher base;
    tpe_model *model;
} tpe;

static int tpe_ask(hpo_searcher *s, hpo_trial *t) {
    tpe *p = (tpe *)s;
    if (!p->model) {
        int st = tpe_model_create(&p->model, &s->space, s->opt.seed, s->opt.tpe_startup);
        if (st) return st;
    }
    t->fidelity = 1.0;
    return tpe_model_propose(p->model, t->cfg);
}

static int tpe_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    (void)cost;
    tpe *p = (tpe *)s;
    return p->model ? tpe_model_observe(p->model, t->cfg, loss) : GH_OK;
}

static void tpe_destroy(hpo_searcher *s) {
    tpe_model_free(((tpe *)s)->model);
    free(s);
}

static const hpo_vtable tpe_vt = {"tpe", tpe_ask, tpe_tell, NULL, tpe_destroy};

int hpo_tpe_create(hpo_searcher **out) {
    tpe *p = calloc(1, sizeof *p);
    if (!p) return gh_fail(GH_ENOMEM, "tpe: %zu bytes", sizeof *p);
    p->base.vt = &tpe_vt;
    *out = &p->base;
    return GH_OK;
}
