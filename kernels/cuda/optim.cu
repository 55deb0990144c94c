// kernels/cuda: optimizer updates with PyTorch's semantics (torch.optim.SGD with momentum and
// dampening 0, torch.optim.Adam with L2 weight decay added to the gradient), one pass each.
#include <math.h>

#include "elementwise.cuh"

namespace {

// g' = g + wd*p; mom = momentum*mom + g'; p -= lr*mom (momentum 0: no buffer, p -= lr*g')
struct sgd_op {
    float *p;
    const float *g;
    float *mom;
    float lr, momentum, wd;
    __device__ void one(size_t i) const {
        float gi = g[i] + wd * p[i];
        if (mom && momentum != 0.0f) {
            float m = momentum * mom[i] + gi;
            mom[i] = m;
            gi = m;
        }
        p[i] -= lr * gi;
    }
    __device__ void quad(size_t i) const {
        for (int e = 0; e < 4; e++) one(4 * i + e);
    }
};

// m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)   (torch.optim.Adam)
struct adam_op {
    float *p;
    const float *g;
    float *m, *v;
    float beta1, beta2, eps, wd, step_size, sqrt_bc2;
    __device__ void one(size_t i) const {
        float gi = g[i] + wd * p[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / sqrt_bc2 + eps;
        p[i] -= step_size * (mi / denom);
    }
    __device__ void quad(size_t i) const {
        for (int e = 0; e < 4; e++) one(4 * i + e);
    }
};

}  // namespace

extern "C" {

int sgd_step_cuda(const kctx *ctx, size_t n, float *p, const float *g, float *mom, float lr,
                  float momentum, float wd) {
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("sgd_step_cuda", p);
    GH_CUDA_NEED("sgd_step_cuda", g);
    if (!mom && momentum != 0.0f)
        return gh_fail(GH_EINVAL, "sgd_step_cuda: momentum %g needs a momentum buffer (mom is NULL)",
                       (double)momentum);
    return gh_ew_launch("sgd_step", ctx, n, 0, sgd_op{p, g, mom, lr, momentum, wd});
}

int adam_step_cuda(const kctx *ctx, size_t n, float *p, const float *g, float *m, float *v,
                   float lr, float beta1, float beta2, float eps, float wd, int t) {
    if (t < 1) return gh_fail(GH_EINVAL, "adam_step_cuda: step t=%d must be >= 1", t);
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("adam_step_cuda", p);
    GH_CUDA_NEED("adam_step_cuda", g);
    GH_CUDA_NEED("adam_step_cuda", m);
    GH_CUDA_NEED("adam_step_cuda", v);
    // bias corrections on the host in double, as torch computes them in Python floats
    double bc1 = 1.0 - pow((double)beta1, (double)t);
    double bc2 = 1.0 - pow((double)beta2, (double)t);
    float step_size = (float)(lr / bc1);
    float sqrt_bc2 = (float)sqrt(bc2);
    return gh_ew_launch("adam_step", ctx, n, 0,
                        adam_op{p, g, m, v, beta1, beta2, eps, wd, step_size, sqrt_bc2});
}

}  // extern "C"
