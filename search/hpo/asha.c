// asha: asynchronous successive halving (Li, Jamieson, Rostamizadeh et al., MLSys 2020,
// Algorithm 2) over the fidelity (training sample size in tune): rung k runs at
// min_fidelity * eta^k (the top rung at full fidelity); a config is promoted from rung k when
// it is in the top 1/eta of the results there; otherwise a new random config starts at rung 0.
#include <math.h>
#include <stdlib.h>

#include "hpo.h"

#define ASHA_DEFAULT_ETA 3.0

typedef struct {
    double cfg[HPO_MAX_DIM];
    double loss;
    int rung;
    int promoted;
    int64_t id;   // the trial that produced it (pending while loss is NAN)
} asha_rec;

typedef struct {
    hpo_searcher base;
    double eta;
    int n_rungs;
    double fid[64];
    asha_rec *rec;
    int n, cap;
    int ready;
} asha;

static void asha_setup(asha *a) {
    hpo_searcher *s = &a->base;
    a->eta = s->opt.fidelity_factor > 1 ? s->opt.fidelity_factor : ASHA_DEFAULT_ETA;
    // rungs from the top down: 1, 1/eta, 1/eta^2, ... while >= min_fidelity (within rounding)
    double r = 1.0;
    int k = 0;
    double down[64];
    while (k < 64 && r >= s->opt.min_fidelity * (1 - 1e-9)) {
        down[k++] = r;
        r /= a->eta;
    }
    a->n_rungs = k;
    for (int i = 0; i < k; i++) a->fid[i] = down[k - 1 - i];
    a->ready = 1;
}

static int push(asha *a, const asha_rec *r) {
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 64;
        asha_rec *p = realloc(a->rec, (size_t)cap * sizeof *p);
        if (!p) return gh_fail(GH_ENOMEM, "asha: %d records", cap);
        a->rec = p;
        a->cap = cap;
    }
    a->rec[a->n++] = *r;
    return GH_OK;
}

typedef struct {
    double loss;
    int idx;
} by_loss;

static int cmp_by_loss(const void *x, const void *y) {
    const by_loss *a = x, *b = y;
    if (a->loss != b->loss) return (a->loss > b->loss) - (a->loss < b->loss);
    return (a->idx > b->idx) - (a->idx < b->idx);
}

// The best unpromoted config among the top floor(n_k / eta) finished results of rung k;
// -1 when none (Algorithm 2's get_job). *err set on allocation failure.
static int promotable(const asha *a, int k, int *err) {
    by_loss *o = malloc((size_t)(a->n ? a->n : 1) * sizeof *o);
    if (!o) {
        *err = gh_fail(GH_ENOMEM, "asha: %d records", a->n);
        return -1;
    }
    int n_k = 0;
    for (int i = 0; i < a->n; i++)
        if (a->rec[i].rung == k && !isnan(a->rec[i].loss)) o[n_k++] = (by_loss){a->rec[i].loss, i};
    qsort(o, (size_t)n_k, sizeof *o, cmp_by_loss);
    int top = (int)floor(n_k / a->eta), pick = -1;
    for (int r = 0; r < top && pick < 0; r++)
        if (!a->rec[o[r].idx].promoted && isfinite(o[r].loss)) pick = o[r].idx;
    free(o);
    return pick;
}

static int asha_ask(hpo_searcher *s, hpo_trial *t) {
    asha *a = (asha *)s;
    if (!a->ready) asha_setup(a);
    asha_rec r = {.loss = NAN, .id = t->id};
    for (int k = a->n_rungs - 2; k >= 0; k--) {
        int err = GH_OK, i = promotable(a, k, &err);
        if (err) return err;
        if (i < 0) continue;
        a->rec[i].promoted = 1;
        for (int j = 0; j < s->space.d; j++) r.cfg[j] = t->cfg[j] = a->rec[i].cfg[j];
        r.rung = k + 1;
        t->fidelity = a->fid[k + 1];
        return push(a, &r);
    }
    hpo_space_random_cfg(&s->space, &s->rng, t->cfg);
    for (int j = 0; j < s->space.d; j++) r.cfg[j] = t->cfg[j];
    r.rung = 0;
    t->fidelity = a->fid[0];
    return push(a, &r);
}

static int asha_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    (void)cost;
    asha *a = (asha *)s;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->rec[i].id == t->id) {
            a->rec[i].loss = loss;
            break;
        }
    return GH_OK;
}

// A duplicate random draw: the searcher asks again (the record is dropped).
static int asha_seen(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    (void)cost;
    asha *a = (asha *)s;
    if (a->n > 0 && a->rec[a->n - 1].id == t->id) {
        if (a->rec[a->n - 1].rung > 0) a->rec[a->n - 1].loss = loss;   // a known promotion
        else a->n--;
    }
    return GH_OK;
}

static void asha_destroy(hpo_searcher *s) {
    free(((asha *)s)->rec);
    free(s);
}

static const hpo_vtable asha_vt = {"asha", asha_ask, asha_tell, asha_seen, asha_destroy};

int hpo_asha_create(hpo_searcher **out) {
    asha *a = calloc(1, sizeof *a);
    if (!a) return gh_fail(GH_ENOMEM, "asha: %zu bytes", sizeof *a);
    a->base.vt = &asha_vt;
    *out = &a->base;
    return GH_OK;
}
