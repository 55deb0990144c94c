// darts_setup: what every NAS driver is set up from: the image data of a config, the engine
// (backend, threads), the cosine schedule, and the batches the trainer draws (epoch orders,
// augmentation, host staging).
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

double darts_cosine_lr(double lr, double lr_min, int epoch, int epochs) {
    const double pi = 3.14159265358979323846;
    return lr_min + (lr - lr_min) * (1.0 + cos(pi * epoch / (double)epochs)) / 2.0;
}

void nas_epoch_order(int *idx, int n, uint64_t seed, int epoch) {
    for (int i = 0; i < n; i++) idx[i] = i;
    gh_rng r;
    gh_rng_seed(&r, seed + 0x9E3779B97F4A7C15ull * (uint64_t)(epoch + 1), GH_STREAM_DATA);
    gh_rng_shuffle(&r, idx, (size_t)n);
}

int nas_feed_init(nas_feed *f, const gh_images *im, const images_aug *aug, int batch,
                  uint64_t seed) {
    memset(f, 0, sizeof *f);
    f->im = im;
    f->aug = *aug;
    f->seed = seed;
    f->batch = batch;
    f->limit = im->n;
    f->order_epoch = -1;
    size_t per = (size_t)im->c * im->h * im->w;
    f->x = malloc(sizeof(float) * per * (size_t)(batch > 0 ? batch : 1));
    f->y = malloc(sizeof(int) * (size_t)(batch > 0 ? batch : 1));
    f->order = malloc(sizeof(int) * (size_t)(im->n > 0 ? im->n : 1));
    if (batch < 1 || !f->x || !f->y || !f->order) {
        nas_feed_free(f);
        return batch < 1 ? gh_fail(GH_EINVAL, "batch size %d: expected at least 1", batch)
                         : gh_fail(GH_ENOMEM, "batch of %d images: no memory", batch);
    }
    return GH_OK;
}

void nas_feed_free(nas_feed *f) {
    free(f->x);
    free(f->y);
    free(f->order);
    f->x = NULL;
    f->y = NULL;
    f->order = NULL;
}

int nas_feed_steps(const nas_feed *f, int n) { return (n + f->batch - 1) / f->batch; }

void nas_feed_batch(nas_feed *f, const int *idx, int n, int train, uint64_t seed, int epoch,
                    gh_batch *b) {
    const gh_images *im = f->im;
    images_batch(im, idx, n, &f->aug, train, seed, (uint64_t)epoch, f->x, f->y);
    *b = (gh_batch){.x = f->x, .y = f->y, .ndim = 4, .shape = {n, im->c, im->h, im->w}};
}

int nas_feed_train(void *ctx, int epoch, int step, gh_batch *b) {
    nas_feed *f = ctx;
    int s0 = step * f->batch, n = f->im->n - s0 < f->batch ? f->im->n - s0 : f->batch;
    if (n < 1) return gh_fail(GH_EINVAL, "training batch %d of %d images: past the end", step,
                              f->im->n);
    if (f->order_epoch != epoch) nas_epoch_order(f->order, f->im->n, f->seed, epoch);
    f->order_epoch = epoch;
    nas_feed_batch(f, f->order + s0, n, 1, f->seed, epoch, b);
    return GH_OK;
}

int nas_feed_eval(void *ctx, int epoch, int step, gh_batch *b) {
    (void)epoch;
    nas_feed *f = ctx;
    int s0 = step * f->batch, n = f->limit - s0 < f->batch ? f->limit - s0 : f->batch;
    if (n < 1) return gh_fail(GH_EINVAL, "evaluation batch %d of %d images: past the end", step,
                              f->limit);
    for (int i = 0; i < n; i++) f->order[i] = s0 + i;
    f->order_epoch = -1;   // the order buffer now holds these indices
    nas_feed_batch(f, f->order, n, 0, f->seed, 0, b);
    return GH_OK;
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
