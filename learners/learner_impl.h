// learners/learner_impl.h: private to learners/: the model object behind learner_model, the
// table of operations each learner family implements (xgboost.c, lightgbm.c, liblinear.c,
// mlp.c), the text serialisation the model file uses (serial.c) and the one-hot + standardise
// encoder shared by the linear models and the MLP (encode.c). Not part of the public contract.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "learners.h"

typedef struct sbuf sbuf;

typedef struct learner_ops {
    // Fills m->impl (m->def, m->cfg, m->schema are set). cfg in def order.
    int (*fit)(learner_model *m, const gh_dataset *train, uint64_t seed, double time_limit_s,
               int *stopped_early);
    int (*predict)(const learner_model *m, const gh_dataset *data, float *out);
    int (*save)(const learner_model *m, sbuf *out);                       // the payload
    int (*load)(learner_model *m, const char *payload, size_t len);
    void (*release)(learner_model *m);
    // A library loaded at run time (lightgbm.c): NULL when it is usable, else why not and how
    // to get it. NULL for learners linked at build time (always usable).
    const char *(*unavailable)(void);
    // learner_fit_units for this family (learners.h): the work of a fit and of its part that a
    // time limit cannot stop.
    double (*fit_units)(const learner_def *def, const double *cfg, const gh_dataset *shape,
                        int rows, double *first);
} learner_ops;

struct learner_model {
    const learner_def *def;
    const learner_ops *ops;
    double *cfg;              // [def->n_hp]
    gh_dataset schema;        // n = 0: features, levels, classes, task, target name
    char device[32];          // where it was trained: "cpu", "cuda:0"
    void *impl;
};

// The value of hyperparameter `name` in cfg (HP_INT rounded), or dflt when def has none.
double hp_value(const learner_def *def, const double *cfg, const char *name, double dflt);
// OpenMP threads for a library fit (XGBoost, LightGBM) on data: 1 for small data (under 2e5
// cells: OpenMP's fork/join per tree node costs more than the work: 40 rounds on 400 x 5 took
// 2.7 s with 2 busy threads, 0.07 s with one), else the cores the 1-minute load average leaves
// free besides this process's own thread, at most gh_cpu_threads(). On a busy machine a
// multithreaded fit waits at every node's barrier for a descheduled thread: 29 trees of a forest
// on 1388 x 217 rows took 18.3 s with 2 threads at load 10 on 2 cores, where the same trees on a
// third of the rows took 0.02 s single-threaded, and broke tune's budget by 13 s.
int learner_fit_threads(const gh_dataset *data);
// The width of the one-hot encoding of shape's features (encode.c's layout): a numeric feature
// one column, a nominal one a column per level.
double encoded_width(const gh_dataset *shape);

extern const learner_ops learner_ops_xgboost;
extern const learner_ops learner_ops_lightgbm;
extern const learner_ops learner_ops_liblinear;
extern const learner_ops learner_ops_mlp;

// ---- serial.c: a growing text buffer and a cursor over one ----------------------------------
struct sbuf {
    char *data;
    size_t len, cap;
    int failed;               // an allocation failed; the content is incomplete
};
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_put(sbuf *b, const void *data, size_t n);
void sbuf_quoted(sbuf *b, const char *s);          // "..." with \" \\ \n \t escapes
void sbuf_doubles(sbuf *b, const double *v, size_t n);  // %.17g each, one line
void sbuf_free(sbuf *b);

typedef struct {
    const char *p, *end, *begin;
    const char *what;         // the file, for messages
} scursor;
int scur_word(scursor *c, const char *expect);      // the next word must be `expect`
int scur_int(scursor *c, long *v);
int scur_double(scursor *c, double *v);
int scur_doubles(scursor *c, double *v, size_t n);
int scur_quoted(scursor *c, char **out);           // malloc'd
int scur_bytes(scursor *c, size_t n, const char **at);  // after one '\n'
// Whether n more items of at least min_bytes each (a separator included, but for the last)
// can still follow: a count read from a file is checked with it before anything that size is
// allocated (n as a double: no overflow).
int scur_fits(const scursor *c, double n, size_t min_bytes);

// ---- encode.c: features for linear models and networks ------------------------------------
// Numeric features standardised with training mean and standard deviation (missing -> mean,
// i.e. 0 after standardising); nominal features one-hot over their levels (missing -> all 0).
typedef struct {
    int d, width;             // input features, encoded width
    int *offset;              // [d]: first encoded column of feature j
    int *levels;              // [d]: 0 numeric, else one-hot width
    double *mean, *scale;     // [d] (numeric only; scale = 1/std, 1 for constants)
} encoder;
int encoder_fit(encoder *e, const gh_dataset *ds);
void encoder_row(const encoder *e, const float *x, float *out);   // out[width]
void encoder_save(const encoder *e, sbuf *b);
int encoder_load(encoder *e, scursor *c);
// A loaded encoder must describe the model's schema (feature count, levels of each): rows of
// schema->d values are encoded with it. GH_EFORMAT naming `what` otherwise.
int encoder_check_schema(const encoder *e, const gh_dataset *schema, const char *what);
void encoder_free(encoder *e);
