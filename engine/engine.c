// engine: creation and teardown, the sticky status, the activation arena and host scratch,
// the step boundary (arena, tape and dropout seed), tensor creation and host <-> backend
// copies of tensors.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

// Defaults when the config leaves a field zero. 256 MiB holds a batch-128 Fashion-MNIST CNN
// step many times over; DARTS search networks need more and say so in their config. On the
// host the arena is malloc'ed, so untouched pages cost nothing.
#define ARENA_DEFAULT_BYTES ((size_t)256 << 20)
#define ARENA_ALIGN 256   // dev_alloc's alignment; also keeps host tensors on cache lines
#define META_CHUNK_BYTES ((size_t)1 << 20)

int eng_fail(gh_engine *e, int status, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (e && e->status == GH_OK) {
        e->status = status;
        gh_error_set("%s", buf);
    } else if (!e) {
        gh_error_set("%s", buf);
    }
    return status;
}

int eng_check(gh_engine *e, int st) {
    if (st && e->status == GH_OK) e->status = st;  // the kernel set the message itself
    return st;
}

shape_str shp(const gh_tensor *t) {
    shape_str s;
    if (!t) {
        snprintf(s.s, sizeof s.s, "NULL");
        return s;
    }
    size_t o = 0;
    s.s[o++] = '[';
    for (int i = 0; i < t->ndim && o < sizeof s.s - 16; i++)
        o += (size_t)snprintf(s.s + o, sizeof s.s - o, i ? ",%d" : "%d", t->shape[i]);
    snprintf(s.s + o, sizeof s.s - o, "]");
    return s;
}

int same_shape(const gh_tensor *a, const gh_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

// ---- create / destroy ----------------------------------------------------------------------

int gh_engine_create(gh_engine **out, const gh_engine_config *cfg) {
    *out = NULL;
    if (!cfg) return gh_fail(GH_EINVAL, "engine: config is NULL");
    int st = dev_check_backend(cfg);
    if (st) return st;
    gh_engine *e = calloc(1, sizeof *e);
    if (!e) return gh_fail(GH_ENOMEM, "engine: %zu bytes for the engine struct", sizeof *e);
    e->cfg = *cfg;
    if (e->cfg.arena_bytes == 0) e->cfg.arena_bytes = ARENA_DEFAULT_BYTES;
    e->training = 1;
    e->grad_enabled = 1;
    e->kc.deterministic = cfg->deterministic;
    gh_rng_seed(&e->rng_init, cfg->seed, GH_STREAM_INIT);
    gh_rng_seed(&e->rng_dropout, cfg->seed, GH_STREAM_DROPOUT);
    e->dropout_seed = gh_rng_u64(&e->rng_dropout);

    e->arena_cap = (e->cfg.arena_bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p = NULL;
    const char *what = "activation arena";
    st = dev_alloc(e, &p, e->arena_cap);
    e->arena = p;
    if (!st) {
        what = "stream and engine state";
        st = dev_open(e);
    }
    if (!st) st = drop_seed_put(e, 1);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", gh_error_get());
        gh_engine_destroy(e);
        return gh_fail(st, "engine: %s on %s (arena of %zu bytes): %s", what,
                       gh_backend_name(cfg->backend), cfg->arena_bytes, msg);
    }
    *out = e;
    return GH_OK;
}

void gh_engine_destroy(gh_engine *e) {
    if (!e) return;
    dev_free(e, e->arena);
    for (int g = 0; g < GH_NUM_GROUPS; g++) {
        dev_free(e, e->group_data[g]);
        dev_free(e, e->group_grad[g]);
        dev_free(e, e->opt_state[g]);
    }
    for (int i = 0; i < e->nbuffers; i++) dev_free(e, e->buffers[i]);
    free(e->buffers);
    graph_free(e);   // before the workspace and the stream its graphs use
    dev_free(e, e->ws);
    dev_close(e);   // the stream last
    for (int i = 0; i < e->nparams; i++) {
        free((char *)e->params[i].node->t.name);
        free(e->params[i].node);
    }
    free(e->params);
    for (meta_chunk *c = e->meta_head; c;) {
        meta_chunk *n = c->next;
        free(c);
        c = n;
    }
    free(e->tape);
    free(e->arena_free);
    free(e->fplan.op);
    free(e->fplan.numel);
    free(e->fplan.start);
    free(e->fplan.items);
    free(e);
}

int gh_engine_status(const gh_engine *e) { return e ? e->status : GH_EINVAL; }
gh_backend gh_engine_backend(const gh_engine *e) { return e->cfg.backend; }

int gh_set_precision(gh_engine *e, gh_precision p) {
    const char *name = gh_precision_name(p);
    if (!name)
        return gh_fail(GH_EINVAL, "set_precision: precision %d is not fp32, tf32 or bf16", (int)p);
    if (p != GH_PREC_FP32 && e->cfg.backend != GH_BACKEND_CUDA)
        return gh_fail(GH_EUNSUP, "precision %s needs the cuda backend (this engine's is %s, "
                       "which computes fp32 only)", name, gh_backend_name(e->cfg.backend));
    e->precision = p;
    return GH_OK;
}
gh_precision gh_engine_precision(const gh_engine *e) { return e->precision; }
size_t gh_engine_arena_peak(const gh_engine *e) { return e->arena_peak; }
void *gh_engine_stream(gh_engine *e) {
    return e->cfg.backend == GH_BACKEND_CUDA ? e->kc.stream : NULL;
}
uint64_t gh_engine_dropout_seed(const gh_engine *e) { return e->dropout_seed; }

// ---- allocators ----------------------------------------------------------------------------

void *arena_alloc(gh_engine *e, const char *op, size_t bytes) {
    if (e->dry) return e->arena;   // gh_forward_plan: an address, never written
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0) need = ARENA_ALIGN;
    // best fit among the blocks given back (the lowest offset on ties)
    int best = -1;
    for (int i = 0; i < e->arena_nfree; i++)
        if (e->arena_free[i].len >= need && (best < 0 || e->arena_free[i].len < e->arena_free[best].len))
            best = i;
    if (best >= 0) {
        arena_block *b = &e->arena_free[best];
        void *p = e->arena + b->off;
        b->off += need;
        b->len -= need;
        if (b->len == 0) {
            memmove(b, b + 1, (size_t)(e->arena_nfree - best - 1) * sizeof *b);
            e->arena_nfree--;
        }
        return p;
    }
    if (need > e->arena_cap - e->arena_used) {
        eng_fail(e, GH_ENOMEM,
                 "%s: activation arena exhausted: asked %zu bytes, %zu used of capacity %zu "
                 "bytes (raise gh_engine_config.arena_bytes)",
                 op, bytes, e->arena_used, e->arena_cap);
        return NULL;
    }
    void *p = e->arena + e->arena_used;
    e->arena_used += need;
    if (e->arena_used > e->arena_peak) {
        e->arena_peak = e->arena_used;
        // a region that still grows the arena has not reached its steady state
        if (e->region) graph_forbid(e, op, "arena growth past its high-water mark");
    }
    return p;
}

void arena_release(gh_engine *e, void *p, size_t bytes) {
    if (e->dry || !p) return;
    size_t len = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (len == 0) len = ARENA_ALIGN;
    size_t off = (size_t)((unsigned char *)p - e->arena);
    if (e->arena_nfree == e->arena_free_cap) {
        int cap = e->arena_free_cap ? 2 * e->arena_free_cap : 256;
        arena_block *f = realloc(e->arena_free, (size_t)cap * sizeof *f);
        if (!f) return;   // the block stays in use until step_begin: only memory is lost
        e->arena_free = f;
        e->arena_free_cap = cap;
    }
    arena_block *f = e->arena_free;
    int n = e->arena_nfree, i = 0, hi = n;
    while (i < hi) {   // first block above off
        int m = (i + hi) / 2;
        if (f[m].off < off) i = m + 1;
        else hi = m;
    }
    memmove(f + i + 1, f + i, (size_t)(n - i) * sizeof *f);
    f[i] = (arena_block){off, len};
    n++;
    if (i + 1 < n && f[i].off + f[i].len == f[i + 1].off) {   // merge with the next
        f[i].len += f[i + 1].len;
        memmove(f + i + 1, f + i + 2, (size_t)(n - i - 2) * sizeof *f);
        n--;
    }
    if (i > 0 && f[i - 1].off + f[i - 1].len == f[i].off) {    // and with the previous
        f[i - 1].len += f[i].len;
        memmove(f + i, f + i + 1, (size_t)(n - i - 1) * sizeof *f);
        n--;
        i--;
    }
    if (f[n - 1].off + f[n - 1].len == e->arena_used) {       // the top comes down
        e->arena_used = f[n - 1].off;
        n--;
    }
    e->arena_nfree = n;
}

void *meta_alloc(gh_engine *e, size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    meta_chunk *c = e->meta_cur;
    while (c && c->used + bytes > c->cap) {
        c = c->next;
        if (c) c->used = 0;
    }
    if (!c) {
        size_t cap = bytes > META_CHUNK_BYTES ? bytes : META_CHUNK_BYTES;
        c = malloc(sizeof *c + cap);
        if (!c) {
            eng_fail(e, GH_ENOMEM, "engine: host scratch chunk of %zu bytes failed", cap);
            return NULL;
        }
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
        // chunks are kept in allocation order so step_begin can walk them from the head
        if (!e->meta_head) e->meta_head = c;
        else {
            meta_chunk *t = e->meta_head;
            while (t->next) t = t->next;
            t->next = c;
        }
    }
    e->meta_cur = c;
    void *p = c->mem + c->used;
    c->used += bytes;
    return p;
}

// ---- the step boundary -----------------------------------------------------------------------

void gh_step_begin(gh_engine *e) {
    if (e->region) graph_forbid(e, "gh_step_begin", "a step boundary (it waits for uploads)");
    e->arena_used = 0;
    e->arena_nfree = 0;
    e->tape_released = 0;
    e->fplan_follow = 1;
    e->tape_len = 0;
    e->meta_cur = e->meta_head;
    if (e->meta_cur) e->meta_cur->used = 0;
    e->status = GH_OK;
    e->dropout_seed = gh_rng_u64(&e->rng_dropout);
    e->dropout_ops = 0;
    e->step++;
    e->kc.step = e->step;
    if (!eng_check(e, dev_stage_step(e))) eng_check(e, drop_seed_put(e, 0));
}

// The upload is outside every region (step_begin inside one is forbidden), before any launch of
// the step: on CUDA queued on the engine's stream after the previous step's kernels, which read
// the previous seed, and from the staging half, which stays untouched until the copy has run.
int drop_seed_put(gh_engine *e, int sync) {
    void *dst = &e->dstate->drop_seed;
    size_t bytes = sizeof e->dstate->drop_seed;
    return sync ? dev_h2d_sync(e, dst, &e->dropout_seed, bytes)
                : dev_h2d(e, dst, &e->dropout_seed, bytes);
}

void gh_set_training(gh_engine *e, int training) { e->training = training != 0; }
void gh_set_grad_enabled(gh_engine *e, int on) { e->grad_enabled = on != 0; }
int gh_set_group_grad(gh_engine *e, int group, int on) {
    if (group < 0 || group >= GH_NUM_GROUPS)
        return eng_fail(e, GH_EINVAL, "set_group_grad: group %d of %d", group, GH_NUM_GROUPS);
    unsigned bit = 1u << group;
    int was = !(e->grad_off & bit);
    e->grad_off = on ? e->grad_off & ~bit : e->grad_off | bit;
    return was;
}
int gh_set_release(gh_engine *e, int level) {
    int was = e->release;
    e->release = level < 0 ? 0 : level > 2 ? 2 : level;
    return was;
}

int gh_forward_plan(gh_engine *e, gh_loss_fn loss, void *model, const gh_batch *b,
                    const int *labels) {
    if (e->status || e->release < 2 || e->fplan.ready) return e->status;
    // the marks the dry pass returns to: the step so far (inputs, labels) stays
    size_t used = e->arena_used, tape_len = e->tape_len;
    meta_chunk *mc = e->meta_cur;
    size_t mused = mc ? mc->used : 0;
    uint64_t dops = e->dropout_ops;
    e->dry = 1;
    gh_tensor *logits = NULL;
    gh_tensor *l = loss(model, e, b, labels, &logits);
    e->dry = 0;
    int st = l ? e->status : e->status ? e->status : eng_fail(e, GH_EINVAL, "forward plan: no loss");
    if (!st) st = fwd_plan_make(e, l);
    e->arena_used = used;
    e->tape_len = tape_len;
    e->meta_cur = mc;
    if (mc) mc->used = mused;
    e->dropout_ops = dops;
    e->fplan_follow = 1;
    return st;
}

// ---- tensors -------------------------------------------------------------------------------

int op_in(gh_engine *e, const char *op, const char *what, const gh_tensor *t) {
    if (!t) {
        // a NULL input after an earlier failure propagates without a new message
        if (e->status == GH_OK) eng_fail(e, GH_EINVAL, "%s: input %s is NULL", op, what);
        return 0;
    }
    const tnode *n = (const tnode *)t;
    if (n->owner != e)
        return !eng_fail(e, GH_EINVAL, "%s: input %s %s belongs to another engine (%s), "
                         "this one is %s: tensors cannot cross devices", op, what, shp(t).s,
                         n->owner ? gh_backend_name(n->owner->cfg.backend) : "none",
                         gh_backend_name(e->cfg.backend));
    if (!t->data)
        return !eng_fail(e, GH_EINVAL, "%s: input %s %s%s%s has no storage (parameters need "
                         "gh_params_alloc before use)", op, what, t->name ? "'" : "",
                         t->name ? t->name : "", t->name ? "'" : "");
    return 1;
}

gh_tensor *new_tensor(gh_engine *e, const char *op, int ndim, const int *shape,
                      gh_tensor *const *src, int nsrc) {
    if (ndim < 1 || ndim > GH_MAX_DIMS) {
        eng_fail(e, GH_EINVAL, "%s: %d dimensions (1..%d supported)", op, ndim, GH_MAX_DIMS);
        return NULL;
    }
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            eng_fail(e, GH_EINVAL, "%s: output dimension %d is %d", op, i, shape[i]);
            return NULL;
        }
        numel *= (size_t)shape[i];
    }
    tnode *n = meta_alloc(e, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->owner = e;
    n->t.ndim = ndim;
    for (int i = 0; i < ndim; i++) n->t.shape[i] = shape[i];
    n->t.numel = numel;
    n->t.data = arena_alloc(e, op, numel * sizeof(float));
    if (!n->t.data) return NULL;
    int rg = 0;
    if (e->grad_enabled)
        for (int i = 0; i < nsrc; i++)
            if (src[i] && src[i]->requires_grad) rg = 1;
    n->t.requires_grad = rg;
    return &n->t;
}

gh_tensor *gh_input(gh_engine *e, int ndim, const int *shape, const float *host) {
    gh_tensor *t = new_tensor(e, "input", ndim, shape, NULL, 0);
    if (!t) return NULL;
    int st = host ? dev_h2d(e, t->data, host, t->numel * sizeof(float))
                  : dev_zero(e, t->data, t->numel * sizeof(float));
    if (eng_check(e, st)) return NULL;
    return t;
}

const int *gh_labels(gh_engine *e, int n, const int *host) {
    if (n <= 0 || !host) {
        eng_fail(e, GH_EINVAL, "labels: n=%d, host=%p", n, (const void *)host);
        return NULL;
    }
    int *p = arena_alloc(e, "labels", (size_t)n * sizeof(int));
    if (!p) return NULL;
    if (eng_check(e, dev_h2d(e, p, host, (size_t)n * sizeof(int)))) return NULL;
    return p;
}

int gh_tensor_to_host(gh_engine *e, const gh_tensor *t, float *host) {
    if (!op_in(e, "tensor_to_host", "t", t)) return e->status ? e->status : GH_EINVAL;
    return eng_check(e, dev_read(e, host, t->data, t->numel * sizeof(float)));
}

int gh_tensor_from_host(gh_engine *e, gh_tensor *t, const float *host) {
    if (!op_in(e, "tensor_from_host", "t", t)) return e->status ? e->status : GH_EINVAL;
    return eng_check(e, dev_h2d(e, t->data, host, t->numel * sizeof(float)));
}

float gh_scalar(gh_engine *e, const gh_tensor *t) {
    if (!op_in(e, "scalar", "t", t)) return NAN;
    if (t->numel != 1) {
        eng_fail(e, GH_EINVAL, "scalar: tensor %s has %zu elements, expected 1", shp(t).s,
                 t->numel);
        return NAN;
    }
    float v = NAN;
    if (eng_check(e, dev_read(e, &v, t->data, sizeof v))) return NAN;
    // the host has paid for this read: gh_backward refuses a loss it has seen not finite
    if (!isfinite(v)) ((tnode *)t)->host_nonfinite = 1;
    return v;
}

int gh_engine_check_finite(gh_engine *e) { return eng_check(e, dev_read(e, NULL, NULL, 0)); }
