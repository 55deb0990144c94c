// tests/engine: failures are reported, not crashed through: shape mismatches name the op and
// both shapes; NULL inputs propagate without overwriting the first message; arena exhaustion
// says asked, used and capacity; a NaN loss the host has read is GH_ENAN and propagates
// nothing, one it has not is reported (GH_ENAN, naming the step) by the next checked read; a
// tensor from another engine is refused; a CUDA engine without CUDA or a GPU is GH_ENODEV.
#include <string.h>

#include "check.h"
#include "engine/engine.h"

#define CHECK_MSG_HAS(needle)                                                            \
    CHECK_MSG(strstr(gh_error_get(), needle) != NULL, "message '%s' lacks '%s'",         \
              gh_error_get(), needle)

static gh_engine *make(size_t arena) {
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = GH_BACKEND_CPU, .arena_bytes = arena, .seed = 1};
    CHECK_OK(gh_engine_create(&e, &cfg));
    return e;
}

static void test_shapes(void) {
    gh_engine *e = make(1 << 20);
    gh_tensor *w = gh_param(e, 0, "w", 4, (int[]){4, 2, 3, 3}, GH_INIT_KAIMING_UNIFORM, 18);
    gh_tensor *fc = gh_param(e, 0, "fc", 2, (int[]){5, 7}, GH_INIT_KAIMING_UNIFORM, 7);
    gh_tensor *alpha = gh_param(e, GH_GROUP_ARCH, "alpha", 1, (int[]){3}, GH_INIT_ZERO, 0);
    CHECK_OK(gh_params_alloc(e));

    gh_step_begin(e);
    gh_tensor *x = gh_input(e, 4, (int[]){2, 3, 8, 8}, NULL);
    CHECK(x != NULL);
    gh_tensor *y = gh_conv2d(e, x, w, NULL, 1, 1, 1, 1, 1, 1, 1);
    CHECK(y == NULL);
    CHECK(gh_engine_status(e) == GH_EINVAL);
    CHECK_MSG_HAS("conv2d");
    CHECK_MSG_HAS("[2,3,8,8]");
    CHECK_MSG_HAS("[4,2,3,3]");
    // a NULL input propagates: no new message, status unchanged
    char first[1024];
    snprintf(first, sizeof first, "%s", gh_error_get());
    CHECK(gh_relu(e, y) == NULL);
    CHECK(gh_linear(e, gh_flatten(e, gh_relu(e, y)), fc, NULL) == NULL);
    CHECK(strcmp(first, gh_error_get()) == 0);
    CHECK(gh_backward(e, NULL) == GH_EINVAL);

    gh_step_begin(e);
    CHECK(gh_engine_status(e) == GH_OK);
    gh_tensor *a = gh_input(e, 2, (int[]){2, 7}, NULL);
    gh_tensor *b = gh_input(e, 2, (int[]){2, 6}, NULL);
    CHECK(gh_add(e, a, b) == NULL);
    CHECK_MSG_HAS("add");
    CHECK_MSG_HAS("[2,7]");
    CHECK_MSG_HAS("[2,6]");

    gh_step_begin(e);
    gh_tensor *img = gh_input(e, 4, (int[]){2, 7, 1, 1}, NULL);
    CHECK(gh_linear(e, img, fc, NULL) == NULL);  // images must be flattened first
    CHECK_MSG_HAS("linear");
    CHECK_MSG_HAS("[2,7,1,1]");
    CHECK_MSG_HAS("[5,7]");

    gh_step_begin(e);
    gh_tensor *p = gh_input(e, 2, (int[]){2, 7}, NULL);
    CHECK(gh_wsum(e, 2, (gh_tensor *[]){p, p}, alpha) == NULL);
    CHECK_MSG_HAS("wsum");
    CHECK_MSG_HAS("[3]");

    gh_step_begin(e);
    gh_tensor *q = gh_input(e, 4, (int[]){2, 3, 8, 8}, NULL);
    gh_tensor *r = gh_input(e, 4, (int[]){2, 3, 7, 8}, NULL);
    CHECK(gh_concat(e, 2, (gh_tensor *[]){q, r}) == NULL);
    CHECK_MSG_HAS("concat");
    CHECK_MSG_HAS("[2,3,7,8]");
    gh_step_begin(e);
    CHECK(gh_slice(e, gh_input(e, 4, (int[]){2, 3, 8, 8}, NULL), 2, 2) == NULL);
    CHECK_MSG_HAS("slice");

    // parameters cannot be declared after allocation
    gh_step_begin(e);
    CHECK(gh_param(e, 0, "late", 1, (int[]){3}, GH_INIT_ZERO, 0) == NULL);
    CHECK_MSG_HAS("late");
    gh_engine_destroy(e);

    // a parameter used before allocation
    e = make(1 << 20);
    gh_tensor *w2 = gh_param(e, 0, "early.w", 2, (int[]){3, 4}, GH_INIT_ZERO, 0);
    gh_step_begin(e);
    CHECK(gh_linear(e, gh_input(e, 2, (int[]){1, 4}, NULL), w2, NULL) == NULL);
    CHECK_MSG_HAS("early.w");
    CHECK_MSG_HAS("gh_params_alloc");
    gh_engine_destroy(e);
}

static void test_arena(void) {
    gh_engine *e = make(8192);
    gh_step_begin(e);
    gh_tensor *x = gh_input(e, 4, (int[]){1, 1, 64, 64}, NULL);  // 16384 bytes
    CHECK(x == NULL);
    CHECK(gh_engine_status(e) == GH_ENOMEM);
    CHECK_MSG_HAS("arena exhausted");
    CHECK_MSG_HAS("asked 16384 bytes");
    CHECK_MSG_HAS("0 used");
    CHECK_MSG_HAS("capacity 8192");
    // what fits still works after the next step_begin
    gh_step_begin(e);
    CHECK(gh_input(e, 2, (int[]){4, 4}, NULL) != NULL);
    CHECK(gh_engine_status(e) == GH_OK);
    CHECK(gh_engine_arena_peak(e) > 0 && gh_engine_arena_peak(e) <= 8192);
    gh_engine_destroy(e);
}

static void test_nan(void) {
    gh_engine *e = make(1 << 20);
    gh_tensor *w = gh_param(e, 0, "fc", 2, (int[]){3, 4}, GH_INIT_KAIMING_UNIFORM, 4);
    CHECK_OK(gh_params_alloc(e));
    gh_step_begin(e);
    CHECK_OK(gh_group_zero_grad(e, 0));
    float xh[8] = {1, 2, NAN, 4, 5, 6, 7, 8};
    int yh[2] = {0, 2};
    gh_tensor *loss = gh_xent(e, gh_linear(e, gh_input(e, 2, (int[]){2, 4}, xh), w, NULL),
                              gh_labels(e, 2, yh), 0.0f, NULL);
    CHECK(loss != NULL);
    CHECK(isnan(gh_scalar(e, loss)));
    CHECK(gh_backward(e, loss) == GH_ENAN);
    CHECK_MSG_HAS("NaN");
    CHECK(gh_engine_status(e) == GH_ENAN);
    float g[12];
    memcpy(g, w->grad, sizeof g);  // CPU backend: host memory
    int nonzero = 0;
    for (int i = 0; i < 12; i++) nonzero += g[i] != 0.0f;
    CHECK_MSG(nonzero == 0, "%d gradient entries written despite the NaN loss", nonzero);
    // the optimizer refuses to apply a step that failed
    CHECK(gh_sgd_step(e, 0, 0.1f, 0.9f, 0.0f) == GH_ENAN);
    gh_engine_destroy(e);
}

// The deferred contract: no read in the step, GH_ENAN at the next checked read.
static void test_nan_deferred(void) {
    gh_engine *e = make(1 << 20);
    gh_tensor *w = gh_param(e, 0, "fc", 2, (int[]){3, 4}, GH_INIT_KAIMING_UNIFORM, 4);
    CHECK_OK(gh_params_alloc(e));
    float good[8] = {1, 2, 3, 4, 5, 6, 7, 8}, bad[8] = {1, 2, NAN, 4, 5, 6, 7, 8};
    int yh[2] = {0, 2};
    gh_counters c0, c1;
    // step 1 is fine; step 2 has a NaN input; step 3 is fine again
    for (int s = 1; s <= 3; s++) {
        gh_step_begin(e);
        CHECK_OK(gh_group_zero_grad(e, 0));
        gh_engine_counters(e, &c0);
        gh_tensor *loss = gh_xent(e, gh_linear(e, gh_input(e, 2, (int[]){2, 4}, s == 2 ? bad : good),
                                               w, NULL), gh_labels(e, 2, yh), 0.0f, NULL);
        CHECK_OK(gh_acc_add(e, 0, loss, 2.0));
        CHECK_OK(gh_backward(e, loss));          // nothing read: the NaN is not known yet
        CHECK_OK(gh_clip_grad_norm(e, 0, 1.0f, NULL));
        gh_engine_counters(e, &c1);
        CHECK(c1.host_syncs == c0.host_syncs);
        if (s < 3) CHECK_OK(gh_sgd_step(e, 0, 0.1f, 0.0f, 0.0f));
    }
    // the report: GH_ENAN, sticky, naming what and the first step; the sums are still read
    double acc = 0.0;
    CHECK(gh_acc_read(e, 1, &acc) == GH_ENAN);
    CHECK(isnan(acc));
    CHECK(gh_engine_status(e) == GH_ENAN);
    CHECK_MSG_HAS("first in step 2");
    CHECK_MSG_HAS("steps 1..3");
    CHECK_MSG_HAS("a loss (gh_backward)");
    CHECK_MSG_HAS("a gradient norm (gh_clip_grad_norm)");
    CHECK(gh_sgd_step(e, 0, 0.1f, 0.0f, 0.0f) == GH_ENAN);   // refused until the next step
    // reported once: the record is clear now
    CHECK_OK(gh_engine_check_finite(e));
    CHECK_OK(gh_acc_reset(e, 0, 1));

    // a device scalar of 1/0: nothing changes, gh_scalar reports it (and returns NAN)
    gh_step_begin(e);
    double *s = gh_buffer_f64(e, 2);
    CHECK(s != NULL);
    float before[12], after[12];
    memcpy(before, w->data, sizeof before);   // CPU backend: host memory
    CHECK_OK(gh_vec_scale_dev(e, 12, 1.0, s, -1, w->data));
    CHECK_OK(gh_dev_scalar(e, 1.0, s, -1, s + 1));
    memcpy(after, w->data, sizeof after);
    CHECK(memcmp(before, after, sizeof before) == 0);
    gh_step_begin(e);
    gh_tensor *x = gh_input(e, 1, (int[]){1}, good);
    CHECK(isnan(gh_scalar(e, x)));
    CHECK(gh_engine_status(e) == GH_ENAN);
    CHECK_MSG_HAS("a device scalar");
    CHECK_MSG_HAS("first in step 4");
    gh_step_begin(e);
    CHECK(gh_scalar(e, gh_input(e, 1, (int[]){1}, good)) == 1.0f);
    CHECK(gh_vec_axpy_dev(e, 12, 1.0, s, 2, w->data, w->data) == GH_EINVAL);
    gh_engine_destroy(e);
}

static void test_devices(void) {
    // tensors cannot cross engines
    gh_engine *a = make(1 << 16), *b = make(1 << 16);
    gh_step_begin(a);
    gh_step_begin(b);
    gh_tensor *x = gh_input(a, 2, (int[]){2, 3}, NULL);
    CHECK(gh_relu(b, x) == NULL);
    CHECK_MSG_HAS("relu");
    CHECK_MSG_HAS("another engine");
    gh_engine_destroy(a);
    gh_engine_destroy(b);

    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = GH_BACKEND_CUDA, .device_index = 0, .seed = 1,
                            .arena_bytes = 1 << 20};
    int st = gh_engine_create(&e, &cfg);
    if (gh_cuda_device_count() == 0) {
        CHECK(st == GH_ENODEV);
        CHECK(e == NULL);
        CHECK_MSG_HAS("cuda:0");
    } else {
        CHECK_OK(st);
    }
    gh_engine_destroy(e);
    cfg.device_index = 999;
    CHECK(gh_engine_create(&e, &cfg) == GH_ENODEV);
    CHECK_MSG_HAS("cuda:999");
    CHECK(e == NULL);

    gh_backend bk;
    int dev;
    CHECK_OK(gh_backend_parse("cuda:3", &bk, &dev));
    CHECK(bk == GH_BACKEND_CUDA && dev == 3);
    CHECK_OK(gh_backend_parse("ref", &bk, &dev));
    CHECK(bk == GH_BACKEND_REF);
    CHECK_OK(gh_backend_parse("auto", &bk, &dev));
    CHECK(bk == (gh_cuda_device_count() > 0 ? GH_BACKEND_CUDA : GH_BACKEND_CPU));
    CHECK(gh_backend_parse("tpu", &bk, &dev) == GH_EINVAL);
    CHECK_MSG_HAS("tpu");
    CHECK(gh_backend_parse("cuda:x", &bk, &dev) == GH_EINVAL);
}

int main(void) {
    test_shapes();
    test_arena();
    test_nan();
    test_nan_deferred();
    test_devices();
    return check_done("test_engine_errors");
}
