// test_tab_dataset: task inference (nominal 2/3 levels, numeric 0/1, integers, reals), given
// tasks and their errors, string columns dropped, dates as days, row subsets, and new data
// re-read in a trained schema (columns reordered, levels in another order, unseen levels).
#include <math.h>

#include "data/data.h"
#include "tab_util.h"

static gh_task infer(const char *csv, gh_task given, int *n_classes, int *status) {
    tab_write("inf.csv", csv);
    gh_table t;
    gh_dataset ds;
    gh_task task = GH_TASK_AUTO;
    *status = table_read(&t, "inf.csv");
    if (*status) return task;
    *status = dataset_from_table(&ds, &t, "y", given);
    if (!*status) {
        task = ds.task;
        *n_classes = ds.n_classes;
        dataset_free(&ds);
    }
    table_free(&t);
    return task;
}

static void test_inference(void) {
    int k = -1, st;
    CHECK(infer("a,y\n1,u\n2,v\n3,u\n", GH_TASK_AUTO, &k, &st) == GH_TASK_BINARY && k == 2);
    CHECK(infer("a,y\n1,u\n2,v\n3,w\n", GH_TASK_AUTO, &k, &st) == GH_TASK_MULTICLASS && k == 3);
    CHECK(infer("a,y\n1,0\n2,1\n3,1\n", GH_TASK_AUTO, &k, &st) == GH_TASK_BINARY && k == 2);
    CHECK(infer("a,y\n1,0\n2,1\n3,2\n", GH_TASK_AUTO, &k, &st) == GH_TASK_REGRESSION && k == 0);
    CHECK(infer("a,y\n1,0.5\n2,1.5\n3,0.5\n", GH_TASK_AUTO, &k, &st) == GH_TASK_REGRESSION);
    CHECK(infer("a,y\n1,0\n2,1\n3,2\n", GH_TASK_MULTICLASS, &k, &st) == GH_TASK_MULTICLASS && k == 3);
    infer("a,y\n1,0\n2,1\n3,2\n", GH_TASK_BINARY, &k, &st);
    CHECK(st == GH_EINVAL && strstr(gh_error_get(), "task binary but the target 'y' has 3"));
    infer("a,y\n1,u\n2,v\n", GH_TASK_REGRESSION, &k, &st);
    CHECK(st == GH_EINVAL && strstr(gh_error_get(), "regression needs a numeric target"));
    CHECK(!strcmp(gh_task_name(GH_TASK_MULTICLASS), "multiclass"));
}

static void test_features(void) {
    // a string column (many distinct texts) is dropped; dates become days since the epoch
    char csv[8192] = "id,day,color,y\n";
    for (int i = 0; i < 60; i++) {
        char row[96];
        snprintf(row, sizeof row, "name%d,2020-01-%02d,%s,%s\n", i, 1 + i % 28,
                 i % 3 ? "red" : "blue", i % 2 ? "yes" : "no");
        strcat(csv, row);
    }
    tab_write("feat.csv", csv);
    gh_table t;
    gh_dataset ds;
    CHECK_OK(table_read(&t, "feat.csv"));
    CHECK(t.cols[0].type == GH_COL_STRING && t.cols[1].type == GH_COL_DATE);
    CHECK_OK(dataset_from_table(&ds, &t, NULL, GH_TASK_AUTO));   // NULL: the last column
    CHECK(ds.d == 2 && !strcmp(ds.feat_names[0], "day") && !strcmp(ds.feat_names[1], "color"));
    CHECK(ds.feat_levels[0] == 0 && ds.feat_levels[1] == 2);
    CHECK(!strcmp(ds.level_names[1][0], "blue") && !strcmp(ds.level_names[1][1], "red"));
    CHECK(ds.x[0] == 18262.0f);   // 2020-01-01 is day 18262
    CHECK(ds.x[1] == 0.0f && ds.x[3] == 1.0f);   // row 0 blue, row 1 red
    CHECK(!strcmp(ds.target_name, "y") && !strcmp(ds.class_names[0], "no"));
    CHECK(ds.y[0] == 0.0f && ds.y[1] == 1.0f);
    int idx[3] = {5, 0, 59};
    gh_dataset sub;
    CHECK_OK(dataset_subset(&sub, &ds, idx, 3));
    CHECK(sub.n == 3 && sub.x[0] == ds.x[10] && sub.y[2] == ds.y[59] && sub.d == 2);
    CHECK(sub.feat_names[1] != ds.feat_names[1] && !strcmp(sub.feat_names[1], "color"));
    dataset_free(&sub);
    int bad = 60;
    CHECK(dataset_subset(&sub, &ds, &bad, 1) == GH_EINVAL);
    dataset_free(&ds);
    table_free(&t);
}

static void test_schema(void) {
    tab_write("train.csv", "num,cat,y\n1,b,hi\n2,a,lo\n3,c,hi\n4,a,lo\n");
    // reordered columns, a level unseen in training, a class unseen, a missing target
    tab_write("new.csv", "y,cat,extra,num\nlo,c,z,10\nhi,zz,z,20\nmid,a,z,30\n,b,z,40\n");
    gh_table t1, t2;
    gh_dataset tr, schema, nd;
    CHECK_OK(table_read(&t1, "train.csv"));
    CHECK_OK(table_read(&t2, "new.csv"));
    CHECK_OK(dataset_from_table(&tr, &t1, "y", GH_TASK_AUTO));
    CHECK_OK(dataset_schema_copy(&schema, &tr));
    CHECK(schema.n == 0 && schema.d == 2 && schema.n_classes == 2);
    CHECK_OK(dataset_from_table_schema(&nd, &t2, &schema));
    CHECK(nd.n == 4 && nd.d == 2);
    // training levels: a b c (sorted); classes hi lo
    CHECK(nd.x[0] == 10.0f && nd.x[1] == 2.0f);          // c -> 2
    CHECK(nd.x[2] == 20.0f && isnan(nd.x[3]));            // zz unseen -> missing
    CHECK(nd.x[5] == 0.0f && nd.x[7] == 1.0f);            // a -> 0, b -> 1
    CHECK(nd.y[0] == 1.0f && nd.y[1] == 0.0f && isnan(nd.y[2]) && isnan(nd.y[3]));
    dataset_free(&nd);
    tab_write("lack.csv", "num,y\n1,hi\n");
    gh_table t3;
    CHECK_OK(table_read(&t3, "lack.csv"));
    CHECK_FAILS(dataset_from_table_schema(&nd, &t3, &schema), GH_EFORMAT,
                "lack.csv: no column 'cat', a feature the model was trained with");
    table_free(&t3);
    dataset_free(&schema);
    dataset_free(&tr);
    table_free(&t1);
    table_free(&t2);
}

int main(void) {
    if (tab_enter_tmpdir("tab_dataset")) return 1;
    test_inference();
    test_features();
    test_schema();
    return check_done("test_tab_dataset");
}
