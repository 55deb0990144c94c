// quadrants: generated images for tiny NAS runs (seconds on 2 cores): 8x8, one channel, 4
// classes, the class readable from which quadrant is bright; and a config small enough for them.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/nas/nas.h"

static void quadrant_images(gh_images *im, int n, uint64_t seed) {
    gh_rng r;
    gh_rng_seed(&r, seed, 9);
    im->n = n;
    im->c = 1;
    im->h = im->w = 8;
    im->classes = 4;
    im->x = malloc(sizeof(float) * 64 * (size_t)n);
    im->y = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int cls = (int)gh_rng_below(&r, 4);
        im->y[i] = cls;
        for (int k = 0; k < 64; k++) {
            int q = (k / 8 >= 4) * 2 + (k % 8 >= 4);
            im->x[i * 64 + k] = (float)(0.2 * gh_rng_uniform(&r) + (q == cls ? 0.7 : 0.0));
        }
    }
}

// Train 96 and test 48 images with their channel statistics; 0 on success.
static int quadrant_data(nas_data *d) {
    memset(d, 0, sizeof *d);
    quadrant_images(&d->train, 96, 1);
    quadrant_images(&d->test, 48, 2);
    snprintf(d->name, sizeof d->name, "quadrants");
    return images_channel_stats(&d->train, d->norm.mean, d->norm.std);
}

// 3 cells of 4 channels, 2 epochs of batch 16 on the CPU; out: the results file ("" none).
static nas_config quadrant_config(const char *out) {
    nas_config c;
    nas_config_defaults(&c);
    snprintf(c.backend, sizeof c.backend, "cpu");
    snprintf(c.out, sizeof c.out, "%s", out);
    c.seed = 5;
    c.darts.order = 2;
    c.search_layers = 3;
    c.search_channels = 4;
    c.search_epochs = 2;
    c.search_batch = 16;
    c.search_crop_pad = 1;
    c.report_every = 100;
    c.final_layers = 3;
    c.final_channels = 4;
    c.auxiliary = 0;
    c.arena_mb = 256;
    return c;
}
