// split: subsets of an image set: copies by index, the DARTS half/half search split, and
// seeded samples for smoke runs.
#include <stdlib.h>
#include <string.h>

#include "data.h"

int images_subset(gh_images *out, const gh_images *src, const int *idx, int n) {
    memset(out, 0, sizeof *out);
    size_t per = (size_t)src->c * src->h * src->w;
    out->c = src->c;
    out->h = src->h;
    out->w = src->w;
    out->classes = src->classes;
    out->x = malloc(sizeof(float) * per * (size_t)(n > 0 ? n : 1));
    out->y = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!out->x || !out->y) {
        images_free(out);
        return gh_fail(GH_ENOMEM, "images_subset: no memory for %d images", n);
    }
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= src->n) {
            images_free(out);
            return gh_fail(GH_EINVAL, "images_subset: index %d outside 0..%d", idx[i], src->n - 1);
        }
        memcpy(out->x + per * (size_t)i, src->x + per * (size_t)idx[i], sizeof(float) * per);
        out->y[i] = src->y[idx[i]];
    }
    out->n = n;
    return GH_OK;
}

int images_split(const gh_images *src, double portion, gh_images *first, gh_images *second) {
    memset(first, 0, sizeof *first);
    memset(second, 0, sizeof *second);
    if (!(portion > 0.0 && portion < 1.0))
        return gh_fail(GH_EINVAL, "images_split: portion must be in (0, 1), got %g", portion);
    int n1 = (int)(portion * src->n);  // np.floor(train_portion * num_train)
    if (n1 < 1 || n1 >= src->n)
        return gh_fail(GH_EINVAL, "images_split: %d images cannot be split %g / %g", src->n,
                       portion, 1.0 - portion);
    int *idx = malloc(sizeof(int) * (size_t)src->n);
    if (!idx) return gh_fail(GH_ENOMEM, "images_split: no memory");
    for (int i = 0; i < src->n; i++) idx[i] = i;
    int st = images_subset(first, src, idx, n1);
    if (!st) st = images_subset(second, src, idx + n1, src->n - n1);
    free(idx);
    if (st) {
        images_free(first);
        images_free(second);
    }
    return st;
}

int images_sample(gh_images *out, const gh_images *src, int n, uint64_t seed) {
    if (n <= 0 || n > src->n) n = src->n;
    int *idx = malloc(sizeof(int) * (size_t)src->n);
    if (!idx) return gh_fail(GH_ENOMEM, "images_sample: no memory");
    for (int i = 0; i < src->n; i++) idx[i] = i;
    gh_rng r;
    gh_rng_seed(&r, seed, GH_STREAM_SPLIT);
    gh_rng_shuffle(&r, idx, (size_t)src->n);
    int st = images_subset(out, src, idx, n);
    free(idx);
    return st;
}
