// models: the small CNN of `gpuhours train` (an engine check on Fashion-MNIST): two
// conv3x3-BN-ReLU-maxpool blocks (16 and 32 channels), then a linear classifier over the
// flattened maps (keeping position, which global average pooling would discard, learns
// Fashion-MNIST faster).
#include "models.h"

int cnn_build(cnn_net *m, gh_engine *e, int c, int h, int w, int classes) {
    int f = 32 * (h / 4) * (w / 4);
    m->w1 = gh_param(e, 0, "conv1.w", 4, (int[]){16, c, 3, 3}, GH_INIT_KAIMING_UNIFORM, c * 9);
    m->g1 = gh_param(e, 0, "bn1.gamma", 1, (int[]){16}, GH_INIT_ONE, 0);
    m->b1 = gh_param(e, 0, "bn1.beta", 1, (int[]){16}, GH_INIT_ZERO, 0);
    m->m1 = gh_param(e, GH_GROUP_BUFFERS, "bn1.mean", 1, (int[]){16}, GH_INIT_ZERO, 0);
    m->v1 = gh_param(e, GH_GROUP_BUFFERS, "bn1.var", 1, (int[]){16}, GH_INIT_ONE, 0);
    m->w2 = gh_param(e, 0, "conv2.w", 4, (int[]){32, 16, 3, 3}, GH_INIT_KAIMING_UNIFORM, 144);
    m->g2 = gh_param(e, 0, "bn2.gamma", 1, (int[]){32}, GH_INIT_ONE, 0);
    m->b2 = gh_param(e, 0, "bn2.beta", 1, (int[]){32}, GH_INIT_ZERO, 0);
    m->m2 = gh_param(e, GH_GROUP_BUFFERS, "bn2.mean", 1, (int[]){32}, GH_INIT_ZERO, 0);
    m->v2 = gh_param(e, GH_GROUP_BUFFERS, "bn2.var", 1, (int[]){32}, GH_INIT_ONE, 0);
    m->fw = gh_param(e, 0, "fc.w", 2, (int[]){classes, f}, GH_INIT_KAIMING_UNIFORM, f);
    m->fb = gh_param(e, 0, "fc.b", 1, (int[]){classes}, GH_INIT_KAIMING_UNIFORM, f);
    return gh_params_alloc(e);
}

gh_tensor *cnn_forward(const cnn_net *m, gh_engine *e, gh_tensor *x) {
    gh_tensor *h = gh_conv2d(e, x, m->w1, NULL, 1, 1, 1, 1, 1, 1, 1);
    h = gh_relu(e, gh_batchnorm(e, h, m->g1, m->b1, m->m1, m->v1, 1e-5f, 0.1f));
    h = gh_maxpool(e, h, 2, 2, 0);
    h = gh_conv2d(e, h, m->w2, NULL, 1, 1, 1, 1, 1, 1, 1);
    h = gh_relu(e, gh_batchnorm(e, h, m->g2, m->b2, m->m2, m->v2, 1e-5f, 0.1f));
    h = gh_maxpool(e, h, 2, 2, 0);
    return gh_linear(e, gh_flatten(e, h), m->fw, m->fb);
}

gh_tensor *cnn_loss(void *model, gh_engine *e, const gh_batch *b, const int *labels,
                    gh_tensor **logits) {
    *logits = cnn_forward(model, e, gh_input(e, b->ndim, b->shape, b->x));
    return gh_xent(e, *logits, labels, 0.0f, NULL);
}
