// engine: parameter declaration, placement into one flat buffer per group (so that a
// data-parallel all-reduce of a group's gradient is one call), and initialisation from the
// engine's GH_STREAM_INIT random stream in declaration order.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

// Each parameter starts on a 16-float (64-byte) boundary inside its group so vector loads
// (float4 on the GPU, AVX-512 on the host) stay aligned; the padding is zero and stays zero
// under every optimizer (zero gradient, zero weight).
#define PARAM_ALIGN_FLOATS 16

int group_valid(gh_engine *e, const char *fn, int group) {
    if (group < 0 || group >= GH_NUM_GROUPS)
        return !eng_fail(e, GH_EINVAL, "%s: group %d (expected 0..%d)", fn, group,
                         GH_NUM_GROUPS - 1);
    return 1;
}

static const char *group_name(int g) {
    return g == GH_GROUP_WEIGHTS ? "weights" : g == GH_GROUP_ARCH ? "arch" : "buffers";
}

gh_tensor *gh_param(gh_engine *e, int group, const char *name, int ndim, const int *shape,
                    gh_init init, int fan_in) {
    const char *nm = name ? name : "(unnamed)";
    if (!group_valid(e, "param", group)) return NULL;
    if (e->params_allocated) {
        eng_fail(e, GH_EINVAL, "param '%s': declared after gh_params_alloc", nm);
        return NULL;
    }
    if (ndim < 1 || ndim > GH_MAX_DIMS) {
        eng_fail(e, GH_EINVAL, "param '%s': %d dimensions (1..%d supported)", nm, ndim,
                 GH_MAX_DIMS);
        return NULL;
    }
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            eng_fail(e, GH_EINVAL, "param '%s': dimension %d is %d", nm, i, shape[i]);
            return NULL;
        }
        numel *= (size_t)shape[i];
    }
    if (init == GH_INIT_KAIMING_UNIFORM && fan_in <= 0) {
        eng_fail(e, GH_EINVAL, "param '%s': Kaiming init needs fan_in > 0, got %d", nm, fan_in);
        return NULL;
    }
    if (e->nparams == e->params_cap) {
        int cap = e->params_cap ? 2 * e->params_cap : 64;
        param_slot *p = realloc(e->params, (size_t)cap * sizeof *p);
        if (!p) {
            eng_fail(e, GH_ENOMEM, "param '%s': parameter table of %d entries", nm, cap);
            return NULL;
        }
        e->params = p;
        e->params_cap = cap;
    }
    tnode *n = calloc(1, sizeof *n);
    char *dup = strdup(nm);
    if (!n || !dup) {
        free(n);
        free(dup);
        eng_fail(e, GH_ENOMEM, "param '%s': host memory", nm);
        return NULL;
    }
    n->owner = e;
    n->t.ndim = ndim;
    for (int i = 0; i < ndim; i++) n->t.shape[i] = shape[i];
    n->t.numel = numel;
    n->t.requires_grad = group != GH_GROUP_BUFFERS;
    n->t.name = dup;
    e->params[e->nparams++] = (param_slot){.node = n, .group = group, .init = init,
                                           .fan_in = fan_in};
    return &n->t;
}

static void init_host(gh_rng *r, float *x, size_t n, gh_init init, int fan_in) {
    switch (init) {
    case GH_INIT_ZERO:
        for (size_t i = 0; i < n; i++) x[i] = 0.0f;
        break;
    case GH_INIT_ONE:
        for (size_t i = 0; i < n; i++) x[i] = 1.0f;
        break;
    case GH_INIT_KAIMING_UNIFORM: {
        // PyTorch's conv/linear default, kaiming_uniform_(a=sqrt(5)): bound = 1/sqrt(fan_in)
        double b = 1.0 / sqrt((double)fan_in);
        for (size_t i = 0; i < n; i++) x[i] = (float)(b * (2.0 * gh_rng_uniform(r) - 1.0));
        break;
    }
    case GH_INIT_NORMAL_1E3:
        // DARTS: alphas = 1e-3 * randn (Liu et al. 2019, model_search.py)
        for (size_t i = 0; i < n; i++) x[i] = (float)(1e-3 * gh_rng_normal(r));
        break;
    }
}

int gh_params_alloc(gh_engine *e) {
    if (e->params_allocated) return eng_fail(e, GH_EINVAL, "params_alloc: called twice");
    if (e->status) return e->status;
    size_t off[GH_NUM_GROUPS] = {0};
    for (int i = 0; i < e->nparams; i++) {
        param_slot *p = &e->params[i];
        p->offset = off[p->group];
        size_t n = p->node->t.numel;
        off[p->group] += (n + PARAM_ALIGN_FLOATS - 1) / PARAM_ALIGN_FLOATS * PARAM_ALIGN_FLOATS;
    }
    int st = GH_OK;
    float *host = NULL;
    for (int g = 0; g < GH_NUM_GROUPS && !st; g++) {
        e->group_numel[g] = off[g];
        if (off[g] == 0) continue;
        size_t bytes = off[g] * sizeof(float);
        void *d = NULL, *gr = NULL;
        st = dev_alloc(e, &d, bytes);
        if (!st && g != GH_GROUP_BUFFERS) st = dev_alloc(e, &gr, bytes);
        e->group_data[g] = d;
        e->group_grad[g] = gr;
        if (st) {
            eng_fail(e, st, "params_alloc: group %s, %zu floats: %s", group_name(g), off[g],
                     gh_error_get());
            break;
        }
        if (gr) st = eng_check(e, dev_zero(e, gr, bytes));
        // initialise on the host in declaration order, then one copy per group
        float *h = realloc(host, bytes);
        if (!h) {
            st = eng_fail(e, GH_ENOMEM, "params_alloc: host staging of %zu bytes", bytes);
            break;
        }
        host = h;
        memset(host, 0, bytes);
        for (int i = 0; i < e->nparams; i++) {
            param_slot *p = &e->params[i];
            if (p->group != g) continue;
            init_host(&e->rng_init, host + p->offset, p->node->t.numel, p->init, p->fan_in);
            p->node->t.data = e->group_data[g] + p->offset;
            p->node->t.grad = gr ? e->group_grad[g] + p->offset : NULL;
        }
        if (!st) st = eng_check(e, dev_h2d_sync(e, e->group_data[g], host, bytes));
    }
    free(host);
    if (!st) e->params_allocated = 1;
    return st;
}

size_t gh_group_numel(const gh_engine *e, int group) {
    return group >= 0 && group < GH_NUM_GROUPS ? e->group_numel[group] : 0;
}

float *gh_group_data(gh_engine *e, int group) {
    return group_valid(e, "group_data", group) ? e->group_data[group] : NULL;
}

float *gh_group_grad(gh_engine *e, int group) {
    return group_valid(e, "group_grad", group) ? e->group_grad[group] : NULL;
}

int gh_group_zero_grad(gh_engine *e, int group) {
    if (!group_valid(e, "group_zero_grad", group)) return GH_EINVAL;
    if (!e->group_grad[group]) return GH_OK;
    return eng_check(e, dev_zero(e, e->group_grad[group], e->group_numel[group] * sizeof(float)));
}

int gh_params_count(const gh_engine *e) { return e->nparams; }

gh_tensor *gh_param_at(gh_engine *e, int i) {
    if (i < 0 || i >= e->nparams) {
        eng_fail(e, GH_EINVAL, "param_at: index %d of %d parameters", i, e->nparams);
        return NULL;
    }
    return &e->params[i].node->t;
}

int gh_param_group(const gh_engine *e, int i) {
    return i >= 0 && i < e->nparams ? e->params[i].group : -1;
}

float *gh_buffer(gh_engine *e, size_t n) {
    if (e->nbuffers == e->buffers_cap) {
        int cap = e->buffers_cap ? 2 * e->buffers_cap : 16;
        float **b = realloc(e->buffers, (size_t)cap * sizeof *b);
        if (!b) {
            eng_fail(e, GH_ENOMEM, "buffer: table of %d entries", cap);
            return NULL;
        }
        e->buffers = b;
        e->buffers_cap = cap;
    }
    void *p = NULL;
    int st = dev_alloc(e, &p, n * sizeof(float));
    if (!st) st = dev_zero(e, p, n * sizeof(float));
    if (st) {
        dev_free(e, p);
        eng_check(e, st);
        return NULL;
    }
    e->buffers[e->nbuffers++] = p;
    return p;
}
