// test_enas_controller: ENAS's LSTM controller (search/nas/enas_controller.c) on a space small
// enough to enumerate (B = 1: per cell 2 inputs x 5 ops, twice; 10^4 arcs over both cells).
// - sampling: arc frequencies of many draws against exp(log p(arc)) by teacher forcing
//   (chi-square over the arcs, cells pooled to expected counts >= 5), and the probabilities of
//   the whole space sum to 1;
// - REINFORCE: the exact score-function gradient sum_a p(a) R(a) grad log p(a), accumulated by
//   enas_ctrl_reinforce with baseline 0 and weights p(a), equals central finite differences of
//   E[R] = sum_a p(a) R(a) over the parameters;
// - sampled arcs at the paper's size (B = 5) always decode to valid genotypes and networks;
// - the same seed draws the same arcs; the official settings train toward a rewarded op.
#include <math.h>
#include <string.h>

#include "check.h"
#include "search/nas/nas.h"

enum { NARC = 10000 };   // (2 inputs x 5 ops)^2 per cell, two cells

static enas_ctrl_opts tiny_opts(uint64_t seed) {
    return (enas_ctrl_opts){.nodes = 1, .hidden = 6, .temperature = 1.5, .tanh_c = 1.1,
                            .op_tanh_reduce = 2.5, .entropy_weight = 0.0, .bl_dec = 1.0,
                            .lr = 0.0035, .b_soft_init = 10, .aggregate = 1 << 30,
                            .seed = seed};
}

// arc index k <-> the 8 integers (mixed radix 2, 5, 2, 5 per cell)
static void arc_of(int k, enas_arc *a) {
    memset(a, 0, sizeof *a);
    a->nodes = 1;
    int *v[8] = {&a->normal[0], &a->normal[1], &a->normal[2], &a->normal[3],
                 &a->reduce[0], &a->reduce[1], &a->reduce[2], &a->reduce[3]};
    for (int i = 7; i >= 0; i--) {
        int r = i % 2 ? ENAS_NUM_OPS : 2;
        *v[i] = k % r;
        k /= r;
    }
}
static int index_of(const enas_arc *a) {
    const int v[8] = {a->normal[0], a->normal[1], a->normal[2], a->normal[3],
                      a->reduce[0], a->reduce[1], a->reduce[2], a->reduce[3]};
    int k = 0;
    for (int i = 0; i < 8; i++) k = k * (i % 2 ? ENAS_NUM_OPS : 2) + v[i];
    return k;
}

// a reward that depends on the whole arc
static double reward_of(int k) { return 0.2 + 0.6 * ((k * 7919) % 101) / 100.0; }

static double probs(enas_ctrl *c, double *p) {
    double sum = 0;
    for (int k = 0; k < NARC; k++) {
        enas_arc a;
        arc_of(k, &a);
        double lp;
        CHECK_OK(enas_ctrl_log_prob(c, &a, &lp, NULL));
        sum += p[k] = exp(lp);
    }
    return sum;
}

static void test_chi_square(void) {
    enas_ctrl *c;
    enas_ctrl_opts o = tiny_opts(7);
    CHECK_OK(enas_ctrl_create(&c, &o));
    static double p[NARC];
    static int count[NARC];
    double sum = probs(c, p);
    CHECK_MSG(fabs(sum - 1) < 1e-4, "sum of p over the space %.6f", sum);
    const int N = 20000;
    for (int i = 0; i < N; i++) {
        enas_arc a;
        double lp;
        CHECK_OK(enas_ctrl_sample(c, &a, &lp, NULL));
        int k = index_of(&a);
        count[k]++;
        if (i < 50) CHECK(fabs(exp(lp) - p[k]) <= 1e-4 * p[k] + 1e-7);
    }
    // pool arcs in index order into cells with expected count >= 5
    double chi = 0, exp_acc = 0, obs_acc = 0;
    int df = -1;
    for (int k = 0; k < NARC; k++) {
        exp_acc += N * p[k];
        obs_acc += count[k];
        if (exp_acc >= 5 || k == NARC - 1) {
            chi += (obs_acc - exp_acc) * (obs_acc - exp_acc) / exp_acc;
            df++;
            exp_acc = obs_acc = 0;
        }
    }
    // chi-square mean df, sd sqrt(2 df): 5 sd is a false alarm rate below 1e-5
    double lim = df + 5 * sqrt(2.0 * df);
    printf("chi-square %.1f on %d degrees of freedom (limit %.1f)\n", chi, df, lim);
    CHECK_MSG(df > 100 && chi < lim, "chi-square %.1f, df %d", chi, df);
    enas_ctrl_destroy(c);
}

static void test_reinforce_gradient(void) {
    enas_ctrl *c;
    enas_ctrl_opts o = tiny_opts(3);
    CHECK_OK(enas_ctrl_create(&c, &o));
    gh_engine *e = enas_ctrl_engine(c);
    static double p[NARC];
    probs(c, p);
    // exact E[grad]: each arc fed back once with reward p(a) R(a) and baseline 0 (bl_dec 1 keeps
    // it at 0; entropy weight 0) accumulates -p(a) R(a) grad log p(a) into the gradient
    CHECK_OK(gh_group_zero_grad(e, GH_GROUP_WEIGHTS));
    for (int k = 0; k < NARC; k++) {
        enas_arc a;
        arc_of(k, &a);
        CHECK_OK(enas_ctrl_log_prob(c, &a, NULL, NULL));
        CHECK_OK(enas_ctrl_reinforce(c, p[k] * reward_of(k) * o.aggregate, NULL));
    }
    float *w = gh_group_data(e, GH_GROUP_WEIGHTS), *g = gh_group_grad(e, GH_GROUP_WEIGHTS);
    // central differences of E[R] at one element in the middle of every parameter tensor (each
    // costs two passes over the space)
    int checked = 0;
    double worst = 0;
    for (int t = 0; t < gh_params_count(e); t++) {
        const gh_tensor *pt = gh_param_at(e, t);
        size_t i = (size_t)(pt->data - w) + pt->numel / 2;
        float w0 = w[i];
        const float h = 5e-3f;
        double er[2];
        for (int s = 0; s < 2; s++) {
            w[i] = w0 + (s ? -h : h);
            probs(c, p);
            er[s] = 0;
            for (int k = 0; k < NARC; k++) er[s] += p[k] * reward_of(k);
        }
        w[i] = w0;
        double fd = (er[0] - er[1]) / (2.0 * (double)h), an = -(double)g[i];
        double r = fabs(fd - an) / (2e-5 + 0.03 * fabs(fd));
        if (r > worst) worst = r;
        CHECK_MSG(r <= 1, "%s[%zu]: REINFORCE %.6g, finite difference %.6g", pt->name, i, an, fd);
        checked++;
    }
    printf("REINFORCE vs finite differences: %d parameters, worst ratio %.3f\n", checked, worst);
    enas_ctrl_destroy(c);
}

// the paper's size: every draw decodes and builds; the same seed repeats the draws
static void test_valid_and_repeatable(void) {
    enas_ctrl_opts o = {.nodes = 5, .hidden = 64, .tanh_c = 1.1, .op_tanh_reduce = 2.5,
                        .entropy_weight = 1e-4, .bl_dec = 0.99, .lr = 0.0035, .b_soft_init = 10,
                        .aggregate = 10, .seed = 11};
    enas_ctrl *c1, *c2;
    CHECK_OK(enas_ctrl_create(&c1, &o));
    CHECK_OK(enas_ctrl_create(&c2, &o));
    darts_net_config nc = darts_search_net_defaults();
    nc.steps = nc.multiplier = 5;
    for (int i = 0; i < 200; i++) {
        enas_arc a, b;
        double lp1, lp2, h1, h2;
        CHECK_OK(enas_ctrl_sample(c1, &a, &lp1, &h1));
        CHECK_OK(enas_ctrl_sample(c2, &b, &lp2, &h2));
        CHECK(!memcmp(&a, &b, sizeof a) && lp1 == lp2 && h1 == h2);
        CHECK(lp1 < 0 && h1 > 0);
        CHECK_OK(enas_arc_validate(&a));
        genotype g;
        CHECK_OK(enas_arc_to_genotype(&a, &g));
        darts_net_count cnt;
        CHECK_OK(darts_count_net(&nc, &g, &cnt));
        char text[256];
        enas_arc_print(&a, text, sizeof text);
        enas_arc back;
        CHECK_OK(enas_arc_parse(&back, text, 5));
        CHECK(!memcmp(&a, &back, sizeof a));
        if (i % 2 == 0) {   // some updates in between, so that the draws move with the policy
            CHECK_OK(enas_ctrl_reinforce(c1, 0.5, NULL));
            CHECK_OK(enas_ctrl_reinforce(c2, 0.5, NULL));
        }
    }
    enas_ctrl_destroy(c1);
    enas_ctrl_destroy(c2);
}

// REINFORCE with the official constants learns to read input 1 everywhere when the reward is the
// share of inputs that do (tanh constant 1.1 caps that share near 0.82 at two nodes). Ops make a
// poor target: b_soft starts at 10 on the convolutions, so their logits sit at the tanh's
// saturated ceiling and an op's probability is capped near 1/3 (as in the official code).
static void test_learns(void) {
    enas_ctrl_opts o = {.nodes = 2, .hidden = 32, .tanh_c = 1.1, .op_tanh_reduce = 2.5,
                        .entropy_weight = 1e-4, .bl_dec = 0.95, .lr = 0.01, .b_soft_init = 10,
                        .aggregate = 10, .seed = 5};
    enas_ctrl *c;
    CHECK_OK(enas_ctrl_create(&c, &o));
    double first = 0, last = 0;
    const int steps = 3000;
    for (int i = 0; i < steps; i++) {
        enas_arc a;
        CHECK_OK(enas_ctrl_sample(c, &a, NULL, NULL));
        int hits = 0;
        for (int k = 0; k < 4 * o.nodes; k += 2) hits += (a.normal[k] == 1) + (a.reduce[k] == 1);
        double acc = hits / (4.0 * o.nodes);
        if (i < 200) first += acc / 200;
        if (i >= steps - 200) last += acc / 200;
        CHECK_OK(enas_ctrl_reinforce(c, acc, NULL));
    }
    printf("share of inputs reading node 1: %.3f in the first 200 draws, %.3f in the last 200\n",
           first, last);
    CHECK_MSG(last > 0.65 && last > first + 0.2, "first %.3f last %.3f", first, last);
    enas_ctrl_destroy(c);
}

static void test_bad_options(void) {
    enas_ctrl *c = NULL;
    enas_ctrl_opts o = tiny_opts(1);
    o.nodes = 0;
    CHECK(enas_ctrl_create(&c, &o) == GH_EINVAL && !c);
    o = tiny_opts(1);
    CHECK_OK(enas_ctrl_create(&c, &o));
    CHECK(enas_ctrl_reinforce(c, 0.5, NULL) == GH_EINVAL);   // nothing sampled yet
    enas_arc a;
    CHECK_OK(enas_arc_parse(&a, "0 1 1 4 1 0 0 2 1 3 0 0 1 1 1 1", 2));
    CHECK(enas_ctrl_log_prob(c, &a, NULL, NULL) == GH_EINVAL);   // 2 nodes, controller 1
    enas_ctrl_destroy(c);
}

int main(int argc, char **argv) {
    // argv[1] (optional): run only the test of that name
    const char *only = argc > 1 ? argv[1] : NULL;
#define RUN(t) if (!only || !strcmp(only, #t)) t()
    RUN(test_bad_options);
    RUN(test_chi_square);
    RUN(test_reinforce_gradient);
    RUN(test_valid_and_repeatable);
    RUN(test_learns);
    return check_done("test_enas_controller");
}
