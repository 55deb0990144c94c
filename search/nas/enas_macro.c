// enas_macro: ENAS's macro network as the trainer sees it (Pham et al., ICML 2018, section 2.3;
// melodyguan/enas general_child.py): the model behind the loss functions, the activation arena
// of one step, a derived arc's trial row, and the final training of a fixed arc
// (cifar10_macro_final.sh: 24 layers, 96 filters, keep_prob 0.5, cosine restarts).
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

enas_macro_config enas_macro_config_for(const nas_data *d, int layers, int channels, int shared,
                                        double dropout) {
    return (enas_macro_config){.in_c = d->train.c, .in_h = d->train.h, .in_w = d->train.w,
                               .classes = d->train.classes, .layers = layers, .c = channels,
                               .shared = shared, .dropout = dropout};
}

int enas_macro_model_build(enas_macro_model *m, gh_engine *e, const enas_macro_config *mc,
                           const enas_macro_arc *arc) {
    m->net = NULL;   // m->path is the caller's
    int st = enas_macronet_build(&m->net, e, mc, arc);
    if (!st) st = gh_params_alloc(e);
    if (st) {
        enas_macronet_free(m->net);
        m->net = NULL;
    }
    return st;
}

gh_tensor *enas_macro_loss(void *model, gh_engine *e, const gh_batch *b, const int *labels,
                           gh_tensor **logits) {
    enas_macro_model *m = model;
    gh_tensor *x = gh_input(e, b->ndim, b->shape, b->x);
    *logits = enas_macronet_forward(m->net, x, m->path);
    return *logits ? gh_xent(e, *logits, labels, 0.0f, NULL) : NULL;
}

int enas_macro_arena_bytes(const nas_config *c, const enas_macro_config *mc,
                           const enas_macro_arc *arc, int batch, size_t *bytes) {
    if (c->arena_mb > 0) {
        *bytes = (size_t)(c->arena_mb * 1048576.0);
        return GH_OK;
    }
    // as nas_arena_bytes: one step at a batch of 2 in a scratch engine, scaled to the batch
    int pb = batch < 2 ? batch : 2;
    size_t per = (size_t)mc->in_c * mc->in_h * mc->in_w;
    float *x = calloc(per * (size_t)pb, sizeof(float));
    int *y = calloc((size_t)pb, sizeof(int));
    gh_engine *e = NULL;
    enas_macro_model m = {0};
    int st = x && y ? nas_engine_open(&e, c, (size_t)4 << 30, c->seed)
                    : gh_fail(GH_ENOMEM, "arena probe: no memory");
    if (!st) st = enas_macro_model_build(&m, e, mc, mc->shared ? NULL : arc);
    if (!st) {
        m.path = arc;
        gh_step_def sd = {.loss = enas_macro_loss, .model = &m, .group = GH_GROUP_WEIGHTS,
                          .opt = GH_OPT_SGD, .grad_clip = 5};
        gh_batch b = {.x = x, .y = y, .ndim = 4, .shape = {pb, mc->in_c, mc->in_h, mc->in_w}};
        st = gh_train_step(e, &sd, &b, 0.0);
    }
    size_t peak = e ? gh_engine_arena_peak(e) : 0;
    enas_macronet_free(m.net);
    gh_engine_destroy(e);
    free(x);
    free(y);
    if (st) return gh_fail(st, "arena probe step: %s", gh_error_get());
    *bytes = (size_t)((double)peak * batch / pb * 1.1) + ((size_t)64 << 20);
    return GH_OK;
}

// The costliest arc for the arena: 5x5 convs everywhere, every skip taken.
void enas_macro_worst_arc(int layers, enas_macro_arc *a) {
    memset(a, 0, sizeof *a);
    a->layers = layers;
    for (int l = 0; l < layers; l++) {
        a->op[l] = 2;
        for (int i = 0; i < l; i++) a->skip[l][i] = 1;
    }
}

int enas_macro_arch_text(const enas_macro_arc *a, char *out, size_t len) {
    int n = snprintf(out, len, "enas-macro: ");
    return n + enas_macro_arc_print(a, n >= 0 && (size_t)n < len ? out + n : NULL,
                                    n >= 0 && (size_t)n < len ? len - (size_t)n : 0);
}

int enas_macro_record_trial(const nas_run *r, int64_t id, const enas_macro_arc *a,
                            const nas_eval_result *res, const char *status) {
    if (!r->l) return GH_OK;
    char text[ENAS_MACRO_TEXT_MAX];
    enas_macro_arch_text(a, text, sizeof text);
    // params and multiply-adds of the arc's final network (final_channels; an arc fixes its
    // own depth), as genotypes are counted at the final size
    enas_macro_config mc = enas_macro_config_for(r->d, a->layers, r->c->final_channels, 0, 0);
    darts_net_count cnt;
    double params = NAN, madds = NAN;
    if (!enas_macro_count(&mc, a, &cnt)) {
        params = cnt.params;
        madds = cnt.madds;
    }
    ledger_trial t = {.id = id, .arch = text, .learner = "", .fidelity = res->fidelity,
                      .train_acc = res->train_acc, .val_acc = res->val_acc, .test_acc = NAN,
                      .train_loss = res->train_loss, .val_loss = res->val_loss,
                      .test_loss = NAN, .madds = madds, .params = params, .cost = res->cost,
                      .status = status, .worker = res->worker};
    return ledger_append_trial(r->l, &t);
}

// A name of genotype_named's table whose text is a macro arc's ("ENAS_MACRO") stands for it.
static const char *named_arc(const char *text) {
    const char *named = text ? genotype_named(text) : NULL;
    return named && !strncmp(named, "enas-macro:", 11) ? named : NULL;
}

int enas_macro_is_text(const char *text) {
    if (named_arc(text)) return 1;
    while (text && isspace((unsigned char)*text)) text++;
    return text && !strncmp(text, "enas-macro:", 11);
}

int enas_macro_resolve(const char *text, enas_macro_arc *a) {
    if (named_arc(text)) text = named_arc(text);
    if (!enas_macro_is_text(text))
        return gh_fail(GH_EFORMAT, "ENAS macro arc: expected \"enas-macro: <integers>\" or "
                                   "ENAS_MACRO");
    const char *p = strstr(text, "enas-macro:") + 11;
    while (isspace((unsigned char)*p)) p++;
    return enas_macro_arc_parse(a, p);
}
