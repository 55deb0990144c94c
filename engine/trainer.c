// engine: the one training step and the one epoch driver every training loop runs through
// (llm.c's single gpt2_backward_and_reduce habit): step, gradient reduction hook, clipping,
// optimizer; epochs of steps with progress lines and an ETA, evaluation, epoch hooks and
// checkpoints. The loop reads the backend only at report intervals (accumulators).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"

// Part i of m of b: rows [n*i/m, n*(i+1)/m) (the shard rank i of m takes of a global batch).
gh_batch gh_batch_part(const gh_batch *b, int i, int m) {
    int n = b->shape[0], r0 = (int)((long)n * i / m), r1 = (int)((long)n * (i + 1) / m);
    size_t per = 1;
    for (int k = 1; k < b->ndim; k++) per *= (size_t)b->shape[k];
    gh_batch p = *b;
    p.shape[0] = r1 - r0;
    p.x = b->x + per * (size_t)r0;
    if (b->y) p.y = b->y + r0;
    if (b->t) p.t = b->t + r0;
    return p;
}

// The part of forward_backward after the uploads of labels: a capturable region when the step
// declares its graph fixed (graph.c).
typedef struct {
    const gh_step_def *d;
    const gh_batch *b;
    const int *labels;
    int zero;
} fb_args;

static int fb_run(void *ctx, gh_engine *e) {
    const fb_args *a = ctx;
    const gh_step_def *d = a->d;
    int n = a->b->shape[0], st;
    gh_tensor *logits = NULL;
    if ((st = gh_forward_plan(e, d->loss, d->model, a->b, a->labels))) return st;
    gh_tensor *loss = d->loss(d->model, e, a->b, a->labels, &logits);
    if (!loss) return e->status ? e->status : eng_fail(e, GH_EINVAL, "train step: no loss");
    st = gh_acc_add(e, GH_ACC_TRAIN_LOSS, loss, (double)n);
    if (!st && logits && a->labels) st = gh_acc_hits(e, GH_ACC_TRAIN_HITS, logits, a->labels);
    if (!st && a->zero) st = gh_group_zero_grad(e, d->group);
    if (st) return st;
    if (d->ready && d->reduce && (!d->micro || d->micro == 1))
        return gh_backward_ready(e, loss, d->group, d->ready, d->reduce_ctx);
    return gh_backward(e, loss);
}

// Forward and backward of one batch (or part) in training mode: loss x n and hits added to
// the training accumulators, gradients added into the group's. A fixed graph runs as the region
// "train_step" (index: the micro-batch), except with a reducer told during backward (its
// collectives are the reducer's, not the step's).
static int forward_backward(gh_engine *e, const gh_step_def *d, const gh_batch *b, int zero,
                            int part) {
    gh_step_begin(e);
    gh_set_training(e, 1);
    gh_set_grad_enabled(e, 1);
    fb_args a = {d, b, b->y ? gh_labels(e, b->shape[0], b->y) : NULL, zero};
    // nothing reads the graph after the reverse pass: it gives activations back as it goes,
    // and with a fixed graph the forward too, by plan
    int was = gh_set_release(e, d->fixed_graph ? 2 : 1);
    int st = d->fixed_graph && !(d->ready && d->reduce)
                 ? gh_region_run(e, "train_step", part, fb_run, &a)
                 : fb_run(&a, e);
    gh_set_release(e, was);
    return st;
}

int gh_train_step(gh_engine *e, const gh_step_def *d, const gh_batch *b, double lr) {
    int st, m = d->micro > 1 ? d->micro : 1;
    if (m > b->shape[0])
        return gh_fail(GH_EINVAL, "train step: %d micro-batches of a batch of %d", m,
                       b->shape[0]);
    if (m == 1) {
        if ((st = forward_backward(e, d, b, 1, 0))) return st;
    } else {
        for (int i = 0; i < m; i++) {
            gh_batch part = gh_batch_part(b, i, m);
            if ((st = forward_backward(e, d, &part, i == 0, i))) return st;
        }
        if ((st = gh_vec_scale(e, gh_group_numel(e, d->group), 1.0f / (float)m,
                               gh_group_grad(e, d->group))))
            return st;
    }
    if (d->reduce && (st = d->reduce(d->reduce_ctx, e, d->group))) return st;
    if (d->grad_clip > 0 && (st = gh_clip_grad_norm(e, d->group, (float)d->grad_clip, NULL)))
        return st;
    if (d->opt == GH_OPT_ADAM)
        return gh_adam_step(e, d->group, (float)lr, (float)d->beta1, (float)d->beta2,
                            (float)d->eps, (float)d->wd);
    return gh_sgd_step(e, d->group, (float)lr, (float)d->momentum, (float)d->wd);
}

int gh_train_evaluate(gh_engine *e, gh_loss_fn loss, void *model, gh_batch_fn batch, void *ctx,
                      int nbatches, double *mean_loss, double *acc) {
    int st = gh_acc_reset(e, GH_ACC_EVAL_LOSS, 2), with_hits = 0;
    long n = 0;
    gh_set_training(e, 0);
    gh_set_grad_enabled(e, 0);
    for (int i = 0; i < nbatches && !st; i++) {
        gh_batch b;
        if ((st = batch(ctx, 0, i, &b))) break;
        gh_step_begin(e);
        const int *labels = b.y ? gh_labels(e, b.shape[0], b.y) : NULL;
        gh_tensor *logits = NULL, *l = loss(model, e, &b, labels, &logits);
        if (!l) {
            st = e->status ? e->status : eng_fail(e, GH_EINVAL, "evaluate: no loss");
            break;
        }
        st = gh_acc_add(e, GH_ACC_EVAL_LOSS, l, (double)b.shape[0]);
        if (!st && logits && labels) {
            with_hits = 1;
            st = gh_acc_hits(e, GH_ACC_EVAL_HITS, logits, labels);
        }
        n += b.shape[0];
    }
    gh_set_training(e, 1);
    gh_set_grad_enabled(e, 1);
    double sums[GH_ACC_EVAL_HITS + 1];
    if (st || (st = gh_acc_read(e, GH_ACC_EVAL_HITS + 1, sums))) return st;
    *mean_loss = n ? sums[GH_ACC_EVAL_LOSS] / n : NAN;
    *acc = n && with_hits ? sums[GH_ACC_EVAL_HITS] / n : NAN;
    return GH_OK;
}

void gh_format_seconds(double s, char *out, size_t len) {
    if (!(s >= 0) || !isfinite(s)) snprintf(out, len, "?");
    else if (s < 120) snprintf(out, len, "%.0fs", s);
    else if (s < 7200) snprintf(out, len, "%.1fm", s / 60);
    else snprintf(out, len, "%.1fh", s / 3600);
}

// The ETA: an exponential moving average of seconds per step measured between report points
// (where the accumulator read waits for the device, so the time is the device's), skipping the
// interval that holds the run's first step (warm-up: allocations, autotuning, cold caches), plus
// the mean time of the epoch hooks (evaluation) for each epoch left.
typedef struct {
    double t0, t_mark, ema, hook_s;
    long mark_steps, done_steps, hooks;
} eta_state;

static void eta_mark(eta_state *t, long done, int first) {
    double now = gh_wall_seconds();
    if (!first && done > t->mark_steps) {
        double per = (now - t->t_mark) / (double)(done - t->mark_steps);
        t->ema = t->ema > 0 ? 0.7 * t->ema + 0.3 * per : per;
    }
    t->t_mark = now;
    t->mark_steps = done;
}

static double eta_left(const eta_state *t, long steps_left, int epochs_left) {
    if (!(t->ema > 0)) return NAN;
    double hooks = t->hooks ? t->hook_s / (double)t->hooks * epochs_left : 0.0;
    return t->ema * (double)steps_left + hooks;
}

static void progress_line(const gh_train_plan *p, const gh_train_progress *g) {
    if (p->quiet) return;
    char a[32], b[32];
    gh_format_seconds(g->elapsed_s, a, sizeof a);
    gh_format_seconds(g->eta_s, b, sizeof b);
    printf("  %s epoch %d/%d step %d/%d loss %.4f", p->phase, g->epoch + 1, p->epochs,
           g->step + 1, p->steps, g->loss);
    if (g->acc == g->acc) printf(" acc %.2f%%", 100.0 * g->acc);
    printf(" lr %.5g | %s elapsed, ETA %s\n", g->lr, a, b);
    fflush(stdout);
}

// Reads the epoch's sums into pos and g; GH_ENAN when the loss is no longer finite.
static int read_sums(gh_engine *e, const gh_train_plan *p, gh_train_pos *pos,
                     gh_train_progress *g, int with_hits) {
    double sums[GH_ACC_TRAIN_HITS + 1];
    int st = gh_acc_read(e, GH_ACC_TRAIN_HITS + 1, sums);
    if (st) return st;
    pos->loss_sum = sums[GH_ACC_TRAIN_LOSS];
    pos->hits = sums[GH_ACC_TRAIN_HITS];
    g->seen = pos->seen;
    g->loss = pos->seen ? pos->loss_sum / pos->seen : NAN;
    g->acc = pos->seen && with_hits ? pos->hits / pos->seen : NAN;
    if (!isfinite(pos->loss_sum))
        return gh_fail(GH_ENAN, "%s: the training loss is %s in epoch %d by step %d (lower the "
                       "learning rate, clip gradients or check the inputs)", p->phase,
                       isnan(pos->loss_sum) ? "NaN" : "infinite", g->epoch + 1, g->step + 1);
    return GH_OK;
}

int gh_train_run(gh_engine *e, const gh_train_plan *p, const gh_train_pos *start,
                 gh_train_progress *last) {
    if (p->epochs < 0 || p->steps < 1 || !p->batch || !p->lr || (!p->step && !p->step_def))
        return gh_fail(GH_EINVAL, "train %s: %d epochs of %d steps, batch %s, lr %s, step %s",
                       p->phase, p->epochs, p->steps, p->batch ? "set" : "missing",
                       p->lr ? "set" : "missing", p->step || p->step_def ? "set" : "missing");
    gh_train_pos pos = start ? *start : (gh_train_pos){0};
    gh_train_progress g = {.epoch = pos.epoch, .step = pos.step - 1, .loss = NAN, .acc = NAN,
                           .eta_s = NAN};
    eta_state t = {.t0 = gh_wall_seconds()};
    t.t_mark = t.t0;
    double last_ckpt = t.t0;
    long total = (long)p->epochs * p->steps;
    // accuracy is the plan's (classification); not learnt from the batches, so that a run
    // resumed at the end of an epoch, with no step left in it, still reports it
    int with_hits = !p->no_accuracy, st = gh_acc_write(e, GH_ACC_TRAIN_HITS + 1,
                                         (double[]){pos.loss_sum, pos.hits});
    while (!st && pos.epoch < p->epochs) {
        int epoch = pos.epoch, ran = 0;
        for (; pos.step < p->steps && !st; pos.step++, ran = 1) {
            gh_batch b;
            if ((st = p->batch(p->ctx, epoch, pos.step, &b))) break;
            g.lr = p->lr(p->ctx, epoch, pos.step);
            st = p->step ? p->step(p->ctx, e, &b, g.lr) : gh_train_step(e, p->step_def, &b, g.lr);
            if (st) break;
            pos.seen += b.shape[0];
            t.done_steps++;
            g.epoch = epoch;
            g.step = pos.step;
            int report = p->report_every > 0 &&
                         (pos.step % p->report_every == 0 || pos.step == p->steps - 1);
            double now = gh_wall_seconds();
            int ckpt = p->checkpoint && p->checkpoint_every_s > 0 &&
                       now - last_ckpt >= p->checkpoint_every_s;
            if (!report && !ckpt) continue;
            if ((st = read_sums(e, p, &pos, &g, with_hits))) break;
            eta_mark(&t, t.done_steps, t.done_steps == 1);
            long done_total = (long)epoch * p->steps + pos.step + 1;
            g.elapsed_s = gh_wall_seconds() - t.t0;
            g.eta_s = eta_left(&t, total - done_total, p->epochs - epoch);
            if (report) progress_line(p, &g);
            if (ckpt) {
                gh_train_pos next = pos;
                next.step++;
                if ((st = p->checkpoint(p->ctx, e, &next))) break;
                last_ckpt = gh_wall_seconds();
                t.t_mark = last_ckpt;   // a checkpoint's time is not a step's
            }
        }
        if (st) break;
        if (!ran) {   // resumed with no step left in this epoch: its last step's lr
            g.epoch = epoch;
            g.step = p->steps - 1;
            g.lr = p->lr(p->ctx, epoch, p->steps - 1);
        }
        if ((st = read_sums(e, p, &pos, &g, with_hits))) break;
        double h0 = gh_wall_seconds();
        g.elapsed_s = h0 - t.t0;
        int stop = 0;
        if (p->epoch_end) {
            st = p->epoch_end(p->ctx, e, &g);
            if (st == GH_TRAIN_STOP) stop = 1, st = GH_OK;
            if (st) break;
        }
        pos = (gh_train_pos){.epoch = epoch + 1};
        if ((st = gh_acc_reset(e, GH_ACC_TRAIN_LOSS, 2))) break;
        if (p->checkpoint && !stop) {
            if ((st = p->checkpoint(p->ctx, e, &pos))) break;
            last_ckpt = gh_wall_seconds();
        }
        t.hook_s += gh_wall_seconds() - h0;
        t.hooks++;
        t.t_mark = gh_wall_seconds();
        t.mark_steps = t.done_steps;
        if (stop) break;
    }
    if (last) *last = g;
    return st;
}
