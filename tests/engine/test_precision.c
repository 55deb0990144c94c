// tests/engine: the precision setting (issue 15). gh_precision_parse / gh_precision_name agree
// on every name and refuse others; gh_set_precision accepts fp32 everywhere and refuses tf32 and
// bf16 on the ref and cpu backends (GH_EUNSUP, naming the precision and the backend) leaving
// the engine at fp32 with no sticky error: a conv then runs and gives the fp32 result it gave
// before. On a CUDA build with a GPU, tf32 and bf16 are accepted by a cuda engine.
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

static void cuda_accepts(void) {
    if (!gh_cuda_built() || gh_cuda_device_count() < 1) {
        printf("cuda engine: SKIPPED (no CUDA build or no GPU)\n");
        return;
    }
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = GH_BACKEND_CUDA, .arena_bytes = 1 << 20, .seed = 5};
    CHECK_OK(gh_engine_create(&e, &cfg));
    if (!e) return;
    for (int p = 0; p < GH_PREC_COUNT; p++) {
        CHECK_OK(gh_set_precision(e, (gh_precision)p));
        CHECK(gh_engine_precision(e) == (gh_precision)p);
    }
    gh_engine_destroy(e);
}

int main(void) {
    names();
    refusal(GH_BACKEND_REF);
    refusal(GH_BACKEND_CPU);
    cuda_accepts();
    return check_done("test_precision_engine");
}
