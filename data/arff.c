// data/arff.c: the ARFF reader (Weka's and OpenML's format): @relation, @attribute with
// numeric/real/integer, nominal {..}, string and date ["pattern"] types, @data with dense and
// sparse {index value, ...} rows, '?' for missing, % comments, quoted names and values.
// Errors name file:line:column and the attribute.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tabular.h"

typedef struct {
    char *name;
    gh_coltype type;
    tab_levels levels;   // nominal: declared; string: seen
    char *date_fmt;      // NULL: ISO-8601
} arff_attr;

typedef struct {
    const char *path;
    int line;
    const char *line_start;
    char *scratch;       // one token, at most one line long
} arff_ctx;

static int col_of(const arff_ctx *c, const char *p) { return (int)(p - c->line_start) + 1; }

static const char *skip_blank(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    return p;
}

// One token starting at *pp: a quoted string ('..' or "..", backslash escapes as Weka writes
// them) or bare text up to a character of `stops` (trailing blanks trimmed). Writes it to
// c->scratch; *quoted tells which. Returns 0, or GH_EFORMAT for an unterminated quote.
static int arff_token(arff_ctx *c, const char **pp, const char *stops, int *quoted) {
    const char *p = skip_blank(*pp);
    char *w = c->scratch;
    *quoted = 0;
    if (*p == '\'' || *p == '"') {
        char q = *p;
        const char *open = p++;
        *quoted = 1;
        for (;;) {
            if (!*p || *p == '\n')
                return gh_fail(GH_EFORMAT, "%s:%d:%d: unterminated quoted value (the quote opened "
                               "here is never closed)", c->path, c->line, col_of(c, open));
            if (*p == '\\' && p[1]) {
                p++;
                *w++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
                p++;
                continue;
            }
            if (*p == q) {
                p++;
                break;
            }
            *w++ = *p++;
        }
    } else {
        while (*p && !strchr(stops, *p)) *w++ = *p++;
        while (w > c->scratch && (w[-1] == ' ' || w[-1] == '\t' || w[-1] == '\r')) w--;
    }
    *w = 0;
    *pp = p;
    return GH_OK;
}

static int keyword(const char *p, const char *kw) {
    size_t n = strlen(kw);
    return !strncasecmp(p, kw, n) && (p[n] == 0 || isspace((unsigned char)p[n]) || p[n] == '{');
}

static int parse_attribute(arff_ctx *c, const char *p, arff_attr *a) {
    int quoted;
    p = skip_blank(p + strlen("@attribute"));
    const char *name_at = p;
    int st = arff_token(c, &p, " \t{", &quoted);
    if (st) return st;
    if (!c->scratch[0])
        return gh_fail(GH_EFORMAT, "%s:%d:%d: @attribute without a name", c->path, c->line,
                       col_of(c, name_at));
    a->name = tab_strdup(c->scratch);
    tab_levels_init(&a->levels);
    p = skip_blank(p);
    const char *type_at = p;
    if (*p == '{') {
        a->type = GH_COL_NOMINAL;
        p++;
        for (;;) {
            const char *v_at = skip_blank(p);
            if (*v_at == '}') break;
            st = arff_token(c, &p, ",}", &quoted);
            if (st) return st;
            if (!c->scratch[0] && !quoted)
                return gh_fail(GH_EFORMAT, "%s:%d:%d: empty value in the nominal list of '%s'",
                               c->path, c->line, col_of(c, v_at), a->name);
            if (tab_levels_find(&a->levels, c->scratch) >= 0)
                return gh_fail(GH_EFORMAT, "%s:%d:%d: value '%s' declared twice for '%s'", c->path,
                               c->line, col_of(c, v_at), c->scratch, a->name);
            if (tab_levels_intern(&a->levels, c->scratch) < 0)
                return gh_fail(GH_ENOMEM, "%s: out of memory", c->path);
            p = skip_blank(p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '}') break;
            return gh_fail(GH_EFORMAT, "%s:%d:%d: expected ',' or '}' in the nominal list of '%s'",
                           c->path, c->line, col_of(c, p), a->name);
        }
        // a sparse row's absent value is the first level: there must be one
        if (a->levels.n == 0)
            return gh_fail(GH_EFORMAT, "%s:%d:%d: the nominal list of '%s' is empty (a nominal "
                           "attribute needs at least one value)", c->path, c->line,
                           col_of(c, type_at), a->name);
        return GH_OK;
    }
    if (keyword(p, "numeric") || keyword(p, "real") || keyword(p, "integer")) {
        a->type = GH_COL_NUMERIC;
    } else if (keyword(p, "string")) {
        a->type = GH_COL_STRING;
    } else if (keyword(p, "date")) {
        a->type = GH_COL_DATE;
        p = skip_blank(p + 4);
        if (*p && *p != '%') {
            st = arff_token(c, &p, "%", &quoted);
            if (st) return st;
            if (c->scratch[0]) a->date_fmt = tab_strdup(c->scratch);
        }
    } else {
        const char *e = type_at;
        while (*e && !isspace((unsigned char)*e)) e++;
        return gh_fail(GH_EFORMAT, "%s:%d:%d: attribute '%s' has type '%.*s' (expected numeric, "
                       "real, integer, string, date or a {nominal, list}; relational is not "
                       "supported)", c->path, c->line, col_of(c, type_at), a->name,
                       (int)(e - type_at), type_at);
    }
    return GH_OK;
}

// One value text for attribute a into *v; quoted values are never missing.
static int arff_value(arff_ctx *c, arff_attr *a, const char *text, int quoted, const char *at,
                      double *v) {
    if (!quoted && !strcmp(text, "?")) {
        *v = NAN;
        return GH_OK;
    }
    switch (a->type) {
    case GH_COL_NUMERIC:
        if (!tab_parse_number(text, v))
            return gh_fail(GH_EFORMAT, "%s:%d:%d: attribute '%s' is numeric but the value is '%s'",
                           c->path, c->line, col_of(c, at), a->name, text);
        return GH_OK;
    case GH_COL_NOMINAL: {
        int k = tab_levels_find(&a->levels, text);
        if (k < 0)
            return gh_fail(GH_EFORMAT, "%s:%d:%d: value '%s' is not one of the %d declared values "
                           "of '%s' (first: '%s')", c->path, c->line, col_of(c, at), text,
                           a->levels.n, a->name, a->levels.n ? a->levels.texts[0] : "");
        *v = k;
        return GH_OK;
    }
    case GH_COL_STRING: {
        int k = tab_levels_intern(&a->levels, text);
        if (k < 0) return gh_fail(GH_ENOMEM, "%s: out of memory", c->path);
        *v = k;
        return GH_OK;
    }
    case GH_COL_DATE:
        if (!tab_parse_date(text, a->date_fmt, v))
            return gh_fail(GH_EFORMAT, "%s:%d:%d: attribute '%s' is a date (%s) but the value is "
                           "'%s'", c->path, c->line, col_of(c, at), a->name,
                           a->date_fmt ? a->date_fmt : "yyyy-MM-dd'T'HH:mm:ss", text);
        return GH_OK;
    }
    return gh_fail(GH_EINVAL, "arff: unknown attribute type");
}

static int parse_dense(arff_ctx *c, const char *p, arff_attr *attrs, int n_attr, double *row) {
    for (int j = 0; j < n_attr; j++) {
        int quoted;
        const char *at = skip_blank(p);
        if (!*at) {
            return gh_fail(GH_EFORMAT, "%s:%d:%d: row has %d values, %d attributes are declared",
                           c->path, c->line, col_of(c, at), j, n_attr);
        }
        int st = arff_token(c, &p, ",", &quoted);
        if (st) return st;
        st = arff_value(c, &attrs[j], c->scratch, quoted, at, &row[j]);
        if (st) return st;
        p = skip_blank(p);
        if (j + 1 < n_attr) {
            if (*p != ',')
                return gh_fail(GH_EFORMAT, "%s:%d:%d: row has %d values, %d attributes are "
                               "declared", c->path, c->line, col_of(c, p), j + 1, n_attr);
            p++;
        }
    }
    p = skip_blank(p);
    if (*p == ',') {  // an instance weight ", {w}" is allowed and ignored
        const char *q = skip_blank(p + 1);
        if (*q == '{' && strchr(q, '}')) return GH_OK;
        int extra = 1;
        for (const char *s = p + 1; *s; s++) extra += *s == ',';
        return gh_fail(GH_EFORMAT, "%s:%d:%d: row has %d values, %d attributes are declared",
                       c->path, c->line, col_of(c, p), n_attr + extra, n_attr);
    }
    if (*p && *p != '%')
        return gh_fail(GH_EFORMAT, "%s:%d:%d: unexpected text after the last value", c->path,
                       c->line, col_of(c, p));
    return GH_OK;
}

// Sparse row {index value, ...}: absent entries are 0 (the first level for nominal).
static int parse_sparse(arff_ctx *c, const char *p, arff_attr *attrs, int n_attr, double *row) {
    for (int j = 0; j < n_attr; j++) {
        if (attrs[j].type == GH_COL_STRING && attrs[j].levels.n == 0 &&
            tab_levels_intern(&attrs[j].levels, "") < 0)
            return gh_fail(GH_ENOMEM, "%s: out of memory", c->path);
        row[j] = 0.0;
    }
    p = skip_blank(p) + 1;  // '{'
    for (;;) {
        p = skip_blank(p);
        if (*p == '}') break;
        const char *at = p;
        char *end;
        long idx = strtol(p, &end, 10);
        if (end == p || (*end != ' ' && *end != '\t'))
            return gh_fail(GH_EFORMAT, "%s:%d:%d: sparse entry must be 'index value'", c->path,
                           c->line, col_of(c, at));
        if (idx < 0 || idx >= n_attr)
            return gh_fail(GH_EFORMAT, "%s:%d:%d: sparse index %ld out of range (0..%d)", c->path,
                           c->line, col_of(c, at), idx, n_attr - 1);
        p = end;
        const char *v_at = skip_blank(p);
        int quoted;
        int st = arff_token(c, &p, ",}", &quoted);
        if (st) return st;
        st = arff_value(c, &attrs[idx], c->scratch, quoted, v_at, &row[idx]);
        if (st) return st;
        p = skip_blank(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}') break;
        return gh_fail(GH_EFORMAT, "%s:%d:%d: %s in a sparse row", c->path, c->line,
                       col_of(c, p), *p ? "expected ',' or '}'" : "missing '}'");
    }
    return GH_OK;
}

static int is_blank_or_comment(const char *s) {
    s = skip_blank(s);
    return !*s || *s == '%';
}

int table_read_arff(gh_table *out, const char *path) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    int st = tab_slurp(path, &buf, &len);
    if (!st && (st = tab_check_utf8(path, buf, len))) free(buf);
    if (st) return st;
    // Lines, NUL-terminated in place.
    int n_lines = 0, cap = 1024;
    char **lines = malloc(sizeof(char *) * (size_t)cap);
    arff_attr *attrs = NULL;
    int n_attr = 0;
    arff_ctx c = {path, 0, NULL, malloc(len + 1)};
    if (!lines || !c.scratch) {
        st = gh_fail(GH_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (char *p = buf; *p;) {
        if (n_lines == cap) {
            char **nl = realloc(lines, sizeof(char *) * (size_t)(cap *= 2));
            if (!nl) {
                st = gh_fail(GH_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            lines = nl;
        }
        lines[n_lines++] = p;
        char *e = strchr(p, '\n');
        if (!e) break;
        *e = 0;
        p = e + 1;
    }
    int i = 0, data_line = -1;
    for (; i < n_lines; i++) {
        c.line = i + 1;
        c.line_start = lines[i];
        const char *p = skip_blank(lines[i]);
        if (!*p || *p == '%') continue;
        if (keyword(p, "@relation")) continue;
        if (keyword(p, "@attribute")) {
            arff_attr *na = realloc(attrs, sizeof(arff_attr) * (size_t)(n_attr + 1));
            if (!na) {
                st = gh_fail(GH_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            attrs = na;
            memset(&attrs[n_attr], 0, sizeof(arff_attr));
            n_attr++;
            st = parse_attribute(&c, p, &attrs[n_attr - 1]);
            if (st) goto done;
            continue;
        }
        if (keyword(p, "@data")) {
            data_line = i;
            break;
        }
        st = gh_fail(GH_EFORMAT, "%s:%d:%d: expected @relation, @attribute or @data", path, c.line,
                     col_of(&c, p));
        goto done;
    }
    if (n_lines == 0 || (data_line < 0 && n_attr == 0)) {
        st = gh_fail(GH_EFORMAT, "%s:1:1: empty file (expected an ARFF header: @relation, "
                     "@attribute ..., @data)", path);
        goto done;
    }
    if (data_line < 0) {
        st = gh_fail(GH_EFORMAT, "%s:%d:1: no @data section", path, n_lines);
        goto done;
    }
    if (n_attr == 0) {
        st = gh_fail(GH_EFORMAT, "%s:%d:1: @data before any @attribute", path, data_line + 1);
        goto done;
    }
    int n_rows = 0;
    for (int k = data_line + 1; k < n_lines; k++) n_rows += !is_blank_or_comment(lines[k]);
    if (n_rows == 0) {
        st = gh_fail(GH_EFORMAT, "%s:%d:1: no data rows after @data", path, data_line + 1);
        goto done;
    }
    st = tab_table_alloc(out, path, n_rows, n_attr);
    if (st) goto done;
    int r = 0;
    for (int k = data_line + 1; k < n_lines && !st; k++) {
        if (is_blank_or_comment(lines[k])) continue;
        c.line = k + 1;
        c.line_start = lines[k];
        double *row = out->values + (size_t)r * n_attr;
        out->row_lines[r] = c.line;
        st = *skip_blank(lines[k]) == '{' ? parse_sparse(&c, lines[k], attrs, n_attr, row)
                                          : parse_dense(&c, lines[k], attrs, n_attr, row);
        r++;
    }
    if (st) goto done;
    for (int j = 0; j < n_attr; j++) {
        out->cols[j].name = attrs[j].name;
        attrs[j].name = NULL;
        out->cols[j].type = attrs[j].type;
        if (attrs[j].type == GH_COL_NOMINAL || attrs[j].type == GH_COL_STRING)
            out->cols[j].levels = tab_levels_take(&attrs[j].levels, &out->cols[j].n_levels);
    }
done:
    if (st) table_free(out);
    for (int j = 0; j < n_attr; j++) {
        free(attrs[j].name);
        free(attrs[j].date_fmt);
        tab_levels_free(&attrs[j].levels);
    }
    free(attrs);
    free(lines);
    free(c.scratch);
    free(buf);
    return st;
}
