// hpo_space: the normalised [0,1]^d view of a list of hp_domain (log scales, ints,
// categoricals), the dedupe signature of a proposal and the results cache keyed by it.
// Normalisation follows flaml/tune/space.py normalize/denormalize.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpo.h"

int hpo_space_init(hpo_space *s, const hp_domain *hps, int d) {
    if (d < 1 || d > HPO_MAX_DIM)
        return gh_fail(GH_EINVAL, "hpo space: %d hyperparameters, expected 1..%d", d, HPO_MAX_DIM);
    s->d = d;
    for (int i = 0; i < d; i++) {
        const hp_domain *h = &hps[i];
        const char *name = h->name ? h->name : "?";
        if (h->kind == HP_CAT) {
            if (h->n_choices < 1 || !h->choices)
                return gh_fail(GH_EINVAL, "hpo space: categorical '%s' has no choices", name);
        } else {
            if (!(h->lo <= h->hi) || !isfinite(h->lo) || !isfinite(h->hi))
                return gh_fail(GH_EINVAL, "hpo space: '%s' bounds [%g, %g] are not lo <= hi", name,
                               h->lo, h->hi);
            if (h->log && h->lo <= 0)
                return gh_fail(GH_EINVAL, "hpo space: '%s' is log-scaled but lo = %g <= 0", name,
                               h->lo);
        }
        s->hps[i] = *h;
    }
    return GH_OK;
}

double hpo_to_unit(const hp_domain *h, double v) {
    if (h->kind == HP_CAT) {
        int n = h->n_choices;
        int i = (int)v;
        if (i < 0) i = 0;
        if (i >= n) i = n - 1;
        return (i + 0.5) / n;
    }
    if (h->hi == h->lo) return 0.0;
    double u = h->log ? log(v / h->lo) / log(h->hi / h->lo) : (v - h->lo) / (h->hi - h->lo);
    return u;
}

double hpo_from_unit(const hp_domain *h, double u) {
    if (!(u >= 0.0)) u = 0.0;   // also NaN
    if (u > 1.0) u = 1.0;
    if (h->kind == HP_CAT) {
        int i = (int)floor(u * h->n_choices);
        return i >= h->n_choices ? h->n_choices - 1 : i;
    }
    if (h->hi == h->lo) return h->lo;
    double v = h->log ? h->lo * pow(h->hi / h->lo, u) : h->lo + u * (h->hi - h->lo);
    if (h->kind == HP_INT) v = round(v);   // FLAML: int(round(x)), 4.6 -> 5
    if (v < h->lo) v = h->lo;
    if (v > h->hi) v = h->hi;
    return v;
}

void hpo_space_to_unit(const hpo_space *s, const double *cfg, double *u) {
    for (int i = 0; i < s->d; i++) u[i] = hpo_to_unit(&s->hps[i], cfg[i]);
}

void hpo_space_from_unit(const hpo_space *s, const double *u, double *cfg) {
    for (int i = 0; i < s->d; i++) cfg[i] = hpo_from_unit(&s->hps[i], u[i]);
}

// A value snapped into its domain: the same rounding the searchers' proposals get.
static double snap(const hp_domain *h, double v) {
    if (h->kind == HP_CAT) {
        int i = (int)round(v);
        return i < 0 ? 0 : (i >= h->n_choices ? h->n_choices - 1 : i);
    }
    if (!isfinite(v)) v = h->lo;
    if (h->kind == HP_INT) v = round(v);
    return v < h->lo ? h->lo : (v > h->hi ? h->hi : v);
}

void hpo_space_init_cfg(const hpo_space *s, double *cfg) {
    for (int i = 0; i < s->d; i++) cfg[i] = snap(&s->hps[i], s->hps[i].init);
}

void hpo_space_low_cost_cfg(const hpo_space *s, double *cfg) {
    for (int i = 0; i < s->d; i++) cfg[i] = snap(&s->hps[i], s->hps[i].low_cost_init);
}

void hpo_space_random_cfg(const hpo_space *s, gh_rng *r, double *cfg) {
    double u[HPO_MAX_DIM];
    for (int i = 0; i < s->d; i++) u[i] = gh_rng_uniform(r);
    hpo_space_from_unit(s, u, cfg);
}

// Floats to 7 significant digits: proposals closer than that are the same experiment.
static int64_t quantise(double v) {
    if (v == 0.0 || !isfinite(v)) return 0;
    int e;
    double m = frexp(v, &e);                       // v = m * 2^e, 0.5 <= |m| < 1
    return (int64_t)llround(m * 1e7) * 4096 + e;   // mantissa digits and exponent both kept
}

uint64_t hpo_signature(const hpo_space *s, const double *cfg, double fidelity) {
    uint64_t h = 0x243F6A8885A308D3ull;
    for (int i = 0; i < s->d; i++) {
        const hp_domain *d = &s->hps[i];
        int64_t q = d->kind == HP_FLOAT ? quantise(cfg[i]) : (int64_t)llround(cfg[i]);
        h = gh_hash64(h, (uint64_t)q);
    }
    h = gh_hash64(h, (uint64_t)quantise(fidelity));
    return h ? h : 1;   // 0 marks an empty cache slot
}

int hpo_cfg_format(const hpo_space *s, const double *cfg, char *buf, size_t n) {
    size_t len = 0;
    if (n) buf[0] = 0;
    for (int i = 0; i < s->d; i++) {
        const hp_domain *h = &s->hps[i];
        char v[64];
        if (h->kind == HP_CAT)
            snprintf(v, sizeof v, "%s", h->choices[(int)snap(h, cfg[i])]);
        else if (h->kind == HP_INT)
            snprintf(v, sizeof v, "%.0f", cfg[i]);
        else
            snprintf(v, sizeof v, "%.4g", cfg[i]);
        int w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, "%s%s=%s",
                         i ? ", " : "", h->name, v);
        if (w < 0) return w;
        len += (size_t)w;
    }
    return (int)len;
}

// ---- results cache: open addressing, grows at half full -------------------------------------
int hpo_cache_init(hpo_cache *c) {
    c->cap = 256;
    c->n = 0;
    c->key = calloc(c->cap, sizeof *c->key);
    c->loss = malloc(c->cap * sizeof *c->loss);
    c->cost = malloc(c->cap * sizeof *c->cost);
    if (!c->key || !c->loss || !c->cost) {
        hpo_cache_free(c);
        return gh_fail(GH_ENOMEM, "hpo cache: %zu slots", (size_t)256);
    }
    return GH_OK;
}

void hpo_cache_free(hpo_cache *c) {
    free(c->key);
    free(c->loss);
    free(c->cost);
    memset(c, 0, sizeof *c);
}

static size_t slot_of(const hpo_cache *c, uint64_t key) {
    size_t i = (size_t)(key & (c->cap - 1));
    while (c->key[i] && c->key[i] != key) i = (i + 1) & (c->cap - 1);
    return i;
}

int hpo_cache_get(const hpo_cache *c, uint64_t key, double *loss, double *cost) {
    size_t i = slot_of(c, key);
    if (!c->key[i]) return 0;
    if (isnan(c->loss[i])) return 1;
    if (loss) *loss = c->loss[i];
    if (cost) *cost = c->cost[i];
    return 2;
}

int hpo_cache_put(hpo_cache *c, uint64_t key, double loss, double cost) {
    if (2 * (c->n + 1) > c->cap) {
        hpo_cache big = {.cap = c->cap * 2};
        big.key = calloc(big.cap, sizeof *big.key);
        big.loss = malloc(big.cap * sizeof *big.loss);
        big.cost = malloc(big.cap * sizeof *big.cost);
        if (!big.key || !big.loss || !big.cost) {
            hpo_cache_free(&big);
            return gh_fail(GH_ENOMEM, "hpo cache: growing to %zu slots", big.cap);
        }
        for (size_t i = 0; i < c->cap; i++)
            if (c->key[i]) {
                size_t j = slot_of(&big, c->key[i]);
                big.key[j] = c->key[i];
                big.loss[j] = c->loss[i];
                big.cost[j] = c->cost[i];
                big.n++;
            }
        hpo_cache_free(c);
        *c = big;
    }
    size_t i = slot_of(c, key);
    if (!c->key[i]) c->n++;
    c->key[i] = key;
    c->loss[i] = loss;
    c->cost[i] = cost;
    return GH_OK;
}

void hpo_space_cost_related(const hpo_space *s, int *mask) {
    for (int i = 0; i < s->d; i++) {
        const hp_domain *h = &s->hps[i];
        mask[i] = h->kind != HP_CAT && h->hi > h->lo &&
                  (h->low_cost_init != h->init || (h->kind == HP_INT && h->low_cost_init == h->lo));
    }
}
