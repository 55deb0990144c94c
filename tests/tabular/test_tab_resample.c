// test_tab_resample: FLAML's holdout/k-fold rule, stratified folds (each class's share in
// every fold within one row), seeded plans (same seed same plan, other seed another).
#include <stdlib.h>

#include "learners/learners.h"
#include "tab_util.h"

static void test_auto_k(void) {
    CHECK(resample_auto_k(1000, 10, 0) == 5);
    CHECK(resample_auto_k(200000, 10, 0) == 1);
    // 50000 x 100 / 0.9 = 5.6e6 cells >= 1e7 * 60 s / 3600 s: holdout
    CHECK(resample_auto_k(50000, 100, 60) == 1);
    CHECK(resample_auto_k(50000, 100, 3600) == 5);
}

static void test_stratified(void) {
    enum { N = 103 };
    static const int sizes[3] = {50, 30, 23};
    float y[N];
    int i = 0;
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < sizes[c]; k++) y[i++] = (float)c;
    gh_dataset d = {.n = N, .d = 1, .y = y, .task = GH_TASK_MULTICLASS, .n_classes = 3};
    resample_plan a, b, c;
    CHECK_OK(resample_make(&a, &d, 5, 0, 42));
    CHECK_OK(resample_make(&b, &d, 5, 0, 42));
    CHECK_OK(resample_make(&c, &d, 5, 0, 43));
    CHECK(a.k == 5);
    CHECK(!memcmp(a.fold, b.fold, sizeof(int) * N));
    CHECK(memcmp(a.fold, c.fold, sizeof(int) * N) != 0);
    for (int f = 0; f < 5; f++)
        for (int cl = 0; cl < 3; cl++) {
            int cnt = 0;
            for (int r = 0; r < N; r++) cnt += a.fold[r] == f && (int)y[r] == cl;
            double share = sizes[cl] / 5.0;
            CHECK_MSG(cnt >= (int)share - 1 && cnt <= (int)share + 1, "fold %d class %d: %d rows",
                      f, cl, cnt);
        }
    resample_free(&a);
    resample_free(&b);
    resample_free(&c);
    // holdout: 10% of each class, total round(0.1 n)
    CHECK_OK(resample_make(&a, &d, 1, 0, 1));
    CHECK(a.k == 1 && a.n_val + a.n_train == N && a.n_val == 10);
    for (int cl = 0; cl < 3; cl++) {
        int cnt = 0;
        for (int r = 0; r < N; r++) cnt += a.fold[r] == 1 && (int)y[r] == cl;
        CHECK_MSG(abs(cnt * 10 - sizes[cl]) <= 10, "class %d: %d validation rows", cl, cnt);
    }
    resample_free(&a);
}

static void test_regression(void) {
    enum { N = 52 };
    float y[N];
    for (int i = 0; i < N; i++) y[i] = (float)i * 0.5f;
    gh_dataset d = {.n = N, .d = 1, .y = y, .task = GH_TASK_REGRESSION};
    resample_plan p;
    CHECK_OK(resample_make(&p, &d, 0, 0, 9));   // auto: small data -> 5-fold
    CHECK(p.k == 5);
    int counts[5] = {0};
    for (int i = 0; i < N; i++) counts[p.fold[i]]++;
    for (int f = 0; f < 5; f++) CHECK(counts[f] == 10 || counts[f] == 11);
    // the folds are shuffled, not contiguous blocks
    int runs = 0;
    for (int i = 1; i < N; i++) runs += p.fold[i] != p.fold[i - 1];
    CHECK(runs > 10);
    resample_free(&p);
    CHECK_OK(resample_make(&p, &d, 1, 0.25, 9));
    CHECK(p.n_val == 13 && p.n_train == 39);
    resample_free(&p);
    CHECK_FAILS(resample_make(&p, &d, 60, 0, 9), GH_EINVAL,
                "resample: 52 rows, but k-fold cross-validation needs at least 60");
}

int main(void) {
    test_auto_k();
    test_stratified();
    test_regression();
    return check_done("test_tab_resample");
}
