// engine (private): the engine struct, tensor nodes, the tape entry, the arena and host
// scratch allocators, and the backend dispatch macro shared by the engine's .c files.
// Nothing outside engine/ includes this header.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

// A tensor as the engine sees it: the public struct first (so a gh_tensor* is a tnode*), the
// engine that owns it (device-mismatch check) and, for a view (flatten), the tensor whose
// storage it shares so that its gradient aliases the base gradient.
typedef struct tnode {
    gh_tensor t;
    const gh_engine *owner;
    struct tnode *base;
} tnode;

typedef struct tape_entry tape_entry;
// A backward closure: called only when the entry's output has received a gradient.
typedef int (*tape_bwd)(gh_engine *e, const tape_entry *t);

// One recorded op. Fixed-arity ops use in[]; wsum and concat keep their k inputs in xs
// (a host array in the step's scratch). The union holds the op's kernel shape.
struct tape_entry {
    tape_bwd bwd;
    const char *op;
    gh_tensor *out;
    gh_tensor *in[4];
    gh_tensor **xs;
    int k;
    int *ints;            // concat channel counts (host scratch)
    union {
        conv2d_shape conv;
        bn_shape bn;
        pool_shape pool;
        int i[8];
    } sh;
    float f[2];
    uint64_t seed;
    float *save[2];       // arena buffers kept for backward (bn mean/invstd, xent probs)
    const int *labels;
};

// Host scratch for tensor nodes and small per-op arrays: a chain of chunks kept across steps,
// so after the first steps the training loop allocates nothing.
typedef struct meta_chunk {
    struct meta_chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char mem[];
} meta_chunk;

// A declared parameter: its node, group, init and, after gh_params_alloc, its offset in the
// group's flat buffer.
typedef struct {
    tnode *node;
    int group;
    gh_init init;
    int fan_in;
    size_t offset;
} param_slot;

enum { OPT_NONE = 0, OPT_SGD = 1, OPT_ADAM = 2 };

struct gh_engine {
    gh_engine_config cfg;
    int status;             // sticky: first failure since the last step_begin
    int training;
    int grad_enabled;
    kctx kc;                // ws, stream, deterministic flag handed to every kernel

    // activation arena (backend memory): a bump allocator reset by step_begin
    unsigned char *arena;
    size_t arena_cap, arena_used, arena_peak;

    meta_chunk *meta_head, *meta_cur;

    tape_entry *tape;
    size_t tape_len, tape_cap;

    // parameters: declared (nodes on the host), then placed in one flat buffer per group
    param_slot *params;
    int nparams, params_cap;
    int params_allocated;
    size_t group_numel[GH_NUM_GROUPS];
    float *group_data[GH_NUM_GROUPS];
    float *group_grad[GH_NUM_GROUPS];

    // optimizer state per group: SGD momentum (n floats) or Adam m and v (2n floats: m, v)
    float *opt_state[GH_NUM_GROUPS];
    int opt_kind[GH_NUM_GROUPS];
    int adam_t[GH_NUM_GROUPS];

    float **buffers;        // gh_buffer allocations, freed with the engine
    int nbuffers, buffers_cap;

    float *ws;              // kernel workspace, grown only when a bigger one is first needed
    size_t ws_floats;

    void *host_tmp;         // host staging for device reads (xent on CUDA)
    size_t host_tmp_bytes;

    gh_rng rng_init;        // parameter initialisation, declaration order
    gh_rng rng_dropout;     // one seed per step
    uint64_t dropout_seed;
    uint64_t dropout_ops;   // dropout ops drawn this step: each gets its own mask seed

    double acc[GH_ACC_SLOTS];   // gh_acc_* running sums (metrics.c)
    gh_counters counters;       // host syncs and backend allocations (device.c)
};

// ---- status ------------------------------------------------------------------------------
// Records a failure as the sticky status (the first one wins) and returns it.
int eng_fail(gh_engine *e, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// After a kernel or allocator call that set gh_error itself: record st if non-zero.
int eng_check(gh_engine *e, int st);

// ---- shapes ------------------------------------------------------------------------------
typedef struct { char s[64]; } shape_str;
shape_str shp(const gh_tensor *t);     // "[8,16,32,32]" (or "NULL")
int same_shape(const gh_tensor *a, const gh_tensor *b);

// ---- memory ------------------------------------------------------------------------------
// Backend memory (host for ref/cpu, device for cuda).
int dev_alloc(gh_engine *e, void **p, size_t bytes);
void dev_free(gh_engine *e, void *p);
int dev_h2d(gh_engine *e, void *dst, const void *src, size_t bytes);
int dev_d2h(gh_engine *e, void *dst, const void *src, size_t bytes);
int dev_d2d(gh_engine *e, void *dst, const void *src, size_t bytes);
int dev_zero(gh_engine *e, void *p, size_t bytes);
int dev_ws(gh_engine *e, size_t floats);            // grows e->ws to at least floats
void *host_tmp(gh_engine *e, size_t bytes);         // grows e->host_tmp

void *arena_alloc(gh_engine *e, const char *op, size_t bytes);  // NULL + sticky on exhaustion
void *meta_alloc(gh_engine *e, size_t bytes);                   // host, step lifetime

// ---- tensors and the tape ------------------------------------------------------------------
// Validates an op input: non-NULL (NULL propagates silently when an error is already
// recorded), owned by this engine, storage allocated.
int op_in(gh_engine *e, const char *op, const char *what, const gh_tensor *t);
// A fresh arena tensor; requires_grad = grad_enabled && any of the `nsrc` sources require it.
gh_tensor *new_tensor(gh_engine *e, const char *op, int ndim, const int *shape,
                      gh_tensor *const *src, int nsrc);
// Appends an entry for `out` (only call when out->requires_grad); NULL on host OOM.
tape_entry *tape_push(gh_engine *e, const char *op, tape_bwd bwd, gh_tensor *out);
// The gradient buffer of t for backward: NULL when t needs none, else allocated in the arena
// and zeroed on first use (views alias their base's gradient).
float *grad_of(gh_engine *e, const char *op, gh_tensor *t);
// d(loss)/d(t) for a one-element tensor, read to the host.
int read_scalar(gh_engine *e, const float *p, float *out);

// ---- backend dispatch ----------------------------------------------------------------------
// K(e, name, args...) calls name_ref / name_cpu / name_cuda with the engine's kernel context.
// The _cuda symbols exist only in CUDA builds.
#ifdef GH_HAVE_CUDA
#define K(e, name, ...)                                                              \
    ((e)->cfg.backend == GH_BACKEND_CUDA  ? name##_cuda(&(e)->kc, __VA_ARGS__)       \
     : (e)->cfg.backend == GH_BACKEND_CPU ? name##_cpu(&(e)->kc, __VA_ARGS__)        \
                                          : name##_ref(&(e)->kc, __VA_ARGS__))
#else
#define K(e, name, ...)                                                              \
    ((e)->cfg.backend == GH_BACKEND_CPU ? name##_cpu(&(e)->kc, __VA_ARGS__)          \
                                        : name##_ref(&(e)->kc, __VA_ARGS__))
#endif
// Runs a kernel call and records a failure as the sticky status; evaluates to the status.
#define KCALL(e, name, ...) eng_check((e), K(e, name, __VA_ARGS__))

// Parameters of one group: used by params.c and optim.c.
int group_valid(gh_engine *e, const char *fn, int group);
