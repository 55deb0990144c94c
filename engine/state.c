// engine: saving and restoring everything a training step depends on between steps (group
// values, optimizer state, RNG streams, metric sums) through named-blob callbacks, so that a
// checkpoint store (ledger/ledger_checkpoint.c) and the engine never see each other's types.
// A load is checked whole on the host first and refused without touching the engine.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

// The blobs are host memory dumps: a checkpoint moves between little-endian machines only.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "engine/state.c: checkpoint blobs assume a little-endian host"
#endif

#define STATE_MAGIC "GHENGST1"
#define STATE_VERSION 1u

// Fixed-size header blob "engine/header": the layout summary that sizes every other blob, and
// the engine's scalar state. Field order keeps every member naturally aligned (no padding).
typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t nparams;
    uint64_t group_numel[GH_NUM_GROUPS];
    uint64_t layout_bytes;                 // of "engine/layout"
    int32_t opt_kind[GH_NUM_GROUPS];       // OPT_NONE / OPT_SGD / OPT_ADAM
    int32_t adam_t[GH_NUM_GROUPS];
    uint64_t rng_init[4], rng_dropout[4];
    uint64_t dropout_seed, dropout_ops;
    double acc[GH_ACC_SLOTS];
} state_header;
_Static_assert(sizeof(state_header) == 8 + 4 + 4 + 8 * GH_NUM_GROUPS + 8 + 4 * GH_NUM_GROUPS +
                                           4 * GH_NUM_GROUPS + 64 + 16 + 8 * GH_ACC_SLOTS,
               "state_header has padding: its bytes are the blob format");
_Static_assert(sizeof(gh_rng) == 4 * sizeof(uint64_t), "gh_rng is four uint64 words");

static const char *const group_names[GH_NUM_GROUPS] = {"weights", "arch", "buffers"};
static const char *const opt_names[] = {"none", "sgd", "adam"};

static size_t opt_floats(const gh_engine *e, int g, int kind) {
    return kind == OPT_ADAM ? 2 * e->group_numel[g] : kind == OPT_SGD ? e->group_numel[g] : 0;
}

// One line per parameter in declaration order: "name group numel d0xd1x..\n". Names with
// spaces or newlines would make the text ambiguous, so they are escaped as '?'.
static char *layout_text(const gh_engine *e, size_t *len) {
    size_t cap = 64;
    for (int i = 0; i < e->nparams; i++) cap += strlen(e->params[i].node->t.name) + 96;
    char *s = malloc(cap), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < e->nparams; i++) {
        const gh_tensor *t = &e->params[i].node->t;
        for (const char *c = t->name; *c; c++) *p++ = (*c == ' ' || *c == '\n') ? '?' : *c;
        p += sprintf(p, " %s %zu ", group_names[e->params[i].group], t->numel);
        for (int d = 0; d < t->ndim; d++) p += sprintf(p, d ? "x%d" : "%d", t->shape[d]);
        *p++ = '\n';
    }
    *len = (size_t)(p - s);
    return s;
}

// Line i of a layout text (without its newline) into out; "" past the end.
static void layout_line(const char *s, size_t len, int i, char *out, size_t cap) {
    const char *p = s, *end = s + len;
    for (; i > 0 && p < end; i--) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    size_t n = (size_t)((nl ? nl : end) - p);
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static int need_params(const gh_engine *e, const char *fn) {
    if (!e) return gh_fail(GH_EINVAL, "%s: no engine", fn);
    if (!e->params_allocated)
        return gh_fail(GH_EINVAL, "%s: parameters not allocated (build the network and call "
                       "gh_params_alloc first)", fn);
    return GH_OK;
}

int gh_engine_state_save(gh_engine *e, gh_state_put put, void *ctx) {
    int st = need_params(e, "engine_state_save");
    if (st) return st;
    if (e->status)
        return gh_fail(e->status, "engine_state_save: the current step failed (%s); a state "
                       "saved now could hold a partial update", gh_status_str(e->status));
    state_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, STATE_MAGIC, sizeof h.magic);
    h.version = STATE_VERSION;
    h.nparams = (uint32_t)e->nparams;
    size_t most = 0;
    for (int g = 0; g < GH_NUM_GROUPS; g++) {
        h.group_numel[g] = e->group_numel[g];
        h.opt_kind[g] = e->opt_state[g] ? e->opt_kind[g] : OPT_NONE;
        h.adam_t[g] = e->adam_t[g];
        size_t n = opt_floats(e, g, h.opt_kind[g]);
        if (n < e->group_numel[g]) n = e->group_numel[g];
        if (n > most) most = n;
    }
    memcpy(h.rng_init, e->rng_init.s, sizeof h.rng_init);
    memcpy(h.rng_dropout, e->rng_dropout.s, sizeof h.rng_dropout);
    h.dropout_seed = e->dropout_seed;
    h.dropout_ops = e->dropout_ops;
    if ((st = gh_acc_read(e, GH_ACC_SLOTS, h.acc))) return st;

    size_t layout_len = 0;
    char *layout = layout_text(e, &layout_len);
    if (!layout) return gh_fail(GH_ENOMEM, "engine_state_save: layout text");
    h.layout_bytes = layout_len;
    float *host = malloc(most ? most * sizeof(float) : 1);
    if (!host) {
        free(layout);
        return gh_fail(GH_ENOMEM, "engine_state_save: host staging of %zu floats", most);
    }
    st = put(ctx, "engine/header", &h, sizeof h);
    if (!st) st = put(ctx, "engine/layout", layout, layout_len);
    char name[64];
    for (int g = 0; g < GH_NUM_GROUPS && !st; g++) {
        size_t n = e->group_numel[g];
        if (n) {
            snprintf(name, sizeof name, "engine/data/%s", group_names[g]);
            st = eng_check(e, dev_d2h(e, host, e->group_data[g], n * sizeof(float)));
            if (!st) st = put(ctx, name, host, n * sizeof(float));
        }
        size_t m = opt_floats(e, g, h.opt_kind[g]);
        if (!st && m) {
            snprintf(name, sizeof name, "engine/opt/%s", group_names[g]);
            st = eng_check(e, dev_d2h(e, host, e->opt_state[g], m * sizeof(float)));
            if (!st) st = put(ctx, name, host, m * sizeof(float));
        }
    }
    free(host);
    free(layout);
    return st;
}

// Compares the saved layout with this engine's; names the first parameter that differs.
static int check_layout(const gh_engine *e, const state_header *h, const char *saved,
                        size_t saved_len) {
    size_t mine_len = 0;
    char *mine = layout_text(e, &mine_len);
    if (!mine) return gh_fail(GH_ENOMEM, "engine_state_load: layout text");
    int st = GH_OK;
    int n = e->nparams > (int)h->nparams ? e->nparams : (int)h->nparams;
    char a[512], b[512];
    for (int i = 0; i < n && !st; i++) {
        layout_line(saved, saved_len, i, a, sizeof a);
        layout_line(mine, mine_len, i, b, sizeof b);
        if (strcmp(a, b))
            st = gh_fail(GH_EFORMAT, "engine_state_load: the checkpoint's network differs from "
                         "this one at parameter %d: saved '%s', this network '%s' (fields: name "
                         "group numel shape; %u parameters saved, %d here)", i,
                         a[0] ? a : "(none)", b[0] ? b : "(none)", h->nparams, e->nparams);
    }
    if (!st && (saved_len != mine_len || memcmp(saved, mine, mine_len)))
        st = gh_fail(GH_EFORMAT, "engine_state_load: blob 'engine/layout' (%zu bytes) differs "
                     "from this network's (%zu bytes) in a parameter name longer than 500 "
                     "bytes", saved_len, mine_len);
    for (int g = 0; g < GH_NUM_GROUPS && !st; g++)
        if (h->group_numel[g] != e->group_numel[g])
            st = gh_fail(GH_EFORMAT, "engine_state_load: group %s holds %llu floats in the "
                         "checkpoint and %zu here", group_names[g],
                         (unsigned long long)h->group_numel[g], e->group_numel[g]);
    free(mine);
    return st;
}

// Host copies of every blob, read and checked before anything in the engine changes.
typedef struct {
    state_header h;
    char *layout;
    float *data[GH_NUM_GROUPS], *opt[GH_NUM_GROUPS];
} loaded_state;

static void loaded_free(loaded_state *s) {
    free(s->layout);
    for (int g = 0; g < GH_NUM_GROUPS; g++) {
        free(s->data[g]);
        free(s->opt[g]);
    }
}

static int read_all(gh_engine *e, gh_state_get get, void *ctx, loaded_state *s) {
    int st = get(ctx, "engine/header", &s->h, sizeof s->h);
    if (st) return st;
    state_header *h = &s->h;
    if (memcmp(h->magic, STATE_MAGIC, sizeof h->magic))
        return gh_fail(GH_EFORMAT, "engine_state_load: blob 'engine/header' does not start "
                       "with %s: not an engine state", STATE_MAGIC);
    if (h->version != STATE_VERSION)
        return gh_fail(GH_EFORMAT, "engine_state_load: blob 'engine/header' has version %u, "
                       "this gpuhours reads version %u", h->version, STATE_VERSION);
    if (h->layout_bytes > ((uint64_t)h->nparams + 1) * 4096)
        return gh_fail(GH_EFORMAT, "engine_state_load: blob 'engine/header' gives a layout of "
                       "%llu bytes for %u parameters", (unsigned long long)h->layout_bytes,
                       h->nparams);
    s->layout = malloc(h->layout_bytes ? h->layout_bytes : 1);
    if (!s->layout) return gh_fail(GH_ENOMEM, "engine_state_load: layout text");
    if ((st = get(ctx, "engine/layout", s->layout, h->layout_bytes))) return st;
    if ((st = check_layout(e, h, s->layout, h->layout_bytes))) return st;
    char name[64];
    for (int g = 0; g < GH_NUM_GROUPS; g++) {
        size_t n = e->group_numel[g];
        if (h->opt_kind[g] < OPT_NONE || h->opt_kind[g] > OPT_ADAM || h->adam_t[g] < 0)
            return gh_fail(GH_EFORMAT, "engine_state_load: blob 'engine/header': group %s has "
                           "optimizer kind %d and Adam step %d", group_names[g],
                           h->opt_kind[g], h->adam_t[g]);
        if (n) {
            snprintf(name, sizeof name, "engine/data/%s", group_names[g]);
            if (!(s->data[g] = malloc(n * sizeof(float))))
                return gh_fail(GH_ENOMEM, "engine_state_load: %s of %zu floats", name, n);
            if ((st = get(ctx, name, s->data[g], n * sizeof(float)))) return st;
        }
        size_t m = opt_floats(e, g, h->opt_kind[g]);
        if (m) {
            snprintf(name, sizeof name, "engine/opt/%s", group_names[g]);
            if (!(s->opt[g] = malloc(m * sizeof(float))))
                return gh_fail(GH_ENOMEM, "engine_state_load: %s of %zu floats", name, m);
            if ((st = get(ctx, name, s->opt[g], m * sizeof(float)))) return st;
        }
    }
    return GH_OK;
}

// Makes the group's optimizer state the saved kind (allocated when absent or of another kind,
// freed when the checkpoint had none) and copies the saved floats in.
static int put_opt(gh_engine *e, int g, int kind, const float *src) {
    if (e->opt_kind[g] != kind || (kind != OPT_NONE && !e->opt_state[g])) {
        dev_free(e, e->opt_state[g]);
        e->opt_state[g] = NULL;
        e->opt_kind[g] = OPT_NONE;
        if (kind == OPT_NONE) return GH_OK;
        void *p = NULL;
        size_t bytes = opt_floats(e, g, kind) * sizeof(float);
        int st = dev_alloc(e, &p, bytes);
        if (st) {
            dev_free(e, p);
            return eng_fail(e, st, "engine_state_load: %s optimizer state of group %s, %zu "
                            "bytes: %s", opt_names[kind], group_names[g], bytes,
                            gh_error_get());
        }
        e->opt_state[g] = p;
        e->opt_kind[g] = kind;
    }
    if (kind == OPT_NONE) return GH_OK;
    return eng_check(e, dev_h2d(e, e->opt_state[g], src, opt_floats(e, g, kind) * sizeof(float)));
}

int gh_engine_state_load(gh_engine *e, gh_state_get get, void *ctx) {
    int st = need_params(e, "engine_state_load");
    if (st) return st;
    loaded_state s;
    memset(&s, 0, sizeof s);
    st = read_all(e, get, ctx, &s);
    for (int g = 0; g < GH_NUM_GROUPS && !st; g++) {
        if (e->group_numel[g])
            st = eng_check(e, dev_h2d(e, e->group_data[g], s.data[g],
                                      e->group_numel[g] * sizeof(float)));
        if (!st) st = put_opt(e, g, s.h.opt_kind[g], s.opt[g]);
        if (!st) e->adam_t[g] = s.h.adam_t[g];
    }
    if (!st) {
        memcpy(e->rng_init.s, s.h.rng_init, sizeof s.h.rng_init);
        memcpy(e->rng_dropout.s, s.h.rng_dropout, sizeof s.h.rng_dropout);
        e->dropout_seed = s.h.dropout_seed;
        e->dropout_ops = s.h.dropout_ops;
        st = eng_check(e, drop_seed_put(e, 1));
        if (!st) st = gh_acc_write(e, GH_ACC_SLOTS, s.h.acc);
    }
    loaded_free(&s);
    return st;
}
