// learners/encode.c: the feature encoding of the linear models and the MLP: numeric features
// standardised (z-scores with the training mean/std, missing -> 0, the mean), nominal
// features one-hot (missing or out-of-range -> all zeros). Trees use the raw codes instead.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learner_impl.h"

void encoder_free(encoder *e) {
    free(e->offset);
    free(e->levels);
    free(e->mean);
    free(e->scale);
    memset(e, 0, sizeof *e);
}

// Encoded columns: 2^26 one-hot and numeric columns, far beyond any table we read, keeps the
// offsets and every width * rows product of the learners well inside their integer types.
#define ENCODER_MAX_WIDTH (1 << 26)

static int encoder_alloc(encoder *e, int d) {
    memset(e, 0, sizeof *e);
    e->d = d;
    e->offset = calloc((size_t)d + 1, sizeof(int));
    e->levels = calloc((size_t)d + 1, sizeof(int));
    e->mean = calloc((size_t)d + 1, sizeof(double));
    e->scale = calloc((size_t)d + 1, sizeof(double));
    if (!e->offset || !e->levels || !e->mean || !e->scale) {
        encoder_free(e);
        return gh_fail(GH_ENOMEM, "encoder: out of memory for %d features", d);
    }
    return GH_OK;
}

static void encoder_layout(encoder *e) {
    int w = 0;
    for (int j = 0; j < e->d; j++) {
        e->offset[j] = w;
        w += e->levels[j] ? e->levels[j] : 1;
    }
    e->width = w;
}

int encoder_fit(encoder *e, const gh_dataset *ds) {
    int st = encoder_alloc(e, ds->d);
    if (st) return st;
    for (int j = 0; j < ds->d; j++) {
        e->levels[j] = ds->feat_levels[j];
        e->scale[j] = 1.0;
        if (e->levels[j]) continue;
        // two-pass mean and variance in double: exact enough for any column we read
        double s = 0.0;
        long n = 0;
        for (int i = 0; i < ds->n; i++) {
            float v = ds->x[(size_t)i * ds->d + j];
            if (!isnan(v)) s += v, n++;
        }
        double mean = n ? s / n : 0.0, ss = 0.0;
        for (int i = 0; i < ds->n; i++) {
            float v = ds->x[(size_t)i * ds->d + j];
            if (!isnan(v)) ss += (v - mean) * (v - mean);
        }
        double sd = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
        e->mean[j] = mean;
        e->scale[j] = sd > 1e-12 * (fabs(mean) + 1.0) ? 1.0 / sd : 1.0;
    }
    encoder_layout(e);
    return GH_OK;
}

void encoder_row(const encoder *e, const float *x, float *out) {
    memset(out, 0, sizeof(float) * (size_t)e->width);
    for (int j = 0; j < e->d; j++) {
        float v = x[j];
        if (isnan(v)) continue;
        if (e->levels[j]) {
            int k = (int)v;
            if (k >= 0 && k < e->levels[j]) out[e->offset[j] + k] = 1.0f;
        } else {
            out[e->offset[j]] = (float)((v - e->mean[j]) * e->scale[j]);
        }
    }
}

void encoder_save(const encoder *e, sbuf *b) {
    sbuf_printf(b, "encoder %d\n", e->d);
    for (int j = 0; j < e->d; j++) sbuf_printf(b, j ? " %d" : "%d", e->levels[j]);
    sbuf_put(b, "\n", 1);
    sbuf_doubles(b, e->mean, (size_t)e->d);
    sbuf_doubles(b, e->scale, (size_t)e->d);
}

int encoder_load(encoder *e, scursor *c) {
    long d;
    int st = scur_word(c, "encoder");
    if (!st) st = scur_int(c, &d);
    if (st) return st;
    // three numbers per feature follow (levels, mean, scale), two bytes each at least
    if (d < 0 || d > (1 << 24) || !scur_fits(c, 3.0 * (double)d, 2))
        return gh_fail(GH_EFORMAT, "%s: bad encoder width %ld", c->what, d);
    st = encoder_alloc(e, (int)d);
    if (st) return st;
    long width = 0;
    for (int j = 0; j < d && !st; j++) {
        long v;
        st = scur_int(c, &v);
        // a negative or huge level count would make the one-hot offsets point outside a row
        if (!st && (v < 0 || v > ENCODER_MAX_WIDTH || (width += v ? v : 1) > ENCODER_MAX_WIDTH))
            st = gh_fail(GH_EFORMAT, "%s: feature %d: %ld levels (the encoded width may be at most "
                         "%d)", c->what, j, v, ENCODER_MAX_WIDTH);
        if (!st) e->levels[j] = (int)v;
    }
    if (!st) st = scur_doubles(c, e->mean, (size_t)d);
    if (!st) st = scur_doubles(c, e->scale, (size_t)d);
    if (st) {
        encoder_free(e);
        return st;
    }
    encoder_layout(e);
    return GH_OK;
}

int encoder_check_schema(const encoder *e, const gh_dataset *schema, const char *what) {
    if (e->d != schema->d)
        return gh_fail(GH_EFORMAT, "%s: the encoder has %d features, the model's schema %d", what,
                       e->d, schema->d);
    for (int j = 0; j < e->d; j++)
        if (e->levels[j] != schema->feat_levels[j])
            return gh_fail(GH_EFORMAT, "%s: feature %d has %d levels in the encoder, %d in the "
                           "model's schema", what, j, e->levels[j], schema->feat_levels[j]);
    return GH_OK;
}

double encoded_width(const gh_dataset *shape) {
    double w = 0;
    for (int j = 0; j < shape->d; j++) w += shape->feat_levels[j] > 0 ? shape->feat_levels[j] : 1;
    return w > 0 ? w : 1;
}
