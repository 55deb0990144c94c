// engine: tensors on a device, parameters in one flat buffer per group, an activation arena
// reset every step, reverse-mode autograd on a tape rebuilt every step, optimizers.
// Layers above (models, learners, search) build networks only through this header.
//
// Error handling: the engine keeps a sticky status. An op that fails (shape or device
// mismatch, arena exhausted, kernel error) sets it, sets gh_error_get() naming the op and
// the shapes, and returns NULL; any op given a NULL input returns NULL at once. Check
// gh_engine_status() (or the return of gh_backward / an optimizer step) once per step.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"
#include "../kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GH_BACKEND_REF = 0,   // plain C reference kernels (tests, debugging)
    GH_BACKEND_CPU = 1,   // fast CPU kernels (OpenBLAS + OpenMP)
    GH_BACKEND_CUDA = 2,  // hand-written CUDA kernels on device `device_index`
} gh_backend;

const char *gh_backend_name(gh_backend b);
// "ref", "cpu", "cuda", "cuda:1", "auto" (cuda:0 when a GPU is present, else cpu)
int gh_backend_parse(const char *text, gh_backend *b, int *device_index);

#define GH_MAX_DIMS 4

typedef struct gh_tensor {
    float *data;            // backend memory (device memory for CUDA)
    float *grad;            // same shape; NULL when the tensor needs no gradient
    int ndim;
    int shape[GH_MAX_DIMS]; // NCHW for images, [n, features] for vectors
    size_t numel;
    int requires_grad;
    const char *name;       // parameters only (points into the engine's storage)
} gh_tensor;

typedef struct gh_engine gh_engine;

typedef struct {
    gh_backend backend;
    int device_index;
    size_t arena_bytes;      // activations + their gradients for one step
    int deterministic;       // fixed-order reductions, no float atomics (CUDA)
    uint64_t seed;           // parameter init and dropout masks derive from it
} gh_engine_config;

int gh_engine_create(gh_engine **out, const gh_engine_config *cfg);
void gh_engine_destroy(gh_engine *e);
int gh_engine_status(const gh_engine *e);          // first error since the last step_begin
gh_backend gh_engine_backend(const gh_engine *e);
size_t gh_engine_arena_peak(const gh_engine *e);   // high-water mark in bytes
// The cudaStream_t all of the engine's work runs on (NULL on ref/cpu): a collective that reads
// gradients (dist/'s NCCL all-reduce) orders itself after it.
void *gh_engine_stream(gh_engine *e);

// ---- parameters: declared, then allocated once into one flat buffer per group ---------------
// Groups: GH_GROUP_WEIGHTS and GH_GROUP_ARCH take gradients; GH_GROUP_BUFFERS (batch-norm
// running stats) do not. A data-parallel all-reduce of a group is one call on its flat grad.
enum { GH_GROUP_WEIGHTS = 0, GH_GROUP_ARCH = 1, GH_GROUP_BUFFERS = 2, GH_NUM_GROUPS = 3 };
typedef enum {
    GH_INIT_ZERO, GH_INIT_ONE,
    GH_INIT_KAIMING_UNIFORM,   // PyTorch's default for conv/linear: U(-b, b), b = 1/sqrt(fan_in)
    GH_INIT_NORMAL_1E3,        // N(0, 1e-3^2): DARTS architecture parameters
} gh_init;
// Declares a parameter; returns a handle whose data/grad pointers become valid after
// gh_params_alloc. fan_in is used by the Kaiming init (0 for other inits).
gh_tensor *gh_param(gh_engine *e, int group, const char *name, int ndim, const int *shape,
                    gh_init init, int fan_in);
int gh_params_alloc(gh_engine *e);                 // allocates and initialises every group
size_t gh_group_numel(const gh_engine *e, int group);
float *gh_group_data(gh_engine *e, int group);     // flat, backend memory
float *gh_group_grad(gh_engine *e, int group);     // flat, backend memory (NULL for buffers)
int gh_group_zero_grad(gh_engine *e, int group);
int gh_params_count(const gh_engine *e);
gh_tensor *gh_param_at(gh_engine *e, int i);       // in declaration order
int gh_param_group(const gh_engine *e, int i);

// ---- one step: reset arena and tape, run ops, backward -----------------------------------------
void gh_step_begin(gh_engine *e);                  // frees every activation, clears the tape
void gh_set_training(gh_engine *e, int training);  // batch norm batch stats, dropout on
void gh_set_grad_enabled(gh_engine *e, int on);    // off: ops record nothing (evaluation)
// Synchronized batch norm (data parallel, ops_norm_sync.c): fn sums n host doubles in place over
// every replica of the model (dist's dp_bn_sync: MPI_Allreduce); ctx is passed through. When
// set, batch norm in training mode normalises with the statistics of the global batch (the
// mean and variance of the forward, the sums of dy and dy*xhat of the backward, each reduced
// once per layer and pass), so N replicas at batch b compute what one engine at batch N b
// does. Every replica must run the same ops in the same order (fn is a collective). NULL (the
// default): statistics of the local batch. Evaluation (gh_set_training 0) is never synchronized.
typedef int (*gh_bn_sync_fn)(void *ctx, double *buf, size_t n);
void gh_set_bn_sync(gh_engine *e, gh_bn_sync_fn fn, void *ctx);
// Off: the reverse pass leaves the group's gradient as it is and ops skip computing it (a
// conv's dW, a BN's dgamma), while gradients through the group's parameters to the other
// groups and activations are computed as before, bit for bit; the tape is unchanged (its
// tensors still require grad). DARTS's architecture passes that read only the alphas'
// gradient. Returns the previous setting (1 = on, the default).
int gh_set_group_grad(gh_engine *e, int group, int on);
// The arithmetic of the engine's convolutions (issue 15): GH_PREC_FP32 (the default) everywhere;
// GH_PREC_TF32 or GH_PREC_BF16 run the non-depthwise convs' forward and backward on tensor
// cores (conv2d_fwd_prec_cuda / conv2d_bwd_prec_cuda; tensors stay FP32). Refused with
// GH_EUNSUP on the ref and cpu backends, which have no such kernels (an fp32 run that recorded
// tf32 would be a false record); the setting is then unchanged and the engine usable.
int gh_set_precision(gh_engine *e, gh_precision p);
gh_precision gh_engine_precision(const gh_engine *e);
// Level 1: the reverse pass gives each activation and its gradient back to the arena once no
// earlier tape entry reads them (as PyTorch frees its graph), so the step's peak is the
// forward's activations plus the gradients alive at once, not every activation and gradient.
// The loss, step inputs and tensors no op recorded stay readable; other activations and their
// gradients are invalid after gh_backward, and a second gh_backward over the same tape is
// refused. Level 2 (the caller promises the same graph every step, as DARTS's supernet and
// evaluation network): also the forward gives back an activation once its last reader has run
// when no backward reads it (a node's partial sums, a cell's last BN output before drop-path),
// following a plan made from an earlier step's tape (or by gh_forward_plan before the first);
// a step whose tape stops matching the plan stops following it there. 0 (the default):
// nothing is given back until gh_step_begin. gh_train_step sets 1, or 2 with
// gh_step_def.fixed_graph. Returns the previous level.
int gh_set_release(gh_engine *e, int level);
// Host data into a new arena tensor (no gradient; host NULL gives zeros). Setting
// requires_grad = 1 on the result before using it makes gh_backward leave d loss / d input in
// its grad (arena memory, valid until the next step_begin).
gh_tensor *gh_input(gh_engine *e, int ndim, const int *shape, const float *host);
// Integer labels into the arena; returns a backend pointer valid until the next step_begin.
const int *gh_labels(gh_engine *e, int n, const int *host);

// ---- ops: each returns a new arena tensor and, when gradients are on, records itself -----------
gh_tensor *gh_conv2d(gh_engine *e, gh_tensor *x, gh_tensor *w, gh_tensor *b /*NULL*/,
                     int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w,
                     int groups);
// gamma/beta NULL: no affine. run_mean/run_var updated in training mode, used in eval mode.
gh_tensor *gh_batchnorm(gh_engine *e, gh_tensor *x, gh_tensor *gamma, gh_tensor *beta,
                        gh_tensor *run_mean, gh_tensor *run_var, float eps, float momentum);
gh_tensor *gh_relu(gh_engine *e, gh_tensor *x);
// gh_conv2d(e, gh_relu(e, x), ...) without relu(x) in the arena (DARTS's ReLU-conv pairs, issue
// 15): the same values and gradients bit for bit, but the tape keeps x instead of relu(x) and
// the backward masks dx with x > 0. Fused into the conv kernels where the backend has them
// (conv2d_relu_ok: every shape on ref, depthwise convs on cpu and cuda); other shapes run
// relu(x) into arena scratch around the plain conv, given back before the op returns (and
// recomputed in the backward when the weight gradient is wanted).
gh_tensor *gh_conv2d_relu(gh_engine *e, gh_tensor *x, gh_tensor *w, gh_tensor *b /*NULL*/,
                          int stride_h, int stride_w, int pad_h, int pad_w, int dil_h,
                          int dil_w, int groups);
gh_tensor *gh_maxpool(gh_engine *e, gh_tensor *x, int k, int stride, int pad);
gh_tensor *gh_avgpool(gh_engine *e, gh_tensor *x, int k, int stride, int pad);
gh_tensor *gh_global_avgpool(gh_engine *e, gh_tensor *x);        // [n,c,h,w] -> [n,c]
gh_tensor *gh_linear(gh_engine *e, gh_tensor *x, gh_tensor *w, gh_tensor *b /*NULL*/);
gh_tensor *gh_add(gh_engine *e, gh_tensor *a, gh_tensor *b);
gh_tensor *gh_scale(gh_engine *e, gh_tensor *x, float alpha);    // alpha * x
// y = sum_i w[i] * xs[i]; w is a tensor of k weights (e.g. softmax of an alpha row);
// xs[i] may be NULL for a "none" op (contributes zero).
gh_tensor *gh_wsum(gh_engine *e, int k, gh_tensor *const *xs, gh_tensor *w);
gh_tensor *gh_concat(gh_engine *e, int k, gh_tensor *const *xs);   // along channels
gh_tensor *gh_slice(gh_engine *e, gh_tensor *x, int c0, int cn);    // channels c0..c0+cn-1
gh_tensor *gh_shift(gh_engine *e, gh_tensor *x, int dh, int dw, int ho, int wo);
gh_tensor *gh_dropout(gh_engine *e, gh_tensor *x, float p);        // identity when not training
gh_tensor *gh_droppath(gh_engine *e, gh_tensor *x, float p);       // per-sample, training only
gh_tensor *gh_softmax(gh_engine *e, gh_tensor *x);                 // over the last dimension
gh_tensor *gh_flatten(gh_engine *e, gh_tensor *x);                 // [n, ...] -> [n, rest] view
gh_tensor *gh_sigmoid(gh_engine *e, gh_tensor *x);
gh_tensor *gh_tanh(gh_engine *e, gh_tensor *x);
// ---- an RNN controller's ops (ops_rnn.c) ----
// LSTM cell: gates [batch, 4*hidden] (i, f, g, o pre-activations: gh_linear of x plus gh_linear
// of h), c_prev [batch, hidden]. Returns h and sets *c_out to c (both [batch, hidden]).
gh_tensor *gh_lstm_cell(gh_engine *e, gh_tensor *gates, gh_tensor *c_prev, gh_tensor **c_out);
// Rows idx[0..n) of table [vocab, dim] -> [n, dim]; idx in backend memory (gh_labels, or
// gh_categorical_sample). An index outside [0, vocab) is GH_EINVAL (on CUDA at the next read).
gh_tensor *gh_embedding(gh_engine *e, gh_tensor *table, int n, const int *idx);
// One index per row of logits [rows, k] from softmax(z), z = tanh_c * tanh(logits / temperature)
// (tanh_c > 0) or logits / temperature (tanh_c = 0), drawn with gh_uniform(seed, row): the
// caller (a searcher) owns the seed. Returns the indices in backend memory (valid until the
// next step_begin); host_idx (optional) also receives them, at the cost of one read. Not
// differentiable: apply the same scaling with gh_scale and gh_tanh and take gh_log_prob of it.
const int *gh_categorical_sample(gh_engine *e, gh_tensor *logits, float temperature,
                                 float tanh_c, uint64_t seed, int *host_idx);
// log softmax(logits)[r, idx[r]] and the entropy of each row of logits [rows, k]: [rows].
gh_tensor *gh_log_prob(gh_engine *e, gh_tensor *logits, const int *idx);
gh_tensor *gh_entropy(gh_engine *e, gh_tensor *logits);
// Mean softmax cross-entropy over the batch, label smoothing in [0, 1). Scalar tensor [1]; the
// mean is taken on the backend (no read). correct (optional, host) receives the number of argmax
// hits: that costs one read to the host, so training steps pass NULL and count hits with
// gh_acc_hits. A label outside [0, classes) is GH_EINVAL at once on ref/cpu; on CUDA it is
// recorded on the device and reported at the next checked read (below).
gh_tensor *gh_xent(gh_engine *e, gh_tensor *logits, const int *labels, float smoothing,
                   int *correct);

// Reverse pass from a scalar tensor: parameter gradients ADD into their group's flat grad
// (so zero them first, or accumulate over micro-batches on purpose). Returns the sticky status.
// The loss is not read: its finiteness is checked on the backend, and a NaN or infinite loss is
// reported as GH_ENAN by the next checked read (below), naming the step it happened in; the
// gradients (and any optimizer update) of that step are then not finite. Only a loss the host
// has already read with gh_scalar and seen non-finite is refused here with GH_ENAN, nothing
// propagated.
int gh_backward(gh_engine *e, gh_tensor *loss);

// ---- reading values ----------------------------------------------------------------------------
// Each is one synchronisation with the backend. These "checked reads" (and gh_acc_read and
// gh_engine_check_finite) also bring back what kernels recorded since the last one: a
// non-finite loss in gh_backward, a non-finite gradient norm in gh_clip_grad_norm (without
// norm_out), a non-finite coefficient in the gh_*_dev helpers (GH_ENAN), a bad label on CUDA
// (GH_EINVAL). They return that status (also made sticky), with a message naming the first step
// it happened in and the steps since the last check, and clear the record; the value is still
// read (gh_scalar then returns NAN). A training loop that reads only at report intervals thus
// learns of a divergence there. Steps are numbered by gh_step_begin calls since create.
int gh_tensor_to_host(gh_engine *e, const gh_tensor *t, float *host);  // numel floats
int gh_tensor_from_host(gh_engine *e, gh_tensor *t, const float *host);
float gh_scalar(gh_engine *e, const gh_tensor *t);                    // NAN on failure
int gh_engine_check_finite(gh_engine *e);    // only the record: GH_OK, GH_ENAN or GH_EINVAL

// ---- optimizers and vector ops on groups (flat buffers) -----------------------------------------
// State (momentum, Adam moments) lives in the engine, one per group, created on first use.
int gh_sgd_step(gh_engine *e, int group, float lr, float momentum, float wd);
int gh_adam_step(gh_engine *e, int group, float lr, float beta1, float beta2, float eps, float wd);
// Scales the group's gradient so its L2 norm is at most max_norm. Deterministic on every
// backend. Without norm_out the norm stays on the backend (no read; a non-finite norm leaves the
// gradient as it is and is reported by the next checked read); norm_out (optional) gets the norm
// before clipping, at the cost of one read, and a non-finite norm is GH_ENAN at once.
int gh_clip_grad_norm(gh_engine *e, int group, float max_norm, double *norm_out);
// Backend-memory vector helpers for algorithms over whole groups (DARTS unrolled step, HVP).
int gh_vec_axpy(gh_engine *e, size_t n, float alpha, const float *x, float *y);
int gh_vec_copy(gh_engine *e, size_t n, const float *src, float *dst);
int gh_vec_scale(gh_engine *e, size_t n, float alpha, float *x);
double gh_vec_norm(gh_engine *e, size_t n, const float *x);  // L2 in double; one read (NAN on failure)
// Backend memory that outlives steps (saved weights, optimizer copies); freed with the engine.
float *gh_buffer(gh_engine *e, size_t n);

// Device scalars: doubles in backend memory that these helpers pass along without the host
// reading them, so that a step using a norm (DARTS's second-order eps = r / ||v||) makes no
// synchronisation. With c = alpha * s^power (power 1 or -1, s = dev_s[0], computed in double):
// gh_dev_scalar sets dev_out[0] = c; gh_vec_axpy_dev does y += (float)c * x; gh_vec_scale_dev
// does x *= (float)c. On ref/cpu each equals the host computation (gh_vec_norm, then
// gh_vec_axpy/scale with the coefficient computed in double and rounded to float) bit for bit.
// A non-finite c changes nothing and is reported by the next checked read (GH_ENAN).
double *gh_buffer_f64(gh_engine *e, size_t n);   // n zeroed doubles, freed with the engine
int gh_vec_norm_dev(gh_engine *e, size_t n, const float *x, double *dev_out);   // L2 norm
int gh_dev_scalar(gh_engine *e, double alpha, const double *dev_s, int power, double *dev_out);
int gh_vec_axpy_dev(gh_engine *e, size_t n, double alpha, const double *dev_s, int power,
                    const float *x, float *y);
int gh_vec_scale_dev(gh_engine *e, size_t n, double alpha, const double *dev_s, int power,
                     float *x);
// The optimizer state of a group (momentum buffer for SGD, m and v for Adam), NULL if unused.
// For Adam it is m followed by v: 2 x gh_group_numel floats.
float *gh_group_momentum(gh_engine *e, int group);

// The per-purpose seed for dropout masks of this step (advanced by step_begin).
uint64_t gh_engine_dropout_seed(const gh_engine *e);

// ---- metrics kept on the backend between report intervals -------------------------------------
// GH_ACC_SLOTS running sums (double) per engine in backend memory, for what a training loop
// reports (loss x batch, argmax hits). Adding is a kernel, with no read to the host;
// gh_acc_read copies the first n slots to the host (one synchronisation, a checked read: it
// returns a pending GH_ENAN/GH_EINVAL, see above) and leaves them; gh_acc_reset zeroes slots
// (no synchronisation). Slots survive gh_step_begin. A sum is accumulated in double in the
// order of the adds, so that it equals a host loop's `sum += scale * (double)loss` bit for bit.
enum { GH_ACC_SLOTS = 8 };
int gh_acc_add(gh_engine *e, int slot, const gh_tensor *scalar, double scale); // += scale*x[0]
// += the number of rows of logits [n, k] whose first maximum is at the label (torch.argmax).
int gh_acc_hits(gh_engine *e, int slot, const gh_tensor *logits, const int *labels);
int gh_acc_read(gh_engine *e, int n, double *out);
int gh_acc_reset(gh_engine *e, int first, int n);
int gh_acc_write(gh_engine *e, int n, const double *in);   // slots 0..n-1 (resume)

// ---- what steps cost the host ----------------------------------------------------------------
// Counted on every backend at the same points (on ref/cpu a "sync" is a read of backend memory
// by the host that the CUDA backend would have to wait for): reads from the backend to the host,
// and backend-memory allocations (arena, workspaces, optimizer state, input staging, kernel
// scratch). After warm-up steps have grown the workspaces and created the optimizer state, a
// step of ops, gh_acc_add/hits, gh_backward, gh_clip_grad_norm without norm_out, optimizer
// steps and the gh_vec_* helpers (not gh_vec_norm) adds to neither. On CUDA all of the engine's
// work runs on one stream it owns; inputs go through page-locked staging, and gh_step_begin
// waits (without a read) for the copies of two steps before, which bounds how far the host
// runs ahead. Every entry point makes the engine's device current on the calling thread.
typedef struct {
    int64_t host_syncs;
    int64_t allocs;
} gh_counters;
void gh_engine_counters(const gh_engine *e, gh_counters *out);   // totals since create

// ---- capturable regions and CUDA graphs (graph.c) -------------------------------------------
// A region is a piece of a step that the caller promises runs the same launches every time
// (DARTS's forward+backward passes, a fixed-graph training step): gh_region_run runs it as
// fn(ctx, e), keyed by (name, index), name a string that outlives the engine. On every backend
// the engine computes the region's signature, a hash of its launches in order (kernel, buffer
// addresses, shapes, scalar arguments, memsets and copies), and notes the first action inside it
// that a captured graph cannot hold: a read to the host, a backend allocation (workspace growth,
// kernel scratch, optimizer state, staging), a synchronous copy, a gh_step_begin, arena growth
// past its high-water mark, an upload after the region's first launch. Regions do not nest (an
// inner one is part of the outer).
//
// With graphs on (gh_set_graphs), a region whose previous run was clean and had the signature
// of the run before it is captured (CUDA: cudaStreamBeginCapture on the engine's stream) and
// launched as one graph, kept if its signature is that run's; later runs replay the graph: fn
// runs on the host with its launches left out (tape, arena and plans as before), and if the
// signature it computes matches the graph's, the graph is launched; otherwise (a miss) the host
// state is rewound, fn runs uncaptured, and the graph is dropped, to be captured again once the
// region repeats itself (after GH_GRAPH_MAX_MISSES misses without a replay between them, or a
// failed capture, the region stays uncaptured; gh_graph_stats says why). Uploads in a region
// (gh_input) must precede its first launch: they are made before the graph runs. On ref/cpu,
// graphs on means emulation: the same decisions, each graph launch being fn run again with its
// launches after a rewind (tests).
typedef int (*gh_region_fn)(void *ctx, gh_engine *e);
int gh_region_run(gh_engine *e, const char *name, int index, gh_region_fn fn, void *ctx);

typedef struct {
    uint64_t runs;         // times the region ran
    uint64_t signature;    // of its last run
    uint64_t launches;     // kernel launches and memory operations in its last run
    int stable;            // the last run's signature equals the one before it
    int forbidden;         // the last run did something a graph cannot hold
    char what[256];        // the first such thing: which call, after which launch
} gh_region_info;
// GH_EINVAL when no region of that key has run.
int gh_region_get(const gh_engine *e, const char *name, int index, gh_region_info *out);

enum { GH_GRAPH_MAX_MISSES = 3 };
// Returns the previous setting. Off (0, the default): regions run uncaptured, signatures still
// computed. On (1): as above.
int gh_set_graphs(gh_engine *e, int on);
typedef struct {
    int64_t captures;      // graphs captured (each launched at least once)
    int64_t replays;       // runs that launched a captured graph
    int64_t uncaptured;    // region runs without a graph (first runs, not clean, fallen back)
    int64_t misses;        // replays refused: the signature differed from the graph's
    int64_t fallbacks;     // regions left uncaptured for good
    char note[256];        // the latest miss or fallback, naming the region and the reason
} gh_graph_stats;
void gh_graph_stats_get(const gh_engine *e, gh_graph_stats *out);

// ---- checkpoints: engine state (state.c) -------------------------------------------------------
// Everything a training step depends on between steps, as named blobs handed to a store (a
// checkpoint file: ledger_ckpt_put_cb / ledger_ckpt_get_cb): "engine/header" (layout summary,
// optimizer kinds and Adam step counts, the init and dropout RNG streams, the dropout seed and
// counter, the metric sums), "engine/layout" (one line per parameter: name, group, numel,
// shape), "engine/data/<group>" (the group's flat values: weights, arch, buffers) and
// "engine/opt/<group>" (SGD momentum, or Adam m then v) for each group that has optimizer
// state. Gradients are not saved: checkpoints are taken between steps.
// A store's callbacks return a gh_status and set gh_error naming the blob; get fails when the
// name is missing or its size is not `bytes`.
typedef int (*gh_state_put)(void *ctx, const char *name, const void *data, size_t bytes);
typedef int (*gh_state_get)(void *ctx, const char *name, void *data, size_t bytes);
// Both need gh_params_alloc done. Save refuses while the current step has failed. Load reads
// and checks every blob on the host first and refuses (GH_EFORMAT, naming the first parameter
// that differs) a state saved from a network built differently, leaving the engine unchanged;
// after a load the next steps are bit-identical to those of the engine that saved (same
// backend and deterministic mode). Optimizer state is created, replaced or dropped to match.
int gh_engine_state_save(gh_engine *e, gh_state_put put, void *ctx);
int gh_engine_state_load(gh_engine *e, gh_state_get get, void *ctx);

// ---- training: one step and one epoch driver (trainer.c) ---------------------------------------
// Every loop that trains (DARTS search and final training, the NAS baselines, the small CNN, the
// MLP learner) runs its steps through gh_train_step and its epochs through gh_train_run, so that
// a gradient all-reduce, accumulation or a checkpoint is one edit here.

// A batch in host memory: x of shape [shape[0] = n, ...]; class labels y, or regression
// targets t (the other NULL).
typedef struct {
    const float *x;
    const int *y;
    const float *t;
    int ndim;
    int shape[GH_MAX_DIMS];
} gh_batch;

// The model's part of a step: the scalar loss of b (in the mode the caller set) and, through
// *logits, the [n, classes] tensor whose argmax hits are counted (NULL: none, regression).
// labels: b->y already in backend memory (NULL when b->y is). Returns NULL on failure (the
// engine status says why).
typedef gh_tensor *(*gh_loss_fn)(void *model, gh_engine *e, const gh_batch *b,
                                 const int *labels, gh_tensor **logits);

// Gradient reduction of one group across processes (the data-parallel all-reduce): called
// between backward and clipping. NULL: one process, nothing to reduce.
typedef int (*gh_reduce_fn)(void *ctx, gh_engine *e, int group);
// Told during backward that parameter `param` of `group` has its final gradient: backward has
// run the tape entry that used it first (in forward order), after which nothing adds into it;
// parameters of the group the loss does not use are told before the walk. For DDP's overlap:
// a reducer starts a bucket's all-reduce as soon as its parameters are final, while backward
// goes on. Errors are the reducer's to keep and report from its gh_reduce_fn.
typedef void (*gh_grad_ready_fn)(void *ctx, gh_engine *e, int group, int param);
// gh_backward that also calls ready (gradients of other groups are computed as usual).
int gh_backward_ready(gh_engine *e, gh_tensor *loss, int group, gh_grad_ready_fn ready,
                      void *ctx);

typedef enum { GH_OPT_SGD = 0, GH_OPT_ADAM = 1 } gh_opt_kind;

// Accumulator slots of the trainer: training sums of an epoch, evaluation sums of a pass.
enum { GH_ACC_TRAIN_LOSS = 0, GH_ACC_TRAIN_HITS = 1, GH_ACC_EVAL_LOSS = 2, GH_ACC_EVAL_HITS = 3 };

typedef struct {
    gh_loss_fn loss;
    void *model;
    int group;                  // the parameter group stepped (GH_GROUP_WEIGHTS)
    gh_opt_kind opt;
    double momentum, wd;        // SGD momentum (PyTorch's form); weight decay (both)
    double beta1, beta2, eps;   // Adam
    double grad_clip;           // > 0: the group's gradient is clipped to this L2 norm
    gh_reduce_fn reduce;        // NULL: one process
    void *reduce_ctx;
    // Optional with reduce: backward reports each parameter of the group whose gradient is
    // final (gh_backward_ready) so the reducer can start buckets during backward; called with
    // reduce_ctx. Not used with micro-batches (gradients are final after the last part only).
    gh_grad_ready_fn ready;
    // > 1: the batch is cut into this many equal contiguous parts, forward and backward of each
    // adding into the gradient, which is then divided by micro (gradient accumulation; batch
    // norm statistics per part, as DDP's per-rank statistics: one process at batch micro*b
    // computes what micro ranks at batch b do). 0 or 1: one pass.
    int micro;
    // 1: the loss builds the same graph every step (DARTS's supernet and evaluation network):
    // the step runs at gh_set_release level 2, the forward giving activations back by plan.
    int fixed_graph;
} gh_step_def;

// With gh_set_release(e, 2) and no plan yet: records loss(model, ...)'s tape without running a
// kernel or touching memory, makes the forward plan from it and rewinds the step to where it
// was (the inputs and labels already there stay), so that the first real forward already
// follows the plan. Otherwise does nothing. Call after gh_step_begin, before the forward.
int gh_forward_plan(gh_engine *e, gh_loss_fn loss, void *model, const gh_batch *b,
                    const int *labels);

// Part i of m of b: rows [n*i/m, n*(i+1)/m), pointers into b (the shard rank i of m takes
// of a global batch; a micro-batch).
gh_batch gh_batch_part(const gh_batch *b, int i, int m);

// One step at learning rate lr: step_begin, the loss of b in training mode (loss x n and the
// hits added to the training accumulators), zero the group's gradient, backward, reduce, clip,
// optimizer step. Reads nothing back to the host.
int gh_train_step(gh_engine *e, const gh_step_def *d, const gh_batch *b, double lr);

// Mean loss and accuracy of d->loss over nbatches batches in eval mode without gradients (one
// read to the host at the end); acc is NAN when the loss gives no logits.
typedef int (*gh_batch_fn)(void *ctx, int epoch, int step, gh_batch *b);
int gh_train_evaluate(gh_engine *e, gh_loss_fn loss, void *model, gh_batch_fn batch, void *ctx,
                      int nbatches, double *mean_loss, double *acc);

// Where a run stands: the next step to run and the epoch's sums so far (saved by checkpoints).
typedef struct {
    int epoch, step;            // the next step to run
    long seen;                  // samples this epoch so far
    double loss_sum, hits;      // this epoch's training sums so far
} gh_train_pos;

// What the hooks see: the epoch's training means so far and the learning rate of its last step.
typedef struct {
    int epoch, step;            // the step that just ran (0-based)
    double loss, acc;           // acc NAN when the loss gives no logits
    long seen;
    double lr;
    double elapsed_s, eta_s;    // eta_s NAN until measured
} gh_train_progress;

#define GH_TRAIN_STOP 100       // an epoch hook's request to stop (not an error)

typedef struct {
    const char *phase;          // progress label ("search", "final", "train", ...)
    int epochs, steps;          // steps per epoch
    int report_every;           // steps between progress lines and accumulator reads (0: none
                                // within an epoch)
    double checkpoint_every_s;  // > 0: the checkpoint hook also runs every this many seconds
    int quiet;                  // no progress lines
    int no_accuracy;            // the loss gives no class logits (regression): acc is NAN
    gh_batch_fn batch;          // the training batch of (epoch, step)
    double (*lr)(void *ctx, int epoch, int step);
    // The step. NULL: gh_train_step(step_def). A method with a step of its own (DARTS's
    // architecture step first) does its part and then calls gh_train_step itself.
    int (*step)(void *ctx, gh_engine *e, const gh_batch *b, double lr);
    const gh_step_def *step_def;
    // After each epoch with its training means: evaluation, ledger rows. GH_TRAIN_STOP stops.
    int (*epoch_end)(void *ctx, gh_engine *e, const gh_train_progress *p);
    // Saves a checkpoint at pos (the next step to run): after every epoch_end and every
    // checkpoint_every_s seconds between steps. NULL: none.
    int (*checkpoint)(void *ctx, gh_engine *e, const gh_train_pos *pos);
    void *ctx;
} gh_train_plan;

// Runs the plan from pos (NULL: the start; else a checkpoint's position, its sums restored).
// last (optional) receives the last progress. Returns GH_OK also when a hook asked to stop.
int gh_train_run(gh_engine *e, const gh_train_plan *p, const gh_train_pos *pos,
                 gh_train_progress *last);

// "12s", "3.4m", "2.1h"; "?" when unknown.
void gh_format_seconds(double s, char *out, size_t len);

#ifdef __cplusplus
}
#endif
