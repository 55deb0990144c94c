// data/tabular.h: private helpers shared by the tabular readers (csv.c, arff.c) and
// table.c/dataset.c: whole-file reading (plain or gzip), strict number and date parsing,
// an interning map for level texts, and warnings on stderr. Not part of the public contract.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "data.h"

// Reads the whole file (gzip-compressed or plain, by magic bytes) into a NUL-terminated
// buffer. Errors: GH_EIO naming the path.
int tab_slurp(const char *path, char **buf, size_t *len);
// GH_EFORMAT naming file:line:column (in characters) of the first byte that is not UTF-8.
int tab_check_utf8(const char *path, const char *buf, size_t len);

// The whole of s (surrounding blanks allowed) is a finite decimal number.
int tab_parse_number(const char *s, double *out);
// Seconds since the epoch (UTC). fmt: a Java SimpleDateFormat pattern as ARFF uses (yyyy MM
// dd HH mm ss SSS and literals; 'quoted' literals), or NULL for ISO-8601
// "yyyy-MM-dd[('T'| )HH:mm[:ss]]". Returns 1 when s matched entirely.
int tab_parse_date(const char *s, const char *fmt, double *out);

// Level interning: text -> index in order of first insertion.
typedef struct {
    char **texts;
    int n, cap;
    int *slots;              // open addressing, -1 empty
    int n_slots;
} tab_levels;
void tab_levels_init(tab_levels *l);
// Index of text, added when absent (copied). -1 on allocation failure.
int tab_levels_intern(tab_levels *l, const char *text);
int tab_levels_find(const tab_levels *l, const char *text);   // -1 when absent
// Moves the texts out (caller owns the array and strings) and frees the map.
char **tab_levels_take(tab_levels *l, int *n);
void tab_levels_free(tab_levels *l);

void tab_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Allocates t->values [n_rows x n_cols], t->row_lines and t->cols (zeroed); sets the source.
int tab_table_alloc(gh_table *t, const char *path, int n_rows, int n_cols);
char *tab_strdup(const char *s);
