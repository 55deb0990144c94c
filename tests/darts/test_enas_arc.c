// test_enas_arc: ENAS's integer arc strings (search/nas/enas_arc.c): the published micro cell of
// cifar10_micro_final.sh parses, prints back to the same text, converts to the DARTS genotype
// by hand, and is counted in the paper's final network; parse errors point at the token.
#include <string.h>

#include "check.h"
#include "search/nas/nas.h"

// melodyguan/enas scripts/cifar10_micro_final.sh, fixed_arc (normal cell, then reduction cell)
static const char *published =
    "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 "
    "1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

// The same cells written by hand in DARTS's genotype text (ENAS ops: 0 sep_conv_3x3,
// 1 sep_conv_5x5, 2 avg_pool_3x3, 3 max_pool_3x3, 4 skip_connect); concat: the nodes no node reads
static const char *published_genotype =
    "Genotype(normal=[('avg_pool_3x3', 0), ('sep_conv_3x3', 0), ('skip_connect', 0), "
    "('sep_conv_5x5', 0), ('skip_connect', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 1), "
    "('sep_conv_5x5', 0), ('avg_pool_3x3', 0), ('sep_conv_5x5', 1)], "
    "normal_concat=[2, 3, 4, 5, 6], "
    "reduce=[('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('max_pool_3x3', 0), "
    "('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 3), ('sep_conv_3x3', 1), "
    "('skip_connect', 0), ('max_pool_3x3', 0), ('sep_conv_5x5', 1)], "
    "reduce_concat=[2, 4, 5, 6])";

static void bad(const char *text, int nodes, const char *must_contain) {
    enas_arc a;
    int st = enas_arc_parse(&a, text, nodes);
    CHECK_MSG(st == GH_EFORMAT, "'%s' parsed (%d)", text, st);
    CHECK_MSG(strstr(gh_error_get(), must_contain) != NULL, "message '%s' lacks '%s'",
              gh_error_get(), must_contain);
}

static void test_published(void) {
    enas_arc a;
    CHECK_OK(enas_arc_parse(&a, published, 0));
    CHECK(a.nodes == 5);
    char text[512];
    enas_arc_print(&a, text, sizeof text);
    CHECK_MSG(!strcmp(text, published), "printed '%s'", text);
    genotype g, want;
    CHECK_OK(enas_arc_to_genotype(&a, &g));
    CHECK_OK(genotype_parse(&want, published_genotype));
    char gt[2048];
    genotype_print(&g, gt, sizeof gt);
    CHECK_MSG(genotype_equal(&g, &want), "converted to %s", gt);
    // the named genotype "ENAS" (models/genotype.c) is this conversion
    genotype named;
    CHECK(genotype_named("ENAS") != NULL);
    CHECK_OK(genotype_parse(&named, genotype_named("ENAS")));
    CHECK(genotype_equal(&g, &named));

    // The paper's final network (cifar10_micro_final.sh): child_num_layers 15 normal cells and
    // 2 reduction cells (at 5 and 11, as DARTS's layers/3 and 2*layers/3 of 17), out_filters 36,
    // stem 3 x 36, auxiliary head.
    darts_net_config nc = darts_eval_net_defaults();
    nc.layers = 17;
    nc.c = 36;
    nc.steps = nc.multiplier = 5;
    darts_net_count cnt;
    CHECK_OK(darts_count_net(&nc, &g, &cnt));
    printf("published ENAS micro cell, 17 cells C=36: %.0f params (%.3fM), auxiliary head %.0f, "
           "%.1fM multiply-adds\n",
           cnt.params, cnt.params / 1e6, cnt.params_aux, cnt.madds / 1e6);
    // The paper reports 4.6M (Table 2, ENAS + micro search space). Ours: 3,729,430 without the
    // auxiliary head (DARTS's convention, and the counter is checked against the built network
    // in test_darts_count), 4,205,856 with it (476,426). The official code counts every trainable
    // TensorFlow variable (utils.count_model_params), auxiliary head included, so the comparable
    // figure is 4.21M: 0.39M (8%) below the paper. The cells are the same; the gap is ENAS's own
    // layer layout, which DARTS's network does not reproduce: _fixed_layer's calibration of
    // both inputs (1x1 convs and factorized reductions to out_filters) plus a "layer_base" 1x1
    // conv on the previous layer, where DARTS has one ReLU-1x1conv-BN per input. Not reconciled
    // to the parameter: we count DARTS's layout exactly and say so.
    CHECK_MSG(cnt.params == 3729430 && cnt.params_aux == 476426, "%.0f params, head %.0f",
              cnt.params, cnt.params_aux);
}

static void test_loose_ends(void) {
    // one node reading input 1 twice: input 0 is unread, so the normal cell concatenates it
    // (micro_child.py _fixed_combine); the reduction cell cannot (other resolution) and drops it
    enas_arc a;
    CHECK_OK(enas_arc_parse(&a, "1 0 1 4 1 2 1 3", 1));
    genotype g;
    CHECK_OK(enas_arc_to_genotype(&a, &g));
    CHECK(g.normal.nconcat == 2 && g.normal.concat[0] == 0 && g.normal.concat[1] == 2);
    CHECK(g.reduce.nconcat == 1 && g.reduce.concat[0] == 2);
    CHECK(g.normal.edge[1].op == DARTS_OP_SKIP_CONNECT &&
          g.reduce.edge[0].op == DARTS_OP_AVG_POOL_3X3);
}

static void test_errors(void) {
    bad("0 2 0 0 0 4 0", 0, "expected 8 per node");
    bad("", 0, "0 integers");
    bad("0 2 0 x 0 4 0 1", 0, "token 4 at character 6 ('x')");
    bad("0 2 0 -1 0 4 0 1", 0, "token 4 at character 6");
    bad("0 2 0 0 2 4 0 1", 1,
        "token 5 at character 8 ('2'): reduction cell node 2's first input must be 0..1");
    bad("0 5 0 0 0 4 0 1", 1,
        "token 2 at character 2 ('5'): normal cell node 2's first op must be 0..4");
    bad("0 2 0 0 0 4 0 1 4 0 1 1 1 0 0 1 0 0 0 0 0 0 0 0", 3,
        "token 9 at character 16 ('4'): normal cell node 4's first input must be 0..3");
    bad("0 1 0 1 0 1 0 1", 2, "8 integers; expected 16 for 2 nodes");
    bad("0 2 0 0 0 4 0 1.5", 0, "token 8");
    enas_arc a;
    CHECK_OK(enas_arc_parse(&a, " 0,2 0 0\n0 4 0 1 ", 0));   // commas and newlines separate too
    a.normal[1] = 7;
    CHECK(enas_arc_validate(&a) == GH_EINVAL);
    CHECK(strstr(gh_error_get(), "normal cell node 2's first op is 7") != NULL);
}

// Wherever a genotype is given: a name, an ENAS arc after "enas:", or DARTS's text.
static void test_resolve(void) {
    genotype a, b, c;
    char text[512];
    snprintf(text, sizeof text, "  enas: %s", published);
    CHECK_OK(nas_genotype_resolve(text, &a));
    CHECK_OK(nas_genotype_resolve("ENAS", &b));
    CHECK_OK(nas_genotype_resolve(published_genotype, &c));
    CHECK(genotype_equal(&a, &b) && genotype_equal(&a, &c));
    CHECK(nas_genotype_resolve("enas: 0 2 0 9 0 4 0 1", &a) == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "token 4 at character 6 ('9')") != NULL);
    CHECK(nas_genotype_resolve("Genotype(normal=[", &a) == GH_EFORMAT);
}

int main(void) {
    test_resolve();
    test_published();
    test_loose_ends();
    test_errors();
    return check_done("test_enas_arc");
}
