// data/csv.c: the CSV reader: RFC 4180 records (quoted fields with embedded delimiters,
// doubled quotes and newlines), a header row, missing values, and per-column type inference
// (numeric, ISO date, nominal, free string). Errors name file:line:column.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "tabular.h"

typedef struct {
    char *text;     // NUL-terminated, unescaped, inside the slurped buffer
    int line, col;  // where the field starts (1-based)
    int quoted;
} csv_cell;

typedef struct {
    csv_cell *cells;
    size_t n, cap;
    int *rec_start;  // index of each record's first cell; rec_start[n_rec] = n
    int n_rec, rec_cap;
} csv_cells;

static int cells_push(csv_cells *c, csv_cell cell) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        csv_cell *nc = realloc(c->cells, cap * sizeof *nc);
        if (!nc) return -1;
        c->cells = nc;
        c->cap = cap;
    }
    c->cells[c->n++] = cell;
    return 0;
}

static int record_push(csv_cells *c, int start) {
    if (c->n_rec + 2 > c->rec_cap) {
        int cap = c->rec_cap ? 2 * c->rec_cap : 256;
        int *nr = realloc(c->rec_start, sizeof(int) * (size_t)cap);
        if (!nr) return -1;
        c->rec_start = nr;
        c->rec_cap = cap;
    }
    c->rec_start[c->n_rec++] = start;
    return 0;
}

// The delimiter: the most frequent of , ; TAB outside quotes on the first line (',' on ties).
static char detect_delim(const char *b) {
    int counts[3] = {0, 0, 0};
    int inq = 0;
    for (const char *p = b; *p && (inq || (*p != '\n' && *p != '\r')); p++) {
        if (*p == '"') inq = !inq;
        else if (!inq) counts[0] += *p == ',', counts[1] += *p == ';', counts[2] += *p == '\t';
    }
    if (counts[2] > counts[0] && counts[2] >= counts[1]) return '\t';
    if (counts[1] > counts[0]) return ';';
    return ',';
}

static void trim_unquoted(csv_cell *c) {
    if (c->quoted) return;
    char *s = c->text;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    size_t k = 0;
    while (s[k] == ' ' || s[k] == '\t') k++;
    if (k) {
        memmove(s, s + k, n - k + 1);
        c->col += (int)k;
    }
}

// Splits buf into records of cells, in place. Blank lines are skipped.
static int csv_split(const char *path, char *buf, char delim, csv_cells *out) {
    char *r = buf, *w = buf;
    int line = 1;
    char *line_start = buf;
    while (*r) {
        int rec_first = (int)out->n;
        int rec_line = line;
        for (;;) {  // one field per iteration
            csv_cell cell = {w, line, (int)(r - line_start) + 1, 0};
            while (*r == ' ' || *r == '\t') {
                if (*r == delim) break;
                *w++ = *r++;
            }
            if (*r == '"') {  // quoted field: only blanks before the quote
                w = cell.text;
                cell.quoted = 1;
                cell.col = (int)(r - line_start) + 1;
                int qline = line, qcol = cell.col;
                r++;
                for (;;) {
                    if (!*r)
                        return gh_fail(GH_EFORMAT, "%s:%d:%d: unterminated quoted field (the quote "
                                       "opened here is never closed)", path, qline, qcol);
                    if (*r == '"') {
                        if (r[1] == '"') {
                            *w++ = '"';
                            r += 2;
                            continue;
                        }
                        r++;
                        break;
                    }
                    if (*r == '\n') {
                        line++;
                        line_start = r + 1;
                    }
                    *w++ = *r++;
                }
                while (*r == ' ' || *r == '\t') {
                    if (*r == delim) break;
                    r++;
                }
                if (*r && *r != delim && *r != '\n' && *r != '\r')
                    return gh_fail(GH_EFORMAT, "%s:%d:%d: unexpected '%c' after a closing quote "
                                   "(a quote inside a quoted field is written \"\")",
                                   path, line, (int)(r - line_start) + 1, *r);
            } else {
                while (*r && *r != delim && *r != '\n' && *r != '\r') *w++ = *r++;
            }
            char end = *r;
            *w++ = 0;  // w <= r always (unescaping only shrinks), so this never clobbers input
            if (cells_push(out, cell)) return gh_fail(GH_ENOMEM, "%s: out of memory", path);
            if (end == delim) {
                r++;
                continue;
            }
            // the NUL above may sit on the terminator itself: decide from `end`, not *r
            if (end == '\r') {
                r++;
                if (*r == '\n') r++;
            } else if (end == '\n') {
                r++;
            }
            if (end) {
                line++;
                line_start = r;
            }
            break;
        }
        int n_fields = (int)out->n - rec_first;
        csv_cell *c0 = &out->cells[rec_first];
        if (n_fields == 1 && !c0->quoted && c0->text[strspn(c0->text, " \t")] == 0) {
            out->n = (size_t)rec_first;  // blank line
            continue;
        }
        (void)rec_line;
        if (record_push(out, rec_first)) return gh_fail(GH_ENOMEM, "%s: out of memory", path);
    }
    if (record_push(out, (int)out->n)) return gh_fail(GH_ENOMEM, "%s: out of memory", path);
    out->n_rec--;  // the sentinel is not a record
    for (size_t i = 0; i < out->n; i++) trim_unquoted(&out->cells[i]);
    return GH_OK;
}

static int is_missing(const csv_cell *c) {
    const char *s = c->text;
    if (!*s) return 1;
    if (c->quoted) return 0;
    return !strcmp(s, "?") || !strcmp(s, "NA") || !strcmp(s, "N/A") || !strcmp(s, "NaN") ||
           !strcmp(s, "nan") || !strcmp(s, "null") || !strcmp(s, "NULL");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Chooses the column's type from its cells and fills values[., j].
static int csv_column(const char *path, gh_table *t, int j, const csv_cells *cc) {
    gh_column *col = &t->cols[j];
    int n = t->n_rows, n_missing = 0, n_num = 0, n_date = 0;
    for (int i = 0; i < n; i++) {
        const csv_cell *c = &cc->cells[cc->rec_start[i + 1] + j];
        double v;
        if (is_missing(c)) n_missing++;
        else if (tab_parse_number(c->text, &v)) n_num++;
        else if (tab_parse_date(c->text, NULL, &v)) n_date++;
    }
    int present = n - n_missing;
    double *vals = t->values;
    if (n_date == present && present > 0) {
        col->type = GH_COL_DATE;
        for (int i = 0; i < n; i++) {
            const csv_cell *c = &cc->cells[cc->rec_start[i + 1] + j];
            double v = NAN;
            if (!is_missing(c)) tab_parse_date(c->text, NULL, &v);
            vals[(size_t)i * t->n_cols + j] = v;
        }
        return GH_OK;
    }
    // Mostly numbers: a numeric column with a few stray cells; keep the rows, warn, and
    // treat the stray cells as missing (a typo must not turn the column into 1000 levels).
    if (n_num == present || (double)n_num >= 0.9 * present) {
        col->type = GH_COL_NUMERIC;
        int bad = 0;
        for (int i = 0; i < n; i++) {
            const csv_cell *c = &cc->cells[cc->rec_start[i + 1] + j];
            double v = NAN;
            if (!is_missing(c) && !tab_parse_number(c->text, &v)) {
                if (bad < 5)
                    tab_warn("%s:%d:%d: non-numeric value '%s' in numeric column '%s'; "
                             "read as missing", path, c->line, c->col, c->text, col->name);
                bad++;
                v = NAN;
            }
            vals[(size_t)i * t->n_cols + j] = v;
        }
        if (bad > 5)
            tab_warn("%s: %d more non-numeric values in column '%s' read as missing", path,
                     bad - 5, col->name);
        return GH_OK;
    }
    tab_levels lv;
    tab_levels_init(&lv);
    for (int i = 0; i < n; i++) {
        const csv_cell *c = &cc->cells[cc->rec_start[i + 1] + j];
        if (!is_missing(c) && tab_levels_intern(&lv, c->text) < 0) {
            tab_levels_free(&lv);
            return gh_fail(GH_ENOMEM, "%s: out of memory for the levels of '%s'", path, col->name);
        }
    }
    // Many distinct texts (names, ids, free text) make a string column, which learners drop.
    int distinct = lv.n;
    col->type = (distinct > 50 && 2 * distinct > present) ? GH_COL_STRING : GH_COL_NOMINAL;
    int n_lv;
    char **levels = tab_levels_take(&lv, &n_lv);
    // Sorted levels (as pandas/scikit-learn encode labels) make codes independent of row order.
    if (n_lv > 1) qsort(levels, (size_t)n_lv, sizeof(char *), cmp_str);
    col->levels = levels;
    col->n_levels = n_lv;
    tab_levels idx;
    tab_levels_init(&idx);
    for (int k = 0; k < n_lv; k++)
        if (tab_levels_intern(&idx, levels[k]) < 0) {
            tab_levels_free(&idx);
            return gh_fail(GH_ENOMEM, "%s: out of memory", path);
        }
    for (int i = 0; i < n; i++) {
        const csv_cell *c = &cc->cells[cc->rec_start[i + 1] + j];
        vals[(size_t)i * t->n_cols + j] = is_missing(c) ? NAN : tab_levels_find(&idx, c->text);
    }
    tab_levels_free(&idx);
    return GH_OK;
}

int table_read_csv(gh_table *out, const char *path) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    int st = tab_slurp(path, &buf, &len);
    if (!st && (st = tab_check_utf8(path, buf, len))) free(buf);
    if (st) return st;
    // A UTF-8 byte-order mark is not part of the first column's name.
    char *text = buf;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF)
        text += 3;
    csv_cells cc = {0};
    size_t plen = strlen(path);
    char delim = plen > 4 && !strcmp(path + plen - 4, ".tsv") ? '\t' : detect_delim(text);
    st = csv_split(path, text, delim, &cc);
    if (st) goto done;
    if (cc.n_rec == 0) {
        st = gh_fail(GH_EFORMAT, "%s:1:1: empty file (expected a header row of column names)", path);
        goto done;
    }
    int n_cols = cc.rec_start[1] - cc.rec_start[0];
    int n_rows = cc.n_rec - 1;
    if (n_rows == 0) {
        st = gh_fail(GH_EFORMAT, "%s:%d:1: no data rows after the header", path,
                     cc.cells[0].line + 1);
        goto done;
    }
    for (int i = 1; i <= n_rows; i++) {
        int nf = cc.rec_start[i + 1] - cc.rec_start[i];
        if (nf != n_cols) {
            const csv_cell *first = &cc.cells[cc.rec_start[i]];
            const csv_cell *last = &cc.cells[cc.rec_start[i + 1] - 1];
            const csv_cell *at = nf > n_cols ? &cc.cells[cc.rec_start[i] + n_cols] : last;
            int col = nf > n_cols ? at->col : at->col + (int)strlen(at->text);
            st = gh_fail(GH_EFORMAT, "%s:%d:%d: row has %d fields, the header has %d", path,
                         nf > n_cols ? at->line : last->line, col, nf, n_cols);
            (void)first;
            goto done;
        }
    }
    st = tab_table_alloc(out, path, n_rows, n_cols);
    if (st) goto done;
    for (int i = 0; i < n_rows; i++) out->row_lines[i] = cc.cells[cc.rec_start[i + 1]].line;
    for (int j = 0; j < n_cols; j++) {
        const csv_cell *h = &cc.cells[j];
        char name[64];
        const char *nm = h->text;
        if (!*nm) {
            snprintf(name, sizeof name, "V%d", j + 1);
            nm = name;
        }
        out->cols[j].name = tab_strdup(nm);
        if (!out->cols[j].name) {
            st = gh_fail(GH_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        for (int k = 0; k < j; k++)
            if (!strcmp(out->cols[k].name, out->cols[j].name)) {
                char *renamed = malloc(strlen(nm) + 16);
                if (!renamed) {
                    st = gh_fail(GH_ENOMEM, "%s: out of memory", path);
                    goto done;
                }
                sprintf(renamed, "%s.%d", nm, j + 1);
                tab_warn("%s:%d:%d: duplicate column name '%s' renamed '%s'", path, h->line,
                         h->col, nm, renamed);
                free(out->cols[j].name);
                out->cols[j].name = renamed;
                break;
            }
    }
    for (int j = 0; j < n_cols && !st; j++) st = csv_column(path, out, j, &cc);
done:
    if (st) table_free(out);
    free(cc.cells);
    free(cc.rec_start);
    free(buf);
    return st;
}
