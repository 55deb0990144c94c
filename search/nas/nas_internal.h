// nas_internal: what the files of search/nas share and nothing above them sees: the batches the
// trainer draws (nas_feed.c), trial records (nas_setup.c), and the methods' entry points, which
// are reached only through the table in nas_methods.c.
#pragma once
#include "nas.h"

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
// One trial row of a search: g scored by res (test fields NAN), status "ok"/"failed"/"nan".
int nas_record_trial(const nas_run *r, int64_t id, const genotype *g, const nas_eval_result *res,
                     const char *status);

// The methods (one file each), reached through nas_methods.c's table.
int darts_run(nas_run *r, genotype *best);
int random_ws_run(nas_run *r, genotype *best);
int random_sampling_run(nas_run *r, genotype *best);

// The proposers (one file each), reached through nas_proposer.c's table: each allocates its
// struct (base first) and sets vt; nas_proposer_create fills the base.
int nas_random_proposer_create(nas_proposer **out);
