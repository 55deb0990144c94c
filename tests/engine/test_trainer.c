// test_trainer: the engine's one training loop (gh_train_step, gh_train_run,
// gh_train_evaluate) on a small softmax regression with a known answer: it learns; a run
// resumed from a mid-epoch position (with the epoch's sums restored) gives the same losses
// and weights bit for bit as an uninterrupted one; the epoch hook can stop the run; a NaN
// loss is reported as GH_ENAN naming the epoch; the ETA skips the warm-up step; the
// evaluation mean equals a host loop's.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/engine.h"

enum { N = 96, D = 6, K = 3, BATCH = 16, STEPS = N / BATCH };

static float X[N * D];
static int Y[N];

typedef struct {
    gh_tensor *w, *b;
} linmodel;

static gh_tensor *lin_loss(void *model, gh_engine *e, const gh_batch *b, const int *labels,
                           gh_tensor **logits) {
    linmodel *m = model;
    *logits = gh_linear(e, gh_input(e, b->ndim, b->shape, b->x), m->w, m->b);
    return gh_xent(e, *logits, labels, 0.0f, NULL);
}

typedef struct {
    linmodel m;
    gh_step_def sd;
    int sleep_first_ms;       // the run's first step sleeps this long (a warm-up)
    int steps_done;
    int stop_after_epoch;     // >= 0: the epoch hook stops the run after this epoch
    double epoch_loss[8], epoch_acc[8], epoch_lr[8];
    double eta_at_end[8];
    float poison;             // not 0: inputs of epoch 1 scaled by it (inf makes NaN)
    float xb[BATCH * D];
} run_ctx;

static int batch_fn(void *ctx, int epoch, int step, gh_batch *b) {
    run_ctx *r = ctx;
    // a fixed permutation per epoch: rows (step*BATCH + i*5 + epoch) mod N
    static int yb[BATCH];
    for (int i = 0; i < BATCH; i++) {
        int row = (step * BATCH + i * 5 + epoch) % N;
        for (int j = 0; j < D; j++)
            r->xb[i * D + j] = X[row * D + j] * (epoch == 1 && r->poison != 0 ? r->poison : 1.0f);
        yb[i] = Y[row];
    }
    *b = (gh_batch){.x = r->xb, .y = yb, .ndim = 2, .shape = {BATCH, D}};
    return GH_OK;
}

static double lr_fn(void *ctx, int epoch, int step) {
    (void)ctx;
    return 0.5 / (1 + epoch) - 0.01 * step;
}

static int step_fn(void *ctx, gh_engine *e, const gh_batch *b, double lr) {
    run_ctx *r = ctx;
    if (r->steps_done++ == 0 && r->sleep_first_ms) usleep((useconds_t)r->sleep_first_ms * 1000);
    return gh_train_step(e, &r->sd, b, lr);
}

static int epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p) {
    (void)e;
    run_ctx *r = ctx;
    r->epoch_loss[p->epoch] = p->loss;
    r->epoch_acc[p->epoch] = p->acc;
    r->epoch_lr[p->epoch] = p->lr;
    r->eta_at_end[p->epoch] = p->eta_s;
    return p->epoch == r->stop_after_epoch ? GH_TRAIN_STOP : GH_OK;
}

// A mid-epoch checkpoint: the position and the weights at it (the optimizer is plain SGD
// without momentum, so weights are the whole state).
typedef struct {
    gh_train_pos pos;
    float w[256];   // the flat weight group (parameters are aligned in it: not K*D+K)
    size_t n;
    int taken;
} ckpt;
static ckpt saved, saved_end;   // mid-epoch 1, and after epoch 1's last step (before its hook)

static int take(ckpt *c, gh_engine *e, const gh_train_pos *pos) {
    c->pos = *pos;
    c->n = gh_group_numel(e, GH_GROUP_WEIGHTS);
    if (c->n > 256) return gh_fail(GH_EINVAL, "test: weight group of %zu", c->n);
    memcpy(c->w, gh_group_data(e, GH_GROUP_WEIGHTS), c->n * sizeof(float));
    c->taken = 1;
    return GH_OK;
}

static int checkpoint_fn(void *ctx, gh_engine *e, const gh_train_pos *pos) {
    (void)ctx;
    if (!saved.taken && pos->epoch == 1 && pos->step == 3) return take(&saved, e, pos);
    if (!saved_end.taken && pos->epoch == 1 && pos->step == STEPS) return take(&saved_end, e, pos);
    return GH_OK;
}

static gh_engine *make(run_ctx *r) {
    gh_engine *e;
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = (size_t)8 << 20, .seed = 5};
    if (gh_engine_create(&e, &ec)) return NULL;
    memset(r, 0, sizeof *r);
    r->stop_after_epoch = -1;
    r->m.w = gh_param(e, GH_GROUP_WEIGHTS, "w", 2, (int[]){K, D}, GH_INIT_KAIMING_UNIFORM, D);
    r->m.b = gh_param(e, GH_GROUP_WEIGHTS, "b", 1, (int[]){K}, GH_INIT_ZERO, 0);
    CHECK_OK(gh_params_alloc(e));
    r->sd = (gh_step_def){.loss = lin_loss, .model = &r->m, .group = GH_GROUP_WEIGHTS,
                          .opt = GH_OPT_SGD, .grad_clip = 5.0};
    return e;
}

static gh_train_plan plan_for(run_ctx *r, int epochs) {
    return (gh_train_plan){.phase = "test", .epochs = epochs, .steps = STEPS, .report_every = 2,
                           .batch = batch_fn, .lr = lr_fn, .step = step_fn, .ctx = r,
                           .epoch_end = epoch_end, .quiet = 1};
}

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 3, 0);
    for (int i = 0; i < N; i++) {   // class = the largest of the first K features
        for (int j = 0; j < D; j++) X[i * D + j] = (float)gh_rng_normal(&rng);
        int c = 0;
        for (int k = 1; k < K; k++)
            if (X[i * D + k] > X[i * D + c]) c = k;
        Y[i] = c;
    }

    // an uninterrupted run of 3 epochs, checkpointing at (epoch 1, step 3)
    run_ctx a;
    gh_engine *ea = make(&a);
    gh_train_plan pa = plan_for(&a, 3);
    pa.checkpoint = checkpoint_fn;
    pa.checkpoint_every_s = 1e-9;   // every report point
    gh_train_progress last;
    CHECK_OK(gh_train_run(ea, &pa, NULL, &last));
    CHECK(saved.taken);
    CHECK_MSG(a.epoch_loss[2] < 0.7 * a.epoch_loss[0], "loss %g -> %g: not learning",
              a.epoch_loss[0], a.epoch_loss[2]);
    CHECK(last.epoch == 2 && last.step == STEPS - 1 && last.acc > 0.7);

    // resumed from the checkpoint in a fresh engine: the same epoch means and weights
    run_ctx b;
    gh_engine *eb = make(&b);
    memcpy(gh_group_data(eb, GH_GROUP_WEIGHTS), saved.w, saved.n * sizeof(float));
    gh_train_plan pb = plan_for(&b, 3);
    CHECK_OK(gh_train_run(eb, &pb, &saved.pos, NULL));
    for (int ep = 1; ep < 3; ep++)
        CHECK_MSG(a.epoch_loss[ep] == b.epoch_loss[ep], "epoch %d: %.17g resumed %.17g", ep,
                  a.epoch_loss[ep], b.epoch_loss[ep]);
    CHECK(!memcmp(gh_group_data(ea, GH_GROUP_WEIGHTS), gh_group_data(eb, GH_GROUP_WEIGHTS),
                  saved.n * sizeof(float)));

    // resumed after an epoch's last step, before its hook ran: the hook still sees that
    // epoch's loss, accuracy and its last step's learning rate
    CHECK(saved_end.taken);
    run_ctx b2;
    gh_engine *eb2 = make(&b2);
    memcpy(gh_group_data(eb2, GH_GROUP_WEIGHTS), saved_end.w, saved_end.n * sizeof(float));
    gh_train_plan pb2 = plan_for(&b2, 3);
    CHECK_OK(gh_train_run(eb2, &pb2, &saved_end.pos, NULL));
    for (int ep = 1; ep < 3; ep++)
        CHECK_MSG(a.epoch_loss[ep] == b2.epoch_loss[ep] && a.epoch_acc[ep] == b2.epoch_acc[ep] &&
                  a.epoch_lr[ep] == b2.epoch_lr[ep],
                  "epoch %d: loss %g acc %g lr %g; resumed at its end %g %g %g", ep,
                  a.epoch_loss[ep], a.epoch_acc[ep], a.epoch_lr[ep], b2.epoch_loss[ep],
                  b2.epoch_acc[ep], b2.epoch_lr[ep]);
    gh_engine_destroy(eb2);

    // evaluation: one pass, the mean of the batch means weighted by size, as a host loop
    double el, ea_acc, want = 0;
    CHECK_OK(gh_train_evaluate(eb, lin_loss, &b.m, batch_fn, &b, STEPS, &el, &ea_acc));
    for (int s = 0; s < STEPS; s++) {
        gh_batch bt;
        batch_fn(&b, 0, s, &bt);
        gh_step_begin(eb);
        gh_set_grad_enabled(eb, 0);
        gh_set_training(eb, 0);
        gh_tensor *lg = NULL, *l = lin_loss(&b.m, eb, &bt, gh_labels(eb, BATCH, bt.y), &lg);
        want += (double)gh_scalar(eb, l) * BATCH;
    }
    gh_set_grad_enabled(eb, 1);
    gh_set_training(eb, 1);
    CHECK_MSG(el == want / N, "evaluate %.17g, host loop %.17g", el, want / N);
    CHECK(ea_acc > 0.7 && ea_acc <= 1.0);
    gh_engine_destroy(ea);
    gh_engine_destroy(eb);

    // the epoch hook stops the run
    run_ctx c;
    gh_engine *ec = make(&c);
    c.stop_after_epoch = 0;
    gh_train_plan pc = plan_for(&c, 5);
    CHECK_OK(gh_train_run(ec, &pc, NULL, &last));
    CHECK(last.epoch == 0 && c.steps_done == STEPS);
    gh_engine_destroy(ec);

    // a NaN loss in epoch 2 is GH_ENAN, naming the phase and the epoch
    run_ctx d;
    gh_engine *ed = make(&d);
    d.poison = INFINITY;
    gh_train_plan pd = plan_for(&d, 3);
    int st = gh_train_run(ed, &pd, NULL, NULL);
    CHECK_MSG(st == GH_ENAN, "status %d: %s", st, gh_error_get());
    CHECK_MSG(strstr(gh_error_get(), "epoch 2") || strstr(gh_error_get(), "loss"), "%s",
              gh_error_get());
    gh_engine_destroy(ed);

    // the ETA after the first epoch comes from the steps after the warm-up: a 300 ms first
    // step does not make it 300 ms per step
    run_ctx t;
    gh_engine *et = make(&t);
    t.sleep_first_ms = 300;
    gh_train_plan pt = plan_for(&t, 4);
    pt.report_every = 1;
    CHECK_OK(gh_train_run(et, &pt, NULL, NULL));
    printf("ETA at the end of epoch 1: %.3f s for %d steps left\n", t.eta_at_end[0], 3 * STEPS);
    CHECK_MSG(t.eta_at_end[0] < 0.3, "ETA %.3f s: the warm-up step leaked into it", t.eta_at_end[0]);
    CHECK(isfinite(t.eta_at_end[0]) && t.eta_at_end[0] >= 0);
    gh_engine_destroy(et);
    return check_done("test_trainer");
}
