// test_tab_dataset: task inference, one case per rule of data.h (nominal 2/3 levels, booleans,
// two integers, integer codes, reals, the class limit exactly at and one over, many distinct
// integers), its reason and warning, given tasks and their errors, string columns dropped,
// dates as days, row subsets, and new data re-read in a trained schema (columns reordered, levels in another order, unseen levels).
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

// A CSV "a,y" of n rows whose target cycles through `distinct` integer codes (times `scale`,
// plus `offset`); the dataset it makes (caller frees), its status.
static int codes(gh_dataset *ds, int n, int distinct, double scale, double offset) {
    size_t cap = 32 + (size_t)n * 40;
    char *csv = malloc(cap);
    if (!csv) return GH_ENOMEM;
    size_t len = (size_t)snprintf(csv, cap, "a,y\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(csv + len, cap - len, "%d,%.17g\n", i, (i % distinct) * scale +
                                offset);
    tab_write("codes.csv", csv);
    free(csv);
    gh_table t;
    int st = table_read(&t, "codes.csv");
    if (st) return st;
    st = dataset_from_table(ds, &t, "y", GH_TASK_AUTO);
    table_free(&t);
    return st;
}

static void test_inference(void) {
    int k = -1, st;
    // nominal / text targets: classification by their levels
    CHECK(infer("a,y\n1,u\n2,v\n3,u\n", GH_TASK_AUTO, &k, &st) == GH_TASK_BINARY && k == 2);
    CHECK(infer("a,y\n1,u\n2,v\n3,w\n", GH_TASK_AUTO, &k, &st) == GH_TASK_MULTICLASS && k == 3);
    // booleans: the CSV reader makes true/false a nominal column of two levels -> binary
    {
        tab_write("bool.csv", "a,y\n1,true\n2,false\n3,true\n4,false\n");
        gh_table t;
        gh_dataset ds;
        CHECK_OK(table_read(&t, "bool.csv"));
        CHECK(t.cols[1].type == GH_COL_NOMINAL && t.cols[1].n_levels == 2);
        CHECK_OK(dataset_from_table(&ds, &t, "y", GH_TASK_AUTO));
        CHECK(ds.task == GH_TASK_BINARY && !strcmp(ds.class_names[0], "false") &&
              !strcmp(ds.class_names[1], "true") && ds.y[0] == 1.0f);
        CHECK_MSG(strstr(ds.task_reason, "nominal target with 2 classes"), "%s", ds.task_reason);
        dataset_free(&ds);
        table_free(&t);
    }
    // two integer values -> binary; integer codes -> multiclass (scikit-learn's type_of_target)
    CHECK(infer("a,y\n1,0\n2,1\n3,1\n", GH_TASK_AUTO, &k, &st) == GH_TASK_BINARY && k == 2);
    CHECK(infer("a,y\n1,0\n2,1\n3,2\n", GH_TASK_AUTO, &k, &st) == GH_TASK_MULTICLASS && k == 3);
    // glass types: codes 1,2,3,5,6,7 (no 4) are six classes named by their values
    {
        tab_write("glass.csv", "a,y\n1,1\n2,2\n3,3\n4,5\n5,6\n6,7\n7,1\n8,7\n");
        gh_table t;
        gh_dataset ds;
        CHECK_OK(table_read(&t, "glass.csv"));
        CHECK_OK(dataset_from_table(&ds, &t, "y", GH_TASK_AUTO));
        CHECK(ds.task == GH_TASK_MULTICLASS && ds.n_classes == 6);
        CHECK(!strcmp(ds.class_names[3], "5") && !strcmp(ds.class_names[5], "7"));
        CHECK(ds.y[3] == 3.0f && ds.y[7] == 5.0f);   // 5 is the 4th class, 7 the 6th
        CHECK_MSG(strstr(ds.task_reason, "6 distinct integer values, within the class limit "
                         "max(20, 1% of 8 rows) = 20"), "%s", ds.task_reason);
        CHECK(ds.task_warning[0] == 0);
        dataset_free(&ds);
        table_free(&t);
    }
    // reals -> regression, whatever their count
    CHECK(infer("a,y\n1,0.5\n2,1.5\n3,0.5\n", GH_TASK_AUTO, &k, &st) == GH_TASK_REGRESSION);
    CHECK(infer("a,y\n1,0.5\n2,1.5\n3,2.5\n", GH_TASK_AUTO, &k, &st) == GH_TASK_REGRESSION &&
          k == 0);
    // a given task overrides the rule, and is checked against the target
    CHECK(infer("a,y\n1,0\n2,1\n3,2\n", GH_TASK_REGRESSION, &k, &st) == GH_TASK_REGRESSION);
    CHECK(infer("a,y\n1,0\n2,1\n3,2\n", GH_TASK_MULTICLASS, &k, &st) == GH_TASK_MULTICLASS && k == 3);
    infer("a,y\n1,0\n2,1\n3,2\n", GH_TASK_BINARY, &k, &st);
    CHECK(st == GH_EINVAL && strstr(gh_error_get(), "task binary but the target 'y' has 3"));
    infer("a,y\n1,u\n2,v\n", GH_TASK_REGRESSION, &k, &st);
    CHECK(st == GH_EINVAL && strstr(gh_error_get(), "regression needs a numeric target"));
    infer("a,y\n1,0.5\n2,1\n3,2\n", GH_TASK_MULTICLASS, &k, &st);
    CHECK(st == GH_EINVAL && strstr(gh_error_get(), "non-integer values"));
    CHECK(!strcmp(gh_task_name(GH_TASK_MULTICLASS), "multiclass"));

    // the threshold: max(20, 1% of the rows) distinct integers
    CHECK(dataset_class_limit(100) == 20 && dataset_class_limit(2099) == 20 &&
          dataset_class_limit(3000) == 30);
    gh_dataset ds;
    CHECK_OK(codes(&ds, 200, 20, 1, 0));   // exactly at the limit: multiclass, with a warning
    CHECK(ds.task == GH_TASK_MULTICLASS && ds.n_classes == 20);
    CHECK_MSG(strstr(ds.task_warning, "20 distinct integer values is close to the class limit 20: "
                     "inferred multiclass"), "warning: '%s'", ds.task_warning);
    dataset_free(&ds);
    CHECK_OK(codes(&ds, 200, 21, 1, 0));   // one over: regression, with a warning
    CHECK(ds.task == GH_TASK_REGRESSION && ds.n_classes == 0);
    CHECK_MSG(strstr(ds.task_reason, "21 distinct integer values, over the class limit"), "%s",
              ds.task_reason);
    CHECK_MSG(strstr(ds.task_warning, "close to the class limit 20: inferred regression"),
              "warning: '%s'", ds.task_warning);
    dataset_free(&ds);
    CHECK_OK(codes(&ds, 3000, 30, 1, 0));   // 1% of 3000 rows: 30 classes allowed
    CHECK(ds.task == GH_TASK_MULTICLASS && ds.n_classes == 30);
    dataset_free(&ds);
    CHECK_OK(codes(&ds, 3000, 31, 1, 0));
    CHECK(ds.task == GH_TASK_REGRESSION);
    dataset_free(&ds);
    CHECK_OK(codes(&ds, 200, 10, 1, -4));   // digits-like codes, negative ones too: no warning
    CHECK(ds.task == GH_TASK_MULTICLASS && ds.n_classes == 10 && ds.task_warning[0] == 0 &&
          !strcmp(ds.class_names[0], "-4"));
    dataset_free(&ds);
    CHECK_OK(codes(&ds, 200, 100, 3, 0));   // many distinct integers: regression, said so
    CHECK(ds.task == GH_TASK_REGRESSION);
    CHECK_MSG(strstr(ds.task_warning, "holds integers only (100 distinct values"), "warning: '%s'",
              ds.task_warning);
    dataset_free(&ds);
    CHECK_OK(codes(&ds, 200, 10, 0.5, 0));   // few distinct reals: regression, no warning
    CHECK(ds.task == GH_TASK_REGRESSION && ds.task_warning[0] == 0);
    CHECK_MSG(strstr(ds.task_reason, "non-integer"), "%s", ds.task_reason);
    dataset_free(&ds);
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
