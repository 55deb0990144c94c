// nas_net: the search space's networks as the trainer sees them: the supernet (every op, or one
// path of it for weight sharing) and a genotype's evaluation network, built into an engine, with
// their loss functions (gh_loss_fn), evaluation over a set of images, and the activation arena
// one training step needs (measured by running that step once in a scratch engine).
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

int nas_net_build(nas_net *n, gh_engine *e, const darts_net_config *nc, const genotype *g) {
    memset(n, 0, sizeof *n);
    int st = g ? darts_evalnet_build(&n->eval, e, nc, g) : darts_supernet_build(&n->super, e, nc);
    if (!st) st = gh_params_alloc(e);
    if (st) nas_net_free(n);
    return st;
}

void nas_net_free(nas_net *n) {
    darts_supernet_free(n->super);
    darts_evalnet_free(n->eval);
    n->super = NULL;
    n->eval = NULL;
}

static gh_tensor *logits_of(nas_net *n, gh_engine *e, const gh_batch *b, float drop_path,
                            gh_tensor **aux) {
    gh_tensor *x = gh_input(e, b->ndim, b->shape, b->x);
    if (n->eval) return darts_evalnet_forward(n->eval, x, drop_path, aux);
    if (n->path) return darts_supernet_forward_path(n->super, x, n->path);
    return darts_supernet_forward(n->super, x);
}

gh_tensor *nas_net_loss(void *net, gh_engine *e, const gh_batch *b, const int *labels,
                        gh_tensor **logits) {
    nas_net *n = net;
    gh_tensor *aux = NULL;
    *logits = logits_of(n, e, b, (float)n->drop_path, n->eval ? &aux : NULL);
    gh_tensor *l = gh_xent(e, *logits, labels, 0.0f, NULL);
    // train.py: loss += auxiliary_weight * criterion(logits_aux, target)
    if (aux && n->aux_weight > 0)
        l = gh_add(e, l, gh_scale(e, gh_xent(e, aux, labels, 0.0f, NULL), (float)n->aux_weight));
    return l;
}

gh_tensor *nas_net_eval_loss(void *net, gh_engine *e, const gh_batch *b, const int *labels,
                             gh_tensor **logits) {
    *logits = logits_of(net, e, b, 0.0f, NULL);
    return gh_xent(e, *logits, labels, 0.0f, NULL);
}

int nas_eval_images(gh_engine *e, gh_loss_fn loss, void *model, const gh_images *im,
                    const images_aug *norm, int n, int batch, double *mean_loss, double *acc) {
    nas_feed f;
    int st = nas_feed_init(&f, im, norm, batch, 0);
    if (st) return st;
    f.limit = n > 0 && n < im->n ? n : im->n;
    st = gh_train_evaluate(e, loss, model, nas_feed_eval, &f, nas_feed_steps(&f, f.limit),
                           mean_loss, acc);
    nas_feed_free(&f);
    return st;
}

int nas_arena_bytes(const nas_config *c, const darts_net_config *nc, const genotype *g,
                    int batch, size_t *bytes) {
    if (c->arena_mb > 0) {
        *bytes = (size_t)(c->arena_mb * 1048576.0);
        return GH_OK;
    }
    // one training step at a batch of 2 in a scratch engine; activations grow linearly with
    // the batch, the rest (BN statistics, labels) is covered by the margin. The full supernet
    // bounds every single path's activations; the evaluation network probes with drop-path
    // and the auxiliary loss on, the ops its training adds.
    int pb = batch < 2 ? batch : 2;
    size_t per = (size_t)nc->in_c * nc->in_h * nc->in_w;
    float *x = calloc(per * (size_t)pb, sizeof(float));
    int *y = calloc((size_t)pb, sizeof(int));
    gh_engine *e = NULL;
    nas_net net = {0};
    int st = x && y ? nas_engine_open(&e, c, (size_t)4 << 30, c->seed)
                    : gh_fail(GH_ENOMEM, "arena probe: no memory");
    if (!st) st = nas_net_build(&net, e, nc, g);
    if (!st) {
        net.drop_path = g ? 0.1 : 0.0;
        net.aux_weight = g ? 0.4 : 0.0;
        gh_step_def sd = {.loss = nas_net_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                          .opt = GH_OPT_SGD, .grad_clip = 5};
        gh_batch b = {.x = x, .y = y, .ndim = 4, .shape = {pb, nc->in_c, nc->in_h, nc->in_w}};
        st = gh_train_step(e, &sd, &b, 0.0);
    }
    size_t peak = e ? gh_engine_arena_peak(e) : 0;
    nas_net_free(&net);
    gh_engine_destroy(e);
    free(x);
    free(y);
    if (st) return gh_fail(st, "arena probe step: %s", gh_error_get());
    *bytes = (size_t)((double)peak * batch / pb * 1.1) + ((size_t)64 << 20);
    return GH_OK;
}
