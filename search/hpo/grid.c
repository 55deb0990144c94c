// grid: grid search: grid_points levels per numeric hp (evenly spaced in the normalised
// space, so geometric on log scales; every integer when fewer), every choice of a
// categorical. The grid is visited in a seeded affine permutation of its index, so a budget
// cut short samples the whole grid rather than its first corner. Stops when all are visited.
#include <math.h>
#include <stdlib.h>

#include "hpo.h"

typedef struct {
    hpo_searcher base;
    int levels[HPO_MAX_DIM];
    uint64_t total, next, mult, offset;
    int ready;
} grid;

static uint64_t gcd_u64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

static int grid_setup(grid *g) {
    hpo_searcher *s = &g->base;
    g->total = 1;
    for (int i = 0; i < s->space.d; i++) {
        const hp_domain *h = &s->space.hps[i];
        int k = s->opt.grid_points;
        if (h->kind == HP_CAT) k = h->n_choices;
        else if (h->hi == h->lo) k = 1;
        else if (h->kind == HP_INT && h->hi - h->lo + 1 < k) k = (int)(h->hi - h->lo + 1);
        g->levels[i] = k;
        if (g->total > (UINT64_C(1) << 40) / (uint64_t)k)
            return gh_fail(GH_EINVAL, "grid: more than 2^40 points; lower grid_points");
        g->total *= (uint64_t)k;
    }
    // i -> (mult * i + offset) mod total is a bijection when gcd(mult, total) = 1
    g->mult = 1 + gh_rng_below(&s->rng, g->total);
    while (gcd_u64(g->mult, g->total) != 1) g->mult = g->mult % g->total + 1;
    g->offset = gh_rng_below(&s->rng, g->total);
    g->next = 0;
    g->ready = 1;
    return GH_OK;
}

static int grid_ask(hpo_searcher *s, hpo_trial *t) {
    grid *g = (grid *)s;
    if (!g->ready) {
        int st = grid_setup(g);
        if (st) return st;
    }
    if (g->next >= g->total) return HPO_STOP;
    // (mult * next) can overflow 64 bits only past 2^40 * 2^40: totals are capped at 2^40,
    // so reduce mult first.
    unsigned __int128 p = (unsigned __int128)g->mult * g->next + g->offset;
    uint64_t idx = (uint64_t)(p % g->total);
    g->next++;
    double u[HPO_MAX_DIM];
    for (int i = 0; i < s->space.d; i++) {
        int k = g->levels[i];
        int level = (int)(idx % (uint64_t)k);
        idx /= (uint64_t)k;
        const hp_domain *h = &s->space.hps[i];
        if (h->kind == HP_CAT) u[i] = (level + 0.5) / k;
        else u[i] = k == 1 ? 0.0 : (double)level / (k - 1);
    }
    hpo_space_from_unit(&s->space, u, t->cfg);
    t->fidelity = 1.0;
    return GH_OK;
}

static int grid_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    (void)s, (void)t, (void)loss, (void)cost;
    return GH_OK;
}

static void grid_destroy(hpo_searcher *s) { free(s); }

static const hpo_vtable grid_vt = {"grid", grid_ask, grid_tell, NULL, grid_destroy};

int hpo_grid_create(hpo_searcher **out) {
    grid *g = calloc(1, sizeof *g);
    if (!g) return gh_fail(GH_ENOMEM, "grid search: %zu bytes", sizeof *g);
    g->base.vt = &grid_vt;
    *out = &g->base;
    return GH_OK;
}
