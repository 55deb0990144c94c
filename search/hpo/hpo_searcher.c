// hpo_searcher: the registry of HPO searchers and the one way every searcher is used: create
// by name, ask (with duplicate
// proposals dropped against the results cache, as BlendSearch's _should_skip does), tell
// (which keeps the best and the cost spent), and the stopping rule common to all of them.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpo.h"

// Proposals in a row that repeat a known config before the space counts as exhausted.
#define HPO_MAX_DUPLICATES 1000

// The registry: one row per line of hpo_searchers.def.
static const hpo_method methods[] = {
#define HPO_SEARCHER(name, fidelity, help) {#name, hpo_##name##_create, fidelity, help},
#include "hpo_searchers.def"
#undef HPO_SEARCHER
};
#define N_METHODS ((int)(sizeof methods / sizeof methods[0]))

const hpo_method *hpo_methods(int *n) {
    *n = N_METHODS;
    return methods;
}

const hpo_method *hpo_method_find(const char *name) {
    for (int i = 0; name && i < N_METHODS; i++)
        if (!strcmp(methods[i].name, name)) return &methods[i];
    return NULL;
}

int hpo_base_init(hpo_searcher *s, const hp_domain *hps, int d, const hpo_options *opt) {
    int st = hpo_space_init(&s->space, hps, d);
    if (st) return st;
    s->opt = *opt;
    if (!(s->opt.min_fidelity > 0 && s->opt.min_fidelity <= 1)) s->opt.min_fidelity = 1;
    if (!(s->opt.fidelity_factor > 1)) s->opt.fidelity_factor = 0;   // each searcher's default
    if (s->opt.grid_points <= 0) s->opt.grid_points = 5;
    if (s->opt.tpe_startup <= 0) s->opt.tpe_startup = 10;
    gh_rng_seed(&s->rng, opt->seed, GH_STREAM_SEARCH);
    s->n_asked = s->n_told = s->next_id = 0;
    s->cost_used = 0;
    s->best_loss = INFINITY;
    memset(&s->best, 0, sizeof s->best);
    s->best.id = -1;
    return hpo_cache_init(&s->cache);
}

int hpo_method_lookup(const char *name, const hpo_method **out) {
    *out = hpo_method_find(name);
    if (*out) return GH_OK;
    char known[256];
    size_t len = 0;
    known[0] = 0;
    for (int i = 0; i < N_METHODS && len < sizeof known; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                methods[i].name);
    return gh_fail(GH_EINVAL, "unknown searcher '%s' (%s)", name ? name : "(none)", known);
}

int hpo_create(hpo_searcher **out, const char *method, const hp_domain *hps, int d,
               const hpo_options *opt) {
    *out = NULL;
    const hpo_method *m;
    int st = hpo_method_lookup(method, &m);
    return st ? st : hpo_create_method(out, m, hps, d, opt);
}

int hpo_create_method(hpo_searcher **out, const hpo_method *m, const hp_domain *hps, int d,
                      const hpo_options *opt) {
    *out = NULL;
    hpo_searcher *s;
    int st = m->create(&s);
    if (st) return st;
    // The constructor allocated its state with the base first; the base is filled here and
    // the searcher finishes its setup on its first ask.
    st = hpo_base_init(s, hps, d, opt);
    if (st) {
        s->vt->destroy(s);
        return st;
    }
    *out = s;
    return GH_OK;
}

int hpo_ask(hpo_searcher *s, hpo_trial *t) {
    if (s->opt.max_trials > 0 && s->n_asked >= s->opt.max_trials) return HPO_STOP;
    for (int tries = 0; tries < HPO_MAX_DUPLICATES; tries++) {
        memset(t, 0, sizeof *t);
        t->id = s->next_id++;
        t->fidelity = 1.0;
        int st = s->vt->ask(s, t);
        if (st == HPO_RETRY) continue;
        if (st) return st;
        if (!(t->fidelity > 0 && t->fidelity <= 1)) t->fidelity = 1.0;
        uint64_t key = hpo_signature(&s->space, t->cfg, t->fidelity);
        double loss, cost;
        int known = hpo_cache_get(&s->cache, key, &loss, &cost);
        if (known == 2) {
            st = s->vt->seen ? s->vt->seen(s, t, loss, cost) : GH_OK;
            if (st) return st;
            continue;
        }
        if (known == 1) {
            // a repeat of a trial still running (several in flight): the searcher hears of
            // it as a failure, as FLAML's _should_skip tells the thread of a pending repeat
            st = s->vt->seen ? s->vt->seen(s, t, INFINITY, 0) : GH_OK;
            if (st) return st;
            continue;
        }
        st = hpo_cache_put(&s->cache, key, NAN, 0);
        if (st) return st;
        s->n_asked++;
        return GH_OK;
    }
    return HPO_STOP;
}

int hpo_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    if (isnan(loss)) loss = INFINITY;   // a failed trial is the worst result, never the best
    if (!(cost >= 0)) cost = 0;
    int st = hpo_cache_put(&s->cache, hpo_signature(&s->space, t->cfg, t->fidelity), loss, cost);
    if (st) return st;
    s->n_told++;
    s->cost_used += cost;
    if (loss < s->best_loss) {
        s->best_loss = loss;
        s->best = *t;
    }
    return s->vt->tell(s, t, loss, cost);
}

int hpo_remember(hpo_searcher *s, const double *cfg, double fidelity, double loss, double cost) {
    return hpo_cache_put(&s->cache, hpo_signature(&s->space, cfg, fidelity), loss, cost);
}

const hpo_space *hpo_searcher_space(const hpo_searcher *s) { return &s->space; }

void hpo_destroy(hpo_searcher *s) {
    if (!s) return;
    hpo_cache_free(&s->cache);
    s->vt->destroy(s);
}
