// darts_internal: helpers shared by the NAS drivers (darts.c, darts_train.c, random_nas.c):
// the batches the trainer draws, ledger recording of a genotype.
#pragma once
#include "nas.h"

// The shuffled order of n indices for an epoch (stream GH_STREAM_DATA, keyed by seed and epoch),
// so that a resumed run draws the same batches.
void nas_epoch_order(int *idx, int n, uint64_t seed, int epoch);
// The batches of one image set for the trainer: the epoch's seeded shuffle (stream
// GH_STREAM_DATA, keyed by seed and epoch) with augmentation, or the first `limit` images in
// order with normalisation only; staged in host memory.
typedef struct {
    const gh_images *im;
    images_aug aug;          // training augmentation; evaluation uses its mean/std only
    uint64_t seed;           // data order and augmentation
    int batch;
    int limit;               // images an evaluation pass covers (im->n by default)
    int *order, order_epoch; // the shuffle of order_epoch (-1: none yet)
    float *x;
    int *y;
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
int darts_train_evalnet(gh_engine *e, nas_net *net, const gh_images *train,
                        const gh_images *eval, const images_aug *aug, const darts_train_opts *o,
                        struct ledger *l, cost_meter *meter, darts_train_result *r);
