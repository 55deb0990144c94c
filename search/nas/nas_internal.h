// nas_internal: what the files of search/nas share and nothing above them sees: the batches the
// trainer draws (nas_feed.c), trial records (nas_setup.c), and the methods' entry points, which
// are reached only through the table in nas_methods.c.
#pragma once
#include "nas.h"
#include "../../dist/dist.h"

// The shuffled order of n indices for an epoch (stream GH_STREAM_DATA, keyed by seed and epoch),
// so that a resumed run draws the same batches.
void nas_epoch_order(int *idx, int n, uint64_t seed, int epoch);

// The batches of one image set for the trainer: the epoch's seeded shuffle with augmentation,
// or the first `limit` images in order with normalisation only; staged in host memory.
typedef struct {
    const gh_images *im;
    images_aug aug;          // training augmentation; evaluation uses its mean/std only
    uint64_t seed;           // data order and augmentation
    int batch;
    int limit;               // images an evaluation pass covers (im->n by default)
    int *order, order_epoch; // the shuffle of order_epoch (-1: none yet)
    float *x;
    int *y;
    // data parallel: training batches are the global batch's part `shard` of `shards`
    // (gh_batch_part's rows), so that R ranks at batch b/R see the images of one process at
    // batch b; 0 of 1 (nas_feed_init's default): the whole batch
    int shard, shards;
    int last_n;              // images in the global batch nas_feed_train drew last
} nas_feed;
int nas_feed_init(nas_feed *f, const gh_images *im, const images_aug *aug, int batch,
                  uint64_t seed);
void nas_feed_free(nas_feed *f);
int nas_feed_steps(const nas_feed *f, int n);   // batches that cover n images
// Stages images idx[0..n) (augmented when train, with seed and epoch) into b.
void nas_feed_batch(nas_feed *f, const int *idx, int n, int train, uint64_t seed, int epoch,
                    gh_batch *b);
int nas_feed_train(void *feed, int epoch, int step, gh_batch *b);   // a gh_batch_fn
int nas_feed_eval(void *feed, int epoch, int step, gh_batch *b);    // a gh_batch_fn

// Genotype text, and the parameters and multiply-adds of its final-size network.
void nas_genotype_info(const nas_config *c, const nas_data *d, const genotype *g, char *text,
                       size_t len, double *params, double *madds);
// g trained from scratch as trial id (r's search network, split and weight optimiser, engine
// and data order seeded `seed`, `epochs` epochs, epoch rows to l when not NULL) and scored on
// r->wval: the scratch evaluator's work, also what a worker rank does with a request.
int nas_train_child(const nas_run *r, const genotype *g, int64_t id, uint64_t seed, int epochs,
                    struct ledger *l, nas_eval_result *res);

// Where a proposer search's children train: in this process (one at a time, through an
// evaluator) or on the worker ranks of the process group (nas_workers.c), `slots` at once.
typedef struct {
    nas_proposal q;
    nas_eval_result res;          // res.worker: who trained it
    int st;                       // GH_OK, GH_ENAN (diverged), or the failure
    char error[512];              // the failure's message
} nas_child_done;
typedef struct nas_children nas_children;
struct nas_children {
    int slots;
    // Starts q on a free slot (the caller keeps at most `slots` children in flight).
    int (*submit)(nas_children *x, const nas_proposal *q);
    // Waits for one child to finish; a status only for what ends the search (transport).
    int (*wait)(nas_children *x, nas_child_done *out);
    void (*close)(nas_children *x);
};
// The worker ranks 1..size-1 of the process group, after every rank's hello (same split).
int nas_children_open_ranks(nas_children **out, const nas_run *r);

// One trial row of a search: g scored by res (test fields NAN), status "ok"/"failed"/"nan".
int nas_record_trial(const nas_run *r, int64_t id, const genotype *g, const nas_eval_result *res,
                     const char *status);

// ---- checkpoints (nas_ckpt.c) ----------------------------------------------------------------
// All NAN: the identity of cost_add (nothing measured yet).
cost_totals nas_cost_none(void);
// A trainer position as it is stored in state blobs.
typedef struct {
    int32_t epoch, step;
    int64_t seen;
    double loss_sum, hits;
} nas_pos_blob;
nas_pos_blob nas_pos_pack(const gh_train_pos *p);
gh_train_pos nas_pos_unpack(const nas_pos_blob *b);
// A state blob's magic and version against what this build writes (GH_EFORMAT naming the blob).
int nas_blob_check(const ledger_ckpt_reader *r, const char *blob, const char *magic,
                   uint32_t version, const char *want_magic, uint32_t want_version);
// Begins a checkpoint of run l in `phase` with blob "nas/run" (cost: the phase's cost so far);
// the caller puts the engine state and its own blobs, then calls nas_ckpt_end. *w is NULL (and
// GH_OK returned) when ck or l is NULL: the run writes no checkpoints.
int nas_ckpt_begin(const nas_ckpt *ck, struct ledger *l, int phase, int64_t step,
                   const cost_totals *cost, ledger_ckpt_writer **w);
// Commits w when st is GH_OK, else drops it (the previous checkpoint stays), then tells
// ck->written; returns st or the commit's or the notification's failure.
int nas_ckpt_end(const nas_ckpt *ck, ledger_ckpt_writer *w, int st, const nas_ckpt_point *at);
// 1 at an epoch's end before its epoch_end hook (pos.step == steps): no checkpoint there, since
// the trainer resumed at an epoch without a step left reports no accuracy and no learning rate
// for it; the checkpoint after epoch_end follows at once.
static inline int nas_ckpt_skip(const gh_train_pos *pos, int steps) { return pos->step >= steps; }
// Data parallel (dp nonzero): also within an epoch (pos.step > 0). There each rank's loss and
// hit sums are its own (summed over the ranks at the epoch's end) and rank 0 alone writes, so a
// resume would give every rank rank 0's; a mid-epoch checkpoint is timed by each rank's clock,
// so gathering the sums then would be a collective not every rank reaches (a hang). At an
// epoch's end the sums are zero.
static inline int nas_ckpt_skip_dp(const gh_train_pos *pos, int steps, int dp) {
    return nas_ckpt_skip(pos, steps) || (dp && pos->step > 0);
}
// A position resumed by a data-parallel group (dp nonzero): the epoch's sums so far (those of a
// one-process checkpoint within an epoch: the whole batch's) count once over the ranks, as
// rank 0's; the other ranks start from zero.
void nas_pos_resume_dp(gh_train_pos *pos, int dp);
// The checkpoint to continue `phase` from: ck->from when the run resumes in that phase.
ledger_ckpt_reader *nas_ckpt_from(const nas_ckpt *ck, int phase);

// The final training's checkpoints (nas_final_run): "final/state" holds the seeds, the test
// accuracies of the seeds trained, the seed in training and its position and results so far.
typedef struct {
    const nas_ckpt *ck;
    struct ledger *l;
    const uint64_t *seeds;
    int nseeds, index;       // index: the seed being trained
    double *acc;             // test accuracies of seeds [0, index)
    double every_s;
    char genotype[2048];
    int resume_training;     // the checkpoint is within seed `first`'s training:
    gh_train_pos pos;        //   its position
    nas_train_result sofar;  //   and its results so far (cost included)
    nas_train_ckpt hooks;
} nas_final_ckpt;
// Reads a final-phase checkpoint when ck resumes one (the seed to continue, *first, and the
// accuracies of those before it into acc); else *first = 0. arch: the text of what is trained
// (a genotype's, or an ENAS macro arc's "enas-macro: ...").
int nas_final_ckpt_open(nas_final_ckpt *f, const nas_ckpt *ck, struct ledger *l,
                        const char *arch, const uint64_t *seeds, int nseeds, double *acc,
                        double every_s, int *first);
// A checkpoint between seeds: seeds before index trained, index not started.
int nas_final_ckpt_mark(nas_final_ckpt *f, int index);
// The checkpoint hooks of seed index's training (NULL: no checkpoints); the seed `first` the
// run resumes within loads its engine state and position, also on a rank without a ledger
// (data parallel: every rank loads, rank 0 alone writes).
const nas_train_ckpt *nas_final_ckpt_hooks(nas_final_ckpt *f, int index, int first);

// A proposer's state (nas_proposer.c) as blobs "<prefix>/header" and "<prefix>/seen"; load
// refuses a state saved by a proposer of another kind or other options.
int nas_proposer_save(const nas_proposer *p, const char *prefix, gh_state_put put, void *ctx);
int nas_proposer_load(nas_proposer *p, const char *prefix, ledger_ckpt_reader *r);

// The methods (one file each), reached through nas_methods.c's table.
int darts_run(nas_run *r, genotype *best);
int random_ws_run(nas_run *r, genotype *best);
int random_sampling_run(nas_run *r, genotype *best);
int regevo_run(nas_run *r, genotype *best);
int nasnet_rl_run(nas_run *r, genotype *best);
int enas_run(nas_run *r, genotype *best);
int enas_macro_run(nas_run *r, genotype *best);   // sets *r->macro_best
// ENAS's macro network for the trainer (enas_macro.c): the model of the loss functions (path:
// the arc the shared network runs; the fixed network ignores it), its arena for one step at
// batch (measured on arc, or c->arena_mb), the costliest arc of a depth, and a derived arc's
// trial row (arch "enas-macro: ...", params and madds of its final network).
typedef struct {
    enas_macronet *net;
    const enas_macro_arc *path;
} enas_macro_model;
// Builds m->net in e (parameters allocated); m->path is left as the caller set it.
int enas_macro_model_build(enas_macro_model *m, gh_engine *e, const enas_macro_config *mc,
                           const enas_macro_arc *arc);
gh_tensor *enas_macro_loss(void *model, gh_engine *e, const gh_batch *b, const int *labels,
                           gh_tensor **logits);
int enas_macro_arena_bytes(const nas_config *c, const enas_macro_config *mc,
                           const enas_macro_arc *arc, int batch, size_t *bytes);
void enas_macro_worst_arc(int layers, enas_macro_arc *a);
int enas_macro_record_trial(const nas_run *r, int64_t id, const enas_macro_arc *a,
                            const nas_eval_result *res, const char *status);
// ENAS's child learning rate at epoch (0-based): cosine with warm restarts (child_lr_T_0,
// child_lr_T_mul) from search_lr to search_lr_min, or one cosine when child_lr_T_0 is 0.
double enas_child_lr(const nas_config *c, int epoch);

// The proposers (one file each), reached through nas_proposer.c's table: each allocates its
// struct (base first) and sets vt; nas_proposer_create fills the base.
int nas_random_proposer_create(nas_proposer **out);
int nas_regevo_proposer_create(nas_proposer **out);
int nas_rl_proposer_create(nas_proposer **out);

// Data parallel, at the end of a phase, on every rank (a collective): adds the other ranks'
// busy GPU time into rank 0's meter (GPU-hours are the sum over ranks), raises its peak memory
// to the largest rank's, and returns the mean over ranks of the seconds spent in dp's
// reductions (0 without dp: one process).
double nas_dp_finish(cost_meter *m, const dp_reducer *dp);
// Data parallel, in an epoch hook on every rank: p's training loss and accuracy become the
// means over every rank's images (each rank's trainer saw its shard only). Nothing in one
// process.
int nas_dp_progress(const dp_reducer *dp, gh_train_progress *p);
// Data parallel, on every rank (a collective): dp's seconds in reductions so far, mean over
// the ranks; 0 without dp.
double nas_dp_comm(const dp_reducer *dp);
// Data parallel, in an epoch hook on every rank (a collective): each rank's cost so far by its
// own meter m (wall, CPU and busy GPU seconds, energy, peak memory: NAN where not measured)
// gathered to rank 0, which records them in l (when not NULL) as the float matrix artifact
// rank_costs_<phase>_epoch_NNN (trial_id >= 0: rank_costs_<phase>_trial_<id>_epoch_NNN), one
// row per rank, columns in NAS_RANK_COST_COLUMNS (results/SCHEMA.md). Nothing without dp.
#define NAS_RANK_COST_COLUMNS "rank wall_s cpu_s busy_gpu_s energy_j peak_mem_bytes"
int nas_dp_rank_costs(const dp_reducer *dp, cost_meter *m, struct ledger *l, const char *phase,
                      int64_t trial_id, int epoch);
