// test_darts_count: the analytic parameter counter against the paper's number (DARTS_V2 in the
// CIFAR-10 evaluation network: 3.3M; 3,349,342 in the reference PyTorch code, auxiliary head
// excluded) and against the parameters the engine actually allocates, for the supernet and for
// evaluation networks of several genotypes.
#include "check.h"
#include "models/models.h"

// Counts what the builders declare in each group.
static void engine_count(const darts_net_config *nc, const genotype *g, double *weights,
                         double *arch, double *buffers) {
    gh_engine *e = NULL;
    gh_engine_config ec = {.backend = GH_BACKEND_REF, .arena_bytes = 1 << 20, .seed = 1};
    CHECK_OK(gh_engine_create(&e, &ec));
    darts_supernet *sn = NULL;
    darts_evalnet *en = NULL;
    if (g) CHECK_OK(darts_evalnet_build(&en, e, nc, g));
    else CHECK_OK(darts_supernet_build(&sn, e, nc));
    CHECK_OK(gh_params_alloc(e));
    // sum of the declared tensors (a group's flat buffer may pad each to an alignment)
    double sum[GH_NUM_GROUPS] = {0};
    for (int i = 0; i < gh_params_count(e); i++)
        sum[gh_param_group(e, i)] += (double)gh_param_at(e, i)->numel;
    *weights = sum[GH_GROUP_WEIGHTS];
    *arch = sum[GH_GROUP_ARCH];
    *buffers = sum[GH_GROUP_BUFFERS];
    darts_supernet_free(sn);
    darts_evalnet_free(en);
    gh_engine_destroy(e);
}

int main(void) {
    genotype v2;
    CHECK_OK(genotype_parse(&v2, genotype_named("DARTS_V2")));
    darts_net_config ev = darts_eval_net_defaults();
    darts_net_count c;
    CHECK_OK(darts_count_net(&ev, &v2, &c));
    printf("DARTS_V2, 20 cells, C=36, CIFAR-10: %.0f params (+%.0f auxiliary head), %.1f M "
           "multiply-adds\n", c.params, c.params_aux, c.madds / 1e6);
    CHECK_MSG(c.params == 3349342.0, "params %.0f, reference PyTorch code 3349342", c.params);
    CHECK(c.params / 1e6 > 3.25 && c.params / 1e6 < 3.35);  // the paper's "3.3M"
    // madds: the widely quoted figure for this network is 528M (conv + linear multiply-adds)
    CHECK_MSG(c.madds > 520e6 && c.madds < 535e6, "madds %.1f M", c.madds / 1e6);

    // analytic == what the engine allocates, with the auxiliary head, for several genotypes
    const char *names[] = {"DARTS_V1", "DARTS_V2", "NASNet", "AmoebaNet"};
    for (int i = 0; i < 4; i++) {
        genotype g;
        CHECK_OK(genotype_parse(&g, genotype_named(names[i])));
        darts_net_config nc = darts_eval_net_defaults();
        nc.layers = 8;
        nc.c = 16;
        darts_net_count a;
        CHECK_OK(darts_count_net(&nc, &g, &a));
        double w, ar, b;
        engine_count(&nc, &g, &w, &ar, &b);
        printf("%-10s 8 cells C=16: analytic %.0f + aux %.0f, engine %.0f\n", names[i], a.params,
               a.params_aux, w);
        CHECK_MSG(a.params + a.params_aux == w, "%s: analytic %.0f engine %.0f", names[i],
                  a.params + a.params_aux, w);
        CHECK(a.buffers == b && ar == 0);
    }
    // Fashion-MNIST shapes: 1 channel, 28x28 (7x7 at the auxiliary head)
    darts_net_config fm = darts_eval_net_defaults();
    fm.in_c = 1;
    fm.in_h = fm.in_w = 28;
    fm.layers = 6;
    fm.c = 8;
    double w, ar, b;
    CHECK_OK(darts_count_net(&fm, &v2, &c));
    engine_count(&fm, &v2, &w, &ar, &b);
    CHECK_MSG(c.params + c.params_aux == w, "fashion-mnist eval: analytic %.0f engine %.0f",
              c.params + c.params_aux, w);

    // the supernet: weights, alphas and BN statistics
    darts_net_config sn = darts_search_net_defaults();
    sn.layers = 5;
    sn.c = 8;
    CHECK_OK(darts_count_net(&sn, NULL, &c));
    engine_count(&sn, NULL, &w, &ar, &b);
    printf("supernet 5 cells C=8: analytic %.0f weights %.0f alphas; engine %.0f %.0f\n",
           c.params, c.arch, w, ar);
    CHECK(c.params == w);
    CHECK(c.arch == ar && ar == 2 * 14 * 8);
    CHECK(c.buffers == b);
    sn = darts_search_net_defaults();
    CHECK_OK(darts_count_net(&sn, NULL, &c));
    printf("supernet 8 cells C=16 CIFAR-10: %.0f weights (%.3f MB as DARTS logs it)\n", c.params,
           c.params / 1e6);
    engine_count(&sn, NULL, &w, &ar, &b);
    CHECK(c.params == w);
    return check_done("test_darts_count");
}
