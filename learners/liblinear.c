// learners/liblinear.c: L1- and L2-regularised logistic regression ("lrl1", "lrl2") and
// L2-regularised least squares ("linear", ridge regression) through liblinear. Features are
// standardised / one-hot encoded (encode.c), a bias feature is appended, and the regression
// target is standardised so that C means the same thing for any scale of y.
#if GH_HAVE_LIBLINEAR
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linear.h>

#include "learner_impl.h"

typedef struct {
    encoder enc;
    struct model *lm;         // NULL when training saw a single class (constant model)
    int const_class;          // that class
    double y_mean, y_scale;   // regression: y = y_mean + y_scale * prediction
} lin_impl;

static void quiet(const char *s) { (void)s; }

static void lin_free_impl(lin_impl *li) {
    if (!li) return;
    encoder_free(&li->enc);
    if (li->lm) free_and_destroy_model(&li->lm);
    free(li);
}

// Row i as liblinear's sparse nodes (1-based indices, zeros skipped, bias node, index -1 end).
static struct feature_node *encode_row(const encoder *e, const float *x, float *dense,
                                       struct feature_node *nodes, double bias) {
    encoder_row(e, x, dense);
    int k = 0;
    for (int j = 0; j < e->width; j++)
        if (dense[j] != 0.0f) nodes[k++] = (struct feature_node){j + 1, dense[j]};
    if (bias >= 0) nodes[k++] = (struct feature_node){e->width + 1, bias};
    nodes[k].index = -1;
    return nodes;
}

static int lin_fit(learner_model *m, const gh_dataset *tr, uint64_t seed, double time_limit_s,
                   int *stopped_early) {
    (void)seed;           // liblinear's solvers used here are deterministic
    (void)time_limit_s;   // and cannot be interrupted; a fit always runs to convergence
    *stopped_early = 0;
    const char *name = m->def->name;
    lin_impl *li = calloc(1, sizeof *li);
    if (!li) return gh_fail(GH_ENOMEM, "%s: out of memory", name);
    int st = encoder_fit(&li->enc, tr);
    if (st) {
        free(li);
        return st;
    }
    int n = tr->n, w = li->enc.width;
    li->y_scale = 1.0;
    if (tr->task != GH_TASK_REGRESSION) {
        int first = (int)tr->y[0], one_class = 1;
        for (int i = 1; i < n; i++) one_class &= (int)tr->y[i] == first;
        if (one_class) {
            // liblinear needs two classes; a fold holding one gets the constant answer
            li->const_class = first;
            m->impl = li;
            return GH_OK;
        }
    } else {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++) s += tr->y[i];
        li->y_mean = s / n;
        for (int i = 0; i < n; i++) ss += (tr->y[i] - li->y_mean) * (tr->y[i] - li->y_mean);
        double sd = sqrt(ss / (n > 1 ? n - 1 : 1));
        li->y_scale = sd > 0 ? sd : 1.0;
    }
    struct problem prob = {0};
    prob.l = n;
    prob.n = w + 1;
    prob.bias = 1.0;
    prob.y = malloc(sizeof(double) * (size_t)n);
    prob.x = malloc(sizeof(struct feature_node *) * (size_t)n);
    size_t nnz = 0;
    float *dense = malloc(sizeof(float) * (size_t)(w + 1));
    // nodes per row: nonzeros + bias + terminator; count first to allocate once
    if (prob.y && prob.x && dense)
        for (int i = 0; i < n; i++) {
            encoder_row(&li->enc, tr->x + (size_t)i * tr->d, dense);
            for (int j = 0; j < w; j++) nnz += dense[j] != 0.0f;
        }
    struct feature_node *pool = malloc(sizeof(struct feature_node) * (nnz + 2 * (size_t)n));
    if (!prob.y || !prob.x || !dense || !pool) {
        st = gh_fail(GH_ENOMEM, "%s: out of memory for %d x %d", name, n, w);
        goto done;
    }
    struct feature_node *at = pool;
    for (int i = 0; i < n; i++) {
        prob.x[i] = encode_row(&li->enc, tr->x + (size_t)i * tr->d, dense, at, prob.bias);
        while (at->index != -1) at++;
        at++;
        prob.y[i] = tr->task == GH_TASK_REGRESSION ? (tr->y[i] - li->y_mean) / li->y_scale
                                                   : tr->y[i];
    }
    struct parameter par = {0};
    par.C = hp_value(m->def, m->cfg, "C", 1.0);
    // liblinear's default stopping tolerances for these solvers (its train.c)
    if (!strcmp(name, "lrl1")) par.solver_type = L1R_LR, par.eps = 0.01;
    else if (!strcmp(name, "lrl2")) par.solver_type = L2R_LR, par.eps = 0.01;
    else par.solver_type = L2R_L2LOSS_SVR, par.eps = 0.0001, par.p = 0.0;  // p = 0: ridge
    const char *err = check_parameter(&prob, &par);
    if (err) {
        st = gh_fail(GH_EINVAL, "%s: liblinear check_parameter: %s", name, err);
        goto done;
    }
    set_print_string_function(quiet);
    li->lm = train(&prob, &par);
    if (!li->lm) st = gh_fail(GH_ENOMEM, "%s: liblinear train failed", name);
done:
    free(prob.y);
    free(prob.x);
    free(pool);
    free(dense);
    if (st) lin_free_impl(li);
    else m->impl = li;
    return st;
}

static int lin_predict(const learner_model *m, const gh_dataset *data, float *out) {
    const lin_impl *li = m->impl;
    int k = m->schema.n_classes, w = li->enc.width;
    if (!li->lm) {
        for (int i = 0; i < data->n; i++)
            for (int c = 0; c < k; c++) out[(size_t)i * k + c] = c == li->const_class;
        return GH_OK;
    }
    int nc = get_nr_class(li->lm);
    float *dense = malloc(sizeof(float) * (size_t)(w + 1));
    struct feature_node *nodes = malloc(sizeof(struct feature_node) * (size_t)(w + 2));
    double *prob = malloc(sizeof(double) * (size_t)(nc + 2));
    int *labels = malloc(sizeof(int) * (size_t)(nc + 2));
    if (!dense || !nodes || !prob || !labels) {
        free(dense), free(nodes), free(prob), free(labels);
        return gh_fail(GH_ENOMEM, "%s: out of memory", m->def->name);
    }
    if (m->schema.task != GH_TASK_REGRESSION) get_labels(li->lm, labels);
    for (int i = 0; i < data->n; i++) {
        encode_row(&li->enc, data->x + (size_t)i * data->d, dense, nodes, li->lm->bias);
        if (m->schema.task == GH_TASK_REGRESSION) {
            out[i] = (float)(li->y_mean + li->y_scale * predict(li->lm, nodes));
            continue;
        }
        predict_probability(li->lm, nodes, prob);
        // liblinear orders classes by first appearance; classes absent in training get 0
        float *o = out + (size_t)i * k;
        for (int c = 0; c < k; c++) o[c] = 0.0f;
        for (int c = 0; c < nc; c++)
            if (labels[c] >= 0 && labels[c] < k) o[labels[c]] = (float)prob[c];
    }
    free(dense), free(nodes), free(prob), free(labels);
    return GH_OK;
}

// Payload: the encoder, then our own text of liblinear's model struct (its save_model only
// writes to a named file).
static int lin_save(const learner_model *m, sbuf *b) {
    const lin_impl *li = m->impl;
    encoder_save(&li->enc, b);
    sbuf_printf(b, "target %.17g %.17g const %d\n", li->y_mean, li->y_scale, li->const_class);
    if (!li->lm) {
        sbuf_printf(b, "liblinear none\n");
        return GH_OK;
    }
    const struct model *lm = li->lm;
    int n = lm->nr_feature + (lm->bias >= 0);
    int nw = (lm->nr_class == 2 && lm->param.solver_type != MCSVM_CS) ? 1 : lm->nr_class;
    sbuf_printf(b, "liblinear %d %d %d %.17g %d\n", lm->param.solver_type, lm->nr_class,
                lm->nr_feature, lm->bias, lm->label != NULL);
    if (lm->label) {
        for (int c = 0; c < lm->nr_class; c++) sbuf_printf(b, c ? " %d" : "%d", lm->label[c]);
        sbuf_put(b, "\n", 1);
    }
    sbuf_doubles(b, lm->w, (size_t)n * (size_t)nw);
    return GH_OK;
}

static int lin_load(learner_model *m, const char *payload, size_t len) {
    scursor c = {payload, payload + len, payload, "liblinear payload"};
    lin_impl *li = calloc(1, sizeof *li);
    if (!li) return gh_fail(GH_ENOMEM, "out of memory");
    long v = 0;
    int st = encoder_load(&li->enc, &c);
    if (!st) st = encoder_check_schema(&li->enc, &m->schema, c.what);
    if (!st) st = scur_word(&c, "target");
    if (!st) st = scur_double(&c, &li->y_mean);
    if (!st) st = scur_double(&c, &li->y_scale);
    if (!st) st = scur_word(&c, "const");
    if (!st) st = scur_int(&c, &v);
    li->const_class = (int)v;
    if (!st) st = scur_word(&c, "liblinear");
    if (st) goto done;
    while (c.p < c.end && *c.p == ' ') c.p++;
    if (c.end - c.p >= 4 && !memcmp(c.p, "none", 4)) goto done;
    long solver, nr_class, nr_feature, has_label;
    double bias;
    st = scur_int(&c, &solver);
    if (!st) st = scur_int(&c, &nr_class);
    if (!st) st = scur_int(&c, &nr_feature);
    if (!st) st = scur_double(&c, &bias);
    if (!st) st = scur_int(&c, &has_label);
    if (st) goto done;
    // the labels and weights are all in the payload (two bytes a value at least): checked
    // before anything that size is allocated
    double n_values = (has_label ? (double)nr_class : 0) +
                      (double)(nr_feature + (bias >= 0)) * (nr_class == 2 ? 1 : (double)nr_class);
    if (nr_class < 1 || nr_class > 1000000 || nr_feature < 0 || nr_feature > (1 << 26) ||
        !scur_fits(&c, n_values, 2)) {
        st = gh_fail(GH_EFORMAT, "liblinear payload: bad sizes %ld classes, %ld features", nr_class,
                     nr_feature);
        goto done;
    }
    struct model *lm = calloc(1, sizeof *lm);
    if (!lm) {
        st = gh_fail(GH_ENOMEM, "out of memory");
        goto done;
    }
    li->lm = lm;
    lm->param.solver_type = (int)solver;
    lm->nr_class = (int)nr_class;
    lm->nr_feature = (int)nr_feature;
    lm->bias = bias;
    int n = lm->nr_feature + (bias >= 0);
    int nw = (lm->nr_class == 2 && solver != MCSVM_CS) ? 1 : lm->nr_class;
    if (has_label) {
        lm->label = malloc(sizeof(int) * (size_t)nr_class);
        if (!lm->label) {
            st = gh_fail(GH_ENOMEM, "out of memory");
            goto done;
        }
        for (long k = 0; k < nr_class && !st; k++) {
            st = scur_int(&c, &v);
            lm->label[k] = (int)v;
        }
    }
    lm->w = malloc(sizeof(double) * (size_t)n * (size_t)nw + 1);
    if (!lm->w) st = gh_fail(GH_ENOMEM, "out of memory");
    if (!st) st = scur_doubles(&c, lm->w, (size_t)n * (size_t)nw);
    // prediction asks liblinear for values (regression) or probabilities with class labels:
    // another solver, or no labels, would read labels that are not there (solver -1 did)
    int regression = m->schema.task == GH_TASK_REGRESSION;
    if (!st && (regression ? !check_regression_model(lm)
                           : !check_probability_model(lm) || !lm->label))
        st = gh_fail(GH_EFORMAT, "liblinear payload: solver %ld%s does not fit a %s model", solver,
                     lm->label || regression ? "" : " without labels", gh_task_name(m->schema.task));
done:
    if (st) lin_free_impl(li);
    else m->impl = li;
    return st;
}

static void lin_release(learner_model *m) {
    lin_free_impl(m->impl);
    m->impl = NULL;
}

// A solve is passes over the nonzeros (at most rows x encoded width) for each binary problem
// (one-vs-rest for more than two classes); liblinear's Newton and coordinate-descent solvers
// need more passes as the regularisation weakens (larger C). It cannot be stopped.
static double lin_fit_units(const learner_def *def, const double *cfg, const gh_dataset *shape,
                            int rows, double *first) {
    double problems = shape->task == GH_TASK_MULTICLASS ? shape->n_classes : 1;
    double c = hp_value(def, cfg, "C", 1.0);
    *first = problems * rows * (encoded_width(shape) + 1) * (1 + log2(fmax(1, c)));
    return *first;
}

const learner_ops learner_ops_liblinear = {lin_fit, lin_predict, lin_save, lin_load,
                                           lin_release, NULL, lin_fit_units};
#endif
