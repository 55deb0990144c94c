// test_tab_errors: bad input gets an exact file:line:column message and never a crash:
// ragged rows, unterminated quotes, a non-numeric value in a numeric ARFF attribute (and the
// warning-and-keep path of CSV), unknown nominal values, empty files, missing and constant
// targets; then seeded garbage bytes through both readers.
#include <math.h>

#include "data/data.h"
#include "tab_util.h"

static void csv_errors(void) {
    gh_table t;
    tab_write("ragged.csv", "a,b,c\n1,2,3\n4,5\n");
    CHECK_FAILS(table_read(&t, "ragged.csv"), GH_EFORMAT,
                "ragged.csv:3:4: row has 2 fields, the header has 3");
    tab_write("long.csv", "a,b\n1,2\n1,2,3\n");
    CHECK_FAILS(table_read(&t, "long.csv"), GH_EFORMAT,
                "long.csv:3:5: row has 3 fields, the header has 2");
    tab_write("quote.csv", "a,b\n1,\"oops\n2,3\n");
    CHECK_FAILS(table_read(&t, "quote.csv"), GH_EFORMAT,
                "quote.csv:2:3: unterminated quoted field (the quote opened here is never closed)");
    tab_write("after.csv", "a,b\n\"x\"y,2\n");
    CHECK_FAILS(table_read(&t, "after.csv"), GH_EFORMAT, "after.csv:2:4: unexpected 'y' after a "
                "closing quote");
    tab_write("empty.csv", "");
    CHECK_FAILS(table_read(&t, "empty.csv"), GH_EFORMAT,
                "empty.csv:1:1: empty file (expected a header row of column names)");
    tab_write("blank.csv", "\n\n  \n");
    CHECK_FAILS(table_read(&t, "blank.csv"), GH_EFORMAT, "blank.csv:1:1: empty file");
    tab_write("header.csv", "a,b\n");
    CHECK_FAILS(table_read(&t, "header.csv"), GH_EFORMAT,
                "header.csv:2:1: no data rows after the header");
    CHECK_FAILS(table_read(&t, "does-not-exist.csv"), GH_EIO, "does-not-exist.csv: cannot open");
    CHECK_FAILS(table_read(&t, "x.parquet"), GH_EINVAL, "x.parquet: unknown table format");
    // a stray word in a numeric column: a warning, the cell read as missing, the row kept
    tab_write("stray.csv", "x,y\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n7,a\n8,b\n9,a\n10,b\noops,a\n");
    CHECK_OK(table_read(&t, "stray.csv"));
    CHECK(t.n_rows == 11 && t.cols[0].type == GH_COL_NUMERIC && isnan(t.values[10 * 2]));
    table_free(&t);
}

static const char *arff_head = "@relation r\n@attribute a numeric\n@attribute c {x,y}\n@data\n";

static void arff_case(const char *row, int status, const char *msg) {
    char text[512];
    snprintf(text, sizeof text, "%s%s", arff_head, row);
    tab_write("r.arff", text);
    gh_table t;
    CHECK_FAILS(table_read(&t, "r.arff"), status, msg);
}

static void arff_errors(void) {
    // a nominal attribute with no values: a sparse row's absent value (its first level) would
    // name nothing (fuzz_arff: a crash in dataset_from_table; regressions/arff/)
    gh_table et;
    tab_write("empty_nominal.arff", "@relation r\n@attribute a numeric\n@attribute c {}\n@data\n"
              "{0 1}\n{}\n");
    CHECK_FAILS(table_read(&et, "empty_nominal.arff"), GH_EFORMAT,
                "empty_nominal.arff:3:14: the nominal list of 'c' is empty");
    arff_case("1,x\nabc,y\n", GH_EFORMAT, "r.arff:6:1: attribute 'a' is numeric but the value is 'abc'");
    arff_case("1,z\n", GH_EFORMAT,
              "r.arff:5:3: value 'z' is not one of the 2 declared values of 'c' (first: 'x')");
    arff_case("1\n", GH_EFORMAT, "r.arff:5:2: row has 1 values, 2 attributes are declared");
    arff_case("1,x,3\n", GH_EFORMAT, "r.arff:5:4: row has 3 values, 2 attributes are declared");
    arff_case("'abc,x\n", GH_EFORMAT, "r.arff:5:1: unterminated quoted value");
    arff_case("{5 1}\n", GH_EFORMAT, "r.arff:5:2: sparse index 5 out of range (0..1)");
    arff_case("{0 1, 1 x\n", GH_EFORMAT, "r.arff:5:10: missing '}' in a sparse row");
    arff_case("", GH_EFORMAT, "r.arff:4:1: no data rows after @data");
    gh_table t;
    tab_write("e.arff", "% only a comment\n");
    CHECK_FAILS(table_read(&t, "e.arff"), GH_EFORMAT, "e.arff:1:1: empty file");
    tab_write("e.arff", "");
    CHECK_FAILS(table_read(&t, "e.arff"), GH_EFORMAT, "e.arff:1:1: empty file");
    tab_write("ty.arff", "@relation r\n@attribute a foo\n@data\n1\n");
    CHECK_FAILS(table_read(&t, "ty.arff"), GH_EFORMAT, "ty.arff:2:14: attribute 'a' has type 'foo'");
    tab_write("nodata.arff", "@relation r\n@attribute a numeric\n");
    CHECK_FAILS(table_read(&t, "nodata.arff"), GH_EFORMAT, "nodata.arff:2:1: no @data section");
    tab_write("kw.arff", "@relation r\nhello\n");
    CHECK_FAILS(table_read(&t, "kw.arff"), GH_EFORMAT,
                "kw.arff:2:1: expected @relation, @attribute or @data");
    tab_write("date.arff", "@relation r\n@attribute d date\n@data\n2020-13-01\n");
    CHECK_FAILS(table_read(&t, "date.arff"), GH_EFORMAT, "date.arff:4:1: attribute 'd' is a date");
    // a pattern of 13 'd's took 13 digits into an int: signed overflow, and this value wrapped
    // to day 5 and was accepted (tests/fuzz/regressions/arff/date_field_13_digits.arff)
    tab_write("long.arff", "@relation r\n@attribute d date 'ddddddddddddd'\n@data\n1000727379973\n");
    CHECK_FAILS(table_read(&t, "long.arff"), GH_EFORMAT,
                "long.arff:4:1: attribute 'd' is a date (ddddddddddddd) but the value is "
                "'1000727379973'");
}

static void target_errors(void) {
    gh_table t;
    gh_dataset ds;
    tab_write("const.csv", "a,y\n1,k\n2,k\n3,k\n");
    CHECK_OK(table_read(&t, "const.csv"));
    CHECK_FAILS(dataset_from_table(&ds, &t, "y", GH_TASK_AUTO), GH_EFORMAT,
                "const.csv: the target 'y' is constant ('k' in all 3 rows); nothing to learn");
    CHECK_FAILS(dataset_from_table(&ds, &t, "zz", GH_TASK_AUTO), GH_EINVAL,
                "const.csv: no target column 'zz' (columns: a, y)");
    table_free(&t);
    tab_write("nan.csv", "a,y\n1,?\n2,\n");
    CHECK_OK(table_read(&t, "nan.csv"));
    CHECK_FAILS(dataset_from_table(&ds, &t, "y", GH_TASK_AUTO), GH_EFORMAT,
                "nan.csv: the target 'y' is missing in every row");
    table_free(&t);
    // rows with a missing target are dropped with a warning; the rest kept
    tab_write("some.csv", "a,y\n1,u\n2,?\n3,v\n4,u\n");
    CHECK_OK(table_read(&t, "some.csv"));
    CHECK_OK(dataset_from_table(&ds, &t, "y", GH_TASK_AUTO));
    CHECK(ds.n == 3 && ds.task == GH_TASK_BINARY && ds.x[1] == 3.0f);
    dataset_free(&ds);
    table_free(&t);
}

// Seeded garbage: the readers return a status, never crash or read out of bounds (run it
// under GH_SANITIZE=ON to see the latter).
static void garbage(void) {
    gh_rng r;
    gh_rng_seed(&r, 1234, 0);
    static const char alphabet[] = "ab,;\"'\n\r\t {}?@%0123456789.-e\\";
    char buf[300];
    int ok = 0, bad = 0;
    for (int trial = 0; trial < 400; trial++) {
        int n = (int)gh_rng_below(&r, sizeof buf - 1);
        for (int i = 0; i < n; i++) buf[i] = alphabet[gh_rng_below(&r, sizeof alphabet - 1)];
        buf[n] = 0;
        const char *path = trial & 1 ? "g.arff" : "g.csv";
        if (trial & 1 && trial % 3 == 0) {  // half-valid ARFF headers reach the data rows
            char text[400];
            snprintf(text, sizeof text, "%s%s", arff_head, buf);
            tab_write(path, text);
        } else {
            tab_write(path, buf);
        }
        gh_table t;
        int st = table_read(&t, path);
        if (st == GH_OK) {
            ok++;
            gh_dataset ds;
            if (dataset_from_table(&ds, &t, NULL, GH_TASK_AUTO) == GH_OK) dataset_free(&ds);
            table_free(&t);
        } else {
            bad++;
            CHECK_MSG(st == GH_EFORMAT, "trial %d: status %d: %s", trial, st, gh_error_get());
        }
    }
    printf("garbage: %d parsed, %d rejected\n", ok, bad);
}

int main(void) {
    if (tab_enter_tmpdir("tab_errors")) return 1;
    csv_errors();
    arff_errors();
    target_errors();
    garbage();
    return check_done("test_tab_errors");
}
