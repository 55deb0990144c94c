// models: the DARTS search space (Liu et al., ICLR 2019) as data: a table of op names to
// constructors, genotypes in DARTS's own text form, the search network (supernet with mixed
// ops and architecture weights in GH_GROUP_ARCH), the evaluation network (auxiliary head,
// drop-path) and an exact analytic counter of parameters and multiply-adds; beside it ENAS's
// macro space (arcs, the shared and the fixed macro network, their count).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../engine/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

// ==== ops (ops.c) =============================================================================
// Order of the first 8 is DARTS's PRIMITIVES list, so alpha column k is op k.
typedef enum {
    DARTS_OP_NONE = 0,
    DARTS_OP_MAX_POOL_3X3,
    DARTS_OP_AVG_POOL_3X3,
    DARTS_OP_SKIP_CONNECT,
    DARTS_OP_SEP_CONV_3X3,
    DARTS_OP_SEP_CONV_5X5,
    DARTS_OP_DIL_CONV_3X3,
    DARTS_OP_DIL_CONV_5X5,
    DARTS_OP_SEP_CONV_7X7,   // in the NASNet/AmoebaNet genotypes of the reference code only
    DARTS_OP_CONV_7X1_1X7,
    DARTS_OP_RELU_CONV_BN,   // cell preprocessing: ReLU, 1x1 conv, BN
    DARTS_OP_FACT_REDUCE,    // FactorizedReduce: two offset stride-2 1x1 convs, concat, BN
    DARTS_OP_COUNT
} darts_op_kind;
#define DARTS_NUM_PRIMITIVES 8   // the searched ops
#define DARTS_NUM_GENO_OPS 10    // ops a genotype may name

typedef struct {
    gh_tensor *gamma, *beta;      // NULL without affine
    gh_tensor *mean, *var;        // GH_GROUP_BUFFERS
} darts_bn;

typedef struct {
    gh_tensor *w;
    int stride_h, stride_w, pad_h, pad_w, dil, groups;
} darts_conv;

#define DARTS_OP_MAX_CONVS 4
#define DARTS_OP_MAX_BNS 2
// One instance of an op: its kind, geometry and parameter handles.
typedef struct {
    darts_op_kind kind;
    int c_in, c_out, stride, affine;
    int nconv, nbn;
    darts_conv conv[DARTS_OP_MAX_CONVS];
    darts_bn bn[DARTS_OP_MAX_BNS];
} darts_op;

// Parameters and multiply-adds of one op instance on an h x w input (per example).
typedef struct {
    double params;     // trainable weights (conv weights, BN affine)
    double madds;      // multiply-adds of convolutions and linear layers
    double buffers;    // BN running statistics
} darts_count;

typedef struct {
    const char *name;   // as in DARTS's operations.py
    // Declares the op's parameters (prefix names them); before gh_params_alloc.
    int (*build)(gh_engine *e, darts_op *op, const char *prefix);
    gh_tensor *(*forward)(gh_engine *e, const darts_op *op, gh_tensor *x);
    // Adds the op's analytic count on an h x w input to c (independent of build: tests
    // compare the two).
    void (*count)(const darts_op *op, int h, int w, darts_count *c);
} darts_op_def;

extern const darts_op_def darts_ops[DARTS_OP_COUNT];
// Index of a genotype op name (among the first DARTS_NUM_GENO_OPS), or -1.
int darts_op_lookup(const char *name, size_t len);
// Declares one op instance (kind, channels, stride, affine) under the name prefix.
int darts_op_build(gh_engine *e, darts_op *op, darts_op_kind kind, int c_in, int c_out,
                   int stride, int affine, const char *prefix);
gh_tensor *darts_op_forward(gh_engine *e, const darts_op *op, gh_tensor *x);
void darts_op_count(const darts_op *op, int h, int w, darts_count *c);
// Building blocks shared by the networks.
int darts_conv_decl(gh_engine *e, darts_conv *cv, const char *name, int c_in, int c_out, int kh,
                    int kw, int stride_h, int stride_w, int pad_h, int pad_w, int dil, int groups);
gh_tensor *darts_conv_fwd(gh_engine *e, const darts_conv *cv, gh_tensor *x);
int darts_bn_decl(gh_engine *e, darts_bn *bn, const char *name, int c, int affine);
gh_tensor *darts_bn_fwd(gh_engine *e, const darts_bn *bn, gh_tensor *x);

// ==== genotypes (genotype.c) ==================================================================
#define GENO_MAX_STEPS 8
typedef struct {
    int op;      // darts_op_kind, < DARTS_NUM_GENO_OPS
    int input;   // 0, 1: the cell inputs; 2 + i: intermediate node i
} geno_edge;

typedef struct {
    int steps;                          // intermediate nodes; 2 edges each
    geno_edge edge[2 * GENO_MAX_STEPS];
    int nconcat;
    int concat[GENO_MAX_STEPS + 2];     // node indices whose outputs are concatenated
} geno_cell;

typedef struct {
    geno_cell normal, reduce;
} genotype;

// Parses DARTS's text form: Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3,
// 4, 5], reduce=[...], reduce_concat=range(2, 6)). Lists or range() for concat, either quote.
// Bad text: GH_EFORMAT with a message giving the character position and what was expected.
int genotype_parse(genotype *g, const char *text);
// Canonical text (lists for concat); returns the length it needs (like snprintf).
int genotype_print(const genotype *g, char *out, size_t len);
int genotype_equal(const genotype *a, const genotype *b);
// Checks indices refer to earlier nodes, concat in range, ops known.
int genotype_validate(const genotype *g);
// Named genotypes of the reference code: "DARTS_V1", "DARTS_V2" (= "DARTS"), "NASNet",
// "AmoebaNet"; and "ENAS", the published ENAS micro cell (5 nodes); NULL if unknown.
// "ENAS_MACRO" names the published macro network, whose text is a macro arc's ("enas-macro:
// ...", search/nas enas_macro_resolve), not a genotype's.
const char *genotype_named(const char *name);

// ==== the NASNet search space (nasnet.c) ======================================================
// Zoph et al. 2018 and Real et al. 2019: B = 5 blocks per cell, each the sum of two ops on two
// hidden states (the cell's inputs 0, 1 or an earlier block; the same one twice is allowed), an
// op from nasnet_ops; concat = the blocks no block reads (NASNet's unused hidden states).
#define NASNET_BLOCKS 5
#define NASNET_NUM_OPS 8
extern const darts_op_kind nasnet_ops[NASNET_NUM_OPS];
int nasnet_op_index(int op);                   // position in nasnet_ops, or -1
void nasnet_cell_concat(geno_cell *c);         // sets concat to the unused blocks
// GH_OK when g is in the NASNet space (5 blocks, NASNet ops, concat = unused blocks), else
// GH_EINVAL saying what is not.
int nasnet_genotype_check(const genotype *g);
// A genotype drawn uniformly from the NASNet space.
void nasnet_random_genotype(gh_rng *r, genotype *g);

// ==== networks (supernet.c, evalnet.c) ========================================================
typedef struct {
    int in_c, in_h, in_w, classes;
    int layers;            // cells; reductions at layers/3 and 2*layers/3
    int c;                 // initial channels
    int steps;             // intermediate nodes per cell (4)
    int multiplier;        // supernet: nodes concatenated at the cell output (4)
    int stem_multiplier;   // 3
    int auxiliary;         // evaluation network: build the auxiliary head
    double dropout;        // evaluation network: dropout before the classifier (0: none, DARTS)
} darts_net_config;

// The defaults of the paper: search 8 cells C=16, evaluation 20 cells C=36, CIFAR-10 shapes.
darts_net_config darts_search_net_defaults(void);
darts_net_config darts_eval_net_defaults(void);

// ---- search network: mixed ops, alphas_normal/alphas_reduce [14, 8] in GH_GROUP_ARCH ----
typedef struct darts_supernet darts_supernet;
// Declares every parameter in e (call before gh_params_alloc).
int darts_supernet_build(darts_supernet **out, gh_engine *e, const darts_net_config *cfg);
void darts_supernet_free(darts_supernet *n);
int darts_supernet_edges(const darts_supernet *n);   // mixed-op edges per cell (14)
void darts_supernet_input_shape(const darts_supernet *n, int batch, int shape[4]);
// Full supernet: every mixed op is sum_k softmax(alpha)_k op_k(x) (paper eq. 1).
gh_tensor *darts_supernet_forward(darts_supernet *n, gh_tensor *x);
// One path of the supernet: only the genotype's ops on its edges, weight 1 (random search
// with weight sharing, Li & Talwalkar 2019). Shares the supernet's weights.
gh_tensor *darts_supernet_forward_path(darts_supernet *n, gh_tensor *x, const genotype *g);
// The raw alphas of the normal (reduce = 0) or reduction cells into host out [edges, 8].
int darts_supernet_read_alphas(darts_supernet *n, int reduce, float *out);
// Derived genotype: per node the 2 strongest incoming edges by their strongest non-none op
// weight, each with its strongest non-none op (DARTS's genotype()). Reads alphas to host.
int darts_supernet_genotype(darts_supernet *n, genotype *g);
// Same derivation from host alpha matrices (rows = edges, cols = DARTS_NUM_PRIMITIVES).
void darts_derive_genotype(const float *alpha_normal, const float *alpha_reduce, int steps,
                           int multiplier, genotype *g);

// ---- evaluation network (NetworkCIFAR) --------------------------------------------------
typedef struct darts_evalnet darts_evalnet;
int darts_evalnet_build(darts_evalnet **out, gh_engine *e, const darts_net_config *cfg,
                        const genotype *g);
void darts_evalnet_free(darts_evalnet *n);
// drop_path: probability for every non-identity op output (the engine applies it in training
// mode only). logits_aux: NULL skips the auxiliary head (evaluation); otherwise it receives the
// head's logits when the network was built with it, else NULL.
gh_tensor *darts_evalnet_forward(darts_evalnet *n, gh_tensor *x, float drop_path,
                                 gh_tensor **logits_aux);

// ==== exact counting (count.c) ===============================================================
typedef struct {
    double params;         // trainable weights, auxiliary head excluded (as DARTS reports)
    double params_aux;     // of the auxiliary head alone
    double arch;           // architecture weights (supernet only)
    double buffers;        // BN running statistics
    double madds;          // multiply-adds per example, inference path (no auxiliary head)
} darts_net_count;
// Analytic counts of the evaluation network for genotype g, or of the supernet (g NULL).
int darts_count_net(const darts_net_config *cfg, const genotype *g, darts_net_count *out);

// ==== ENAS's arc texts (arc_text.c) ==========================================================
// The integers of an arc text (spaces or commas between), at most max, into vals, and each
// one's character offset into starts; *n their count. GH_EFORMAT, the message starting with
// `what` and naming the token and its character: a token that is not a non-negative integer
// (at most 1000), or more than max of them (`limit` says what bounds them).
int arc_read_ints(const char *text, const char *what, int max, const char *limit, int *vals,
                  int *starts, int *n);

// ==== ENAS's macro space (macro_arc.c, macronet.c) ============================================
// Pham et al., ICML 2018, section 2.3 (melodyguan/enas general_child.py, general_controller.py
// with search_whole_channels): a chain of L layers after a 3x3 stem, each one op on the layer
// before it plus skip connections from any earlier node (node 0 the stem, node i + 1 layer i's
// output); factorized reduction of every node after layers L/3 - 1 and 2L/3 - 1.
#define ENAS_MACRO_MAX_LAYERS 32
#define ENAS_MACRO_NUM_OPS 6
// The official branch ids (general_child.py _enas_layer): 0 conv 3x3, 1 sep conv 3x3, 2 conv
// 5x5, 3 sep conv 5x5, 4 avg pool 3x3, 5 max pool 3x3.
extern const char *const enas_macro_op_names[ENAS_MACRO_NUM_OPS];
typedef struct {
    int layers;                                               // L
    int op[ENAS_MACRO_MAX_LAYERS];
    // skip[l][i] (i < l): layer l adds node i (0: the stem; i: layer i - 1's output); layer
    // l - 1's output is its op's input, not a skip
    unsigned char skip[ENAS_MACRO_MAX_LAYERS][ENAS_MACRO_MAX_LAYERS];
} enas_macro_arc;
// The official integers, per layer its op then its l skip bits (L(L+1)/2 in all; the layer
// count follows from it), separated by spaces or commas. Bad text: GH_EFORMAT naming the token,
// its character position and the range it must be in.
int enas_macro_arc_parse(enas_macro_arc *a, const char *text);
// The official form, space separated; returns the length it needs (snprintf rules).
int enas_macro_arc_print(const enas_macro_arc *a, char *out, size_t len);
int enas_macro_arc_validate(const enas_macro_arc *a);
int enas_macro_arc_equal(const enas_macro_arc *a, const enas_macro_arc *b);

typedef struct {
    int in_c, in_h, in_w, classes;
    int layers;            // L (search 12, final 24)
    int c;                 // out_filters (search 36, final 96)
    // 1: the search child: every op of every layer (shared weights), one arc per forward, skips
    // summed then BN, channels constant (_enas_layer). 0: the network of one arc (_fixed_layer):
    // skips concatenated with the op's output, ReLU, 1x1 conv back to c, BN; channels doubled
    // at each reduction.
    int shared;
    double dropout;        // before the classifier in training (1 - child_keep_prob)
} enas_macro_config;
typedef struct enas_macronet enas_macronet;
// Declares every parameter in e (before gh_params_alloc); arc: the fixed network's arc (its ops
// and skips decide the parameters), NULL for the shared one.
int enas_macronet_build(enas_macronet **out, gh_engine *e, const enas_macro_config *cfg,
                        const enas_macro_arc *arc);
void enas_macronet_free(enas_macronet *n);
// Logits of x; arc: the path of the shared network (the fixed one ignores it and runs its own).
gh_tensor *enas_macronet_forward(enas_macronet *n, gh_tensor *x, const enas_macro_arc *arc);
// Analytic counts (params, buffers, madds per example; params_aux and arch 0): the fixed
// network of arc (shared 0), or the shared network (shared 1, arc ignored).
int enas_macro_count(const enas_macro_config *cfg, const enas_macro_arc *arc, darts_net_count *out);
// The layers after which every node is reduced (general_child.py pool_layers).
void enas_macro_pool_layers(int layers, int out[2]);

// ==== the small CNN of `gpuhours train` (cnn.c) ================================================
// conv3x3(16)-BN-ReLU-maxpool-conv3x3(32)-BN-ReLU-maxpool-linear, for h x w x c images.
typedef struct {
    gh_tensor *w1, *g1, *b1, *m1, *v1, *w2, *g2, *b2, *m2, *v2, *fw, *fb;
} cnn_net;
int cnn_build(cnn_net *m, gh_engine *e, int c, int h, int w, int classes);  // declares, allocates
gh_tensor *cnn_forward(const cnn_net *m, gh_engine *e, gh_tensor *x);       // logits
gh_tensor *cnn_loss(void *model, gh_engine *e, const gh_batch *b, const int *labels,
                    gh_tensor **logits);                                   // a gh_loss_fn

#ifdef __cplusplus
}
#endif
