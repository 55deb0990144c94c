// nas_feed: the batches the trainer draws from an image set: the epoch's seeded shuffle with
// augmentation for training, the first images in order with normalisation only for evaluation,
// staged in host memory (gh_batch_fn callbacks).
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

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
    f->shards = 1;
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
    f->last_n = n;
    // this rank's rows of the global batch; augmentation is keyed by image index, seed and
    // epoch, never by position, so an image looks the same on whichever rank draws it
    int r0 = (int)((long)n * f->shard / f->shards);
    int r1 = (int)((long)n * (f->shard + 1) / f->shards);
    if (r1 <= r0)
        return gh_fail(GH_EINVAL, "training batch %d: %d images for %d ranks (raise the batch "
                       "size or use fewer ranks)", step, n, f->shards);
    nas_feed_batch(f, f->order + s0 + r0, r1 - r0, 1, f->seed, epoch, b);
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
