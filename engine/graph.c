// engine: capturable regions: the step signature and capture-safety check every backend runs,
// and CUDA graphs captured from the regions whose signature is stable, replayed while it stays
// so (issue 15: a DARTS step is 1e5 launches; launch latency, not bandwidth, sets its speed).
//
// Design.
// - What is captured: one region = one pass of forward and backward, the unit a caller
//   declares fixed (engine.h, gh_region_run). DARTS keys its passes: second order has five
//   distinct ones (the unrolled step's train pass, the validation pass at w', the HVP's two
//   train passes at w+ and w-, the weight step), first order two. Per pass, not per step,
//   because what lies between the passes (vector updates with the step's learning rate as a
//   host float, Adam's step count t, the data-parallel all-reduce, the optimizer steps) changes
//   every step or talks to other processes; it stays outside, uncaptured. Inside, the scalars
//   that change per step are on the device already (DARTS's eps = r/||v||: gh_*_dev).
// - When: only with gh_set_graphs(e, 1) (`--cuda_graphs 1`, `[run] cuda_graphs = 1`, default
//   off until measured on a GPU), only in regions (the DARTS passes, gh_train_step of a
//   gh_step_def with fixed_graph), only on CUDA; on ref/cpu the user setting is ignored with a
//   message, and gh_set_graphs(e, 1) emulates (below) for tests. Signatures are computed in
//   every region on every backend, graphs on or off.
// - What must hold for a replay to be correct: the same launches, in the same order, on the
//   same buffer addresses, with the same scalar arguments (all in the signature: kernel name,
//   every argument by value or address, shape structs by content, memsets, device copies and
//   uploads, the inputs of wsum/concat from the tape, the workspace address); no host
//   synchronisation, no allocation, no read to the host inside (the capture-safety check:
//   graph_forbid). The arena places tensors as a function of the op sequence alone, so the same
//   sequence lands on the same addresses. A capture happens on a run after one that was clean
//   and repeated the signature of the run before it (the first run of a pass sizes the arena and
//   the workspace), is launched for that run, and kept only if its signature equals the
//   previous run's; a replay first runs the region on the host
//   with its launches left out (the tape, arena and plans are host state later code reads) and
//   launches the graph only if that signature matches the graph's; else it rewinds the host
//   state and runs uncaptured.
// - Limits: a kernel's step number for the deferred error record (kctx.step) is an argument;
//   it is left out of the signature, so a replayed step's NaN or bad label is reported with the
//   step of the capture (the range "since the last check" stays right).
// - Per-step values a replay must see live in backend memory, not in the arguments: DARTS's
//   device scalars (above) and the dropout seed. step_begin uploads the step's seed into
//   dstate->drop_seed (outside every region, ordered on the stream before the next launch); a
//   dropout or drop-path launch takes its address and the op's index in the step, and the
//   kernel derives the op's mask seed gh_hash64(seed, index) where it runs. So final training
//   with drop_path > 0 repeats its signature from its second step and is captured, each
//   replay drawing that step's masks (tests/engine/test_graph_sig.c). drop_path's probability
//   (a launch argument) grows once an epoch: a miss and one more uncaptured step, then a new
//   capture.
// - Emulation (ref/cpu with graphs on): the same decisions; a "capture" and a "replay" run the
//   region with its launches left out, rewind, and run it again with them, checking that both
//   runs computed the same signature. It exercises the skipped runs and the rewind on machines
//   without a GPU; results equal those of graphs off bit for bit.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

enum { GRAPH_SLOTS = 32 };
enum { MODE_RUN = 0, MODE_SKIP = 1, MODE_CAPTURE = 2 };

typedef struct {
    const char *name;
    int index, used;
    gh_region_info info;
    uint64_t prev;           // the signature of the run before the last
    void *exec;              // the graph (CUDA: cudaGraphExec_t; emulation: a marker)
    uint64_t exec_sig;
    int misses, off;         // misses since the last replay; left uncaptured for good
} graph_slot;

// An upload made during a capture: queued to run on the stream before the graph's launch.
typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
} pending_h2d;

// The host state a region changes, to rewind to when its skipped run is not replayed.
typedef struct {
    size_t arena_used, arena_peak, tape_len, meta_used;
    int arena_nfree, tape_released, fplan_follow, status;
    meta_chunk *meta_cur;
    uint64_t dropout_ops;
} host_mark;

struct graph_state {
    graph_slot slot[GRAPH_SLOTS];
    int on;
    gh_graph_stats stats;
    // the region in progress
    graph_slot *cur;
    int mode;
    uint64_t h, launches, uploads;
    int64_t allocs0;
    const char *last;
    int forbidden;
    char what[256];
    pending_h2d *pend;
    int npend, pend_cap;
    arena_block *free_copy;   // host_mark's copy of the arena's free list
    int free_copy_cap;
};

// ---- the signature ---------------------------------------------------------------------------
// One multiply and shift per word: order-sensitive, and a few ns per launch (it runs for every
// launch of every region, graphs on or off). The signature guards against mistakes, not an
// adversary: a 64-bit multiplicative hash suffices.
static uint64_t mix(uint64_t h, uint64_t w) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

uint64_t sig_bytes(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        memcpy(&w, b + i, n - i < 8 ? n - i : 8);
        h = mix(h, w);
    }
    return h;
}

// A region's name by its characters (a key may be spelt at two call sites).
static uint64_t sig_name(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;   // FNV-1a
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

void graph_launch(gh_engine *e, const char *name, const uint64_t *w, int n) {
    struct graph_state *g = e->gs;
    // the kernel by its name's address: a string literal, fixed for the process
    uint64_t h = mix(g->h, sig_ptr(name));
    for (int i = 0; i < n; i++) h = mix(h, w[i]);
    g->h = mix(h, (uint64_t)n);
    g->launches++;
    g->last = name;
}

void graph_memop(gh_engine *e, const char *kind, const void *dst, const void *src, size_t bytes) {
    // an upload's source is the staging slot of this step: only where it lands counts
    uint64_t w[3] = {sig_ptr(dst), strcmp(kind, "h2d") ? sig_ptr(src) : 0, bytes};
    graph_launch(e, kind, w, 3);
}

void graph_forbid(gh_engine *e, const char *fn, const char *what) {
    struct graph_state *g = e->gs;
    if (g->forbidden++) return;
    snprintf(g->what, sizeof g->what, "%s in %s, after launch %" PRIu64 " (%s)", what, fn,
             g->launches, g->last ? g->last : "none");
}

void graph_tape(gh_engine *e) {
    if (!e->region) return;
    struct graph_state *g = e->gs;
    for (size_t i = 0; i < e->tape_len; i++) {
        const tape_entry *t = &e->tape[i];
        if (!t->k) continue;
        uint64_t h = mix(g->h, (uint64_t)t->k);
        for (int j = 0; j < t->k; j++) {
            h = mix(h, sig_ptr(t->xs && t->xs[j] ? t->xs[j]->data : NULL));
            if (t->ints) h = mix(h, (uint64_t)t->ints[j]);
        }
        g->h = h;
    }
}

// ---- slots and host state --------------------------------------------------------------------

static struct graph_state *gs_of(gh_engine *e) {
    if (!e->gs) {
        e->gs = calloc(1, sizeof *e->gs);
        if (!e->gs) eng_fail(e, GH_ENOMEM, "region: %zu bytes of host memory", sizeof *e->gs);
    }
    return e->gs;
}

static graph_slot *slot_find(const struct graph_state *g, const char *name, int index) {
    for (int i = 0; i < GRAPH_SLOTS && g->slot[i].used; i++) {
        const graph_slot *s = &g->slot[i];
        if (s->index == index && (s->name == name || !strcmp(s->name, name)))
            return (graph_slot *)s;
    }
    return NULL;
}

static int is_cuda(const gh_engine *e) { return e->cfg.backend == GH_BACKEND_CUDA; }

static void exec_drop(gh_engine *e, graph_slot *s) {
    if (!s->exec) return;
    if (is_cuda(e) && !dev_enter(e)) {
        gh_cuda_stream_sync(e->kc.stream);   // its launches have completed
        gh_cuda_graph_destroy(s->exec);
    }
    s->exec = NULL;
}

static int mark_take(gh_engine *e, host_mark *m) {
    struct graph_state *g = e->gs;
    if (e->arena_nfree > g->free_copy_cap) {
        arena_block *c = realloc(g->free_copy, (size_t)e->arena_nfree * sizeof *c);
        if (!c) return eng_fail(e, GH_ENOMEM, "region: %d arena blocks", e->arena_nfree);
        g->free_copy = c;
        g->free_copy_cap = e->arena_nfree;
    }
    if (e->arena_nfree)
        memcpy(g->free_copy, e->arena_free, (size_t)e->arena_nfree * sizeof *g->free_copy);
    *m = (host_mark){e->arena_used, e->arena_peak, e->tape_len, e->meta_cur ? e->meta_cur->used : 0,
                     e->arena_nfree, e->tape_released, e->fplan_follow, e->status, e->meta_cur,
                     e->dropout_ops};
    return GH_OK;
}

// The tensors the region made live in the scratch and arena past the mark: dropped with them.
// Tensors from before it keep their storage (regions give back only what they produced).
static void mark_rewind(gh_engine *e, const host_mark *m) {
    e->arena_used = m->arena_used;
    e->arena_peak = m->arena_peak;
    e->arena_nfree = m->arena_nfree;
    if (m->arena_nfree)
        memcpy(e->arena_free, e->gs->free_copy, (size_t)m->arena_nfree * sizeof *e->arena_free);
    e->tape_len = m->tape_len;
    e->meta_cur = m->meta_cur;
    if (m->meta_cur) m->meta_cur->used = m->meta_used;
    e->tape_released = m->tape_released;
    e->fplan_follow = m->fplan_follow;
    e->status = m->status;
    e->dropout_ops = m->dropout_ops;
}

// ---- one run ------------------------------------------------------------------------------------

_Static_assert(sizeof(kctx) == 7 * 8, "kctx has a new field: hash it in run_begin (a graph "
               "captured under one value must not replay under another)");

static void run_begin(gh_engine *e, graph_slot *s, int mode) {
    struct graph_state *g = e->gs;
    g->cur = s;
    g->mode = mode;
    // what every kernel gets besides its arguments: the kctx (not its step: see the top)
    g->h = mix(sig_name(s->name), (uint64_t)s->index);
    g->h = mix(mix(g->h, sig_ptr(e->kc.ws)), e->kc.ws_floats);
    g->h = mix(mix(mix(g->h, (uint64_t)e->kc.deterministic), sig_ptr(e->kc.flags)),
               sig_ptr(e->kc.allocs));
    g->launches = g->uploads = 0;
    g->allocs0 = e->counters.allocs;
    g->last = NULL;
    g->forbidden = 0;
    g->what[0] = 0;
    g->npend = 0;
    e->region = 1;
    e->gskip = mode != MODE_RUN;
}

// Ends the run: its signature and check, without recording them in the slot yet.
static void run_end(gh_engine *e) {
    struct graph_state *g = e->gs;
    e->region = 0;
    e->gskip = 0;
    int64_t allocs = e->counters.allocs - g->allocs0;
    if (allocs > 0 && !g->forbidden) {
        // kernels count their own scratch (kctx.allocs) without a dev_alloc to name them
        e->region = 1;
        char what[64];
        snprintf(what, sizeof what, "%" PRId64 " backend allocation(s)", allocs);
        graph_forbid(e, "a kernel or the input staging", what);
        e->region = 0;
    }
    g->h = mix(g->h, sig_ptr(e->kc.ws));
}

static void run_record(gh_engine *e, graph_slot *s) {
    struct graph_state *g = e->gs;
    gh_region_info *in = &s->info;
    s->prev = in->signature;
    in->stable = in->runs > 0 && g->h == in->signature;
    in->signature = g->h;
    in->launches = g->launches;
    in->forbidden = g->forbidden != 0;
    snprintf(in->what, sizeof in->what, "%s", g->what);
    in->runs++;
}

static void note(gh_engine *e, graph_slot *s, const char *fmt, const char *why) {
    gh_graph_stats *st = &e->gs->stats;
    char buf[200];
    snprintf(buf, sizeof buf, fmt, why);
    snprintf(st->note, sizeof st->note, "region %s[%d] (step %" PRIu64 "): %s", s->name, s->index,
             e->step, buf);
}

static void miss(gh_engine *e, graph_slot *s, const char *why) {
    struct graph_state *g = e->gs;
    exec_drop(e, s);
    g->stats.misses++;
    if (++s->misses >= GH_GRAPH_MAX_MISSES) {
        s->off = 1;
        g->stats.fallbacks++;
        note(e, s, "%s; uncaptured from now on", why);
    } else {
        note(e, s, "%s; captured again at a later run", why);
    }
}

static int run_plain(gh_engine *e, graph_slot *s, gh_region_fn fn, void *ctx) {
    run_begin(e, s, MODE_RUN);
    int st = fn(ctx, e);
    run_end(e);
    run_record(e, s);
    e->gs->stats.uncaptured++;
    return st;
}

// The queued uploads of a capture, in order, before its graph (as dev_h2d would have made them).
static int pending_flush(gh_engine *e) {
    struct graph_state *g = e->gs;
    int st = GH_OK;
    for (int i = 0; i < g->npend && !st; i++)
        st = gh_cuda_memcpy_h2d_async(g->pend[i].dst, g->pend[i].src, g->pend[i].bytes,
                                      e->kc.stream);
    // the staging half may be written again once this event has passed (dev_stage_step)
    if (!st && g->npend) st = gh_cuda_event_record(e->stage.done[e->stage.cur], e->kc.stream);
    g->npend = 0;
    return st;
}

int graph_h2d(gh_engine *e, void *dst, const void *staged, size_t bytes) {
    struct graph_state *g = e->gs;
    graph_memop(e, "h2d", dst, staged, bytes);
    if (g->launches > ++g->uploads)
        graph_forbid(e, "dev_h2d", "an upload after the region's first launch (a graph's inputs "
                     "are copied before it runs)");
    if (g->mode != MODE_CAPTURE) return 0;
    if (g->npend == g->pend_cap) {
        int cap = g->pend_cap ? 2 * g->pend_cap : 8;
        pending_h2d *p = realloc(g->pend, (size_t)cap * sizeof *p);
        if (!p) return -1;
        g->pend = p;
        g->pend_cap = cap;
    }
    g->pend[g->npend++] = (pending_h2d){dst, staged, bytes};
    return 1;
}

// A graph launch: CUDA launches it; emulation rewinds and runs fn again with its launches,
// which must compute the same signature.
static int launch(gh_engine *e, graph_slot *s, const host_mark *m, gh_region_fn fn, void *ctx,
                  void *exec) {
    struct graph_state *g = e->gs;
    if (is_cuda(e)) {
        int st = dev_enter(e);
        if (!st) st = pending_flush(e);
        return eng_check(e, st ? st : gh_cuda_graph_launch(exec, e->kc.stream));
    }
    uint64_t want = g->h, n = g->launches;
    mark_rewind(e, m);
    run_begin(e, s, MODE_RUN);
    int st = fn(ctx, e);
    run_end(e);
    if (!st && (g->h != want || g->launches != n))
        return eng_fail(e, GH_EINVAL, "region %s[%d]: emulated graph: the run with launches "
                        "(%" PRIu64 ") differs from the run without (%" PRIu64 ")", s->name,
                        s->index, g->launches, n);
    return st;
}

static int run_capture(gh_engine *e, graph_slot *s, gh_region_fn fn, void *ctx) {
    struct graph_state *g = e->gs;
    host_mark m;
    int st = mark_take(e, &m);
    if (st) return st;
    void *exec = NULL;
    int cuda = is_cuda(e);
    char why[320] = "";
    if (cuda && ((st = dev_enter(e)) || (st = gh_cuda_capture_begin(e->kc.stream)))) {
        snprintf(why, sizeof why, "capture could not start: %s", gh_error_get());
        s->off = 1;
        g->stats.fallbacks++;
        note(e, s, "%s; uncaptured from now on", why);
        e->status = m.status;
        return run_plain(e, s, fn, ctx);
    }
    run_begin(e, s, cuda ? MODE_CAPTURE : MODE_SKIP);
    // CUDA: the launches go into the graph (gskip is only for emulation and replays)
    if (cuda) e->gskip = 0;
    st = fn(ctx, e);
    run_end(e);
    int cst = cuda ? gh_cuda_capture_end(e->kc.stream, &exec) : GH_OK;
    if (!cuda) exec = s;   // a marker
    if (st || cst || g->forbidden) {
        // nothing ran: rewind and run it uncaptured. A capture that failed is given up; one
        // that did what a graph cannot hold (the region changed since its clean run) a miss.
        snprintf(why, sizeof why, "%s", st ? "capture failed: the region failed"
                 : cst ? "capture failed: " : g->what);
        if (cst) snprintf(why + strlen(why), sizeof why - strlen(why), "%s", gh_error_get());
        if (cuda && exec) gh_cuda_graph_destroy(exec);
        mark_rewind(e, &m);
        g->npend = 0;
        if (st || cst) {
            s->off = 1;
            g->stats.fallbacks++;
            note(e, s, "%s; uncaptured from now on", why);
        } else {
            miss(e, s, why);
        }
        return run_plain(e, s, fn, ctx);
    }
    uint64_t h = g->h;
    st = launch(e, s, &m, fn, ctx, exec);
    g->h = h;
    run_record(e, s);
    g->stats.captures++;
    if (st) {
        if (cuda) gh_cuda_graph_destroy(exec);
        return st;
    }
    if (s->info.stable) {
        s->exec = exec;
        s->exec_sig = h;
    } else {
        s->exec = exec;   // launched for this run only
        miss(e, s, "the captured run's signature differs from the run before");
    }
    return GH_OK;
}

static int run_replay(gh_engine *e, graph_slot *s, gh_region_fn fn, void *ctx) {
    struct graph_state *g = e->gs;
    host_mark m;
    int st = mark_take(e, &m);
    if (st) return st;
    run_begin(e, s, MODE_SKIP);
    st = fn(ctx, e);
    run_end(e);
    if (!st && !g->forbidden && g->h == s->exec_sig) {
        uint64_t h = g->h;
        st = launch(e, s, &m, fn, ctx, s->exec);
        g->h = h;
        run_record(e, s);
        g->stats.replays++;
        s->misses = 0;   // a region that changes now and then (an epoch's last batch) is fine
        return st;
    }
    char why[300];
    snprintf(why, sizeof why, "%s", st ? "the region failed without its launches"
             : g->forbidden ? g->what : "its launches differ from the captured graph's");
    mark_rewind(e, &m);
    miss(e, s, why);
    return run_plain(e, s, fn, ctx);
}

// ---- the API ------------------------------------------------------------------------------------

int gh_region_run(gh_engine *e, const char *name, int index, gh_region_fn fn, void *ctx) {
    if (e->region || e->dry || e->status) return fn(ctx, e);   // inside another region: its part
    struct graph_state *g = gs_of(e);
    if (!g) return e->status;
    graph_slot *s = slot_find(g, name, index);
    if (!s) {
        int i = 0;
        while (i < GRAPH_SLOTS && g->slot[i].used) i++;
        if (i == GRAPH_SLOTS)
            return eng_fail(e, GH_EINVAL, "region %s[%d]: more than %d regions in one engine",
                            name, index, GRAPH_SLOTS);
        s = &g->slot[i];
        s->used = 1;
        s->name = name;
        s->index = index;
    }
    if (!g->on || s->off) return run_plain(e, s, fn, ctx);
    if (s->exec) return run_replay(e, s, fn, ctx);
    // captured once a run was clean and repeated the run before it: a graph that changes every
    // step (ENAS) is never captured, one that settles is, by its third run
    if (s->info.runs > 1 && !s->info.forbidden && s->info.stable) return run_capture(e, s, fn, ctx);
    return run_plain(e, s, fn, ctx);
}

int gh_region_get(const gh_engine *e, const char *name, int index, gh_region_info *out) {
    const graph_slot *s = e->gs ? slot_find(e->gs, name, index) : NULL;
    if (!s) return gh_fail(GH_EINVAL, "region %s[%d]: has not run", name, index);
    *out = s->info;
    return GH_OK;
}

int gh_set_graphs(gh_engine *e, int on) {
    struct graph_state *g = gs_of(e);
    if (!g) return 0;
    int was = g->on;
    g->on = on != 0;
    if (!g->on) graph_invalidate(e, NULL);
    return was;
}

void gh_graph_stats_get(const gh_engine *e, gh_graph_stats *out) {
    if (e->gs) *out = e->gs->stats;
    else memset(out, 0, sizeof *out);
}

void graph_invalidate(gh_engine *e, const char *why) {
    struct graph_state *g = e->gs;
    if (!g) return;
    for (int i = 0; i < GRAPH_SLOTS; i++)
        if (g->slot[i].exec) {
            exec_drop(e, &g->slot[i]);
            if (why) note(e, &g->slot[i], "graph dropped: %s", why);
        }
}

int graph_capturing(const gh_engine *e) {
    return e->region && e->gs && e->gs->mode == MODE_CAPTURE;
}

void graph_free(gh_engine *e) {
    if (!e->gs) return;
    graph_invalidate(e, NULL);
    free(e->gs->pend);
    free(e->gs->free_copy);
    free(e->gs);
    e->gs = NULL;
}
