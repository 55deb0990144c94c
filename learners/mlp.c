// learners/mlp.c: a multilayer perceptron on our own engine (CPU or GPU): `layers` hidden
// linear+ReLU layers of width `hidden`, trained with Adam on mini-batches; softmax
// cross-entropy for classification, mean squared error (on the standardised target) for
// regression. Inputs are encoded by encode.c (z-scores, one-hot).
//
// The engine has no squared-error op, so MSE is built from existing ones: the output layer is
// computed transposed, pred^T = w_o [1, H+1] . [h, 1]^T -> [1, B] (the bias as a weight on a
// constant column), then diff = pred^T - y^T and sum(diff^2) = linear(diff, copy(diff)) [1, 1].
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../kernels/kernels.h"
#include "learner_impl.h"

#define MLP_MAX_LAYERS 8
#define PREDICT_BATCH 1024

typedef struct {
    encoder enc;
    gh_engine *eng;
    int width, hidden, layers, out;   // out: classes, or 1 for regression
    int regression;
    double y_mean, y_scale;
    gh_tensor *w[MLP_MAX_LAYERS + 1], *b[MLP_MAX_LAYERS + 1];
    int batch;                        // the training batch (arena sizing)
} mlp_impl;

static void mlp_free_impl(mlp_impl *mi) {
    if (!mi) return;
    encoder_free(&mi->enc);
    if (mi->eng) gh_engine_destroy(mi->eng);
    free(mi);
}

// Engine and parameters for the architecture in mi (width, hidden, layers, out, regression),
// with an arena for batches of `rows`.
static int mlp_build(mlp_impl *mi, uint64_t seed, int rows) {
    gh_engine_config ec = {0};
    int st = gh_backend_parse("auto", &ec.backend, &ec.device_index);
    if (st) return st;
    // activations and their gradients for one step: input, 2 per hidden layer, output, loss
    // terms; doubled for gradients, plus slack for alignment and the loss scalars
    size_t floats = (size_t)rows * (size_t)(mi->width + 2 * mi->hidden * mi->layers + 4 * (mi->out + 2) +
                                            mi->hidden + 2);
    ec.arena_bytes = 2 * floats * sizeof(float) + (4u << 20);
    ec.deterministic = 1;
    ec.seed = seed;
    st = gh_engine_create(&mi->eng, &ec);
    if (st) return st;
    int in = mi->width;
    char name[32];
    for (int l = 0; l < mi->layers; l++) {
        snprintf(name, sizeof name, "fc%d.w", l);
        mi->w[l] = gh_param(mi->eng, GH_GROUP_WEIGHTS, name, 2, (int[]){mi->hidden, in},
                            GH_INIT_KAIMING_UNIFORM, in);
        snprintf(name, sizeof name, "fc%d.b", l);
        mi->b[l] = gh_param(mi->eng, GH_GROUP_WEIGHTS, name, 1, (int[]){mi->hidden},
                            GH_INIT_ZERO, 0);
        in = mi->hidden;
    }
    int L = mi->layers;
    if (mi->regression) {
        mi->w[L] = gh_param(mi->eng, GH_GROUP_WEIGHTS, "out.w", 2, (int[]){1, in + 1},
                            GH_INIT_KAIMING_UNIFORM, in + 1);
        mi->b[L] = NULL;
    } else {
        mi->w[L] = gh_param(mi->eng, GH_GROUP_WEIGHTS, "out.w", 2, (int[]){mi->out, in},
                            GH_INIT_KAIMING_UNIFORM, in);
        mi->b[L] = gh_param(mi->eng, GH_GROUP_WEIGHTS, "out.b", 1, (int[]){mi->out}, GH_INIT_ZERO, 0);
    }
    for (int l = 0; l <= L; l++)
        if (!mi->w[l] || (l < L && !mi->b[l])) return gh_engine_status(mi->eng);
    return gh_params_alloc(mi->eng);
}

// Forward for a batch of encoded rows xb [B x width]. Classification: logits [B, out].
// Regression: predictions as a row [1, B].
static gh_tensor *mlp_forward(mlp_impl *mi, const float *xb, int B, const float *ones) {
    gh_engine *e = mi->eng;
    gh_tensor *h = gh_input(e, 2, (int[]){B, mi->width}, xb);
    for (int l = 0; l < mi->layers; l++) h = gh_relu(e, gh_linear(e, h, mi->w[l], mi->b[l]));
    int L = mi->layers;
    if (!mi->regression) return gh_linear(e, h, mi->w[L], mi->b[L]);
    gh_tensor *parts[2] = {h, gh_input(e, 2, (int[]){B, 1}, ones)};
    return gh_linear(e, mi->w[L], gh_concat(e, 2, parts), NULL);
}

// One training run's data: the whole training set encoded once, the epoch order (one stream
// reshuffled every epoch), host staging for a batch and the time limit.
typedef struct {
    mlp_impl *mi;
    const gh_dataset *tr;
    const float *xe;
    float *xb, *yb, *ones;
    int *lb, *order;
    int batch;
    gh_rng rng;
    double lr, t0, time_limit_s, per_epoch, prev_s;   // prev_s: when the last epoch ended
    int epochs, stopped_early;
} mlp_run;

static gh_tensor *mlp_loss(void *model, gh_engine *e, const gh_batch *b, const int *labels,
                           gh_tensor **logits) {
    const mlp_run *r = model;
    mlp_impl *mi = r->mi;
    int B = b->shape[0];
    gh_tensor *out = mlp_forward(mi, b->x, B, r->ones);
    if (!mi->regression) {
        *logits = out;
        return gh_xent(e, out, labels, 0.0f, NULL);
    }
    gh_tensor *diff = gh_add(e, out, gh_input(e, 2, (int[]){1, B}, b->t));
    gh_tensor *sq = gh_linear(e, diff, gh_scale(e, diff, 1.0f), NULL);
    return gh_scale(e, sq, 1.0f / (float)B);
}

static int mlp_batch(void *ctx, int epoch, int step, gh_batch *b) {
    (void)epoch;
    mlp_run *r = ctx;
    mlp_impl *mi = r->mi;
    if (step == 0) gh_rng_shuffle(&r->rng, r->order, (size_t)r->tr->n);
    for (int k = 0; k < r->batch; k++) {
        int i = r->order[step * r->batch + k];
        memcpy(r->xb + (size_t)k * mi->width, r->xe + (size_t)i * mi->width,
               sizeof(float) * (size_t)mi->width);
        r->lb[k] = (int)r->tr->y[i];
        r->yb[k] = (float)(-(r->tr->y[i] - mi->y_mean) / mi->y_scale);   // -y, for pred - y
    }
    *b = (gh_batch){.x = r->xb, .y = mi->regression ? NULL : r->lb,
                    .t = mi->regression ? r->yb : NULL, .ndim = 2, .shape = {r->batch, mi->width}};
    return GH_OK;
}

static double mlp_lr(void *ctx, int epoch, int step) {
    (void)epoch, (void)step;
    return ((const mlp_run *)ctx)->lr;
}

// The time limit: stop before an epoch that would end past it (the slowest epoch so far, the
// first's at first, as the estimate).
static int mlp_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p) {
    (void)e;
    mlp_run *r = ctx;
    double now = gh_wall_seconds() - r->t0;
    r->per_epoch = fmax(r->per_epoch, now - r->prev_s);
    r->prev_s = now;
    if (r->time_limit_s > 0 && p->epoch + 1 < r->epochs && now + r->per_epoch > r->time_limit_s) {
        r->stopped_early = 1;
        return GH_TRAIN_STOP;
    }
    return GH_OK;
}

static int mlp_fit(learner_model *m, const gh_dataset *tr, uint64_t seed, double time_limit_s,
                   int *stopped_early) {
    const learner_def *def = m->def;
    mlp_run r = {.tr = tr, .t0 = gh_wall_seconds(), .time_limit_s = time_limit_s};
    mlp_impl *mi = calloc(1, sizeof *mi);
    if (!mi) return gh_fail(GH_ENOMEM, "mlp: out of memory");
    r.mi = mi;
    int st = encoder_fit(&mi->enc, tr);
    if (st) {
        free(mi);
        return st;
    }
    int n = tr->n;
    mi->width = mi->enc.width;
    mi->hidden = (int)hp_value(def, m->cfg, "hidden", 64);
    mi->layers = (int)hp_value(def, m->cfg, "layers", 1);
    r.epochs = (int)hp_value(def, m->cfg, "epochs", 10);
    int batch = (int)hp_value(def, m->cfg, "batch_size", 64);
    r.lr = (float)hp_value(def, m->cfg, "learning_rate", 1e-3);
    float wd = (float)hp_value(def, m->cfg, "weight_decay", 0.0);
    if (mi->hidden < 1 || mi->layers < 0 || mi->layers > MLP_MAX_LAYERS || r.epochs < 1 ||
        batch < 1) {
        st = gh_fail(GH_EINVAL, "mlp: hidden %d, layers %d (0..%d), epochs %d, batch %d",
                     mi->hidden, mi->layers, MLP_MAX_LAYERS, r.epochs, batch);
        mlp_free_impl(mi);
        return st;
    }
    if (batch > n) batch = n;
    r.batch = mi->batch = batch;
    mi->regression = tr->task == GH_TASK_REGRESSION;
    mi->out = mi->regression ? 1 : tr->n_classes;
    mi->y_scale = 1.0;
    if (mi->regression) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++) s += tr->y[i];
        mi->y_mean = s / n;
        for (int i = 0; i < n; i++) ss += (tr->y[i] - mi->y_mean) * (tr->y[i] - mi->y_mean);
        double sd = sqrt(ss / (n > 1 ? n - 1 : 1));
        mi->y_scale = sd > 0 ? sd : 1.0;
    }
    st = mlp_build(mi, seed, batch > PREDICT_BATCH ? batch : PREDICT_BATCH);
    if (st) {
        mlp_free_impl(mi);
        return st;
    }
    snprintf(m->device, sizeof m->device, "%s", gh_backend_name(gh_engine_backend(mi->eng)));
    float *xe = malloc(sizeof(float) * (size_t)n * (size_t)mi->width);
    r.xe = xe;
    r.xb = malloc(sizeof(float) * (size_t)batch * (size_t)mi->width);
    r.yb = malloc(sizeof(float) * (size_t)batch);
    r.ones = malloc(sizeof(float) * (size_t)batch);
    r.lb = malloc(sizeof(int) * (size_t)batch);
    r.order = malloc(sizeof(int) * (size_t)n);
    if (!xe || !r.xb || !r.yb || !r.ones || !r.lb || !r.order) {
        st = gh_fail(GH_ENOMEM, "mlp: out of memory for %d x %d", n, mi->width);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        encoder_row(&mi->enc, tr->x + (size_t)i * tr->d, xe + (size_t)i * mi->width);
        r.order[i] = i;
    }
    for (int i = 0; i < batch; i++) r.ones[i] = 1.0f;
    gh_rng_seed(&r.rng, seed, GH_STREAM_DATA);
    // full batches only (a last short batch would skew the mean), at least one per epoch
    gh_step_def sd = {.loss = mlp_loss, .model = &r, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .wd = wd};
    gh_train_plan plan = {.phase = "mlp", .epochs = r.epochs, .steps = n / batch, .quiet = 1,
                          .no_accuracy = mi->regression,
                          .batch = mlp_batch, .lr = mlp_lr, .step_def = &sd,
                          .epoch_end = mlp_epoch_end, .ctx = &r};
    // the CPU path's threads as a library fit's (learner_fit_threads), for this fit only
    int threads = gh_cpu_threads();
    gh_cpu_set_threads(learner_fit_threads(tr));
    st = gh_train_run(mi->eng, &plan, NULL, NULL);
    gh_cpu_set_threads(threads);
    if (st == GH_ENAN) {
        char why[512];   // copied: gh_fail formats into the buffer gh_error_get points at
        snprintf(why, sizeof why, "%s", gh_error_get());
        st = gh_fail(GH_ENAN, "mlp: the loss diverged (learning rate %g too high?): %s", r.lr, why);
    }
    *stopped_early = r.stopped_early;
done:
    free(xe), free(r.xb), free(r.yb), free(r.ones), free(r.lb), free(r.order);
    if (st) mlp_free_impl(mi);
    else m->impl = mi;
    return st;
}

static int mlp_predict(const learner_model *m, const gh_dataset *data, float *out) {
    mlp_impl *mi = m->impl;
    gh_engine *e = mi->eng;
    int w = mi->width, st = GH_OK;
    float *xb = malloc(sizeof(float) * (size_t)PREDICT_BATCH * (size_t)w);
    float *ones = malloc(sizeof(float) * PREDICT_BATCH);
    if (!xb || !ones) {
        free(xb), free(ones);
        return gh_fail(GH_ENOMEM, "mlp: out of memory");
    }
    for (int i = 0; i < PREDICT_BATCH; i++) ones[i] = 1.0f;
    for (int i0 = 0; i0 < data->n && !st; i0 += PREDICT_BATCH) {
        int B = data->n - i0 < PREDICT_BATCH ? data->n - i0 : PREDICT_BATCH;
        for (int r = 0; r < B; r++)
            encoder_row(&mi->enc, data->x + (size_t)(i0 + r) * data->d, xb + (size_t)r * w);
        gh_step_begin(e);
        gh_set_training(e, 0);
        gh_set_grad_enabled(e, 0);
        gh_tensor *o = mlp_forward(mi, xb, B, ones);
        if (!mi->regression) o = gh_softmax(e, o);
        st = gh_engine_status(e);
        if (!st) st = gh_tensor_to_host(e, o, out + (size_t)i0 * mi->out);
        if (!st && mi->regression)
            for (int r = 0; r < B; r++)
                out[i0 + r] = (float)(mi->y_mean + mi->y_scale * out[i0 + r]);
    }
    free(xb), free(ones);
    return st;
}

// Payload: encoder, architecture, target scaling, then each parameter's values.
static int mlp_save(const learner_model *m, sbuf *b) {
    mlp_impl *mi = m->impl;
    encoder_save(&mi->enc, b);
    sbuf_printf(b, "mlp %d %d %d %d %d %d %.17g %.17g\n", mi->width, mi->hidden, mi->layers, mi->out,
                mi->regression, mi->batch, mi->y_mean, mi->y_scale);
    int np = gh_params_count(mi->eng);
    for (int i = 0; i < np; i++) {
        gh_tensor *t = gh_param_at(mi->eng, i);
        float *host = malloc(sizeof(float) * t->numel);
        double *dv = malloc(sizeof(double) * t->numel);
        int st = host && dv ? gh_tensor_to_host(mi->eng, t, host) : GH_ENOMEM;
        if (st) {
            free(host), free(dv);
            return st == GH_ENOMEM ? gh_fail(st, "mlp: out of memory saving") : st;
        }
        for (size_t k = 0; k < t->numel; k++) dv[k] = host[k];
        sbuf_printf(b, "param %zu\n", t->numel);
        sbuf_doubles(b, dv, t->numel);
        free(host), free(dv);
    }
    return GH_OK;
}

static int mlp_load(learner_model *m, const char *payload, size_t len) {
    scursor c = {payload, payload + len, payload, "mlp payload"};
    mlp_impl *mi = calloc(1, sizeof *mi);
    if (!mi) return gh_fail(GH_ENOMEM, "mlp: out of memory");
    long v[6] = {0};
    int st = encoder_load(&mi->enc, &c);
    if (!st) st = encoder_check_schema(&mi->enc, &m->schema, c.what);
    if (!st) st = scur_word(&c, "mlp");
    for (int i = 0; i < 6 && !st; i++) st = scur_int(&c, &v[i]);
    if (!st) st = scur_double(&c, &mi->y_mean);
    if (!st) st = scur_double(&c, &mi->y_scale);
    if (st) goto done;
    // The weights are all in the payload (two bytes a value at least), which bounds the sizes
    // before the engine allocates anything from them.
    double in = (double)v[0] + 1, h = (double)v[1] + 1;
    double n_values = v[2] ? in * h + (double)(v[2] - 1) * h * h + (double)v[3] * h
                           : (double)v[3] * in;
    for (int i = 0; i < 6 && !st; i++)
        if (v[i] < 0 || v[i] > INT32_MAX) st = gh_fail(GH_EFORMAT, "mlp payload: size %ld", v[i]);
    if (st) goto done;
    mi->width = (int)v[0], mi->hidden = (int)v[1], mi->layers = (int)v[2], mi->out = (int)v[3];
    mi->regression = (int)v[4], mi->batch = (int)v[5];
    // the output layer writes rows x classes (x 1 for regression) as the schema says
    int regression = m->schema.task == GH_TASK_REGRESSION;
    if (mi->width != mi->enc.width || mi->layers > MLP_MAX_LAYERS || mi->hidden < 1 ||
        mi->regression != regression || mi->out != (regression ? 1 : m->schema.n_classes) ||
        mi->batch < 1 || !scur_fits(&c, n_values, 2)) {
        st = gh_fail(GH_EFORMAT, "mlp payload: inconsistent architecture");
        goto done;
    }
    // a loaded model only predicts: the arena is for prediction batches, not the training batch
    st = mlp_build(mi, 0, PREDICT_BATCH);
    if (st) goto done;
    snprintf(m->device, sizeof m->device, "%s", gh_backend_name(gh_engine_backend(mi->eng)));
    int np = gh_params_count(mi->eng);
    for (int i = 0; i < np && !st; i++) {
        gh_tensor *t = gh_param_at(mi->eng, i);
        long count;
        st = scur_word(&c, "param");
        if (!st) st = scur_int(&c, &count);
        if (st) break;
        if ((size_t)count != t->numel) {
            st = gh_fail(GH_EFORMAT, "mlp payload: parameter %d has %ld values, expected %zu", i,
                         count, t->numel);
            break;
        }
        double *dv = malloc(sizeof(double) * t->numel);
        float *host = malloc(sizeof(float) * t->numel);
        if (!dv || !host) st = gh_fail(GH_ENOMEM, "mlp: out of memory loading");
        if (!st) st = scur_doubles(&c, dv, t->numel);
        if (!st) {
            for (size_t k = 0; k < t->numel; k++) host[k] = (float)dv[k];
            st = gh_tensor_from_host(mi->eng, t, host);
        }
        free(dv), free(host);
    }
done:
    if (st) mlp_free_impl(mi);
    else m->impl = mi;
    return st;
}

static void mlp_release(learner_model *m) {
    mlp_free_impl(m->impl);
    m->impl = NULL;
}

// Multiply-adds of the forward and backward passes (about 3x the forward's) per row and epoch;
// the time limit is checked between epochs, so the first epoch cannot be stopped.
static double mlp_fit_units(const learner_def *def, const double *cfg, const gh_dataset *shape,
                            int rows, double *first) {
    double h = hp_value(def, cfg, "hidden", 64), layers = hp_value(def, cfg, "layers", 1);
    double out = shape->task == GH_TASK_REGRESSION ? 1 : shape->n_classes;
    double per_row = encoded_width(shape) * h + fmax(0, layers - 1) * h * h + h * out;
    *first = 3 * per_row * rows;
    return *first * fmax(1, hp_value(def, cfg, "epochs", 10));
}

const learner_ops learner_ops_mlp = {mlp_fit, mlp_predict, mlp_save, mlp_load,
                                     mlp_release, NULL, mlp_fit_units};
