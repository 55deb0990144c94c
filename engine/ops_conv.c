// engine: the conv2d op (any kernel size, stride, padding, dilation, groups) with its
// backward, its workspace taken from the engine-owned buffer; on CUDA at the engine's
// precision (gh_set_precision: TF32 or BF16 tensor cores, FP32 by default). And the conv of
// relu(x) (gh_conv2d_relu), fused in the kernels where the backend has them.
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

// The conv at the engine's precision (FP32 kernels outside CUDA).
static int conv_run_fwd(gh_engine *e, const conv2d_shape *sh, const float *x, const float *w,
                        const float *b, float *y) {
    if (conv_prec(e))
        return KCALL_PREC(e, conv2d_fwd_prec_cuda, sh, e->precision, x, w, b, y);
    return KCALL(e, conv2d_fwd, sh, x, w, b, y);
}

static int conv_run_bwd(gh_engine *e, const conv2d_shape *sh, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db) {
    if (conv_prec(e))
        return KCALL_PREC(e, conv2d_bwd_prec_cuda, sh, e->precision, x, w, dy, dx, dw, db);
    return KCALL(e, conv2d_bwd, sh, x, w, dy, dx, dw, db);
}

static int conv_bwd(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0], *w = t->in[1], *b = t->in[2];
    float *dx = grad_of(e, "conv2d backward", x);
    float *dw = grad_of(e, "conv2d backward", w);
    float *db = b ? grad_of(e, "conv2d backward", b) : NULL;
    if (e->status) return e->status;
    if (!dx && !dw && !db) return GH_OK;
    if (conv_ws(e, &t->sh.conv)) return e->status;
    return conv_run_bwd(e, &t->sh.conv, x->data, w->data, t->out->grad, dx, dw, db);
}

// Checks the operands of a conv named op and fills *sh (p and q set); 0, or the status.
static int conv_shape_of(gh_engine *e, const char *op, gh_tensor *x, gh_tensor *w, gh_tensor *b,
                         int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w,
                         int groups, conv2d_shape *out) {
    if (!op_in(e, op, "x", x) || !op_in(e, op, "w", w)) return e->status ? e->status : GH_EINVAL;
    if (b && !op_in(e, op, "b", b)) return e->status ? e->status : GH_EINVAL;
    if (x->ndim != 4 || w->ndim != 4)
        return eng_fail(e, GH_EINVAL, "%s: x %s and w %s must both be 4-D (NCHW, KCRS)", op,
                        shp(x).s, shp(w).s);
    if (groups <= 0 || x->shape[1] % groups || w->shape[0] % groups ||
        w->shape[1] * groups != x->shape[1])
        return eng_fail(e, GH_EINVAL, "%s: x %s and w %s with groups=%d: w needs [k, c/groups, "
                        "r, s] with c and k divisible by groups", op, shp(x).s, shp(w).s, groups);
    if (b && (b->numel != (size_t)w->shape[0]))
        return eng_fail(e, GH_EINVAL, "%s: bias %s for w %s: expected [%d]", op, shp(b).s,
                        shp(w).s, w->shape[0]);
    conv2d_shape sh = {.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                       .k = w->shape[0], .r = w->shape[2], .s = w->shape[3],
                       .stride_h = stride_h, .stride_w = stride_w, .pad_h = pad_h,
                       .pad_w = pad_w, .dil_h = dil_h, .dil_w = dil_w, .groups = groups};
    if (conv2d_shape_init(&sh))
        return eng_fail(e, GH_EINVAL, "%s: x %s, w %s, stride %dx%d, pad %dx%d, dilation %dx%d: "
                        "%s", op, shp(x).s, shp(w).s, stride_h, stride_w, pad_h, pad_w, dil_h,
                        dil_w, gh_error_get());
    *out = sh;
    return GH_OK;
}

gh_tensor *gh_conv2d(gh_engine *e, gh_tensor *x, gh_tensor *w, gh_tensor *b, int stride_h,
                     int stride_w, int pad_h, int pad_w, int dil_h, int dil_w, int groups) {
    conv2d_shape sh;
    if (conv_shape_of(e, "conv2d", x, w, b, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
                      groups, &sh))
        return NULL;
    gh_tensor *src[3] = {x, w, b};
    gh_tensor *y = new_tensor(e, "conv2d", 4, (int[]){sh.n, sh.k, sh.p, sh.q}, src, 3);
    if (!y) return NULL;
    if (conv_ws(e, &sh)) return NULL;
    if (conv_run_fwd(e, &sh, x->data, w->data, b ? b->data : NULL, y->data)) return NULL;
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

// ---- conv2d of relu(x) -----------------------------------------------------------------------
// Where the backend fuses the shape (conv2d_relu_ok) one kernel call each way; elsewhere relu(x)
// goes to arena scratch around the plain conv and is given back at once: the forward's copy
// before the op returns, the backward's (recomputed only when dW is wanted) with the zeroed
// buffer the conv's dx goes to before relu_bwd masks it from x. Either way the results are
// those of gh_relu then gh_conv2d bit for bit, and the tape keeps x instead of relu(x).

// 1 when the backend runs this shape fused, 0 when not, -1 with the status set.
static int conv_relu_fused(gh_engine *e, const conv2d_shape *sh) {
    int fused = 0;
    if (eng_check(e, K(e, conv2d_relu_ok, sh, &fused))) return -1;
    return fused;
}

static int conv_relu_bwd(gh_engine *e, const tape_entry *t) {
    static const char op[] = "conv2d_relu backward";
    gh_tensor *x = t->in[0], *w = t->in[1], *b = t->in[2];
    const conv2d_shape *sh = &t->sh.conv;
    float *dx = grad_of(e, op, x);
    float *dw = grad_of(e, op, w);
    float *db = b ? grad_of(e, op, b) : NULL;
    if (e->status) return e->status;
    if (!dx && !dw && !db) return GH_OK;
    if (conv_ws(e, sh)) return e->status;
    int fused = conv_relu_fused(e, sh);
    if (fused < 0) return e->status;
    if (fused)
        return KCALL(e, conv2d_relu_bwd, sh, x->data, w->data, t->out->grad, dx, dw, db);
    size_t bytes = x->numel * sizeof(float);
    float *r = dw ? arena_alloc(e, op, bytes) : NULL;          // relu(x), for dW
    float *g = dx && !e->status ? arena_alloc(e, op, bytes) : NULL;   // d conv / d relu(x)
    // each step runs only while the status is clean (KCALL records failures)
    if (!e->status && g) eng_check(e, dev_zero(e, g, bytes));
    if (!e->status && r) KCALL(e, relu_fwd, x->numel, x->data, r);
    if (!e->status) conv_run_bwd(e, sh, r, w->data, t->out->grad, g, dw, db);
    if (!e->status && g) KCALL(e, relu_bwd, x->numel, x->data, g, dx);   // x > 0 iff relu(x) > 0
    if (g) arena_release(e, g, bytes);
    if (r) arena_release(e, r, bytes);
    return e->status;
}

gh_tensor *gh_conv2d_relu(gh_engine *e, gh_tensor *x, gh_tensor *w, gh_tensor *b, int stride_h,
                          int stride_w, int pad_h, int pad_w, int dil_h, int dil_w, int groups) {
    static const char op[] = "conv2d_relu";
    conv2d_shape sh;
    if (conv_shape_of(e, op, x, w, b, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups,
                      &sh))
        return NULL;
    int fused = conv_relu_fused(e, &sh);
    if (fused < 0) return NULL;
    gh_tensor *src[3] = {x, w, b};
    gh_tensor *y = new_tensor(e, op, 4, (int[]){sh.n, sh.k, sh.p, sh.q}, src, 3);
    if (!y) return NULL;
    if (conv_ws(e, &sh)) return NULL;
    const float *bd = b ? b->data : NULL;
    if (fused) {
        if (KCALL(e, conv2d_relu_fwd, &sh, x->data, w->data, bd, y->data)) return NULL;
    } else {
        size_t bytes = x->numel * sizeof(float);
        float *r = arena_alloc(e, op, bytes);
        if (!r) return NULL;
        if (!KCALL(e, relu_fwd, x->numel, x->data, r))
            conv_run_fwd(e, &sh, r, w->data, bd, y->data);
        arena_release(e, r, bytes);
        if (e->status) return NULL;
    }
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, op, conv_relu_bwd, y);
        if (!t) return NULL;
        t->keep = KEEP_IN(0) | KEEP_IN(1) | KEEP_IN(2);   // x, not relu(x)
        t->in[0] = x;
        t->in[1] = w;
        t->in[2] = b;
        t->sh.conv = sh;
    }
    return y;
}
