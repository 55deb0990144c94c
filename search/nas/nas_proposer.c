// nas_proposer: the ask/tell interface of methods that propose whole genotypes (random
// sampling, regularized evolution, NASNet-style RL): a table of proposers, the
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
    {"regevo", nas_regevo_proposer_create},
    {"nasnet-rl", nas_rl_proposer_create},
};
#define NPROPOSERS ((int)(sizeof proposers / sizeof proposers[0]))

int nas_method_runs_workers(const char *method) {
    for (int i = 0; method && i < NPROPOSERS; i++)
        if (!strcmp(proposers[i].name, method)) return 1;
    return 0;
}

int nas_method_takes_budget(const char *method) {
    return nas_method_runs_workers(method) || (method && !strcmp(method, "random-ws"));
}

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
        if (p->opt.space == NAS_SPACE_NASNET) p->opt.steps = NASNET_BLOCKS;
        if (p->vt->init && (st = p->vt->init(p))) {
            nas_proposer_destroy(p);
            return st;
        }
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

// ---- checkpoints ---------------------------------------------------------------------------------
// "<prefix>/header": the base's state and the options it was created with; "<prefix>/seen": the
// n_seen signatures (absent when none). A subtype with state of its own adds blobs here.
#define PROPOSER_MAGIC "GHPROPO1"
#define PROPOSER_VERSION 1u
typedef struct {
    char magic[8];
    uint32_t version, pad;
    char kind[16];
    uint64_t seed;
    int64_t max_proposals;
    int32_t steps, multiplier;
    uint64_t rng[4];
    int64_t n_asked, n_told;
    uint64_t n_seen;
    int64_t best_id;             // -1: no reward told yet
    double best_reward;
    char best[2048];             // the best proposal's genotype text
} proposer_blob;
_Static_assert(sizeof(proposer_blob) == 128 + 2048, "proposer_blob has padding");

static void blob_name(char *out, size_t len, const char *prefix, const char *leaf) {
    snprintf(out, len, "%s/%s", prefix, leaf);
}

int nas_proposer_save(const nas_proposer *p, const char *prefix, gh_state_put put, void *ctx) {
    proposer_blob b;
    memset(&b, 0, sizeof b);
    memcpy(b.magic, PROPOSER_MAGIC, sizeof b.magic);
    b.version = PROPOSER_VERSION;
    snprintf(b.kind, sizeof b.kind, "%s", p->vt->name);
    b.seed = p->opt.seed;
    b.max_proposals = p->opt.max_proposals;
    b.steps = p->opt.steps;
    b.multiplier = p->opt.multiplier;
    memcpy(b.rng, p->rng.s, sizeof b.rng);
    b.n_asked = p->n_asked;
    b.n_told = p->n_told;
    b.n_seen = p->n_seen;
    b.best_id = p->best_reward > -INFINITY ? p->best.id : -1;
    b.best_reward = p->best_reward;
    if (b.best_id >= 0) genotype_print(&p->best.g, b.best, sizeof b.best);
    char name[128];
    blob_name(name, sizeof name, prefix, "header");
    int st = put(ctx, name, &b, sizeof b);
    blob_name(name, sizeof name, prefix, "seen");
    if (!st && p->n_seen) st = put(ctx, name, p->seen, p->n_seen * sizeof *p->seen);
    if (!st && p->vt->save) st = p->vt->save(p, prefix, put, ctx);
    return st;
}

int nas_proposer_load(nas_proposer *p, const char *prefix, ledger_ckpt_reader *r) {
    proposer_blob b;
    char name[128];
    blob_name(name, sizeof name, prefix, "header");
    int st = ledger_ckpt_get(r, name, &b, sizeof b);
    if (!st) st = nas_blob_check(r, name, b.magic, b.version, PROPOSER_MAGIC, PROPOSER_VERSION);
    if (st) return st;
    if (!memchr(b.kind, 0, sizeof b.kind) || strcmp(b.kind, p->vt->name) ||
        b.seed != p->opt.seed || b.max_proposals != p->opt.max_proposals ||
        b.steps != p->opt.steps || b.multiplier != p->opt.multiplier)
        return gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' holds a proposer '%.16s' (seed "
                       "%llu, %lld proposals, %d steps) unlike this run's '%s' (seed %llu, %lld "
                       "proposals, %d steps)", ledger_ckpt_run_id(r), name, b.kind,
                       (unsigned long long)b.seed, (long long)b.max_proposals, b.steps,
                       p->vt->name, (unsigned long long)p->opt.seed,
                       (long long)p->opt.max_proposals, p->opt.steps);
    if (b.n_asked < 0 || b.n_told < 0 || b.n_told > b.n_asked || b.n_seen > (uint64_t)b.n_asked ||
        b.best_id >= b.n_asked || !memchr(b.best, 0, sizeof b.best))
        return gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' is inconsistent (%lld asked, "
                       "%lld told, %llu seen)", ledger_ckpt_run_id(r), name,
                       (long long)b.n_asked, (long long)b.n_told, (unsigned long long)b.n_seen);
    genotype best;
    memset(&best, 0, sizeof best);
    if (b.best_id >= 0 && (st = genotype_parse(&best, b.best))) return st;
    uint64_t *seen = NULL;
    if (b.n_seen) {
        if (!(seen = malloc(b.n_seen * sizeof *seen)))
            return gh_fail(GH_ENOMEM, "proposer: %llu signatures", (unsigned long long)b.n_seen);
        blob_name(name, sizeof name, prefix, "seen");
        if ((st = ledger_ckpt_get(r, name, seen, b.n_seen * sizeof *seen))) {
            free(seen);
            return st;
        }
    }
    free(p->seen);
    p->seen = seen;
    p->n_seen = p->cap_seen = b.n_seen;
    memcpy(p->rng.s, b.rng, sizeof b.rng);
    p->n_asked = b.n_asked;
    p->n_told = b.n_told;
    p->best_reward = b.best_reward;
    p->best = (nas_proposal){.id = b.best_id >= 0 ? b.best_id : 0, .g = best};
    return p->vt->load ? p->vt->load(p, prefix, r) : GH_OK;
}
