// test_nas_proposer: the ask/tell interface of proposers, on the random proposer: the same seed
// gives the same proposals and another seed others; nas_ask never returns a genotype twice (in
// a space small enough for repeats to be drawn often) and stops by its rules (max_proposals; an
// exhausted space); ids count up; tell keeps the best reward (the first on ties); nas_sample
// draws from the same RNG without counting or deduplicating.
#include <math.h>
#include <string.h>

#include "check.h"
#include "search/nas/nas.h"

static nas_proposer *make(uint64_t seed, int64_t max, int steps) {
    nas_proposer_options o = {.seed = seed, .max_proposals = max, .steps = steps,
                              .multiplier = steps};
    nas_proposer *p = NULL;
    CHECK_OK(nas_proposer_create(&p, "random", &o));
    return p;
}

int main(void) {
    // determinism per seed
    nas_proposer *a = make(11, 0, 4), *b = make(11, 0, 4), *c = make(12, 0, 4);
    int differ = 0;
    for (int i = 0; i < 50; i++) {
        nas_proposal qa, qb, qc;
        CHECK_OK(nas_ask(a, &qa));
        CHECK_OK(nas_ask(b, &qb));
        CHECK_OK(nas_ask(c, &qc));
        CHECK(qa.id == i && qb.id == i);
        CHECK(genotype_equal(&qa.g, &qb.g));
        CHECK_OK(genotype_validate(&qa.g));
        differ += !genotype_equal(&qa.g, &qc.g);
    }
    CHECK(differ > 40);
    // the sequence equals nas_random_genotype's on a generator seeded the same way
    nas_proposer *d = make(11, 0, 4);
    gh_rng r;
    gh_rng_seed(&r, 11, GH_STREAM_SEARCH);
    for (int i = 0; i < 5; i++) {
        genotype want;
        nas_proposal q;
        nas_random_genotype(&r, 4, 4, &want);
        CHECK_OK(nas_ask(d, &q));
        CHECK(genotype_equal(&q.g, &want));
    }
    // sample: same RNG, not counted, not deduplicated
    genotype s;
    CHECK_OK(nas_sample(d, &s));
    CHECK(d->n_asked == 5 && d->n_seen == 5);
    nas_proposer_destroy(a);
    nas_proposer_destroy(b);
    nas_proposer_destroy(c);
    nas_proposer_destroy(d);

    // no duplicates: one node per cell gives 2 x 49 = 98 cells, 9604 genotypes; 400 asks
    // would repeat about 8 times if drawn independently
    nas_proposer *p = make(3, 400, 1);
    static nas_proposal all[400];
    int n = 0, st;
    while ((st = nas_ask(p, &all[n])) == GH_OK) n++;
    CHECK(st == NAS_STOP && n == 400);
    for (int i = 0; i < n; i++) {
        CHECK_OK(genotype_validate(&all[i].g));
        for (int j = 0; j < i; j++)
            CHECK_MSG(!genotype_equal(&all[i].g, &all[j].g), "proposals %d and %d equal", j, i);
    }
    // tell: the best reward is kept, the first one on ties; NAN never wins
    CHECK(p->best_reward == -INFINITY);
    CHECK_OK(nas_tell(p, &all[0], 0.5, 1.0));
    CHECK_OK(nas_tell(p, &all[1], NAN, 1.0));
    CHECK_OK(nas_tell(p, &all[2], 0.7, 1.0));
    CHECK_OK(nas_tell(p, &all[3], 0.7, 1.0));
    CHECK(p->best_reward == 0.7 && p->best.id == 2 && genotype_equal(&p->best.g, &all[2].g));
    CHECK(p->n_told == 4);
    nas_proposal fake = {.id = 400};
    CHECK(nas_tell(p, &fake, 1.0, 1.0) == GH_EINVAL);
    nas_proposer_destroy(p);

    // an exhausted space stops the proposer instead of repeating itself
    p = make(4, 0, 1);
    n = 0;
    nas_proposal q;
    while ((st = nas_ask(p, &q)) == GH_OK) n++;
    CHECK(st == NAS_STOP && n > 5000 && n <= 9604);
    printf("exhausted after %d distinct proposals of 9604\n", n);
    nas_proposer_destroy(p);

    CHECK(nas_proposer_create(&p, "nope", &(nas_proposer_options){0}) == GH_EINVAL);
    CHECK(strstr(gh_error_get(), "nope") && strstr(gh_error_get(), "random"));
    return check_done("test_nas_proposer");
}
