// test_tab_readers: the CSV and ARFF readers on tricky files written here: quoted fields with
// embedded delimiters, doubled quotes and newlines; missing markers; CRLF and ';' files; ISO
// dates; ARFF comments, quoted names, nominal/string/date attributes, sparse rows, gzip.
#include <math.h>
#include <time.h>
#include <zlib.h>

#include "data/data.h"
#include "tab_util.h"

static double utc(int y, int mo, int d, int h, int mi, int s) {
    struct tm tm = {0};
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = s;
    return (double)timegm(&tm);
}

#define V(t, i, j) ((t).values[(size_t)(i) * (t).n_cols + (j)])

static const char *level(const gh_table *t, int i, int j) {
    double v = V(*t, i, j);
    if (isnan(v)) return "<missing>";
    return t->cols[j].levels[(int)v];
}

static void test_csv_quoting(void) {
    tab_write("q.csv",
              "id,name,score,when,cls\n"
              "1,\"Smith, John\",3.5,2020-01-02,a\n"
              "2,\"say \"\"hi\"\"\",?,2020-01-03T10:00:00,b\n"
              "\n"
              "3,\"multi\nline\",NA,,a\n"
              "4, plain ,  7 ,2021-12-31,b\n");
    gh_table t;
    CHECK_OK(table_read(&t, "q.csv"));
    CHECK(t.n_rows == 4 && t.n_cols == 5);
    if (t.n_rows != 4 || t.n_cols != 5) return;
    CHECK(!strcmp(t.cols[1].name, "name"));
    CHECK(t.cols[0].type == GH_COL_NUMERIC);
    CHECK(t.cols[1].type == GH_COL_NOMINAL);
    CHECK(t.cols[2].type == GH_COL_NUMERIC);
    CHECK(t.cols[3].type == GH_COL_DATE);
    CHECK(t.cols[4].type == GH_COL_NOMINAL && t.cols[4].n_levels == 2);
    CHECK(!strcmp(level(&t, 0, 1), "Smith, John"));
    CHECK(!strcmp(level(&t, 1, 1), "say \"hi\""));
    CHECK(!strcmp(level(&t, 2, 1), "multi\nline"));
    CHECK(!strcmp(level(&t, 3, 1), "plain"));   // unquoted blanks trimmed
    CHECK(V(t, 0, 2) == 3.5 && isnan(V(t, 1, 2)) && isnan(V(t, 2, 2)) && V(t, 3, 2) == 7.0);
    CHECK(V(t, 0, 3) == utc(2020, 1, 2, 0, 0, 0));
    CHECK(V(t, 1, 3) == utc(2020, 1, 3, 10, 0, 0));
    CHECK(isnan(V(t, 2, 3)));
    CHECK(V(t, 3, 3) == utc(2021, 12, 31, 0, 0, 0));
    // lines: the blank line is skipped, the quoted newline makes row 3 span lines 5-6
    CHECK(t.row_lines[0] == 2 && t.row_lines[1] == 3 && t.row_lines[2] == 5 && t.row_lines[3] == 7);
    // nominal levels sorted, so codes do not depend on row order
    CHECK(!strcmp(t.cols[4].levels[0], "a") && !strcmp(t.cols[4].levels[1], "b"));
    CHECK(table_find_column(&t, "when") == 3 && table_find_column(&t, "nope") == -1);
    table_free(&t);
}

static void test_csv_crlf_semicolon(void) {
    tab_write("crlf.csv", "x;y;z\r\n1,5;\"a;b\";2\r\n2;c;\r\n");
    gh_table t;
    CHECK_OK(table_read(&t, "crlf.csv"));
    CHECK(t.n_rows == 2 && t.n_cols == 3);
    if (t.n_rows == 2 && t.n_cols == 3) {
        CHECK(!strcmp(t.cols[2].name, "z"));
        CHECK(t.cols[0].type == GH_COL_NOMINAL);   // "1,5" is not a number
        CHECK(!strcmp(level(&t, 0, 1), "a;b"));
        CHECK(V(t, 0, 2) == 2.0 && isnan(V(t, 1, 2)));
    }
    table_free(&t);
    // a UTF-8 BOM and a file without a final newline
    tab_write("bom.csv", "\xEF\xBB\xBF" "a,b\n1,2");
    CHECK_OK(table_read(&t, "bom.csv"));
    CHECK(t.n_rows == 1 && !strcmp(t.cols[0].name, "a") && V(t, 0, 1) == 2.0);
    table_free(&t);
}

static const char *arff_text =
    "% a comment before the header\n"
    "@RELATION 'test relation'\n"
    "\n"
    "@attribute 'my attr' numeric\n"
    "@Attribute color {red, 'dark blue', green}\n"
    "@attribute note string\n"
    "@attribute when date \"yyyy-MM-dd HH:mm\"\n"
    "@attribute iso date\n"
    "@attribute class {yes,no}  % trailing comment\n"
    "@DATA\n"
    "% a comment in the data\n"
    "1.5, red, 'hello, world', \"2001-02-03 04:05\", 2001-02-03T04:05:06, yes\n"
    "?, 'dark blue', \"it's\", ?, ?, no\n"
    "{0 2.5, 1 green, 5 no}\n"
    "{}\n"
    "-3e2,green,'esc \\'q\\'',\"1999-12-31 23:59\",1999-12-31T23:59:59,yes, {2}\n";

static void check_arff_table(const gh_table *t) {
    CHECK(t->n_rows == 5 && t->n_cols == 6);
    if (t->n_rows != 5 || t->n_cols != 6) return;
    CHECK(!strcmp(t->cols[0].name, "my attr"));
    CHECK(t->cols[0].type == GH_COL_NUMERIC && t->cols[1].type == GH_COL_NOMINAL &&
          t->cols[2].type == GH_COL_STRING && t->cols[3].type == GH_COL_DATE &&
          t->cols[4].type == GH_COL_DATE && t->cols[5].type == GH_COL_NOMINAL);
    CHECK(t->cols[1].n_levels == 3 && !strcmp(t->cols[1].levels[1], "dark blue"));
    CHECK(V(*t, 0, 0) == 1.5 && isnan(V(*t, 1, 0)) && V(*t, 2, 0) == 2.5 && V(*t, 3, 0) == 0.0 &&
          V(*t, 4, 0) == -300.0);
    CHECK(V(*t, 0, 1) == 0 && V(*t, 1, 1) == 1 && V(*t, 2, 1) == 2 && V(*t, 3, 1) == 0 &&
          V(*t, 4, 1) == 2);
    CHECK(!strcmp(level(t, 0, 2), "hello, world"));
    CHECK(!strcmp(level(t, 1, 2), "it's"));
    CHECK(!strcmp(level(t, 4, 2), "esc 'q'"));
    CHECK(V(*t, 0, 3) == utc(2001, 2, 3, 4, 5, 0));
    CHECK(isnan(V(*t, 1, 3)));
    CHECK(V(*t, 4, 3) == utc(1999, 12, 31, 23, 59, 0));
    CHECK(V(*t, 0, 4) == utc(2001, 2, 3, 4, 5, 6));
    CHECK(V(*t, 4, 4) == utc(1999, 12, 31, 23, 59, 59));
    // sparse rows: absent entries are 0, the first level for nominal
    CHECK(V(*t, 2, 5) == 1 && V(*t, 3, 5) == 0 && V(*t, 3, 3) == 0.0);
    CHECK(t->row_lines[0] == 12 && t->row_lines[4] == 16);
}

static void test_arff(void) {
    tab_write("t.arff", arff_text);
    gh_table t;
    CHECK_OK(table_read(&t, "t.arff"));
    check_arff_table(&t);
    table_free(&t);
    gzFile g = gzopen("t.arff.gz", "wb");
    gzwrite(g, arff_text, (unsigned)strlen(arff_text));
    gzclose(g);
    CHECK_OK(table_read(&t, "t.arff.gz"));
    check_arff_table(&t);
    CHECK(strstr(t.source, "t.arff.gz") != NULL);
    table_free(&t);
}

int main(void) {
    test_csv_quoting();
    test_csv_crlf_semicolon();
    test_arff();
    return check_done("test_tab_readers");
}
