// test_darts_hvp: DARTS's second-order architecture gradient (eq. 7-8) on a tiny supernet,
// checked from first principles, in two parts.
// 1. The formula: with DARTS's eps = 0.01/||v||, the test recomputes eq. 7-8 itself: w' on the
//    host from the SGD update's definition (momentum buffer and weight decay), dalpha and v by
//    plain backward passes, the HVP by its own central difference at w +- eps v. Agreement to
//    float rounding is required.
// 2. The approximation: with a much smaller eps (fd_r = 1e-4, inside the region where the
//    float32 gradient is smooth in w, which the test measures), the implementation's HVP must
//    match an independent computation of the mixed second derivative: by the symmetry of mixed
//    partials, (d/dw grad_alpha L) v = grad_alpha (v . grad_w L), differenced coordinate by
//    coordinate along alpha instead of along w.
// Also: first order = grad_alpha L_val at w; weights and BN statistics are left untouched.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "search/nas/nas.h"

enum { B = 6, CLASSES = 3, HW = 8 };

static float xt[B * HW * HW], xv[B * HW * HW];
static int yt[B], yv[B];

static void pass(gh_engine *e, darts_supernet *n, const float *x, const int *y) {
    gh_step_begin(e);
    int shape[4] = {B, 1, HW, HW};
    gh_tensor *l = gh_xent(e, darts_supernet_forward(n, gh_input(e, 4, shape, x)),
                           gh_labels(e, B, y), 0.0f, NULL);
    CHECK_OK(gh_group_zero_grad(e, GH_GROUP_WEIGHTS));
    CHECK_OK(gh_group_zero_grad(e, GH_GROUP_ARCH));
    CHECK_OK(gh_backward(e, l));
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

int main(void) {
    gh_rng r;
    gh_rng_seed(&r, 7, 1);
    for (int i = 0; i < B * HW * HW; i++) {
        xt[i] = (float)gh_rng_normal(&r);
        xv[i] = (float)gh_rng_normal(&r);
    }
    for (int i = 0; i < B; i++) {
        yt[i] = (int)gh_rng_below(&r, CLASSES);
        yv[i] = (int)gh_rng_below(&r, CLASSES);
    }
    gh_engine *e;
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = (size_t)256 << 20, .seed = 3};
    CHECK_OK(gh_engine_create(&e, &ec));
    darts_net_config nc = darts_search_net_defaults();
    nc.in_c = 1;
    nc.in_h = nc.in_w = HW;
    nc.classes = CLASSES;
    nc.layers = 3;
    nc.c = 4;
    nc.steps = 2;
    nc.multiplier = 2;
    darts_supernet *net;
    CHECK_OK(darts_supernet_build(&net, e, &nc));
    CHECK_OK(gh_params_alloc(e));
    // alphas away from uniform so that the mixed ops' weights differ
    float *A = gh_group_data(e, GH_GROUP_ARCH);
    size_t na = gh_group_numel(e, GH_GROUP_ARCH), nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
    for (size_t i = 0; i < na; i++) A[i] = (float)(0.5 * gh_rng_normal(&r));
    const double xi = 0.1, momentum = 0.9, wd = 3e-4;
    darts_step_opts o = {.order = 2, .momentum = momentum, .wd = wd, .grad_clip = 5,
                         .arch_lr = 3e-4, .arch_beta1 = 0.5, .arch_beta2 = 0.999, .arch_wd = 1e-3};
    darts_search *s;
    CHECK_OK(darts_search_create(&s, e, net, &o));
    // two full steps first, so that the SGD momentum buffer takes part in w'
    gh_batch bt = {.x = xt, .y = yt, .ndim = 4, .shape = {B, 1, HW, HW}}, bv = bt;
    bv.x = xv;
    bv.y = yv;
    for (int k = 0; k < 2; k++) CHECK_OK(darts_search_step(s, &bt, &bv, xi));
    const float *mom = gh_group_momentum(e, GH_GROUP_WEIGHTS);
    CHECK(mom != NULL);
    if (!mom) return check_done("test_darts_hvp");

    float *W = gh_group_data(e, GH_GROUP_WEIGHTS), *GW = gh_group_grad(e, GH_GROUP_WEIGHTS);
    float *GA = gh_group_grad(e, GH_GROUP_ARCH), *Bf = gh_group_data(e, GH_GROUP_BUFFERS);
    size_t nb = gh_group_numel(e, GH_GROUP_BUFFERS);
    float *w0 = malloc(nw * 4), *b0 = malloc(nb * 4), *got = malloc(na * 4), *want = malloc(na * 4);
    float *v = malloc(nw * 4), *dalpha = malloc(na * 4), *gp = malloc(na * 4);
    memcpy(w0, W, nw * 4);

    // ---- the test's own w', dalpha = grad_a L_val(w'), v = grad_w' L_val(w') ----
    pass(e, net, xt, yt);
    // in float, in the implementation's order (scale by 1 - xi wd, then the gradient, then the
    // momentum term), so that w' agrees bit for bit: the HVP below divides by 2 eps
    const float decay = (float)(1.0 - xi * wd), mxi = (float)-xi, mmom = (float)(-xi * momentum);
    for (size_t i = 0; i < nw; i++) {
        float w = w0[i] * decay;
        w += mxi * GW[i];
        W[i] = w + mmom * mom[i];
    }
    pass(e, net, xv, yv);
    memcpy(dalpha, GA, na * 4);
    memcpy(v, GW, nw * 4);
    memcpy(W, w0, nw * 4);
    double vn = sqrt(dot(v, v, nw)), gmax = maxabs(dalpha, na);

    // ---- part 1: DARTS's eps = 0.01/||v||, eq. 8 recomputed by the test ----
    memcpy(b0, Bf, nb * 4);
    CHECK_OK(darts_arch_grad(s, &bt, &bv, xi));
    memcpy(got, GA, na * 4);
    CHECK(memcmp(W, w0, nw * 4) == 0);   // weights restored bit for bit
    CHECK(memcmp(Bf, b0, nb * 4) == 0);  // BN running statistics untouched
    // w +- eps v rounded as the implementation rounds it (float axpy): eq. 8 divides by 2 eps,
    // so a last-bit difference in w+- would be amplified ~1/eps times
    double R = 0.01 / vn;
    const float Rf = (float)R;
    for (size_t i = 0; i < nw; i++) W[i] = w0[i] + Rf * v[i];
    pass(e, net, xt, yt);
    memcpy(gp, GA, na * 4);
    for (size_t i = 0; i < nw; i++) W[i] = w0[i] + -Rf * v[i];
    pass(e, net, xt, yt);
    memcpy(W, w0, nw * 4);
    for (size_t i = 0; i < na; i++) want[i] = (float)(dalpha[i] - xi * (gp[i] - GA[i]) / (2 * R));
    CHECK_CLOSE("eq. 7-8 at eps = 0.01/||v|| vs recomputed", got, want, na, 1e-6 * gmax, 1e-4);

    // ---- part 2: smooth regime, mixed partials differenced along alpha ----
    // grad_alpha L_train must change linearly with the step along v up to 1e-4 (else kinks of
    // ReLU/max-pool are crossed and no finite difference is a derivative)
    pass(e, net, xt, yt);
    memcpy(gp, GA, na * 4);
    double slope[2];
    for (int k = 0; k < 2; k++) {
        double t = k ? 1e-4 : 1e-5;
        for (size_t i = 0; i < nw; i++) W[i] = (float)(w0[i] + t / vn * v[i]);
        pass(e, net, xt, yt);
        double d = 0;
        for (size_t i = 0; i < na; i++) d = fmax(d, fabs(GA[i] - gp[i]));
        slope[k] = d / t;
    }
    memcpy(W, w0, nw * 4);
    printf("grad_alpha change per unit step along v: %.4g (1e-5), %.4g (1e-4)\n", slope[0], slope[1]);
    CHECK_MSG(fabs(slope[1] - slope[0]) < 0.2 * slope[1], "not smooth at 1e-4: the test's premise");

    darts_search *s2;
    o.fd_r = 1e-4;
    CHECK_OK(darts_search_create(&s2, e, net, &o));
    CHECK_OK(darts_arch_grad(s2, &bt, &bv, xi));
    memcpy(got, GA, na * 4);
    const double h = 1e-4;  // smooth along alpha too (1e-3 crosses kinks for a few coordinates)
    double term = 0;
    for (int p = 0; p < gh_params_count(e); p++) {
        if (gh_param_group(e, p) != GH_GROUP_ARCH) continue;
        gh_tensor *t = gh_param_at(e, p);
        for (size_t k = 0; k < t->numel; k++) {
            size_t i = (size_t)(t->data + k - A);
            float a0 = A[i];
            A[i] = (float)(a0 + h);
            pass(e, net, xt, yt);
            double fp = dot(v, GW, nw);
            A[i] = (float)(a0 - h);
            pass(e, net, xt, yt);
            double fm = dot(v, GW, nw);
            A[i] = a0;
            double hv = (fp - fm) / (2 * h);
            want[i] = (float)(dalpha[i] - xi * hv);
            term = fmax(term, fabs(xi * hv));
        }
    }
    // alignment padding of the flat group is not a parameter
    for (size_t i = 0; i < na; i++) {
        int used = 0;
        for (int p = 0; p < gh_params_count(e); p++) {
            gh_tensor *t = gh_param_at(e, p);
            size_t off = (size_t)(t->data - A);
            if (gh_param_group(e, p) == GH_GROUP_ARCH && off <= i && i < off + t->numel) used = 1;
        }
        if (!used) got[i] = want[i] = 0.0f;
    }
    printf("largest second-order term xi*Hv %.3g, largest first-order term %.3g\n", term, gmax);
    CHECK(term > 0.1 * gmax);  // the correction is big enough for the comparison to see it
    CHECK_CLOSE("FD HVP (w +- eps v) vs mixed partials (alpha)", got, want, na, 5e-3 * gmax, 1e-2);
    double diff = 0;
    for (size_t i = 0; i < na; i++) diff = fmax(diff, fabs(got[i] - dalpha[i]));
    CHECK(diff > 0.1 * gmax);  // and it differs from the first-order-at-w' term

    // ---- first order: grad_alpha L_val(w, alpha) ----
    darts_search *s1;
    o.order = 1;
    CHECK_OK(darts_search_create(&s1, e, net, &o));
    CHECK_OK(darts_arch_grad(s1, &bt, &bv, xi));
    memcpy(got, GA, na * 4);
    pass(e, net, xv, yv);
    CHECK_CLOSE("first-order arch grad vs direct", got, GA, na, 1e-7, 1e-6);

    darts_search_free(s);
    darts_search_free(s1);
    darts_search_free(s2);
    darts_supernet_free(net);
    gh_engine_destroy(e);
    free(w0); free(b0); free(got); free(want); free(v); free(dalpha); free(gp);
    return check_done("test_darts_hvp");
}
