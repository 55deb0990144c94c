// tests/engine: the precision setting (issue 15). gh_precision_parse / gh_precision_name agree
// on every name and refuse others; gh_set_precision accepts fp32 everywhere and refuses tf32 and
// bf16 on the ref and cpu backends (GH_EUNSUP, naming the precision and the backend) leaving
// the engine at fp32 with no sticky error: a conv then runs and gives the fp32 result it gave
// before. On a CUDA build with a GPU, a cuda engine takes every precision and its conv's
// forward and backward at tf32 and bf16 land within the kernels' tolerances of fp32.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "engine/engine.h"

static void names(void) {
    for (int i = 0; i < GH_PREC_COUNT; i++) {
        const char *n = gh_precision_name((gh_precision)i);
        gh_precision p = GH_PREC_COUNT;
        CHECK(n != NULL);
        CHECK_OK(gh_precision_parse(n, &p));
        CHECK_MSG(p == (gh_precision)i, "%s parsed as %d, want %d", n, (int)p, i);
    }
    CHECK(!strcmp(gh_precision_name(GH_PREC_FP32), "fp32"));
    CHECK(!strcmp(gh_precision_name(GH_PREC_TF32), "tf32"));
    CHECK(!strcmp(gh_precision_name(GH_PREC_BF16), "bf16"));
    CHECK(gh_precision_name((gh_precision)GH_PREC_COUNT) == NULL);
    CHECK(gh_precision_name((gh_precision)-1) == NULL);
    const char *bad[] = {"", "FP32", "fp16", "tf32 ", "bf", NULL};
    for (int i = 0; i < 6; i++) {
        gh_precision p = GH_PREC_TF32;
        CHECK_MSG(gh_precision_parse(bad[i], &p) == GH_EINVAL, "'%s' accepted",
                  bad[i] ? bad[i] : "(null)");
        CHECK_MSG(p == GH_PREC_TF32, "'%s' changed the output", bad[i] ? bad[i] : "(null)");
        CHECK(strstr(gh_error_get(), "expected fp32, tf32 or bf16") != NULL);
    }
}

// One 3x3 conv of a fixed input on e: y to the host.
static int conv_once(gh_engine *e, gh_tensor *w, float *y, size_t ny) {
    float x[2 * 3 * 5 * 5];
    for (int i = 0; i < 2 * 3 * 5 * 5; i++) x[i] = (float)(i % 7) - 3.0f;
    gh_step_begin(e);
    gh_tensor *xt = gh_input(e, 4, (int[]){2, 3, 5, 5}, x);
    gh_tensor *yt = xt ? gh_conv2d(e, xt, w, NULL, 1, 1, 1, 1, 1, 1, 1) : NULL;
    if (!yt) return gh_engine_status(e);
    if (yt->numel != ny) return GH_EINVAL;
    return gh_engine_status(e) ? gh_engine_status(e) : gh_tensor_to_host(e, yt, y);
}

static void refusal(gh_backend b) {
    const char *bn = gh_backend_name(b);
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = b, .arena_bytes = 1 << 20, .seed = 5};
    CHECK_OK(gh_engine_create(&e, &cfg));
    if (!e) return;
    gh_tensor *w = gh_param(e, GH_GROUP_WEIGHTS, "w", 4, (int[]){4, 3, 3, 3},
                            GH_INIT_KAIMING_UNIFORM, 27);
    CHECK_OK(gh_params_alloc(e));
    float y0[2 * 4 * 5 * 5], y1[2 * 4 * 5 * 5];
    CHECK_OK(conv_once(e, w, y0, 200));
    CHECK(gh_engine_precision(e) == GH_PREC_FP32);   // the default
    CHECK_OK(gh_set_precision(e, GH_PREC_FP32));
    for (int p = GH_PREC_TF32; p <= GH_PREC_BF16; p++) {
        const char *pn = gh_precision_name((gh_precision)p);
        int st = gh_set_precision(e, (gh_precision)p);
        CHECK_MSG(st == GH_EUNSUP, "%s on %s: status %d, want GH_EUNSUP", pn, bn, st);
        CHECK_MSG(strstr(gh_error_get(), pn) && strstr(gh_error_get(), bn) &&
                  strstr(gh_error_get(), "cuda"), "%s on %s: message '%s'", pn, bn,
                  gh_error_get());
        CHECK(gh_engine_precision(e) == GH_PREC_FP32);
        CHECK(gh_engine_status(e) == GH_OK);
    }
    CHECK(gh_set_precision(e, (gh_precision)7) == GH_EINVAL);
    CHECK(gh_engine_precision(e) == GH_PREC_FP32);
    CHECK_OK(conv_once(e, w, y1, 200));
    CHECK_MSG(!memcmp(y0, y1, sizeof y0), "%s: the conv changed after the refusals", bn);
    gh_engine_destroy(e);
}

// One step of conv(x, w) -> global average pool -> cross-entropy at precision p on a cuda
// engine: y, w's and x's gradients to the host.
static int cuda_pass(gh_precision p, float *y, float *gw, float *gx) {
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = GH_BACKEND_CUDA, .arena_bytes = 16 << 20, .seed = 5};
    int st = gh_engine_create(&e, &cfg);
    if (st) return st;
    gh_tensor *w = gh_param(e, GH_GROUP_WEIGHTS, "w", 4, (int[]){8, 4, 3, 3},
                            GH_INIT_KAIMING_UNIFORM, 36);
    float x[4 * 4 * 9 * 9];
    for (int i = 0; i < 4 * 4 * 9 * 9; i++) x[i] = sinf(0.37f * (float)i) + 0.25f;
    const int labels[4] = {1, 5, 2, 7};
    if (!(st = gh_params_alloc(e)) && !(st = gh_set_precision(e, p))) {
        gh_step_begin(e);
        gh_set_training(e, 1);
        st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
        gh_tensor *xt = st ? NULL : gh_input(e, 4, (int[]){4, 4, 9, 9}, x);
        if (xt) xt->requires_grad = 1;
        gh_tensor *yt = xt ? gh_conv2d(e, xt, w, NULL, 1, 1, 1, 1, 1, 1, 1) : NULL;
        gh_tensor *g = yt ? gh_global_avgpool(e, yt) : NULL;
        const int *lab = g ? gh_labels(e, 4, labels) : NULL;
        gh_tensor *loss = lab ? gh_xent(e, g, lab, 0.0f, NULL) : NULL;
        if (loss) st = gh_backward(e, loss);
        if (!st && loss) {   // the gradients through arena tensors (backend memory)
            gh_tensor *gwt = gh_input(e, 1, (int[]){(int)w->numel}, NULL);
            gh_tensor *gxt = gh_input(e, 1, (int[]){(int)xt->numel}, NULL);
            st = gwt && gxt ? gh_tensor_to_host(e, yt, y) : gh_engine_status(e);
            if (!st) st = gh_vec_copy(e, w->numel, w->grad, gwt->data);
            if (!st) st = gh_vec_copy(e, xt->numel, xt->grad, gxt->data);
            if (!st) st = gh_tensor_to_host(e, gwt, gw);
            if (!st) st = gh_tensor_to_host(e, gxt, gx);
        }
        if (!st) st = gh_engine_status(e);
    }
    gh_engine_destroy(e);
    return st;
}

static double rms(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s / (double)n);
}

// On a GPU: the engine accepts every precision on cuda, and its convs run them forward and
// backward: results within the kernels' tolerances of the fp32 engine's (tests/cuda:
// TF32 5e-3, BF16 2e-2 of rms + |ref|) and different from them somewhere.
static void cuda_precisions(void) {
    if (!gh_cuda_built() || gh_cuda_device_count() < 1) {
        printf("cuda engine: SKIPPED (no CUDA build or no GPU)\n");
        return;
    }
    enum { NY = 4 * 8 * 9 * 9, NW = 8 * 4 * 9, NX = 4 * 4 * 9 * 9 };
    static float out[GH_PREC_COUNT][3][NY];
    const size_t n[3] = {NY, NW, NX};
    static const char *part[3] = {"y", "dw", "dx"};
    for (int p = 0; p < GH_PREC_COUNT; p++)
        CHECK_OK(cuda_pass((gh_precision)p, out[p][0], out[p][1], out[p][2]));
    for (int p = GH_PREC_TF32; p < GH_PREC_COUNT; p++) {
        const double tol = p == GH_PREC_BF16 ? 2e-2 : 5e-3;
        for (int i = 0; i < 3; i++) {
            char what[64];
            snprintf(what, sizeof what, "engine %s %s", gh_precision_name((gh_precision)p),
                     part[i]);
            check_close_f(what, out[p][i], out[0][i], n[i], tol * rms(out[0][i], n[i]), tol,
                          __FILE__, __LINE__);
            size_t differ = 0;
            for (size_t j = 0; j < n[i]; j++) differ += out[p][i][j] != out[0][i][j];
            CHECK_MSG(differ > 0, "%s: equal to fp32 everywhere: the tensor cores did not run",
                      what);
        }
    }
}

int main(void) {
    names();
    refusal(GH_BACKEND_REF);
    refusal(GH_BACKEND_CPU);
    cuda_precisions();
    return check_done("test_precision_engine");
}
