// proposer_regevo: regularized evolution (aging evolution; Real et al., AAAI 2019, Algorithm 1)
// as an ask/tell proposer: the first P proposals are random; then each child is a mutation of
// the best of S members sampled (with replacement) from the population, and every told child
// joins the population while the oldest member dies, whatever its accuracy.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

// The paper's CIFAR-10 search (section 3.1): population 100, sample size 25.
#define REGEVO_P 100
#define REGEVO_S 25

typedef struct {
    int64_t id;
    double reward;           // -INFINITY: the child's training diverged or failed
    genotype g;
} regevo_member;

typedef struct {
    nas_proposer base;
    regevo_member *pop;      // ring of capacity P: pop[head] is the oldest
    int head, n;
} regevo;

// ---- mutations -----------------------------------------------------------------------------------
static int mutate_hidden(gh_rng *r, int space, geno_cell *c, int e) {
    int node = 2 + e / 2, cur = c->edge[e].input, other = c->edge[e ^ 1].input;
    int distinct = nas_space_distinct_inputs(space), cand[2 + GENO_MAX_STEPS], n = 0;
    // another earlier hidden state: no loops (feed-forward), not the one it had
    for (int j = 0; j < node; j++)
        if (j != cur && !(distinct && j == other)) cand[n++] = j;
    if (!n) return 0;   // DARTS's first node: both inputs taken, nothing else to point to
    c->edge[e].input = cand[gh_rng_below(r, (uint64_t)n)];
    nas_space_concat(space, c);
    return 1;
}

static int mutate_op(gh_rng *r, int space, geno_cell *c, int e) {
    int nops = nas_space_nops(space), cur = nas_space_op_index(space, c->edge[e].op);
    if (cur < 0 || nops < 2) return 0;
    int k = (int)gh_rng_below(r, (uint64_t)(nops - 1));
    c->edge[e].op = nas_space_op(space, k >= cur ? k + 1 : k);   // another op than the current
    return 1;
}

int nas_mutate(gh_rng *r, const nas_proposer_options *o, const genotype *parent, genotype *child) {
    *child = *parent;
    int kind = (int)gh_rng_below(r, 3);
    if (kind == NAS_MUTATE_IDENTITY) return kind;
    // a cell, then one of its B pairwise combinations, then one element of the pair
    geno_cell *c = gh_rng_below(r, 2) ? &child->reduce : &child->normal;
    int e = 2 * (int)gh_rng_below(r, (uint64_t)c->steps) + (int)gh_rng_below(r, 2);
    int done = kind == NAS_MUTATE_HIDDEN ? mutate_hidden(r, o->space, c, e)
                                         : mutate_op(r, o->space, c, e);
    return done ? kind : NAS_MUTATE_IDENTITY;
}

// ---- the proposer ------------------------------------------------------------------------------
static int regevo_propose(nas_proposer *p, genotype *g) {
    regevo *v = (regevo *)p;
    // the initial population is random; with children of it still in flight (asynchronous
    // workers) and nothing told yet, a proposal is random too
    if (p->n_asked < p->opt.population || v->n == 0) {
        nas_space_random(&p->rng, &p->opt, g);
        return GH_OK;
    }
    const regevo_member *parent = NULL;
    for (int i = 0; i < p->opt.sample; i++) {
        const regevo_member *m = &v->pop[(v->head + (int)gh_rng_below(&p->rng, (uint64_t)v->n)) %
                                         p->opt.population];
        if (!parent || m->reward > parent->reward) parent = m;
    }
    nas_mutate(&p->rng, &p->opt, &parent->g, g);
    // an identity mutation gives the parent back: nas_ask drops it as a duplicate and draws again
    return GH_OK;
}

static void regevo_tell(nas_proposer *p, const nas_proposal *q, double reward, double cost) {
    (void)cost;
    regevo *v = (regevo *)p;
    int P = p->opt.population;
    regevo_member m = {.id = q->id, .reward = isnan(reward) ? -INFINITY : reward, .g = q->g};
    if (v->n == P) {   // aging: the oldest dies, not the worst
        v->head = (v->head + 1) % P;
        v->n--;
    }
    v->pop[(v->head + v->n) % P] = m;
    v->n++;
}

static int regevo_init(nas_proposer *p) {
    regevo *v = (regevo *)p;
    if (p->opt.population <= 0) p->opt.population = REGEVO_P;
    if (p->opt.sample <= 0) p->opt.sample = REGEVO_S;
    if (p->opt.sample > p->opt.population)
        return gh_fail(GH_EINVAL, "regevo: sample size %d above the population %d",
                       p->opt.sample, p->opt.population);
    v->pop = calloc((size_t)p->opt.population, sizeof *v->pop);
    return v->pop ? GH_OK : gh_fail(GH_ENOMEM, "regevo: population of %d", p->opt.population);
}

static void regevo_destroy(nas_proposer *p) {
    free(((regevo *)p)->pop);
    free(p);
}

// "<prefix>/regevo": P, S and the population's size; "<prefix>/population": the members oldest
// first (id, reward, genotype text), absent when there are none.
#define REGEVO_MAGIC "GHREGEV1"
#define REGEVO_VERSION 1u
typedef struct {
    char magic[8];
    uint32_t version;
    int32_t population, sample, n;
} regevo_head;
typedef struct {
    int64_t id;
    double reward;
    char text[2048];
} regevo_rec;
_Static_assert(sizeof(regevo_head) == 24 && sizeof(regevo_rec) == 2064, "regevo blobs have padding");

static int regevo_save(const nas_proposer *p, const char *prefix, gh_state_put put, void *ctx) {
    const regevo *v = (const regevo *)p;
    regevo_head h = {.version = REGEVO_VERSION, .population = p->opt.population,
                     .sample = p->opt.sample, .n = v->n};
    memcpy(h.magic, REGEVO_MAGIC, sizeof h.magic);
    char name[128];
    snprintf(name, sizeof name, "%s/regevo", prefix);
    int st = put(ctx, name, &h, sizeof h);
    if (st || !v->n) return st;
    regevo_rec *rec = calloc((size_t)v->n, sizeof *rec);
    if (!rec) return gh_fail(GH_ENOMEM, "regevo: checkpoint of %d members", v->n);
    for (int i = 0; i < v->n; i++) {
        const regevo_member *m = &v->pop[(v->head + i) % p->opt.population];
        rec[i].id = m->id;
        rec[i].reward = m->reward;
        genotype_print(&m->g, rec[i].text, sizeof rec[i].text);
    }
    snprintf(name, sizeof name, "%s/population", prefix);
    st = put(ctx, name, rec, (size_t)v->n * sizeof *rec);
    free(rec);
    return st;
}

static int regevo_load(nas_proposer *p, const char *prefix, ledger_ckpt_reader *r) {
    regevo *v = (regevo *)p;
    int P = p->opt.population;
    char name[128];
    snprintf(name, sizeof name, "%s/regevo", prefix);
    regevo_head h;
    int st = ledger_ckpt_get(r, name, &h, sizeof h);
    if (!st) st = nas_blob_check(r, name, h.magic, h.version, REGEVO_MAGIC, REGEVO_VERSION);
    if (st) return st;
    if (h.population != P || h.sample != p->opt.sample || h.n < 0 || h.n > P)
        return gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' holds %d members of a population "
                       "P %d, S %d, unlike this run's P %d, S %d", ledger_ckpt_run_id(r), name,
                       h.n, h.population, h.sample, P, p->opt.sample);
    regevo_rec *rec = calloc((size_t)(h.n ? h.n : 1), sizeof *rec);
    if (!rec) return gh_fail(GH_ENOMEM, "regevo: population of %d", h.n);
    snprintf(name, sizeof name, "%s/population", prefix);
    if (h.n) st = ledger_ckpt_get(r, name, rec, (size_t)h.n * sizeof *rec);
    for (int i = 0; !st && i < h.n; i++) {
        if (!memchr(rec[i].text, 0, sizeof rec[i].text) || rec[i].id < 0 ||
            rec[i].id >= p->n_asked) {
            st = gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' member %d is inconsistent",
                         ledger_ckpt_run_id(r), name, i);
            break;
        }
        v->pop[i] = (regevo_member){.id = rec[i].id, .reward = rec[i].reward};
        st = genotype_parse(&v->pop[i].g, rec[i].text);
    }
    if (!st) {
        v->head = 0;
        v->n = h.n;
    }
    free(rec);
    return st;
}

static const nas_proposer_vtable regevo_vt;

int nas_regevo_population(const nas_proposer *p, int64_t *ids, double *rewards, int max) {
    if (p->vt != &regevo_vt) return -1;
    const regevo *v = (const regevo *)p;
    for (int i = 0; i < v->n && i < max; i++) {
        const regevo_member *m = &v->pop[(v->head + i) % p->opt.population];
        if (ids) ids[i] = m->id;
        if (rewards) rewards[i] = m->reward;
    }
    return v->n;
}

static const nas_proposer_vtable regevo_vt = {
    .name = "regevo", .propose = regevo_propose, .tell = regevo_tell, .destroy = regevo_destroy,
    .init = regevo_init, .save = regevo_save, .load = regevo_load};

int nas_regevo_proposer_create(nas_proposer **out) {
    regevo *v = calloc(1, sizeof *v);
    if (!v) return gh_fail(GH_ENOMEM, "regevo proposer: no memory");
    v->base.vt = &regevo_vt;
    *out = &v->base;
    return GH_OK;
}
