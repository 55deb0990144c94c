// controller_nasnet: the NASNet search's controller (Zoph et al., CVPR 2018, section 3) as an
// ask/tell proposer: a one-layer LSTM emits, for each cell (normal, then reduction) and each of
// its blocks, hidden state A, hidden state B, op A, op B, each from a softmax classifier of its
// own, the choice fed back as the next input's embedding. Trained on batches of `batch` finished
// children, with advantages against a moving-average baseline and an entropy bonus, by PPO (the
// paper's choice: the clipped surrogate of Schulman et al. 2017, `epochs` Adam steps per batch,
// ratios against the log-probability each child had when it was sampled) or by REINFORCE (one
// step): asks never wait for an update, so children trained in parallel keep coming from the
// current policy and slow ones join a later batch.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

enum { RL_EMBED = 32, RL_HIDDEN = 64 };
// tokens fed back: an input choice j (< 2 + GENO_MAX_STEPS), an op 2 + GENO_MAX_STEPS + k, start
enum { TOK_OP0 = 2 + GENO_MAX_STEPS, TOK_START = TOK_OP0 + DARTS_NUM_GENO_OPS, NTOK };

typedef struct {
    double reward;
    double logp_old;         // log p(g) under the controller that sampled it (PPO)
    genotype g;
} rl_item;

typedef struct {
    nas_proposer base;
    gh_engine *e;
    gh_tensor *emb, *wx, *wh, *b;
    gh_tensor *in_w[2][GENO_MAX_STEPS][2], *in_b[2][GENO_MAX_STEPS][2];  // [cell][block][A/B]
    gh_tensor *op_w[2], *op_b[2];                                       // [cell]
    double baseline;
    int64_t updates;
    rl_item *batch;          // finished children waiting for the next update
    int nbatch;
    double *logp_old;        // PPO: log p of proposal id's genotype when it was sampled
    int64_t nold, capold;    // entries (ids 0..nold-1) and room
} rl;

// The classifier of decision (cell, block, slot): slot 0/1 hidden state A/B, 2/3 op A/B.
static int vocab(const rl *m, int block, int slot) {
    int space = m->base.opt.space;
    if (slot >= 2) return nas_space_nops(space);
    // DARTS's second input differs from the first: its choice ranges over the others
    return 2 + block - (slot == 1 && nas_space_distinct_inputs(space));
}

// One decision from the current token: scaled logits [1, vocab]; h and c advance.
static gh_tensor *decide(rl *m, int cell, int block, int slot, const int *tok, gh_tensor **h,
                         gh_tensor **c) {
    gh_engine *e = m->e;
    gh_tensor *x = gh_embedding(e, m->emb, 1, tok);
    gh_tensor *gates = gh_add(e, gh_linear(e, x, m->wx, m->b), gh_linear(e, *h, m->wh, NULL));
    *h = gh_lstm_cell(e, gates, *c, c);
    if (slot >= 2) return gh_linear(e, *h, m->op_w[cell], m->op_b[cell]);
    return gh_linear(e, *h, m->in_w[cell][block][slot], m->in_b[cell][block][slot]);
}

// The decisions of g in controller order (choice index per decision), and back.
static void encode(const rl *m, const genotype *g, int *choice) {
    const geno_cell *cells[2] = {&g->normal, &g->reduce};
    int n = 0, space = m->base.opt.space;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < m->base.opt.steps; i++) {
            int a = cells[c]->edge[2 * i].input, b = cells[c]->edge[2 * i + 1].input;
            choice[n++] = a;
            choice[n++] = nas_space_distinct_inputs(space) && b > a ? b - 1 : b;
            choice[n++] = nas_space_op_index(space, cells[c]->edge[2 * i].op);
            choice[n++] = nas_space_op_index(space, cells[c]->edge[2 * i + 1].op);
        }
}

static void decode(const rl *m, const int *choice, genotype *g) {
    geno_cell *cells[2] = {&g->normal, &g->reduce};
    int n = 0, space = m->base.opt.space, steps = m->base.opt.steps, mult = m->base.opt.multiplier;
    memset(g, 0, sizeof *g);
    for (int c = 0; c < 2; c++) {
        geno_cell *gc = cells[c];
        gc->steps = steps;
        for (int i = 0; i < steps; i++) {
            int a = choice[n++], b = choice[n++];
            if (nas_space_distinct_inputs(space) && b >= a) b++;
            gc->edge[2 * i].input = a;
            gc->edge[2 * i + 1].input = b;
            gc->edge[2 * i].op = nas_space_op(space, choice[n++]);
            gc->edge[2 * i + 1].op = nas_space_op(space, choice[n++]);
        }
        if (space == NAS_SPACE_NASNET) {
            nasnet_cell_concat(gc);
        } else {
            gc->nconcat = mult;
            for (int i = 0; i < mult; i++) gc->concat[i] = 2 + steps - mult + i;
        }
    }
}

static int token(int slot, int choice) { return slot >= 2 ? TOK_OP0 + choice : choice; }

// Runs the controller over every decision: sampling (choice filled, seed set) or teacher-forced
// on choice. logp and ent (optional) receive the summed log-probability and entropy tensors.
static void run(rl *m, int *choice, int sample, uint64_t seed, gh_tensor **logp, gh_tensor **ent) {
    gh_engine *e = m->e;
    gh_tensor *h = gh_input(e, 2, (int[]){1, RL_HIDDEN}, NULL);
    gh_tensor *c = gh_input(e, 2, (int[]){1, RL_HIDDEN}, NULL);
    const int start = TOK_START;
    const int *tok = gh_labels(e, 1, &start);
    gh_tensor *lp = NULL, *en = NULL;
    int n = 0;
    for (int cell = 0; cell < 2; cell++)
        for (int i = 0; i < m->base.opt.steps; i++)
            for (int slot = 0; slot < 4; slot++, n++) {
                gh_tensor *z = decide(m, cell, i, slot, tok, &h, &c);
                const int *idx;
                if (sample)
                    idx = gh_categorical_sample(e, z, 1.0f, 0.0f, gh_hash64(seed, (uint64_t)n),
                                                &choice[n]);
                else
                    idx = gh_labels(e, 1, &choice[n]);
                if (logp) {
                    gh_tensor *t = gh_log_prob(e, z, idx);
                    lp = lp ? gh_add(e, lp, t) : t;
                }
                if (ent) {
                    gh_tensor *t = gh_entropy(e, z);
                    en = en ? gh_add(e, en, t) : t;
                }
                int next = token(slot, choice[n]);
                tok = gh_labels(e, 1, &next);
            }
    if (logp) *logp = lp;
    if (ent) *ent = en;
}

// PPO: room for the log-probability of proposal id (the next nas_ask assigns p->n_asked).
static int reserve_old(rl *m, int64_t id) {
    if (id < m->capold) return GH_OK;
    int64_t cap = m->capold ? 2 * m->capold : 64;
    while (cap <= id) cap *= 2;
    double *t = realloc(m->logp_old, (size_t)cap * sizeof *t);
    if (!t) return gh_fail(GH_ENOMEM, "nasnet-rl: log-probabilities of %lld proposals",
                           (long long)cap);
    m->logp_old = t;
    m->capold = cap;
    return GH_OK;
}

static int rl_propose(nas_proposer *p, genotype *g) {
    rl *m = (rl *)p;
    int ppo = p->opt.algorithm == NAS_RL_PPO;
    int choice[8 * GENO_MAX_STEPS];
    int st = ppo ? reserve_old(m, p->n_asked) : GH_OK;
    if (st) return st;
    gh_step_begin(m->e);
    gh_set_grad_enabled(m->e, 0);
    gh_tensor *lp = NULL;
    run(m, choice, 1, gh_rng_u64(&p->rng), ppo ? &lp : NULL, NULL);
    // the draw that nas_ask keeps (not a duplicate) becomes proposal n_asked
    if (ppo) {
        m->logp_old[p->n_asked] = gh_scalar(m->e, lp);
        if (m->nold <= p->n_asked) m->nold = p->n_asked + 1;
    }
    gh_set_grad_enabled(m->e, 1);
    st = gh_engine_status(m->e);
    if (!st) decode(m, choice, g);
    return st;
}

int nas_rl_algorithm_parse(const char *name) {
    if (!strcmp(name, "reinforce")) return NAS_RL_REINFORCE;
    if (!strcmp(name, "ppo")) return NAS_RL_PPO;
    return -1;
}

double nas_ppo_weight(double adv, double ratio, double clip) {
    if ((adv > 0 && ratio > 1 + clip) || (adv < 0 && ratio < 1 - clip)) return 0;
    return adv * ratio;
}

double nas_rl_log_prob(nas_proposer *p, const genotype *g) {
    rl *m = (rl *)p;
    if (strcmp(p->vt->name, "nasnet-rl")) return NAN;
    int choice[8 * GENO_MAX_STEPS];
    encode(m, g, choice);
    gh_step_begin(m->e);
    gh_set_grad_enabled(m->e, 0);
    gh_tensor *lp;
    run(m, choice, 0, 0, &lp, NULL);
    double v = gh_scalar(m->e, lp);
    gh_set_grad_enabled(m->e, 1);
    return v;
}

// One Adam step on the batch: loss = (1/n) sum_i -w_i log p(a_i) - beta H(a_i), with w_i = A_i
// (REINFORCE) or PPO's nas_ppo_weight(A_i, p(a_i) / p_old(a_i), clip), A_i = R_i - b.
static int step(rl *m, int ppo) {
    gh_engine *e = m->e;
    const nas_proposer_options *o = &m->base.opt;
    gh_step_begin(e);
    int st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    gh_tensor *loss = NULL;
    for (int i = 0; !st && i < m->nbatch; i++) {
        int choice[8 * GENO_MAX_STEPS];
        encode(m, &m->batch[i].g, choice);
        gh_tensor *lp, *en;
        run(m, choice, 0, 0, &lp, &en);
        double w = m->batch[i].reward - m->baseline;
        if (ppo) w = nas_ppo_weight(w, exp(gh_scalar(e, lp) - m->batch[i].logp_old), o->clip);
        gh_tensor *t = gh_add(e, gh_scale(e, lp, (float)(-w / m->nbatch)),
                              gh_scale(e, en, (float)(-o->entropy / m->nbatch)));
        loss = loss ? gh_add(e, loss, t) : t;
    }
    if (!st) st = gh_backward(e, loss);
    if (!st) st = gh_adam_step(e, GH_GROUP_WEIGHTS, (float)o->lr, 0.9f, 0.999f, 1e-8f, 0.0f);
    if (!st) st = gh_engine_check_finite(e);
    return st;
}

// REINFORCE: one step; PPO: `epochs` steps, each recomputing the ratios under the controller
// as it now is. b is the moving average of the rewards before this batch; then b moves through
// the batch's rewards.
static int update(rl *m) {
    const nas_proposer_options *o = &m->base.opt;
    if (m->updates == 0 && m->nbatch) m->baseline = m->batch[0].reward;
    int ppo = o->algorithm == NAS_RL_PPO, st = GH_OK;
    for (int k = 0; !st && k < (ppo ? o->epochs : 1); k++) st = step(m, ppo);
    for (int i = 0; i < m->nbatch; i++)
        m->baseline = o->baseline_decay * m->baseline + (1 - o->baseline_decay) * m->batch[i].reward;
    m->nbatch = 0;
    m->updates++;
    return st;
}

static void rl_tell(nas_proposer *p, const nas_proposal *q, double reward, double cost) {
    (void)cost;
    rl *m = (rl *)p;
    // a child that diverged learned nothing: its reward is an accuracy of 0
    double old = q->id < m->nold ? m->logp_old[q->id] : 0;
    m->batch[m->nbatch++] = (rl_item){.reward = isnan(reward) ? 0.0 : reward, .logp_old = old,
                                      .g = q->g};
    if (m->nbatch == p->opt.batch && update(m))
        fprintf(stderr, "nasnet-rl: controller update failed: %s\n", gh_error_get());
}

static int rl_init(nas_proposer *p) {
    rl *m = (rl *)p;
    nas_proposer_options *o = &p->opt;
    if (o->batch <= 0) o->batch = 1;
    if (!(o->lr > 0)) o->lr = 0.00035;
    if (!(o->clip > 0)) o->clip = 0.2;
    if (o->epochs <= 0) o->epochs = 4;
    if (o->algorithm != NAS_RL_REINFORCE && o->algorithm != NAS_RL_PPO)
        return gh_fail(GH_EINVAL, "nasnet-rl: algorithm %d", o->algorithm);
    if (o->steps > GENO_MAX_STEPS) return gh_fail(GH_EINVAL, "nasnet-rl: %d steps", o->steps);
    if (!(m->batch = calloc((size_t)o->batch, sizeof *m->batch)))
        return gh_fail(GH_ENOMEM, "nasnet-rl: batch of %d", o->batch);
    // the controller is small: it runs on the CPU whatever trains the children
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = (size_t)(8 + 4 * o->batch)
                           << 20, .seed = gh_hash64(o->seed, 0x524c)};
    int st = gh_engine_create(&m->e, &ec);
    if (st) return st;
    gh_engine *e = m->e;
    char name[64];
    // the initialisation ENAS's controller uses is uniform; Kaiming-uniform here (fan-in scale)
    m->emb = gh_param(e, 0, "ctrl.emb", 2, (int[]){NTOK, RL_EMBED}, GH_INIT_KAIMING_UNIFORM, 1);
    m->wx = gh_param(e, 0, "ctrl.lstm.wx", 2, (int[]){4 * RL_HIDDEN, RL_EMBED},
                     GH_INIT_KAIMING_UNIFORM, RL_HIDDEN);
    m->wh = gh_param(e, 0, "ctrl.lstm.wh", 2, (int[]){4 * RL_HIDDEN, RL_HIDDEN},
                     GH_INIT_KAIMING_UNIFORM, RL_HIDDEN);
    m->b = gh_param(e, 0, "ctrl.lstm.b", 1, (int[]){4 * RL_HIDDEN}, GH_INIT_KAIMING_UNIFORM,
                    RL_HIDDEN);
    for (int c = 0; c < 2; c++) {
        int nops = nas_space_nops(o->space);
        snprintf(name, sizeof name, "ctrl.op%d.w", c);
        m->op_w[c] = gh_param(e, 0, name, 2, (int[]){nops, RL_HIDDEN}, GH_INIT_KAIMING_UNIFORM,
                              RL_HIDDEN);
        snprintf(name, sizeof name, "ctrl.op%d.b", c);
        m->op_b[c] = gh_param(e, 0, name, 1, (int[]){nops}, GH_INIT_ZERO, 0);
        for (int i = 0; i < o->steps; i++)
            for (int s = 0; s < 2; s++) {
                int v = vocab(m, i, s);
                snprintf(name, sizeof name, "ctrl.in%d.%d.%d.w", c, i, s);
                m->in_w[c][i][s] = gh_param(e, 0, name, 2, (int[]){v, RL_HIDDEN},
                                            GH_INIT_KAIMING_UNIFORM, RL_HIDDEN);
                snprintf(name, sizeof name, "ctrl.in%d.%d.%d.b", c, i, s);
                m->in_b[c][i][s] = gh_param(e, 0, name, 1, (int[]){v}, GH_INIT_ZERO, 0);
            }
    }
    return gh_params_alloc(e);
}

static void rl_destroy(nas_proposer *p) {
    rl *m = (rl *)p;
    gh_engine_destroy(m->e);
    free(m->batch);
    free(m->logp_old);
    free(p);
}

// ---- checkpoints: "<prefix>/ctrl/..." the controller engine's state (weights, Adam moments);
// "<prefix>/rl": baseline, updates and the children waiting for the next update; PPO:
// "<prefix>/rl_logp_old", the log-probabilities of proposals 0..nold-1 when they were sampled.
#define RL_MAGIC "GHNASRL1"
#define RL_VERSION 2u
typedef struct {
    char magic[8];
    uint32_t version;
    int32_t batch, nbatch, algorithm;
    int64_t updates;
    double baseline;
    int64_t nold;
} rl_head;
typedef struct {
    double reward, logp_old;
    char text[2048];
} rl_rec;
_Static_assert(sizeof(rl_head) == 48 && sizeof(rl_rec) == 2064, "rl blobs have padding");

typedef struct {
    gh_state_put put;
    ledger_ckpt_reader *r;
    void *ctx;
    const char *prefix;
} prefixed;

static int put_prefixed(void *ctx, const char *name, const void *data, size_t bytes) {
    prefixed *x = ctx;
    char full[256];
    snprintf(full, sizeof full, "%s/ctrl/%s", x->prefix, name);
    return x->put(x->ctx, full, data, bytes);
}

static int get_prefixed(void *ctx, const char *name, void *data, size_t bytes) {
    prefixed *x = ctx;
    char full[256];
    snprintf(full, sizeof full, "%s/ctrl/%s", x->prefix, name);
    return ledger_ckpt_get(x->r, full, data, bytes);
}

static int rl_save(const nas_proposer *p, const char *prefix, gh_state_put put, void *ctx) {
    const rl *m = (const rl *)p;
    prefixed x = {.put = put, .ctx = ctx, .prefix = prefix};
    int st = gh_engine_state_save(m->e, put_prefixed, &x);
    rl_head h = {.version = RL_VERSION, .batch = p->opt.batch, .nbatch = m->nbatch,
                 .algorithm = p->opt.algorithm, .updates = m->updates, .baseline = m->baseline,
                 .nold = m->nold};
    memcpy(h.magic, RL_MAGIC, sizeof h.magic);
    char name[128];
    snprintf(name, sizeof name, "%s/rl", prefix);
    if (!st) st = put(ctx, name, &h, sizeof h);
    snprintf(name, sizeof name, "%s/rl_logp_old", prefix);
    if (!st && m->nold) st = put(ctx, name, m->logp_old, (size_t)m->nold * sizeof *m->logp_old);
    if (st || !m->nbatch) return st;
    rl_rec *rec = calloc((size_t)m->nbatch, sizeof *rec);
    if (!rec) return gh_fail(GH_ENOMEM, "nasnet-rl: checkpoint of %d children", m->nbatch);
    for (int i = 0; i < m->nbatch; i++) {
        rec[i].reward = m->batch[i].reward;
        rec[i].logp_old = m->batch[i].logp_old;
        genotype_print(&m->batch[i].g, rec[i].text, sizeof rec[i].text);
    }
    snprintf(name, sizeof name, "%s/rl_batch", prefix);
    st = put(ctx, name, rec, (size_t)m->nbatch * sizeof *rec);
    free(rec);
    return st;
}

static int rl_load(nas_proposer *p, const char *prefix, ledger_ckpt_reader *r) {
    rl *m = (rl *)p;
    prefixed x = {.r = r, .prefix = prefix};
    int st = gh_engine_state_load(m->e, get_prefixed, &x);
    rl_head h;
    char name[128];
    snprintf(name, sizeof name, "%s/rl", prefix);
    if (!st) st = ledger_ckpt_get(r, name, &h, sizeof h);
    if (!st) st = nas_blob_check(r, name, h.magic, h.version, RL_MAGIC, RL_VERSION);
    if (st) return st;
    if (h.batch != p->opt.batch || h.nbatch < 0 || h.nbatch >= h.batch || h.updates < 0 ||
        h.nold < 0 || h.nold > p->n_asked + 1)
        return gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' holds %d of a batch of %d, this "
                       "run's batch is %d", ledger_ckpt_run_id(r), name, h.nbatch, h.batch,
                       p->opt.batch);
    if (h.algorithm != p->opt.algorithm)
        return gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' holds a controller trained by %s, "
                       "this run's rl_algorithm is %s", ledger_ckpt_run_id(r), name,
                       h.algorithm == NAS_RL_PPO ? "ppo" : "reinforce",
                       p->opt.algorithm == NAS_RL_PPO ? "ppo" : "reinforce");
    if (h.nold && (st = reserve_old(m, h.nold - 1))) return st;
    snprintf(name, sizeof name, "%s/rl_logp_old", prefix);
    if (h.nold &&
        (st = ledger_ckpt_get(r, name, m->logp_old, (size_t)h.nold * sizeof *m->logp_old)))
        return st;
    snprintf(name, sizeof name, "%s/rl", prefix);
    rl_rec *rec = calloc((size_t)(h.nbatch ? h.nbatch : 1), sizeof *rec);
    if (!rec) return gh_fail(GH_ENOMEM, "nasnet-rl: batch of %d", h.nbatch);
    snprintf(name, sizeof name, "%s/rl_batch", prefix);
    if (h.nbatch) st = ledger_ckpt_get(r, name, rec, (size_t)h.nbatch * sizeof *rec);
    for (int i = 0; !st && i < h.nbatch; i++) {
        if (!memchr(rec[i].text, 0, sizeof rec[i].text)) {
            st = gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' child %d is not text",
                         ledger_ckpt_run_id(r), name, i);
            break;
        }
        m->batch[i].reward = rec[i].reward;
        m->batch[i].logp_old = rec[i].logp_old;
        st = genotype_parse(&m->batch[i].g, rec[i].text);
    }
    if (!st) {
        m->nbatch = h.nbatch;
        m->nold = h.nold;
        m->updates = h.updates;
        m->baseline = h.baseline;
    }
    free(rec);
    return st;
}

static const nas_proposer_vtable rl_vt = {
    .name = "nasnet-rl", .propose = rl_propose, .tell = rl_tell, .destroy = rl_destroy,
    .init = rl_init, .save = rl_save, .load = rl_load};

int nas_rl_proposer_create(nas_proposer **out) {
    rl *m = calloc(1, sizeof *m);
    if (!m) return gh_fail(GH_ENOMEM, "nasnet-rl proposer: no memory");
    m->base.vt = &rl_vt;
    *out = &m->base;
    return GH_OK;
}
