// Bad shapes and arguments: every host kernel family returns GH_EINVAL with a message that
// names the op (and leaves its outputs unwritten where it says so), for _ref and _cpu alike.
#include "ktest.h"

// The call must return GH_EINVAL and the message must contain `name`.
#define CHECK_EINVAL(name, call)                                                                 \
    do {                                                                                         \
        gh_error_clear();                                                                        \
        int st_ = (call);                                                                        \
        CHECK_MSG(st_ == GH_EINVAL, "%s returned %d (%s), expected GH_EINVAL", #call, st_,       \
                  gh_error_get());                                                               \
        CHECK_MSG(strstr(gh_error_get(), name) != NULL, "message \"%s\" does not name %s",       \
                  gh_error_get(), name);                                                         \
        printf("  %-16s -> %s\n", name, gh_error_get());                                         \
    } while (0)

int main(void) {
    float buf[4096] = {0}, out[4096];
    float *const ptrs[3] = {buf, buf, buf};
    const float *const cptrs[3] = {buf, buf, buf};
    int labels[4] = {0, 1, 5, 2};
    kctx ctx = {.ws = buf, .ws_floats = 4096};

    // conv: groups not dividing, empty output, negative pad, stale p/q, workspace too small
    conv2d_shape bad = {.n = 1, .c = 6, .h = 5, .w = 5, .k = 4, .r = 3, .s = 3, .groups = 4};
    CHECK(conv2d_shape_init(&bad) == GH_EINVAL);
    conv2d_shape tiny = {.n = 1, .c = 1, .h = 2, .w = 2, .k = 1, .r = 5, .s = 5};
    CHECK(conv2d_shape_init(&tiny) == GH_EINVAL);
    CHECK(strstr(gh_error_get(), "empty output") != NULL);
    conv2d_shape ok = {.n = 2, .c = 3, .h = 8, .w = 8, .k = 4, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
    CHECK_OK(conv2d_shape_init(&ok));
    CHECK(ok.p == 8 && ok.q == 8 && ok.stride_h == 1 && ok.dil_w == 1 && ok.groups == 1);
    conv2d_shape stale = ok;
    stale.h = 10;   // p, q no longer match
    CHECK_EINVAL("conv2d_fwd_ref", conv2d_fwd_ref(NULL, &stale, buf, buf, NULL, out));
    CHECK_EINVAL("conv2d_fwd_cpu", conv2d_fwd_cpu(&ctx, &stale, buf, buf, NULL, out));
    CHECK_EINVAL("conv2d_bwd_cpu", conv2d_bwd_cpu(&ctx, &bad, buf, buf, buf, out, NULL, NULL));
    conv2d_shape negpad = ok;
    negpad.pad_h = -1;
    CHECK_EINVAL("conv2d_bwd_ref", conv2d_bwd_ref(NULL, &negpad, buf, buf, buf, out, NULL, NULL));
    kctx small = {.ws = buf, .ws_floats = 10};
    CHECK_EINVAL("conv2d_fwd_cpu", conv2d_fwd_cpu(&small, &ok, buf, buf, NULL, out));
    CHECK(strstr(gh_error_get(), "workspace") != NULL);
    CHECK_EINVAL("conv2d_bwd_cpu", conv2d_bwd_cpu(NULL, &ok, buf, buf, buf, out, out, NULL));
    conv2d_shape dw = {.n = 2, .c = 4, .h = 8, .w = 8, .k = 4, .r = 3, .s = 3, .pad_h = 1,
                       .pad_w = 1, .groups = 4};
    CHECK_OK(conv2d_shape_init(&dw));
    CHECK_EINVAL("conv2d_fwd_cpu", conv2d_fwd_cpu(&small, &dw, buf, buf, NULL, out));
    CHECK_EINVAL("conv2d_fwd_ref", conv2d_fwd_ref(NULL, &ok, NULL, buf, NULL, out));

    // batch norm: one value per channel in training, bad momentum
    bn_shape one = {.n = 1, .c = 3, .hw = 1, .eps = 1e-5f, .momentum = 0.1f};
    CHECK_EINVAL("bn_fwd_train_ref", bn_fwd_train_ref(NULL, &one, buf, NULL, NULL, out, NULL, NULL, NULL, NULL));
    CHECK_EINVAL("bn_fwd_train_cpu", bn_fwd_train_cpu(NULL, &one, buf, NULL, NULL, out, NULL, NULL, NULL, NULL));
    bn_shape mom = {.n = 2, .c = 3, .hw = 4, .eps = 1e-5f, .momentum = 2.0f};
    CHECK_EINVAL("bn_bwd_cpu", bn_bwd_cpu(NULL, &mom, buf, NULL, buf, buf, buf, out, NULL, NULL));
    bn_shape zero = {.n = 2, .c = 0, .hw = 4, .eps = 1e-5f, .momentum = 0.1f};
    CHECK_EINVAL("bn_fwd_eval_cpu", bn_fwd_eval_cpu(NULL, &zero, buf, NULL, NULL, buf, buf, out));

    // pooling: pad more than half the window, window larger than the input, stale shape
    pool_shape pp = {.n = 1, .c = 1, .h = 4, .w = 4, .kh = 2, .kw = 2, .stride = 1, .pad = 2};
    CHECK(pool_shape_init(&pp) == GH_EINVAL);
    pool_shape big = {.n = 1, .c = 1, .h = 2, .w = 2, .kh = 5, .kw = 5, .stride = 1, .pad = 1};
    CHECK(pool_shape_init(&big) == GH_EINVAL);
    pool_shape pz = {.n = 1, .c = 1, .h = 4, .w = 4, .kh = 2, .kw = 2, .stride = 0};
    CHECK(pool_shape_init(&pz) == GH_EINVAL);
    CHECK_EINVAL("maxpool_fwd_cpu", maxpool_fwd_cpu(NULL, &pp, buf, out));
    CHECK_EINVAL("avgpool_bwd_ref", avgpool_bwd_ref(NULL, &big, buf, out));
    // the shared checks every backend calls name the op, the rule and the sizes
    pool_shape pst = {.n = 1, .c = 1, .h = 8, .w = 8, .kh = 2, .kw = 2, .stride = 2}, pnorm;
    CHECK_OK(pool_shape_init(&pst));
    pst.q = 3;
    CHECK_EINVAL("my_pool_op", pool_shape_check("my_pool_op", &pst, &pnorm));
    CHECK(strstr(gh_error_get(), "geometry gives 4x4") != NULL);
    CHECK_EINVAL("half the window", pool_shape_check("my_pool_op", &pp, &pnorm));
    conv2d_shape cst = {.n = 1, .c = 2, .h = 5, .w = 5, .k = 2, .r = 3, .s = 3}, cnorm;
    CHECK_OK(conv2d_shape_check("my_conv_op", &(conv2d_shape){.n = 1, .c = 2, .h = 5, .w = 5,
                                .k = 2, .r = 3, .s = 3, .p = 3, .q = 3}, &cnorm));
    CHECK(cnorm.stride_h == 1 && cnorm.dil_w == 1 && cnorm.groups == 1);
    CHECK_EINVAL("my_conv_op", conv2d_shape_check("my_conv_op", &cst, &cnorm));
    CHECK(strstr(gh_error_get(), "geometry gives 3x3") != NULL);
    CHECK_EINVAL("gap_fwd_cpu", gap_fwd_cpu(NULL, 2, 3, 0, buf, out));

    // linear, elementwise, weighted sum, concat/slice/shift
    CHECK_EINVAL("linear_fwd_cpu", linear_fwd_cpu(NULL, 0, 3, 4, buf, buf, NULL, out));
    CHECK_EINVAL("linear_bwd_ref", linear_bwd_ref(NULL, 2, -1, 4, buf, buf, buf, out, NULL, NULL));
    CHECK_EINVAL("add_fwd_cpu", add_fwd_cpu(NULL, 10, buf, NULL, out));
    CHECK_EINVAL("wsum_fwd_cpu", wsum_fwd_cpu(NULL, GH_WSUM_MAX + 1, 10, cptrs, buf, out));
    CHECK_EINVAL("wsum_bwd_ref", wsum_bwd_ref(NULL, 0, 10, cptrs, buf, buf, ptrs, NULL));
    int cs_bad[3] = {2, 0, 1};
    CHECK_EINVAL("concat_fwd_cpu", concat_fwd_cpu(NULL, 2, 4, 3, cs_bad, cptrs, out));
    CHECK_EINVAL("slice_fwd_ref", slice_fwd_ref(NULL, 2, 4, 3, 3, 2, buf, out));
    CHECK_EINVAL("slice_bwd_cpu", slice_bwd_cpu(NULL, 2, 4, 3, -1, 2, buf, out));
    CHECK_EINVAL("shift_fwd_cpu", shift_fwd_cpu(NULL, 2, 3, 4, 4, 1, 1, 0, 3, buf, out));

    // dropout, softmax, cross-entropy (labels checked before anything is written)
    const uint64_t seed = 1;
    CHECK_EINVAL("dropout_fwd_cpu", dropout_fwd_cpu(NULL, 10, 1.5f, &seed, 0, buf, out));
    CHECK_EINVAL("droppath_bwd_ref", droppath_bwd_ref(NULL, 2, 5, -0.1f, &seed, 0, buf, out));
    CHECK_EINVAL("dropout_bwd_ref", dropout_bwd_ref(NULL, 10, 0.5f, NULL, 0, buf, out));
    CHECK(strstr(gh_error_get(), "seed") != NULL);
    CHECK_EINVAL("droppath_fwd_cpu", droppath_fwd_cpu(NULL, 2, 5, 0.5f, NULL, 0, buf, out));
    CHECK_EINVAL("softmax_fwd_cpu", softmax_fwd_cpu(NULL, 0, 3, buf, out));
    for (int i = 0; i < 16; i++) out[i] = 42.0f;
    CHECK_EINVAL("xent_fwd_cpu", xent_fwd_cpu(NULL, 4, 4, buf, labels, 0.1f, out, out + 16));
    CHECK(strstr(gh_error_get(), "labels[2] = 5") != NULL);
    int untouched = 1;
    for (int i = 0; i < 16; i++) untouched &= out[i] == 42.0f;
    CHECK_MSG(untouched, "xent_fwd_cpu wrote probabilities before rejecting a label");
    CHECK_EINVAL("xent_fwd_ref", xent_fwd_ref(NULL, 4, 4, buf, labels, 0.1f, out, out + 16));
    const float dl1 = 1.0f;
    CHECK_EINVAL("xent_bwd_cpu", xent_bwd_cpu(NULL, 4, 6, buf, labels, 1.5f, &dl1, out));
    CHECK_EINVAL("xent_bwd_ref", xent_bwd_ref(NULL, 4, 6, buf, (int[]){0, 1, 2, 3}, 0.1f, NULL, out));

    // controller ops: sizes, bad indices (nothing written), temperature and tanh constant
    CHECK_EINVAL("lstm_cell_fwd_cpu", lstm_cell_fwd_cpu(NULL, 0, 4, buf, buf, out, out, NULL));
    CHECK_EINVAL("lstm_cell_bwd_ref", lstm_cell_bwd_ref(NULL, 2, -3, buf, buf, buf, buf, out, out));
    CHECK_EINVAL("lstm_cell_fwd_ref", lstm_cell_fwd_ref(NULL, 2, 4, NULL, buf, out, out, NULL));
    const int eidx[4] = {0, 2, 7, 1};
    for (int i = 0; i < 16; i++) out[i] = 42.0f;
    CHECK_EINVAL("embedding_fwd_cpu", embedding_fwd_cpu(NULL, 4, 5, 4, eidx, buf, out));
    CHECK(strstr(gh_error_get(), "idx[2] = 7") != NULL);
    untouched = 1;
    for (int i = 0; i < 16; i++) untouched &= out[i] == 42.0f;
    CHECK_MSG(untouched, "embedding_fwd_cpu wrote rows before rejecting an index");
    CHECK_EINVAL("embedding_bwd_ref", embedding_bwd_ref(NULL, 4, 5, 4, eidx, buf, out));
    untouched = 1;
    for (int i = 0; i < 16; i++) untouched &= out[i] == 42.0f;
    CHECK_MSG(untouched, "embedding_bwd_ref added rows before rejecting an index");
    CHECK_EINVAL("embedding_fwd_ref", embedding_fwd_ref(NULL, 4, 0, 4, eidx, buf, out));
    CHECK_EINVAL("embedding_bwd_cpu", embedding_bwd_cpu(NULL, 4, 8, 4, NULL, buf, out));
    int sidx[4];
    CHECK_EINVAL("categorical_sample_cpu", categorical_sample_cpu(NULL, 4, 3, buf, 0.0f, 0.0f, 1, sidx, NULL, NULL));
    CHECK(strstr(gh_error_get(), "temperature") != NULL);
    CHECK_EINVAL("categorical_sample_ref", categorical_sample_ref(NULL, 4, 3, buf, 1.0f, -2.5f, 1, sidx, NULL, NULL));
    CHECK(strstr(gh_error_get(), "tanh constant") != NULL);
    CHECK_EINVAL("categorical_sample_ref", categorical_sample_ref(NULL, 4, 0, buf, 1.0f, 0.0f, 1, sidx, NULL, NULL));
    CHECK_EINVAL("logprob_entropy_fwd_cpu", logprob_entropy_fwd_cpu(NULL, 4, 3, buf, (int[]){0, 1, 3, 2}, out, NULL));
    CHECK(strstr(gh_error_get(), "idx[2] = 3") != NULL);
    CHECK_EINVAL("logprob_entropy_bwd_ref", logprob_entropy_bwd_ref(NULL, 4, 3, buf, (int[]){0, -1, 0, 0}, buf, NULL, out));
    CHECK_OK(logprob_entropy_fwd_ref(NULL, 4, 3, buf, NULL, NULL, out));   // entropy alone: no idx

    // optimizers
    CHECK_EINVAL("sgd_step_cpu", sgd_step_cpu(NULL, 10, out, buf, NULL, 0.1f, 0.9f, 0.0f));
    CHECK_EINVAL("adam_step_ref", adam_step_ref(NULL, 10, out, buf, out, out, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0));
    CHECK_EINVAL("adam_step_cpu", adam_step_cpu(NULL, 10, out, buf, out, out, 1e-3f, 1.0f, 0.999f, 1e-8f, 0.0f, 1));
    return check_done("test_kernels_errors");
}
