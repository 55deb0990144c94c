// augment: the DARTS training transforms (utils.py _data_transforms_cifar10): random crop with
// zero padding, horizontal flip, per-channel normalisation, cutout; every random choice is a
// pure function of (seed, epoch, image index).
#include <math.h>
#include <string.h>

#include "data.h"

int images_channel_stats(const gh_images *im, float *mean, float *std) {
    if (im->n <= 0 || im->c < 1 || im->c > 4)
        return gh_fail(GH_EINVAL, "images_channel_stats: %d images of %d channels", im->n, im->c);
    size_t hw = (size_t)im->h * im->w;
    for (int ch = 0; ch < im->c; ch++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < im->n; i++) {
            const float *p = im->x + ((size_t)i * im->c + ch) * hw;
            for (size_t k = 0; k < hw; k++) {
                s += p[k];
                s2 += (double)p[k] * p[k];
            }
        }
        double cnt = (double)im->n * hw, m = s / cnt, var = s2 / cnt - m * m;
        mean[ch] = (float)m;
        std[ch] = (float)sqrt(var > 1e-12 ? var : 1e-12);
    }
    return GH_OK;
}

// independent draws for one image: crop offsets, flip, cutout centre
enum { DRAW_DY, DRAW_DX, DRAW_FLIP, DRAW_CY, DRAW_CX, DRAWS };

static int draw(uint64_t seed, uint64_t key, int which, int below) {
    return (int)(gh_hash64(seed, key * DRAWS + (uint64_t)which) % (uint64_t)below);
}

static void one_image(const gh_images *im, int index, const images_aug *aug, int train,
                      uint64_t seed, uint64_t epoch, float *dst) {
    int c = im->c, h = im->h, w = im->w;
    const float *src = im->x + (size_t)index * c * h * w;
    uint64_t key = epoch * (uint64_t)im->n + (uint64_t)index;
    int dy = 0, dx = 0, flip = 0;
    if (train && aug->crop_pad > 0) {
        // RandomCrop(h, padding=p): the window's corner in the padded image is uniform in
        // [0, 2p]; relative to the original that is a shift in [-p, p]
        dy = draw(seed, key, DRAW_DY, 2 * aug->crop_pad + 1) - aug->crop_pad;
        dx = draw(seed, key, DRAW_DX, 2 * aug->crop_pad + 1) - aug->crop_pad;
    }
    if (train && aug->flip) flip = draw(seed, key, DRAW_FLIP, 2);
    for (int ch = 0; ch < c; ch++) {
        float m = aug->mean[ch], inv = 1.0f / aug->std[ch];
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                int si = i + dy, sj = (flip ? w - 1 - j : j) + dx;
                // the padding is black in pixel space, normalised like every pixel
                float v = (si >= 0 && si < h && sj >= 0 && sj < w)
                              ? src[((size_t)ch * h + si) * w + sj]
                              : 0.0f;
                dst[((size_t)ch * h + i) * w + j] = (v - m) * inv;
            }
    }
    if (train && aug->cutout > 0) {
        // Cutout (DeVries & Taylor 2017) as in DARTS: a centre anywhere in the image, the
        // square clipped at the borders, zeroed after normalisation
        int cy = draw(seed, key, DRAW_CY, h), cx = draw(seed, key, DRAW_CX, w);
        int y1 = cy - aug->cutout / 2, y2 = cy + aug->cutout / 2;
        int x1 = cx - aug->cutout / 2, x2 = cx + aug->cutout / 2;
        y1 = y1 < 0 ? 0 : y1;
        x1 = x1 < 0 ? 0 : x1;
        y2 = y2 > h ? h : y2;
        x2 = x2 > w ? w : x2;
        for (int ch = 0; ch < c; ch++)
            for (int i = y1; i < y2; i++)
                for (int j = x1; j < x2; j++) dst[((size_t)ch * h + i) * w + j] = 0.0f;
    }
}

void images_batch(const gh_images *im, const int *idx, int n, const images_aug *aug, int train,
                  uint64_t seed, uint64_t epoch, float *x, int *y) {
    size_t per = (size_t)im->c * im->h * im->w;
    for (int i = 0; i < n; i++) {
        one_image(im, idx[i], aug, train, seed, epoch, x + per * (size_t)i);
        y[i] = im->y[idx[i]];
    }
}
