// engine: the conv2d op (any kernel size, stride, padding, dilation, groups) with its
// backward, its workspace taken from the engine-owned buffer; on CUDA at the engine's
// precision (gh_set_precision: TF32 or BF16 tensor cores, FP32 by default).
#include "engine_internal.h"

// The engine's precision applies on CUDA only (gh_set_precision refuses it elsewhere).
static int conv_prec(const gh_engine *e) {
    return e->precision != GH_PREC_FP32 && e->cfg.backend == GH_BACKEND_CUDA;
}

// KCALL for the _prec_cuda kernels: nothing in a dry pass, the launch in a region's signature
// (and skipped where a graph replays it), the device entered first.
#ifdef GH_HAVE_CUDA
#define KCALL_PREC(e, name, ...)                                                               \
    ((e)->dry ? GH_OK                                                                          \
              : ((e)->region ? graph_launch((e), #name, (const uint64_t[]){SIG_MAP(__VA_ARGS__)}, \
                                            SIG_N(__VA_ARGS__))                                \
                             : (void)0,                                                        \
                 (e)->gskip ? GH_OK                                                            \
                            : eng_check((e), dev_enter(e) ? GH_ECUDA                           \
                                                          : name(&(e)->kc, __VA_ARGS__))))
#else
#define KCALL_PREC(e, name, ...) \
    ((e)->dry ? GH_OK : eng_check((e), name(&(e)->kc, __VA_ARGS__)))
#endif

// Grows the engine workspace to what this backend's conv kernels need for sh.
static int conv_ws(gh_engine *e, const conv2d_shape *sh) {
    size_t floats = 0;
    if (KCALL(e, conv2d_ws, sh, &floats)) return e->status;
    return dev_ws(e, floats);
}

static int conv_bwd(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0], *w = t->in[1], *b = t->in[2];
    float *dx = grad_of(e, "conv2d backward", x);
    float *dw = grad_of(e, "conv2d backward", w);
    float *db = b ? grad_of(e, "conv2d backward", b) : NULL;
    if (e->status) return e->status;
    if (!dx && !dw && !db) return GH_OK;
    if (conv_ws(e, &t->sh.conv)) return e->status;
    if (conv_prec(e))
        return KCALL_PREC(e, conv2d_bwd_prec_cuda, &t->sh.conv, e->precision, x->data, w->data,
                          t->out->grad, dx, dw, db);
    return KCALL(e, conv2d_bwd, &t->sh.conv, x->data, w->data, t->out->grad, dx, dw, db);
}

gh_tensor *gh_conv2d(gh_engine *e, gh_tensor *x, gh_tensor *w, gh_tensor *b, int stride_h,
                     int stride_w, int pad_h, int pad_w, int dil_h, int dil_w, int groups) {
    if (!op_in(e, "conv2d", "x", x) || !op_in(e, "conv2d", "w", w)) return NULL;
    if (b && !op_in(e, "conv2d", "b", b)) return NULL;
    if (x->ndim != 4 || w->ndim != 4) {
        eng_fail(e, GH_EINVAL, "conv2d: x %s and w %s must both be 4-D (NCHW, KCRS)",
                 shp(x).s, shp(w).s);
        return NULL;
    }
    if (groups <= 0 || x->shape[1] % groups || w->shape[0] % groups ||
        w->shape[1] * groups != x->shape[1]) {
        eng_fail(e, GH_EINVAL, "conv2d: x %s and w %s with groups=%d: w needs [k, c/groups, r, "
                 "s] with c and k divisible by groups", shp(x).s, shp(w).s, groups);
        return NULL;
    }
    if (b && (b->numel != (size_t)w->shape[0])) {
        eng_fail(e, GH_EINVAL, "conv2d: bias %s for w %s: expected [%d]", shp(b).s, shp(w).s,
                 w->shape[0]);
        return NULL;
    }
    conv2d_shape sh = {.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                       .k = w->shape[0], .r = w->shape[2], .s = w->shape[3],
                       .stride_h = stride_h, .stride_w = stride_w, .pad_h = pad_h,
                       .pad_w = pad_w, .dil_h = dil_h, .dil_w = dil_w, .groups = groups};
    if (conv2d_shape_init(&sh)) {
        eng_fail(e, GH_EINVAL, "conv2d: x %s, w %s, stride %dx%d, pad %dx%d, dilation %dx%d: %s",
                 shp(x).s, shp(w).s, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
                 gh_error_get());
        return NULL;
    }
    gh_tensor *src[3] = {x, w, b};
    gh_tensor *y = new_tensor(e, "conv2d", 4, (int[]){sh.n, sh.k, sh.p, sh.q}, src, 3);
    if (!y) return NULL;
    if (conv_ws(e, &sh)) return NULL;
    const float *bd = b ? b->data : NULL;
    if (conv_prec(e) ? KCALL_PREC(e, conv2d_fwd_prec_cuda, &sh, e->precision, x->data, w->data,
                                  bd, y->data)
                     : KCALL(e, conv2d_fwd, &sh, x->data, w->data, bd, y->data))
        return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "conv2d", conv_bwd, y);
        if (!t) return NULL;
        t->keep = KEEP_IN(0) | KEEP_IN(1) | KEEP_IN(2);   // what its backward reads
        t->in[0] = x;
        t->in[1] = w;
        t->in[2] = b;
        t->sh.conv = sh;
    }
    return y;
}
