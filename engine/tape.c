// engine: the tape (ops appended in forward order, rebuilt every step because ENAS samples a
// new graph each step) and the reverse pass over it. Activation gradients are allocated in
// the arena and zeroed when a consumer first writes them; kernels then ADD into them.
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

// gh_backward_ready's report during the walk: the used parameters by decreasing first use.
typedef struct {
    const int *first, *order;
    int n, next, group;
    gh_grad_ready_fn ready;
    void *ctx;
} ready_walk;
static int backward_walk(gh_engine *e, gh_tensor *loss, ready_walk *w);

tape_entry *tape_push(gh_engine *e, const char *op, tape_bwd bwd, gh_tensor *out) {
    if (e->tape_len == e->tape_cap) {
        size_t cap = e->tape_cap ? 2 * e->tape_cap : 256;
        tape_entry *t = realloc(e->tape, cap * sizeof *t);
        if (!t) {
            eng_fail(e, GH_ENOMEM, "%s: tape of %zu entries", op, cap);
            return NULL;
        }
        e->tape = t;
        e->tape_cap = cap;
    }
    tape_entry *t = &e->tape[e->tape_len++];
    memset(t, 0, sizeof *t);
    t->bwd = bwd;
    t->op = op;
    t->out = out;
    t->keep = KEEP_ALL;
    tnode *n = (tnode *)out;
    n->produced = !n->base && !out->name && (unsigned char *)out->data >= e->arena &&
                  (unsigned char *)out->data < e->arena + e->arena_cap;
    if (e->release == 2 && e->fplan.ready && e->fplan_follow) fwd_plan_apply(e, e->tape_len - 1);
    return t;
}

// ---- the release plan: what the reverse pass gives back, and when ----------------------------
// An entry's backward reads its output, its inputs and their gradients, nothing else. Going
// backwards, a tensor is therefore dead once the lowest-index entry that refers to it has been
// processed: that is usually its producer, but not always (the LSTM cell's c entry reads h,
// produced by the next entry). Views (flatten) alias their base, so a reference to a view is
// one to its base. Only entry outputs are given back, never the loss, inputs or parameters.

static tnode *plan_node(gh_tensor *x) {
    tnode *n = (tnode *)x;
    return n && n->base ? n->base : n;
}

// Sets low for every tensor the tape refers to (forward order: the first reference is the
// lowest) and returns, per tape index, the list of produced tensors to give back after it
// (NULL with the sticky status on host OOM).
static tnode **release_plan(gh_engine *e, const gh_tensor *loss) {
    size_t n = e->tape_len;
    tnode **at = meta_alloc(e, (n ? n : 1) * sizeof *at);
    if (!at) return NULL;
    for (size_t i = 0; i < n; i++) {
        tape_entry *t = &e->tape[i];
        plan_node(t->out)->low = -1;
        for (int a = 0; a < 4 + t->k; a++) {
            tnode *x = plan_node(a < 4 ? t->in[a] : t->xs ? t->xs[a - 4] : NULL);
            if (x) x->low = -1;
        }
        at[i] = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        tape_entry *t = &e->tape[i];
        for (int a = -1; a < 4 + t->k; a++) {
            tnode *x = plan_node(a < 0 ? t->out : a < 4 ? t->in[a] : t->xs ? t->xs[a - 4] : NULL);
            if (!x || x->low >= 0) continue;
            x->low = (int)i;
            if (x->produced && &x->t != loss) {
                x->next_rel = at[i];
                at[i] = x;
            }
        }
    }
    return at;
}

// ---- the forward plan (release level 2) ---------------------------------------------------------
// A produced tensor that no entry's backward reads (its bit clear in every referring entry's
// keep) is dead in the forward once its last reader (the highest referring index) has been
// recorded. The plan lists, per index j, the producers p whose output dies at j; the next step
// gives those back as it records j, while its tape matches.

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

int fwd_plan_make(gh_engine *e, const gh_tensor *loss) {
    fwd_plan *f = &e->fplan;
    size_t n = e->tape_len, cap = f->cap, icap = f->items_cap;
    f->ready = 0;
    if (grow((void **)&f->op, &cap, n + 1, sizeof *f->op) ||
        (cap = f->cap, grow((void **)&f->numel, &cap, n + 1, sizeof *f->numel)) ||
        (cap = f->cap, grow((void **)&f->start, &cap, n + 1, sizeof *f->start)))
        return eng_fail(e, GH_ENOMEM, "forward plan: %zu entries", n);
    f->cap = cap;
    for (size_t i = 0; i < n; i++) {
        tape_entry *t = &e->tape[i];
        for (int a = -1; a < 4 + t->k; a++) {
            tnode *x = plan_node(a < 0 ? t->out : a < 4 ? t->in[a] : t->xs ? t->xs[a - 4] : NULL);
            if (x) x->lastfwd = -1, x->needbwd = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        tape_entry *t = &e->tape[i];
        if (t->keep & KEEP_OUT) plan_node(t->out)->needbwd = 1;
        for (int a = 0; a < 4 + t->k; a++) {
            tnode *x = plan_node(a < 4 ? t->in[a] : t->xs ? t->xs[a - 4] : NULL);
            if (!x) continue;
            x->lastfwd = (int)i;
            if (t->keep & (a < 4 ? KEEP_IN(a) : KEEP_XS)) x->needbwd = 1;
        }
    }
    // count per dying index, then place (a counting sort by j)
    for (size_t j = 0; j <= n; j++) f->start[j] = 0;
    size_t m = 0;
    for (size_t p = 0; p < n; p++) {
        tnode *x = (tnode *)e->tape[p].out;
        if (!x->produced || x->needbwd || &x->t == loss || x->lastfwd <= (int)p) continue;
        f->start[x->lastfwd + 1]++;
        m++;
    }
    if (grow((void **)&f->items, &icap, m + 1, sizeof *f->items))
        return eng_fail(e, GH_ENOMEM, "forward plan: %zu items", m);
    f->items_cap = icap;
    for (size_t j = 0; j < n; j++) f->start[j + 1] += f->start[j];
    for (size_t p = 0; p < n; p++) {
        tnode *x = (tnode *)e->tape[p].out;
        if (!x->produced || x->needbwd || &x->t == loss || x->lastfwd <= (int)p) continue;
        f->items[f->start[x->lastfwd]++] = (int)p;
    }
    for (size_t j = n; j > 0; j--) f->start[j] = f->start[j - 1];   // back to starts
    f->start[0] = 0;
    for (size_t i = 0; i < n; i++) {
        f->op[i] = e->tape[i].op;
        f->numel[i] = e->tape[i].out->numel;
    }
    f->len = n;
    f->ready = 1;
    return GH_OK;
}

void fwd_plan_apply(gh_engine *e, size_t j) {
    fwd_plan *f = &e->fplan;
    const tape_entry *t = &e->tape[j];
    if (j >= f->len || f->op[j] != t->op || f->numel[j] != t->out->numel) {
        e->fplan_follow = 0;   // another graph: follow no further (the backward plans anew)
        return;
    }
    for (int k = f->start[j]; k < f->start[j + 1]; k++) {
        tnode *x = (tnode *)e->tape[f->items[k]].out;
        if (!x->produced || !x->t.data) continue;
        arena_release(e, x->t.data, x->t.numel * sizeof(float));
        x->t.data = NULL;
    }
}

static void release_after(gh_engine *e, tnode *x) {
    for (; x; x = x->next_rel) {
        size_t bytes = x->t.numel * sizeof(float);
        if (x->t.grad) arena_release(e, x->t.grad, bytes);
        if (x->t.data) arena_release(e, x->t.data, bytes);   // NULL: the forward gave it back
        x->t.grad = NULL;
        x->t.data = NULL;   // a read after backward fails loudly (op_in) instead of reading garbage
        x->produced = 0;
    }
}

float *grad_of(gh_engine *e, const char *op, gh_tensor *t) {
    if (!t || !t->requires_grad) return NULL;
    if (t->grad && e->grad_off) {
        // a parameter's gradient lies in its group's buffer: none when that group is off
        for (int g = 0; g < GH_NUM_GROUPS; g++)
            if ((e->grad_off & (1u << g)) && e->group_grad[g] && t->grad >= e->group_grad[g] &&
                t->grad < e->group_grad[g] + e->group_numel[g])
                return NULL;
    }
    if (t->grad) return t->grad;
    tnode *n = (tnode *)t;
    if (n->base) {
        // a view shares its base's storage, so it shares its gradient too
        float *g = grad_of(e, op, &n->base->t);
        t->grad = g;
        return g;
    }
    float *g = arena_alloc(e, op, t->numel * sizeof(float));
    if (!g) return NULL;
    if (eng_check(e, dev_zero(e, g, t->numel * sizeof(float)))) return NULL;
    t->grad = g;
    return g;
}

// Activation gradients start from nothing on every reverse pass, so that a second backward
// over the same tape (another loss of the same forward) is not polluted by the first one.
// Parameter gradients (named tensors) keep accumulating, as the contract says.
static void forget_activation_grads(gh_engine *e) {
    for (size_t i = 0; i < e->tape_len; i++) {
        tape_entry *t = &e->tape[i];
        t->out->grad = NULL;
        for (int j = 0; j < 4; j++)
            if (t->in[j] && !t->in[j]->name) t->in[j]->grad = NULL;
        for (int j = 0; j < t->k; j++)
            if (t->xs[j] && !t->xs[j]->name) t->xs[j]->grad = NULL;
    }
}

// Parameter lookup by tensor address (qsort/bsearch: the tape has thousands of inputs).
typedef struct {
    const gh_tensor *t;
    int j;
} pslot;

static int pslot_cmp(const void *a, const void *b) {
    const gh_tensor *x = ((const pslot *)a)->t, *y = ((const pslot *)b)->t;
    return (x > y) - (x < y);
}

// first[j]: the tape index at which parameter j of `group` is used first (forward order), after
// whose backward nothing adds into its gradient; -1: not used this step (or another group).
// order: the group's used parameters by decreasing first use (the order backward finishes them),
// *nused of them.
static void first_uses(gh_engine *e, int group, pslot *byaddr, int *first, int *order,
                       int *nused) {
    int np = e->nparams, n = 0;
    for (int j = 0; j < np; j++) {
        first[j] = -1;
        if (e->params[j].group == group) byaddr[n++] = (pslot){&e->params[j].node->t, j};
    }
    qsort(byaddr, (size_t)n, sizeof *byaddr, pslot_cmp);
    for (size_t i = 0; i < e->tape_len; i++) {
        const tape_entry *t = &e->tape[i];
        for (int a = 0; a < 4 + t->k; a++) {
            const gh_tensor *x = a < 4 ? t->in[a] : t->xs ? t->xs[a - 4] : NULL;
            if (!x || !x->name) continue;   // parameters alone have names
            pslot key = {x, 0}, *hit = bsearch(&key, byaddr, (size_t)n, sizeof key, pslot_cmp);
            if (hit && first[hit->j] < 0) first[hit->j] = (int)i;
        }
    }
    // by decreasing first use: a counting pass over the tape would do; params are few
    int m = 0;
    for (int j = 0; j < np; j++)
        if (first[j] >= 0) order[m++] = j;
    for (int a = 1; a < m; a++) {   // insertion sort, stable
        int v = order[a], b = a;
        for (; b > 0 && first[order[b - 1]] < first[v]; b--) order[b] = order[b - 1];
        order[b] = v;
    }
    *nused = m;
}

int gh_backward_ready(gh_engine *e, gh_tensor *loss, int group, gh_grad_ready_fn ready,
                      void *ctx) {
    if (e->status) return e->status;
    int np = e->nparams, nused = 0;
    size_t cnt = (size_t)(np > 0 ? np : 1);
    int *first = malloc(sizeof(int) * cnt), *order = malloc(sizeof(int) * cnt);
    pslot *byaddr = malloc(sizeof(pslot) * cnt);
    if (!first || !order || !byaddr) {
        free(first), free(order), free(byaddr);
        return eng_fail(e, GH_ENOMEM, "backward: %d parameters", np);
    }
    first_uses(e, group, byaddr, first, order, &nused);
    // parameters of the group that nothing used are final already (zeroed, never added to)
    for (int j = 0; j < np; j++)
        if (e->params[j].group == group && first[j] < 0) ready(ctx, e, group, j);
    ready_walk w = {first, order, nused, 0, group, ready, ctx};
    int st = backward_walk(e, loss, &w);
    free(first);
    free(order);
    free(byaddr);
    return st;
}

int gh_backward(gh_engine *e, gh_tensor *loss) { return backward_walk(e, loss, NULL); }

static int backward_walk(gh_engine *e, gh_tensor *loss, ready_walk *w) {
    if (e->status) return e->status;
    if (!op_in(e, "backward", "loss", loss)) return e->status;
    if (loss->numel != 1)
        return eng_fail(e, GH_EINVAL, "backward: loss %s has %zu elements, expected a scalar",
                        shp(loss).s, loss->numel);
    // The finiteness of the loss is checked on the backend (no read): a non-finite loss is
    // recorded and reported at the next read (engine.h). Only a loss the host has already read
    // and seen non-finite is refused here, as nothing then costs a synchronisation.
    if (((const tnode *)loss)->host_nonfinite)
        return eng_fail(e, GH_ENAN, "backward: loss is NaN or infinite; nothing was propagated "
                        "(lower the learning rate, clip gradients or check the inputs)");
    if (!loss->requires_grad)
        return eng_fail(e, GH_EINVAL, "backward: the loss does not depend on any tensor that "
                        "requires a gradient (gradients disabled, or no parameters used)");
    if (e->tape_released)
        return eng_fail(e, GH_EINVAL, "backward: this step's tape was given back by an earlier "
                        "backward (gh_set_release(e, 0) before it keeps the tape for another "
                        "reverse pass)");
    forget_activation_grads(e);
    graph_tape(e);   // a capturable region: the k-ary entries' inputs in its signature
    if (!loss->name) loss->grad = NULL;
    tnode **rel = NULL;
    if (e->release == 2 && fwd_plan_make(e, loss)) return e->status;
    if (e->release) {
        rel = release_plan(e, loss);
        if (!rel) return e->status;
        e->tape_released = 1;
    }
    if (KCALL(e, check_finite, 1, loss->data, GH_KFLAG_LOSS)) return e->status;
    float *g = grad_of(e, "backward", loss);
    if (!g) return e->status;
    if (KCALL(e, fill, 1, 1.0f, g)) return e->status;
    for (size_t i = e->tape_len; i-- > 0;) {
        const tape_entry *t = &e->tape[i];
        if (t->out->grad) {   // else nothing downstream reached this op
            int st = t->bwd(e, t);
            if (st) return eng_check(e, st);
        }
        if (rel) release_after(e, rel[i]);
        // the parameters first used here are final: no entry before i adds into them
        for (; w && w->next < w->n && w->first[w->order[w->next]] == (int)i; w->next++)
            w->ready(w->ctx, e, w->group, w->order[w->next]);
    }
    return e->status;
}
