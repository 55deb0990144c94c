// enas_controller: ENAS's controllers (Pham et al., ICML 2018; melodyguan/enas
// micro_controller.py, general_controller.py) on the engine's tape: a one-layer LSTM sampling a
// normal and a reduction cell (attention over earlier nodes for the inputs, a softmax layer for
// the ops) or a macro network (per layer an op, then a skip bit per earlier layer from the same
// attention, with the skip penalty), trained by REINFORCE with a moving-average baseline, the
// entropy added to the reward, and Adam. Both spaces share the LSTM, the decisions and the
// training; only the sequence of decisions differs.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas.h"

struct enas_ctrl {
    enas_ctrl_opts o;
    gh_engine *e;
    gh_tensor *wx, *wh;               // LSTM gates [4H, H] (stack_lstm has no bias)
    gh_tensor *g_emb;                 // [1, H]: the input before each node and at the start
    gh_tensor *w_emb;                 // [ops, H]: an op's embedding feeds the next decision
    gh_tensor *w_soft, *b_soft;       // op logits
    gh_tensor *w_attn1, *w_attn2, *v_attn;
    uint64_t draws;                   // decisions drawn so far (the seed stream's position)
    double baseline;
    int pending;                      // samples accumulated since the last Adam step
    gh_tensor *log_prob;              // of the last sample/log_prob, on its tape (NULL: none)
    gh_tensor *penalty;               // macro: the skip penalty's surrogate on that tape
    double last_entropy, last_log_prob, last_penalty, last_skip_rate;
    int nops;                         // 5 micro, 6 macro
};

gh_engine *enas_ctrl_engine(enas_ctrl *c) { return c->e; }
double enas_ctrl_baseline(const enas_ctrl *c) { return c->baseline; }

void enas_ctrl_destroy(enas_ctrl *c) {
    if (!c) return;
    gh_engine_destroy(c->e);
    free(c);
}

int enas_ctrl_create(enas_ctrl **out, const enas_ctrl_opts *o) {
    *out = NULL;
    if (o->macro && (o->layers < 1 || o->layers > ENAS_MACRO_MAX_LAYERS ||
                     !(o->skip_target > 0 && o->skip_target < 1) || !(o->skip_weight >= 0)))
        return gh_fail(GH_EINVAL,
                       "ENAS macro controller: %d layers (1..%d), skip target %g (0..1), skip "
                       "weight %g (>= 0) out of range",
                       o->layers, ENAS_MACRO_MAX_LAYERS, o->skip_target, o->skip_weight);
    if ((!o->macro && (o->nodes < 1 || o->nodes > ENAS_MAX_NODES)) || o->hidden < 1 ||
        o->aggregate < 1 ||
        !(o->temperature >= 0) || !(o->tanh_c >= 0) || !(o->op_tanh_reduce > 0) ||
        !(o->bl_dec >= 0 && o->bl_dec <= 1) || !isfinite(o->b_soft_init) || !(o->lr >= 0) ||
        !isfinite(o->entropy_weight))
        return gh_fail(GH_EINVAL,
                       "ENAS controller: nodes %d (1..%d), hidden %d, aggregate %d, temperature "
                       "%g, tanh constant %g, op tanh reduce %g, baseline decay %g, lr %g out of "
                       "range",
                       o->nodes, ENAS_MAX_NODES, o->hidden, o->aggregate, o->temperature,
                       o->tanh_c, o->op_tanh_reduce, o->bl_dec, o->lr);
    enas_ctrl *c = calloc(1, sizeof *c);
    if (!c) return gh_fail(GH_ENOMEM, "ENAS controller: no memory");
    c->o = *o;
    c->nops = o->macro ? ENAS_MACRO_NUM_OPS : ENAS_NUM_OPS;
    // Tiny one-row ops: the plain C reference backend, whatever trains the child (a GPU, or
    // OpenMP's fork/join, would spend the step on launch overhead); bit-identical everywhere.
    // The arena holds one sequence's tape: ~40 decisions of a few [1, 4H] tensors and their
    // gradients, plus the attention terms.
    // A macro sequence: per layer 2 LSTM steps and one attention term per earlier layer.
    size_t per = (size_t)(8 * o->hidden + 64) * sizeof(float) * 2;
    size_t decisions = 4 * (size_t)o->nodes * 2 + 8;
    size_t arena = decisions * per * (size_t)(16 + 3 * (o->nodes + 2)) + ((size_t)4 << 20);
    if (o->macro)
        arena = (size_t)o->layers * per * (size_t)(2 * 24 + 16 * o->layers) + ((size_t)4 << 20);
    gh_engine_config ec = {.backend = GH_BACKEND_REF, .arena_bytes = arena, .seed = o->seed,
                           .deterministic = 1};
    int st = gh_engine_create(&c->e, &ec);
    if (st) {
        free(c);
        return st;
    }
    gh_engine *e = c->e;
    int H = o->hidden;
    // tf.random_uniform_initializer(-0.1, 0.1): Kaiming-uniform's bound 1/sqrt(fan_in) at 100
    const gh_init U = GH_INIT_KAIMING_UNIFORM;
    const int F = 100;
    c->wx = gh_param(e, GH_GROUP_WEIGHTS, "lstm.wx", 2, (int[]){4 * H, H}, U, F);
    c->wh = gh_param(e, GH_GROUP_WEIGHTS, "lstm.wh", 2, (int[]){4 * H, H}, U, F);
    c->g_emb = gh_param(e, GH_GROUP_WEIGHTS, "g_emb", 2, (int[]){1, H}, U, F);
    c->w_emb = gh_param(e, GH_GROUP_WEIGHTS, "emb.w", 2, (int[]){c->nops, H}, U, F);
    c->w_soft = gh_param(e, GH_GROUP_WEIGHTS, "softmax.w", 2, (int[]){c->nops, H}, U, F);
    // general_controller.py's op softmax has no bias
    if (!o->macro)
        c->b_soft = gh_param(e, GH_GROUP_WEIGHTS, "softmax.b", 1, (int[]){ENAS_NUM_OPS}, U, F);
    c->w_attn1 = gh_param(e, GH_GROUP_WEIGHTS, "attention.w_1", 2, (int[]){H, H}, U, F);
    c->w_attn2 = gh_param(e, GH_GROUP_WEIGHTS, "attention.w_2", 2, (int[]){H, H}, U, F);
    c->v_attn = gh_param(e, GH_GROUP_WEIGHTS, "attention.v", 2, (int[]){1, H}, U, F);
    st = gh_engine_status(e);
    if (!st) st = gh_params_alloc(e);
    // b_soft starts at 10 on the two convolutions (micro_controller.py _create_params): through
    // the tanh constant they start at C / op_tanh_reduce, the rest near 0. At 10 the tanh is
    // saturated (derivative 8e-9): the convolutions' logits stay at the ceiling, and no other
    // op can rise above them (each op's probability stays at most about 1/3). b_soft_init 0
    // lets the controller learn the ops.
    const float bs = (float)o->b_soft_init, b0[ENAS_NUM_OPS] = {bs, bs, 0.0f, 0.0f, 0.0f};
    if (!st && c->b_soft) st = gh_tensor_from_host(e, c->b_soft, b0);
    if (!st) st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    if (st) {
        enas_ctrl_destroy(c);
        return st;
    }
    *out = c;
    return GH_OK;
}

typedef struct {
    enas_ctrl *c;
    gh_tensor *h, *cs;                // LSTM state
    gh_tensor *lp, *ent;              // sums over the decisions so far
    const enas_arc *forced;           // teacher forcing (NULL: sample)
    const enas_macro_arc *mforced;    // macro teacher forcing (NULL: sample)
    gh_tensor *pen;                   // macro: the skip penalty's surrogate, summed
    double pen_value;                 // and its value
} seq;

static gh_tensor *lstm(seq *s, gh_tensor *x) {
    gh_engine *e = s->c->e;
    gh_tensor *gates =
        gh_add(e, gh_linear(e, x, s->c->wx, NULL), gh_linear(e, s->h, s->c->wh, NULL));
    s->h = gh_lstm_cell(e, gates, s->cs, &s->cs);
    return s->h;
}

static gh_tensor *acc_sum(gh_engine *e, gh_tensor *sum, gh_tensor *x) {
    return sum ? gh_add(e, sum, x) : x;
}

// C tanh(z / T) (micro_controller.py: temperature, then the tanh constant)
static gh_tensor *scale_logits(gh_engine *e, gh_tensor *z, double T, double C) {
    if (T > 0) z = gh_scale(e, z, (float)(1.0 / T));
    if (C > 0) z = gh_scale(e, gh_tanh(e, z), (float)C);
    return z;
}

// One decision from logits z [1, k]: the forced value or a draw; log p and entropy summed.
static int decide(seq *s, gh_tensor *z, int forced, int *out, const int **dev) {
    gh_engine *e = s->c->e;
    int v = forced;
    if (!s->forced && !s->mforced) {
        uint64_t seed = gh_hash64(gh_hash64(s->c->o.seed, 0x454e4153u), s->c->draws++);
        *dev = gh_categorical_sample(e, z, 1.0f, 0.0f, seed, &v);
    } else {
        *dev = gh_labels(e, 1, &v);
    }
    if (!*dev || gh_engine_status(e)) return gh_engine_status(e) ? gh_engine_status(e) : GH_EINVAL;
    s->lp = acc_sum(e, s->lp, gh_log_prob(e, z, *dev));
    s->ent = acc_sum(e, s->ent, gh_entropy(e, z));
    *out = v;
    return gh_engine_status(e);
}

// One cell (micro_controller.py _build_sampler): arc[4 * nodes] receives the decisions.
static int run_cell(seq *s, int *arc, const int *forced, int use_bias) {
    enas_ctrl *c = s->c;
    gh_engine *e = c->e;
    const int H = c->o.hidden, B = c->o.nodes;
    gh_tensor *anchors[2 + ENAS_MAX_NODES], *aw1[2 + ENAS_MAX_NODES];
    gh_tensor *inputs = c->g_emb;
    for (int j = 0; j < 2; j++) {
        lstm(s, inputs);
        anchors[j] = gh_input(e, 2, (int[]){1, H}, NULL);
        aw1[j] = gh_linear(e, s->h, c->w_attn1, NULL);
    }
    // the fixed op bias of the first sampler (use_bias): +0.25 on the convolutions
    float nb[ENAS_NUM_OPS] = {0.25f, 0.25f, -0.25f, -0.25f, -0.25f};
    gh_tensor *bias = use_bias ? gh_input(e, 2, (int[]){1, ENAS_NUM_OPS}, nb) : NULL;
    int st;
    for (int node = 0; node < B; node++) {
        int layer = node + 2;
        for (int i = 0; i < 2; i++) {   // the inputs: attention over nodes 0..layer-1
            lstm(s, inputs);
            gh_tensor *q = gh_linear(e, s->h, c->w_attn2, NULL), *terms[2 + ENAS_MAX_NODES];
            for (int j = 0; j < layer; j++)
                terms[j] = gh_linear(e, gh_tanh(e, gh_add(e, aw1[j], q)), c->v_attn, NULL);
            gh_tensor *z =
                scale_logits(e, gh_concat(e, layer, terms), c->o.temperature, c->o.tanh_c);
            const int *dev;
            int idx;
            if ((st = decide(s, z, forced ? forced[4 * node + 2 * i] : 0, &idx, &dev))) return st;
            if (idx < 0 || idx >= layer)
                return gh_fail(GH_EINVAL, "ENAS controller: input %d of node %d", idx, layer);
            arc[4 * node + 2 * i] = idx;
            inputs = anchors[idx];
        }
        for (int i = 0; i < 2; i++) {   // the ops
            lstm(s, inputs);
            gh_tensor *z = scale_logits(e, gh_linear(e, s->h, c->w_soft, c->b_soft),
                                        c->o.temperature,
                                        c->o.tanh_c > 0 ? c->o.tanh_c / c->o.op_tanh_reduce : 0);
            if (bias) z = gh_add(e, z, bias);
            const int *dev;
            int op;
            st = decide(s, z, forced ? forced[4 * node + 2 * i + 1] : 0, &op, &dev);
            if (st) return st;
            arc[4 * node + 2 * i + 1] = op;
            inputs = gh_embedding(e, c->w_emb, 1, dev);
        }
        lstm(s, inputs);
        anchors[layer] = s->h;
        aw1[layer] = gh_linear(e, s->h, c->w_attn1, NULL);
        inputs = c->g_emb;
    }
    return gh_engine_status(e);
}

// The skip penalty of one skip decision (general_controller.py): KL(sigmoid(z) || [1 - t, t])
// summed over the two entries of z = [-q, q] (after the temperature and tanh constant). The
// engine has no log op: its value is computed here, and the tape gets the surrogate g . z with
// g = dKL/dz at this z (constant), whose gradient is the KL's.
static int skip_penalty(seq *s, gh_tensor *z) {
    gh_engine *e = s->c->e;
    float zh[2];
    int st = gh_tensor_to_host(e, z, zh);
    if (st) return st;
    const double t[2] = {1.0 - s->c->o.skip_target, s->c->o.skip_target};
    float g[2];
    for (int k = 0; k < 2; k++) {
        double p = 1.0 / (1.0 + exp(-(double)zh[k])), l = log(p / t[k]);
        s->pen_value += p * l;
        g[k] = (float)(p * (1.0 - p) * (l + 1.0));
    }
    gh_tensor *gw = gh_input(e, 2, (int[]){1, 2}, g);
    s->pen = acc_sum(e, s->pen, gh_linear(e, z, gw, NULL));
    return gh_engine_status(e);
}

// The macro network (general_controller.py _build_sampler, search_whole_channels): per layer
// the op from the softmax layer (no bias, the tanh constant alone), its embedding into the
// LSTM, then for every earlier layer j a skip bit from the logits [-q_j, q_j], q_j = v .
// tanh(W1 h_j + W2 h); the next input is the mean of the chosen anchors (sum / (1 + count)).
static int run_macro(seq *s, enas_macro_arc *arc) {
    enas_ctrl *c = s->c;
    gh_engine *e = c->e;
    const int H = c->o.hidden, L = c->o.layers;
    const enas_macro_arc *f = s->mforced;
    gh_tensor *anchors[ENAS_MACRO_MAX_LAYERS], *aw1[ENAS_MACRO_MAX_LAYERS];
    gh_tensor *inputs = c->g_emb;
    int st, skips = 0;
    arc->layers = L;
    for (int layer = 0; layer < L; layer++) {
        lstm(s, inputs);
        gh_tensor *z = scale_logits(e, gh_linear(e, s->h, c->w_soft, NULL), c->o.temperature,
                                    c->o.tanh_c);
        const int *dev;
        int op;
        if ((st = decide(s, z, f ? f->op[layer] : 0, &op, &dev))) return st;
        arc->op[layer] = op;
        inputs = gh_embedding(e, c->w_emb, 1, dev);
        lstm(s, inputs);
        if (layer > 0) {
            gh_tensor *q = gh_linear(e, s->h, c->w_attn2, NULL), *sum = NULL;
            int count = 0;
            for (int j = 0; j < layer; j++) {
                gh_tensor *qj = gh_linear(e, gh_tanh(e, gh_add(e, aw1[j], q)), c->v_attn, NULL);
                gh_tensor *pair[2] = {gh_scale(e, qj, -1.0f), qj};
                gh_tensor *zj =
                    scale_logits(e, gh_concat(e, 2, pair), c->o.temperature, c->o.tanh_c);
                int bit;
                if ((st = decide(s, zj, f ? f->skip[layer][j] : 0, &bit, &dev))) return st;
                if ((st = skip_penalty(s, zj))) return st;
                arc->skip[layer][j] = (unsigned char)bit;
                if (bit) {
                    sum = acc_sum(e, sum, anchors[j]);
                    count++;
                }
            }
            skips += count;
            inputs = sum ? gh_scale(e, sum, (float)(1.0 / (1.0 + count)))
                         : gh_input(e, 2, (int[]){1, H}, NULL);
        } else {
            inputs = c->g_emb;
        }
        anchors[layer] = s->h;
        aw1[layer] = gh_linear(e, s->h, c->w_attn1, NULL);
    }
    // skip_penaltys is the mean over the layers that have skips
    if (L > 1) {
        s->pen = gh_scale(e, s->pen, (float)(1.0 / (L - 1)));
        s->pen_value /= L - 1;
    }
    c->last_skip_rate = L > 1 ? skips / (L * (L - 1) / 2.0) : 0.0;
    return gh_engine_status(e);
}

// The whole sequence (normal cell with the fixed bias, then the reduction cell), on a new tape.
static int run_seq(enas_ctrl *c, enas_arc *a, const enas_arc *forced, enas_macro_arc *m,
                   const enas_macro_arc *mforced, double *log_prob, double *entropy) {
    gh_engine *e = c->e;
    c->log_prob = c->penalty = NULL;
    if (a) memset(a, 0, sizeof *a);
    if (m) memset(m, 0, sizeof *m);
    gh_step_begin(e);
    gh_set_training(e, 1);
    gh_set_grad_enabled(e, 1);
    const int H = c->o.hidden;
    seq s = {.c = c, .forced = forced, .mforced = mforced};
    s.h = gh_input(e, 2, (int[]){1, H}, NULL);
    s.cs = gh_input(e, 2, (int[]){1, H}, NULL);
    int st;
    if (m) {
        st = run_macro(&s, m);
    } else {
        a->nodes = c->o.nodes;
        st = run_cell(&s, a->normal, forced ? forced->normal : NULL, 1);
        if (!st) st = run_cell(&s, a->reduce, forced ? forced->reduce : NULL, 0);
    }
    if (st) return st;
    double lp = gh_scalar(e, s.lp), ent = gh_scalar(e, s.ent);
    if ((st = gh_engine_status(e))) return st;
    c->log_prob = s.lp;
    c->penalty = s.pen;
    c->last_penalty = s.pen_value;
    c->last_log_prob = lp;
    c->last_entropy = ent;
    if (log_prob) *log_prob = lp;
    if (entropy) *entropy = ent;
    return GH_OK;
}

static int need_space(const enas_ctrl *c, int macro) {
    if (c->o.macro == macro) return GH_OK;
    return gh_fail(GH_EINVAL, "ENAS controller: asked for a %s arc of a %s controller",
                   macro ? "macro" : "micro", c->o.macro ? "macro" : "micro");
}

int enas_ctrl_sample(enas_ctrl *c, enas_arc *a, double *log_prob, double *entropy) {
    int st = need_space(c, 0);
    return st ? st : run_seq(c, a, NULL, NULL, NULL, log_prob, entropy);
}

int enas_ctrl_sample_macro(enas_ctrl *c, enas_macro_arc *a, double *log_prob, double *entropy) {
    int st = need_space(c, 1);
    return st ? st : run_seq(c, NULL, NULL, a, NULL, log_prob, entropy);
}

int enas_ctrl_log_prob_macro(enas_ctrl *c, const enas_macro_arc *a, double *log_prob,
                             double *entropy) {
    int st = need_space(c, 1);
    if (!st && a->layers != c->o.layers)
        st = gh_fail(GH_EINVAL, "ENAS controller: arc of %d layers, controller samples %d",
                     a->layers, c->o.layers);
    if (!st) st = enas_macro_arc_validate(a);
    enas_macro_arc tmp;
    return st ? st : run_seq(c, NULL, NULL, &tmp, a, log_prob, entropy);
}

double enas_ctrl_skip_penalty(const enas_ctrl *c) { return c->last_penalty; }

int enas_ctrl_log_prob(enas_ctrl *c, const enas_arc *a, double *log_prob, double *entropy) {
    int st = need_space(c, 0);
    if (st) return st;
    if (a->nodes != c->o.nodes)
        return gh_fail(GH_EINVAL, "ENAS controller: arc of %d nodes, controller samples %d",
                       a->nodes, c->o.nodes);
    if ((st = enas_arc_validate(a))) return st;
    enas_arc tmp;
    return run_seq(c, &tmp, a, NULL, NULL, log_prob, entropy);
}

int enas_ctrl_reinforce(enas_ctrl *c, double acc, enas_ctrl_feedback *out) {
    if (!c->log_prob)
        return gh_fail(GH_EINVAL, "ENAS controller: reinforce without a sample to feed back");
    gh_engine *e = c->e;
    // micro_controller.py build_trainer: the entropy enters the reward (no gradient of its own)
    double reward = acc + c->o.entropy_weight * c->last_entropy;
    double b = c->baseline, adv = reward - b;
    // the baseline of the samples before this one keeps the estimator unbiased
    gh_tensor *loss = gh_scale(e, c->log_prob, (float)(-adv / c->o.aggregate));
    // general_controller.py: loss += skip_weight * skip_penaltys
    if (c->penalty && c->o.skip_weight > 0)
        loss = gh_add(e, gh_flatten(e, loss),   // [1] as the surrogate's [1, 1]
                      gh_scale(e, c->penalty, (float)(c->o.skip_weight / c->o.aggregate)));
    int st = gh_backward(e, loss);
    c->log_prob = c->penalty = NULL;
    if (st) return st;
    c->baseline = b - (1.0 - c->o.bl_dec) * (b - reward);
    int stepped = 0;
    if (++c->pending >= c->o.aggregate) {
        // get_train_ops: Adam(lr, beta1 = 0, epsilon = 1e-3)
        st = gh_adam_step(e, GH_GROUP_WEIGHTS, (float)c->o.lr, 0.0f, 0.999f, 1e-3f, 0.0f);
        if (!st) st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
        if (st) return st;
        c->pending = 0;
        stepped = 1;
    }
    if (out)
        *out = (enas_ctrl_feedback){.reward = reward, .entropy = c->last_entropy,
                                    .log_prob = c->last_log_prob, .baseline = c->baseline,
                                    .loss = -adv * c->last_log_prob +
                                            (c->o.macro ? c->o.skip_weight * c->last_penalty : 0),
                                    .skip_penalty = c->last_penalty,
                                    .skip_rate = c->last_skip_rate, .stepped = stepped};
    return GH_OK;
}

// ---- checkpoints: the engine's state and the counters, under "enas_ctrl/" -------------------
#define CTRL_MAGIC "GHENASC1"
#define CTRL_VERSION 1u
typedef struct {
    char magic[8];
    uint32_t version;
    int32_t nodes, hidden, macro;   // nodes: B, or the macro controller's layers
    uint64_t draws;
    double baseline;
} ctrl_blob;
_Static_assert(sizeof(ctrl_blob) == 40, "ctrl_blob has padding");

typedef struct {
    gh_state_put put;
    gh_state_get get;
    void *ctx;
} prefixed;

static int put_prefixed(void *ctx, const char *name, const void *data, size_t bytes) {
    prefixed *p = ctx;
    char n[256];
    snprintf(n, sizeof n, "enas_ctrl/%s", name);
    return p->put(p->ctx, n, data, bytes);
}

static int get_prefixed(void *ctx, const char *name, void *data, size_t bytes) {
    prefixed *p = ctx;
    char n[256];
    snprintf(n, sizeof n, "enas_ctrl/%s", name);
    return p->get(p->ctx, n, data, bytes);
}

int enas_ctrl_save(const enas_ctrl *c, gh_state_put put, void *ctx) {
    // gradients are not saved: a checkpoint falls between Adam steps
    if (c->pending)
        return gh_fail(GH_EINVAL, "ENAS controller: checkpoint with %d samples of an aggregate "
                       "fed back but not stepped", c->pending);
    prefixed p = {.put = put, .ctx = ctx};
    ctrl_blob b = {.version = CTRL_VERSION, .nodes = c->o.macro ? c->o.layers : c->o.nodes,
                   .hidden = c->o.hidden, .macro = c->o.macro,
                   .draws = c->draws, .baseline = c->baseline};
    memcpy(b.magic, CTRL_MAGIC, sizeof b.magic);
    int st = gh_engine_state_save(c->e, put_prefixed, &p);
    return st ? st : put_prefixed(&p, "state", &b, sizeof b);
}

int enas_ctrl_load(enas_ctrl *c, gh_state_get get, void *ctx) {
    prefixed p = {.get = get, .ctx = ctx};
    ctrl_blob b;
    int st = get_prefixed(&p, "state", &b, sizeof b);
    if (st) return st;
    const int want = c->o.macro ? c->o.layers : c->o.nodes;
    if (memcmp(b.magic, CTRL_MAGIC, sizeof b.magic) || b.version != CTRL_VERSION ||
        b.nodes != want || b.hidden != c->o.hidden || b.macro != c->o.macro)
        return gh_fail(GH_EFORMAT, "ENAS controller checkpoint: version %u, %s, %d nodes or "
                       "layers, %d units; this build and config: version %u, %s, %d, %d units",
                       b.version, b.macro ? "macro" : "micro", b.nodes, b.hidden, CTRL_VERSION,
                       c->o.macro ? "macro" : "micro", want, c->o.hidden);
    if ((st = gh_engine_state_load(c->e, get_prefixed, &p))) return st;
    c->draws = b.draws;
    c->baseline = b.baseline;
    c->pending = 0;
    c->log_prob = NULL;
    return gh_group_zero_grad(c->e, GH_GROUP_WEIGHTS);
}
