// engine (private): the engine struct, tensor nodes, the tape entry, the arena and host
// scratch allocators, and the backend dispatch macro shared by the engine's .c files.
// Nothing outside engine/ includes this header.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine.h"

// A tensor as the engine sees it: the public struct first (so a gh_tensor* is a tnode*), the
// engine that owns it (device-mismatch check) and, for a view (flatten), the tensor whose
// storage it shares so that its gradient aliases the base gradient.
typedef struct tnode {
    gh_tensor t;
    const gh_engine *owner;
    struct tnode *base;
    int host_nonfinite;   // gh_scalar read it and found NaN/Inf (gh_backward then refuses it)
    int produced;         // the output of a tape entry (its data then goes back to the arena
                          // once the reverse pass has finished with it)
    int low;              // reverse pass: the lowest tape index that refers to it (its last
                          // reader going backwards), -1 when none; set by the release plan
    struct tnode *next_rel;   // reverse pass: the next tensor released at the same index
    int lastfwd;          // forward plan: the highest tape index that reads it, -1 when none
    int needbwd;          // forward plan: some entry's backward reads its data
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
    uint64_t drop_op;     // dropout, drop-path: the op's index in the step (its mask seed is
                          // gh_hash64(step seed, drop_op), derived by the kernels)
    float *save[2];       // arena buffers kept for backward (bn mean/invstd, xent probs,
                          // maxpool argmax as ints)
    unsigned keep;        // whose data the backward reads: KEEP_OUT, KEEP_IN(i), KEEP_XS
                          // (tape_push sets all; an op clears what its backward never reads)
    const int *labels;
};

// A free block of the activation arena: [off, off + len), both ARENA_ALIGN multiples.
typedef struct {
    size_t off, len;
} arena_block;

#define KEEP_OUT 1u
#define KEEP_IN(i) (2u << (i))
#define KEEP_XS 32u
#define KEEP_ALL 63u

// The forward plan (gh_set_release(e, 2)): made from a tape, it lists per tape index the
// entries whose outputs the forward may give back once that entry has been recorded: their
// last forward reader has run and no backward reads them. A step follows it while its tape
// matches (op name and output size at every index).
typedef struct {
    size_t len;           // tape entries
    const char **op;      // [len]
    size_t *numel;        // [len]
    int *start;           // [len + 1] into items
    int *items;           // producer indices
    size_t cap, items_cap;
    int ready;            // made since the last change of graph
} fwd_plan;

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

// What the engine keeps in backend memory beside tensors, allocated once at create: the running
// sums of gh_acc_*, one-value results of the synchronous paths (a norm, a hit count), the step's
// dropout seed, and the record of errors that kernels find on the backend (kctx.flags points at
// `flags`).
typedef struct {
    double acc[GH_ACC_SLOTS];
    double tmp[2];         // [0] a norm (clip_grad_norm, vec_norm), [1] a hit count (xent)
    uint64_t drop_seed;    // e->dropout_seed, uploaded at create, step_begin and a state load:
                           // dropout and drop-path kernels read it here (ops_dropout.c), so
                           // their launches take its address, the same every step
    kflags flags;
} dev_state;

// Page-locked staging for step data copied to the GPU (gh_input, gh_labels): two halves used
// by alternate steps, so a step writes its inputs while the copies of the previous step's may
// still be in flight; step_begin waits only for the copies out of its half two steps ago.
typedef struct {
    unsigned char *buf;    // 2 * half bytes
    size_t half, used;     // capacity of each half; bytes used in the current one this step
    int cur;
    void *done[2];         // an event after the last copy out of each half
} h2d_stage;

struct gh_engine {
    gh_engine_config cfg;
    int status;             // sticky: first failure since the last step_begin
    int training;
    int grad_enabled;
    unsigned grad_off;      // groups whose parameter gradients backward skips (bit per group)
    kctx kc;                // ws, stream, flags, step and allocs counter for every kernel

    // activation arena (backend memory), reset by step_begin: ops take memory at the top (a
    // bump) or from a block the reverse pass gave back (best fit; arena_free is sorted by
    // offset, neighbours merged, a block at the top lowers it). The placement is a function of
    // the op sequence alone, so a step that repeats the same graph lands every tensor where it
    // did before.
    unsigned char *arena;
    size_t arena_cap, arena_used, arena_peak;   // arena_used: the top
    arena_block *arena_free;
    int arena_nfree, arena_free_cap;
    int release;            // gh_set_release: the reverse pass gives the graph back
    int tape_released;      // a reverse pass gave this step's activations back
    fwd_plan fplan;         // release 2: what the forward gives back, from an earlier tape
    int fplan_follow;       // this step's tape still matches the plan
    int dry;                // gh_forward_plan's pass: ops record the tape, touch nothing

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

    dev_state *dstate;      // backend memory (device.c)
    kflags hflags;          // the flags as the last checked read brought them to the host
    h2d_stage stage;        // CUDA only
    uint64_t step;          // gh_step_begin calls since create (kc.step mirrors it)
    uint64_t checked_step;  // e->step at the last read that checked the flags

    gh_rng rng_init;        // parameter initialisation, declaration order
    gh_rng rng_dropout;     // one seed per step
    uint64_t dropout_seed;  // the host's copy of dstate->drop_seed (drop_seed_put)
    uint64_t dropout_ops;   // dropout ops drawn this step: the next one's index, from which
                            // and the step's seed its kernels derive its mask seed

    gh_counters counters;   // host syncs and backend allocations (device.c)

    gh_bn_sync_fn bn_sync;  // synchronized batch norm (ops_norm_sync.c); NULL: per replica
    void *bn_sync_ctx;

    gh_precision precision; // convs on CUDA (gh_set_precision); GH_PREC_FP32 (0) by default
    // capturable regions and CUDA graphs (graph.c): region is non-zero while gh_region_run
    // runs a region (KCALL and the dev_* calls then add to its signature); gskip: the region's
    // launches are not made (a graph replays them, or a capture records them elsewhere)
    int region;
    int gskip;
    struct graph_state *gs;   // host memory, created by the first region
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

// ---- the device layer (device.c) -----------------------------------------------------------
// Backend memory (host for ref/cpu, device for cuda). On CUDA everything runs on the engine's
// stream (kc.stream) and every call first makes the engine's device current on the calling
// thread (dev_enter), so an engine may be driven from another thread than its creator's.
int dev_check_backend(const gh_engine_config *cfg);   // at create, before anything else
int dev_enter(gh_engine *e);
int dev_open(gh_engine *e);     // at create, after the arena: stream, dev_state, staging events
void dev_close(gh_engine *e);   // at destroy, before the arena is freed
int dev_alloc_at(gh_engine *e, const char *fn, void **p, size_t bytes);
#define dev_alloc(e, p, bytes) dev_alloc_at((e), __func__, (p), (bytes))   // counted in allocs
void dev_free(gh_engine *e, void *p);
// Step data from the host: the source may be reused as soon as this returns (CUDA: copied into
// the page-locked staging and sent asynchronously).
int dev_h2d(gh_engine *e, void *dst, const void *src, size_t bytes);
// A large one-off upload outside the steps (parameter initialisation): waits for the copy.
int dev_h2d_sync(gh_engine *e, void *dst, const void *src, size_t bytes);
// Reads to the host, each one synchronisation counted in counters.host_syncs. dev_read also
// brings back the deferred error record and reports it (dev_check) in the same synchronisation;
// dst may be NULL to read only the record.
// (fn: the caller's name, which a capturable region's check reports; the macros fill it in.)
int dev_d2h_at(gh_engine *e, const char *fn, void *dst, const void *src, size_t bytes);
int dev_read_at(gh_engine *e, const char *fn, void *dst, const void *src, size_t bytes);
#define dev_d2h(e, dst, src, bytes) dev_d2h_at((e), __func__, (dst), (src), (bytes))
#define dev_read(e, dst, src, bytes) dev_read_at((e), __func__, (dst), (src), (bytes))
int dev_d2d(gh_engine *e, void *dst, const void *src, size_t bytes);
int dev_zero(gh_engine *e, void *p, size_t bytes);
int dev_ws(gh_engine *e, size_t floats);            // grows e->ws to at least floats
int dev_stage_step(gh_engine *e);                   // step_begin: the next staging half
// e->dropout_seed into dstate->drop_seed, ordered before every later launch (engine.c): sync
// 1 waits for the copy (create, a state load), 0 sends it through the staging (step_begin).
int drop_seed_put(gh_engine *e, int sync);

void *arena_alloc(gh_engine *e, const char *op, size_t bytes);  // NULL + sticky on exhaustion
// Gives back a block arena_alloc returned with the same size; the memory may be handed out by
// the next arena_alloc (on CUDA the stream orders the kernels that use it).
void arena_release(gh_engine *e, void *p, size_t bytes);
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

// ---- synchronized batch norm (ops_norm_sync.c) ---------------------------------------------
// The training forward with the global batch's statistics (the arguments of bn_fwd_train;
// save_mean/save_invstd are those of the global batch) and the backward closure that goes with
// it. Used by gh_batchnorm when e->bn_sync is set and the engine is training.
int bn_sync_fwd(gh_engine *e, const bn_shape *sh, const float *x, const float *gamma,
                const float *beta, float *y, float *save_mean, float *save_invstd,
                float *run_mean, float *run_var);
int bn_sync_bwd(gh_engine *e, const tape_entry *t);

// ---- backend dispatch ----------------------------------------------------------------------
// K(e, name, args...) calls name_ref / name_cpu / name_cuda with the engine's kernel context
// (on CUDA after dev_enter). The _cuda symbols exist only in CUDA builds.
#ifdef GH_HAVE_CUDA
#define K(e, name, ...)                                                              \
    ((e)->cfg.backend == GH_BACKEND_CUDA                                             \
         ? (dev_enter(e) ? GH_ECUDA : name##_cuda(&(e)->kc, __VA_ARGS__))            \
     : (e)->cfg.backend == GH_BACKEND_CPU ? name##_cpu(&(e)->kc, __VA_ARGS__)        \
                                          : name##_ref(&(e)->kc, __VA_ARGS__))
#else
#define K(e, name, ...)                                                              \
    ((e)->cfg.backend == GH_BACKEND_CPU ? name##_cpu(&(e)->kc, __VA_ARGS__)          \
                                        : name##_ref(&(e)->kc, __VA_ARGS__))
#endif
// Runs a kernel call and records a failure as the sticky status; evaluates to the status.
// In gh_forward_plan's dry pass nothing runs. Inside a capturable region (graph.c) the call is
// first added to the region's signature: the kernel's name and every argument (integers and
// floats by value, shape structs by content, pointers by address); with gskip it is not made.
// Workspace queries (name_ws: a size to a host out-parameter) are no launches: always made.
#define KCALL(e, name, ...)                                                                   \
    ((e)->dry ? GH_OK                                                                         \
              : ((e)->region && !SIG_QUERY(#name)                                             \
                     ? graph_launch((e), #name, (const uint64_t[]){SIG_MAP(__VA_ARGS__)},     \
                                    SIG_N(__VA_ARGS__))                                       \
                     : (void)0,                                                               \
                 (e)->gskip && !SIG_QUERY(#name) ? GH_OK                                      \
                                                 : eng_check((e), K(e, name, __VA_ARGS__))))
#define SIG_QUERY(s) \
    (sizeof(s) > 4 && (s)[sizeof(s) - 4] == '_' && (s)[sizeof(s) - 3] == 'w' &&              \
     (s)[sizeof(s) - 2] == 's')

// ---- step signatures (graph.c) ---------------------------------------------------------------
// One 64-bit word per kernel argument, chosen by the argument's type. An integer type missing
// here falls to sig_ptr and is a compile-time warning (integer to pointer), not a silent hole.
// A host out-parameter (size_t *, the workspace queries) is a stack address: only its presence
// counts. Arrays of pointers (wsum's and concat's inputs) are hashed by address here and by
// content from the tape at the reverse pass (graph_tape).
static inline uint64_t sig_i64(long long v) { return (uint64_t)v; }
static inline uint64_t sig_u64(unsigned long long v) { return (uint64_t)v; }
static inline uint64_t sig_f32(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return u ^ 0xf32f32f300000000ull;   // a float and an integer of the same bits differ
}
static inline uint64_t sig_f64(double v) { uint64_t u; memcpy(&u, &v, 8); return u; }
static inline uint64_t sig_ptr(const void *p) { return (uint64_t)(uintptr_t)p; }
static inline uint64_t sig_out(const size_t *p) { (void)p; return 0x5157u; }
uint64_t sig_bytes(const void *p, size_t n);
static inline uint64_t sig_conv(const conv2d_shape *s) { return sig_bytes(s, sizeof *s); }
static inline uint64_t sig_bn(const bn_shape *s) { return sig_bytes(s, sizeof *s); }
static inline uint64_t sig_pool(const pool_shape *s) { return sig_bytes(s, sizeof *s); }
// hashed as bytes: members of 4 bytes and no padding (padding bytes would be garbage)
#define SIG_PLAIN(T) (sizeof(T) % 4 == 0 && _Alignof(T) == 4)
_Static_assert(SIG_PLAIN(conv2d_shape) && SIG_PLAIN(bn_shape) && SIG_PLAIN(pool_shape),
               "a kernel shape struct has padding or 8-byte members: hash it field by field");
#define SIG_A(x)                                                                               \
    _Generic((x), float: sig_f32, double: sig_f64, int: sig_i64, long: sig_i64,                \
             long long: sig_i64, unsigned: sig_u64, unsigned long: sig_u64,                    \
             unsigned long long: sig_u64, conv2d_shape *: sig_conv,                            \
             const conv2d_shape *: sig_conv, bn_shape *: sig_bn, const bn_shape *: sig_bn,     \
             pool_shape *: sig_pool, const pool_shape *: sig_pool, size_t *: sig_out,          \
             default: sig_ptr)(x)
#define SIG_N(...) SIG_N_(__VA_ARGS__, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define SIG_N_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, n, ...) n
#define SIG_CAT(a, b) SIG_CAT_(a, b)
#define SIG_CAT_(a, b) a##b
#define SIG_MAP(...) SIG_CAT(SIG_MAP_, SIG_N(__VA_ARGS__))(__VA_ARGS__)
#define SIG_MAP_1(a) SIG_A(a)
#define SIG_MAP_2(a, ...) SIG_A(a), SIG_MAP_1(__VA_ARGS__)
#define SIG_MAP_3(a, ...) SIG_A(a), SIG_MAP_2(__VA_ARGS__)
#define SIG_MAP_4(a, ...) SIG_A(a), SIG_MAP_3(__VA_ARGS__)
#define SIG_MAP_5(a, ...) SIG_A(a), SIG_MAP_4(__VA_ARGS__)
#define SIG_MAP_6(a, ...) SIG_A(a), SIG_MAP_5(__VA_ARGS__)
#define SIG_MAP_7(a, ...) SIG_A(a), SIG_MAP_6(__VA_ARGS__)
#define SIG_MAP_8(a, ...) SIG_A(a), SIG_MAP_7(__VA_ARGS__)
#define SIG_MAP_9(a, ...) SIG_A(a), SIG_MAP_8(__VA_ARGS__)
#define SIG_MAP_10(a, ...) SIG_A(a), SIG_MAP_9(__VA_ARGS__)
#define SIG_MAP_11(a, ...) SIG_A(a), SIG_MAP_10(__VA_ARGS__)
#define SIG_MAP_12(a, ...) SIG_A(a), SIG_MAP_11(__VA_ARGS__)
#define SIG_MAP_13(a, ...) SIG_A(a), SIG_MAP_12(__VA_ARGS__)
#define SIG_MAP_14(a, ...) SIG_A(a), SIG_MAP_13(__VA_ARGS__)

// Inside a region (e->region): a kernel launch with its argument words; a memory operation on
// the stream (memset, device copy, upload: kind "memset", "d2d", "h2d"); an action a captured
// graph cannot hold (a read to the host, an allocation, a synchronisation, arena growth), the
// first of which the region reports, naming fn and the last launch before it.
void graph_launch(gh_engine *e, const char *name, const uint64_t *w, int n);
void graph_memop(gh_engine *e, const char *kind, const void *dst, const void *src, size_t bytes);
void graph_forbid(gh_engine *e, const char *fn, const char *what);
// The inputs of every k-ary tape entry by content (backward_walk calls it at its start).
void graph_tape(gh_engine *e);
// An upload inside a region: 1 when graph.c took it (a capture in progress: it is queued to
// run before the graph's launch), 0 when dev_h2d makes it as usual.
int graph_h2d(gh_engine *e, void *dst, const void *staged, size_t bytes);
// Graphs whose buffers moved (the workspace grew): destroyed, captured again later.
void graph_invalidate(gh_engine *e, const char *why);
void graph_free(gh_engine *e);   // at destroy, before the stream
int graph_capturing(const gh_engine *e);   // a CUDA capture is in progress

// tape.c: makes e->fplan from the current tape (loss: the root, never given back).
int fwd_plan_make(gh_engine *e, const gh_tensor *loss);
// tape.c: after entry j was recorded, gives back what the plan lists for j.
void fwd_plan_apply(gh_engine *e, size_t j);

// Parameters of one group: used by params.c and optim.c.
int group_valid(gh_engine *e, const char *fn, int group);
