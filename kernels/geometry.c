// kernels: the geometry every backend shares: conv2d and pooling output sizes with PyTorch's
// rules, the validation of a shape, and the check that a shape a caller hands to a kernel is
// the one its init function produced (cpu/, cuda/ and cudnn/ call these, never their own).
#include <stdio.h>

#include "kernels.h"

int conv2d_shape_init(conv2d_shape *sh) {
    if (!sh) return gh_fail(GH_EINVAL, "conv2d_shape_init: shape is NULL");
    if (sh->stride_h == 0) sh->stride_h = 1;
    if (sh->stride_w == 0) sh->stride_w = 1;
    if (sh->dil_h == 0) sh->dil_h = 1;
    if (sh->dil_w == 0) sh->dil_w = 1;
    if (sh->groups == 0) sh->groups = 1;
    if (sh->n <= 0 || sh->c <= 0 || sh->h <= 0 || sh->w <= 0 || sh->k <= 0 || sh->r <= 0 ||
        sh->s <= 0 || sh->stride_h < 0 || sh->stride_w < 0 || sh->dil_h < 0 || sh->dil_w < 0 ||
        sh->pad_h < 0 || sh->pad_w < 0 || sh->groups < 0)
        return gh_fail(GH_EINVAL,
                       "conv2d: every size must be positive and pads >= 0: x [%d,%d,%d,%d] "
                       "k %d filter %dx%d groups %d stride %dx%d pad %dx%d dil %dx%d",
                       sh->n, sh->c, sh->h, sh->w, sh->k, sh->r, sh->s, sh->groups,
                       sh->stride_h, sh->stride_w, sh->pad_h, sh->pad_w, sh->dil_h, sh->dil_w);
    if (sh->c % sh->groups || sh->k % sh->groups)
        return gh_fail(GH_EINVAL, "conv2d: channels in %d and out %d must both divide by groups %d",
                       sh->c, sh->k, sh->groups);
    // PyTorch's output size: floor((h + 2 pad - dil (r - 1) - 1) / stride) + 1
    long eh = (long)sh->h + 2L * sh->pad_h - (long)sh->dil_h * (sh->r - 1) - 1;
    long ew = (long)sh->w + 2L * sh->pad_w - (long)sh->dil_w * (sh->s - 1) - 1;
    if (eh < 0 || ew < 0)
        return gh_fail(GH_EINVAL,
                       "conv2d: filter %dx%d (dilation %dx%d) larger than padded input %dx%d "
                       "(pad %dx%d): empty output",
                       sh->r, sh->s, sh->dil_h, sh->dil_w, sh->h + 2 * sh->pad_h,
                       sh->w + 2 * sh->pad_w, sh->pad_h, sh->pad_w);
    sh->p = (int)(eh / sh->stride_h) + 1;
    sh->q = (int)(ew / sh->stride_w) + 1;
    return GH_OK;
}

int conv2d_shape_check(const char *op, const conv2d_shape *in, conv2d_shape *out) {
    if (!in) return gh_fail(GH_EINVAL, "%s: shape is NULL", op);
    *out = *in;
    if (conv2d_shape_init(out)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", gh_error_get());
        return gh_fail(GH_EINVAL, "%s: %s", op, msg);
    }
    if (in->p != out->p || in->q != out->q)
        return gh_fail(GH_EINVAL,
                       "%s: output size %dx%d in the shape but the geometry gives %dx%d "
                       "(call conv2d_shape_init)", op, in->p, in->q, out->p, out->q);
    return GH_OK;
}

int pool_shape_init(pool_shape *sh) {
    if (!sh) return gh_fail(GH_EINVAL, "pool_shape_init: shape is NULL");
    if (sh->n <= 0 || sh->c <= 0 || sh->h <= 0 || sh->w <= 0 || sh->kh <= 0 || sh->kw <= 0 ||
        sh->stride <= 0 || sh->pad < 0)
        return gh_fail(GH_EINVAL,
                       "pool: x [%d,%d,%d,%d] window %dx%d stride %d pad %d: sizes and stride "
                       "must be positive, pad >= 0",
                       sh->n, sh->c, sh->h, sh->w, sh->kh, sh->kw, sh->stride, sh->pad);
    // PyTorch's rules: padding at most half the window (so every window holds an input
    // element and max pooling never returns the padding), floor output size
    if (2 * sh->pad > sh->kh || 2 * sh->pad > sh->kw)
        return gh_fail(GH_EINVAL, "pool: pad %d must be at most half the window %dx%d", sh->pad,
                       sh->kh, sh->kw);
    if (sh->h + 2 * sh->pad < sh->kh || sh->w + 2 * sh->pad < sh->kw)
        return gh_fail(GH_EINVAL, "pool: window %dx%d larger than padded input %dx%d", sh->kh,
                       sh->kw, sh->h + 2 * sh->pad, sh->w + 2 * sh->pad);
    sh->p = (sh->h + 2 * sh->pad - sh->kh) / sh->stride + 1;
    sh->q = (sh->w + 2 * sh->pad - sh->kw) / sh->stride + 1;
    return GH_OK;
}

int pool_shape_check(const char *op, const pool_shape *in, pool_shape *out) {
    if (!in) return gh_fail(GH_EINVAL, "%s: shape is NULL", op);
    *out = *in;
    if (pool_shape_init(out)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", gh_error_get());
        return gh_fail(GH_EINVAL, "%s: %s", op, msg);
    }
    if (in->p != out->p || in->q != out->q)
        return gh_fail(GH_EINVAL, "%s: output size %dx%d in the shape but the geometry gives "
                       "%dx%d (call pool_shape_init)", op, in->p, in->q, out->p, out->q);
    return GH_OK;
}
