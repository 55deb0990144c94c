// tests/engine: engine state save/load. A small network touching every stateful part (SGD
// momentum on the weights, Adam on the arch weights, batch-norm running statistics, dropout and
// drop-path masks) trains K steps, saves, trains M more; a second engine built the same way
// from another seed loads the state and trains the same M steps: losses, every group and the
// optimizer state must be bit-identical. Then the refusals: another network (naming the
// parameter), a missing blob, a wrong size, a bad header, no parameters yet; each leaves the
// engine unchanged.
#include <string.h>

#include "train_step.h"

enum { K = 3, M = 4, MAX_BLOBS = 32 };

// An in-memory blob store with the callback signatures of a checkpoint file.
typedef struct {
    char name[MAX_BLOBS][64];
    void *data[MAX_BLOBS];
    size_t bytes[MAX_BLOBS];
    int n;
} store;

static int store_find(const store *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name)) return i;
    return -1;
}

static int store_put(void *ctx, const char *name, const void *data, size_t bytes) {
    store *s = ctx;
    if (store_find(s, name) >= 0) return gh_fail(GH_EINVAL, "store: '%s' written twice", name);
    if (s->n == MAX_BLOBS || strlen(name) >= 64) return gh_fail(GH_EINVAL, "store: full");
    s->data[s->n] = malloc(bytes ? bytes : 1);
    memcpy(s->data[s->n], data, bytes);
    s->bytes[s->n] = bytes;
    snprintf(s->name[s->n], 64, "%s", name);
    s->n++;
    return GH_OK;
}

static int store_get(void *ctx, const char *name, void *data, size_t bytes) {
    const store *s = ctx;
    int i = store_find(s, name);
    if (i < 0) return gh_fail(GH_EFORMAT, "store: no blob '%s'", name);
    if (s->bytes[i] != bytes)
        return gh_fail(GH_EFORMAT, "store: blob '%s' holds %zu bytes, %zu asked", name,
                       s->bytes[i], bytes);
    memcpy(data, s->data[i], bytes);
    return GH_OK;
}

static void store_free(store *s) {
    for (int i = 0; i < s->n; i++) free(s->data[i]);
    s->n = 0;
}

static gh_engine *make(gh_backend b, uint64_t seed, ts_net *m) {
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = b, .arena_bytes = 16 << 20, .deterministic = 1,
                            .seed = seed};
    if (gh_engine_create(&e, &cfg) || ts_declare(e, m)) {
        fprintf(stderr, "engine: %s\n", gh_error_get());
        exit(1);
    }
    return e;
}

// Steps first..first+n-1 (data a function of the step number): losses into loss[].
static int train(gh_engine *e, const ts_net *m, int first, int n, float *loss) {
    float x[TS_N * TS_C * TS_H * TS_W];
    int y[TS_N], hits;
    for (int s = first; s < first + n; s++) {
        ts_data(x, y, 100u + (unsigned)s);
        gh_step_begin(e);
        gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
        gh_group_zero_grad(e, GH_GROUP_ARCH);
        gh_tensor *l = ts_forward(e, m, x, y, &hits);
        loss[s - first] = gh_scalar(e, l);
        int st = gh_backward(e, l);
        if (!st) st = gh_clip_grad_norm(e, GH_GROUP_WEIGHTS, 5.0f, NULL);
        if (!st) st = gh_sgd_step(e, GH_GROUP_WEIGHTS, 0.05f, 0.9f, 1e-4f);
        if (!st) st = gh_adam_step(e, GH_GROUP_ARCH, 3e-2f, 0.5f, 0.999f, 1e-8f, 1e-3f);
        if (!st) st = gh_acc_add(e, GH_ACC_TRAIN_LOSS, l, TS_N);
        if (st) return st;
    }
    return GH_OK;
}

// Every group's values and optimizer state, read through the engine's own save.
static void snapshot(gh_engine *e, store *s) {
    memset(s, 0, sizeof *s);
    CHECK_OK(gh_engine_state_save(e, store_put, s));
}

static int same_blobs(const store *a, const store *b, const char *what) {
    int ok = a->n == b->n;
    for (int i = 0; ok && i < a->n; i++) {
        int j = store_find(b, a->name[i]);
        ok = j >= 0 && a->bytes[i] == b->bytes[j] && !memcmp(a->data[i], b->data[j], a->bytes[i]);
        if (!ok) fprintf(stderr, "%s: blob '%s' differs\n", what, a->name[i]);
    }
    CHECK_MSG(ok, "%s: the engine states differ (%d and %d blobs)", what, a->n, b->n);
    return ok;
}

static void resume_bit_identical(gh_backend b) {
    printf("-- %s: %d steps, save, %d steps; load into a fresh engine, %d steps\n",
           gh_backend_name(b), K, M, M);
    ts_net m1, m2;
    gh_engine *e1 = make(b, 42, &m1);
    float l0[K], want[M], got[M];
    CHECK_OK(train(e1, &m1, 0, K, l0));
    store ck = {0};
    CHECK_OK(gh_engine_state_save(e1, store_put, &ck));
    CHECK(store_find(&ck, "engine/opt/weights") >= 0 && store_find(&ck, "engine/opt/arch") >= 0);
    CHECK(store_find(&ck, "engine/opt/buffers") < 0);
    CHECK_OK(train(e1, &m1, K, M, want));

    // another seed: its init, dropout stream and (no) optimizer state all differ until load
    gh_engine *e2 = make(b, 7, &m2);
    CHECK_OK(gh_engine_state_load(e2, store_get, &ck));
    CHECK_OK(train(e2, &m2, K, M, got));
    for (int s = 0; s < M; s++) printf("step %d loss %.9g %.9g\n", K + s, want[s], got[s]);
    CHECK_MSG(!memcmp(want, got, sizeof want), "losses after resume are not bit-identical");
    store s1, s2;
    snapshot(e1, &s1);
    snapshot(e2, &s2);
    same_blobs(&s1, &s2, "after the resumed steps");
    double a1[GH_ACC_SLOTS], a2[GH_ACC_SLOTS];
    CHECK_OK(gh_acc_read(e1, GH_ACC_SLOTS, a1));
    CHECK_OK(gh_acc_read(e2, GH_ACC_SLOTS, a2));
    CHECK(!memcmp(a1, a2, sizeof a1));

    // loading into an engine that already has optimizer state of another kind replaces it
    ts_net m3;
    gh_engine *e3 = make(b, 9, &m3);
    CHECK_OK(gh_adam_step(e3, GH_GROUP_WEIGHTS, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f));
    CHECK_OK(gh_sgd_step(e3, GH_GROUP_ARCH, 1e-3f, 0.9f, 0.0f));
    CHECK_OK(gh_engine_state_load(e3, store_get, &ck));
    CHECK_OK(train(e3, &m3, K, M, got));
    CHECK_MSG(!memcmp(want, got, sizeof want), "resume over other optimizer state differs");
    store s3;
    snapshot(e3, &s3);
    same_blobs(&s1, &s3, "over other optimizer state");

    store_free(&s1);
    store_free(&s2);
    store_free(&s3);
    store_free(&ck);
    gh_engine_destroy(e1);
    gh_engine_destroy(e2);
    gh_engine_destroy(e3);
}

// A load that must be refused: status, a message containing `needle`, engine unchanged.
static void refused(gh_engine *e, store *s, int want_st, const char *needle, const char *what) {
    store before, after;
    snapshot(e, &before);
    int st = gh_engine_state_load(e, store_get, s);
    const char *msg = gh_error_get();
    printf("%s: %s: %s\n", what, gh_status_str(st), msg);
    CHECK_MSG(st == want_st, "%s: status %d, expected %d", what, st, want_st);
    CHECK_MSG(strstr(msg, needle) != NULL, "%s: message lacks '%s'", what, needle);
    CHECK(gh_engine_status(e) == GH_OK);
    snapshot(e, &after);
    same_blobs(&before, &after, what);
    store_free(&before);
    store_free(&after);
}

static void refusals(void) {
    printf("-- refusals\n");
    ts_net m;
    gh_engine *e = make(GH_BACKEND_REF, 42, &m);
    float l[2];
    CHECK_OK(train(e, &m, 0, 2, l));
    store ck = {0};
    CHECK_OK(gh_engine_state_save(e, store_put, &ck));

    // another network: the classifier has 6 classes instead of 5
    gh_engine *o = NULL;
    gh_engine_config cfg = {.backend = GH_BACKEND_REF, .arena_bytes = 16 << 20, .seed = 1};
    CHECK_OK(gh_engine_create(&o, &cfg));
    gh_param(o, GH_GROUP_WEIGHTS, "c1.w", 4, (int[]){8, TS_C, 3, 3}, GH_INIT_KAIMING_UNIFORM,
             TS_C * 9);
    gh_param(o, GH_GROUP_WEIGHTS, "c1.b", 1, (int[]){8}, GH_INIT_KAIMING_UNIFORM, TS_C * 9);
    gh_param(o, GH_GROUP_WEIGHTS, "bn.g", 1, (int[]){8}, GH_INIT_ONE, 0);
    gh_param(o, GH_GROUP_WEIGHTS, "bn.b", 1, (int[]){8}, GH_INIT_ZERO, 0);
    gh_param(o, GH_GROUP_BUFFERS, "bn.mean", 1, (int[]){8}, GH_INIT_ZERO, 0);
    gh_param(o, GH_GROUP_BUFFERS, "bn.var", 1, (int[]){8}, GH_INIT_ONE, 0);
    gh_param(o, GH_GROUP_WEIGHTS, "dw", 4, (int[]){8, 2, 3, 3}, GH_INIT_KAIMING_UNIFORM, 18);
    gh_param(o, GH_GROUP_WEIGHTS, "pw", 4, (int[]){8, 8, 1, 1}, GH_INIT_KAIMING_UNIFORM, 8);
    gh_param(o, GH_GROUP_ARCH, "alpha", 1, (int[]){3}, GH_INIT_NORMAL_1E3, 0);
    gh_param(o, GH_GROUP_WEIGHTS, "fc.w", 2, (int[]){6, 20}, GH_INIT_KAIMING_UNIFORM, 20);
    CHECK_OK(gh_params_alloc(o));
    refused(o, &ck, GH_EFORMAT, "'fc.w weights 100 5x20', this network 'fc.w weights 120 6x20'",
            "another network");

    // the same network is accepted, so the refusals below are about the store
    gh_engine *e2 = make(GH_BACKEND_REF, 3, &m);

    int i = store_find(&ck, "engine/opt/arch");
    char saved[64];
    snprintf(saved, sizeof saved, "%s", ck.name[i]);
    snprintf(ck.name[i], 64, "engine/opt/renamed");
    refused(e2, &ck, GH_EFORMAT, "no blob 'engine/opt/arch'", "a missing blob");
    snprintf(ck.name[i], 64, "%s", saved);

    i = store_find(&ck, "engine/data/buffers");
    ck.bytes[i] -= 4;
    refused(e2, &ck, GH_EFORMAT, "'engine/data/buffers' holds", "a short blob");
    ck.bytes[i] += 4;

    i = store_find(&ck, "engine/header");
    ((char *)ck.data[i])[0] ^= 1;
    refused(e2, &ck, GH_EFORMAT, "not an engine state", "a bad header");
    ((char *)ck.data[i])[0] ^= 1;

    CHECK_OK(gh_engine_state_load(e2, store_get, &ck));

    // before gh_params_alloc: refused by both
    gh_engine *u = NULL;
    CHECK_OK(gh_engine_create(&u, &cfg));
    store none = {0};
    CHECK(gh_engine_state_save(u, store_put, &none) == GH_EINVAL);
    CHECK(gh_engine_state_load(u, store_get, &ck) == GH_EINVAL);
    CHECK(strstr(gh_error_get(), "gh_params_alloc") != NULL);

    store_free(&ck);
    gh_engine_destroy(e);
    gh_engine_destroy(o);
    gh_engine_destroy(e2);
    gh_engine_destroy(u);
}

int main(void) {
    resume_bit_identical(GH_BACKEND_REF);
    resume_bit_identical(GH_BACKEND_CPU);
    refusals();
    return check_done("test_engine_state");
}
