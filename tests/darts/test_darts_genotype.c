// test_darts_genotype: DARTS's genotype text round trip (named genotypes of the reference code,
// range() concats, double quotes, whitespace), errors that point at the position, validation,
// the derivation rule (top-2 inputs by strongest non-none op) and random genotypes.
#include <string.h>

#include "check.h"
#include "models/models.h"

static void round_trip(const char *name, const char *text) {
    genotype a, b;
    char p1[4096], p2[4096];
    CHECK_OK(genotype_parse(&a, text));
    int n = genotype_print(&a, p1, sizeof p1);
    CHECK(n > 0 && (size_t)n < sizeof p1);
    CHECK_OK(genotype_parse(&b, p1));
    genotype_print(&b, p2, sizeof p2);
    CHECK_MSG(!strcmp(p1, p2), "%s: print-parse-print differs", name);
    CHECK(genotype_equal(&a, &b));
}

static void bad(const char *text, const char *must_contain) {
    genotype g;
    int st = genotype_parse(&g, text);
    CHECK(st == GH_EFORMAT);
    CHECK_MSG(strstr(gh_error_get(), must_contain) != NULL, "message '%s' lacks '%s'",
              gh_error_get(), must_contain);
}

// A genotype never filled in (garbage op indices and counts) prints without reading past the
// op table: "?" for an op it cannot name (ASan: global-buffer-overflow before).
static void print_garbage(void) {
    genotype g;
    memset(&g, 0x7f, sizeof g);
    g.normal.steps = g.reduce.steps = 4;
    g.normal.nconcat = g.reduce.nconcat = 4;
    char text[2048];
    genotype_print(&g, text, sizeof text);
    CHECK_MSG(strstr(text, "('?', ") != NULL, "%s", text);
    memset(&g, 0x7f, sizeof g);   // counts out of range too: empty cells
    genotype_print(&g, text, sizeof text);
    CHECK_MSG(!strncmp(text, "Genotype(normal=[], normal_concat=[]", 36), "%s", text);
}

int main(void) {
    print_garbage();
    const char *names[] = {"DARTS_V1", "DARTS_V2", "DARTS", "NASNet", "AmoebaNet"};
    for (int i = 0; i < 5; i++) {
        CHECK(genotype_named(names[i]) != NULL);
        round_trip(names[i], genotype_named(names[i]));
        // the reference text is already canonical for the DARTS genotypes
        if (i < 3) {
            genotype g;
            char out[4096];
            CHECK_OK(genotype_parse(&g, genotype_named(names[i])));
            genotype_print(&g, out, sizeof out);
            CHECK(!strcmp(out, genotype_named(names[i])));
        }
    }
    CHECK(genotype_named("nope") == NULL);
    // DARTS's search log prints range(2, 6); double quotes and free layout are accepted too
    const char *logged =
        "Genotype(normal=[(\"sep_conv_3x3\", 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0),"
        " ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0),\n"
        "   ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";
    genotype a, b;
    CHECK_OK(genotype_parse(&a, logged));
    CHECK_OK(genotype_parse(&b, genotype_named("DARTS_V2")));
    CHECK(genotype_equal(&a, &b));
    round_trip("logged", logged);

    // errors point at the position and say what was expected
    bad("Genotype(normal=[('sep_conv_9x9', 0)], normal_concat=[2], reduce=[], reduce_concat=[2])",
        "position 19");
    bad("Genotype(normal=[('sep_conv_3x3' 0), ('skip_connect', 1)], normal_concat=[2], "
        "reduce=[('sep_conv_3x3', 0), ('skip_connect', 1)], reduce_concat=[2])", "position 33");
    bad("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=[2], "
        "reduce=[('sep_conv_3x3', 0), ('skip_connect', 1)], reduce_concat=[2]", "end of text");
    bad("Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2], reduce=[('sep_conv_3x3', 0), "
        "('skip_connect', 1)], reduce_concat=[2])", "even");
    bad("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 3)], normal_concat=[2], "
        "reduce=[('sep_conv_3x3', 0), ('skip_connect', 1)], reduce_concat=[2])", "inputs 0..1");
    bad("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=[7], "
        "reduce=[('sep_conv_3x3', 0), ('skip_connect', 1)], reduce_concat=[2])", "outside");
    bad("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal=[2], "
        "reduce=[('sep_conv_3x3', 0), ('skip_connect', 1)], reduce_concat=[2])", "each field once");
    bad("", "position 0");

    // derivation: node 0 (edges 0, 1), node 1 (edges 2..4); none never chosen
    float an[14 * 8] = {0}, ar[14 * 8] = {0};
    an[0 * 8 + DARTS_OP_NONE] = 9;            // 'none' strongest on edge 0: ignored for the op
    an[0 * 8 + DARTS_OP_SEP_CONV_3X3] = 2;
    an[1 * 8 + DARTS_OP_DIL_CONV_5X5] = 3;
    an[3 * 8 + DARTS_OP_SKIP_CONNECT] = 4;    // node 1: input 1 strongest, then input 2
    an[4 * 8 + DARTS_OP_MAX_POOL_3X3] = 1;
    genotype g;
    darts_derive_genotype(an, ar, 4, 4, &g);
    CHECK(g.normal.steps == 4 && g.normal.nconcat == 4 && g.normal.concat[0] == 2);
    CHECK(g.normal.edge[0].input == 1 && g.normal.edge[0].op == DARTS_OP_DIL_CONV_5X5);
    CHECK(g.normal.edge[1].input == 0 && g.normal.edge[1].op == DARTS_OP_SEP_CONV_3X3);
    CHECK(g.normal.edge[2].input == 1 && g.normal.edge[2].op == DARTS_OP_SKIP_CONNECT);
    CHECK(g.normal.edge[3].input == 2 && g.normal.edge[3].op == DARTS_OP_MAX_POOL_3X3);
    // uniform alphas: ties keep the lower input first and the first non-none op
    CHECK(g.reduce.edge[0].input == 0 && g.reduce.edge[1].input == 1);
    CHECK(g.reduce.edge[0].op == DARTS_OP_MAX_POOL_3X3);
    CHECK_OK(genotype_validate(&g));
    return check_done("test_darts_genotype");
}
