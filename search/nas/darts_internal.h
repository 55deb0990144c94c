// darts_internal: helpers shared by the NAS drivers (darts.c, darts_train.c, random_nas.c):
// batching with augmentation, progress lines with ETA, ledger recording of a genotype.
#pragma once
#include "nas.h"

// Shuffled order of n indices for an epoch (stream GH_STREAM_DATA, keyed by seed and epoch).
int *darts_epoch_order(int n, uint64_t seed, int epoch);
// Host staging for one batch.
typedef struct {
    float *x;
    int *y;
    int cap, per;
} darts_batch;
int darts_batch_alloc(darts_batch *b, int cap, const gh_images *im);
void darts_batch_free(darts_batch *b);
// Arena for one forward/backward at `batch`: arena_mb when set, else measured by a probe step
// of `probe` (a function that builds the network into a scratch engine and runs one pass).
typedef int (*darts_probe_fn)(gh_engine *e, void *ctx, int batch);
int darts_arena_bytes(const darts_config *c, darts_probe_fn probe, void *ctx, int batch,
                      size_t *bytes);
// Progress line: "<what> epoch e/E step s/S loss acc | elapsed ETA".
void darts_progress(const char *what, int epoch, int epochs, int step, int steps, double loss,
                    double acc, double t0, double done_frac);
// Genotype text and counts for a trial record.
void darts_genotype_info(const darts_config *c, const darts_data *d, const genotype *g,
                         char *text, size_t len, double *params, double *madds);
// Network configuration for the data set.
darts_net_config darts_net_for(const darts_data *d, int layers, int channels, int auxiliary);
// Trains a built evaluation network for `epochs` on train (augmented by aug) and evaluates on
// eval after every epoch; records epochs under phase/trial_id when l is set.
typedef struct {
    int epochs, batch;
    double lr, lr_min, momentum, wd, grad_clip, drop_path, aux_weight;
    int report_every;
    uint64_t seed;
    const char *phase;
    int64_t trial_id;
} darts_train_opts;
typedef struct {
    double train_loss, train_acc, eval_loss, eval_acc;
} darts_train_result;
int darts_train_evalnet(gh_engine *e, darts_evalnet *net, const gh_images *train,
                        const gh_images *eval, const images_aug *aug, const darts_train_opts *o,
                        struct ledger *l, cost_meter *meter, darts_train_result *r);
