// darts_setup: what every NAS driver is set up from: the image data of a config, the engine
// (backend, threads, an activation arena sized by a probe step), epoch orders, batch staging,
// the cosine schedule and progress lines with ETA.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darts_internal.h"

int darts_data_load(darts_data *d, const darts_config *c) {
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", c->dataset);
    int st;
    if (!strcmp(c->dataset, "fashion-mnist") || !strcmp(c->dataset, "mnist")) {
        const char *dir = c->data_dir[0] ? c->data_dir : GH_FASHION_MNIST_DIR;
        if (!strcmp(c->dataset, "mnist") && !c->data_dir[0])
            return gh_fail(GH_EINVAL, "dataset mnist needs data_dir (a directory with the IDX files)");
        if ((st = images_read_mnist_dir(&d->train, dir, "train")) ||
            (st = images_read_mnist_dir(&d->test, dir, "test")))
            goto fail;
    } else if (!strcmp(c->dataset, "cifar10") || !strcmp(c->dataset, "cifar100")) {
        int classes = !strcmp(c->dataset, "cifar10") ? 10 : 100;
        if (!c->data_dir[0])
            return gh_fail(GH_EINVAL, "dataset %s needs data_dir (the CIFAR binary version's "
                                      "directory)", c->dataset);
        if ((st = images_read_cifar_dir(&d->train, c->data_dir, classes, "train")) ||
            (st = images_read_cifar_dir(&d->test, c->data_dir, classes, "test")))
            goto fail;
    } else {
        return gh_fail(GH_EINVAL, "dataset '%s': expected cifar10, cifar100, fashion-mnist or mnist",
                       c->dataset);
    }
    // per-channel normalisation with the training set's statistics (for CIFAR-10 these are
    // DARTS's CIFAR_MEAN and CIFAR_STD)
    if ((st = images_channel_stats(&d->train, d->norm.mean, d->norm.std))) goto fail;
    return GH_OK;
fail:
    darts_data_free(d);
    return st;
}

void darts_data_free(darts_data *d) {
    images_free(&d->train);
    images_free(&d->test);
}

int darts_gpus(const darts_config *c) {
    gh_backend b;
    int dev;
    if (gh_backend_parse(c->backend, &b, &dev)) return 0;
    return b == GH_BACKEND_CUDA ? 1 : 0;
}

int darts_engine_open(gh_engine **e, const darts_config *c, size_t arena_bytes, uint64_t seed) {
    gh_engine_config ec = {0};
    int st = gh_backend_parse(c->backend, &ec.backend, &ec.device_index);
    if (st) return st;
    if (c->threads > 0) omp_set_num_threads(c->threads);
    ec.arena_bytes = arena_bytes;
    ec.deterministic = c->deterministic;
    ec.seed = seed;
    return gh_engine_create(e, &ec);
}

int darts_arena_bytes(const darts_config *c, darts_probe_fn probe, void *ctx, int batch,
                      size_t *bytes) {
    if (c->arena_mb > 0) {
        *bytes = (size_t)(c->arena_mb * 1048576.0);
        return GH_OK;
    }
    // one training pass at a batch of 2 in a scratch engine; activations grow linearly with
    // the batch, the rest (BN statistics, labels) is covered by the margin
    int pb = batch < 2 ? batch : 2;
    gh_engine *e;
    int st = darts_engine_open(&e, c, (size_t)4 << 30, c->seed);
    if (st) return st;
    st = probe(e, ctx, pb);
    size_t peak = gh_engine_arena_peak(e);
    gh_engine_destroy(e);
    if (st) return gh_fail(st, "arena probe step: %s", gh_error_get());
    *bytes = (size_t)((double)peak * batch / pb * 1.1) + ((size_t)64 << 20);
    return GH_OK;
}

double darts_cosine_lr(double lr, double lr_min, int epoch, int epochs) {
    const double pi = 3.14159265358979323846;
    return lr_min + (lr - lr_min) * (1.0 + cos(pi * epoch / (double)epochs)) / 2.0;
}

int *darts_epoch_order(int n, uint64_t seed, int epoch) {
    int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!idx) return NULL;
    for (int i = 0; i < n; i++) idx[i] = i;
    gh_rng r;
    gh_rng_seed(&r, seed + 0x9E3779B97F4A7C15ull * (uint64_t)(epoch + 1), GH_STREAM_DATA);
    gh_rng_shuffle(&r, idx, (size_t)n);
    return idx;
}

int darts_batch_alloc(darts_batch *b, int cap, const gh_images *im) {
    b->per = im->c * im->h * im->w;
    b->cap = cap;
    b->x = malloc(sizeof(float) * (size_t)b->per * (size_t)cap);
    b->y = malloc(sizeof(int) * (size_t)cap);
    if (!b->x || !b->y) {
        darts_batch_free(b);
        return gh_fail(GH_ENOMEM, "batch of %d images: no memory", cap);
    }
    return GH_OK;
}

void darts_batch_free(darts_batch *b) {
    free(b->x);
    free(b->y);
    b->x = NULL;
    b->y = NULL;
}

static void fmt_secs(double s, char *out, size_t len) {
    if (!(s >= 0) || !isfinite(s)) snprintf(out, len, "?");
    else if (s < 120) snprintf(out, len, "%.0fs", s);
    else if (s < 7200) snprintf(out, len, "%.1fm", s / 60);
    else snprintf(out, len, "%.1fh", s / 3600);
}

void darts_progress(const char *what, int epoch, int epochs, int step, int steps, double loss,
                    double acc, double t0, double done_frac) {
    double el = gh_wall_seconds() - t0;
    char a[32], b[32];
    fmt_secs(el, a, sizeof a);
    fmt_secs(done_frac > 0 ? el * (1.0 - done_frac) / done_frac : NAN, b, sizeof b);
    printf("  %s epoch %d/%d step %d/%d loss %.4f acc %.2f%% | %s elapsed, ETA %s\n", what,
           epoch + 1, epochs, step, steps, loss, 100.0 * acc, a, b);
    fflush(stdout);
}

darts_net_config darts_net_for(const darts_data *d, int layers, int channels, int auxiliary) {
    darts_net_config nc = darts_search_net_defaults();
    nc.in_c = d->train.c;
    nc.in_h = d->train.h;
    nc.in_w = d->train.w;
    nc.classes = d->train.classes;
    nc.layers = layers;
    nc.c = channels;
    nc.auxiliary = auxiliary;
    return nc;
}

void darts_genotype_info(const darts_config *c, const darts_data *d, const genotype *g,
                         char *text, size_t len, double *params, double *madds) {
    genotype_print(g, text, len);
    darts_net_config nc = darts_net_for(d, c->final_layers, c->final_channels, c->auxiliary);
    darts_net_count cnt;
    if (darts_count_net(&nc, g, &cnt)) {
        *params = *madds = NAN;
        return;
    }
    *params = cnt.params;
    *madds = cnt.madds;
}
