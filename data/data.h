// data: readers and transforms for the datasets gpuhours trains and searches on. Every
// reader validates its input and, on bad input, returns GH_EFORMAT/GH_EIO with a message
// naming the file, the line/offset and the field.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"

#ifdef __cplusplus
extern "C" {
#endif

// ==== images (idx.c, cifar.c, augment.c) =====================================================
// n images of c x h x w floats in [0, 1] (NCHW), labels in [0, classes).
typedef struct {
    int n, c, h, w, classes;
    float *x;
    int *y;
} gh_images;

// IDX (MNIST, Fashion-MNIST), gzip-compressed or not (by magic bytes, not by name).
int images_read_idx(gh_images *out, const char *images_path, const char *labels_path);
// dir/train-images-idx3-ubyte[.gz] etc.; split: "train" or "test".
int images_read_mnist_dir(gh_images *out, const char *dir, const char *split);
void images_free(gh_images *im);
#define GH_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

// CIFAR-10/100 binary format (cifar.c): records of label byte(s) then 3072 bytes (R, G, B
// planes of 32x32). CIFAR-10: 1 label byte, dir/data_batch_{1..5}.bin and test_batch.bin;
// CIFAR-100: coarse and fine label bytes (fine used), dir/train.bin and test.bin. dir may also
// be the parent of cifar-10-batches-bin/ or cifar-100-binary/. classes: 10 or 100.
int images_read_cifar_file(gh_images *out, const char *path, int classes);
int images_read_cifar_dir(gh_images *out, const char *dir, int classes, const char *split);

// Subsets (split.c). images_subset copies the images idx[0..n). images_split is the DARTS
// split (train_search.py): the first floor(portion * n) images in index order for the weights,
// the rest for the architecture. images_sample keeps n images chosen by seed (smoke runs).
int images_subset(gh_images *out, const gh_images *src, const int *idx, int n);
int images_split(const gh_images *src, double portion, gh_images *first, gh_images *second);
int images_sample(gh_images *out, const gh_images *src, int n, uint64_t seed);

// Augmentation and batching (augment.c): random crop with zero padding, horizontal flip,
// per-channel normalisation, then cutout (in that order, as DARTS's utils.py). Every random
// choice is gh_hash64(seed, (epoch, image index)), so a batch is the same in any order, on
// any thread count and on a resumed run.
typedef struct {
    int crop_pad;          // random crop of the original size from the zero-padded image; 0 off
    int flip;              // random horizontal flip
    int cutout;            // side of the zeroed square (DARTS: 16); 0 off
    float mean[4], std[4]; // per channel
} images_aug;
// Per-channel mean and (population) standard deviation over every image.
int images_channel_stats(const gh_images *im, float *mean, float *std);
// Writes images idx[0..n) into x ([n, c, h, w]) and their labels into y; train = 0 applies only
// the normalisation.
void images_batch(const gh_images *im, const int *idx, int n, const images_aug *aug, int train,
                  uint64_t seed, uint64_t epoch, float *x, int *y);

// ==== tabular (csv.c, arff.c, table.c, dataset.c) ================================================
typedef enum { GH_COL_NUMERIC = 0, GH_COL_NOMINAL = 1, GH_COL_STRING = 2, GH_COL_DATE = 3 } gh_coltype;
typedef struct {
    char *name;
    gh_coltype type;
    int n_levels;      // nominal and string: distinct values seen (or declared, ARFF)
    char **levels;     // level text, index = the value stored in gh_table.values
} gh_column;

// A raw table as read: values row-major [n_rows x n_cols]; numeric as is, date as seconds
// since the epoch, nominal/string as the level index; missing = NAN.
typedef struct {
    int n_rows, n_cols;
    gh_column *cols;
    double *values;
    char *source;      // the path it was read from
    int *row_lines;    // [n_rows]: the source line each row starts on (for messages)
} gh_table;

// CSV: a header row, RFC 4180 quoting, missing as empty / "?" / "NA"; column types inferred
// (numeric when every non-missing value parses). ARFF: numeric, nominal, string and date
// attributes, '?' for missing, sparse rows {i v, ...}. table_read picks by extension
// (.csv, .arff, .arff.gz too). Errors: GH_EFORMAT naming file, line and column.
int table_read_csv(gh_table *out, const char *path);
int table_read_arff(gh_table *out, const char *path);
int table_read(gh_table *out, const char *path);
void table_free(gh_table *t);
int table_find_column(const gh_table *t, const char *name);   // index or -1

typedef enum { GH_TASK_AUTO = -1, GH_TASK_BINARY = 0, GH_TASK_MULTICLASS = 1,
               GH_TASK_REGRESSION = 2 } gh_task;
const char *gh_task_name(gh_task t);

// Learner-ready data: x row-major [n x d] float with NAN for missing; nominal features kept as
// level codes (feat_levels[j] > 0) so each learner encodes them as it needs (one-hot for
// linear models and the MLP, codes for trees). y: class index (classification) or value.
typedef struct {
    int n, d;
    float *x;
    float *y;
    gh_task task;
    int n_classes;            // 0 for regression
    char **class_names;       // [n_classes]
    char **feat_names;        // [d]
    int *feat_levels;         // [d]: 0 numeric, else number of nominal levels
    char ***level_names;      // [d]: NULL numeric, else the feat_levels[j] level texts
    char *target_name;
    char task_reason[160];    // why the task is what it is ("inferred: ...", "given"), or ""
    char task_warning[224];   // an inference close to the rule's threshold, or ""
} gh_dataset;

// The task inference rule (scikit-learn's type_of_target, with a bound on the classes), for
// task GH_TASK_AUTO, over the rows with a target:
//   - nominal or string target -> classification: 2 levels binary, more multiclass. A CSV
//     column of true/false (any non-numeric texts) is read as nominal, so booleans are binary;
//   - numeric (not date) target whose values are all integers with at most
//     dataset_class_limit(rows) = max(20, 1% of rows) distinct values -> classification
//     (2 values binary, more multiclass): class codes such as glass types 1,2,3,5,6,7 or
//     digits 0-9; the classes are the values in ascending order, named by their text;
//   - otherwise (non-integer values, more distinct integers than the limit, dates) ->
//     regression.
// ds->task_reason says which rule applied; ds->task_warning is set when the choice was close:
// integer values with a distinct count within 25% of the limit either side, or integers only
// but more distinct values than the limit (class codes of many classes look like that too).
int dataset_class_limit(int rows);
// target: column name (NULL: the last column). task GH_TASK_AUTO infers it by the rule above;
// a given task is checked against the target (binary: 2 distinct values; multiclass: integer
// or nominal values; regression: a numeric target). String feature columns are dropped, date
// features kept as days. Errors: missing target column, constant target, rows with a missing
// target (dropped with a warning on stderr naming the rows; an error if none remain).
int dataset_from_table(gh_dataset *out, const gh_table *t, const char *target, gh_task task);
// The same features as `schema` (matched by name; nominal values by level text, an unseen
// level becomes missing with a warning), e.g. new data for a saved model. The target column
// target_name of the schema is read when present (y NAN otherwise). Error: a missing feature.
int dataset_from_table_schema(gh_dataset *out, const gh_table *t, const gh_dataset *schema);
// A copy of everything but the rows (n = 0): the schema a model keeps.
int dataset_schema_copy(gh_dataset *out, const gh_dataset *src);
// Copies rows idx[0..n) of src (sharing nothing).
int dataset_subset(gh_dataset *out, const gh_dataset *src, const int *idx, int n);
void dataset_free(gh_dataset *ds);

#ifdef __cplusplus
}
#endif
