// enas: Efficient Neural Architecture Search via parameter sharing (Pham et al., ICML 2018;
// melodyguan/enas micro search). One supernet holds every op's weights for every position; each
// training minibatch trains the path of one arc the controller samples (SGD, cosine with warm
// restarts); after every epoch the controller takes train_steps Adam steps of REINFORCE, each
// over `aggregate` arcs rewarded with their accuracy on a validation minibatch; at the end
// derive_archs arcs are sampled and scored on one validation minibatch, all recorded, the best
// returned. Records: per epoch the child's epoch row (val_acc: the controller samples' mean),
// controller_epoch_NNN (mean reward, entropy, baseline, loss, valid_acc) and
// controller_arcs_epoch_NNN (every sampled arc with its valid_acc and reward); the derived arcs
// as trial rows and enas_derived_arcs.
//
// The macro space (enas-macro; general_child.py, general_controller.py): the same loop with the
// macro controller and the shared macro network (models/macronet.c) in place of the supernet;
// its arcs are "enas-macro: ..." in every record, and the rewards are computed as the official
// build_valid_rl of the general child does (is_training=False: running BN statistics, no
// dropout). The child's momentum is PyTorch's, as below.
//
// Where this differs from the official code (it runs on DARTS's supernet, models/supernet.c):
// a reduction cell is a cell of stride-2 ops on its inputs (DARTS, and ENAS's own final
// network) where ENAS's search child factorized-reduces first and runs a stride-1 cell; the
// supernet cell concatenates every node rather than the sampled arc's loose ends, and its
// weights are per (node, input, op) rather than also per x/y slot; the child's SGD momentum is
// PyTorch's rather than Nesterov's, and there is no dropout before the classifier
// (child_keep_prob). The rewards are computed with batch statistics (is_training=True in the
// official build_valid_rl) and without gradients.
//
// Data parallel (`mpirun -np N gpuhours search enas`): every rank holds the same controller
// (same seed, same draw counter), so every rank samples the same arc; the child trains on the
// rank's part of every global training batch with its gradient averaged by the reducer (the
// trainer's reduce hook); a reward is the accuracy over the whole validation batch, each rank
// scoring its part and the hit counts summed over the ranks, so every rank gets the same
// reward and takes the same (deterministic) controller step itself: no broadcast, the
// controllers stay equal as long as their updates are (path_acc says why they are). With
// per-rank batch norm the running statistics are averaged over the ranks after every step
// (enas_step), so the macro space's rewards, which read them, score one model. Rank 0 alone
// writes the run file and its checkpoints, at epochs' ends (enas_checkpoint), which any number
// of ranks resumes. --micro N makes one process compute what N ranks do (batch norm
// per part, in training and in the rewards): the reference of the equality test.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

typedef struct {
    nas_run *r;
    gh_engine *e;
    int macro;               // 1: the macro space (mnet, marc), 0: micro cells (net, path, arc)
    nas_net net;             // the supernet restricted to `path`
    genotype path;           // the arc being trained or scored, as a supernet path
    enas_arc arc;
    enas_macro_model mnet;   // the shared macro network running `marc`
    enas_macro_arc marc;
    enas_ctrl *ctrl;
    nas_feed train, val;
    int steps;               // training steps per epoch
    int *vorder, vpos, vpass;   // the validation walk: shuffled order, position, passes
    gh_step_def sd;
    gh_train_pos pos;        // where the child's training stands (checkpoints)
    dp_reducer *dp;          // data parallel: the child's gradients averaged (NULL: one process)
} enas_plan;

// What the search needs to continue from a checkpoint besides the two engines' states (the
// shared weights, BN statistics and SGD momentum; the controller's parameters, Adam moments,
// draw counter and baseline): the trainer's position and the validation walk. Checkpoints fall
// within the child's training and after each epoch's controller training; a run killed while
// deriving derives again from the last one.
#define ENAS_STATE_MAGIC "GHENAS01"
#define ENAS_STATE_VERSION 1u
typedef struct {
    char magic[8];
    uint32_t version;
    int32_t nodes;           // B, or the macro network's layers
    nas_pos_blob pos;
    int32_t vpos, vpass;
} enas_state_blob;
_Static_assert(sizeof(enas_state_blob) == 56, "enas_state_blob has padding");

double enas_child_lr(const nas_config *c, int epoch) {
    return nas_cosine_restart_lr(c->search_lr, c->search_lr_min, epoch, c->search_epochs,
                                 c->enas.lr_t0, c->enas.lr_tmul);
}

static int enas_batch(void *ctx, int epoch, int step, gh_batch *b) {
    return nas_feed_train(&((enas_plan *)ctx)->train, epoch, step, b);
}

static double enas_lr(void *ctx, int epoch, int step) {
    (void)step;
    return enas_child_lr(((enas_plan *)ctx)->r->c, epoch);
}

// A draw of the controller as this step's path.
static int sample_path(enas_plan *k) {
    if (k->macro) return enas_ctrl_sample_macro(k->ctrl, &k->marc, NULL, NULL);
    int st = enas_ctrl_sample(k->ctrl, &k->arc, NULL, NULL);
    return st ? st : enas_arc_to_genotype(&k->arc, &k->path);
}

// The current arc in the official integers.
static void print_arc(const enas_plan *k, char *out, size_t len) {
    if (k->macro)
        enas_macro_arc_print(&k->marc, out, len);
    else
        enas_arc_print(&k->arc, out, len);
}

// B, or the macro network's layers: what the checkpoint blob is checked against.
static int plan_size(const nas_run *r, int macro) {
    return macro ? r->c->search_layers : r->c->enas.nodes;
}

// Each minibatch trains the sampled arc only (train_shared in the official code). Data
// parallel with per-rank batch norm: the running statistics averaged over the ranks after the
// step, so that every rank holds the same model: the macro space's rewards read them, and a
// checkpoint (rank 0's) is then every rank's state, whatever number of ranks resumes it.
static int enas_step(void *ctx, gh_engine *e, const gh_batch *b, double lr) {
    enas_plan *k = ctx;
    int st = sample_path(k);
    if (!st) st = gh_train_step(e, &k->sd, b, lr);
    if (!st && k->dp && !k->r->c->sync_bn) st = dp_average_buffers(k->dp, e);
    return st;
}

// The next validation minibatch of the shuffled walk (valid_shuffle in the official code).
static void next_val(enas_plan *k, gh_batch *b) {
    const int n = k->r->wval.n, bs = k->val.batch < n ? k->val.batch : n;
    if (k->vpos + bs > n || k->vpass < 0) {
        k->vpass++;
        nas_epoch_order(k->vorder, n, k->r->c->seed ^ 0x76616c6964ull, k->vpass);
        k->vpos = 0;
    }
    // data parallel: this rank's part of the global validation batch (gh_batch_part's rows)
    int r0 = (int)((long)bs * k->train.shard / k->train.shards);
    int r1 = (int)((long)bs * (k->train.shard + 1) / k->train.shards);
    nas_feed_batch(&k->val, k->vorder + k->vpos + r0, r1 - r0, 0, 0, 0, b);
    k->vpos += bs;
}

// Hits of the current path on b, no gradients, one read: batch statistics for micro cells
// (micro_child.py build_valid_rl), running statistics for the macro network (general_child.py).
static int path_hits(enas_plan *k, const gh_batch *b, double *hits) {
    gh_engine *e = k->e;
    gh_step_begin(e);
    gh_set_training(e, !k->macro);
    gh_set_grad_enabled(e, 0);
    const int *labels = gh_labels(e, b->shape[0], b->y);
    gh_tensor *logits = NULL;
    if (k->macro)
        enas_macro_loss(&k->mnet, e, b, labels, &logits);
    else
        nas_net_eval_loss(&k->net, e, b, labels, &logits);
    enum { SLOT = GH_ACC_EVAL_HITS + 1 };
    double sums[SLOT + 1];
    int st = gh_acc_reset(e, SLOT, 1);
    if (!st && logits) st = gh_acc_hits(e, SLOT, logits, labels);
    if (!st) st = gh_acc_read(e, SLOT + 1, sums);
    if (!st && !logits) st = gh_engine_status(e) ? gh_engine_status(e) : GH_EINVAL;
    gh_set_grad_enabled(e, 1);
    gh_set_training(e, 1);
    if (st) return st;
    *hits = sums[SLOT];
    return GH_OK;
}

// Accuracy of the current path on the validation batch, the same on every rank: this rank's
// part scored (in `micro` parts when one process stands in for that many ranks), the hits and
// images summed over the ranks (exact: integers in double), so that every rank feeds the same
// reward to its controller.
static int path_acc(enas_plan *k, const gh_batch *b, double *acc) {
    int parts = k->r->c->micro > 1 ? k->r->c->micro : 1, st = GH_OK;
    double v[2] = {0, 0};   // hits, images
    for (int i = 0; i < parts && !st; i++) {
        gh_batch part = parts > 1 ? gh_batch_part(b, i, parts) : *b;
        double h = 0;
        if (part.shape[0] > 0 && !(st = path_hits(k, &part, &h))) {
            v[0] += h;
            v[1] += part.shape[0];
        }
    }
    if (!st && k->dp) st = pg_allreduce_sum_f64(v, 2);
    if (st) return st;
    *acc = v[1] > 0 ? v[0] / v[1] : NAN;
    return GH_OK;
}

typedef struct {
    double reward, entropy, loss, acc, baseline, skip_rate;
    int n;
    char *arcs;              // one line per sample: valid_acc, reward, the arc (official format)
    size_t len, cap;
} ctrl_stats;

// train_steps x aggregate arcs, each rewarded with its accuracy on a validation minibatch.
static int train_controller(enas_plan *k, ctrl_stats *s) {
    const nas_enas_config *ec = &k->r->c->enas;
    memset(s, 0, sizeof *s);
    int total = ec->train_steps * ec->aggregate, st = GH_OK;
    s->cap = (size_t)total * (48 + ENAS_MACRO_TEXT_MAX) + 1;
    if (!(s->arcs = malloc(s->cap))) return gh_fail(GH_ENOMEM, "enas: no memory for arcs");
    s->arcs[0] = 0;
    for (int i = 0; i < total && !st; i++) {
        gh_batch b;
        double acc;
        enas_ctrl_feedback fb;
        if ((st = sample_path(k))) break;
        next_val(k, &b);
        if ((st = path_acc(k, &b, &acc))) break;
        if ((st = enas_ctrl_reinforce(k->ctrl, acc, &fb))) break;
        char arc[ENAS_MACRO_TEXT_MAX];
        print_arc(k, arc, sizeof arc);
        s->len += (size_t)snprintf(s->arcs + s->len, s->cap - s->len, "%.6f %.6f %s\n", acc,
                                   fb.reward, arc);
        s->reward += fb.reward;
        s->entropy += fb.entropy;
        s->loss += fb.loss;
        s->acc += acc;
        s->skip_rate += fb.skip_rate;
        s->n++;
    }
    if (s->n) {
        s->reward /= s->n;
        s->entropy /= s->n;
        s->loss /= s->n;
        s->acc /= s->n;
        s->skip_rate /= s->n;
    } else {
        s->reward = s->entropy = s->loss = s->acc = s->skip_rate = NAN;
    }
    s->baseline = enas_ctrl_baseline(k->ctrl);
    return st;
}

static int enas_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p0) {
    (void)e;
    enas_plan *k = ctx;
    const nas_run *r = k->r;
    gh_train_progress all = *p0, *p = &all;   // data parallel: the means over every rank
    int st = nas_dp_progress(k->dp, &all);
    if (!st) st = nas_dp_rank_costs(k->dp, r->meter, r->l, "search", -1, p->epoch);
    if (st) return st;
    ctrl_stats s;
    st = train_controller(k, &s);
    // after the controller's rewards: with sync_bn their batch norm (micro cells) reduces too
    double comm = st ? 0.0 : nas_dp_comm(k->dp);
    if (!st && r->l && s.len) {
        // every arc the controller sampled this epoch with its valid_acc and reward
        char name[64];
        snprintf(name, sizeof name, "controller_arcs_epoch_%03d", p->epoch);
        st = ledger_put_text(r->l, name, s.arcs);
    }
    free(s.arcs);
    if (st) return st;
    printf("enas epoch %d: child train_loss %.6f, controller %d samples, mean reward %.4f, "
           "valid_acc %.2f%%, entropy %.3f, baseline %.4f, loss %.4f",
           p->epoch + 1, p->loss, s.n, s.reward, 100 * s.acc, s.entropy, s.baseline, s.loss);
    if (k->macro) printf(", skip rate %.3f", s.skip_rate);
    printf("\n");
    if (!r->l) return GH_OK;
    // the controller's epoch: mean reward, entropy, baseline, loss, validation accuracy (and
    // the macro space's skip rate)
    char name[64];
    const float row[6] = {(float)s.reward, (float)s.entropy, (float)s.baseline, (float)s.loss,
                          (float)s.acc, (float)s.skip_rate};
    snprintf(name, sizeof name, "controller_epoch_%03d", p->epoch);
    if ((st = ledger_put_matrix(r->l, name, 1, k->macro ? 6 : 5, row))) return st;
    ledger_epoch ep = {.phase = "search", .trial_id = -1, .epoch = p->epoch,
                       .train_loss = p->loss, .train_acc = p->acc, .val_loss = NAN,
                       .val_acc = s.acc, .lr = p->lr, .cost = nas_run_cost(r)};
    return ledger_append_epoch_comm(r->l, &ep, comm);
}

static int enas_checkpoint(void *ctx, gh_engine *e, const gh_train_pos *pos) {
    enas_plan *k = ctx;
    const nas_run *r = k->r;
    k->pos = *pos;
    // data parallel: at epochs' ends only (nas_ckpt_skip_dp says why)
    if (nas_ckpt_skip_dp(pos, k->steps, k->dp != NULL)) return GH_OK;
    cost_totals cost = nas_run_cost(r);
    ledger_ckpt_writer *w;
    int st = nas_ckpt_begin(r->ck, r->l, NAS_DO_SEARCH, (int64_t)pos->epoch * k->steps + pos->step,
                            &cost, &w);
    if (st || !w) return st;
    enas_state_blob b = {.version = ENAS_STATE_VERSION, .nodes = plan_size(r, k->macro),
                         .pos = nas_pos_pack(pos), .vpos = k->vpos, .vpass = k->vpass};
    memcpy(b.magic, ENAS_STATE_MAGIC, sizeof b.magic);
    st = gh_engine_state_save(e, ledger_ckpt_put_cb, w);
    if (!st) st = ledger_ckpt_put(w, "enas/state", &b, sizeof b);
    if (!st) st = enas_ctrl_save(k->ctrl, ledger_ckpt_put_cb, w);
    nas_ckpt_point at = {.phase = NAS_DO_SEARCH, .training = 1, .pos = *pos};
    return nas_ckpt_end(r->ck, w, st, &at);
}

static int enas_resume(enas_plan *k, ledger_ckpt_reader *from) {
    enas_state_blob b;
    int st = gh_engine_state_load(k->e, ledger_ckpt_get_cb, from);
    if (!st) st = ledger_ckpt_get(from, "enas/state", &b, sizeof b);
    if (!st) st = nas_blob_check(from, "enas/state", b.magic, b.version, ENAS_STATE_MAGIC,
                                 ENAS_STATE_VERSION);
    const int size = plan_size(k->r, k->macro);
    if (!st && (b.nodes != size || b.vpos < 0 || b.vpos > k->r->wval.n))
        st = gh_fail(GH_EFORMAT, "checkpoint of %s: blob 'enas/state' (%d %s, validation walk "
                     "at %d) does not fit this search (%d, %d images)",
                     ledger_ckpt_run_id(from), b.nodes, k->macro ? "layers" : "nodes", b.vpos,
                     size, k->r->wval.n);
    if (!st) st = enas_ctrl_load(k->ctrl, ledger_ckpt_get_cb, from);
    if (st) return st;
    k->pos = nas_pos_unpack(&b.pos);
    nas_pos_resume_dp(&k->pos, k->dp != NULL);
    k->vpos = b.vpos;
    k->vpass = b.vpass;
    if (k->vpass >= 0)   // the walk's order of that pass
        nas_epoch_order(k->vorder, k->r->wval.n, k->r->c->seed ^ 0x76616c6964ull, k->vpass);
    return GH_OK;
}

// The official derive (the selection phase): arcs sampled from the trained policy, each scored
// on the same validation minibatch; every one is a trial row, the arcs with their rewards an
// artifact; the best (the first of equals) is returned.
static int derive(enas_plan *k, genotype *best, enas_macro_arc *mbest, cost_totals *cost) {
    nas_run *r = k->r;
    const int n = r->c->enas.derive_archs;
    cost_meter *m = cost_meter_create(nas_gpus(r->c)), *all = cost_meter_create(nas_gpus(r->c));
    cost_meter_start(all);
    gh_batch b;
    next_val(k, &b);
    size_t cap = (size_t)n * (32 + ENAS_MACRO_TEXT_MAX) + 64, len = 0;
    char *lines = malloc(cap);
    int st = lines ? GH_OK : gh_fail(GH_ENOMEM, "enas derive: no memory"), ibest = -1;
    double best_acc = -1;
    if (lines) lines[0] = 0;
    for (int i = 0; i < n && !st; i++) {
        cost_meter_start(m);
        double acc;
        if ((st = sample_path(k)) || (st = path_acc(k, &b, &acc))) break;
        nas_eval_result res = {.val_loss = NAN, .val_acc = acc, .train_loss = NAN,
                               .train_acc = NAN, .fidelity = r->c->search_epochs,
                               .cost = cost_meter_read(m)};
        char arc[ENAS_MACRO_TEXT_MAX];
        print_arc(k, arc, sizeof arc);
        printf("enas derive %d/%d: valid_acc %.2f%% arc %s\n", i + 1, n, 100 * acc, arc);
        len += (size_t)snprintf(lines + len, cap - len, "%d %.6f %s\n", i, acc, arc);
        if (acc > best_acc) {
            best_acc = acc;
            ibest = i;
            if (k->macro)
                *mbest = k->marc;
            else
                *best = k->path;
        }
        st = k->macro ? enas_macro_record_trial(r, i, &k->marc, &res, "ok")
                      : nas_record_trial(r, i, &k->path, &res, "ok");
    }
    if (!st && r->l) st = ledger_put_text(r->l, "enas_derived_arcs", lines);
    if (!st && ibest >= 0)
        printf("enas: arc %d of %d kept (valid_acc %.2f%% on one validation batch)\n", ibest + 1,
               n, 100 * best_acc);
    free(lines);
    *cost = cost_meter_read(all);
    cost_meter_destroy(m);
    cost_meter_destroy(all);
    return st;
}

// The supernet with an arena for one path step: c->arena_mb when set, else measured on the
// costliest path (every edge a sep_conv_5x5, every node concatenated), a quarter added.
static int open_supernet(enas_plan *k) {
    nas_run *r = k->r;
    genotype worst;
    memset(&worst, 0, sizeof worst);
    geno_cell *cells[2] = {&worst.normal, &worst.reduce};
    for (int t = 0; t < 2; t++) {
        geno_cell *gc = cells[t];
        gc->steps = r->nc.steps;
        for (int i = 0; i < 2 * gc->steps; i++)
            gc->edge[i] = (geno_edge){.op = DARTS_OP_SEP_CONV_5X5, .input = i % 2 ? 1 : 0};
        gc->nconcat = gc->steps;
        for (int i = 0; i < gc->steps; i++) gc->concat[i] = 2 + i;
    }
    size_t arena;
    int st = nas_arena_bytes(r->c, &r->nc, &worst, r->c->search_batch, &arena);
    if (!st && !(r->c->arena_mb > 0)) arena += arena / 4;
    if (!st) st = nas_engine_open(&k->e, r->c, arena, r->c->seed);
    if (!st) st = nas_net_build(&k->net, k->e, &r->nc, NULL);
    if (st) return st;
    darts_net_count cnt;
    darts_count_net(&r->nc, NULL, &cnt);
    printf("enas supernet: %d cells, C=%d, B=%d, %.0f shared weights (%.3f M), arena %.0f MiB\n",
           r->nc.layers, r->nc.c, r->nc.steps, cnt.params, cnt.params / 1e6, arena / 1048576.0);
    return GH_OK;
}

// The shared macro network (search_layers layers of search_channels) with an arena for one step
// of its costliest arc, a quarter added.
static int open_macronet(enas_plan *k) {
    nas_run *r = k->r;
    const nas_config *c = r->c;
    enas_macro_config mc = enas_macro_config_for(r->d, c->search_layers, c->search_channels, 1,
                                                 1.0 - c->enas.keep_prob);
    enas_macro_arc worst;
    enas_macro_worst_arc(mc.layers, &worst);
    size_t arena;
    int st = enas_macro_arena_bytes(c, &mc, &worst, c->search_batch, &arena);
    if (!st && !(c->arena_mb > 0)) arena += arena / 4;
    if (!st) st = nas_engine_open(&k->e, c, arena, c->seed);
    if (!st) st = enas_macro_model_build(&k->mnet, k->e, &mc, NULL);
    if (st) return st;
    darts_net_count cnt;
    enas_macro_count(&mc, NULL, &cnt);
    printf("enas-macro network: %d layers, C=%d, %.0f shared weights (%.3f M), arena %.0f MiB\n",
           mc.layers, mc.c, cnt.params, cnt.params / 1e6, arena / 1048576.0);
    return GH_OK;
}

// One search of either space; best (micro) or mbest (macro) receives the derived arc.
static int enas_search(nas_run *r, int macro, genotype *best, enas_macro_arc *mbest) {
    const nas_config *c = r->c;
    const nas_enas_config *ec = &c->enas;
    // the ENAS cell: B nodes; the supernet concatenates all of them
    r->nc.steps = r->nc.multiplier = ec->nodes;
    enas_plan k = {.r = r, .vpass = -1, .macro = macro};
    enas_ctrl_opts co = {.nodes = ec->nodes, .hidden = ec->lstm_size,
                         .temperature = ec->temperature, .tanh_c = ec->tanh_c,
                         .op_tanh_reduce = ec->op_tanh_reduce,
                         .entropy_weight = ec->entropy_weight, .bl_dec = ec->bl_dec, .lr = ec->lr,
                         .b_soft_init = ec->b_soft_init,
                         .aggregate = ec->aggregate, .seed = gh_hash64(c->seed, 0x656e6173ull),
                         .macro = macro, .layers = c->search_layers,
                         .skip_target = ec->skip_target, .skip_weight = ec->skip_weight};
    int st = r->wval.n > 0 ? GH_OK : gh_fail(GH_EINVAL, "enas: no validation images");
    if (!st && nas_dp_size(c) > 1) st = dp_reducer_create(&k.dp, (size_t)c->bucket_mb << 20);
    if (!st) st = enas_ctrl_create(&k.ctrl, &co);
    if (!st) st = macro ? open_macronet(&k) : open_supernet(&k);
    // synchronized batch norm's all-reduces are communication: timed into the reducer's comm_s
    if (!st && k.dp && c->sync_bn) gh_set_bn_sync(k.e, dp_bn_sync, k.dp);
    if (!st) st = nas_feed_init(&k.train, &r->wtrain, &r->aug, c->search_batch, c->seed);
    if (!st) st = nas_feed_init(&k.val, &r->wval, &r->d->norm, c->search_batch, c->seed);
    k.train.shard = nas_dp_rank(c);   // data parallel: this rank's part of every batch
    k.train.shards = nas_dp_size(c);
    if (!st && !(k.vorder = malloc(sizeof(int) * (size_t)r->wval.n)))
        st = gh_fail(GH_ENOMEM, "enas: no memory");
    ledger_ckpt_reader *from = nas_ckpt_from(r->ck, NAS_DO_SEARCH);
    if (!st && from) st = enas_resume(&k, from);
    if (!st && r->l && !from)
        st = ledger_put_text(r->l, "controller_columns",
                             macro ? "mean_reward entropy baseline loss valid_acc skip_rate"
                                   : "mean_reward entropy baseline loss valid_acc");
    if (!st) {
        k.net.path = &k.path;
        k.mnet.path = &k.marc;
        k.sd = (gh_step_def){.loss = macro ? enas_macro_loss : nas_net_loss,
                             .model = macro ? (void *)&k.mnet : (void *)&k.net,
                             .group = GH_GROUP_WEIGHTS,
                             .opt = GH_OPT_SGD, .momentum = c->search_momentum,
                             .wd = c->search_wd, .grad_clip = c->search_grad_clip,
                             .reduce = k.dp ? dp_reduce : NULL, .reduce_ctx = k.dp,
                             .ready = k.dp ? dp_grad_ready : NULL, .micro = c->micro};
        k.steps = nas_feed_steps(&k.train, r->wtrain.n);
        gh_train_plan plan = {.phase = "enas", .epochs = c->search_epochs, .steps = k.steps,
                              .report_every = c->report_every,
                              .checkpoint_every_s = 60 * c->checkpoint_every_min,
                              .batch = enas_batch, .lr = enas_lr, .step = enas_step,
                              .epoch_end = enas_epoch_end, .checkpoint = enas_checkpoint,
                              .ctx = &k};
        st = gh_train_run(k.e, &plan, &k.pos, NULL);
    }
    double sel_comm = 0.0;   // the selection phase's comm_s (sync_bn's rewards), mean over ranks
    if (!st) {
        // the derive is the selection phase: its cost is recorded apart from the search's
        cost_totals searched = nas_run_cost(r), sel;
        double comm0 = dp_comm_seconds(k.dp);
        st = derive(&k, best, mbest, &sel);
        r->cost0 = searched;
        cost_meter_start(r->meter);
        if (!st && k.dp) {
            sel_comm = dp_comm_seconds(k.dp) - comm0;
            if ((st = pg_allreduce_sum_f64(&sel_comm, 1))) sel_comm = 0.0;
            sel_comm /= pg_world()->size;
        }
        if (!st && r->l) st = ledger_add_phase_cost_comm(r->l, "selection", &sel, sel_comm);
    }
    if (k.e) cost_meter_note_peak_mem(r->meter, (double)gh_engine_arena_peak(k.e));
    // the search's: the whole run's mean over the ranks less the selection's (both are means of
    // per-rank sums, so the difference is the mean of the search's)
    if (!st) r->comm_s = nas_dp_finish(r->meter, k.dp) - sel_comm;
    dp_reducer_free(k.dp);
    free(k.vorder);
    nas_feed_free(&k.train);
    nas_feed_free(&k.val);
    nas_net_free(&k.net);
    enas_macronet_free(k.mnet.net);
    gh_engine_destroy(k.e);
    enas_ctrl_destroy(k.ctrl);
    return st;
}

int enas_run(nas_run *r, genotype *best) { return enas_search(r, 0, best, NULL); }

int enas_macro_run(nas_run *r, genotype *best) {
    (void)best;   // a macro search returns an arc, not a genotype
    if (!r->macro_best)
        return gh_fail(GH_EINVAL, "enas-macro returns a macro arc: run it with "
                       "nas_search_run_macro");
    enas_macro_arc a;
    int st = enas_search(r, 1, NULL, &a);
    if (!st) *r->macro_best = a;
    return st;
}
