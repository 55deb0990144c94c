// nas_proposer: the ask/tell interface of methods that propose whole genotypes (random
// sampling now; NASNet-style RL and regularized evolution next): a table of proposers, the
// shared base (private seeded RNG, every proposal's signature to drop duplicates, the stopping
// rule, the best proposal told so far).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

static const struct {
    const char *name;
    int (*create)(nas_proposer **out);
} proposers[] = {
    {"random", nas_random_proposer_create},
};
#define NPROPOSERS ((int)(sizeof proposers / sizeof proposers[0]))

// 1000 duplicates in a row: the policy has (nearly) nothing new left to propose.
#define MAX_DUPLICATES 1000

uint64_t nas_genotype_signature(const genotype *g) {
    // FNV-1a over the fields that make a genotype (counts, edges, concat), both cells
    uint64_t h = 0xcbf29ce484222325ull;
    const geno_cell *cells[2] = {&g->normal, &g->reduce};
    for (int c = 0; c < 2; c++) {
        const geno_cell *gc = cells[c];
        int v[2 + 4 * GENO_MAX_STEPS + GENO_MAX_STEPS + 2], n = 0;
        v[n++] = gc->steps;
        v[n++] = gc->nconcat;
        for (int i = 0; i < 2 * gc->steps && i < 2 * GENO_MAX_STEPS; i++) {
            v[n++] = gc->edge[i].op;
            v[n++] = gc->edge[i].input;
        }
        for (int i = 0; i < gc->nconcat && i < GENO_MAX_STEPS + 2; i++) v[n++] = gc->concat[i];
        for (int i = 0; i < n; i++) {
            h ^= (uint64_t)(uint32_t)v[i];
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

int nas_proposer_create(nas_proposer **out, const char *kind, const nas_proposer_options *o) {
    *out = NULL;
    for (int i = 0; i < NPROPOSERS; i++) {
        if (strcmp(proposers[i].name, kind)) continue;
        nas_proposer *p = NULL;
        int st = proposers[i].create(&p);
        if (st) return st;
        p->opt = *o;
        if (p->opt.steps <= 0) p->opt.steps = 4;
        if (p->opt.multiplier <= 0) p->opt.multiplier = 4;
        gh_rng_seed(&p->rng, o->seed, GH_STREAM_SEARCH);
        p->best_reward = -INFINITY;
        *out = p;
        return GH_OK;
    }
    char names[256];
    size_t n = 0;
    for (int i = 0; i < NPROPOSERS; i++)
        n += (size_t)snprintf(names + n, n < sizeof names ? sizeof names - n : 0, "%s%s",
                              i ? ", " : "", proposers[i].name);
    return gh_fail(GH_EINVAL, "proposer '%s': known proposers are %s", kind, names);
}

void nas_proposer_destroy(nas_proposer *p) {
    if (!p) return;
    free(p->seen);
    p->vt->destroy(p);
}

static int seen(const nas_proposer *p, uint64_t key) {
    for (size_t i = 0; i < p->n_seen; i++)
        if (p->seen[i] == key) return 1;
    return 0;
}

int nas_ask(nas_proposer *p, nas_proposal *q) {
    if (p->opt.max_proposals > 0 && p->n_asked >= p->opt.max_proposals) return NAS_STOP;
    if (p->n_seen == p->cap_seen) {
        size_t cap = p->cap_seen ? 2 * p->cap_seen : 64;
        uint64_t *s = realloc(p->seen, cap * sizeof *s);
        if (!s) return gh_fail(GH_ENOMEM, "proposer: no memory for %zu signatures", cap);
        p->seen = s;
        p->cap_seen = cap;
    }
    for (int dup = 0; dup < MAX_DUPLICATES; dup++) {
        int st = p->vt->propose(p, &q->g);
        if (st) return st;
        uint64_t key = nas_genotype_signature(&q->g);
        if (seen(p, key)) continue;
        p->seen[p->n_seen++] = key;
        q->id = p->n_asked++;
        return GH_OK;
    }
    return NAS_STOP;
}

int nas_sample(nas_proposer *p, genotype *g) { return p->vt->propose(p, g); }

int nas_tell(nas_proposer *p, const nas_proposal *q, double reward, double cost) {
    if (q->id < 0 || q->id >= p->n_asked)
        return gh_fail(GH_EINVAL, "proposer %s: told proposal %lld, asked %lld", p->vt->name,
                       (long long)q->id, (long long)p->n_asked);
    p->n_told++;
    // the first best is kept on ties (a strict improvement replaces it)
    if (reward > p->best_reward) {
        p->best_reward = reward;
        p->best = *q;
    }
    if (p->vt->tell) p->vt->tell(p, q, reward, cost);
    return GH_OK;
}
